package api

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// hostFacts are the machine facts /info reports, read fresh on each call
// (they are cheap, and a hostname or sysctl may change under the daemon).
type hostFacts struct {
	kernel, arch, hostname string
	osName, osVersion      string
	memTotal               int64
	cgroupVersion          string
	backingFS              string
	memoryLimit, swapLimit bool
	cpuCfs, cpuShares      bool
	cpuSet, pidsLimit      bool
	oomKillDisable         bool
	ipv4Forwarding         bool
	warnings               []string
}

const cgroupRoot = "/sys/fs/cgroup"

func kernelVersion() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

// backingFS names the filesystem under dir as dockerd's DriverStatus does.
func backingFS(dir string) string {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return "<unknown>"
	}
	switch int64(st.Type) {
	case unix.EXT4_SUPER_MAGIC:
		return "extfs"
	case unix.XFS_SUPER_MAGIC:
		return "xfs"
	case unix.BTRFS_SUPER_MAGIC:
		return "btrfs"
	case unix.TMPFS_MAGIC:
		return "tmpfs"
	case unix.OVERLAYFS_SUPER_MAGIC:
		return "overlayfs"
	case 0x2fc12fc1: // ZFS
		return "zfs"
	}
	return fmt.Sprintf("<unknown> (0x%x)", st.Type)
}

func readHost(dataRoot string) hostFacts {
	h := hostFacts{kernel: kernelVersion(), backingFS: backingFS(dataRoot)}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		h.arch = unix.ByteSliceToString(u.Machine[:])
	}
	h.hostname, _ = os.Hostname()
	h.osName, h.osVersion = osRelease("/etc/os-release")
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) == nil {
		h.memTotal = int64(si.Totalram) * int64(si.Unit)
	}
	var st unix.Statfs_t
	if unix.Statfs(cgroupRoot, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		h.cgroupVersion = "2"
		ctrls, _ := os.ReadFile(filepath.Join(cgroupRoot, "cgroup.controllers"))
		set := map[string]bool{}
		for _, c := range strings.Fields(string(ctrls)) {
			set[c] = true
		}
		h.memoryLimit, h.swapLimit = set["memory"], set["memory"]
		h.cpuCfs, h.cpuShares = set["cpu"], set["cpu"]
		h.cpuSet, h.pidsLimit = set["cpuset"], set["pids"]
	} else {
		h.cgroupVersion = "1"
		exists := func(p string) bool { _, err := os.Stat(filepath.Join(cgroupRoot, p)); return err == nil }
		h.memoryLimit = exists("memory/memory.limit_in_bytes")
		h.swapLimit = exists("memory/memory.memsw.limit_in_bytes")
		h.oomKillDisable = exists("memory/memory.oom_control")
		h.cpuCfs = exists("cpu/cpu.cfs_quota_us")
		h.cpuShares = exists("cpu/cpu.shares")
		h.cpuSet = exists("cpuset/cpuset.cpus")
		h.pidsLimit = exists("pids")
		if !exists("blkio/blkio.weight") && !exists("blkio/blkio.bfq.weight") {
			h.warnings = append(h.warnings, "WARNING: No blkio weight support")
		}
		if !h.swapLimit {
			h.warnings = append(h.warnings, "WARNING: No swap limit support")
		}
	}
	if !h.memoryLimit {
		h.warnings = append(h.warnings, "WARNING: No memory limit support")
	}
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward"); err == nil {
		h.ipv4Forwarding = strings.TrimSpace(string(b)) == "1"
	}
	if !h.ipv4Forwarding {
		h.warnings = append(h.warnings, "WARNING: IPv4 forwarding is disabled")
	}
	return h
}

// osRelease returns PRETTY_NAME and VERSION_ID from an os-release file.
func osRelease(path string) (name, version string) {
	f, err := os.Open(path)
	if err != nil {
		return "Linux", ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		if uq, err := strconv.Unquote(v); err == nil {
			v = uq
		}
		switch k {
		case "PRETTY_NAME":
			name = v
		case "VERSION_ID":
			version = v
		}
	}
	if name == "" {
		name = "Linux"
	}
	return name, version
}

// openFDs counts the daemon's open file descriptors (Info.NFd).
func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}
