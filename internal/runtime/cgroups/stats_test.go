package cgroups

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestStatsV1Fake(t *testing.T) {
	f, m := newFakeV1(t)
	f.files(t, "cpuacct/test/c1", map[string]string{
		"cpuacct.usage": "3000", "cpuacct.usage_percpu": "1000 2000 \n",
		"cpuacct.usage_percpu_user": "600 1200", "cpuacct.usage_percpu_sys": "400 800",
		"cpuacct.usage_user": "1800", "cpuacct.usage_sys": "1200",
	})
	f.files(t, "cpu/test/c1", map[string]string{"cpu.stat": "nr_periods 10\nnr_throttled 3\nthrottled_time 12345\nnr_bursts 0\n"})
	f.files(t, "memory/test/c1", map[string]string{
		"memory.usage_in_bytes": "1048576", "memory.max_usage_in_bytes": "2097152", "memory.failcnt": "4",
		"memory.limit_in_bytes":       "67108864",
		"memory.memsw.usage_in_bytes": "1048576", "memory.memsw.max_usage_in_bytes": "2097152",
		"memory.memsw.failcnt": "0", "memory.memsw.limit_in_bytes": "9223372036854771712",
		"memory.stat":        "cache 4096\nrss 8192\ntotal_cache 4096\n",
		"memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
	})
	f.files(t, "pids/test/c1", map[string]string{"pids.current": "3", "pids.max": "max"})
	f.files(t, "blkio/test/c1", map[string]string{
		"blkio.bfq.io_service_bytes_recursive":      "",
		"blkio.throttle.io_service_bytes_recursive": "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\nTotal 12288\n",
		"blkio.throttle.io_serviced_recursive":      "8:0 Read 1\n8:0 Write 2\nTotal 3\n",
	})
	s, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	want := &Stats{
		CPU: CPU{
			Usage: CPUUsage{Total: 3000, Percpu: []uint64{1000, 2000}, PercpuUser: []uint64{600, 1200},
				PercpuKernel: []uint64{400, 800}, User: 1800, Kernel: 1200},
			Throttling: Throttling{Periods: 10, ThrottledPeriods: 3, ThrottledTime: 12345},
		},
		Memory: Memory{
			Cache:      4096,
			Usage:      MemoryEntry{Usage: 1 << 20, Max: 2 << 20, Failcnt: 4, Limit: 64 << 20},
			Swap:       MemoryEntry{Usage: 1 << 20, Max: 2 << 20, Limit: 9223372036854771712},
			Raw:        map[string]uint64{"cache": 4096, "rss": 8192, "total_cache": 4096},
			EventCount: MemoryEvents{OOMKill: 2},
		},
		Pids: Pids{Current: 3},
		Blkio: Blkio{
			IoServiceBytesRecursive: []BlkioEntry{{8, 0, "Read", 4096}, {8, 0, "Write", 8192}, {8, 0, "Sync", 0}},
			IoServicedRecursive:     []BlkioEntry{{8, 0, "Read", 1}, {8, 0, "Write", 2}},
		},
		Hugetlb: map[string]Hugetlb{},
	}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("Stats() =\n%+v\nwant\n%+v", s, want)
	}
}

func TestStatsV1TicksFallback(t *testing.T) {
	f, m := newFakeV1(t)
	f.files(t, "cpuacct/test/c1", map[string]string{"cpuacct.stat": "user 150\nsystem 50\n"})
	s, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.CPU.Usage.User != 1500000000 || s.CPU.Usage.Kernel != 500000000 {
		t.Errorf("user/kernel = %d/%d ns, want 1.5s/0.5s from USER_HZ ticks", s.CPU.Usage.User, s.CPU.Usage.Kernel)
	}
}

func TestStatsV2Fake(t *testing.T) {
	f, m := newFakeV2(t)
	f.files(t, "cg/berth/c2", map[string]string{
		"cpu.stat":             "usage_usec 3000\nuser_usec 2000\nsystem_usec 1000\nnr_periods 7\nnr_throttled 2\nthrottled_usec 500\n",
		"memory.current":       "1048576",
		"memory.max":           "67108864",
		"memory.peak":          "2097152",
		"memory.swap.current":  "4096",
		"memory.swap.max":      "33554432",
		"memory.events":        "low 0\nhigh 1\nmax 5\noom 2\noom_kill 1\noom_group_kill 0\n",
		"memory.stat":          "anon 8192\nfile 4096\n",
		"pids.current":         "2",
		"pids.max":             "50",
		"io.stat":              "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n",
		"hugetlb.2MB.current":  "2097152",
		"hugetlb.2MB.events":   "max 1\n",
		"hugetlb.2MB.rsvd.max": "max",
	})
	s, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	want := &Stats{
		CPU: CPU{
			Usage:      CPUUsage{Total: 3000000, User: 2000000, Kernel: 1000000},
			Throttling: Throttling{Periods: 7, ThrottledPeriods: 2, ThrottledTime: 500000},
		},
		Memory: Memory{
			Cache:      4096,
			Usage:      MemoryEntry{Usage: 1 << 20, Max: 2 << 20, Failcnt: 5, Limit: 64 << 20},
			Swap:       MemoryEntry{Usage: 1<<20 + 4096, Limit: 96 << 20},
			Raw:        map[string]uint64{"anon": 8192, "file": 4096},
			EventCount: MemoryEvents{High: 1, Max: 5, OOM: 2, OOMKill: 1},
		},
		Pids: Pids{Current: 2, Limit: 50},
		Blkio: Blkio{
			IoServiceBytesRecursive: []BlkioEntry{{8, 0, "Read", 4096}, {8, 0, "Write", 8192}},
			IoServicedRecursive:     []BlkioEntry{{8, 0, "Read", 1}, {8, 0, "Write", 2}},
		},
		Hugetlb: map[string]Hugetlb{"2MB": {Usage: 2 << 20, Failcnt: 1}},
	}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("Stats() =\n%+v\nwant\n%+v", s, want)
	}
	// Unlimited memory reads as MaxUint64, like runc prints it.
	f.files(t, "cg/berth/c2", map[string]string{"memory.max": "max"})
	s, err = m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.Memory.Usage.Limit != math.MaxUint64 || s.Memory.Swap.Limit != math.MaxUint64 {
		t.Errorf("unlimited limits = %d/%d", s.Memory.Usage.Limit, s.Memory.Swap.Limit)
	}
}

// TestStatsJSONShape checks the keys `runc events --stats` prints, which
// tools parse.
func TestStatsJSONShape(t *testing.T) {
	s := Stats{
		CPU:     CPU{Usage: CPUUsage{Total: 1, Percpu: []uint64{1}}, Throttling: Throttling{Periods: 1, ThrottledPeriods: 1, ThrottledTime: 1}},
		Memory:  Memory{Cache: 1, Usage: MemoryEntry{Limit: 1, Usage: 1, Max: 1}, Raw: map[string]uint64{"rss": 1}},
		Pids:    Pids{Current: 1, Limit: 2},
		Blkio:   Blkio{IoServiceBytesRecursive: []BlkioEntry{{8, 0, "Read", 1}}},
		Hugetlb: map[string]Hugetlb{"2MB": {Usage: 1}},
	}
	b, err := json.Marshal(map[string]any{"type": "stats", "id": "c1", "data": s})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{
		`"type":"stats"`, `"cpu":{"usage":{"total":1,"percpu":[1],"kernel":0,"user":0}`,
		`"throttling":{"periods":1,"throttledPeriods":1,"throttledTime":1}`,
		`"memory":{"cache":1,"usage":{"limit":1,"usage":1,"max":1,"failcnt":0}`, `"raw":{"rss":1}`,
		`"pids":{"current":1,"limit":2}`, `"blkio":{"ioServiceBytesRecursive":[{"major":8,"op":"Read","value":1}]}`,
		`"hugetlb":{"2MB":{"usage":1,"failcnt":0}}`,
	} {
		if !strings.Contains(string(b), key) {
			t.Errorf("stats JSON lacks %s:\n%s", key, b)
		}
	}
}

// TestStatsV1HybridHugetlb reads hugetlb from the cgroup2 tree when no v1
// hugetlb hierarchy exists (the layout of Berth's development machines).
func TestStatsV1HybridHugetlb(t *testing.T) {
	f, m := newFakeV1(t)
	f.files(t, "unified/test/c1", map[string]string{"hugetlb.2MB.max": "max", "hugetlb.2MB.current": "4194304", "hugetlb.2MB.events": "max 2\n"})
	s, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.Hugetlb, map[string]Hugetlb{"2MB": {Usage: 4 << 20, Failcnt: 2}}; !reflect.DeepEqual(got, want) {
		t.Errorf("hugetlb stats = %+v, want %+v", got, want)
	}
}
