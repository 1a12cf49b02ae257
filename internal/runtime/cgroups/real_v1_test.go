package cgroups

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// requireCgroup1 skips unless running as root on a machine with the v1
// memory, pids, cpu and freezer controllers.
func requireCgroup1(t *testing.T) *hierarchies {
	t.Helper()
	requireRoot(t)
	h := realHierarchies(t)
	for _, c := range []string{"memory", "pids", "cpu", "cpuacct", "freezer", "devices", "cpuset"} {
		if _, ok := h.v1[c]; !ok {
			t.Skipf("no cgroup v1 %s controller", c)
		}
	}
	return h
}

func TestRealCgroup1Lifecycle(t *testing.T) {
	h := requireCgroup1(t)
	parent := uniqueParent(t)
	m, err := New(parent+"/c1", "c1")
	if err != nil {
		t.Fatal(err)
	}
	child := startHelper(t, "sleep")
	if err := m.Apply(child.pid()); err != nil {
		t.Fatal(err)
	}
	cg, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", child.pid()))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{":memory:" + parent + "/c1\n", ":pids:" + parent + "/c1\n"} {
		if !strings.Contains(string(cg), want) {
			t.Errorf("/proc/%d/cgroup lacks %q:\n%s", child.pid(), want, cg)
		}
	}
	if h.unified != "" && !strings.Contains(string(cg), "0::"+parent+"/c1\n") {
		t.Errorf("hybrid mode: not joined in the cgroup2 tree:\n%s", cg)
	}

	child.proceed(t)
	child.waitOutput(t, "ready")

	mem := m.Path("memory")
	r := &specs.LinuxResources{
		Memory:  &specs.LinuxMemory{Limit: i64(64 << 20), Reservation: i64(32 << 20)},
		Pids:    &specs.LinuxPids{Limit: i64(20)},
		CPU:     &specs.LinuxCPU{Shares: u64(512), Quota: i64(20000), Period: u64(100000), Cpus: "0", Mems: "0"},
		Devices: dockerDevices,
	}
	if fileExists(mem, "memory.memsw.limit_in_bytes") {
		r.Memory.Swap = i64(64 << 20)
	}
	if err := m.Set(r); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ ctrl, file, want string }{
		{"memory", "memory.limit_in_bytes", "67108864"},
		{"memory", "memory.soft_limit_in_bytes", "33554432"},
		{"pids", "pids.max", "20"},
		{"cpu", "cpu.shares", "512"},
		{"cpu", "cpu.cfs_quota_us", "20000"},
		{"cpu", "cpu.cfs_period_us", "100000"},
		{"cpuset", "cpuset.cpus", "0"},
	} {
		if got := mustRead(t, m.Path(c.ctrl), c.file); got != c.want {
			t.Errorf("%s = %q, want %q", c.file, got, c.want)
		}
	}
	devs := mustRead(t, m.Path("devices"), "devices.list")
	if !strings.Contains(devs, "c 1:3 rwm") || strings.Contains(devs, "a *:* rwm") {
		t.Errorf("devices.list after Set:\n%s", devs)
	}

	checkRunning(t, m, child, 64<<20, 20, func() {
		if got := mustRead(t, m.Path("freezer"), "freezer.state"); got != "FROZEN" {
			t.Errorf("freezer.state = %q", got)
		}
		if s := procState(t, child.pid()); s != "D" {
			t.Errorf("frozen process state %q, want D", s)
		}
	})
	if err := waitFor(2*time.Second, func() (bool, error) { return procState(t, child.pid()) == "S", nil }); err != nil {
		t.Errorf("thawed process state %q, want S", procState(t, child.pid()))
	}
	if st, err := m.Stats(); err != nil || len(st.CPU.Usage.Percpu) == 0 {
		t.Errorf("v1 per-CPU usage missing: %+v, %v", st, err)
	}

	// `update` on the running container.
	if r.Memory.Swap != nil {
		// The kernel refuses memory above memory+swap; the error says where.
		err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(96 << 20), Swap: r.Memory.Swap}})
		if err == nil || err.Error() != "set memory.limit_in_bytes=100663296: invalid argument" {
			t.Errorf("update with memory above memory+swap = %v", err)
		}
	}
	update := &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(96 << 20)}, Pids: &specs.LinuxPids{Limit: i64(-1)}}
	if r.Memory.Swap != nil {
		update.Memory.Swap = i64(128 << 20)
	}
	if err := m.Set(update); err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, mem, "memory.limit_in_bytes"); got != "100663296" {
		t.Errorf("memory.limit_in_bytes after update = %q", got)
	}
	if got := mustRead(t, m.Path("pids"), "pids.max"); got != "max" {
		t.Errorf("pids.max after update = %q", got)
	}

	checkKillDestroy(t, m, child)
}

func TestRealCgroup1DestroyBusy(t *testing.T) {
	requireCgroup1(t)
	parent := uniqueParent(t)
	m, err := New(parent+"/busy", "busy")
	if err != nil {
		t.Fatal(err)
	}
	child := startHelper(t, "sleep")
	if err := m.Apply(child.pid()); err != nil {
		t.Fatal(err)
	}
	err = m.Destroy()
	if err == nil || !strings.Contains(err.Error(), "device or resource busy") {
		t.Fatalf("Destroy with a live process = %v, want EBUSY", err)
	}
	if s := procState(t, child.pid()); s == "Z" || s == "X" {
		t.Errorf("Destroy killed the process (state %s)", s)
	}
}

// TestRealCgroup1PidsLimit checks the kernel enforces pids.max: a shell in
// the cgroup cannot fork past the limit.
func TestRealCgroup1PidsLimit(t *testing.T) {
	requireCgroup1(t)
	testPidsLimit(t)
}

func testPidsLimit(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh")
	}
	parent := uniqueParent(t)
	m, err := New(parent+"/pids", "pids")
	if err != nil {
		t.Fatal(err)
	}
	sh := startCommand(t, exec.Command("/bin/sh", "-c", "read x; for i in 1 2 3 4 5 6; do sleep 30 >/dev/null 2>&1 & done; wait"))
	if err := m.Apply(sh.pid()); err != nil {
		t.Fatal(err)
	}
	if err := m.Set(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(4)}}); err != nil {
		t.Fatal(err)
	}
	sh.proceed(t)
	err = sh.wait(t, 10*time.Second)
	if err == nil {
		t.Errorf("shell forked 6 children under pids.max=4 and exited 0")
	}
	if out := strings.ToLower(sh.output()); !strings.Contains(out, "fork") {
		t.Errorf("shell output %q, want a fork failure", out)
	}
	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	// The shell exited; its three sleeps remain (shell + 3 = the limit).
	if st.Pids.Current != 3 || st.Pids.Limit != 4 {
		t.Errorf("pids stats = %+v, want current 3 limit 4", st.Pids)
	}
	if err := m.Kill(unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitNoProcs(t, m)
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	assertGone(t, m)
}

// TestRealCgroup1OOMKill checks the kernel enforces the memory limit: a child
// allocating past it is killed, and the kill is counted.
func TestRealCgroup1OOMKill(t *testing.T) {
	requireCgroup1(t)
	st := testOOMKill(t)
	if st.Memory.Usage.Max < 30<<20 || st.Memory.Usage.Limit != 32<<20 {
		t.Errorf("memory stats after an OOM kill: usage %+v, want max usage near the 32 MiB limit", st.Memory.Usage)
	}
}

func testOOMKill(t *testing.T) *Stats {
	parent := uniqueParent(t)
	m, err := New(parent+"/oom", "oom")
	if err != nil {
		t.Fatal(err)
	}
	child := startHelper(t, "alloc")
	if err := m.Apply(child.pid()); err != nil {
		t.Fatal(err)
	}
	if err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(32 << 20), Swap: i64(32 << 20)}}); err != nil {
		// No swap accounting: the memory limit alone.
		if err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(32 << 20)}}); err != nil {
			t.Fatal(err)
		}
	}
	child.proceed(t)
	wantSignal(t, child.wait(t, 60*time.Second), unix.SIGKILL)
	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Memory.EventCount.OOMKill < 1 {
		t.Errorf("oom_kill count = %d after the child was killed; memory stats %+v", st.Memory.EventCount.OOMKill, st.Memory.EventCount)
	}
	waitNoProcs(t, m)
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	assertGone(t, m)
	return st
}

// TestRealCgroup1Devices checks the devices controller: /dev/zero allowed,
// /dev/null and /dev/full denied.
func TestRealCgroup1Devices(t *testing.T) {
	requireCgroup1(t)
	testDevices(t)
}

func testDevices(t *testing.T) {
	parent := uniqueParent(t)
	m, err := New(parent+"/dev", "dev")
	if err != nil {
		t.Fatal(err)
	}
	child := startHelper(t, "open", "/dev/zero", "/dev/null", "/dev/full")
	if err := m.Apply(child.pid()); err != nil {
		t.Fatal(err)
	}
	rules := []specs.LinuxDeviceCgroup{rule(false, "a", -1, -1, "rwm"), rule(true, "c", 1, 5, "rwm"), rule(true, "c", 1, 3, "r")}
	if err := m.Set(&specs.LinuxResources{Devices: rules}); err != nil {
		t.Fatal(err)
	}
	child.proceed(t)
	if err := child.wait(t, 10*time.Second); err != nil {
		t.Fatalf("helper: %v: %s", err, child.output())
	}
	want := "/dev/zero ok\n/dev/null operation not permitted\n/dev/full operation not permitted\n"
	if got := child.output(); got != want {
		t.Errorf("opens in the cgroup:\n%s\nwant:\n%s", got, want)
	}
	waitNoProcs(t, m)
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
}

// rootDisk returns the major:minor of the whole disk holding "/", or skips.
func rootDisk(t *testing.T) (int64, int64) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat("/", &st); err != nil {
		t.Fatal(err)
	}
	sys := fmt.Sprintf("/sys/dev/block/%d:%d", unix.Major(st.Dev), unix.Minor(st.Dev))
	if _, err := os.Stat(sys); err != nil {
		t.Skipf("/ is not on a block device (%v)", err)
	}
	if _, err := os.Stat(sys + "/partition"); err == nil {
		sys += "/.."
	}
	b, err := os.ReadFile(sys + "/dev")
	if err != nil {
		t.Fatal(err)
	}
	var maj, min int64
	if _, err := fmt.Sscanf(strings.TrimSpace(string(b)), "%d:%d", &maj, &min); err != nil {
		t.Fatal(err)
	}
	return maj, min
}

// TestRealCgroup1Blkio sets throttling on the root disk and reads it back,
// and checks that a weight on a kernel without blkio weights is refused by
// file name.
func TestRealCgroup1Blkio(t *testing.T) {
	requireCgroup1(t)
	maj, min := rootDisk(t)
	parent := uniqueParent(t)
	m, err := New(parent+"/io", "io")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	dev := specs.LinuxBlockIODevice{Major: maj, Minor: min}
	err = m.Set(&specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
		ThrottleReadBpsDevice:   []specs.LinuxThrottleDevice{{LinuxBlockIODevice: dev, Rate: 1 << 20}},
		ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: dev, Rate: 100}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	d := m.Path("blkio")
	if got, want := mustRead(t, d, "blkio.throttle.read_bps_device"), fmt.Sprintf("%d:%d 1048576", maj, min); got != want {
		t.Errorf("blkio.throttle.read_bps_device = %q, want %q", got, want)
	}
	if got, want := mustRead(t, d, "blkio.throttle.write_iops_device"), fmt.Sprintf("%d:%d 100", maj, min); got != want {
		t.Errorf("blkio.throttle.write_iops_device = %q, want %q", got, want)
	}
	if !fileExists(d, "blkio.weight") && !fileExists(d, "blkio.bfq.weight") {
		err := m.Set(&specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: u16(500)}})
		if err == nil || err.Error() != "set blkio.weight=500: not supported by the kernel" {
			t.Errorf("blkio weight without kernel support: %v", err)
		}
		// A zero weight asks for nothing and is no error.
		if err := m.Set(&specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: u16(0)}}); err != nil {
			t.Errorf("zero blkio weight: %v", err)
		}
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	assertGone(t, m)
}
