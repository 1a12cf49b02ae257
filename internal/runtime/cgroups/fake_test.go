package cgroups

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// fakeTree is a cgroup file system imitated in a temp directory: the files
// the kernel would create are written by the test, so a write to a file the
// kernel lacks fails as it would for real.
type fakeTree struct {
	root      string
	mountinfo string
	mu        sync.Mutex
	writes    []string // "relative/dir/file=value", in order
}

// newFakeTree writes a mountinfo describing mounts (mount point relative to
// the root -> super options; "cgroup2" for the unified mount) and points the
// package at it for the test.
func newFakeTree(t *testing.T, mounts map[string]string) *fakeTree {
	t.Helper()
	f := &fakeTree{root: t.TempDir()}
	var mi strings.Builder
	fmt.Fprintf(&mi, "20 1 8:1 / / rw,relatime - ext4 /dev/vda rw\n")
	fmt.Fprintf(&mi, "31 20 0:28 / %s rw - tmpfs tmpfs rw,mode=755\n", f.root)
	id := 32
	for dir, opts := range mounts {
		mp := filepath.Join(f.root, dir)
		if err := os.MkdirAll(mp, 0o755); err != nil {
			t.Fatal(err)
		}
		escaped := strings.ReplaceAll(mp, " ", `\040`)
		if opts == "cgroup2" {
			fmt.Fprintf(&mi, "%d 31 0:%d / %s rw,relatime - cgroup2 cgroup2 rw\n", id, id, escaped)
		} else {
			fmt.Fprintf(&mi, "%d 31 0:%d / %s rw,relatime - cgroup cgroup rw,%s\n", id, id, escaped, opts)
		}
		id++
	}
	f.mountinfo = filepath.Join(f.root, "mountinfo")
	if err := os.WriteFile(f.mountinfo, []byte(mi.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	oldMI, oldTrace := mountinfoPath, traceWrite
	mountinfoPath = f.mountinfo
	traceWrite = func(dir, file, value string) {
		f.mu.Lock()
		defer f.mu.Unlock()
		rel, _ := filepath.Rel(f.root, dir)
		f.writes = append(f.writes, rel+"/"+file+"="+value)
	}
	t.Cleanup(func() { mountinfoPath, traceWrite = oldMI, oldTrace })
	return f
}

// files creates the named files with their contents below root/rel.
func (f *fakeTree) files(t *testing.T, rel string, files map[string]string) {
	t.Helper()
	dir := filepath.Join(f.root, rel)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func (f *fakeTree) read(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(f.root, rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// takeWrites returns the writes seen so far and forgets them.
func (f *fakeTree) takeWrites() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := f.writes
	f.writes = nil
	return w
}

func (f *fakeTree) path(rel string) string { return filepath.Join(f.root, rel) }

// hybridMounts is this project's machine: v1 controllers one per directory,
// cgroup2 at unified.
var hybridMounts = map[string]string{
	"cpu": "cpu", "cpuacct": "cpuacct", "cpuset": "cpuset", "memory": "memory",
	"devices": "devices", "freezer": "freezer", "blkio": "blkio", "pids": "pids",
	"systemd": "name=systemd", "unified": "cgroup2",
}

// v1Files are the files a fresh v1 cgroup has, per hierarchy directory.
var v1Files = map[string]map[string]string{
	"cpu": {"cpu.shares": "1024", "cpu.cfs_period_us": "100000", "cpu.cfs_quota_us": "-1",
		"cpu.rt_period_us": "1000000", "cpu.rt_runtime_us": "0", "cpu.cfs_burst_us": "0", "cpu.idle": "0",
		"cpu.stat": "nr_periods 0\nnr_throttled 0\nthrottled_time 0\n"},
	"cpuacct": {"cpuacct.usage": "0"},
	"cpuset":  {"cpuset.cpus": "", "cpuset.mems": ""},
	"memory": {"memory.limit_in_bytes": "9223372036854771712", "memory.memsw.limit_in_bytes": "9223372036854771712",
		"memory.soft_limit_in_bytes": "9223372036854771712", "memory.swappiness": "60",
		"memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n", "memory.usage_in_bytes": "0"},
	"devices": {"devices.allow": "", "devices.deny": "", "devices.list": "a *:* rwm\n"},
	"freezer": {"freezer.state": "THAWED\n"},
	"blkio": {"blkio.throttle.read_bps_device": "", "blkio.throttle.write_bps_device": "",
		"blkio.throttle.read_iops_device": "", "blkio.throttle.write_iops_device": ""},
	"pids":    {"pids.max": "max", "pids.current": "0"},
	"systemd": {},
	"unified": {"cgroup.controllers": "", "cgroup.subtree_control": ""},
}

// populateV1 creates the kernel's files for the cgroup rel in every
// hierarchy (and cgroup.procs), as mkdir would on a real cgroupfs.
func (f *fakeTree) populateV1(t *testing.T, rel string) {
	t.Helper()
	for dir, files := range v1Files {
		all := map[string]string{"cgroup.procs": ""}
		for k, v := range files {
			all[k] = v
		}
		f.files(t, filepath.Join(dir, rel), all)
	}
}

func removePath(p string) error { return os.Remove(p) }
