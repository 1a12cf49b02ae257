package cgroups

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
)

// optional turns a missing file into no error: a controller that is absent
// leaves its statistics at zero.
func optional(err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// limitOrZero reports an unlimited limit as 0, as runc prints pids.limit.
func limitOrZero(v uint64) uint64 {
	if v == math.MaxUint64 {
		return 0
	}
	return v
}

// readUintList reads a file of space-separated numbers (cpuacct.usage_percpu).
func readUintList(dir, file string) ([]uint64, error) {
	s, err := readString(dir, file)
	if err != nil {
		return nil, err
	}
	var out []uint64
	for _, f := range strings.Fields(s) {
		v, err := parseUint(f)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", file, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// parseDevice parses "major:minor".
func parseDevice(s string) (uint64, uint64, bool) {
	a, b, ok := strings.Cut(s, ":")
	if !ok {
		return 0, 0, false
	}
	maj, err1 := strconv.ParseUint(a, 10, 64)
	min, err2 := strconv.ParseUint(b, 10, 64)
	return maj, min, err1 == nil && err2 == nil
}

// readBlkioEntries parses a v1 blkio statistics file: "8:0 Read 4096" lines,
// "8:0 4096" lines for files without operations, and a "Total N" line that is
// skipped.
func readBlkioEntries(dir, file string) ([]BlkioEntry, error) {
	s, err := readString(dir, file)
	if err != nil {
		return nil, err
	}
	var out []BlkioEntry
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] == "Total" {
			continue
		}
		maj, min, ok := parseDevice(f[0])
		if !ok {
			return nil, fmt.Errorf("parse %s: bad line %q", file, line)
		}
		e := BlkioEntry{Major: maj, Minor: min}
		val := f[1]
		if len(f) >= 3 {
			e.Op, val = f[1], f[2]
		}
		if e.Value, err = parseUint(val); err != nil {
			return nil, fmt.Errorf("parse %s: bad line %q", file, line)
		}
		out = append(out, e)
	}
	return out, nil
}

// hugePageSizes lists the page sizes that dir has files for, from the names
// of files "hugetlb.<size><suffix>".
func hugePageSizes(dir, suffix string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		// As a glob's: a directory that cannot be read has no matches.
		return nil, nil
	}
	var sizes []string
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, "hugetlb.") || !strings.HasSuffix(name, suffix) || len(name) < len("hugetlb.")+len(suffix) {
			continue
		}
		size := strings.TrimSuffix(strings.TrimPrefix(name, "hugetlb."), suffix)
		if size == "" || strings.Contains(size, ".") {
			continue // hugetlb.2MB.rsvd.max and the like
		}
		sizes = append(sizes, size)
	}
	return sizes, nil
}
