package build

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berth/berth/internal/snapshot/mount"
	"github.com/berth/berth/internal/testutil"
)

var (
	berthBin   string
	layerPath  string // the busybox layer (tar.gz) of hack/mkimage-busybox.sh's layout
	setupError error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "berth-build-test-")
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
	var index struct{ Manifests []struct{ Digest string } }
	if err := readJSON(filepath.Join(layout, "index.json"), &index); err != nil || len(index.Manifests) == 0 {
		return fmt.Errorf("busybox layout index: %v", err)
	}
	var manifest struct{ Layers []struct{ Digest string } }
	if err := readJSON(blobPath(layout, index.Manifests[0].Digest), &manifest); err != nil || len(manifest.Layers) == 0 {
		return fmt.Errorf("busybox layout manifest: %v", err)
	}
	layerPath = blobPath(layout, manifest.Layers[0].Digest)
	return nil
}

func blobPath(layout, d string) string {
	return filepath.Join(layout, "blobs", "sha256", strings.TrimPrefix(d, "sha256:"))
}

func readJSON(p string, v any) error {
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// lockedBuffer collects the daemon's output, written by exec's copier
// while tests read it.
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

// daemon is a `berth daemon` on its own roots and socket.
type daemon struct {
	dir, sock, host string
	// netArgs are the daemon's networking flags ("--bridge none" when nil).
	netArgs []string
	cmd     *exec.Cmd
	log     lockedBuffer
	done    chan struct{}
}

// newDaemon starts a daemon with busybox:latest imported; cleanup stops
// it and fails the test if it left mounts behind.
func newDaemon(t *testing.T) *daemon {
	t.Helper()
	return newDaemonWith(t, nil)
}

// newDaemonWith is newDaemon with networking flags.
func newDaemonWith(t *testing.T, netArgs []string) *daemon {
	t.Helper()
	testutil.RequireRoot(t)
	if setupError != nil {
		t.Fatal(setupError)
	}
	dir, err := os.MkdirTemp("", "berth-bld-")
	if err != nil {
		t.Fatal(err)
	}
	d := &daemon{dir: dir, sock: filepath.Join(dir, "d.sock"), netArgs: netArgs}
	d.host = "unix://" + d.sock
	t.Cleanup(func() { d.cleanup(t) })
	d.start(t)
	if _, errOut, err := d.berth(t, "import", "--change", `CMD ["sh"]`, layerPath, "busybox:latest"); err != nil {
		t.Fatalf("import busybox: %v: %s", err, errOut)
	}
	return d
}

// start starts the daemon process on d's roots and waits until it
// answers.
func (d *daemon) start(t *testing.T) {
	t.Helper()
	d.done = make(chan struct{})
	args := []string{"daemon", "--data-root", filepath.Join(d.dir, "data"), "--exec-root", filepath.Join(d.dir, "exec"),
		"-H", d.host, "--pidfile", filepath.Join(d.dir, "d.pid")}
	if d.netArgs == nil {
		args = append(args, "--bridge", "none")
	}
	d.cmd = exec.Command(berthBin, append(args, d.netArgs...)...)
	d.cmd.Stdout, d.cmd.Stderr = &d.log, &d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := d.done
	go func() { _ = d.cmd.Wait(); close(done) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, _, err := d.berth(t, "version"); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon did not come up:\n%s", d.log.String())
		}
		select {
		case <-done:
			t.Fatalf("daemon exited:\n%s", d.log.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// kill kills the daemon with SIGKILL, as a crash would.
func (d *daemon) kill(t *testing.T) {
	t.Helper()
	_ = d.cmd.Process.Kill()
	<-d.done
	_ = os.Remove(filepath.Join(d.dir, "d.pid"))
}

func (d *daemon) cleanup(t *testing.T) {
	if d.cmd != nil && d.cmd.Process != nil {
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.done:
		case <-time.After(15 * time.Second):
			_ = d.cmd.Process.Kill()
			<-d.done
			t.Errorf("cleanup: daemon did not stop on SIGTERM")
		}
	}
	b, _ := os.ReadFile("/proc/self/mountinfo")
	var left []string
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 4 && strings.HasPrefix(f[4], d.dir) {
			left = append(left, f[4])
		}
	}
	for i := len(left) - 1; i >= 0; i-- {
		_ = mount.UnmountAll(left[i])
	}
	if len(left) > 0 {
		t.Errorf("cleanup: mounts left under %s: %v", d.dir, left)
	}
	if t.Failed() {
		t.Logf("daemon log:\n%s", d.log.String())
	}
	if err := os.RemoveAll(d.dir); err != nil {
		t.Errorf("cleanup: %v", err)
	}
}

// run runs bin with args against the daemon, in dir when set, with stdin.
func (d *daemon) run(t *testing.T, bin string, env []string, dir string, stdin string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"-H", d.host}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = dir
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		return "", "", err
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return out.String(), errOut.String(), err
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("%s %v timed out", bin, args)
		return "", "", nil
	}
}

func (d *daemon) berth(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	return d.run(t, berthBin, nil, "", "", args...)
}

// dockerCLI returns the docker CLI's path or skips t.
func dockerCLI(t *testing.T) string {
	t.Helper()
	const p = "/usr/local/bin/docker"
	if _, err := os.Stat(p); err != nil {
		t.Skipf("the docker CLI is not installed at %s (%v)", p, err)
	}
	return p
}

func (d *daemon) docker(t *testing.T, dir, stdin string, args ...string) (string, string, error) {
	t.Helper()
	return d.run(t, dockerCLI(t), []string{"DOCKER_BUILDKIT=0", "DOCKER_CONFIG=" + filepath.Join(d.dir, "docker-config")}, dir, stdin, args...)
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func exitCode(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}
