package cgroups

import (
	"fmt"
	"math"
	"strings"
)

func (m *v2Manager) Stats() (*Stats, error) {
	s := &Stats{Hugetlb: map[string]Hugetlb{}}
	for _, read := range []func(string, *Stats) error{
		cpuStatsV2, memoryStatsV2, pidsStats, ioStatsV2, hugetlbStatsV2,
	} {
		if err := read(m.dir, s); err != nil {
			return nil, fmt.Errorf("cgroup stats of %s: %w", m.dir, err)
		}
	}
	return s, nil
}

func cpuStatsV2(d string, s *Stats) error {
	kv, err := readKeyValues(d, "cpu.stat")
	if err != nil {
		return optional(err)
	}
	s.CPU.Usage.Total = kv["usage_usec"] * 1000
	s.CPU.Usage.User = kv["user_usec"] * 1000
	s.CPU.Usage.Kernel = kv["system_usec"] * 1000
	s.CPU.Throttling = Throttling{
		Periods:          kv["nr_periods"],
		ThrottledPeriods: kv["nr_throttled"],
		ThrottledTime:    kv["throttled_usec"] * 1000,
	}
	return nil
}

func memoryStatsV2(d string, s *Stats) error {
	if !fileExists(d, "memory.current") {
		return nil
	}
	mem := &s.Memory
	var err error
	if mem.Usage.Usage, err = readUint(d, "memory.current"); err != nil {
		return err
	}
	if mem.Usage.Limit, err = readOptionalUint(d, "memory.max"); err != nil {
		return err
	}
	if mem.Usage.Max, err = readOptionalUint(d, "memory.peak"); err != nil {
		return err
	}
	ev, err := readKeyValues(d, "memory.events")
	if optional(err) != nil {
		return err
	}
	mem.Usage.Failcnt = ev["max"]
	mem.EventCount = MemoryEvents{Low: ev["low"], High: ev["high"], Max: ev["max"], OOM: ev["oom"], OOMKill: ev["oom_kill"]}
	if fileExists(d, "memory.swap.current") {
		// Reported as memory+swap, like v1's memsw.
		swap, err := readUint(d, "memory.swap.current")
		if err != nil {
			return err
		}
		swapMax, err := readOptionalUint(d, "memory.swap.max")
		if err != nil {
			return err
		}
		mem.Swap.Usage = swap + mem.Usage.Usage
		mem.Swap.Limit = math.MaxUint64
		if swapMax != math.MaxUint64 && mem.Usage.Limit != math.MaxUint64 {
			mem.Swap.Limit = swapMax + mem.Usage.Limit
		}
		if sev, err := readKeyValues(d, "memory.swap.events"); err == nil {
			mem.Swap.Failcnt = sev["fail"]
		}
	}
	raw, err := readKeyValues(d, "memory.stat")
	if optional(err) != nil {
		return err
	}
	if len(raw) > 0 {
		mem.Raw = raw
		mem.Cache = raw["file"]
	}
	return nil
}

// ioStatsV2 reads io.stat lines "8:0 rbytes=1 wbytes=2 rios=3 wios=4 ...".
func ioStatsV2(d string, s *Stats) error {
	st, err := readString(d, "io.stat")
	if err != nil {
		return optional(err)
	}
	b := &s.Blkio
	for _, line := range strings.Split(st, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		maj, min, ok := parseDevice(f[0])
		if !ok {
			return fmt.Errorf("parse io.stat: bad line %q", line)
		}
		for _, kv := range f[1:] {
			k, v, _ := strings.Cut(kv, "=")
			n, err := parseUint(v)
			if err != nil {
				continue
			}
			e := BlkioEntry{Major: maj, Minor: min, Value: n}
			switch k {
			case "rbytes":
				e.Op = "Read"
				b.IoServiceBytesRecursive = append(b.IoServiceBytesRecursive, e)
			case "wbytes":
				e.Op = "Write"
				b.IoServiceBytesRecursive = append(b.IoServiceBytesRecursive, e)
			case "rios":
				e.Op = "Read"
				b.IoServicedRecursive = append(b.IoServicedRecursive, e)
			case "wios":
				e.Op = "Write"
				b.IoServicedRecursive = append(b.IoServicedRecursive, e)
			}
		}
	}
	return nil
}

func hugetlbStatsV2(d string, s *Stats) error {
	sizes, err := hugePageSizes(d, ".max")
	if err != nil {
		return err
	}
	for _, size := range sizes {
		var h Hugetlb
		p := "hugetlb." + size
		if h.Usage, err = readOptionalUint(d, p+".current"); err != nil {
			return err
		}
		ev, err := readKeyValues(d, p+".events")
		if optional(err) != nil {
			return err
		}
		h.Failcnt = ev["max"]
		s.Hugetlb[size] = h
	}
	return nil
}
