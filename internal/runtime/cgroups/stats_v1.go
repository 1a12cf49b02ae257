package cgroups

import (
	"fmt"
)

// clockTicks is USER_HZ, the unit of cpuacct.stat (100 on every Linux ABI).
const clockTicks = 100

func (m *v1Manager) Stats() (*Stats, error) {
	s := &Stats{Hugetlb: map[string]Hugetlb{}}
	steps := []struct {
		ctrl string
		read func(string, *Stats) error
	}{
		{"cpuacct", cpuacctStatsV1},
		{"cpu", cpuStatsV1},
		{"memory", memoryStatsV1},
		{"pids", pidsStats},
		{"blkio", blkioStatsV1},
		{"hugetlb", hugetlbStatsV1},
	}
	// In hybrid mode hugetlb may live in the cgroup2 tree (as on Berth's
	// development machines); its files exist only where the controller is on.
	if m.paths["hugetlb"] == "" && m.paths[""] != "" {
		steps = append(steps, struct {
			ctrl string
			read func(string, *Stats) error
		}{"", hugetlbStatsV2})
	}
	for _, st := range steps {
		d := m.paths[st.ctrl]
		if d == "" {
			continue
		}
		if err := st.read(d, s); err != nil {
			return nil, fmt.Errorf("cgroup stats of %s: %w", d, err)
		}
	}
	return s, nil
}

func cpuacctStatsV1(d string, s *Stats) error {
	u := &s.CPU.Usage
	var err error
	if u.Total, err = readOptionalUint(d, "cpuacct.usage"); err != nil {
		return err
	}
	if u.Percpu, err = readUintList(d, "cpuacct.usage_percpu"); optional(err) != nil {
		return err
	}
	if u.PercpuUser, err = readUintList(d, "cpuacct.usage_percpu_user"); optional(err) != nil {
		return err
	}
	if u.PercpuKernel, err = readUintList(d, "cpuacct.usage_percpu_sys"); optional(err) != nil {
		return err
	}
	if fileExists(d, "cpuacct.usage_user") {
		if u.User, err = readUint(d, "cpuacct.usage_user"); err != nil {
			return err
		}
		if u.Kernel, err = readUint(d, "cpuacct.usage_sys"); err != nil {
			return err
		}
		return nil
	}
	kv, err := readKeyValues(d, "cpuacct.stat")
	if err != nil {
		return optional(err)
	}
	u.User = kv["user"] * (1e9 / clockTicks)
	u.Kernel = kv["system"] * (1e9 / clockTicks)
	return nil
}

func cpuStatsV1(d string, s *Stats) error {
	kv, err := readKeyValues(d, "cpu.stat")
	if err != nil {
		return optional(err)
	}
	s.CPU.Throttling = Throttling{
		Periods:          kv["nr_periods"],
		ThrottledPeriods: kv["nr_throttled"],
		ThrottledTime:    kv["throttled_time"],
	}
	return nil
}

// memoryEntryV1 reads <prefix>.usage_in_bytes, .max_usage_in_bytes,
// .failcnt and .limit_in_bytes; a prefix the kernel lacks reads as zero.
func memoryEntryV1(d, prefix string) (MemoryEntry, error) {
	var e MemoryEntry
	if !fileExists(d, prefix+".usage_in_bytes") {
		return e, nil
	}
	var err error
	for _, f := range []struct {
		file string
		dst  *uint64
	}{
		{".usage_in_bytes", &e.Usage},
		{".max_usage_in_bytes", &e.Max},
		{".failcnt", &e.Failcnt},
		{".limit_in_bytes", &e.Limit},
	} {
		if *f.dst, err = readOptionalUint(d, prefix+f.file); err != nil {
			return e, err
		}
	}
	return e, nil
}

func memoryStatsV1(d string, s *Stats) error {
	mem := &s.Memory
	var err error
	if mem.Usage, err = memoryEntryV1(d, "memory"); err != nil {
		return err
	}
	if mem.Swap, err = memoryEntryV1(d, "memory.memsw"); err != nil {
		return err
	}
	if mem.Kernel, err = memoryEntryV1(d, "memory.kmem"); err != nil {
		return err
	}
	if mem.KernelTCP, err = memoryEntryV1(d, "memory.kmem.tcp"); err != nil {
		return err
	}
	raw, err := readKeyValues(d, "memory.stat")
	if optional(err) != nil {
		return err
	}
	if len(raw) > 0 {
		mem.Raw = raw
		mem.Cache = raw["cache"]
	}
	oom, err := readKeyValues(d, "memory.oom_control")
	if optional(err) != nil {
		return err
	}
	mem.EventCount.OOMKill = oom["oom_kill"]
	return nil
}

// pidsStats reads pids.current and pids.max, the same files on v1 and v2.
func pidsStats(d string, s *Stats) error {
	cur, err := readOptionalUint(d, "pids.current")
	if err != nil {
		return err
	}
	limit, err := readOptionalUint(d, "pids.max")
	if err != nil {
		return err
	}
	s.Pids = Pids{Current: cur, Limit: limitOrZero(limit)}
	return nil
}

// blkioStatsV1 reads the CFQ statistics, or BFQ's, or else the throttling
// layer's, whichever first has data (as runc does).
func blkioStatsV1(d string, s *Stats) error {
	for _, prefix := range []string{"blkio.", "blkio.bfq.", "blkio.throttle."} {
		bytes, err := readBlkioEntries(d, prefix+"io_service_bytes_recursive")
		if err != nil {
			if optional(err) != nil {
				return err
			}
			continue
		}
		if len(bytes) == 0 && prefix != "blkio.throttle." {
			continue
		}
		b := &s.Blkio
		b.IoServiceBytesRecursive = bytes
		for _, f := range []struct {
			file string
			dst  *[]BlkioEntry
		}{
			{"io_serviced_recursive", &b.IoServicedRecursive},
			{"io_queued_recursive", &b.IoQueuedRecursive},
			{"io_service_time_recursive", &b.IoServiceTimeRecursive},
			{"io_wait_time_recursive", &b.IoWaitTimeRecursive},
			{"io_merged_recursive", &b.IoMergedRecursive},
			{"time_recursive", &b.IoTimeRecursive},
			{"sectors_recursive", &b.SectorsRecursive},
		} {
			if *f.dst, err = readBlkioEntries(d, prefix+f.file); optional(err) != nil {
				return err
			}
		}
		return nil
	}
	return nil
}

func hugetlbStatsV1(d string, s *Stats) error {
	sizes, err := hugePageSizes(d, ".limit_in_bytes")
	if err != nil {
		return err
	}
	for _, size := range sizes {
		var h Hugetlb
		p := "hugetlb." + size
		if h.Usage, err = readOptionalUint(d, p+".usage_in_bytes"); err != nil {
			return err
		}
		if h.Max, err = readOptionalUint(d, p+".max_usage_in_bytes"); err != nil {
			return err
		}
		if h.Failcnt, err = readOptionalUint(d, p+".failcnt"); err != nil {
			return err
		}
		s.Hugetlb[size] = h
	}
	return nil
}
