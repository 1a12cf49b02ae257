package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth/berth/internal/testutil"
)

const cgroupRoot = "/sys/fs/cgroup"

func loadSpecFile(bundle string) (*specs.Spec, error) {
	data, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		return nil, err
	}
	var spec specs.Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		return nil, err
	}
	return &spec, nil
}

// cgroupHierarchies returns the mounted cgroup hierarchies: every directory
// under /sys/fs/cgroup on a v1 or hybrid host, or the root itself on a pure
// cgroup v2 host.
func cgroupHierarchies() []string {
	if _, err := os.Stat(filepath.Join(cgroupRoot, "cgroup.controllers")); err == nil {
		return []string{cgroupRoot}
	}
	entries, _ := os.ReadDir(cgroupRoot)
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, filepath.Join(cgroupRoot, e.Name()))
		}
	}
	return out
}

// leftovers lists what a container left behind after its deletion: its
// state directory, its cgroups, mounts referencing its bundle, and processes
// in its cgroup parent, with their root or working directory in its bundle,
// or with its id as an argument.
func leftovers(r *runtimeCLI, c *container) []string {
	var left []string
	if _, err := os.Lstat(filepath.Join(r.root, c.id)); err == nil {
		left = append(left, "state directory "+filepath.Join(r.root, c.id))
	}
	for _, h := range cgroupHierarchies() {
		p := filepath.Join(h, c.cgroupPath())
		if _, err := os.Stat(p); err == nil {
			left = append(left, "cgroup "+p)
		}
	}
	if c.bundle != "" {
		if data, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
			for _, line := range strings.Split(string(data), "\n") {
				if strings.Contains(line, c.bundle) {
					left = append(left, "mount "+line)
				}
			}
		}
		left = append(left, processesIn(c.bundle, c.id)...)
	}
	if c.cgroupParent != "" {
		left = append(left, processesInCgroup(c.cgroupParent)...)
	}
	return left
}

// processesInCgroup lists processes in parent or below it, in any hierarchy.
// It catches a container's processes even when they live in their own mount
// namespace, where /proc/PID/root says nothing useful.
func processesInCgroup(parent string) []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid := e.Name()
		if pid[0] < '0' || pid[0] > '9' {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", pid, "cgroup"))
		if err != nil || zombie(pid) {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			parts := strings.SplitN(line, ":", 3)
			if len(parts) == 3 && (parts[2] == parent || strings.HasPrefix(parts[2], parent+"/")) {
				out = append(out, "process "+pid+" in cgroup "+parts[2]+" ("+cmdline(pid)+")")
				break
			}
		}
	}
	return out
}

// processesIn lists processes whose root or cwd is below dir, or, if id is
// not empty, whose command line has the container id as an argument.
func processesIn(dir, id string) []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	self := os.Getpid()
	for _, e := range entries {
		pid := e.Name()
		if pid[0] < '0' || pid[0] > '9' || pid == strconv.Itoa(self) || zombie(pid) {
			continue
		}
		for _, link := range []string{"root", "cwd"} {
			target, err := os.Readlink(filepath.Join("/proc", pid, link))
			if err == nil && (target == dir || strings.HasPrefix(target, dir+"/")) {
				out = append(out, "process "+pid+" ("+link+" "+target+", "+cmdline(pid)+")")
				break
			}
		}
		if id == "" {
			continue
		}
		args := strings.Fields(cmdline(pid))
		if slices.Contains(args, id) && !slices.Contains(args, "delete") {
			out = append(out, "process "+pid+" ("+strings.Join(args, " ")+")")
		}
	}
	return out
}

// zombie reports whether pid has exited and waits for its parent (here
// often PID 1 of the machine, which reaps slowly) to collect it.
func zombie(pid string) bool {
	data, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
	if err != nil {
		return true
	}
	s := string(data)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] == 'Z'
	}
	return false
}

func cmdline(pid string) string {
	data, _ := os.ReadFile(filepath.Join("/proc", pid, "cmdline"))
	return strings.TrimSpace(strings.ReplaceAll(string(data), "\x00", " "))
}

// assertNothingLeft fails t if the container left anything behind. Processes
// get a moment to be reaped.
func assertNothingLeft(t *testing.T, r *runtimeCLI, c *container) {
	t.Helper()
	var left []string
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if left = leftovers(r, c); len(left) == 0 || time.Now().After(deadline) {
			break
		}
	}
	for _, l := range left {
		t.Errorf("%s left behind after delete of %s: %s", r.name, c.id, l)
	}
}

// removeCgroup removes a test's cgroup parent (and any child left, so one
// failure does not leak into the next run) from every hierarchy.
func removeCgroup(t *testing.T, parent string) {
	t.Helper()
	for _, h := range cgroupHierarchies() {
		p := filepath.Join(h, parent)
		if _, err := os.Stat(p); err != nil {
			continue
		}
		children, _ := os.ReadDir(p)
		for _, ch := range children {
			if ch.IsDir() {
				os.Remove(filepath.Join(p, ch.Name()))
			}
		}
		if err := os.Remove(p); err != nil {
			t.Errorf("remove test cgroup %s: %v", p, err)
		}
	}
}

// TestLeftoversSeesLiveContainer proves the leftover check can fail: a
// created container shows its state directory, cgroups and init process;
// after delete, nothing.
func TestLeftoversSeesLiveContainer(t *testing.T) {
	for _, name := range selectedRuntimes() {
		t.Run(name, func(t *testing.T) {
			r := newRuntime(t, name)
			c := newContainer(t, r, testutil.BusyboxBundle(t, "sleep", "1000"))
			r.mustRun(t, "create", "--bundle", c.bundle, c.id)
			left := strings.Join(leftovers(r, c), "\n")
			for _, want := range []string{"state directory", "cgroup " + cgroupHierarchies()[0], "process "} {
				if !strings.Contains(left, want) {
					t.Errorf("leftovers of a created container lack %q:\n%s", want, left)
				}
			}
			r.mustRun(t, "delete", "--force", c.id)
			assertNothingLeft(t, r, c)
		})
	}
}
