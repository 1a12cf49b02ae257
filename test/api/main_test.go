package api

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berth/berth/internal/testutil"
)

var (
	berthBin      string
	berthBuildErr error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "berth-api-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	berthBin = filepath.Join(dir, "berth")
	berthBuildErr = testutil.GoBuild(berthBin, "./cmd/berth")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func requireBerth(t *testing.T) {
	t.Helper()
	if berthBuildErr != nil {
		t.Fatalf("build berth: %v", berthBuildErr)
	}
}

// dockerCLI returns the docker CLI's path or skips t saying it is missing.
func dockerCLI(t *testing.T) string {
	t.Helper()
	const p = "/usr/local/bin/docker"
	if _, err := os.Stat(p); err != nil {
		t.Skipf("the docker CLI is not installed at %s (%v): docker CLI parity cases skipped", p, err)
	}
	return p
}

// lockedBuffer collects a process's output safely while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// daemon is a `berth daemon` started by a test on its own roots.
type daemon struct {
	dir, dataRoot, execRoot, sock, pidfile, configFile string
	host                                               string // -H for clients
	cmd                                                *exec.Cmd
	log                                                *lockedBuffer
	done                                               chan struct{}
	exitErr                                            error
}

// newDaemonDirs makes a short temporary directory (unix socket paths are
// limited to 108 bytes) with the daemon's roots; it is removed at cleanup.
func newDaemonDirs(t *testing.T) *daemon {
	t.Helper()
	dir, err := os.MkdirTemp("", "bapi")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	d := &daemon{
		dir:        dir,
		dataRoot:   filepath.Join(dir, "data"),
		execRoot:   filepath.Join(dir, "exec"),
		sock:       filepath.Join(dir, "d.sock"),
		pidfile:    filepath.Join(dir, "d.pid"),
		configFile: filepath.Join(dir, "daemon.json"),
	}
	d.host = "unix://" + d.sock
	if err := os.WriteFile(d.configFile, []byte("{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return d
}

// args are the daemon's flags for its own roots plus extra.
func (d *daemon) args(extra ...string) []string {
	return append([]string{"daemon", "--bridge", "none", "--data-root", d.dataRoot, "--exec-root", d.execRoot,
		"--pidfile", d.pidfile, "--config-file", d.configFile}, extra...)
}

// startDaemon starts berth daemon listening on d.sock (plus extra flags)
// and waits until it answers; cleanup stops it.
func startDaemon(t *testing.T, d *daemon, extra ...string) {
	t.Helper()
	requireBerth(t)
	args := d.args(append([]string{"-H", d.host}, extra...)...)
	d.log = &lockedBuffer{}
	d.cmd = exec.Command(berthBin, args...)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d.done = make(chan struct{})
	go func() { d.exitErr = d.cmd.Wait(); close(d.done) }()
	t.Cleanup(func() { d.stop(t) })
	deadline := time.Now().Add(20 * time.Second)
	for {
		if strings.Contains(d.log.String(), "berth daemon ready") {
			return
		}
		select {
		case <-d.done:
			t.Fatalf("daemon exited before it was ready (%v):\n%s", d.exitErr, d.log.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon not ready after 20s:\n%s", d.log.String())
		}
	}
}

// stop ends the daemon with SIGTERM (SIGKILL if it hangs) if still running.
func (d *daemon) stop(t *testing.T) {
	select {
	case <-d.done:
		return
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(15 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
		t.Errorf("daemon ignored SIGTERM for 15s; killed. Log:\n%s", d.log.String())
	}
}

// result of one CLI run.
type result struct {
	stdout, stderr string
	code           int
}

// run executes bin with args (and env additions), with a 60s limit.
func run(t *testing.T, env []string, bin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(cleanEnv(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %v: %v", bin, args, err)
	}
	return r
}

// cleanEnv is the test's environment without anything that selects a
// daemon, and with a private HOME so the docker CLI's config is ours.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "BERTH_HOST", "DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_API_VERSION", "DOCKER_CONFIG":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// dockerEnv gives the docker CLI a throw-away config directory.
func dockerEnv(t *testing.T) []string {
	return []string{"DOCKER_CONFIG=" + t.TempDir()}
}

// freeLoopbackPort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// rssKiB reads a process's resident set size.
func rssKiB(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return n
		}
	}
	t.Fatal("no VmRSS")
	return 0
}
