package cgroups

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// requireCgroup2 skips unless running as root on a unified cgroup2 machine
// whose root offers the memory, pids, cpu and cpuset controllers (the qemu VM
// of hack/cgroup2-vm.sh).
func requireCgroup2(t *testing.T) {
	t.Helper()
	requireRoot(t)
	if !IsCgroup2UnifiedMode() {
		t.Skip("/sys/fs/cgroup is not cgroup2")
	}
	b, err := os.ReadFile("/sys/fs/cgroup/cgroup.controllers")
	if err != nil {
		t.Skipf("no cgroup.controllers: %v", err)
	}
	have := map[string]bool{}
	for _, c := range strings.Fields(string(b)) {
		have[c] = true
	}
	for _, c := range []string{"memory", "pids", "cpu", "cpuset"} {
		if !have[c] {
			t.Skipf("cgroup2 controller %s not available", c)
		}
	}
}

func TestRealCgroup2Lifecycle(t *testing.T) {
	requireCgroup2(t)
	parent := uniqueParent(t)
	m, err := New(parent+"/c1", "c1")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.(*v2Manager); !ok {
		t.Fatalf("New on a unified machine = %T, want the v2 manager", m)
	}
	child := startHelper(t, "sleep")
	if err := m.Apply(child.pid()); err != nil {
		t.Fatal(err)
	}
	cg, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", child.pid()))
	if err != nil {
		t.Fatal(err)
	}
	if string(cg) != "0::"+parent+"/c1\n" {
		t.Errorf("/proc/%d/cgroup = %q, want 0::%s/c1", child.pid(), cg, parent)
	}
	child.proceed(t)
	child.waitOutput(t, "ready")

	dir := m.Path("")
	r := &specs.LinuxResources{
		Memory:  &specs.LinuxMemory{Limit: i64(64 << 20), Reservation: i64(16 << 20)},
		Pids:    &specs.LinuxPids{Limit: i64(20)},
		CPU:     &specs.LinuxCPU{Shares: u64(1024), Quota: i64(20000), Period: u64(100000), Cpus: "0", Mems: "0"},
		Devices: dockerDevices,
	}
	swap := fileExists(dir, "memory.swap.max")
	if swap {
		r.Memory.Swap = i64(96 << 20)
	}
	if err := m.Set(r); err != nil {
		t.Fatal(err)
	}
	checks := []struct{ file, want string }{
		{"memory.max", "67108864"},
		{"memory.low", "16777216"},
		{"pids.max", "20"},
		{"cpu.weight", "39"},
		{"cpu.max", "20000 100000"},
		{"cpuset.cpus", "0"},
	}
	if swap {
		checks = append(checks, struct{ file, want string }{"memory.swap.max", "33554432"})
	}
	for _, c := range checks {
		if got := mustRead(t, dir, c.file); got != c.want {
			t.Errorf("%s = %q, want %q", c.file, got, c.want)
		}
	}
	fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := attachedDevicePrograms(fd)
	unix.Close(fd)
	if err != nil || len(ids) != 1 {
		t.Errorf("device programs attached = %v, %v; want one", ids, err)
	}

	checkRunning(t, m, child, 64<<20, 20, func() {
		if ev := mustRead(t, dir, "cgroup.events"); !strings.Contains(ev, "frozen 1") {
			t.Errorf("cgroup.events after Freeze:\n%s", ev)
		}
	})

	// `update`: raise memory, drop the pids limit, and replace the device filter.
	update := &specs.LinuxResources{
		Memory:  &specs.LinuxMemory{Limit: i64(96 << 20)},
		Pids:    &specs.LinuxPids{Limit: i64(0)},
		Devices: []specs.LinuxDeviceCgroup{rule(true, "a", -1, -1, "rwm")},
	}
	if err := m.Set(update); err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, dir, "memory.max"); got != "100663296" {
		t.Errorf("memory.max after update = %q", got)
	}
	if got := mustRead(t, dir, "pids.max"); got != "max" {
		t.Errorf("pids.max after update = %q", got)
	}
	if fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY, 0); err == nil {
		ids, err := attachedDevicePrograms(fd)
		unix.Close(fd)
		if err != nil || len(ids) != 1 {
			t.Errorf("device programs after update = %v, %v; want the old one replaced", ids, err)
		}
	}

	checkKillDestroy(t, m, child)
}

func TestRealCgroup2PidsLimit(t *testing.T) {
	requireCgroup2(t)
	testPidsLimit(t)
}

func TestRealCgroup2OOMKill(t *testing.T) {
	requireCgroup2(t)
	st := testOOMKill(t)
	if st.Memory.EventCount.Max == 0 || st.Memory.EventCount.OOM == 0 {
		t.Errorf("memory.events after an OOM kill = %+v, want max and oom counted", st.Memory.EventCount)
	}
}

func TestRealCgroup2Devices(t *testing.T) {
	requireCgroup2(t)
	testDevices(t)
}

func TestRealCgroup2Signal(t *testing.T) {
	requireCgroup2(t)
	parent := uniqueParent(t)
	m, err := New(parent+"/sig", "sig")
	if err != nil {
		t.Fatal(err)
	}
	child := startHelper(t, "sleep")
	if err := m.Apply(child.pid()); err != nil {
		t.Fatal(err)
	}
	// Not SIGKILL: the freeze, signal, thaw path.
	if err := m.Kill(unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	wantSignal(t, child.wait(t, 5*time.Second), unix.SIGTERM)
	waitNoProcs(t, m)
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
}

// TestRealDeviceFilterBPF attaches the compiled device program to a cgroup2
// directory and checks the kernel's decisions. It runs wherever cgroup2 is
// mounted, including the hybrid layout's unified tree, since cgroup BPF works
// there too.
func TestRealDeviceFilterBPF(t *testing.T) {
	requireRoot(t)
	h := realHierarchies(t)
	if h.unified == "" {
		t.Skip("cgroup2 not mounted")
	}
	parent := uniqueParent(t)
	dir := filepath.Join(h.unified, parent, "bpf")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	run := func(rules []specs.LinuxDeviceCgroup, want string) {
		t.Helper()
		parsed, err := parseDeviceRules(rules)
		if err != nil {
			t.Fatal(err)
		}
		if err := setDeviceFilter(dir, parsed); err != nil {
			t.Fatal(err)
		}
		child := startHelper(t, "open", "/dev/zero", "/dev/null", "/dev/full")
		if err := writeProcs(dir, child.pid()); err != nil {
			t.Fatal(err)
		}
		child.proceed(t)
		if err := child.wait(t, 10*time.Second); err != nil {
			t.Fatalf("helper: %v: %s", err, child.output())
		}
		if got := child.output(); got != want {
			t.Errorf("opens under %d rules:\n%s\nwant:\n%s", len(rules), got, want)
		}
		fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		if ids, err := attachedDevicePrograms(fd); err != nil || len(ids) != 1 {
			t.Errorf("attached device programs = %v, %v; want exactly one", ids, err)
		}
	}
	run([]specs.LinuxDeviceCgroup{rule(false, "a", -1, -1, "rwm"), rule(true, "c", 1, 5, "rwm"), rule(true, "c", 1, 3, "r")},
		"/dev/zero ok\n/dev/null operation not permitted\n/dev/full operation not permitted\n")
	// An update replaces the program.
	run([]specs.LinuxDeviceCgroup{rule(true, "a", -1, -1, "rwm"), rule(false, "c", 1, 5, "w")},
		"/dev/zero operation not permitted\n/dev/null ok\n/dev/full ok\n")
}
