package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth/berth/internal/testutil"
)

// Built once by TestMain.
var (
	berthBin      string // empty if the build failed
	berthBuildErr error
	checkerBin    string
	checkerErr    error
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "berth-integration-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "integration: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintf(os.Stderr, "integration: %v\n", err)
		return 1
	}
	// Prebuilt binaries, for machines without a Go toolchain (the cgroup v2
	// VM, hack/cgroup2-tests.sh).
	if berthBin = os.Getenv("BERTH_TEST_BINARY"); berthBin == "" {
		berthBin = filepath.Join(dir, "berth")
		// As hack/build.sh builds it (no cgo, the init image): what ships.
		if berthBuildErr = testutil.BuildBerth(berthBin); berthBuildErr != nil {
			berthBin = ""
		}
	}
	if checkerBin = os.Getenv("BERTH_TEST_CHECKER"); checkerBin == "" {
		checkerBin, checkerErr = testutil.BuildChecker(dir)
	}
	return m.Run()
}

// runtimeCLI drives one runc-compatible runtime binary with its own --root.
type runtimeCLI struct {
	name string // "berth", "berth-goinit" or "runc"
	bin  string // path of the binary
	args []string
	env  []string // added to the environment of every command
	root string   // --root
}

// selectedRuntimes returns the runtimes named by BERTH_TEST_RUNTIMES.
func selectedRuntimes() []string {
	v := os.Getenv("BERTH_TEST_RUNTIMES")
	if v == "" {
		v = "berth,berth-goinit,runc"
	}
	var out []string
	for _, name := range strings.Split(v, ",") {
		if name = strings.TrimSpace(name); name != "" {
			out = append(out, name)
		}
	}
	return out
}

// newRuntime returns the runtime called name with a fresh --root, or skips t
// with the reason it cannot run.
func newRuntime(t *testing.T, name string) *runtimeCLI {
	t.Helper()
	testutil.RequireRoot(t)
	r := &runtimeCLI{name: name, root: t.TempDir()}
	switch name {
	case "berth":
		if berthBin == "" {
			t.Skipf("skipping berth: cannot build ./cmd/berth: %v", berthBuildErr)
		}
		r.bin, r.args = berthBin, []string{"runtime"}
	case "berth-goinit":
		// berth with every container's init in Go (BERTH_INIT=go), where
		// "berth" takes the C init for the containers it covers: the two
		// must give the same results.
		if berthBin == "" {
			t.Skipf("skipping berth: cannot build ./cmd/berth: %v", berthBuildErr)
		}
		r.bin, r.args, r.env = berthBin, []string{"runtime"}, []string{"BERTH_INIT=go"}
	case "runc":
		p, err := exec.LookPath("runc")
		if err != nil {
			t.Skip("skipping runc: runc is not installed (hack/install-deps.sh)")
		}
		r.bin = p
	default:
		t.Fatalf("BERTH_TEST_RUNTIMES: unknown runtime %q (want berth, berth-goinit or runc)", name)
	}
	return r
}

// result is what a runtime command did.
type result struct {
	Code   int // exit code; -1 if killed by a signal or not started
	Stdout string
	Stderr string
}

func (res result) String() string {
	return fmt.Sprintf("exit %d, stdout %q, stderr %q", res.Code, res.Stdout, res.Stderr)
}

const commandTimeout = 60 * time.Second

// command returns `<bin> [runtime] --root ROOT args...`.
func (r *runtimeCLI) command(ctx context.Context, args ...string) *exec.Cmd {
	full := append(append(append([]string{}, r.args...), "--root", r.root), args...)
	cmd := exec.CommandContext(ctx, r.bin, full...)
	if len(r.env) > 0 {
		cmd.Env = append(os.Environ(), r.env...)
	}
	return cmd
}

// run runs a runtime command to its end and returns its result. Output goes
// through files, not pipes: a container started by `create` inherits them and
// may outlive the command.
func (r *runtimeCLI) run(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := r.command(ctx, args...)
	stdout, stderr := outputFile(t), outputFile(t)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err := cmd.Run()
	res := result{Stdout: readOutput(t, stdout), Stderr: readOutput(t, stderr)}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		res.Code = exit.ExitCode()
	default:
		t.Fatalf("%s %s: %v", r.name, strings.Join(args, " "), err)
	}
	if ctx.Err() != nil {
		t.Fatalf("%s %s: timed out after %v: %s", r.name, strings.Join(args, " "), commandTimeout, res)
	}
	return res
}

func outputFile(t *testing.T) *os.File {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "output-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func readOutput(t *testing.T, f *os.File) string {
	t.Helper()
	data, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// mustRun is run that fails the test unless the command exits 0.
func (r *runtimeCLI) mustRun(t *testing.T, args ...string) result {
	t.Helper()
	res := r.run(t, args...)
	if res.Code != 0 {
		t.Fatalf("%s %s: %s", r.name, strings.Join(args, " "), res)
	}
	return res
}

var containerSeq atomic.Int64

// container is one container's identity for a test: its id, bundle and the
// cgroup it must live in.
type container struct {
	id           string
	bundle       string
	cgroupParent string // "/berth-test-<pid>-<n>"
}

// newContainer prepares a container name and cgroup for bundle under r and
// registers its cleanup: `delete --force`, then a check that nothing is left
// behind (state dir, cgroups, mounts, processes), then removal of the test's
// cgroup parent. It also writes the cgroupsPath into the bundle's config.
func newContainer(t *testing.T, r *runtimeCLI, bundle string) *container {
	t.Helper()
	n := containerSeq.Add(1)
	c := &container{
		id:           fmt.Sprintf("%s-%d-%d", r.name, os.Getpid(), n),
		bundle:       bundle,
		cgroupParent: fmt.Sprintf("/berth-test-%d-%d", os.Getpid(), n),
	}
	if _, err := os.Stat(filepath.Join(bundle, "config.json")); err == nil {
		if spec, err := loadSpecFile(bundle); err == nil && spec.Linux != nil {
			spec.Linux.CgroupsPath = c.cgroupPath()
			testutil.WriteSpec(t, bundle, spec)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
		defer cancel()
		r.command(ctx, "delete", "--force", c.id).Run()
		assertNothingLeft(t, r, c)
		removeCgroup(t, c.cgroupParent)
	})
	return c
}

// cgroupPath is the container's cgroupsPath.
func (c *container) cgroupPath() string { return c.cgroupParent + "/" + c.id }
