package testutil

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
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
)

// DockerCLI is where the docker CLI 28 the parity tests compare with lives.
const DockerCLI = "/usr/local/bin/docker"

// DaemonReadyLine is what `berth daemon` logs once it serves every -H.
const DaemonReadyLine = "berth daemon ready"

// DaemonOptions say how a test daemon runs. The zero value (plus Binary)
// is a daemon with --bridge none on fresh roots and an empty daemon.json.
type DaemonOptions struct {
	// Binary is the berth binary (see BerthBinary). Required.
	Binary string
	// DirPrefix names the daemon's temporary directory (os.MkdirTemp in
	// the system temp dir, kept short: unix socket paths are limited to
	// 108 bytes). Default "berth-d-".
	DirPrefix string
	// Network are the daemon's networking flags; nil means --bridge none.
	Network []string
	// Args are further daemon flags, after the network flags.
	Args []string
	// Config is the content of the daemon.json given with --config-file;
	// empty means "{}". NoConfigFile leaves --config-file out.
	Config       string
	NoConfigFile bool
	// Wrap, when set, runs the daemon as Wrap[0] Wrap[1:]... Binary args...
	// (a command that ends by exec'ing its arguments, e.g. `unshare -m`).
	// SetWrap changes it for the next Start.
	Wrap []string
	// Env is added to the daemon's environment (CleanEnv()); SetEnv
	// changes it for the next Start.
	Env []string
	// ClientEnv is added to the environment of every Run, after
	// CleanEnv(), DOCKER_CONFIG=<Dir>/docker-config and
	// DOCKER_CLI_HINTS=false.
	ClientEnv []string
	// StartTimeout bounds the wait for DaemonReadyLine (default 30s);
	// StopTimeout the wait after SIGTERM before SIGKILL (default 15s).
	StartTimeout, StopTimeout time.Duration
	// AfterStop runs at cleanup once the daemon has stopped, before
	// leftover mounts are checked and the directory is removed: the place
	// for a package's own leak checks (bridges, firewall chains).
	AfterStop func(t testing.TB, d *Daemon)
}

// Daemon is one `berth daemon` a test started on roots of its own:
//
//	Dir/            os.MkdirTemp("", DirPrefix), removed at cleanup
//	  data/         --data-root
//	  exec/         --exec-root
//	  d.sock        -H unix://Dir/d.sock
//	  d.pid         --pidfile
//	  daemon.json   --config-file
//	  daemon.log    the output of every run of the daemon, appended
//	  docker-config DOCKER_CONFIG of the CLIs that Run starts
//
// A test may set Host (e.g. to a TLS-only tcp:// address) before Start;
// then readiness is the log line alone and cleanup removes no containers.
//
// Typical use, with the binary from BerthBinary in TestMain:
//
//	d := testutil.StartDaemon(t, testutil.DaemonOptions{Binary: berthBin})
//	d.LoadImage(t, busyboxArchive)
//	if r := d.Docker(t, "run", "--rm", "busybox", "true"); r.Code != 0 { t.Fatal(r) }
//	d.Kill(t)  // a crash: containers and shims keep running
//	d.Start(t) // the next daemon recovers them
//
// The cleanup NewDaemon registers removes every container (the daemon
// leaves containers running when it stops), stops the daemon by its PID
// (SIGTERM, then SIGKILL), runs AfterStop, kills and reports shims still
// alive, unmounts and reports anything still mounted below Dir, prints
// the daemon's log if the test failed, and removes Dir. It runs also when
// the test fails or calls t.Fatal.
type Daemon struct {
	Dir, DataRoot, ExecRoot, Sock, Host, PIDFile, ConfigFile, LogFile string

	opts DaemonOptions

	mu      sync.Mutex
	cmd     *exec.Cmd
	log     *LockedBuffer // this run's output
	done    chan struct{}
	exitErr error
}

// NewDaemon makes the daemon's directory and config file and registers
// its cleanup; it does not start it (see Start, StartDaemon).
func NewDaemon(t testing.TB, opts DaemonOptions) *Daemon {
	t.Helper()
	d, err := newDaemon(opts)
	if err != nil {
		t.Fatalf("test daemon: %v", err)
	}
	t.Cleanup(func() { d.cleanup(t) })
	return d
}

// OpenDaemon is NewDaemon for a TestMain, where there is no testing.TB:
// the caller must Close the daemon. AfterStop is not allowed here.
func OpenDaemon(opts DaemonOptions) (*Daemon, error) {
	if opts.AfterStop != nil {
		return nil, errors.New("test daemon: AfterStop needs a test; use NewDaemon")
	}
	return newDaemon(opts)
}

// Close is the cleanup of a daemon from OpenDaemon (see Daemon); it
// returns everything that was left behind or went wrong, joined.
func (d *Daemon) Close() error {
	var r collector
	d.cleanup(&r)
	return errors.Join(r.errs...)
}

func newDaemon(opts DaemonOptions) (*Daemon, error) {
	if opts.Binary == "" {
		return nil, errors.New("no berth binary given (DaemonOptions.Binary)")
	}
	if opts.DirPrefix == "" {
		opts.DirPrefix = "berth-d-"
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 30 * time.Second
	}
	if opts.StopTimeout == 0 {
		opts.StopTimeout = 15 * time.Second
	}
	dir, err := os.MkdirTemp("", opts.DirPrefix)
	if err != nil {
		return nil, err
	}
	d := &Daemon{
		Dir: dir, DataRoot: filepath.Join(dir, "data"), ExecRoot: filepath.Join(dir, "exec"),
		Sock: filepath.Join(dir, "d.sock"), PIDFile: filepath.Join(dir, "d.pid"),
		ConfigFile: filepath.Join(dir, "daemon.json"), LogFile: filepath.Join(dir, "daemon.log"),
		opts: opts, log: &LockedBuffer{},
	}
	d.Host = "unix://" + d.Sock
	if !opts.NoConfigFile {
		cfg := opts.Config
		if cfg == "" {
			cfg = "{}\n"
		}
		if err := os.WriteFile(d.ConfigFile, []byte(cfg), 0o600); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	return d, nil
}

// reporter is the part of testing.TB the cleanup reports through.
type reporter interface {
	Errorf(format string, args ...any)
	Logf(format string, args ...any)
	Failed() bool
}

// collector is the reporter of Close.
type collector struct{ errs []error }

func (c *collector) Errorf(format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf(format, args...))
}
func (c *collector) Logf(string, ...any) {}
func (c *collector) Failed() bool        { return len(c.errs) > 0 }

// StartDaemon is NewDaemon followed by Start.
func StartDaemon(t testing.TB, opts DaemonOptions) *Daemon {
	t.Helper()
	d := NewDaemon(t, opts)
	d.Start(t)
	return d
}

// Args returns the daemon's command line after the binary, without -H:
// "daemon", the roots, the network flags, Args, then extra. Start runs
// Args("-H", Host, extra...); a test that runs a daemon itself (one that
// must fail to start, say) adds its own -H.
func (d *Daemon) Args(extra ...string) []string {
	args := []string{"daemon", "--data-root", d.DataRoot, "--exec-root", d.ExecRoot, "--pidfile", d.PIDFile}
	if !d.opts.NoConfigFile {
		args = append(args, "--config-file", d.ConfigFile)
	}
	if d.opts.Network == nil {
		args = append(args, "--bridge", "none")
	}
	args = append(args, d.opts.Network...)
	args = append(args, d.opts.Args...)
	return append(args, extra...)
}

// SetEnv replaces DaemonOptions.Env for the next Start.
func (d *Daemon) SetEnv(env []string) { d.opts.Env = env }

// SetWrap changes the wrapper command of the next Start (nil: none).
func (d *Daemon) SetWrap(wrap []string) { d.opts.Wrap = wrap }

// Start starts the daemon and waits until it logs DaemonReadyLine and its
// socket answers; it fails t if the daemon exits or is not ready in time.
func (d *Daemon) Start(t testing.TB, extra ...string) {
	t.Helper()
	if err := d.TryStart(extra...); err != nil {
		t.Fatalf("test daemon: %v", err)
	}
}

// TryStart is Start returning what went wrong (the error holds the log).
func (d *Daemon) TryStart(extra ...string) error {
	if d.Running() {
		return fmt.Errorf("start %s: already running (pid %d)", d.Dir, d.PID())
	}
	logf, err := os.OpenFile(d.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("start daemon: %w", err)
	}
	buf := &LockedBuffer{}
	args := d.Args(append([]string{"-H", d.Host}, extra...)...)
	var cmd *exec.Cmd
	if w := d.opts.Wrap; len(w) > 0 {
		cmd = exec.Command(w[0], append(append(append([]string{}, w[1:]...), d.opts.Binary), args...)...)
	} else {
		cmd = exec.Command(d.opts.Binary, args...)
	}
	cmd.Env = append(CleanEnv(), d.opts.Env...)
	// Through a pipe: this run's output in memory, every run's in the file.
	out := io.MultiWriter(buf, logf)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start daemon %s: %w", d.opts.Binary, err)
	}
	done := make(chan struct{})
	d.mu.Lock()
	d.cmd, d.log, d.done, d.exitErr = cmd, buf, done, nil
	d.mu.Unlock()
	go func() {
		err := cmd.Wait() // returns after the output is copied
		logf.Close()
		d.mu.Lock()
		d.exitErr = err
		d.mu.Unlock()
		close(done)
	}()
	deadline := time.Now().Add(d.opts.StartTimeout)
	for {
		if strings.Contains(buf.String(), DaemonReadyLine) {
			if !d.ownSocket() {
				return nil
			}
			if c, err := net.Dial("unix", d.Sock); err == nil {
				c.Close()
				return nil
			}
		}
		select {
		case <-done:
			return fmt.Errorf("daemon exited before it was ready (%v):\n%s", d.ExitErr(), buf.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("daemon not ready after %s:\n%s", d.opts.StartTimeout, buf.String())
		}
	}
}

// ownSocket reports whether the daemon serves the helper's unix socket
// (a test may point Host elsewhere, e.g. at a TLS-only TCP address, before
// Start).
func (d *Daemon) ownSocket() bool { return d.Host == "unix://"+d.Sock }

// Running reports whether the daemon process of the last Start is alive.
func (d *Daemon) Running() bool {
	d.mu.Lock()
	done := d.done
	d.mu.Unlock()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// PID is the process id of the last Start (0 before the first).
func (d *Daemon) PID() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cmd == nil || d.cmd.Process == nil {
		return 0
	}
	return d.cmd.Process.Pid
}

// Done is closed when the process of the last Start has exited (nil
// before the first Start).
func (d *Daemon) Done() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.done
}

// ExitErr is how the process of the last Start ended (cmd.Wait's error);
// meaningful once Done is closed.
func (d *Daemon) ExitErr() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.exitErr
}

// Log is the output of the daemon's current (or last) run; LogFile holds
// every run's.
func (d *Daemon) Log() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.log.String()
}

// Signal sends sig to the daemon process this test started.
func (d *Daemon) Signal(sig syscall.Signal) error {
	if !d.Running() {
		return fmt.Errorf("signal %v: daemon %s is not running", sig, d.Dir)
	}
	d.mu.Lock()
	p := d.cmd.Process
	d.mu.Unlock()
	return p.Signal(sig)
}

// Stop ends the daemon with SIGTERM and waits; after StopTimeout it sends
// SIGKILL and fails t (a daemon must stop on SIGTERM). It is a no-op if
// the daemon is not running.
func (d *Daemon) Stop(t testing.TB) {
	t.Helper()
	d.stop(t)
}

func (d *Daemon) stop(r reporter) {
	if !d.Running() {
		return
	}
	done := d.Done()
	_ = d.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(d.opts.StopTimeout):
		_ = d.Signal(syscall.SIGKILL)
		<-done
		r.Errorf("test daemon ignored SIGTERM for %s; killed it. Log:\n%s", d.opts.StopTimeout, d.Log())
	}
}

// Kill kills the daemon with SIGKILL, as a crash would, and waits for it;
// its containers (and their shims) keep running.
func (d *Daemon) Kill(t testing.TB) {
	t.Helper()
	if !d.Running() {
		t.Fatalf("kill: daemon %s is not running", d.Dir)
	}
	done := d.Done()
	_ = d.Signal(syscall.SIGKILL)
	<-done
}

// Restart is Stop then Start.
func (d *Daemon) Restart(t testing.TB, extra ...string) {
	t.Helper()
	d.Stop(t)
	d.Start(t, extra...)
}

// Result is one CLI run. Err is cmd.Run's error: nil, or an
// *exec.ExitError when Code is not 0.
type Result struct {
	Stdout, Stderr string
	Code           int
	Err            error
}

func (r Result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
}

// RunOptions are the optional parts of one CLI run.
type RunOptions struct {
	Stdin   io.Reader
	Dir     string        // working directory
	Env     []string      // added last
	Timeout time.Duration // default 2 minutes
	NoHost  bool          // do not put -H <Host> before the arguments
}

// Run runs bin (berth or the docker CLI) with -H Host and args, with the
// client environment (see DaemonOptions.ClientEnv). A non-zero exit is
// a Result; failing to run bin at all, or a timeout, fails t.
func (d *Daemon) Run(t testing.TB, bin string, o RunOptions, args ...string) Result {
	t.Helper()
	r, err := d.RunErr(bin, o, args...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// RunErr is Run for any goroutine: failures to run are returned.
func (d *Daemon) RunErr(bin string, o RunOptions, args ...string) (Result, error) {
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.Timeout)
	defer cancel()
	if !o.NoHost {
		args = append([]string{"-H", d.Host}, args...)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(append(append(CleanEnv(), "DOCKER_CONFIG="+filepath.Join(d.Dir, "docker-config"), "DOCKER_CLI_HINTS=false"),
		d.opts.ClientEnv...), o.Env...)
	cmd.Dir = o.Dir
	cmd.Stdin = o.Stdin
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		return Result{}, fmt.Errorf("%s %v: timed out after %s", bin, args, o.Timeout)
	}
	r := Result{Stdout: out.String(), Stderr: errb.String(), Err: err}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.Code = ee.ExitCode()
	} else if err != nil {
		return r, fmt.Errorf("%s %v: %w", bin, args, err)
	}
	return r, nil
}

// Berth runs the berth CLI against the daemon.
func (d *Daemon) Berth(t testing.TB, args ...string) Result {
	t.Helper()
	return d.Run(t, d.opts.Binary, RunOptions{}, args...)
}

// Docker runs the docker CLI (DockerCLI) against the daemon; it skips t
// if that CLI is not installed.
func (d *Daemon) Docker(t testing.TB, args ...string) Result {
	t.Helper()
	return d.Run(t, RequireDockerCLI(t), RunOptions{}, args...)
}

// LoadImage loads a docker-archive (e.g. BusyboxImage.DockerArchive) into
// the daemon with `berth load`.
func (d *Daemon) LoadImage(t testing.TB, archive string) {
	t.Helper()
	if r := d.Berth(t, "load", "-q", "-i", archive); r.Code != 0 {
		t.Fatalf("load %s into the test daemon: %s", archive, r)
	}
}

// RequireDockerCLI returns DockerCLI or skips t saying it is missing.
func RequireDockerCLI(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(DockerCLI); err != nil {
		t.Skipf("the docker CLI is not installed at %s (%v): docker CLI cases skipped", DockerCLI, err)
	}
	return DockerCLI
}

// cleanup removes the containers, stops the daemon and leaves nothing of
// it behind (see Daemon).
func (d *Daemon) cleanup(t reporter) {
	if d.Running() && d.ownSocket() {
		if r, err := d.RunErr(d.opts.Binary, RunOptions{Timeout: time.Minute}, "ps", "-aq"); err != nil || r.Code != 0 {
			t.Errorf("cleanup: list containers: %v %s", err, r)
		} else if ids := strings.Fields(r.Stdout); len(ids) > 0 {
			if r, err := d.RunErr(d.opts.Binary, RunOptions{Timeout: time.Minute}, append([]string{"rm", "-f"}, ids...)...); err != nil || r.Code != 0 {
				t.Errorf("cleanup: remove containers %v: %v %s", ids, err, r)
			}
		}
	}
	d.stop(t)
	if tb, ok := t.(testing.TB); ok && d.opts.AfterStop != nil {
		d.opts.AfterStop(tb, d)
	}
	for _, pid := range d.liveShims() {
		t.Errorf("cleanup: shim %d of %s still running; killed it", pid, d.Dir)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	if left := MountsUnder(d.Dir); len(left) > 0 {
		UnmountUnder(d.Dir)
		t.Errorf("cleanup: mounts left under %s: %v", d.Dir, left)
	}
	if t.Failed() && d.Done() != nil {
		b, _ := os.ReadFile(d.LogFile)
		t.Logf("daemon log (%s):\n%s", d.LogFile, b)
	}
	if err := os.RemoveAll(d.Dir); err != nil {
		t.Errorf("cleanup: %v", err)
	}
}

// liveShims are the shims below ExecRoot whose pid file names a live
// process that is a berth shim (never some other process that reused the
// pid).
func (d *Daemon) liveShims() []int {
	files, _ := filepath.Glob(filepath.Join(d.ExecRoot, "shims", "*", "shim.pid"))
	var pids []int
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 1 {
			continue
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || !bytes.Contains(cmdline, []byte("shim")) {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

// MountsUnder lists the mount points strictly below dir, in mount order.
func MountsUnder(dir string) []string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			out = append(out, f[4])
		}
	}
	return out
}

// UnmountUnder lazily unmounts everything below dir, deepest (latest)
// first.
func UnmountUnder(dir string) {
	mps := MountsUnder(dir)
	for i := len(mps) - 1; i >= 0; i-- {
		_ = syscall.Unmount(mps[i], syscall.MNT_DETACH)
	}
}

// CleanEnv is the test's environment without anything that selects a
// daemon or a client configuration.
func CleanEnv() []string {
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

// LockedBuffer collects a process's output safely while it runs.
type LockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// BerthBinary returns the berth binary the tests run: $BERTH_TEST_BINARY
// when set (machines without a Go toolchain), else ./cmd/berth built into
// dir as hack/build.sh builds it (BuildBerth).
func BerthBinary(dir string) (string, error) {
	if p := os.Getenv("BERTH_TEST_BINARY"); p != "" {
		return p, nil
	}
	p := filepath.Join(dir, "berth")
	if err := BuildBerth(p); err != nil {
		return "", fmt.Errorf("build berth: %w", err)
	}
	return p, nil
}
