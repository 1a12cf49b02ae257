package testutil

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFakeBerth is not a test: run by fakeBerth's script (with
// FAKE_BERTH=1), the test binary plays berth. `daemon` listens on the -H
// socket, logs its arguments and the ready line, logs "reloaded" on
// SIGHUP and exits 0 on SIGTERM (or FAKE_BERTH_IGNORE_TERM=1 ignores it);
// FAKE_BERTH_FAIL=1 makes it exit 3 at start. `ps` lists nothing;
// `load -q -i FILE` checks FILE exists; `echo` prints its arguments, stdin and environment; `exit N` exits N.
func TestFakeBerth(t *testing.T) {
	if os.Getenv("FAKE_BERTH") != "1" {
		t.Skip("helper process for the Daemon tests")
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	// Skip the -H the helper puts first.
	if len(args) >= 2 && args[0] == "-H" {
		args = args[2:]
	}
	switch args[0] {
	case "daemon":
		fmt.Println("args:", strings.Join(args, " "))
		fmt.Println("wrapped=" + os.Getenv("WRAPPED"))
		if os.Getenv("FAKE_BERTH_FAIL") == "1" {
			fmt.Println("bad flag")
			os.Exit(3)
		}
		var sock string
		for i, a := range args {
			if a == "-H" {
				sock = strings.TrimPrefix(args[i+1], "unix://")
			}
		}
		os.Remove(sock)
		l, err := net.Listen("unix", sock)
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		sigs := make(chan os.Signal, 4)
		signal.Notify(sigs, syscall.SIGTERM, syscall.SIGHUP)
		fmt.Println("level=info msg=" + strconv.Quote(DaemonReadyLine))
		for s := range sigs {
			if s == syscall.SIGHUP {
				fmt.Println("reloaded")
				continue
			}
			if os.Getenv("FAKE_BERTH_IGNORE_TERM") == "1" {
				continue
			}
			l.Close()
			os.Exit(0)
		}
	case "ps":
	case "load":
		if len(args) != 4 || args[1] != "-q" || args[2] != "-i" {
			fmt.Fprintln(os.Stderr, "usage: load -q -i FILE")
			os.Exit(1)
		}
		if _, err := os.Stat(args[3]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	case "echo":
		in, _ := io.ReadAll(os.Stdin)
		fmt.Printf("args=%s\nstdin=%s\nconfig=%s\n", strings.Join(args[1:], " "), in, os.Getenv("DOCKER_CONFIG"))
		fmt.Fprintln(os.Stderr, "extra="+os.Getenv("EXTRA"))
	case "exit":
		n, _ := strconv.Atoi(args[1])
		fmt.Fprintln(os.Stderr, "failing")
		os.Exit(n)
	}
	os.Exit(0)
}

// fakeBerth writes a script that runs this test binary as TestFakeBerth.
func fakeBerth(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "berth")
	script := fmt.Sprintf("#!/bin/sh\nFAKE_BERTH=1 exec %s -test.run='^TestFakeBerth$' -- \"$@\"\n", os.Args[0])
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDaemonLifecycle(t *testing.T) {
	var d *Daemon
	t.Run("run", func(t *testing.T) {
		d = StartDaemon(t, DaemonOptions{Binary: fakeBerth(t), Args: []string{"--debug"}, ClientEnv: []string{"EXTRA=1"}})
		if !strings.Contains(d.Log(), "args: daemon --data-root "+d.DataRoot+" --exec-root "+d.ExecRoot) ||
			!strings.Contains(d.Log(), "--bridge none --debug -H "+d.Host) {
			t.Errorf("daemon command line not as documented:\n%s", d.Log())
		}
		if b, err := os.ReadFile(d.ConfigFile); err != nil || string(b) != "{}\n" {
			t.Errorf("daemon.json = %q, %v; want {}", b, err)
		}
		if err := d.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		waitLog(t, d, "reloaded")

		d.Kill(t)
		if d.Running() {
			t.Fatal("running after Kill")
		}
		first := d.PID()
		d.Start(t)
		if d.PID() == first || !d.Running() {
			t.Errorf("restart: pid %d (was %d), running %v", d.PID(), first, d.Running())
		}
		if strings.Contains(d.Log(), "reloaded") {
			t.Errorf("Log holds the previous run's output:\n%s", d.Log())
		}
		if b, _ := os.ReadFile(d.LogFile); strings.Count(string(b), DaemonReadyLine) != 2 {
			t.Errorf("LogFile should hold both runs:\n%s", b)
		}

		r := d.Run(t, fakeBerthOf(d), RunOptions{Stdin: strings.NewReader("in"), Env: []string{"EXTRA=2"}}, "echo", "a", "b")
		want := fmt.Sprintf("args=a b\nstdin=in\nconfig=%s\n", filepath.Join(d.Dir, "docker-config"))
		if r.Code != 0 || r.Err != nil || r.Stdout != want || r.Stderr != "extra=2\n" {
			t.Errorf("Run echo = %+v; want stdout %q, stderr extra=2", r, want)
		}
		r = d.Berth(t, "exit", "7")
		if r.Code != 7 || r.Stderr != "failing\n" {
			t.Errorf("Berth exit 7 = %+v", r)
		}
		var ee *exec.ExitError
		if !errors.As(r.Err, &ee) {
			t.Errorf("Result.Err = %v; want an *exec.ExitError", r.Err)
		}
		archive := filepath.Join(t.TempDir(), "image.tar")
		if err := os.WriteFile(archive, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		d.LoadImage(t, archive) // the fake insists on load -q -i FILE

		d.Stop(t)
		if d.Running() || d.ExitErr() != nil {
			t.Errorf("after Stop: running %v, exit %v", d.Running(), d.ExitErr())
		}
		d.Start(t) // cleanup must stop this one
	})
	if _, err := os.Stat(d.Dir); !os.IsNotExist(err) {
		t.Errorf("cleanup left %s (%v)", d.Dir, err)
	}
	if err := syscall.Kill(d.PID(), 0); err == nil {
		t.Errorf("cleanup left the daemon %d running", d.PID())
	}
}

func TestDaemonOptions(t *testing.T) {
	bin := fakeBerth(t)
	d := NewDaemon(t, DaemonOptions{Binary: bin, Network: []string{"--bridge", "bt0", "--iptables-chain-prefix", "BT0"},
		Config: `{"debug":true}`, Wrap: []string{"env", "WRAPPED=1"}})
	got := strings.Join(d.Args("--x"), " ")
	if strings.Contains(got, "--bridge none") || strings.Contains(got, "-H") || !strings.HasSuffix(got, "--config-file "+d.ConfigFile+" --bridge bt0 --iptables-chain-prefix BT0 --x") {
		t.Errorf("Args = %s", got)
	}
	if b, _ := os.ReadFile(d.ConfigFile); string(b) != `{"debug":true}` {
		t.Errorf("daemon.json = %s", b)
	}
	d.Start(t)
	if !strings.Contains(d.Log(), "wrapped=1") || !strings.Contains(d.Log(), "--bridge bt0") {
		t.Errorf("wrapped daemon did not run:\n%s", d.Log())
	}

	n := NewDaemon(t, DaemonOptions{Binary: bin, NoConfigFile: true})
	if strings.Contains(strings.Join(n.Args(), " "), "--config-file") {
		t.Errorf("NoConfigFile: Args = %v", n.Args())
	}
}

func TestDaemonStartFails(t *testing.T) {
	d := NewDaemon(t, DaemonOptions{Binary: fakeBerth(t), Env: []string{"FAKE_BERTH_FAIL=1"}})
	err := d.TryStart()
	if err == nil || !strings.Contains(err.Error(), "exited before it was ready") || !strings.Contains(err.Error(), "bad flag") {
		t.Fatalf("TryStart = %v; want the exit and the log", err)
	}
	if d.Running() {
		t.Error("running after a failed start")
	}
}

func TestDaemonStopKillsStubbornDaemon(t *testing.T) {
	ft := &recordingTB{TB: t}
	d := NewDaemon(t, DaemonOptions{Binary: fakeBerth(t), Env: []string{"FAKE_BERTH_IGNORE_TERM=1"}, StopTimeout: 300 * time.Millisecond})
	d.Start(t)
	d.Stop(ft)
	if d.Running() {
		t.Fatal("still running after Stop")
	}
	if len(ft.errors) != 1 || !strings.Contains(ft.errors[0], "ignored SIGTERM") {
		t.Errorf("Stop reported %q; want that the daemon ignored SIGTERM", ft.errors)
	}
}

func TestMountsUnder(t *testing.T) {
	RequireRoot(t)
	dir := t.TempDir()
	for _, sub := range []string{"a", "a/b"} {
		p := filepath.Join(dir, sub)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Mount("tmpfs", p, "tmpfs", 0, ""); err != nil {
			t.Skipf("cannot mount tmpfs: %v", err)
		}
	}
	t.Cleanup(func() { UnmountUnder(dir) })
	got := MountsUnder(dir)
	if want := []string{filepath.Join(dir, "a"), filepath.Join(dir, "a/b")}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("MountsUnder = %v; want %v", got, want)
	}
	UnmountUnder(dir)
	if got := MountsUnder(dir); len(got) != 0 {
		t.Errorf("after UnmountUnder: %v", got)
	}
}

func TestCleanEnv(t *testing.T) {
	t.Setenv("DOCKER_HOST", "tcp://elsewhere:1")
	t.Setenv("BERTH_HOST", "unix:///elsewhere")
	t.Setenv("KEEP_ME", "1")
	env := strings.Join(CleanEnv(), "\n")
	if strings.Contains(env, "elsewhere") || !strings.Contains(env, "KEEP_ME=1") {
		t.Errorf("CleanEnv kept a daemon selector or dropped KEEP_ME:\n%s", env)
	}
}

func fakeBerthOf(d *Daemon) string { return d.opts.Binary }

func waitLog(t *testing.T, d *Daemon, s string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(d.Log(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("daemon log lacks %q:\n%s", s, d.Log())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// recordingTB records Errorf instead of failing the test.
type recordingTB struct {
	testing.TB
	errors []string
}

func (r *recordingTB) Helper() {}
func (r *recordingTB) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func TestMakeBusyboxImage(t *testing.T) {
	if _, err := os.Stat(HostBusybox); err != nil {
		t.Skipf("skipping: %s missing (install busybox-static)", HostBusybox)
	}
	img, err := MakeBusyboxImage(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(img.Layer)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		t.Errorf("layer %s is not gzip", img.Layer)
	}
	if _, err := exec.LookPath("skopeo"); err != nil {
		return
	}
	a, err := img.DockerArchive()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("tar", "-tf", a).Output()
	if err != nil || !strings.Contains(string(out), "manifest.json") {
		t.Errorf("docker-archive %s: %v\n%s", a, err, out)
	}
}

func TestOpenDaemonClose(t *testing.T) {
	bin := fakeBerth(t)
	d, err := OpenDaemon(DaemonOptions{Binary: bin})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.TryStart(); err != nil {
		d.Close()
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("Close of a well-behaved daemon: %v", err)
	}
	if _, err := os.Stat(d.Dir); !os.IsNotExist(err) {
		t.Errorf("Close left %s (%v)", d.Dir, err)
	}

	s, err := OpenDaemon(DaemonOptions{Binary: bin, Env: []string{"FAKE_BERTH_IGNORE_TERM=1"}, StopTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.TryStart(); err != nil {
		s.Close()
		t.Fatal(err)
	}
	if err := s.Close(); err == nil || !strings.Contains(err.Error(), "ignored SIGTERM") {
		t.Errorf("Close of a daemon that ignores SIGTERM = %v; want that reported", err)
	}
	if s.Running() {
		t.Error("still running after Close")
	}
	if _, err := OpenDaemon(DaemonOptions{Binary: bin, AfterStop: func(testing.TB, *Daemon) {}}); err == nil {
		t.Error("OpenDaemon accepted AfterStop")
	}
}

func TestStartDockerRegistry(t *testing.T) {
	host := StartDockerRegistry(t, "u", "p")
	resp, err := http.Get("http://" + host + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /v2/ without credentials: %s, want 401", resp.Status)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+host+"/v2/", nil)
	req.SetBasicAuth("u", "p")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /v2/ as u:p: %s, want 200", resp.Status)
	}
}

// TestFakeFailingTest is not a test: run by TestDaemonCleanupOnFailure
// (with FAKE_FAILING_TEST set to a file), it starts a fake daemon, writes
// the daemon's directory and PID to that file and fails with t.Fatal.
func TestFakeFailingTest(t *testing.T) {
	out := os.Getenv("FAKE_FAILING_TEST")
	if out == "" {
		t.Skip("helper process for TestDaemonCleanupOnFailure")
	}
	d := StartDaemon(t, DaemonOptions{Binary: os.Getenv("FAKE_FAILING_BERTH")})
	if err := os.WriteFile(out, []byte(fmt.Sprintf("%s %d", d.Dir, d.PID())), 0o600); err != nil {
		t.Error(err)
	}
	t.Fatal("failing on purpose")
}

// TestDaemonCleanupOnFailure: a test that fails with t.Fatal while its
// daemon runs still leaves neither the daemon nor its directory behind.
func TestDaemonCleanupOnFailure(t *testing.T) {
	out := filepath.Join(t.TempDir(), "daemon")
	cmd := exec.Command(os.Args[0], "-test.run=^TestFakeFailingTest$", "-test.count=1")
	cmd.Env = append(os.Environ(), "FAKE_FAILING_TEST="+out, "FAKE_FAILING_BERTH="+fakeBerth(t))
	b, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(b), "failing on purpose") {
		t.Fatalf("the failing test did not fail as planned: %v\n%s", err, b)
	}
	if !strings.Contains(string(b), "daemon log") {
		t.Errorf("the failed test's output lacks the daemon log:\n%s", b)
	}
	rec, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var dir string
	var pid int
	if _, err := fmt.Sscanf(string(rec), "%s %d", &dir, &pid); err != nil || pid <= 1 {
		t.Fatalf("record %q: %v", rec, err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the failed test left %s (%v)", dir, err)
		os.RemoveAll(dir)
	}
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("the failed test left its daemon %d running", pid)
	}
}
