package runtime

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// capabilityByName maps every capability name the runtime knows to its
// number. The list follows include/uapi/linux/capability.h up to
// CAP_CHECKPOINT_RESTORE (40). A capability the running kernel does not know
// (above /proc/sys/kernel/cap_last_cap) is accepted in config.json and
// skipped when applied, as runc does.
var capabilityByName = map[string]int{
	"CAP_CHOWN":              0,
	"CAP_DAC_OVERRIDE":       1,
	"CAP_DAC_READ_SEARCH":    2,
	"CAP_FOWNER":             3,
	"CAP_FSETID":             4,
	"CAP_KILL":               5,
	"CAP_SETGID":             6,
	"CAP_SETUID":             7,
	"CAP_SETPCAP":            8,
	"CAP_LINUX_IMMUTABLE":    9,
	"CAP_NET_BIND_SERVICE":   10,
	"CAP_NET_BROADCAST":      11,
	"CAP_NET_ADMIN":          12,
	"CAP_NET_RAW":            13,
	"CAP_IPC_LOCK":           14,
	"CAP_IPC_OWNER":          15,
	"CAP_SYS_MODULE":         16,
	"CAP_SYS_RAWIO":          17,
	"CAP_SYS_CHROOT":         18,
	"CAP_SYS_PTRACE":         19,
	"CAP_SYS_PACCT":          20,
	"CAP_SYS_ADMIN":          21,
	"CAP_SYS_BOOT":           22,
	"CAP_SYS_NICE":           23,
	"CAP_SYS_RESOURCE":       24,
	"CAP_SYS_TIME":           25,
	"CAP_SYS_TTY_CONFIG":     26,
	"CAP_MKNOD":              27,
	"CAP_LEASE":              28,
	"CAP_AUDIT_WRITE":        29,
	"CAP_AUDIT_CONTROL":      30,
	"CAP_SETFCAP":            31,
	"CAP_MAC_OVERRIDE":       32,
	"CAP_MAC_ADMIN":          33,
	"CAP_SYSLOG":             34,
	"CAP_WAKE_ALARM":         35,
	"CAP_BLOCK_SUSPEND":      36,
	"CAP_AUDIT_READ":         37,
	"CAP_PERFMON":            38,
	"CAP_BPF":                39,
	"CAP_CHECKPOINT_RESTORE": 40,
}

// capabilityLast is the highest capability number in capabilityByName.
const capabilityLast = 40

// capabilityNames returns every capability name the runtime knows, ordered
// by capability number (for `berth runtime features`).
func capabilityNames() []string {
	names := make([]string, capabilityLast+1)
	for name, n := range capabilityByName {
		names[n] = name
	}
	return names
}

// parseCapability returns the number of a capability name such as
// "CAP_CHOWN". Names are matched exactly, as runc does.
func parseCapability(name string) (int, error) {
	n, ok := capabilityByName[name]
	if !ok {
		return 0, fmt.Errorf("unknown capability %q", name)
	}
	return n, nil
}

var (
	kernelCapLastOnce sync.Once
	kernelCapLastVal  int
)

// kernelCapLast returns the running kernel's highest capability number from
// /proc/sys/kernel/cap_last_cap or, where /proc is not mounted (the init
// after pivot_root may have none), by probing with PR_CAPBSET_READ, which
// fails with EINVAL for a capability the kernel does not know.
func kernelCapLast() int {
	kernelCapLastOnce.Do(func() {
		b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
		if err == nil {
			if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n >= 0 {
				kernelCapLastVal = n
				return
			}
		}
		kernelCapLastVal = probeCapLast()
	})
	return kernelCapLastVal
}

// probeCapLast finds the highest capability PR_CAPBSET_READ accepts.
func probeCapLast() int {
	n := 0
	for n < 63 {
		if _, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(n+1), 0, 0, 0); err != nil {
			break
		}
		n++
	}
	return n
}

// capMask is a set of capabilities as a bit mask (bit n = capability n).
type capMask uint64

func (m capMask) has(n int) bool { return m&(1<<uint(n)) != 0 }

// capMaskOf converts capability names to a mask, skipping capabilities above
// the running kernel's cap_last_cap. field names the spec field in errors.
func capMaskOf(field string, names []string) (capMask, error) {
	last := kernelCapLast()
	var m capMask
	for _, name := range names {
		n, err := parseCapability(name)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", field, err)
		}
		if n > last {
			continue
		}
		m |= 1 << uint(n)
	}
	return m, nil
}

// processCaps are the five capability sets of a process, as masks.
type processCaps struct {
	bounding, effective, permitted, inheritable, ambient capMask
}

// newProcessCaps converts a spec's capability sets. A nil spec means no
// capabilities at all, as in runc.
func newProcessCaps(c *specs.LinuxCapabilities) (processCaps, error) {
	var pc processCaps
	if c == nil {
		return pc, nil
	}
	var err error
	sets := []struct {
		field string
		names []string
		dst   *capMask
	}{
		{"process.capabilities.bounding", c.Bounding, &pc.bounding},
		{"process.capabilities.effective", c.Effective, &pc.effective},
		{"process.capabilities.permitted", c.Permitted, &pc.permitted},
		{"process.capabilities.inheritable", c.Inheritable, &pc.inheritable},
		{"process.capabilities.ambient", c.Ambient, &pc.ambient},
	}
	for _, s := range sets {
		if *s.dst, err = capMaskOf(s.field, s.names); err != nil {
			return pc, err
		}
	}
	return pc, nil
}

// applyBoundingSet drops from the calling thread's bounding set every
// capability not in pc.bounding. It needs CAP_SETPCAP, so it runs before the
// user changes.
func (pc processCaps) applyBoundingSet() error {
	last := kernelCapLast()
	for n := 0; n <= last; n++ {
		if pc.bounding.has(n) {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(n), 0, 0, 0); err != nil {
			if err == unix.EINVAL {
				// The kernel does not know this capability.
				continue
			}
			return fmt.Errorf("drop %s from the bounding set: %w", capabilityNames()[n], err)
		}
	}
	return nil
}

// applyCaps sets the calling thread's effective, permitted and inheritable
// sets with capset and then raises the ambient set (those of its
// capabilities that are also permitted and inheritable).
func (pc processCaps) applyCaps() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	data[0].Effective = uint32(pc.effective)
	data[1].Effective = uint32(pc.effective >> 32)
	data[0].Permitted = uint32(pc.permitted)
	data[1].Permitted = uint32(pc.permitted >> 32)
	data[0].Inheritable = uint32(pc.inheritable)
	data[1].Inheritable = uint32(pc.inheritable >> 32)
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("set capabilities (capset effective=%#x permitted=%#x inheritable=%#x): %w",
			uint64(pc.effective), uint64(pc.permitted), uint64(pc.inheritable), err)
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		if pc.ambient == 0 && err == unix.EINVAL {
			// No ambient capabilities in this kernel and none asked for.
			return nil
		}
		return fmt.Errorf("clear ambient capabilities: %w", err)
	}
	// The kernel raises an ambient capability only if it is permitted and
	// inheritable. Others are skipped, as runc does (runc spec's default
	// config lists ambient capabilities without inheritable ones).
	raise := pc.ambient & pc.permitted & pc.inheritable
	last := kernelCapLast()
	for n := 0; n <= last; n++ {
		if !raise.has(n) {
			continue
		}
		if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(n), 0, 0); err != nil {
			return fmt.Errorf("process.capabilities.ambient: raise %s: %w", capabilityNames()[n], err)
		}
	}
	return nil
}
