package engine

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
)

// TestDaemonCrash kills the daemon with SIGKILL while 10 containers write
// logs and 2 more are about to exit, starts it again, and checks that the
// 10 still run with logs without a gap, that stop, wait and rm work, and
// that the 2 that exited meanwhile show their real exit codes.
func TestDaemonCrash(t *testing.T) {
	d := newDaemon(t)
	const n = 10
	for i := range n {
		d.mustDocker(t, "run", "-d", "--name", fmt.Sprintf("w%d", i), "busybox", "sh", "-c",
			"trap 'exit 0' TERM; i=0; while true; do echo $i; i=$((i+1)); sleep 0.05; done")
	}
	d.mustDocker(t, "run", "-d", "--name", "exits3", "busybox", "sh", "-c", "sleep 1; exit 3")
	d.mustDocker(t, "run", "-d", "--name", "exits0", "busybox", "sh", "-c", "sleep 1")
	time.Sleep(300 * time.Millisecond)
	d.Kill(t)
	time.Sleep(1500 * time.Millisecond) // exits3 and exits0 end while no daemon runs
	d.Start(t)

	for i := range n {
		name := fmt.Sprintf("w%d", i)
		if st := strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{.State.Status}}", name)); st != "running" {
			t.Fatalf("%s after the daemon restart: %s", name, st)
		}
	}
	for name, want := range map[string]string{"exits3": "exited 3", "exits0": "exited 0"} {
		if st := strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", name)); st != want {
			t.Fatalf("%s exited while the daemon was down: state %q, want %q", name, st, want)
		}
		if code := strings.TrimSpace(d.mustDocker(t, "wait", name)); code != strings.Fields(want)[1] {
			t.Fatalf("wait %s: %q", name, code)
		}
	}
	// exec still works in a container of the old daemon.
	if out := d.mustDocker(t, "exec", "w0", "echo", "alive"); out != "alive\n" {
		t.Fatalf("exec after restart: %q", out)
	}
	// logs -f and attach on containers of the old daemon.
	follow := make(chan string, 1)
	go func() {
		out, _, _ := d.docker(t, "logs", "-f", "w1")
		follow <- out
	}()
	c := d.client(t)
	at, err := c.ContainerAttach(context.Background(), "w2", client.ContainerAttachOptions{Stream: true, Stdout: true})
	if err != nil {
		t.Fatal(err)
	}
	var attached bytes.Buffer
	attachDone := make(chan error, 1)
	go func() {
		_, err := stdcopy.StdCopy(&attached, io.Discard, at.Reader)
		attachDone <- err
	}()
	time.Sleep(300 * time.Millisecond)
	for i := range n {
		name := fmt.Sprintf("w%d", i)
		d.mustDocker(t, "stop", "-t", "5", name)
		if code := strings.TrimSpace(d.mustDocker(t, "wait", name)); code != "0" {
			t.Fatalf("wait %s: %q", name, code)
		}
		out := d.mustDocker(t, "logs", name)
		lines := strings.Fields(out)
		if len(lines) < 20 {
			t.Fatalf("%s logged only %d lines", name, len(lines))
		}
		for j, l := range lines {
			if l != strconv.Itoa(j) {
				t.Fatalf("%s: log line %d is %q: a gap or a duplicate", name, j, l)
			}
		}
		d.mustDocker(t, "rm", name)
	}
	select {
	case out := <-follow:
		if len(strings.Fields(out)) < 20 {
			t.Fatalf("logs -f after the restart: %q", out)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("logs -f of a restored container did not end when it stopped")
	}
	select {
	case err := <-attachDone:
		if err != nil || len(strings.Fields(attached.String())) < 3 {
			t.Fatalf("attach to a restored container: %v, %q", err, attached.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("attach to a restored container did not end when it stopped")
	}
	at.Close()
}

// TestShimKilled kills a running container's shim with SIGKILL (as the
// OOM killer may): the daemon records the exit, and kills and deletes the
// container that no one watches any more, so that nothing of it is left
// after rm, with the built-in runtime and with runc.
func TestShimKilled(t *testing.T) {
	d := newDaemon(t)
	for _, rt := range []string{"berth", "runc"} {
		t.Run(rt, func(t *testing.T) {
			if rt == "runc" {
				if _, err := exec.LookPath("runc"); err != nil {
					t.Skip("runc is not installed (hack/install-deps.sh)")
				}
			}
			name := "orphan-" + rt
			id := strings.TrimSpace(d.mustDocker(t, "run", "-d", "--runtime", rt, "--name", name, "busybox", "sleep", "100000"))
			pid, err := strconv.Atoi(strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{.State.Pid}}", name)))
			if err != nil || pid <= 0 {
				t.Fatalf("init pid %d, %v", pid, err)
			}
			shimPid := procPPid(t, pid)
			if err := syscall.Kill(shimPid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(15 * time.Second)
			for {
				st := strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{.State.Status}}", name))
				if st == "exited" && !procAlive(pid) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("15 s after its shim was killed: state %s, init %d alive %v", st, pid, procAlive(pid))
				}
				time.Sleep(50 * time.Millisecond)
			}
			d.mustDocker(t, "rm", name)
			if _, err := os.Stat(filepath.Join("/sys/fs/cgroup/pids/berth", id)); !os.IsNotExist(err) {
				t.Errorf("cgroup of %s after rm: %v", name, err)
			}
		})
	}
}

// procPPid is the parent of pid.
func procPPid(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		t.Fatal(err)
	}
	return ppid
}

// procAlive reports whether pid runs (is neither gone nor a zombie).
func procAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	return len(f) > 0 && f[0] != "Z" && f[0] != "X"
}

// TestDaemonCrashDuringRuns kills the daemon while several `docker run -d`
// are creating and starting containers, starts it again, and checks that
// the start repaired what the cut-short runs left: each container runs or
// starts, and rm -f leaves no shim, mount, cgroup or network namespace
// (the shims and mounts are checked by the daemon's cleanup too).
func TestDaemonCrashDuringRuns(t *testing.T) {
	for round := range 2 {
		d := newDaemon(t)
		var wg sync.WaitGroup
		for i := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _, _ = d.docker(t, "run", "-d", "--name", fmt.Sprintf("cr%d", i), "busybox", "sleep", "300")
			}()
		}
		time.Sleep(time.Duration(80+70*round) * time.Millisecond)
		d.Kill(t)
		wg.Wait()
		d.Start(t)
		ids := strings.Fields(d.mustDocker(t, "ps", "-aq", "--no-trunc"))
		for _, id := range ids {
			st := strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{.State.Status}}", id))
			if st == "created" {
				if _, errOut, err := d.docker(t, "start", id); err != nil {
					t.Errorf("round %d: start of %s, created when the daemon died: %v %s", round, id[:12], err, errOut)
				}
			}
		}
		if len(ids) > 0 {
			d.mustDocker(t, append([]string{"rm", "-f"}, ids...)...)
		}
		for _, id := range ids {
			for _, ctrl := range []string{"memory", "pids", "cpu"} {
				if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", ctrl, "berth", id)); err == nil {
					t.Errorf("round %d: cgroup %s/berth/%s left after rm -f", round, ctrl, id[:12])
				}
			}
		}
		if ents, _ := os.ReadDir(filepath.Join(d.ExecRoot, "netns")); len(ents) > 0 {
			t.Errorf("round %d: network namespaces left: %d", round, len(ents))
		}
		if ents, _ := os.ReadDir(filepath.Join(d.ExecRoot, "shims")); len(ents) > 0 {
			t.Errorf("round %d: shim state dirs left: %d", round, len(ents))
		}
	}
}
