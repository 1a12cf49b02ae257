package shim_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/shim"
)

// counterScript prints 0, 1, 2, ... every 50 ms and exits 3 on SIGTERM.
const counterScript = `trap 'exit 3' TERM; i=0; while true; do echo $i; i=$((i+1)); sleep 0.05; done`

// TestCrashRunning: a "daemon" process starts shims for counting containers
// and is killed with SIGKILL; a second "daemon" (this test) reconnects from
// the state directories a second later: the containers still run, their
// logs have no gap, and stop, wait and delete work.
func TestCrashRunning(t *testing.T) {
	for _, tc := range []struct {
		rt string
		n  int
	}{{shim.RuntimeBerth, 10}, {shim.RuntimeRunc, 1}} {
		t.Run(tc.rt, func(t *testing.T) {
			e := newEnv(t, tc.rt)
			cfgs := make([]shim.Config, tc.n)
			for i := range cfgs {
				cfgs[i] = e.config("sh", "-c", counterScript)
			}
			killedAt := runFakeDaemon(t, e, cfgs)
			time.Sleep(time.Second)
			ctx := ctxT(t, 60*time.Second)
			for _, cfg := range cfgs {
				c, err := shim.Connect(ctx, cfg.StateDir)
				if err != nil {
					t.Fatalf("reconnect to %s: %v", cfg.ID, err)
				}
				st, err := c.State(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if st.Status != shim.Running {
					t.Fatalf("%s after the daemon's death: %s, want running", cfg.ID, st.Status)
				}
				n := checkCounterLog(t, cfg.LogPath)
				// About 20 lines a second: the log grew while nobody was
				// connected.
				if n < 15 {
					t.Errorf("%s: %d lines %v after start, want the log to have grown", cfg.ID, n, time.Since(killedAt))
				}
				// Attach and exec work through the new connection.
				s, err := c.Attach(ctx, shim.AttachOpts{Stdout: true, Stderr: true})
				if err != nil {
					t.Fatal(err)
				}
				_, p, err := s.ReadFrame()
				s.Close()
				if _, aerr := strconv.Atoi(strings.TrimSpace(string(p))); err != nil || aerr != nil {
					t.Errorf("%s: attach after reconnect read %q, %v", cfg.ID, p, err)
				}
				x, err := c.Exec(ctx, shim.ExecConfig{ID: "after", Process: &specs.Process{Args: []string{"/bin/echo", "exec-after"}, Cwd: "/"}})
				if err != nil {
					t.Fatal(err)
				}
				var out strings.Builder
				if ex, err := x.Demux(&out, nil); err != nil || ex == nil || ex.Code != 0 || out.String() != "exec-after\n" {
					t.Errorf("%s: exec after reconnect: %q %+v %v", cfg.ID, out.String(), ex, err)
				}
				x.Close()
				if err := c.Kill(ctx, syscall.SIGTERM, false); err != nil {
					t.Fatal(err)
				}
				ex, err := c.Wait(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if ex.Code != 3 {
					t.Errorf("%s: exit code after SIGTERM = %d, want 3 (the trap)", cfg.ID, ex.Code)
				}
				checkCounterLog(t, cfg.LogPath)
				if err := c.Delete(ctx, false); err != nil {
					t.Fatal(err)
				}
				waitGone(t, c.Pid())
			}
		})
	}
}

// TestCrashExited: containers that exit while no daemon is connected keep
// their real exit codes for the next one.
func TestCrashExited(t *testing.T) {
	for _, tc := range []struct {
		rt string
		n  int
	}{{shim.RuntimeBerth, 10}, {shim.RuntimeRunc, 1}} {
		t.Run(tc.rt, func(t *testing.T) {
			e := newEnv(t, tc.rt)
			cfgs := make([]shim.Config, tc.n)
			for i := range cfgs {
				cfgs[i] = e.config("sh", "-c", fmt.Sprintf("echo bye-%d; sleep 0.3; exit %d", i, 10+i))
			}
			runFakeDaemon(t, e, cfgs)
			time.Sleep(time.Second)
			ctx := ctxT(t, 60*time.Second)
			for i, cfg := range cfgs {
				c, err := shim.Connect(ctx, cfg.StateDir)
				if err != nil {
					t.Fatalf("reconnect to %s: %v", cfg.ID, err)
				}
				st, err := c.State(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if st.Status != shim.Stopped || st.Exit == nil || st.Exit.Code != 10+i {
					t.Errorf("%s: state %+v exit %+v, want stopped with code %d", cfg.ID, st, st.Exit, 10+i)
				}
				ex, err := c.Wait(ctx)
				if err != nil || ex.Code != 10+i {
					t.Errorf("%s: wait = %+v, %v; want %d", cfg.ID, ex, err, 10+i)
				}
				if rec, err := shim.ReadExit(cfg.StateDir); err != nil || rec.Code != 10+i {
					t.Errorf("%s: exit.json = %+v, %v", cfg.ID, rec, err)
				}
				lines := readLog(t, cfg.LogPath)
				if len(lines) != 1 || lines[0].Log != fmt.Sprintf("bye-%d\n", i) {
					t.Errorf("%s: log %+v", cfg.ID, lines)
				}
				if err := c.Delete(ctx, false); err != nil {
					t.Fatal(err)
				}
				waitGone(t, c.Pid())
			}
		})
	}
}

// runFakeDaemon runs this test binary as a daemon that starts a shim per
// config and starts the containers, then kills it with SIGKILL. This test
// process becomes a subreaper first, so the orphaned shims become its
// children and cleanup can reap them. It returns when the daemon was
// killed.
func runFakeDaemon(t *testing.T, e *env, cfgs []shim.Config) time.Time {
	t.Helper()
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Fatalf("become subreaper: %v", err)
	}
	for _, cfg := range cfgs {
		e.cleanupDir(cfg)
	}
	b, err := json.Marshal(cfgs)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "configs.json")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), daemonEnv+"="+file, imageEnv+"="+activeImage)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(out).ReadString('\n')
		line <- l
	}()
	select {
	case l := <-line:
		if !strings.HasPrefix(l, "ready") {
			t.Fatalf("fake daemon: %q", l)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("fake daemon did not start its containers in 60 s")
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	return time.Now()
}

// cleanupDir is cleanup for a shim started by another process: its pid is
// read from the state directory when the test ends.
func (e *env) cleanupDir(cfg shim.Config) {
	e.t.Cleanup(func() {
		b, err := os.ReadFile(filepath.Join(cfg.StateDir, "shim.pid"))
		if err != nil {
			return
		}
		pid, err := strconv.Atoi(string(b))
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if c, err := shim.Connect(ctx, cfg.StateDir); err == nil {
			_ = c.Delete(ctx, true)
		}
		if alive(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		waitGone(e.t, pid)
	})
	e.cleanup(cfg, 0)
}

// checkCounterLog checks that the log is 0, 1, 2, ... without a gap and
// returns the number of lines.
func checkCounterLog(t *testing.T, path string) int {
	t.Helper()
	lines := readLog(t, path)
	for i, l := range lines {
		if l.Log != strconv.Itoa(i)+"\n" || l.Stream != "stdout" {
			t.Fatalf("%s: line %d is %q on %s, want %d: a gap", path, i, l.Log, l.Stream, i)
		}
	}
	return len(lines)
}
