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

// v2Manager is a cgroup in the unified (cgroup2) hierarchy.
type v2Manager struct {
	dir   string
	mount string // cgroup2 mount point; "" after Load, found when needed
}

func (m *v2Manager) Paths() map[string]string { return map[string]string{"": m.dir} }

// Path returns the cgroup's directory for every controller: v2 has one tree.
func (m *v2Manager) Path(string) string { return m.dir }

func (m *v2Manager) mountPoint() (string, error) {
	if m.mount != "" {
		return m.mount, nil
	}
	h, err := readHierarchies(mountinfoPath)
	if err != nil {
		return "", err
	}
	if h.unified == "" {
		return "", errors.New("cgroup2 is not mounted")
	}
	m.mount = h.unified
	return m.mount, nil
}

func (m *v2Manager) Apply(pid int) error {
	mnt, err := m.mountPoint()
	if err != nil {
		return fmt.Errorf("create cgroup %s: %w", m.dir, err)
	}
	if err := createV2Path(mnt, m.dir); err != nil {
		return err
	}
	if pid == -1 {
		return nil
	}
	return writeProcs(m.dir, pid)
}

// createV2Path creates dir under the cgroup2 mount mnt, enabling in each
// ancestor's cgroup.subtree_control every controller it has, so that dir
// gets them all.
func createV2Path(mnt, dir string) error {
	mnt, dir = path.Clean(mnt), path.Clean(dir)
	rel, ok := strings.CutPrefix(dir, strings.TrimSuffix(mnt, "/")+"/")
	if !path.IsAbs(mnt) || !ok || rel == "" {
		return fmt.Errorf("create cgroup %s: not below the cgroup2 mount %s", dir, mnt)
	}
	cur := mnt
	for _, elem := range strings.Split(rel, "/") {
		if err := enableControllers(cur); err != nil {
			return fmt.Errorf("create cgroup %s: %w", dir, err)
		}
		cur = path.Join(cur, elem)
		if err := os.Mkdir(cur, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("create cgroup: %w", err)
		}
	}
	return nil
}

// enableControllers writes "+ctrl" for each controller of dir's
// cgroup.controllers that its cgroup.subtree_control lacks. If the kernel
// refuses them together, each is tried alone and refusals are ignored: Set
// reports a missing controller by the file it cannot write.
func enableControllers(dir string) error {
	avail, err := readString(dir, "cgroup.controllers")
	if err != nil {
		return err
	}
	enabled, err := readString(dir, "cgroup.subtree_control")
	if err != nil {
		return err
	}
	on := map[string]bool{}
	for _, c := range strings.Fields(enabled) {
		on[c] = true
	}
	var want []string
	for _, c := range strings.Fields(avail) {
		if !on[c] {
			want = append(want, "+"+c)
		}
	}
	if len(want) == 0 {
		return nil
	}
	if err := writeFile(dir, "cgroup.subtree_control", strings.Join(want, " ")); err == nil {
		return nil
	}
	for _, c := range want {
		_ = writeFile(dir, "cgroup.subtree_control", c)
	}
	return nil
}

// write writes a cgroup file of the manager's directory, explaining a missing
// file by the controller that provides it.
func (m *v2Manager) write(file, value string) error {
	if !fileExists(m.dir, file) {
		ctrl, _, _ := strings.Cut(file, ".")
		return fmt.Errorf("set %s=%s: no %s controller in %s", file, value, ctrl, m.dir)
	}
	return writeFile(m.dir, file, value)
}

func (m *v2Manager) Set(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	steps := []func(*specs.LinuxResources) error{
		m.setCpuset, m.setMemory, m.setCPU, m.setPids, m.setIO, m.setHugetlb, m.setDevices,
	}
	for _, step := range steps {
		if err := step(r); err != nil {
			return err
		}
	}
	if r.Network != nil && (r.Network.ClassID != nil || len(r.Network.Priorities) > 0) {
		return errors.New("set network classID/priorities: net_cls and net_prio do not exist on cgroup v2")
	}
	return setUnified(m.dir, r.Unified)
}

func (m *v2Manager) setCpuset(r *specs.LinuxResources) error {
	if r.CPU == nil {
		return nil
	}
	if r.CPU.Cpus != "" {
		if err := m.write("cpuset.cpus", r.CPU.Cpus); err != nil {
			return err
		}
	}
	if r.CPU.Mems != "" {
		if err := m.write("cpuset.mems", r.CPU.Mems); err != nil {
			return err
		}
	}
	return nil
}

// swapV2 converts the runtime-spec swap limit (memory+swap, as on v1) into
// the value of memory.swap.max (swap alone); "" means leave it unset.
func swapV2(limitp, swapp *int64) (string, error) {
	var limit, swap int64
	if limitp != nil {
		limit = *limitp
	}
	if swapp != nil {
		swap = *swapp
	}
	switch {
	case swap == 0 && limit == -1:
		return "max", nil
	case swap == 0:
		return "", nil
	case swap == -1:
		return "max", nil
	case limit == 0 || limit == -1:
		return "", fmt.Errorf("set memory.swap.max: swap limit %d needs a memory limit", swap)
	case swap < limit:
		return "", fmt.Errorf("set memory.swap.max: swap limit %d (memory+swap) is below the memory limit %d", swap, limit)
	}
	return strconv.FormatInt(swap-limit, 10), nil
}

// memoryMax formats a memory limit for v2: -1 is "max".
func memoryMax(v int64) string {
	if v < 0 {
		return "max"
	}
	return strconv.FormatInt(v, 10)
}

func (m *v2Manager) setMemory(r *specs.LinuxResources) error {
	mem := r.Memory
	if mem == nil {
		return nil
	}
	if mem.Limit != nil || mem.Swap != nil {
		swap, err := swapV2(mem.Limit, mem.Swap)
		if err != nil {
			return err
		}
		if swap != "" {
			implicit := mem.Swap == nil || *mem.Swap == 0
			if fileExists(m.dir, "memory.swap.max") {
				if err := writeFile(m.dir, "memory.swap.max", swap); err != nil {
					return err
				}
			} else if !implicit {
				return fmt.Errorf("set memory.swap.max=%s: the kernel has no swap accounting", swap)
			}
		}
		if mem.Limit != nil && *mem.Limit != 0 {
			if err := m.write("memory.max", memoryMax(*mem.Limit)); err != nil {
				return err
			}
		}
	}
	if mem.Reservation != nil && *mem.Reservation != 0 {
		if err := m.write("memory.low", memoryMax(*mem.Reservation)); err != nil {
			return err
		}
	}
	// Kernel memory limits are deprecated and ignored. Swappiness and
	// disableOOMKiller have no cgroup v2 file and are ignored, as runc does.
	return nil
}

// sharesToWeight converts v1 cpu.shares (2..262144) to v2 cpu.weight
// (1..10000) with runc's linear formula; 0 means unset.
func sharesToWeight(shares uint64) uint64 {
	if shares == 0 {
		return 0
	}
	shares = min(max(shares, 2), 262144)
	return 1 + ((shares-2)*9999)/262142
}

func (m *v2Manager) setCPU(r *specs.LinuxResources) error {
	c := r.CPU
	if c == nil {
		return nil
	}
	if (c.RealtimeRuntime != nil && *c.RealtimeRuntime != 0) || (c.RealtimePeriod != nil && *c.RealtimePeriod != 0) {
		return errors.New("set cpu realtimeRuntime/realtimePeriod: realtime scheduling is not supported on cgroup v2")
	}
	if c.Shares != nil {
		if w := sharesToWeight(*c.Shares); w != 0 {
			if err := m.write("cpu.weight", strconv.FormatUint(w, 10)); err != nil {
				return err
			}
		}
	}
	var quota int64
	var period uint64
	if c.Quota != nil {
		quota = *c.Quota
	}
	if c.Period != nil {
		period = *c.Period
	}
	if quota != 0 || period != 0 {
		v := "max"
		if quota > 0 {
			v = strconv.FormatInt(quota, 10)
		}
		if period != 0 {
			v += " " + strconv.FormatUint(period, 10)
		}
		if err := m.write("cpu.max", v); err != nil {
			return err
		}
	}
	if c.Burst != nil {
		if err := m.write("cpu.max.burst", strconv.FormatUint(*c.Burst, 10)); err != nil {
			return err
		}
	}
	if c.Idle != nil {
		if err := m.write("cpu.idle", strconv.FormatInt(*c.Idle, 10)); err != nil {
			return err
		}
	}
	return nil
}

func (m *v2Manager) setPids(r *specs.LinuxResources) error {
	if r.Pids == nil || r.Pids.Limit == nil {
		return nil
	}
	return m.write("pids.max", pidsMax(*r.Pids.Limit))
}

// blkioWeightToIOWeight converts a v1 blkio weight (10..1000) to v2
// io.weight (1..10000) as runc does.
func blkioWeightToIOWeight(w uint16) uint64 {
	if w == 0 {
		return 0
	}
	return 1 + (uint64(max(w, 10))-10)*9999/990
}

func (m *v2Manager) setIO(r *specs.LinuxResources) error {
	b := r.BlockIO
	if b == nil {
		return nil
	}
	// BFQ's io.bfq.weight takes blkio weights as they are; io.weight needs
	// the conversion.
	weightFile, conv := "io.bfq.weight", func(w uint16) uint64 { return uint64(w) }
	if !fileExists(m.dir, weightFile) {
		weightFile, conv = "io.weight", blkioWeightToIOWeight
	}
	if b.Weight != nil && *b.Weight != 0 {
		if err := m.write(weightFile, strconv.FormatUint(conv(*b.Weight), 10)); err != nil {
			return err
		}
	}
	if b.LeafWeight != nil && *b.LeafWeight != 0 {
		return fmt.Errorf("set blkio leafWeight=%d: not supported on cgroup v2", *b.LeafWeight)
	}
	for _, wd := range b.WeightDevice {
		if wd.Weight == nil {
			continue
		}
		v := fmt.Sprintf("%d:%d %d", wd.Major, wd.Minor, conv(*wd.Weight))
		if err := m.write(weightFile, v); err != nil {
			return err
		}
	}
	for _, t := range []struct {
		key  string
		devs []specs.LinuxThrottleDevice
	}{
		{"rbps", b.ThrottleReadBpsDevice},
		{"wbps", b.ThrottleWriteBpsDevice},
		{"riops", b.ThrottleReadIOPSDevice},
		{"wiops", b.ThrottleWriteIOPSDevice},
	} {
		for _, d := range t.devs {
			rate := "max"
			if d.Rate != 0 {
				rate = strconv.FormatUint(d.Rate, 10)
			}
			if err := m.write("io.max", fmt.Sprintf("%d:%d %s=%s", d.Major, d.Minor, t.key, rate)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *v2Manager) setHugetlb(r *specs.LinuxResources) error {
	for _, l := range r.HugepageLimits {
		file := "hugetlb." + l.Pagesize + ".max"
		if err := validPageSize(l.Pagesize); err != nil {
			return fmt.Errorf("set %s: %w", file, err)
		}
		if err := m.write(file, strconv.FormatUint(l.Limit, 10)); err != nil {
			return err
		}
	}
	return nil
}

func (m *v2Manager) setDevices(r *specs.LinuxResources) error {
	if len(r.Devices) == 0 {
		return nil
	}
	rules, err := parseDeviceRules(r.Devices)
	if err != nil {
		return fmt.Errorf("set devices: %w", err)
	}
	return setDeviceFilter(m.dir, rules)
}

// setUnified writes linux.resources.unified: each key is a file of the
// cgroup2 directory dir, written in key order after all other resources.
func setUnified(dir string, unified map[string]string) error {
	keys := make([]string, 0, len(unified))
	for k := range unified {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := unified[k]
		if k == "" || strings.ContainsAny(k, "/\x00") || k == "." || k == ".." {
			return fmt.Errorf("set unified %q: not a cgroup file name", k)
		}
		if k == "cgroup.procs" || k == "cgroup.threads" || k == "cgroup.subtree_control" {
			return fmt.Errorf("set unified %q: the runtime manages this file", k)
		}
		if !fileExists(dir, k) {
			return fmt.Errorf("set %s=%s: no such cgroup file in %s", k, v, dir)
		}
		if err := writeFile(dir, k, v); err != nil {
			return err
		}
	}
	return nil
}

func (m *v2Manager) Freeze() error { return m.setFrozen(true) }
func (m *v2Manager) Thaw() error   { return m.setFrozen(false) }

func (m *v2Manager) setFrozen(frozen bool) error {
	v, verb := "0", "thaw"
	if frozen {
		v, verb = "1", "freeze"
	}
	if err := m.write("cgroup.freeze", v); err != nil {
		return fmt.Errorf("%s: %w", verb, err)
	}
	err := waitFor(5*time.Second, func() (bool, error) {
		ev, err := readKeyValues(m.dir, "cgroup.events")
		if err != nil {
			return false, err
		}
		return (ev["frozen"] == 1) == frozen, nil
	})
	if err != nil {
		if frozen {
			_ = writeFile(m.dir, "cgroup.freeze", "0")
		}
		return fmt.Errorf("%s %s: %w", verb, m.dir, err)
	}
	return nil
}

func (m *v2Manager) State() (FreezerState, error) {
	s, err := readString(m.dir, "cgroup.freeze")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return Undefined, nil
		}
		return Undefined, fmt.Errorf("freezer state of %s: %w", m.dir, err)
	}
	if s == "0" {
		return Thawed, nil
	}
	// Asked to freeze: frozen once cgroup.events says so.
	ev, err := readKeyValues(m.dir, "cgroup.events")
	if err != nil {
		return Undefined, fmt.Errorf("freezer state of %s: %w", m.dir, err)
	}
	if ev["frozen"] == 1 {
		return Frozen, nil
	}
	return Thawed, nil
}

func (m *v2Manager) Procs() ([]int, error) { return procsOf(m.dir) }

func (m *v2Manager) Kill(sig unix.Signal) error {
	if sig == unix.SIGKILL && fileExists(m.dir, "cgroup.kill") {
		if err := writeFile(m.dir, "cgroup.kill", "1"); err != nil {
			return fmt.Errorf("kill cgroup %s: %w", m.dir, err)
		}
		return nil
	}
	return killAll(m, fileExists(m.dir, "cgroup.freeze"), sig)
}

func (m *v2Manager) Destroy() error { return rmdirAll(m.dir) }
