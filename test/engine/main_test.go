package engine

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

	"github.com/berth/berth/internal/content"
	"github.com/berth/berth/internal/image"
	"github.com/berth/berth/internal/metadata"
	"github.com/berth/berth/internal/snapshot"
	"github.com/berth/berth/internal/snapshot/mount"
	"github.com/berth/berth/internal/testutil"
)

var (
	berthBin   string
	archive    string // docker-archive of busybox:latest
	setupError error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "berth-engine-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	setupError = setup(dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func setup(dir string) error {
	berthBin = filepath.Join(dir, "berth")
	if err := testutil.GoBuild(berthBin, "./cmd/berth"); err != nil {
		return fmt.Errorf("build berth: %w", err)
	}
	root, err := testutil.ModuleRoot()
	if err != nil {
		return err
	}
	layout := filepath.Join(dir, "busybox-oci")
	if out, err := exec.Command("sh", filepath.Join(root, "hack", "mkimage-busybox.sh"), layout).CombinedOutput(); err != nil {
		return fmt.Errorf("mkimage-busybox: %v: %s", err, out)
	}
	archive = filepath.Join(dir, "busybox.tar")
	if out, err := exec.Command("skopeo", "copy", "oci:"+layout+":latest", "docker-archive:"+archive+":busybox:latest").CombinedOutput(); err != nil {
		return fmt.Errorf("skopeo copy: %v: %s", err, out)
	}
	return nil
}

// docker returns the docker CLI's path or skips t saying it is missing.
func dockerCLI(t testing.TB) string {
	t.Helper()
	const p = "/usr/local/bin/docker"
	if _, err := os.Stat(p); err != nil {
		t.Skipf("the docker CLI is not installed at %s (%v): docker CLI cases skipped", p, err)
	}
	return p
}

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

// daemon is a `berth daemon` on its own roots.
type daemon struct {
	dir, dataRoot, execRoot, sock string
	host                          string
	cmd                           *exec.Cmd
	log                           *lockedBuffer
	done                          chan struct{}
	// netArgs are the daemon's networking flags; "--bridge none" when nil.
	netArgs []string
	// wrap, when set, runs the daemon as wrap[0] wrap[1:]... berth args...
	// (a command that ends by exec'ing its arguments, e.g. into a private
	// mount namespace).
	wrap []string
}

// newDaemon makes the roots, loads busybox:latest into the data root and
// starts a daemon; cleanup removes every container, stops the daemon and
// leaves no mount, shim or directory behind.
func newDaemon(t *testing.T) *daemon {
	t.Helper()
	return newDaemonWith(t, nil)
}

// newDaemonWith is newDaemon with networking flags (nil: --bridge none).
func newDaemonWith(t *testing.T, netArgs []string) *daemon {
	t.Helper()
	testutil.RequireRoot(t)
	if setupError != nil {
		t.Fatal(setupError)
	}
	dir, err := os.MkdirTemp("", "berth-eng-")
	if err != nil {
		t.Fatal(err)
	}
	d := &daemon{dir: dir, dataRoot: filepath.Join(dir, "data"), execRoot: filepath.Join(dir, "exec"), sock: filepath.Join(dir, "d.sock")}
	d.host = "unix://" + d.sock
	d.netArgs = netArgs
	t.Cleanup(func() { d.cleanup(t) })
	loadImage(t, d.dataRoot)
	d.start(t)
	return d
}

func loadImage(t *testing.T, dataRoot string) {
	t.Helper()
	cs, err := content.Open(filepath.Join(dataRoot, "content"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := metadata.Open(filepath.Join(dataRoot, "metadata.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sn, err := snapshot.NewOverlay(filepath.Join(dataRoot, "snapshots", "overlay"))
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	svc, err := image.New(image.Config{Content: cs, Metadata: db, Snapshotter: sn})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := svc.Load(context.Background(), f); err != nil {
		t.Fatalf("load busybox: %v", err)
	}
}

func (d *daemon) start(t *testing.T) {
	t.Helper()
	d.log = &lockedBuffer{}
	args := []string{"daemon", "--data-root", d.dataRoot, "--exec-root", d.execRoot, "-H", d.host, "--pidfile", filepath.Join(d.dir, "d.pid")}
	if d.netArgs == nil {
		args = append(args, "--bridge", "none")
	}
	args = append(args, d.netArgs...)
	if len(d.wrap) > 0 {
		args = append(append(append([]string{}, d.wrap[1:]...), berthBin), args...)
		d.cmd = exec.Command(d.wrap[0], args...)
	} else {
		d.cmd = exec.Command(berthBin, args...)
	}
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d.done = make(chan struct{})
	go func() { _ = d.cmd.Wait(); close(d.done) }()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("unix", d.sock); err == nil {
			c.Close()
			if strings.Contains(d.log.String(), "daemon ready") {
				return
			}
		}
		select {
		case <-d.done:
			t.Fatalf("daemon exited: %s", d.log.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("daemon not ready: %s", d.log.String())
}

// kill9 kills the daemon with SIGKILL; its containers keep running.
func (d *daemon) kill9(t *testing.T) {
	t.Helper()
	_ = d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.done
}

func (d *daemon) stop(t *testing.T) {
	if d.cmd == nil {
		return
	}
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
	}
}

func (d *daemon) cleanup(t *testing.T) {
	select {
	case <-d.done:
	default:
		if d.cmd != nil {
			if ids, _, _ := d.docker(t, "ps", "-aq"); strings.TrimSpace(ids) != "" {
				args := append([]string{"rm", "-f"}, strings.Fields(ids)...)
				if _, errOut, err := d.docker(t, args...); err != nil {
					t.Errorf("cleanup: rm -f: %v: %s", err, errOut)
				}
			}
		}
	}
	d.stop(t)
	// Shims the test left (a daemon killed before rm).
	shims, _ := filepath.Glob(filepath.Join(d.execRoot, "shims", "*", "shim.pid"))
	for _, p := range shims {
		b, _ := os.ReadFile(p)
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 {
			t.Errorf("cleanup: shim %s still running", p)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	leftover := mountsUnder(d.dir)
	for i := len(leftover) - 1; i >= 0; i-- {
		_ = mount.UnmountAll(leftover[i])
	}
	if len(leftover) > 0 {
		t.Errorf("cleanup: mounts left under %s: %v", d.dir, leftover)
	}
	if t.Failed() {
		t.Logf("daemon log:\n%s", d.log.String())
	}
	if err := os.RemoveAll(d.dir); err != nil {
		t.Errorf("cleanup: %v", err)
	}
}

func mountsUnder(dir string) []string {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			out = append(out, f[4])
		}
	}
	return out
}

// docker runs the docker CLI against d and returns stdout, stderr and the
// error (an *exec.ExitError for a non-zero exit).
func (d *daemon) docker(t testing.TB, args ...string) (string, string, error) {
	return d.dockerIn(t, nil, args...)
}

func (d *daemon) dockerIn(t testing.TB, stdin []byte, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(dockerCLI(t), append([]string{"-H", d.host}, args...)...)
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+filepath.Join(d.dir, "docker-config"))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err := cmd.Run()
	return out.String(), errb.String(), err
}

// mustDocker runs the docker CLI and fails t unless it exits 0.
func (d *daemon) mustDocker(t testing.TB, args ...string) string {
	t.Helper()
	out, errOut, err := d.docker(t, args...)
	if err != nil {
		t.Fatalf("docker %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}
