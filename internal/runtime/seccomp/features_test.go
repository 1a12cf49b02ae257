package seccomp

import (
	"fmt"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestFeatures(t *testing.T) {
	archList := Architectures()
	for _, a := range []string{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"} {
		if !slices.Contains(archList, a) {
			t.Errorf("Architectures() lacks %s: %v", a, archList)
		}
	}
	// Everything advertised compiles.
	for _, a := range archList {
		if _, err := Compile(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.Arch(a)}}); err != nil {
			t.Errorf("architecture %s: %v", a, err)
		}
	}
	for _, act := range Actions() {
		s := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: "/run/agent.sock",
			Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.LinuxSeccompAction(act)}}}
		if _, err := Compile(s); err != nil {
			t.Errorf("action %s: %v", act, err)
		}
	}
	for _, op := range Operators() {
		s := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActErrno,
				Args: []specs.LinuxSeccompArg{{Index: 1, Op: specs.LinuxSeccompOperator(op), Value: 1}}}}}
		if _, err := Compile(s); err != nil {
			t.Errorf("operator %s: %v", op, err)
		}
	}
	for _, fl := range KnownFlags() {
		s := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: "/run/agent.sock",
			Flags:    []specs.LinuxSeccompFlag{specs.LinuxSeccompFlag(fl)},
			Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActNotify}}}
		if _, err := Compile(s); err != nil {
			t.Errorf("flag %s: %v", fl, err)
		}
	}
	got := SupportedFlags()
	for _, fl := range got {
		if !slices.Contains(KnownFlags(), fl) {
			t.Errorf("SupportedFlags() has unknown %s", fl)
		}
	}
	// Linux 5.19 has all four flags.
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		t.Fatal(err)
	}
	var major, minor int
	fmt.Sscanf(unix.ByteSliceToString(uts.Release[:]), "%d.%d", &major, &minor)
	if (major > 5 || major == 5 && minor >= 19) && len(got) != len(KnownFlags()) {
		t.Errorf("SupportedFlags() = %v on Linux %d.%d, want all of %v", got, major, minor, KnownFlags())
	}
}
