package cgroups

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func i64(v int64) *int64    { return &v }
func u64(v uint64) *uint64  { return &v }
func u16(v uint16) *uint16  { return &v }
func boolp(v bool) *bool    { return &v }
func u32p(v uint32) *uint32 { return &v }

func newFakeV1(t *testing.T) (*fakeTree, *v1Manager) {
	t.Helper()
	f := newFakeTree(t, hybridMounts)
	for dir, files := range v1Files {
		root := map[string]string{"cgroup.procs": ""}
		for k, v := range files {
			root[k] = v
		}
		f.files(t, dir, root)
	}
	f.files(t, "cpuset", map[string]string{"cpuset.cpus": "0-1", "cpuset.mems": "0"})
	f.files(t, "unified", map[string]string{"cgroup.controllers": "hugetlb"})
	m, err := New("/test/c1", "c1")
	if err != nil {
		t.Fatal(err)
	}
	f.populateV1(t, "test/c1")
	f.takeWrites()
	return f, m.(*v1Manager)
}

func TestNewHybridPaths(t *testing.T) {
	f, m := newFakeV1(t)
	want := map[string]string{"": f.path("unified/test/c1"), "name=systemd": f.path("systemd/test/c1")}
	for _, c := range []string{"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids"} {
		want[c] = f.path(c + "/test/c1")
	}
	if got := m.Paths(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Paths() = %v, want %v", got, want)
	}
	if got := m.Path("memory"); got != f.path("memory/test/c1") {
		t.Errorf("Path(memory) = %q", got)
	}
	loaded, err := Load(m.Paths())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := loaded.(*v1Manager); !ok || !reflect.DeepEqual(loaded.Paths(), want) {
		t.Errorf("Load(Paths()) = %T %v, want the same v1 cgroup", loaded, loaded.Paths())
	}
}

func TestV1ApplyCreatesAndJoins(t *testing.T) {
	f, m := newFakeV1(t)
	// Parent "test" has no cpus yet: Apply must copy them down from the root.
	f.files(t, "cpuset/test", map[string]string{"cpuset.cpus": "", "cpuset.mems": "", "cgroup.procs": ""})
	if err := m.Apply(4242); err != nil {
		t.Fatal(err)
	}
	for _, rel := range []string{"cpuset/test/cpuset.cpus", "cpuset/test/c1/cpuset.cpus"} {
		if got := f.read(t, rel); got != "0-1" {
			t.Errorf("%s = %q, want the root's 0-1", rel, got)
		}
	}
	if got := f.read(t, "cpuset/test/c1/cpuset.mems"); got != "0" {
		t.Errorf("cpuset.mems = %q, want 0", got)
	}
	for _, dir := range []string{"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "systemd", "unified"} {
		f.files(t, "unified/test/c1", map[string]string{}) // the kernel would have made it
		if got := f.read(t, dir+"/test/c1/cgroup.procs"); got != "4242" && dir != "unified" {
			t.Errorf("%s/test/c1/cgroup.procs = %q, want 4242", dir, got)
		}
	}
	if _, err := os.Stat(f.path("unified/test/c1")); err != nil {
		t.Errorf("hybrid mode: cgroup2 directory not created: %v", err)
	}
}

func TestV1SetWritesEachResource(t *testing.T) {
	f, m := newFakeV1(t)
	f.files(t, "blkio/test/c1", map[string]string{"blkio.bfq.weight": "100", "blkio.bfq.weight_device": ""})
	r := &specs.LinuxResources{
		Devices: []specs.LinuxDeviceCgroup{
			{Allow: false, Access: "rwm"},
			{Allow: true, Type: "c", Major: i64(1), Minor: i64(3), Access: "rwm"},
			{Allow: true, Type: "c", Major: i64(136), Access: "rw"},
			{Allow: false, Type: "b", Major: i64(8), Minor: i64(0), Access: "m"},
		},
		Memory: &specs.LinuxMemory{Limit: i64(64 << 20), Swap: i64(128 << 20), Reservation: i64(32 << 20),
			Kernel: i64(1 << 20), Swappiness: u64(10), DisableOOMKiller: boolp(true)},
		CPU: &specs.LinuxCPU{Shares: u64(512), Quota: i64(50000), Period: u64(100000), Burst: u64(1000),
			RealtimePeriod: u64(1000000), RealtimeRuntime: i64(950000), Cpus: "1", Mems: "0", Idle: i64(0)},
		Pids: &specs.LinuxPids{Limit: i64(100)},
		BlockIO: &specs.LinuxBlockIO{Weight: u16(300),
			WeightDevice:            []specs.LinuxWeightDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Weight: u16(200)}},
			ThrottleReadBpsDevice:   []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 1048576}},
			ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 16}, Rate: 50}},
		},
	}
	if err := m.Set(r); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"cpuset/test/c1/cpuset.cpus=1",
		"cpuset/test/c1/cpuset.mems=0",
		"devices/test/c1/devices.deny=a",
		"devices/test/c1/devices.deny=a *:* rwm",
		"devices/test/c1/devices.allow=c 1:3 rwm",
		"devices/test/c1/devices.allow=c 136:* rw",
		"devices/test/c1/devices.deny=b 8:0 m",
		// Down from unlimited: memory first, then memory+swap.
		"memory/test/c1/memory.limit_in_bytes=67108864",
		"memory/test/c1/memory.memsw.limit_in_bytes=134217728",
		"memory/test/c1/memory.soft_limit_in_bytes=33554432",
		"memory/test/c1/memory.swappiness=10",
		"memory/test/c1/memory.oom_control=1",
		"cpu/test/c1/cpu.shares=512",
		"cpu/test/c1/cpu.cfs_period_us=100000",
		"cpu/test/c1/cpu.cfs_quota_us=50000",
		"cpu/test/c1/cpu.cfs_burst_us=1000",
		"cpu/test/c1/cpu.rt_period_us=1000000",
		"cpu/test/c1/cpu.rt_runtime_us=950000",
		"cpu/test/c1/cpu.idle=0",
		"pids/test/c1/pids.max=100",
		"blkio/test/c1/blkio.bfq.weight=300",
		"blkio/test/c1/blkio.bfq.weight_device=8:0 200",
		"blkio/test/c1/blkio.throttle.read_bps_device=8:0 1048576",
		"blkio/test/c1/blkio.throttle.write_iops_device=8:16 50",
	}
	if got := f.takeWrites(); !reflect.DeepEqual(got, want) {
		t.Fatalf("writes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := f.read(t, "memory/test/c1/memory.limit_in_bytes"); got != "67108864" {
		t.Errorf("memory.limit_in_bytes = %q", got)
	}
}

func TestV1MemorySwapOrder(t *testing.T) {
	f, m := newFakeV1(t)
	f.files(t, "memory/test/c1", map[string]string{"memory.limit_in_bytes": "67108864", "memory.memsw.limit_in_bytes": "134217728"})
	// Shrinking: memory first, then memory+swap (memsw >= memory at every step).
	if err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(32 << 20), Swap: i64(48 << 20)}}); err != nil {
		t.Fatal(err)
	}
	want := []string{"memory/test/c1/memory.limit_in_bytes=33554432", "memory/test/c1/memory.memsw.limit_in_bytes=50331648"}
	if got := f.takeWrites(); !reflect.DeepEqual(got, want) {
		t.Errorf("shrink writes = %q, want %q", got, want)
	}
	// Growing: memory+swap first, or the kernel would refuse memory > memsw.
	if err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(64 << 20), Swap: i64(96 << 20)}}); err != nil {
		t.Fatal(err)
	}
	want = []string{"memory/test/c1/memory.memsw.limit_in_bytes=100663296", "memory/test/c1/memory.limit_in_bytes=67108864"}
	if got := f.takeWrites(); !reflect.DeepEqual(got, want) {
		t.Errorf("grow writes = %q, want %q", got, want)
	}
	// Unlimited memory with swap unset: both unlimited, memsw first.
	if err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(-1)}}); err != nil {
		t.Fatal(err)
	}
	want = []string{"memory/test/c1/memory.memsw.limit_in_bytes=-1", "memory/test/c1/memory.limit_in_bytes=-1"}
	if got := f.takeWrites(); !reflect.DeepEqual(got, want) {
		t.Errorf("unlimited writes = %q, want %q", got, want)
	}
	// Only a memory limit: memsw untouched.
	if err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(1 << 30)}, Pids: &specs.LinuxPids{Limit: i64(0)}}); err != nil {
		t.Fatal(err)
	}
	want = []string{"memory/test/c1/memory.limit_in_bytes=1073741824", "pids/test/c1/pids.max=max"}
	if got := f.takeWrites(); !reflect.DeepEqual(got, want) {
		t.Errorf("limit-only writes = %q, want %q", got, want)
	}
}

func TestV1SetErrors(t *testing.T) {
	tests := []struct {
		name  string
		setup func(*fakeTree)
		r     specs.LinuxResources
		want  string
	}{
		{"blkio weight without kernel support", nil,
			specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: u16(500)}},
			"set blkio.weight=500: not supported by the kernel"},
		{"swap without swap accounting", func(f *fakeTree) { os.Remove(f.path("memory/test/c1/memory.memsw.limit_in_bytes")) },
			specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(4096), Swap: i64(8192)}},
			"set memory.memsw.limit_in_bytes=8192: the kernel has no swap accounting"},
		{"swappiness above 100", nil,
			specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: u64(101)}},
			"set memory.swappiness=101: must be between 0 and 100"},
		{"bad device type", nil,
			specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: true, Type: "x"}}},
			`devices[0]: type "x": must be a, b or c`},
		{"bad device access", nil,
			specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: true, Type: "c", Access: "rx"}}},
			`devices[0]: access "rx": only r, w and m are allowed`},
		{"hugetlb not mounted", nil,
			specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 1 << 21}}},
			"set hugetlb.2MB.limit_in_bytes: no hugetlb cgroup controller mounted"},
		{"bad page size", nil,
			specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "../x", Limit: 1}}},
			`set hugetlb.../x.limit_in_bytes: invalid page size "../x"`},
		{"net_cls not mounted", nil,
			specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: u32p(0x100001)}},
			"set net_cls.classid: no net_cls cgroup controller mounted"},
		{"write refused", func(f *fakeTree) {
			os.Remove(f.path("pids/test/c1/pids.max"))
			os.Mkdir(f.path("pids/test/c1/pids.max"), 0o755)
		},
			specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(5)}},
			"set pids.max=5: is a directory"},
		{"unified file absent", nil,
			specs.LinuxResources{Unified: map[string]string{"memory.high": "1000"}},
			"set memory.high=1000: no such cgroup file in"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, m := newFakeV1(t)
			if tt.setup != nil {
				tt.setup(f)
			}
			err := m.Set(&tt.r)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Set error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestV1UnifiedNeedsCgroup2(t *testing.T) {
	mounts := map[string]string{"memory": "memory", "pids": "pids"}
	f := newFakeTree(t, mounts)
	m, err := New("c", "")
	if err != nil {
		t.Fatal(err)
	}
	if m.Path("memory") != f.path("memory/berth/c") {
		t.Errorf("relative path: Path(memory) = %q, want below /berth", m.Path("memory"))
	}
	if _, ok := m.Paths()[""]; ok {
		t.Errorf("legacy layout: Paths() has a cgroup2 entry: %v", m.Paths())
	}
	err = m.Set(&specs.LinuxResources{Unified: map[string]string{"memory.high": "1"}})
	if err == nil || !strings.Contains(err.Error(), "cgroup v2 is not mounted") {
		t.Fatalf("Set(unified) on v1 = %v, want an error", err)
	}
}

func TestV1FreezerFake(t *testing.T) {
	f, m := newFakeV1(t)
	if s, err := m.State(); err != nil || s != Thawed {
		t.Fatalf("State() = %q, %v; want THAWED", s, err)
	}
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if got := f.read(t, "freezer/test/c1/freezer.state"); got != "FROZEN" {
		t.Errorf("freezer.state = %q after Freeze", got)
	}
	if s, err := m.State(); err != nil || s != Frozen {
		t.Errorf("State() = %q, %v; want FROZEN", s, err)
	}
	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	if s, _ := m.State(); s != Thawed {
		t.Errorf("State() = %q after Thaw", s)
	}
}

func TestResolvePath(t *testing.T) {
	tests := []struct{ in, id, want, err string }{
		{"/berth/abc", "abc", "/berth/abc", ""},
		{"/kubepods/pod1/abc", "abc", "/kubepods/pod1/abc", ""},
		{"pod1/abc", "abc", "/berth/pod1/abc", ""},
		{"", "abc", "/berth/abc", ""},
		{"/a/../b", "x", "", "must not leave"},
		{"../../etc", "x", "", "must not leave"},
		{"/", "x", "", "root cgroup"},
		{"", "", "", "no container id"},
		{"system.slice:berth:abc", "abc", "", "systemd slice:prefix:name paths are not supported"},
	}
	for _, tt := range tests {
		got, err := resolvePath(tt.in, tt.id)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("resolvePath(%q) error = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("resolvePath(%q, %q) = %q, %v; want %q", tt.in, tt.id, got, err, tt.want)
		}
	}
}

func TestReadHierarchies(t *testing.T) {
	dir := t.TempDir()
	mi := `22 1 8:1 / / rw - ext4 /dev/vda rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset,clone_children
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime shared:5 - cgroup cgroup rw,memory
36 31 0:32 /sub /mnt/mem rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
42 31 0:39 / /mnt/my\040cgroup rw,relatime - cgroup cgroup rw,pids
`
	p := filepath.Join(dir, "mountinfo")
	if err := os.WriteFile(p, []byte(mi), 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := readHierarchies(p)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]v1Mount{
		"cpu":          {"/sys/fs/cgroup/cpu,cpuacct", []string{"cpu", "cpuacct"}},
		"cpuacct":      {"/sys/fs/cgroup/cpu,cpuacct", []string{"cpu", "cpuacct"}},
		"cpuset":       {"/sys/fs/cgroup/cpuset", []string{"cpuset"}},
		"memory":       {"/sys/fs/cgroup/memory", []string{"memory"}},
		"name=systemd": {"/sys/fs/cgroup/systemd", []string{"name=systemd"}},
		"pids":         {"/mnt/my cgroup", []string{"pids"}},
	}
	if !reflect.DeepEqual(h.v1, want) {
		t.Errorf("v1 = %v\nwant %v", h.v1, want)
	}
	if h.unified != "/sys/fs/cgroup/unified" {
		t.Errorf("unified = %q", h.unified)
	}
	if _, err := readHierarchies(filepath.Join(dir, "missing")); err == nil {
		t.Error("readHierarchies(missing file) succeeded")
	}
}

func TestMountPointsV1Hybrid(t *testing.T) {
	f := newFakeTree(t, map[string]string{
		"cpu,cpuacct": "cpu,cpuacct", "memory": "memory", "systemd": "name=systemd", "unified": "cgroup2",
	})
	m, err := New("/berth/x", "x")
	if err != nil {
		t.Fatal(err)
	}
	got, err := MountPoints(m)
	if err != nil {
		t.Fatal(err)
	}
	want := []CgroupMount{
		{Type: "tmpfs", Data: "mode=755"},
		{Dest: "cpu,cpuacct", Type: "cgroup", Data: "cpu,cpuacct", HostDir: f.path("cpu,cpuacct/berth/x"), Symlinks: []string{"cpu", "cpuacct"}},
		{Dest: "memory", Type: "cgroup", Data: "memory", HostDir: f.path("memory/berth/x")},
		{Dest: "systemd", Type: "cgroup", Data: "none,name=systemd", HostDir: f.path("systemd/berth/x")},
		{Dest: "unified", Type: "cgroup2", HostDir: f.path("unified/berth/x")},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("MountPoints = %+v\nwant %+v", got, want)
	}
	// A loaded manager gives the same answer.
	loaded, err := Load(m.Paths())
	if err != nil {
		t.Fatal(err)
	}
	if got2, err := MountPoints(loaded); err != nil || !reflect.DeepEqual(got2, want) {
		t.Errorf("MountPoints(Load) = %+v, %v", got2, err)
	}
}

func TestLoadRejectsBadPaths(t *testing.T) {
	if _, err := Load(nil); err == nil {
		t.Error("Load(nil) succeeded")
	}
	if _, err := Load(map[string]string{"memory": "relative/dir"}); err == nil || !strings.Contains(err.Error(), "not absolute") {
		t.Errorf("Load(relative) = %v", err)
	}
}

func TestWriteFileErrorNamesFileAndValue(t *testing.T) {
	dir := t.TempDir()
	err := writeFile(dir, "memory.limit_in_bytes", "4096")
	if err == nil || err.Error() != "set memory.limit_in_bytes=4096: no such file or directory" || !errors.Is(err, unix.ENOENT) {
		t.Fatalf("writeFile = %v", err)
	}
}
