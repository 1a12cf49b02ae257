package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth/berth/internal/testutil"
)

// parityCase is one behaviour checked under every selected runtime. run
// asserts what the spec demands and returns the observation that must be
// equal between runtimes.
type parityCase struct {
	name string
	run  func(t *testing.T, r *runtimeCLI) any
}

// runParity runs each case under every runtime of BERTH_TEST_RUNTIMES
// (subtests named after the runtime), then compares their observations.
func runParity(t *testing.T, cases []parityCase) {
	for _, pc := range cases {
		t.Run(pc.name, func(t *testing.T) {
			obs := map[string]any{}
			var order []string
			for _, name := range selectedRuntimes() {
				t.Run(name, func(t *testing.T) {
					r := newRuntime(t, name)
					o := pc.run(t, r)
					if !t.Failed() && !t.Skipped() {
						obs[name] = o
						order = append(order, name)
					}
				})
			}
			for i := 1; i < len(order); i++ {
				a, b := order[0], order[i]
				if !reflect.DeepEqual(obs[a], obs[b]) {
					aj, _ := json.Marshal(obs[a])
					bj, _ := json.Marshal(obs[b])
					t.Errorf("%s and %s differ:\n%s: %s\n%s: %s", a, b, a, aj, b, bj)
				}
			}
		})
	}
}

// checkerBundle makes a busybox bundle whose process is the checker with
// args, lets edit change the spec, and prepares a container for it under r.
func checkerBundle(t *testing.T, r *runtimeCLI, edit func(*specs.Spec), args ...string) *container {
	t.Helper()
	if checkerErr != nil {
		t.Fatalf("build checker: %v", checkerErr)
	}
	bundle := testutil.BusyboxBundle(t)
	path := testutil.InstallChecker(t, bundle, checkerBin)
	spec := testutil.DefaultSpec(append([]string{path}, args...)...)
	if edit != nil {
		edit(spec)
	}
	testutil.WriteSpec(t, bundle, spec)
	return newContainer(t, r, bundle)
}

// busyboxContainer makes a busybox bundle running args, lets edit change the
// spec, and prepares a container for it under r.
func busyboxContainer(t *testing.T, r *runtimeCLI, edit func(*specs.Spec), args ...string) *container {
	t.Helper()
	bundle := testutil.BusyboxBundle(t)
	spec := testutil.DefaultSpec(args...)
	if edit != nil {
		edit(spec)
	}
	testutil.WriteSpec(t, bundle, spec)
	return newContainer(t, r, bundle)
}

// runContainer runs the container in the foreground (`run --bundle`) and
// returns the result.
func runContainer(t *testing.T, r *runtimeCLI, c *container) result {
	t.Helper()
	return r.run(t, "run", "--bundle", c.bundle, c.id)
}

// runChecker runs a checker container and parses its report; it fails the
// test unless the container exits 0.
func runChecker(t *testing.T, r *runtimeCLI, edit func(*specs.Spec), args ...string) *testutil.CheckerReport {
	t.Helper()
	c := checkerBundle(t, r, edit, args...)
	res := runContainer(t, r, c)
	if res.Code != 0 {
		t.Fatalf("%s run: %s", r.name, res)
	}
	rep, err := testutil.ParseCheckerReport([]byte(res.Stdout))
	if err != nil {
		t.Fatalf("%s run: %v (stderr %q)", r.name, err, res.Stderr)
	}
	if len(rep.Errors) != 0 {
		t.Logf("checker errors under %s: %q", r.name, rep.Errors)
	}
	return rep
}

// ociState is the runc-compatible output of `state`.
type ociState struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Status      string            `json:"status"`
	Pid         int               `json:"pid"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Annotations map[string]string `json:"annotations"`
}

func (r *runtimeCLI) state(t *testing.T, id string) ociState {
	t.Helper()
	res := r.mustRun(t, "state", id)
	var st ociState
	if err := json.Unmarshal([]byte(res.Stdout), &st); err != nil {
		t.Fatalf("%s state %s: %v: %q", r.name, id, err, res.Stdout)
	}
	return st
}

// waitStatus polls `state` until the container exists and has the given
// status.
func (r *runtimeCLI) waitStatus(t *testing.T, id, status string, timeout time.Duration) ociState {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var st ociState
		res := r.run(t, "state", id)
		if res.Code == 0 {
			if err := json.Unmarshal([]byte(res.Stdout), &st); err != nil {
				t.Fatalf("%s state %s: %v: %q", r.name, id, err, res.Stdout)
			}
			if st.Status == status {
				return st
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: container %s is %q after %v, want %q (%s)", r.name, id, st.Status, timeout, status, res)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitFile waits until path exists and is not empty, and returns its
// content.
func waitFile(t *testing.T, path string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		data, err := os.ReadFile(path)
		if err == nil && len(data) > 0 {
			return string(data)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear within %v: %v", path, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sharedDir makes a host directory writable by everyone and bind-mounts it
// at dest in the container.
func sharedDir(t *testing.T, spec *specs.Spec, dest string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "shared")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	spec.Mounts = append(spec.Mounts, specs.Mount{
		Destination: dest, Type: "bind", Source: dir, Options: []string{"rbind", "rw"},
	})
	return dir
}

// nsInode returns the inode of /proc/PID/ns/NAME on the host.
func nsInode(t *testing.T, pid int, name string) uint64 {
	t.Helper()
	fi, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid), "ns", name))
	if err != nil {
		t.Fatalf("namespace %s of pid %d: %v", name, pid, err)
	}
	return inodeOf(fi)
}

// oneLine reports whether s, trimmed, is a single line.
func oneLine(s string) bool {
	return !strings.Contains(strings.TrimSpace(s), "\n")
}
