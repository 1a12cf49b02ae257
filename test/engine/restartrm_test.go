package engine

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// TestRestartSemantics: docker restart of a --rm container restarts it
// (it is not removed by the stop); a wait (next-exit or not-running)
// begun before a restart ends with the exit code of the stop, though the
// container runs again; and a stop whose client goes away still stops the
// container (SIGKILL after the timeout), as with dockerd.
func TestRestartSemantics(t *testing.T) {
	d := newDaemon(t)
	c := d.client(t)
	ctx := context.Background()
	trap := []string{"sh", "-c", "trap 'exit 5' TERM; while :; do sleep 0.1; done"}

	d.mustDocker(t, "run", "-d", "--rm", "--name", "rmr", "busybox", "sleep", "300")
	if _, errOut, err := d.docker(t, "restart", "-t", "1", "rmr"); err != nil {
		t.Fatalf("docker restart of a --rm container: %v: %s", err, errOut)
	}
	if got := strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{.State.Running}} {{.HostConfig.AutoRemove}}", "rmr")); got != "true true" {
		t.Errorf("after restart: running, auto-remove = %q, want \"true true\"", got)
	}
	// Its restart policy cannot be changed (409, as dockerd).
	if code, body := rawRequest(t, d, "POST", "/v1.47/containers/rmr/update", "application/json", `{"RestartPolicy":{"Name":"always"}}`); code != 409 || !strings.Contains(body, "AutoRemove is enabled") {
		t.Errorf("update of a --rm container's restart policy: %d %s, want 409", code, body)
	}
	d.mustDocker(t, "kill", "rmr")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, _, err := d.docker(t, "inspect", "rmr"); err != nil {
			break // removed once it exited, as --rm says
		}
		if time.Now().After(deadline) {
			t.Fatal("a --rm container that exited after a restart was not removed")
		}
		time.Sleep(50 * time.Millisecond)
	}

	d.mustDocker(t, "run", "-d", "--name", "wr", "busybox", trap[0], trap[1], trap[2])
	waits := map[container.WaitCondition]client.ContainerWaitResult{}
	for _, cond := range []container.WaitCondition{container.WaitConditionNextExit, container.WaitConditionNotRunning} {
		waits[cond] = c.ContainerWait(ctx, "wr", client.ContainerWaitOptions{Condition: cond})
	}
	time.Sleep(200 * time.Millisecond) // the waits are registered
	d.mustDocker(t, "restart", "wr")
	for cond, wr := range waits {
		select {
		case r := <-wr.Result:
			if r.StatusCode != 5 {
				t.Errorf("wait %s across a restart: status %d, want 5", cond, r.StatusCode)
			}
		case err := <-wr.Error:
			t.Errorf("wait %s: %v", cond, err)
		case <-time.After(15 * time.Second):
			t.Errorf("wait %s did not end when the container was restarted", cond)
		}
	}

	d.mustDocker(t, "run", "-d", "--name", "st", "busybox", "sh", "-c", "trap '' TERM; while :; do sleep 0.1; done")
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	timeout := 1
	_, err := c.ContainerStop(short, "st", client.ContainerStopOptions{Timeout: &timeout})
	cancel()
	if err == nil {
		t.Fatal("the stop returned before its client's deadline; the test proves nothing")
	}
	deadline = time.Now().Add(10 * time.Second)
	for strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{.State.Running}}", "st")) != "false" {
		if time.Now().After(deadline) {
			t.Fatal("a stop whose client went away did not stop the container")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
