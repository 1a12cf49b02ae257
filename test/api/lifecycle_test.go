package api

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestOneDaemonPerDataRoot: a second daemon on the same data root (even
// on another socket) exits 1 naming the data root and the holder's pid.
func TestOneDaemonPerDataRoot(t *testing.T) {
	d := newDaemonDirs(t)
	startDaemon(t, d)
	args := d.Args("-H", "unix://"+d.Dir+"/second.sock", "--pidfile", d.Dir+"/second.pid")
	r := run(t, nil, berthBin, args...)
	want := "data root " + d.DataRoot + " is in use by another berth daemon (pid " + strconv.Itoa(d.PID()) + ")"
	if r.code != 1 || !strings.Contains(r.stderr, want) {
		t.Errorf("second daemon: exit %d, stderr %q; want exit 1 and %q", r.code, r.stderr, want)
	}
	if _, err := os.Stat(d.Dir + "/second.sock"); !os.IsNotExist(err) {
		t.Errorf("second daemon left its socket: %v", err)
	}
	// The first one still serves.
	if r := run(t, nil, berthBin, "-H", d.Host, "version", "--format", "{{.Server.Version}}"); r.code != 0 {
		t.Errorf("first daemon stopped answering: %s", r.stderr)
	}
}

// TestSIGTERM: the daemon exits 0 and removes its socket and pidfile.
func TestSIGTERM(t *testing.T) {
	d := newDaemonDirs(t)
	startDaemon(t, d)
	if _, err := os.Stat(d.PIDFile); err != nil {
		t.Fatalf("pidfile: %v", err)
	}
	fi, err := os.Stat(d.Sock)
	if err != nil || fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o660 {
		t.Fatalf("socket %s: %v %v", d.Sock, fi, err)
	}
	// An open events stream must not hold up the exit.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := exec.CommandContext(ctx, berthBin, "-H", d.Host, "events")
	var evErr strings.Builder
	events.Stderr = &evErr
	if err := events.Start(); err != nil {
		t.Fatal(err)
	}
	evDone := make(chan error, 1)
	go func() { evDone <- events.Wait() }()
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	if err := d.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.Done():
	case <-time.After(15 * time.Second):
		t.Fatalf("daemon still running 15s after SIGTERM:\n%s", d.Log())
	}
	if d.ExitErr() != nil {
		t.Errorf("daemon exit after SIGTERM: %v\n%s", d.ExitErr(), d.Log())
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("SIGTERM took %v with an events stream open", took)
	}
	// The stream was cut, as dockerd's: the client fails (and can
	// reconnect) instead of ending as if all was said.
	select {
	case err := <-evDone:
		if err == nil {
			t.Errorf("events ended with exit 0 when the daemon stopped; stderr %q", evErr.String())
		}
	case <-time.After(10 * time.Second):
		t.Errorf("events still running 10 s after the daemon stopped")
	}
	for _, p := range []string{d.Sock, d.PIDFile} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s left behind after SIGTERM: %v", p, err)
		}
	}
	if !strings.Contains(d.Log(), "containers keep running") {
		t.Errorf("shutdown not logged:\n%s", d.Log())
	}
}

// TestStaleSocketReplaced: a socket file left by a crashed daemon (nobody
// listening) is replaced; a live one makes the new daemon refuse.
func TestStaleSocketReplaced(t *testing.T) {
	d := newDaemonDirs(t)
	l, err := net.Listen("unix", d.Sock)
	if err != nil {
		t.Fatal(err)
	}
	r := run(t, nil, berthBin, d.Args("-H", d.Host)...)
	if r.code != 1 || !strings.Contains(r.stderr, "another daemon is listening on it") {
		t.Errorf("daemon over a live socket: exit %d, stderr %q", r.code, r.stderr)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	startDaemon(t, d)
	if !strings.Contains(d.Log(), "removing stale socket") {
		t.Errorf("stale socket replacement not logged:\n%s", d.Log())
	}
	if r := run(t, nil, berthBin, "-H", d.Host, "version", "--format", "{{.Server.Version}}"); r.code != 0 {
		t.Errorf("daemon on a replaced socket: %s", r.stderr)
	}
}

// TestPlainTCPOnlyOnLoopback: plain TCP is refused off loopback (before
// binding anything) and served on 127.0.0.1 with a warning in info.
func TestPlainTCPOnlyOnLoopback(t *testing.T) {
	d := newDaemonDirs(t)
	requireBerth(t)
	r := run(t, nil, berthBin, d.Args("-H", "tcp://0.0.0.0:2375")...)
	if r.code != 1 || !strings.Contains(r.stderr, "refusing to serve the API on a non-loopback address without TLS") {
		t.Errorf("plain TCP on 0.0.0.0: exit %d, stderr %q", r.code, r.stderr)
	}
	port := strconv.Itoa(freeLoopbackPort(t))
	startDaemon(t, d, "-H", "tcp://127.0.0.1:"+port)
	r = run(t, nil, berthBin, "-H", "tcp://127.0.0.1:"+port, "info")
	if r.code != 0 || !strings.Contains(r.stderr, "WARNING: API is accessible on http://127.0.0.1:"+port+" without encryption") {
		t.Errorf("info over loopback TCP: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestIdleRSS measures the idle daemon's resident memory after it has
// answered a few requests. Target: under 30 MB.
func TestIdleRSS(t *testing.T) {
	d := newDaemonDirs(t)
	startDaemon(t, d)
	for range 3 {
		run(t, nil, berthBin, "-H", d.Host, "info")
	}
	time.Sleep(500 * time.Millisecond)
	kib := rssKiB(t, d.PID())
	t.Logf("idle berth daemon RSS: %d KiB (%.1f MiB)", kib, float64(kib)/1024)
	if kib > 30*1000 {
		t.Errorf("idle daemon RSS %d KiB is over the 30 MB target", kib)
	}
}
