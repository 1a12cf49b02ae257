package engine

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth/berth/internal/content"
	"github.com/berth/berth/internal/image"
	"github.com/berth/berth/internal/metadata"
	"github.com/berth/berth/internal/snapshot"
	"github.com/berth/berth/internal/testutil"
)

var (
	berthBin   string
	archive    string // docker-archive of busybox:latest
	setupError error
)

func TestMain(m *testing.M) {
	os.Exit(testutil.RunSuite(m, "berth-engine-test-", func(dir string) { setupError = setup(dir) }))
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
	archive, err = img.DockerArchive()
	return err
}

// docker returns the docker CLI's path or skips t saying it is missing.
func dockerCLI(t testing.TB) string {
	t.Helper()
	return testutil.RequireDockerCLI(t)
}

// daemon is a `berth daemon` on its own roots (testutil.Daemon).
type daemon struct {
	*testutil.Daemon
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
	// No --config-file: the reload test gives its own among netArgs.
	d := &daemon{testutil.NewDaemon(t, testutil.DaemonOptions{Binary: berthBin, DirPrefix: "berth-eng-", Network: netArgs, NoConfigFile: true})}
	loadImage(t, d.DataRoot)
	d.Start(t)
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

// docker runs the docker CLI against d and returns stdout, stderr and the
// error (an *exec.ExitError for a non-zero exit).
func (d *daemon) docker(t testing.TB, args ...string) (string, string, error) {
	return d.dockerIn(t, nil, args...)
}

func (d *daemon) dockerIn(t testing.TB, stdin []byte, args ...string) (string, string, error) {
	t.Helper()
	var o testutil.RunOptions
	if stdin != nil {
		o.Stdin = bytes.NewReader(stdin)
	}
	r := d.Run(t, dockerCLI(t), o, args...)
	return r.Stdout, r.Stderr, r.Err
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
