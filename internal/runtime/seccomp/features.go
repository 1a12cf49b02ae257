package seccomp

import (
	"slices"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Architectures lists the libseccomp architecture names that have a syscall
// table here, sorted, for the runtime's features document.
func Architectures() []string {
	var names []string
	for a := range arches {
		names = append(names, string(a))
	}
	slices.Sort(names)
	return names
}

// Actions lists the actions Compile accepts.
func Actions() []string {
	return []string{
		string(specs.ActAllow), string(specs.ActErrno), string(specs.ActKill), string(specs.ActKillProcess),
		string(specs.ActKillThread), string(specs.ActLog), string(specs.ActNotify), string(specs.ActTrace),
		string(specs.ActTrap),
	}
}

// Operators lists the argument comparisons Compile accepts.
func Operators() []string {
	return []string{
		string(specs.OpEqualTo), string(specs.OpGreaterEqual), string(specs.OpGreaterThan),
		string(specs.OpLessEqual), string(specs.OpLessThan), string(specs.OpMaskedEqual), string(specs.OpNotEqual),
	}
}

// KnownFlags lists the flags Compile accepts.
func KnownFlags() []string {
	return []string{
		"SECCOMP_FILTER_FLAG_TSYNC", string(specs.LinuxSeccompFlagLog),
		string(specs.LinuxSeccompFlagSpecAllow), string(specs.LinuxSeccompFlagWaitKillableRecv),
	}
}

// SupportedFlags lists the known flags the running kernel accepts. It asks
// seccomp(2) to install a filter from a null pointer with each flag: the
// kernel checks the flags first (EINVAL) and then fails to read the program
// (EFAULT), so nothing is installed.
func SupportedFlags() []string {
	var out []string
	for _, name := range KnownFlags() {
		bit := flagBits[specs.LinuxSeccompFlag(name)]
		if name == string(specs.LinuxSeccompFlagWaitKillableRecv) {
			// Only valid together with a listener.
			bit = unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV | unix.SECCOMP_FILTER_FLAG_NEW_LISTENER
		}
		_, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(bit), uintptr(unsafe.Pointer(nil)))
		if errno == unix.EFAULT {
			out = append(out, name)
		}
	}
	return out
}
