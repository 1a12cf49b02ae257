package cgroups

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// v1Controllers are the controllers a v1 hierarchy can carry; "name=..."
// hierarchies (name=systemd) carry no controller but are joined too.
var v1Controllers = map[string]bool{
	"cpu": true, "cpuacct": true, "cpuset": true, "memory": true, "devices": true,
	"freezer": true, "blkio": true, "pids": true, "hugetlb": true, "net_cls": true,
	"net_prio": true, "perf_event": true, "rdma": true, "misc": true,
}

// v1Mount is one v1 hierarchy's mount.
type v1Mount struct {
	dir         string   // mount point, e.g. /sys/fs/cgroup/cpu,cpuacct
	controllers []string // what it carries, e.g. [cpu cpuacct] or [name=systemd]
}

// hierarchies is the cgroup layout of the machine.
type hierarchies struct {
	v1      map[string]v1Mount // controller (or "name=x") -> its hierarchy
	unified string             // cgroup2 mount point, "" if none
}

// readHierarchies finds the cgroup mounts in a mountinfo file. The first mount
// of each hierarchy wins; bind mounts of sub-cgroups (root other than "/")
// are skipped.
func readHierarchies(mountinfo string) (*hierarchies, error) {
	f, err := os.Open(mountinfo)
	if err != nil {
		return nil, fmt.Errorf("read cgroup mounts: %w", err)
	}
	defer f.Close()
	h := &hierarchies{v1: map[string]v1Mount{}}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		// 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
		fields := strings.Fields(sc.Text())
		sep := -1
		for i, f := range fields {
			if f == "-" {
				sep = i
				break
			}
		}
		if sep < 5 || len(fields) < sep+3 {
			continue
		}
		root, mnt, fstype, super := fields[3], unescapeMountinfo(fields[4]), fields[sep+1], fields[sep+3]
		if root != "/" {
			continue
		}
		switch fstype {
		case "cgroup2":
			if h.unified == "" {
				h.unified = mnt
			}
		case "cgroup":
			var ctrls []string
			for _, opt := range strings.Split(super, ",") {
				if v1Controllers[opt] || strings.HasPrefix(opt, "name=") {
					ctrls = append(ctrls, opt)
				}
			}
			for _, c := range ctrls {
				if _, ok := h.v1[c]; !ok {
					h.v1[c] = v1Mount{dir: mnt, controllers: ctrls}
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read cgroup mounts: %s: %w", mountinfo, err)
	}
	return h, nil
}

// unescapeMountinfo undoes the octal escapes (\040 for space) of mountinfo.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
