package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// v1Manager is a cgroup in the v1 hierarchies (legacy and hybrid layouts).
type v1Manager struct {
	paths map[string]string // controller (or "name=x") -> dir; "" -> cgroup2 dir in hybrid mode
	h     *hierarchies      // set by New; nil after Load
}

func (m *v1Manager) Paths() map[string]string {
	cp := make(map[string]string, len(m.paths))
	for k, v := range m.paths {
		cp[k] = v
	}
	return cp
}

func (m *v1Manager) Path(controller string) string { return m.paths[controller] }

// controllers returns the keys of paths in a stable order.
func (m *v1Manager) controllers() []string {
	keys := make([]string, 0, len(m.paths))
	for k := range m.paths {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// dirs returns every distinct directory, in a stable order.
func (m *v1Manager) dirs() []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range m.controllers() {
		if d := m.paths[c]; !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}

// dir returns the directory of controller, or an error naming file when the
// controller is not mounted.
func (m *v1Manager) dir(controller, file string) (string, error) {
	d := m.paths[controller]
	if d == "" {
		return "", fmt.Errorf("set %s: no %s cgroup controller mounted", file, controller)
	}
	return d, nil
}

func (m *v1Manager) Apply(pid int) error {
	for _, c := range m.controllers() {
		var err error
		if c == "cpuset" {
			err = ensureCpuset(m.paths[c])
		} else {
			err = mkdirCgroup(m.paths[c])
		}
		if err != nil {
			return err
		}
	}
	if pid == -1 {
		return nil
	}
	for _, d := range m.dirs() {
		if err := writeProcs(d, pid); err != nil {
			return err
		}
	}
	return nil
}

// ensureCpuset creates a cpuset cgroup and any missing parent, copying the
// parent's cpuset.cpus and cpuset.mems into each new directory: a v1 cpuset
// cgroup with empty cpus or mems refuses tasks.
func ensureCpuset(dir string) error {
	cpus, err := readString(dir, "cpuset.cpus")
	switch {
	case err == nil && cpus != "":
		return nil
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("create cgroup %s: %w", dir, err)
	case err != nil:
		if _, serr := os.Stat(dir); serr == nil {
			return fmt.Errorf("create cgroup %s: not a cpuset cgroup", dir)
		}
	}
	parent := path.Dir(dir)
	if parent == dir {
		return fmt.Errorf("create cgroup %s: no cpuset hierarchy", dir)
	}
	if err := ensureCpuset(parent); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("create cgroup: %w", err)
	}
	for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
		cur, err := readString(dir, f)
		if err != nil {
			return fmt.Errorf("create cgroup %s: %w", dir, err)
		}
		if cur != "" {
			continue
		}
		val, err := readString(parent, f)
		if err != nil {
			return fmt.Errorf("create cgroup %s: %w", dir, err)
		}
		if err := writeFile(dir, f, val); err != nil {
			return fmt.Errorf("create cgroup %s: %w", dir, err)
		}
	}
	return nil
}

func (m *v1Manager) Set(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	if r.CPU != nil {
		if err := m.setCpuset(r.CPU); err != nil {
			return err
		}
	}
	if err := m.setDevices(r.Devices); err != nil {
		return err
	}
	if err := m.setMemory(r.Memory); err != nil {
		return err
	}
	if err := m.setCPU(r.CPU); err != nil {
		return err
	}
	if err := m.setPids(r.Pids); err != nil {
		return err
	}
	if err := m.setBlkio(r.BlockIO); err != nil {
		return err
	}
	if err := m.setHugetlb(r.HugepageLimits); err != nil {
		return err
	}
	if err := m.setNetwork(r.Network); err != nil {
		return err
	}
	if len(r.Unified) > 0 {
		d := m.paths[""]
		if d == "" {
			return errors.New("set unified resources: cgroup v2 is not mounted")
		}
		if err := setUnified(d, r.Unified); err != nil {
			return err
		}
	}
	return nil
}

func (m *v1Manager) setCpuset(c *specs.LinuxCPU) error {
	for _, kv := range [][2]string{{"cpuset.cpus", c.Cpus}, {"cpuset.mems", c.Mems}} {
		if kv[1] == "" {
			continue
		}
		d, err := m.dir("cpuset", kv[0])
		if err != nil {
			return err
		}
		if err := writeFile(d, kv[0], kv[1]); err != nil {
			return err
		}
	}
	return nil
}

// setDevices writes "a" to devices.deny, then each rule to devices.allow
// or devices.deny, one write per rule as the controller reads them, on one
// descriptor per file: a container's dozen default rules took an open and
// a close each (a quarter of a millisecond under PVM, before the init can
// make its device nodes).
func (m *v1Manager) setDevices(rules []specs.LinuxDeviceCgroup) error {
	if len(rules) == 0 {
		return nil
	}
	d, err := m.dir("devices", "devices.deny")
	if err != nil {
		return err
	}
	w := &fileWriter{dir: d}
	defer w.close()
	if err := w.write("devices.deny", "a"); err != nil {
		return err
	}
	for i, rule := range rules {
		line, err := deviceRuleString(rule)
		if err != nil {
			return fmt.Errorf("devices[%d]: %w", i, err)
		}
		file := "devices.deny"
		if rule.Allow {
			file = "devices.allow"
		}
		if err := w.write(file, line); err != nil {
			return err
		}
	}
	return nil
}

// deviceRuleString formats a rule as the v1 devices controller reads it,
// "c 1:3 rwm", after validating it.
func deviceRuleString(r specs.LinuxDeviceCgroup) (string, error) {
	dr, err := parseDeviceRule(r)
	if err != nil {
		return "", err
	}
	num := func(p *int64) string {
		if p == nil || *p < 0 {
			return "*"
		}
		return strconv.FormatInt(*p, 10)
	}
	return fmt.Sprintf("%c %s:%s %s", dr.typ, num(r.Major), num(r.Minor), dr.accessString()), nil
}

func (m *v1Manager) setMemory(mem *specs.LinuxMemory) error {
	if mem == nil {
		return nil
	}
	if mem.Limit != nil || mem.Swap != nil {
		d, err := m.dir("memory", "memory.limit_in_bytes")
		if err != nil {
			return err
		}
		if err := setMemoryAndSwapV1(d, mem.Limit, mem.Swap); err != nil {
			return err
		}
	}
	if mem.Reservation != nil {
		d, err := m.dir("memory", "memory.soft_limit_in_bytes")
		if err != nil {
			return err
		}
		if err := writeFile(d, "memory.soft_limit_in_bytes", strconv.FormatInt(*mem.Reservation, 10)); err != nil {
			return err
		}
	}
	// mem.Kernel and mem.KernelTCP are deprecated and ignored, as runc does.
	if mem.Swappiness != nil {
		if *mem.Swappiness > 100 {
			return fmt.Errorf("set memory.swappiness=%d: must be between 0 and 100", *mem.Swappiness)
		}
		d, err := m.dir("memory", "memory.swappiness")
		if err != nil {
			return err
		}
		if err := writeFile(d, "memory.swappiness", strconv.FormatUint(*mem.Swappiness, 10)); err != nil {
			return err
		}
	}
	if mem.DisableOOMKiller != nil {
		d, err := m.dir("memory", "memory.oom_control")
		if err != nil {
			return err
		}
		v := "0"
		if *mem.DisableOOMKiller {
			v = "1"
		}
		if err := writeFile(d, "memory.oom_control", v); err != nil {
			return err
		}
	}
	return nil
}

// setMemoryAndSwapV1 writes memory.limit_in_bytes and
// memory.memsw.limit_in_bytes (memory+swap) in the order the kernel accepts:
// memsw may never be below the memory limit, so when the limits grow memsw is
// written first.
func setMemoryAndSwapV1(d string, limitp, swapp *int64) error {
	const memFile, swFile = "memory.limit_in_bytes", "memory.memsw.limit_in_bytes"
	var limit, swap int64
	if limitp != nil {
		limit = *limitp
	}
	if swapp != nil {
		swap = *swapp
	}
	// An unlimited memory with swap unset makes swap unlimited too.
	if limit == -1 && swap == 0 && fileExists(d, swFile) {
		swap = -1
	}
	writeMem := func() error {
		if limit == 0 {
			return nil
		}
		return writeFile(d, memFile, strconv.FormatInt(limit, 10))
	}
	if swap == 0 {
		return writeMem()
	}
	writeSwap := func() error { return writeFile(d, swFile, strconv.FormatInt(swap, 10)) }
	if !fileExists(d, swFile) {
		return fmt.Errorf("set %s=%d: the kernel has no swap accounting", swFile, swap)
	}
	cur, err := readUint(d, memFile)
	if err != nil {
		return err
	}
	if swap == -1 || limit == -1 || (limit > 0 && uint64(limit) > cur) {
		if err := writeSwap(); err != nil {
			return err
		}
		return writeMem()
	}
	if err := writeMem(); err != nil {
		return err
	}
	return writeSwap()
}

func (m *v1Manager) setCPU(c *specs.LinuxCPU) error {
	if c == nil {
		return nil
	}
	need := c.Shares != nil || c.Quota != nil || c.Period != nil || c.Burst != nil || c.Idle != nil ||
		(c.RealtimePeriod != nil && *c.RealtimePeriod != 0) || (c.RealtimeRuntime != nil && *c.RealtimeRuntime != 0)
	if !need {
		return nil
	}
	d, err := m.dir("cpu", "cpu.shares")
	if err != nil {
		return err
	}
	if c.Shares != nil && *c.Shares != 0 {
		if err := writeFile(d, "cpu.shares", strconv.FormatUint(*c.Shares, 10)); err != nil {
			return err
		}
		got, err := readUint(d, "cpu.shares")
		if err != nil {
			return err
		}
		if got != *c.Shares {
			return fmt.Errorf("set cpu.shares=%d: the kernel set %d instead (range 2..262144)", *c.Shares, got)
		}
	}
	if c.Period != nil && *c.Period != 0 {
		err := writeFile(d, "cpu.cfs_period_us", strconv.FormatUint(*c.Period, 10))
		// A new period can be refused until a quota fitting it is in place.
		if err != nil && errors.Is(err, unix.EINVAL) && c.Quota != nil {
			if qerr := writeFile(d, "cpu.cfs_quota_us", strconv.FormatInt(*c.Quota, 10)); qerr != nil {
				return qerr
			}
			err = writeFile(d, "cpu.cfs_period_us", strconv.FormatUint(*c.Period, 10))
		}
		if err != nil {
			return err
		}
	}
	if c.Quota != nil && *c.Quota != 0 {
		if err := writeFile(d, "cpu.cfs_quota_us", strconv.FormatInt(*c.Quota, 10)); err != nil {
			return err
		}
	}
	if c.Burst != nil {
		if err := writeFile(d, "cpu.cfs_burst_us", strconv.FormatUint(*c.Burst, 10)); err != nil {
			return err
		}
	}
	if c.RealtimePeriod != nil && *c.RealtimePeriod != 0 {
		if err := writeFile(d, "cpu.rt_period_us", strconv.FormatUint(*c.RealtimePeriod, 10)); err != nil {
			return err
		}
	}
	if c.RealtimeRuntime != nil && *c.RealtimeRuntime != 0 {
		if err := writeFile(d, "cpu.rt_runtime_us", strconv.FormatInt(*c.RealtimeRuntime, 10)); err != nil {
			return err
		}
	}
	if c.Idle != nil {
		if err := writeFile(d, "cpu.idle", strconv.FormatInt(*c.Idle, 10)); err != nil {
			return err
		}
	}
	return nil
}

// pidsMax formats a runtime-spec pids limit; 0 and negative mean unlimited.
func pidsMax(limit int64) string {
	if limit <= 0 {
		return "max"
	}
	return strconv.FormatInt(limit, 10)
}

func (m *v1Manager) setPids(p *specs.LinuxPids) error {
	if p == nil || p.Limit == nil {
		return nil
	}
	d, err := m.dir("pids", "pids.max")
	if err != nil {
		return err
	}
	return writeFile(d, "pids.max", pidsMax(*p.Limit))
}

func (m *v1Manager) setBlkio(b *specs.LinuxBlockIO) error {
	if b == nil {
		return nil
	}
	need := b.Weight != nil || b.LeafWeight != nil || len(b.WeightDevice) > 0 || len(b.ThrottleReadBpsDevice) > 0 ||
		len(b.ThrottleWriteBpsDevice) > 0 || len(b.ThrottleReadIOPSDevice) > 0 || len(b.ThrottleWriteIOPSDevice) > 0
	if !need {
		return nil
	}
	d, err := m.dir("blkio", "blkio.weight")
	if err != nil {
		return err
	}
	// CFQ's blkio.weight, or BFQ's blkio.bfq.weight on newer kernels.
	weightFile, weightDevFile := "blkio.weight", "blkio.weight_device"
	if !fileExists(d, weightFile) && fileExists(d, "blkio.bfq.weight") {
		weightFile, weightDevFile = "blkio.bfq.weight", "blkio.bfq.weight_device"
	}
	writeIfAsked := func(file, value string, asked bool) error {
		if !asked {
			return nil
		}
		if !fileExists(d, file) {
			return fmt.Errorf("set %s=%s: not supported by the kernel", file, value)
		}
		return writeFile(d, file, value)
	}
	if b.Weight != nil {
		if err := writeIfAsked(weightFile, strconv.Itoa(int(*b.Weight)), *b.Weight != 0); err != nil {
			return err
		}
	}
	if b.LeafWeight != nil {
		if err := writeIfAsked("blkio.leaf_weight", strconv.Itoa(int(*b.LeafWeight)), *b.LeafWeight != 0); err != nil {
			return err
		}
	}
	for _, wd := range b.WeightDevice {
		if wd.Weight != nil {
			v := fmt.Sprintf("%d:%d %d", wd.Major, wd.Minor, *wd.Weight)
			if err := writeIfAsked(weightDevFile, v, true); err != nil {
				return err
			}
		}
		if wd.LeafWeight != nil {
			v := fmt.Sprintf("%d:%d %d", wd.Major, wd.Minor, *wd.LeafWeight)
			if err := writeIfAsked("blkio.leaf_weight_device", v, true); err != nil {
				return err
			}
		}
	}
	for _, t := range []struct {
		file string
		devs []specs.LinuxThrottleDevice
	}{
		{"blkio.throttle.read_bps_device", b.ThrottleReadBpsDevice},
		{"blkio.throttle.write_bps_device", b.ThrottleWriteBpsDevice},
		{"blkio.throttle.read_iops_device", b.ThrottleReadIOPSDevice},
		{"blkio.throttle.write_iops_device", b.ThrottleWriteIOPSDevice},
	} {
		for _, dev := range t.devs {
			v := fmt.Sprintf("%d:%d %d", dev.Major, dev.Minor, dev.Rate)
			if err := writeIfAsked(t.file, v, true); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *v1Manager) setHugetlb(limits []specs.LinuxHugepageLimit) error {
	for _, l := range limits {
		file := "hugetlb." + l.Pagesize + ".limit_in_bytes"
		if err := validPageSize(l.Pagesize); err != nil {
			return fmt.Errorf("set %s: %w", file, err)
		}
		d, err := m.dir("hugetlb", file)
		if err != nil {
			return err
		}
		if err := writeFile(d, file, strconv.FormatUint(l.Limit, 10)); err != nil {
			return err
		}
	}
	return nil
}

// validPageSize accepts hugetlb page sizes as the kernel names them ("2MB").
func validPageSize(s string) error {
	n := strings.TrimRight(s, "KMGB")
	if n == "" || n == s || strings.ContainsAny(n, "/.") {
		return fmt.Errorf("invalid page size %q", s)
	}
	if _, err := strconv.ParseUint(n, 10, 32); err != nil {
		return fmt.Errorf("invalid page size %q", s)
	}
	return nil
}

func (m *v1Manager) setNetwork(n *specs.LinuxNetwork) error {
	if n == nil {
		return nil
	}
	if n.ClassID != nil {
		d, err := m.dir("net_cls", "net_cls.classid")
		if err != nil {
			return err
		}
		if err := writeFile(d, "net_cls.classid", strconv.FormatUint(uint64(*n.ClassID), 10)); err != nil {
			return err
		}
	}
	for _, p := range n.Priorities {
		d, err := m.dir("net_prio", "net_prio.ifpriomap")
		if err != nil {
			return err
		}
		if err := writeFile(d, "net_prio.ifpriomap", fmt.Sprintf("%s %d", p.Name, p.Priority)); err != nil {
			return err
		}
	}
	return nil
}

func (m *v1Manager) Freeze() error {
	d, err := m.dir("freezer", "freezer.state")
	if err != nil {
		return err
	}
	if err := writeFile(d, "freezer.state", string(Frozen)); err != nil {
		return fmt.Errorf("freeze: %w", err)
	}
	polls := 0
	err = waitFor(5*time.Second, func() (bool, error) {
		s, err := readString(d, "freezer.state")
		if err != nil {
			return false, err
		}
		if s == string(Frozen) {
			return true, nil
		}
		// A task entering the cgroup while it freezes can leave it FREEZING
		// forever; asking again completes the freeze.
		polls++
		if polls%4 == 0 {
			if err := writeFile(d, "freezer.state", string(Frozen)); err != nil {
				return false, err
			}
		}
		return false, nil
	})
	if err != nil {
		_ = writeFile(d, "freezer.state", string(Thawed))
		return fmt.Errorf("freeze %s: %w", d, err)
	}
	return nil
}

func (m *v1Manager) Thaw() error {
	d, err := m.dir("freezer", "freezer.state")
	if err != nil {
		return err
	}
	if err := writeFile(d, "freezer.state", string(Thawed)); err != nil {
		return fmt.Errorf("thaw: %w", err)
	}
	return nil
}

func (m *v1Manager) State() (FreezerState, error) {
	d := m.paths["freezer"]
	if d == "" {
		return Undefined, nil
	}
	var state string
	err := waitFor(time.Second, func() (bool, error) {
		s, err := readString(d, "freezer.state")
		if err != nil {
			return false, err
		}
		state = s
		return s != "FREEZING", nil
	})
	if err != nil {
		return Undefined, fmt.Errorf("freezer state of %s: %w", d, err)
	}
	switch state {
	case string(Frozen):
		return Frozen, nil
	case string(Thawed):
		return Thawed, nil
	}
	return Undefined, fmt.Errorf("freezer state of %s: unknown state %q", d, state)
}

// procsDir is where the cgroup's process list is read: any joined hierarchy
// lists the same processes; pids, freezer or memory are preferred.
func (m *v1Manager) procsDir() string {
	for _, c := range []string{"pids", "freezer", "memory", "devices", "cpu"} {
		if d := m.paths[c]; d != "" {
			return d
		}
	}
	for _, c := range m.controllers() {
		return m.paths[c]
	}
	return ""
}

func (m *v1Manager) Procs() ([]int, error) {
	d := m.procsDir()
	if d == "" {
		return nil, errors.New("read cgroup procs: no hierarchy")
	}
	return procsOf(d)
}

func (m *v1Manager) Kill(sig unix.Signal) error {
	return killAll(m, m.paths["freezer"] != "", sig)
}

// killAll signals every process of the cgroup while it is frozen (when it has
// a freezer), so none can fork a new one past the signal.
func killAll(m Manager, canFreeze bool, sig unix.Signal) error {
	frozen := canFreeze && m.Freeze() == nil
	pids, err := m.Procs()
	if err == nil {
		for _, pid := range pids {
			if kerr := unix.Kill(pid, sig); kerr != nil && kerr != unix.ESRCH {
				err = fmt.Errorf("kill %d: %w", pid, kerr)
				break
			}
		}
	}
	if frozen {
		if terr := m.Thaw(); terr != nil && err == nil {
			err = terr
		}
	}
	return err
}

func (m *v1Manager) Destroy() error {
	var errs []error
	for _, d := range m.dirs() {
		if err := rmdirAll(d); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
