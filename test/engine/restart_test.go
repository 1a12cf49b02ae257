package engine

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// waitFor polls cond every 50 ms for up to 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestRestartPolicies(t *testing.T) {
	d := newDaemon(t)
	inspect := func(name string) string {
		return strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}", name))
	}
	d.mustDocker(t, "run", "-d", "--name", "onfail", "--restart", "on-failure:2", "busybox", "sh", "-c", "exit 1")
	waitFor(t, "on-failure:2 to give up", func() bool { return inspect("onfail") == "exited 1 2" })
	time.Sleep(time.Second)
	if got := inspect("onfail"); got != "exited 1 2" {
		t.Fatalf("on-failure:2 restarted more than twice: %s", got)
	}
	// A start by hand counts afresh: two more restarts, as dockerd's.
	d.mustDocker(t, "start", "onfail")
	waitFor(t, "on-failure:2 to give up again after a start", func() bool { return inspect("onfail") == "exited 1 2" })
	if n := strings.Count(d.eventsSince(t, 0, "{{.Action}}", "container=onfail", "event=start"), "start"); n != 6 {
		t.Errorf("onfail started %d times, want 6 (run, 2 restarts, start, 2 restarts)", n)
	}
	// logs -f follows the run going on, not the ones the policy starts
	// after it (dockerd's; Compose, which follows each start, printed
	// every later line twice).
	d.mustDocker(t, "run", "-d", "--name", "follow1", "--restart", "always", "busybox", "sh", "-c", "echo run; sleep 1")
	start := time.Now()
	out, _, err := d.docker(t, "logs", "-f", "follow1")
	if err != nil || out != "run\n" || time.Since(start) > 5*time.Second {
		t.Errorf("logs -f of a container that restarts: %v %q after %v; want one run's line, at its end", err, out, time.Since(start))
	}
	d.mustDocker(t, "rm", "-f", "follow1")
	d.mustDocker(t, "run", "-d", "--name", "okonce", "--restart", "on-failure", "busybox", "true")
	waitFor(t, "okonce to exit", func() bool { return inspect("okonce") == "exited 0 0" })

	d.mustDocker(t, "run", "-d", "--name", "always", "--restart", "always", "busybox", "sh", "-c", "sleep 0.2")
	waitFor(t, "always to restart twice", func() bool {
		var n int
		fmt.Sscan(strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{.RestartCount}}", "always")), &n)
		return n >= 2
	})
	// Between its runs a restarting container is running too, as
	// dockerd's inspect has it.
	waitFor(t, "always between two runs", func() bool {
		st := strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{.State.Restarting}} {{.State.Running}}", "always"))
		if st == "true false" {
			t.Fatalf("a restarting container reads as not running")
		}
		return st == "true true"
	})
	d.mustDocker(t, "stop", "always")
	st := inspect("always")
	time.Sleep(time.Second)
	if got := inspect("always"); got != st || !strings.HasPrefix(got, "exited") {
		t.Fatalf("always after stop: %s then %s, want it to stay exited", st, got)
	}
	// docker kill of a crash-looping container between its runs cancels
	// the restart, as dockerd's (it said "is not running").
	d.mustDocker(t, "run", "-d", "--name", "crashloop", "--restart", "always", "busybox", "false")
	waitFor(t, "crashloop to wait for its restart", func() bool {
		return strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{.State.Restarting}}", "crashloop")) == "true"
	})
	if _, errOut, err := d.docker(t, "kill", "crashloop"); err != nil {
		t.Errorf("kill of a restarting container: %v %s", err, errOut)
	}
	st = inspect("crashloop")
	time.Sleep(time.Second)
	if got := inspect("crashloop"); got != st || !strings.HasPrefix(got, "exited") {
		t.Errorf("crashloop after kill: %s then %s, want it to stay exited", st, got)
	}

	// At daemon start, as dockerd (and its documentation: "if it is
	// manually stopped, it is restarted only when the daemon restarts"):
	// always containers come back, also one stopped by hand, and
	// unless-stopped ones that were running; a stopped unless-stopped one
	// stays stopped, and one that never ran stays created.
	d.mustDocker(t, "run", "-d", "--name", "us-running", "--restart", "unless-stopped", "busybox", "sleep", "300")
	d.mustDocker(t, "run", "-d", "--name", "us-stopped", "--restart", "unless-stopped", "busybox", "sleep", "300")
	d.mustDocker(t, "stop", "-t", "1", "us-stopped")
	d.mustDocker(t, "run", "-d", "--name", "al-killed", "--restart", "always", "busybox", "sleep", "300")
	d.mustDocker(t, "create", "--name", "al-created", "--restart", "always", "busybox", "sleep", "300")
	d.Kill(t)
	d.Start(t)
	for name, want := range map[string]string{"us-running": "running", "us-stopped": "exited", "al-killed": "running", "al-created": "created"} {
		if got := strings.Fields(inspect(name))[0]; got != want {
			t.Errorf("%s after the daemon restart: %s, want %s", name, got, want)
		}
	}
	// always (stopped by hand, its process a 0.2 s sleep) came back and
	// keeps its policy: it restarts after this run too, counted afresh.
	if got := strings.Fields(inspect("always"))[0]; got != "running" && got != "restarting" {
		t.Errorf("always after the daemon restart: %s, want running (or restarting between two runs)", got)
	}
	waitFor(t, "always to restart after the run the daemon start gave it", func() bool {
		st := strings.Fields(inspect("always"))
		return st[0] != "exited" && st[2] != "0"
	})
}
