package cgroups

import (
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// v2LeafFiles are the files of a fresh cgroup2 directory with the cpuset,
// cpu, io, memory, hugetlb and pids controllers enabled.
var v2LeafFiles = map[string]string{
	"cgroup.procs": "", "cgroup.controllers": "", "cgroup.subtree_control": "", "cgroup.freeze": "0",
	"cgroup.events": "populated 0\nfrozen 0\n", "cgroup.kill": "",
	"cpuset.cpus": "", "cpuset.mems": "", "cpu.weight": "100", "cpu.max": "max 100000", "cpu.max.burst": "0", "cpu.idle": "0",
	"cpu.stat": "usage_usec 0\n", "io.max": "", "io.weight": "default 100",
	"memory.max": "max", "memory.low": "0", "memory.swap.max": "max", "memory.current": "0",
	"pids.max": "max", "pids.current": "0", "hugetlb.2MB.max": "max", "hugetlb.2MB.current": "0",
	"memory.high": "max",
}

func newFakeV2(t *testing.T) (*fakeTree, *v2Manager) {
	t.Helper()
	f := newFakeTree(t, map[string]string{"cg": "cgroup2"})
	ctrls := "cpuset cpu io memory hugetlb pids rdma misc"
	f.files(t, "cg", map[string]string{"cgroup.controllers": ctrls, "cgroup.subtree_control": "", "cgroup.procs": "1\n"})
	f.files(t, "cg/berth", map[string]string{"cgroup.controllers": ctrls, "cgroup.subtree_control": "cpu", "cgroup.procs": ""})
	f.files(t, "cg/berth/c2", v2LeafFiles)
	m, err := New("", "c2")
	if err != nil {
		t.Fatal(err)
	}
	f.takeWrites()
	return f, m.(*v2Manager)
}

func TestNewUnifiedPaths(t *testing.T) {
	f, m := newFakeV2(t)
	want := map[string]string{"": f.path("cg/berth/c2")}
	if got := m.Paths(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Paths() = %v, want %v", got, want)
	}
	if m.Path("memory") != f.path("cg/berth/c2") {
		t.Errorf("Path(memory) = %q, want the one cgroup2 directory", m.Path("memory"))
	}
	loaded, err := Load(want)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := loaded.(*v2Manager); !ok {
		t.Errorf("Load(%v) = %T, want the v2 manager", want, loaded)
	}
	mp, err := MountPoints(loaded)
	if err != nil || !reflect.DeepEqual(mp, []CgroupMount{{Type: "cgroup2", HostDir: f.path("cg/berth/c2")}}) {
		t.Errorf("MountPoints = %+v, %v", mp, err)
	}
}

func TestV2ApplyEnablesControllers(t *testing.T) {
	f, m := newFakeV2(t)
	if err := m.Apply(77); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"cg/cgroup.subtree_control=+cpuset +cpu +io +memory +hugetlb +pids +rdma +misc",
		// "cpu" is already on in /berth.
		"cg/berth/cgroup.subtree_control=+cpuset +io +memory +hugetlb +pids +rdma +misc",
		"cg/berth/c2/cgroup.procs=77",
	}
	if got := f.takeWrites(); !reflect.DeepEqual(got, want) {
		t.Fatalf("writes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestV2SetWritesEachResource(t *testing.T) {
	f, m := newFakeV2(t)
	r := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: i64(64 << 20), Swap: i64(96 << 20), Reservation: i64(16 << 20),
			Kernel: i64(1 << 20), Swappiness: u64(30), DisableOOMKiller: boolp(true)},
		CPU:  &specs.LinuxCPU{Shares: u64(1024), Quota: i64(50000), Period: u64(100000), Burst: u64(500), Cpus: "0-1", Mems: "0", Idle: i64(1)},
		Pids: &specs.LinuxPids{Limit: i64(-1)},
		BlockIO: &specs.LinuxBlockIO{Weight: u16(500),
			ThrottleReadBpsDevice:   []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 1 << 20}},
			ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 0}},
		},
		HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 4 << 20}},
		Unified:        map[string]string{"memory.high": "50000000", "cpu.weight": "42"},
	}
	if err := m.Set(r); err != nil {
		t.Fatal(err)
	}
	p := "cg/berth/c2/"
	want := []string{
		p + "cpuset.cpus=0-1",
		p + "cpuset.mems=0",
		p + "memory.swap.max=33554432", // 96M memory+swap - 64M memory
		p + "memory.max=67108864",
		p + "memory.low=16777216",
		p + "cpu.weight=39", // 1 + (1024-2)*9999/262142
		p + "cpu.max=50000 100000",
		p + "cpu.max.burst=500",
		p + "cpu.idle=1",
		p + "pids.max=max",
		p + "io.weight=4950", // 1 + (500-10)*9999/990
		p + "io.max=8:0 rbps=1048576",
		p + "io.max=8:0 wiops=max",
		p + "hugetlb.2MB.max=4194304",
		p + "cpu.weight=42", // unified last, in key order, overrides
		p + "memory.high=50000000",
	}
	if got := f.takeWrites(); !reflect.DeepEqual(got, want) {
		t.Fatalf("writes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestSharesToWeight(t *testing.T) {
	for shares, want := range map[uint64]uint64{0: 0, 1: 1, 2: 1, 512: 20, 1024: 39, 2048: 79, 262144: 10000, 1 << 20: 10000} {
		if got := sharesToWeight(shares); got != want {
			t.Errorf("sharesToWeight(%d) = %d, want %d", shares, got, want)
		}
	}
}

func TestSwapV2(t *testing.T) {
	tests := []struct {
		limit, swap *int64
		want, err   string
	}{
		{i64(100), i64(300), "200", ""},
		{i64(100), i64(100), "0", ""},
		{i64(100), nil, "", ""},
		{i64(100), i64(0), "", ""},
		{i64(-1), nil, "max", ""},
		{i64(100), i64(-1), "max", ""},
		{nil, i64(-1), "max", ""},
		{nil, i64(300), "", "needs a memory limit"},
		{i64(-1), i64(300), "", "needs a memory limit"},
		{i64(300), i64(100), "", "is below the memory limit"},
	}
	for _, tt := range tests {
		got, err := swapV2(tt.limit, tt.swap)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("swapV2(%v, %v) error = %v, want %q", deref(tt.limit), deref(tt.swap), err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("swapV2(%v, %v) = %q, %v; want %q", deref(tt.limit), deref(tt.swap), got, err, tt.want)
		}
	}
}

func deref(p *int64) any {
	if p == nil {
		return "nil"
	}
	return *p
}

func TestV2SetErrors(t *testing.T) {
	tests := []struct {
		name  string
		setup func(*fakeTree)
		r     specs.LinuxResources
		want  string
	}{
		{"controller missing", nil,
			specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "1GB", Limit: 1 << 30}}},
			"set hugetlb.1GB.max=1073741824: no hugetlb controller in"},
		{"swap without accounting", func(f *fakeTree) { removeFile(t, f, "cg/berth/c2/memory.swap.max") },
			specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(100), Swap: i64(200)}},
			"set memory.swap.max=100: the kernel has no swap accounting"},
		{"realtime", nil,
			specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimeRuntime: i64(1000)}},
			"realtime scheduling is not supported on cgroup v2"},
		{"unified escapes", nil,
			specs.LinuxResources{Unified: map[string]string{"../x": "1"}},
			`set unified "../x": not a cgroup file name`},
		{"unified procs", nil,
			specs.LinuxResources{Unified: map[string]string{"cgroup.procs": "1"}},
			`set unified "cgroup.procs": the runtime manages this file`},
		{"net_cls", nil,
			specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: u32p(1)}},
			"net_cls and net_prio do not exist on cgroup v2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, m := newFakeV2(t)
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

func TestV2UnlimitedMemoryWithoutSwapAccounting(t *testing.T) {
	f, m := newFakeV2(t)
	removeFile(t, f, "cg/berth/c2/memory.swap.max")
	// Swap unset and no swap file: the implied unlimited swap is skipped.
	if err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(-1)}}); err != nil {
		t.Fatal(err)
	}
	if got, want := f.takeWrites(), []string{"cg/berth/c2/memory.max=max"}; !reflect.DeepEqual(got, want) {
		t.Errorf("writes = %q, want %q", got, want)
	}
}

func TestV2FreezerFake(t *testing.T) {
	f, m := newFakeV2(t)
	if s, err := m.State(); err != nil || s != Thawed {
		t.Fatalf("State() = %q, %v; want THAWED", s, err)
	}
	// The fake kernel reports frozen at once.
	f.files(t, "cg/berth/c2", map[string]string{"cgroup.events": "populated 1\nfrozen 1\n"})
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if got := f.read(t, "cg/berth/c2/cgroup.freeze"); got != "1" {
		t.Errorf("cgroup.freeze = %q after Freeze", got)
	}
	if s, err := m.State(); err != nil || s != Frozen {
		t.Errorf("State() = %q, %v; want FROZEN", s, err)
	}
}

func removeFile(t *testing.T, f *fakeTree, rel string) {
	t.Helper()
	if err := removePath(f.path(rel)); err != nil {
		t.Fatal(err)
	}
}
