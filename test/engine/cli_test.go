package engine

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestStartAttachRestartPruneInfo(t *testing.T) {
	d := newDaemon(t)
	d.mustDocker(t, "create", "--name", "sa", "--label", "prune=1", "busybox", "sh", "-c", "echo started; exit 2")
	out, _, err := d.docker(t, "start", "-a", "sa")
	if exitCode(err) != 2 || out != "started\n" {
		t.Fatalf("start -a: exit %d, output %q; want 2 and the output", exitCode(err), out)
	}
	d.mustDocker(t, "run", "-d", "--name", "rs", "busybox", "sh", "-c", "trap 'exit 0' TERM; echo ready; while true; do sleep 0.1; done")
	// Until the trap is set, SIGTERM to PID 1 is ignored.
	waitFor(t, "the trap", func() bool { out, _, _ := d.docker(t, "logs", "rs"); return out == "ready\n" })
	pid1 := strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{.State.Pid}}", "rs"))
	start := time.Now()
	d.mustDocker(t, "restart", "rs")
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("restart took %v", el)
	}
	pid2 := strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{.State.Pid}} {{.State.Running}}", "rs"))
	if pid2 == pid1+" true" || !strings.HasSuffix(pid2, " true") {
		t.Fatalf("restart: pid %s before, %q after", pid1, pid2)
	}
	d.mustDocker(t, "run", "--name", "keep", "busybox", "true")
	info := d.mustDocker(t, "info", "--format", "{{.Containers}} {{.ContainersRunning}} {{.ContainersStopped}} {{.ContainersPaused}}")
	if strings.TrimSpace(info) != "3 1 2 0" {
		t.Fatalf("info counts %q, want 3 1 2 0", info)
	}
	// until= takes a date, a time or a duration, as dockerd's: nothing
	// here is that old.
	for _, until := range []string{"2000-01-01", "2000-01-01T10:00:00", "2000-01-01T10:00:00Z", "87600h", "946684800"} {
		if out := d.mustDocker(t, "container", "prune", "-f", "--filter", "until="+until); strings.Contains(out, "Deleted") {
			t.Fatalf("prune until=%s deleted: %q", until, out)
		}
	}
	out = d.mustDocker(t, "container", "prune", "-f", "--filter", "label=prune=1")
	if !strings.Contains(out, "Deleted Containers:") || len(strings.Fields(d.mustDocker(t, "ps", "-aq"))) != 2 {
		t.Fatalf("prune by label: %q", out)
	}
	if ps := d.mustDocker(t, "ps", "-a", "--format", "{{.Names}}", "--last", "1"); strings.TrimSpace(ps) != "keep" {
		t.Fatalf("ps --last 1: %q", ps)
	}
	for filter, want := range map[string]string{
		"before=keep":    "rs",
		"since=rs":       "keep",
		"network=bridge": "keep\nrs",
		"health=none":    "keep\nrs",
		"status=running": "rs",
	} {
		if ps := d.mustDocker(t, "ps", "-a", "--format", "{{.Names}}", "--filter", filter); strings.TrimSpace(ps) != want {
			t.Errorf("ps -a --filter %s: %q, want %q", filter, ps, want)
		}
	}
	// A network by its ID (a prefix of it) too, as dockerd.
	netID := strings.TrimSpace(d.mustDocker(t, "network", "create", "filt-net"))
	d.mustDocker(t, "create", "--name", "onnet", "--network", "filt-net", "busybox", "true")
	for _, v := range []string{netID, netID[:12], "filt-net"} {
		if ps := d.mustDocker(t, "ps", "-a", "--format", "{{.Names}}", "--filter", "network="+v); strings.TrimSpace(ps) != "onnet" {
			t.Errorf("ps -a --filter network=%s: %q, want onnet", v, ps)
		}
	}
	d.mustDocker(t, "rm", "onnet")
	d.mustDocker(t, "network", "rm", "filt-net")
	// Values dockerd refuses are errors, not an empty list.
	for filter, want := range map[string]string{
		"status=bogus":  "invalid filter 'status=bogus'",
		"exited=abc":    `strconv.Atoi: parsing "abc": invalid syntax`,
		"health=bogus":  "Unrecognised filter value for health: bogus",
		"before=nosuch": "No such container: nosuch",
	} {
		if _, errOut, err := d.docker(t, "ps", "-a", "--filter", filter); exitCode(err) != 1 || !strings.Contains(errOut, want) {
			t.Errorf("ps --filter %s: exit %d %q; want 1 and %q", filter, exitCode(err), errOut, want)
		}
	}
}

// TestInteractiveTTY runs `docker run -it` and `docker exec -it` on a
// terminal (script(1) gives the CLI one): the CLI must get the exit codes,
// not a reset connection, although it sends terminal bytes to the end.
func TestInteractiveTTY(t *testing.T) {
	script, err := exec.LookPath("script")
	if err != nil {
		t.Skip("script(1) is not installed")
	}
	d := newDaemon(t)
	docker := dockerCLI(t)
	onTTY := func(cmdline string) (string, int) {
		cmd := exec.Command(script, "-qec", docker+" -H "+d.Host+" "+cmdline, "/dev/null")
		cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+filepath.Join(d.Dir, "docker-config"))
		out, err := cmd.CombinedOutput()
		return string(out), exitCode(err)
	}
	if out, code := onTTY(`run -it --rm busybox sh -c 'tty; exit 5'`); code != 5 || !strings.Contains(out, "/dev/pts/0") {
		t.Fatalf("run -it: exit %d, output %q", code, out)
	}
	d.mustDocker(t, "run", "-d", "--name", "ti", "busybox", "sleep", "300")
	for i := range 3 {
		if out, code := onTTY(`exec -it ti sh -c 'tty; exit 4'`); code != 4 || !strings.Contains(out, "/dev/pts/") {
			t.Fatalf("exec -it, try %d: exit %d, output %q", i, code, out)
		}
	}
}

// TestAttachDetachKeys: the daemon ends an attach whose client types the
// detach keys (the SDKs rely on it; the docker CLI too, through its own
// proxy, with a terminal), and the container goes on.
func TestAttachDetachKeys(t *testing.T) {
	d := newDaemon(t)
	d.mustDocker(t, "run", "-di", "--name", "dk", "busybox", "sh")
	conn, err := net.Dial("unix", d.Sock)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1.41/containers/dk/attach?stream=1&stdin=1&stdout=1&detachKeys=ctrl-a,a HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
	br := bufio.NewReader(conn)
	status, err := br.ReadString('\n')
	if err != nil || !strings.Contains(status, "101") {
		t.Fatalf("attach: %q %v", status, err)
	}
	conn.Write([]byte("echo attached\n\x01a"))
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, br); err != nil {
		t.Fatalf("the attach did not end after the detach keys: %v", err)
	}
	if st := strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{.State.Running}}", "dk")); st != "true" {
		t.Errorf("the container stopped with the detach: running=%s", st)
	}
}
