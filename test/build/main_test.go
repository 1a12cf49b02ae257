package build

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth/berth/internal/testutil"
)

var (
	berthBin   string
	layerPath  string // the busybox layer (tar.gz) of hack/mkimage-busybox.sh's layout
	setupError error
)

func TestMain(m *testing.M) {
	os.Exit(testutil.RunSuite(m, "berth-build-test-", func(dir string) { setupError = setup(dir) }))
}

func setup(dir string) error {
	var err error
	if berthBin, err = testutil.BerthBinary(dir); err != nil {
		return err
	}
	img, err := testutil.MakeBusyboxImage(dir)
	if err != nil {
		return err
	}
	layerPath = img.Layer
	return nil
}

// daemon is a `berth daemon` on its own roots and socket.
type daemon struct {
	*testutil.Daemon
}

// newDaemon starts a daemon with busybox:latest imported; cleanup stops
// it and fails the test if it left mounts behind.
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
	d := &daemon{testutil.StartDaemon(t, testutil.DaemonOptions{Binary: berthBin, DirPrefix: "berth-bld-", Network: netArgs})}
	if _, errOut, err := d.berth(t, "import", "--change", `CMD ["sh"]`, layerPath, "busybox:latest"); err != nil {
		t.Fatalf("import busybox: %v: %s", err, errOut)
	}
	return d
}

// kill kills the daemon with SIGKILL, as a crash would, and removes its
// pid file.
func (d *daemon) kill(t *testing.T) {
	t.Helper()
	d.Kill(t)
	_ = os.Remove(d.PIDFile)
}

// run runs bin with args against the daemon, in dir when set, with stdin.
func (d *daemon) run(t *testing.T, bin string, env []string, dir string, stdin string, args ...string) (string, string, error) {
	t.Helper()
	o := testutil.RunOptions{Env: env, Dir: dir}
	if stdin != "" {
		o.Stdin = strings.NewReader(stdin)
	}
	r := d.Run(t, bin, o, args...)
	return r.Stdout, r.Stderr, r.Err
}

func (d *daemon) berth(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	return d.run(t, berthBin, nil, "", "", args...)
}

// dockerCLI returns the docker CLI's path or skips t.
func dockerCLI(t *testing.T) string {
	t.Helper()
	return testutil.RequireDockerCLI(t)
}

func (d *daemon) docker(t *testing.T, dir, stdin string, args ...string) (string, string, error) {
	t.Helper()
	return d.run(t, dockerCLI(t), []string{"DOCKER_BUILDKIT=0"}, dir, stdin, args...)
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
