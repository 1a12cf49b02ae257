package engine

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestExitCodes(t *testing.T) {
	d := newDaemon(t)
	for _, tc := range []struct {
		name string
		args []string
		want int
		msg  string
	}{
		{"zero", []string{"run", "--rm", "busybox", "true"}, 0, ""},
		{"container's own", []string{"run", "--rm", "busybox", "sh", "-c", "exit 7"}, 7, ""},
		{"command not found", []string{"run", "--rm", "busybox", "nosuchcmd"}, 127, "executable file not found"},
		{"not executable", []string{"run", "--rm", "busybox", "/etc/passwd"}, 126, "permission denied"},
		{"daemon error", []string{"run", "--rm", "--restart", "bogus", "busybox", "true"}, 125, ""},
		{"bad memory", []string{"run", "--rm", "--memory", "1k", "busybox", "true"}, 125, "Minimum memory limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, err := d.docker(t, tc.args...)
			if got := exitCode(err); got != tc.want {
				t.Fatalf("docker %s exited %d, want %d; stderr: %s", strings.Join(tc.args, " "), got, tc.want, errOut)
			}
			if tc.msg != "" && !strings.Contains(errOut, tc.msg) {
				t.Fatalf("stderr %q does not mention %q", errOut, tc.msg)
			}
		})
	}
	if ps := d.mustDocker(t, "ps", "-aq"); strings.TrimSpace(ps) != "" {
		t.Fatalf("run --rm left containers behind: %q", ps)
	}
}

func TestDetachedLogsStopInspect(t *testing.T) {
	d := newDaemon(t)
	id := strings.TrimSpace(d.mustDocker(t, "run", "-d", "--name", "ticker", "busybox", "sh", "-c",
		"trap 'echo bye; exit 3' TERM; i=0; while true; do echo line$i; echo err$i >&2; i=$((i+1)); sleep 0.1; done"))
	if len(id) != 64 {
		t.Fatalf("run -d printed %q, want a 64-hex ID", id)
	}
	// Short ID prefix and name both work.
	var insp []struct {
		ID    string `json:"Id"`
		Name  string
		State struct {
			Status   string
			Running  bool
			ExitCode int
			Pid      int
		}
		Config struct{ Cmd []string }
	}
	if err := json.Unmarshal([]byte(d.mustDocker(t, "inspect", id[:12])), &insp); err != nil || len(insp) != 1 {
		t.Fatalf("inspect: %v", err)
	}
	if insp[0].ID != id || insp[0].Name != "/ticker" || !insp[0].State.Running || insp[0].State.Pid == 0 {
		t.Fatalf("inspect: %+v", insp[0])
	}
	time.Sleep(500 * time.Millisecond)
	out, errOut, err := d.docker(t, "logs", "ticker")
	if err != nil || !strings.Contains(out, "line0\nline1\n") || !strings.Contains(errOut, "err0\n") {
		t.Fatalf("logs: %v\nstdout %q\nstderr %q", err, out, errOut)
	}
	// The last line is on stdout or stderr: tail counts both.
	out, errOut, err = d.docker(t, "logs", "--tail", "1", "-t", "ticker")
	if lines := strings.Split(strings.TrimSpace(out+errOut), "\n"); err != nil || len(lines) != 1 || !strings.Contains(lines[0], "Z line") && !strings.Contains(lines[0], "Z err") {
		t.Fatalf("logs --tail 1 -t: %v %q %q", err, out, errOut)
	}
	// A --tail that is no number is every line, as dockerd reads it.
	if all, bad := d.mustDocker(t, "logs", "ticker"), d.mustDocker(t, "logs", "--tail", "abc", "ticker"); !strings.HasPrefix(bad, all) {
		t.Errorf("logs --tail abc: %q, want every line %q", bad, all)
	}
	// Timestamps are of one width, nine fraction digits (dockerd's
	// RFC3339NanoFixed), also when the time ends in zeros.
	stamped := d.mustDocker(t, "logs", "-t", "ticker")
	for _, l := range strings.Split(strings.TrimSpace(stamped), "\n") {
		if ts, _, _ := strings.Cut(l, " "); len(ts) != len("2006-01-02T15:04:05.000000000Z") {
			t.Errorf("logs -t timestamp %q is not 30 characters", ts)
		}
	}
	if ps := d.mustDocker(t, "ps", "--filter", "name=tick", "--format", "{{.Names}} {{.Status}}"); !strings.HasPrefix(ps, "ticker Up ") {
		t.Fatalf("ps --filter name=tick: %q", ps)
	}
	if ps := d.mustDocker(t, "ps", "--filter", "status=exited", "-q"); strings.TrimSpace(ps) != "" {
		t.Fatalf("ps --filter status=exited: %q", ps)
	}
	// logs -f follows until the container stops.
	follow := make(chan string, 1)
	go func() {
		out, _, _ := d.docker(t, "logs", "-f", "ticker")
		follow <- out
	}()
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	d.mustDocker(t, "stop", "ticker")
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("stop took %v although the container exits on TERM", el)
	}
	select {
	case out := <-follow:
		if !strings.HasSuffix(out, "bye\n") {
			t.Fatalf("logs -f did not end with the container's last line: %q", out[max(0, len(out)-100):])
		}
	case <-time.After(10 * time.Second):
		t.Fatal("logs -f did not end when the container stopped")
	}
	if code := strings.TrimSpace(d.mustDocker(t, "wait", "ticker")); code != "3" {
		t.Fatalf("wait printed %q, want 3", code)
	}
	if st := strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "ticker")); st != "exited 3" {
		t.Fatalf("state after stop: %q", st)
	}
	if ps := d.mustDocker(t, "ps", "-a", "--filter", "exited=3", "--format", "{{.Names}}"); strings.TrimSpace(ps) != "ticker" {
		t.Fatalf("ps -a --filter exited=3: %q", ps)
	}
	// Stopping again is a no-op; start again works.
	d.mustDocker(t, "stop", "ticker")
	d.mustDocker(t, "start", "ticker")
	if st := strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{.State.Running}}", "ticker")); st != "true" {
		t.Fatalf("running after start: %q", st)
	}
	d.mustDocker(t, "kill", "ticker")
	if code := strings.TrimSpace(d.mustDocker(t, "wait", "ticker")); code != "137" {
		t.Fatalf("wait after kill printed %q, want 137", code)
	}
	d.mustDocker(t, "rm", "ticker")
	if _, errOut, err := d.docker(t, "inspect", "ticker"); err == nil || !strings.Contains(errOut, "No such object: ticker") {
		t.Fatalf("inspect after rm: %v %s", err, errOut)
	}
}

func TestExecAndRmForce(t *testing.T) {
	d := newDaemon(t)
	d.mustDocker(t, "run", "-d", "--name", "sleeper", "busybox", "sleep", "300")
	if out := d.mustDocker(t, "exec", "sleeper", "sh", "-c", "echo $HOSTNAME; cat /etc/hostname"); len(strings.Fields(out)) != 2 {
		t.Fatalf("exec output %q", out)
	}
	out, _, err := d.dockerIn(t, []byte("through-stdin\n"), "exec", "-i", "sleeper", "cat")
	if err != nil || out != "through-stdin\n" {
		t.Fatalf("exec -i cat: %v %q", err, out)
	}
	// A command that is not there: exit 127 and the runtime's message on
	// stdout, as dockerd's exec (20.10 had 126).
	if out, _, err := d.docker(t, "exec", "sleeper", "nosuchcmd"); exitCode(err) != 127 || !strings.Contains(out, "executable file not found") {
		t.Errorf("exec of a missing command: exit %d, stdout %q; want 127 and the message", exitCode(err), out)
	}
	if _, _, err := d.docker(t, "exec", "sleeper", "sh", "-c", "exit 5"); exitCode(err) != 5 {
		t.Fatalf("exec exit 5: exit code %d", exitCode(err))
	}
	// ExecIDs lists the execs that have not ended, as dockerd's.
	if n := strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{len .ExecIDs}}", "sleeper")); n != "0" {
		t.Errorf("ExecIDs after three finished execs: %s, want 0", n)
	}
	d.mustDocker(t, "exec", "-d", "sleeper", "sleep", "300")
	waitFor(t, "the detached exec in ExecIDs", func() bool {
		return strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{len .ExecIDs}}", "sleeper")) == "1"
	})
	if _, errOut, err := d.docker(t, "rm", "sleeper"); exitCode(err) != 1 || !strings.Contains(errOut, `cannot remove container "/sleeper": container is running: stop the container before removing or force remove`) {
		t.Fatalf("rm of a running container: %v %s", err, errOut)
	}
	if _, errOut, err := d.docker(t, "run", "--name", "sleeper", "busybox", "true"); exitCode(err) != 125 || !strings.Contains(errOut, "is already in use") {
		t.Fatalf("name conflict: %v %s", err, errOut)
	}
	d.mustDocker(t, "rm", "-f", "sleeper")
	if ps := d.mustDocker(t, "ps", "-aq"); strings.TrimSpace(ps) != "" {
		t.Fatalf("rm -f left %q", ps)
	}
	if _, errOut, err := d.docker(t, "exec", "nosuch", "true"); err == nil || !strings.Contains(errOut, "No such container: nosuch") {
		t.Fatalf("exec in a missing container: %v %s", err, errOut)
	}
}

func TestRunNetworkAndFiles(t *testing.T) {
	d := newDaemon(t)
	out := d.mustDocker(t, "run", "--rm", "--hostname", "boat", "busybox", "sh", "-c",
		"hostname; cat /etc/hostname; grep -c nameserver /etc/resolv.conf; ip -o link | grep -c ': lo:.*UP'; ip -o link | wc -l")
	f := strings.Fields(out)
	if len(f) != 5 || f[0] != "boat" || f[1] != "boat" || f[2] == "0" || f[3] != "1" || f[4] != "1" {
		t.Fatalf("default network: want hostname boat, nameservers, only lo and up; got %q", out)
	}
	bind := t.TempDir()
	if err := os.WriteFile(filepath.Join(bind, "f"), []byte("from-host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d.mustDocker(t, "run", "--name", "binder", "-v", bind+":/mnt:ro", "busybox", "cat", "/mnt/f")
	if out := d.mustDocker(t, "logs", "binder"); out != "from-host\n" {
		t.Fatalf("bind mount: %q", out)
	}
	if m := strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{range .Mounts}}{{.Type}} {{.Source}} {{.Destination}} {{.RW}}{{end}}", "binder")); m != "bind "+bind+" /mnt false" {
		t.Fatalf("inspect Mounts: %q", m)
	}
	out = d.mustDocker(t, "run", "--rm", "--network", "none", "busybox", "sh", "-c", "ip -o link | wc -l")
	if strings.TrimSpace(out) != "1" {
		t.Fatalf("--network none: %q", out)
	}
	out = d.mustDocker(t, "run", "--rm", "--network", "host", "busybox", "sh", "-c", "ip -o link | wc -l")
	if strings.TrimSpace(out) == "1" {
		t.Fatalf("--network host sees only lo: %q", out)
	}
	out = d.mustDocker(t, "run", "--rm", "--user", "nobody", "-w", "/tmp", "-e", "FOO=bar", "busybox", "sh", "-c", "id -u; pwd; echo $FOO")
	if f := strings.Fields(out); len(f) != 3 || f[0] != "65534" || f[1] != "/tmp" || f[2] != "bar" {
		t.Fatalf("--user nobody -w /tmp -e FOO=bar: %q", out)
	}
	out = d.mustDocker(t, "run", "--rm", "busybox", "sh", "-c", "grep CapEff /proc/self/status; df -k /dev/shm | tail -1")
	if !strings.Contains(out, "00000000a80425fb") || !strings.Contains(out, "65536") {
		t.Fatalf("default capabilities and shm: %q", out)
	}
	out = d.mustDocker(t, "run", "--rm", "--shm-size", "8m", "--cap-drop", "ALL", "busybox", "sh", "-c", "grep CapEff /proc/self/status; df -k /dev/shm | tail -1")
	if !strings.Contains(out, "0000000000000000") || !strings.Contains(out, "8192") {
		t.Fatalf("--cap-drop ALL --shm-size 8m: %q", out)
	}
}

func TestInitReapsZombies(t *testing.T) {
	d := newDaemon(t)
	// A subshell leaves an orphan that exits soon after: it is reparented
	// to PID 1, the init, which must reap it.
	script := "(sleep 0.1 &); sleep 0.5; ps -o pid,comm,stat | grep -c ' Z$' || true; ps -o pid,comm | awk '$1==1 {print $2}'"
	out := d.mustDocker(t, "run", "--rm", "--init", "busybox", "sh", "-c", script)
	if f := strings.Fields(out); len(f) != 2 || f[0] != "0" || f[1] != "docker-init" {
		t.Fatalf("--init: want no zombie and docker-init as PID 1, got %q", out)
	}
	// docker stop reaches the process through the init: sleep exits on
	// TERM forwarded by the init, well before the 10 s timeout.
	d.mustDocker(t, "run", "-d", "--init", "--name", "initd", "busybox", "sleep", "300")
	start := time.Now()
	d.mustDocker(t, "stop", "initd")
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("stop of an --init container took %v", el)
	}
}

// TestKillThenRemove: docker kill returns once the container has stopped,
// as dockerd's does, so that rm right after it (no -f) succeeds.
func TestKillThenRemove(t *testing.T) {
	d := newDaemon(t)
	for i := range 5 {
		name := fmt.Sprintf("k%d", i)
		d.mustDocker(t, "run", "-d", "--name", name, "busybox", "sleep", "300")
		d.mustDocker(t, "kill", name)
		if _, errOut, err := d.docker(t, "rm", name); err != nil {
			t.Fatalf("rm right after kill (%d): %v %s", i, err, errOut)
		}
	}
}

// TestExecUlimitsAndAncestor: an exec has the container's --ulimit, as
// with dockerd; ps's ancestor filter finds a container by any form of its
// image's name or by the image ID.
func TestExecUlimitsAndAncestor(t *testing.T) {
	d := newDaemon(t)
	d.mustDocker(t, "run", "-d", "--name", "ul", "--ulimit", "nofile=1024:2048", "busybox", "sleep", "300")
	if got := d.mustDocker(t, "exec", "ul", "sh", "-c", "ulimit -n; ulimit -Hn"); got != "1024\n2048\n" {
		t.Errorf("exec's nofile limits: %q, want 1024 and 2048", got)
	}
	id := strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{.Id}}", "ul"))
	img := strings.TrimPrefix(strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{.Image}}", "ul")), "sha256:")
	for _, a := range []string{"busybox", "busybox:latest", "docker.io/library/busybox:latest", img[:12]} {
		if got := strings.TrimSpace(d.mustDocker(t, "ps", "-q", "--no-trunc", "--filter", "ancestor="+a)); got != id {
			t.Errorf("ps --filter ancestor=%s: %q, want %s", a, got, id)
		}
	}
	// A container of an image built on busybox has busybox as ancestor
	// too; one of busybox's own does not descend from the child.
	d.mustDocker(t, "commit", "ul", "child:1")
	cid := strings.TrimSpace(d.mustDocker(t, "create", "child:1"))
	got := d.mustDocker(t, "ps", "-aq", "--no-trunc", "--filter", "ancestor=busybox")
	if !strings.Contains(got, id) || !strings.Contains(got, cid) {
		t.Errorf("ps --filter ancestor=busybox: %q, want %s and the child image's %s", got, id, cid)
	}
	if got := strings.TrimSpace(d.mustDocker(t, "ps", "-aq", "--no-trunc", "--filter", "ancestor=child:1")); got != cid {
		t.Errorf("ps --filter ancestor=child:1: %q, want only %s", got, cid)
	}
	// An image that only adds a label (no layer) descends from its base,
	// and its base does not descend from it (moby's
	// TestPsListContainersFilterAncestorImage).
	d.mustDocker(t, "commit", "-c", "LABEL l=1", strings.TrimSpace(d.mustDocker(t, "create", "child:1")), "grandchild:1")
	gid := strings.TrimSpace(d.mustDocker(t, "create", "grandchild:1"))
	got = d.mustDocker(t, "ps", "-aq", "--no-trunc", "--filter", "ancestor=child:1")
	if !strings.Contains(got, cid) || !strings.Contains(got, gid) || strings.Contains(got, id) {
		t.Errorf("ps --filter ancestor=child:1: %q, want %s and %s, not busybox's %s", got, cid, gid, id)
	}
	if got := strings.TrimSpace(d.mustDocker(t, "ps", "-aq", "--no-trunc", "--filter", "ancestor=grandchild:1")); got != gid {
		t.Errorf("ps --filter ancestor=grandchild:1: %q, want only %s", got, gid)
	}
}

// TestLogsFollowUntil: logs -f with an until in the future ends then, as
// dockerd's, although the container goes on.
func TestLogsFollowUntil(t *testing.T) {
	d := newDaemon(t)
	d.mustDocker(t, "run", "-d", "--name", "talker", "busybox", "sh", "-c", "while true; do echo tick; sleep 0.2; done")
	t.Cleanup(func() { d.docker(t, "rm", "-f", "talker") })
	start := time.Now()
	out, _, err := d.docker(t, "logs", "-f", "--until", strconv.FormatInt(time.Now().Add(1500*time.Millisecond).Unix()+1, 10), "talker")
	if err != nil || !strings.Contains(out, "tick") {
		t.Fatalf("logs -f --until: %v %q", err, out)
	}
	if el := time.Since(start); el > 6*time.Second {
		t.Errorf("logs -f --until returned after %v, want at the until time", el)
	}
}

// TestExecAfterStop: an exec created while the container ran and started
// after it stopped is gone (404), as with dockerd, not a 200 whose stream
// says the container is not running.
func TestExecAfterStop(t *testing.T) {
	d := newDaemon(t)
	d.mustDocker(t, "run", "-d", "--name", "exstop", "busybox", "sleep", "300")
	status, body := rawRequest(t, d, "POST", "/v1.41/containers/exstop/exec", "application/json", `{"Cmd":["true"],"AttachStdout":true}`)
	if status != 201 {
		t.Fatalf("exec create: %d %s", status, body)
	}
	var created struct{ Id string }
	if err := json.Unmarshal([]byte(body), &created); err != nil {
		t.Fatal(err)
	}
	d.mustDocker(t, "stop", "-t", "0", "exstop")
	status, body = rawRequest(t, d, "POST", "/v1.41/exec/"+created.Id+"/start", "application/json", `{"Detach":false}`)
	if status != 404 || !strings.Contains(body, "No such exec instance") {
		t.Errorf("exec start after the stop: %d %s; want 404 No such exec instance", status, body)
	}
}

// TestExecStartStatuses: a detached exec start of a command that cannot
// be found is 400, one in a paused container 409, as dockerd answers them.
func TestExecStartStatuses(t *testing.T) {
	d := newDaemon(t)
	d.mustDocker(t, "run", "-d", "--name", "exst", "busybox", "sleep", "300")
	create := func(cmd string) string {
		status, body := rawRequest(t, d, "POST", "/v1.51/containers/exst/exec", "application/json", `{"Cmd":["`+cmd+`"]}`)
		var created struct{ Id string }
		if status != 201 || json.Unmarshal([]byte(body), &created) != nil {
			t.Fatalf("exec create: %d %s", status, body)
		}
		return created.Id
	}
	id := create("invalid")
	if status, body := rawRequest(t, d, "POST", "/v1.51/exec/"+id+"/start", "application/json", `{"Detach":true}`); status != 400 || !strings.Contains(body, "executable file not found") {
		t.Errorf("detached exec start of a missing command: %d %s, want 400", status, body)
	}
	id = create("true")
	d.mustDocker(t, "pause", "exst")
	if status, body := rawRequest(t, d, "POST", "/v1.51/exec/"+id+"/start", "application/json", `{"Detach":true}`); status != 409 || !strings.Contains(body, "is paused, unpause the container before exec") {
		t.Errorf("exec start in a paused container: %d %s, want 409", status, body)
	}
	d.mustDocker(t, "unpause", "exst")
	// The same exec starts once the container is unpaused.
	if status, body := rawRequest(t, d, "POST", "/v1.51/exec/"+id+"/start", "application/json", `{"Detach":true}`); status != 200 {
		t.Errorf("exec start after the unpause: %d %s, want 200", status, body)
	}
}

// TestRealTimeStopSignal: docker's real-time signal names (SIGRTMIN+3,
// the stop signal of systemd images) are understood by run --stop-signal,
// stop and kill -s, as dockerd's.
func TestRealTimeStopSignal(t *testing.T) {
	d := newDaemon(t)
	// SIGRTMIN+3 is 37.
	d.mustDocker(t, "run", "-d", "--name", "rt", "--stop-signal", "SIGRTMIN+3", "busybox", "sh", "-c",
		"trap 'echo got-37; exit 0' 37; echo ready; while true; do sleep 0.1; done")
	waitFor(t, "the trap set", func() bool { return strings.Contains(d.mustDocker(t, "logs", "rt"), "ready") })
	d.mustDocker(t, "stop", "-t", "10", "rt")
	if got := d.mustDocker(t, "logs", "rt"); !strings.Contains(got, "got-37") {
		t.Errorf("stop with --stop-signal SIGRTMIN+3: logs %q, want the trap's line", got)
	}
	if code := strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{.State.ExitCode}}", "rt")); code != "0" {
		t.Errorf("exit code %s, want 0 from the trap", code)
	}
	d.mustDocker(t, "start", "rt")
	waitFor(t, "the trap set again", func() bool {
		return strings.Count(d.mustDocker(t, "logs", "rt"), "ready") == 2
	})
	d.mustDocker(t, "kill", "-s", "RTMIN+3", "rt")
	waitFor(t, "kill -s RTMIN+3 delivered", func() bool { return strings.Count(d.mustDocker(t, "logs", "rt"), "got-37") == 2 })
	if _, errOut, err := d.docker(t, "kill", "-s", "BOGUS", "rt"); err == nil || !strings.Contains(errOut, "Invalid signal: BOGUS") {
		t.Errorf("kill -s BOGUS: %v %q, want dockerd's \"Invalid signal: BOGUS\"", err, errOut)
	}
}
