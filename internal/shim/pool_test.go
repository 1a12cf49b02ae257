package shim_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth/berth/internal/shim"
)

// waitSpare waits until p has a spare and returns its pid.
func waitSpare(t *testing.T, p *shim.Pool) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if pid := p.Spare(); pid != 0 {
			return pid
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("the pool started no spare shim")
	return 0
}

func poolStart(t *testing.T, e *env, p *shim.Pool, cfg shim.Config) *shim.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := p.Start(ctx, cfg)
	if err != nil {
		e.cleanup(cfg, 0)
		t.Fatalf("Pool.Start: %v", err)
	}
	e.cleanup(cfg, c.Pid())
	return c
}

// A start after a start is served by the spare the first one left: that
// process runs the container (its output in the log, its exit code, the
// shim's errors in the new state directory's shim.log), and Close lets
// the next spare go.
func TestPoolSpare(t *testing.T) {
	e := newEnv(t, shim.RuntimeBerth)
	p := shim.NewPool(time.Minute)
	defer p.Close()
	if pid := p.Spare(); pid != 0 {
		t.Fatalf("a new pool has spare %d; want none until a start", pid)
	}
	poolStart(t, e, p, e.config("true"))
	spare := waitSpare(t, p)
	// The pool has the pid once the exec began; the kernel shows the new
	// command line a moment later (empty until the exec has set it up).
	var b []byte
	var err error
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if b, err = os.ReadFile(filepath.Join("/proc", strconv.Itoa(spare), "cmdline")); err != nil || len(b) > 0 {
			break
		}
	}
	if err != nil || string(b) != "berth\x00shim\x00-\x00" {
		t.Errorf("spare's command line = %q, %v; want berth shim -", b, err)
	}

	cfg := e.config("sh", "-c", "echo from-spare; exit 4")
	c := poolStart(t, e, p, cfg)
	if c.Pid() != spare {
		t.Errorf("second start ran shim %d; want the spare %d", c.Pid(), spare)
	}
	runToExit(t, c, cfg, 4, "from-spare\n")
	// Its stderr is the new directory's shim.log.
	if target, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(spare), "fd", "2")); err != nil || target != filepath.Join(cfg.StateDir, "shim.log") {
		t.Errorf("spare's stderr = %q, %v; want %s", target, err, filepath.Join(cfg.StateDir, "shim.log"))
	}

	next := waitSpare(t, p)
	if next == spare {
		t.Fatalf("the pool kept %d as its spare after handing it out", spare)
	}
	p.Close()
	waitGone(t, next)
	if pid := p.Spare(); pid != 0 {
		t.Errorf("closed pool has spare %d", pid)
	}
	// Start still works after Close, each shim its own process.
	c = poolStart(t, e, p, e.config("true"))
	if c.Pid() == next {
		t.Errorf("closed pool handed out its spare")
	}
	time.Sleep(50 * time.Millisecond)
	if pid := p.Spare(); pid != 0 {
		t.Errorf("closed pool started spare %d", pid)
	}
}

// A spare that died while waiting is not handed a container: the start
// runs a shim of its own.
func TestPoolDeadSpare(t *testing.T) {
	e := newEnv(t, shim.RuntimeBerth)
	p := shim.NewPool(time.Minute)
	defer p.Close()
	poolStart(t, e, p, e.config("true"))
	spare := waitSpare(t, p)
	if err := syscall.Kill(spare, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cfg := e.config("sh", "-c", "echo alive")
	c := poolStart(t, e, p, cfg)
	if c.Pid() == spare {
		t.Fatalf("start was handed the dead spare %d", spare)
	}
	runToExit(t, c, cfg, 0, "alive\n")
	waitGone(t, spare)
}

// A spare nobody used goes away after the pool's idle time, and a spare
// whose daemon lets its pipe go exits: no shim process is left waiting.
func TestPoolSpareIdle(t *testing.T) {
	e := newEnv(t, shim.RuntimeBerth)
	p := shim.NewPool(300 * time.Millisecond)
	defer p.Close()
	poolStart(t, e, p, e.config("true"))
	spare := waitSpare(t, p)
	waitGone(t, spare)
	if pid := p.Spare(); pid != 0 {
		t.Errorf("pool still has spare %d after its idle time", pid)
	}
	b, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(spare), "cmdline"))
	if strings.Contains(string(b), "shim") {
		t.Errorf("spare %d still runs: %q", spare, b)
	}
}
