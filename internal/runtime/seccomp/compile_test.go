package seccomp

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func uintp(v uint) *uint { return &v }

// nr is the number of a syscall on an architecture, failing the test if the
// table lacks it.
func nr(t testing.TB, a specs.Arch, name string) uint32 {
	t.Helper()
	n, ok := syscallTables()[string(a)][name]
	if !ok {
		t.Fatalf("no syscall %s on %s", name, a)
	}
	return n
}

func data(a specs.Arch, n uint32, args ...uint64) seccompData {
	ar := arches[a]
	d := seccompData{nr: n, arch: ar.audit, bigEndian: ar.bigEndian}
	copy(d.args[:], args)
	return d
}

func mustCompile(t testing.TB, s *specs.LinuxSeccomp) *Filter {
	t.Helper()
	f, err := Compile(s)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	if err := checkProgram(f.prog); err != nil {
		t.Fatalf("program rejected: %v", err)
	}
	return f
}

func verdict(t testing.TB, f *Filter, d seccompData) uint32 {
	t.Helper()
	v, err := run(f.prog, d)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return v
}

const (
	retAllow = unix.SECCOMP_RET_ALLOW
	retEPERM = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	retKill  = unix.SECCOMP_RET_KILL_THREAD
)

func TestActionsAndErrno(t *testing.T) {
	s := &specs.LinuxSeccomp{
		DefaultAction:   specs.ActErrno,
		DefaultErrnoRet: uintp(38),
		Architectures:   []specs.Arch{specs.ArchX86_64},
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read", "write"}, Action: specs.ActAllow},
			{Names: []string{"mkdir"}, Action: specs.ActErrno, ErrnoRet: uintp(99)},
			{Names: []string{"rmdir"}, Action: specs.ActErrno},
			{Names: []string{"reboot"}, Action: specs.ActKill},
			{Names: []string{"kexec_load"}, Action: specs.ActKillProcess},
			{Names: []string{"swapon"}, Action: specs.ActKillThread},
			{Names: []string{"acct"}, Action: specs.ActTrap},
			{Names: []string{"ptrace"}, Action: specs.ActTrace, ErrnoRet: uintp(7)},
			{Names: []string{"syslog"}, Action: specs.ActLog},
		},
	}
	f := mustCompile(t, s)
	a := specs.ArchX86_64
	for _, tc := range []struct {
		name string
		want uint32
	}{
		{"read", retAllow},
		{"write", retAllow},
		{"mkdir", unix.SECCOMP_RET_ERRNO | 99},
		{"rmdir", retEPERM},
		{"reboot", unix.SECCOMP_RET_KILL_THREAD},
		{"kexec_load", unix.SECCOMP_RET_KILL_PROCESS},
		{"swapon", unix.SECCOMP_RET_KILL_THREAD},
		{"acct", unix.SECCOMP_RET_TRAP},
		{"ptrace", unix.SECCOMP_RET_TRACE | 7},
		{"syslog", unix.SECCOMP_RET_LOG},
		{"getpid", unix.SECCOMP_RET_ERRNO | 38}, // not listed: the default
	} {
		if got := verdict(t, f, data(a, nr(t, a, tc.name))); got != tc.want {
			t.Errorf("%s: verdict %#x, want %#x", tc.name, got, tc.want)
		}
	}
	if got := verdict(t, f, data(a, 100000)); got != unix.SECCOMP_RET_ERRNO|38 {
		t.Errorf("unknown number: verdict %#x, want the default", got)
	}
}

func TestArchitectures(t *testing.T) {
	if NativeArch() != specs.ArchX86_64 {
		t.Skip("expectations are written for an x86_64 host")
	}
	allowMkdir := []specs.LinuxSyscall{{Names: []string{"mkdir", "socketcall"}, Action: specs.ActAllow}}

	t.Run("native only", func(t *testing.T) {
		f := mustCompile(t, &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: allowMkdir})
		if got := verdict(t, f, data(specs.ArchX86_64, 83)); got != retAllow {
			t.Errorf("x86_64 mkdir: %#x, want allow", got)
		}
		if got := verdict(t, f, data(specs.ArchX86, 39)); got != retKill {
			t.Errorf("i386 mkdir without SCMP_ARCH_X86: %#x, want kill (bad arch)", got)
		}
		if got := verdict(t, f, data(specs.ArchX32, 83|x32SyscallBit)); got != retKill {
			t.Errorf("x32 mkdir without SCMP_ARCH_X32: %#x, want kill (bad arch)", got)
		}
		if got := verdict(t, f, data(specs.ArchAARCH64, 34)); got != retKill {
			t.Errorf("aarch64 syscall: %#x, want kill (bad arch)", got)
		}
	})
	t.Run("x86 and x32 listed", func(t *testing.T) {
		f := mustCompile(t, &specs.LinuxSeccomp{
			DefaultAction: specs.ActErrno,
			Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
			Syscalls:      allowMkdir,
		})
		for _, tc := range []struct {
			d    seccompData
			want uint32
			what string
		}{
			{data(specs.ArchX86_64, 83), retAllow, "x86_64 mkdir (83)"},
			{data(specs.ArchX86_64, 39), retEPERM, "x86_64 getpid (39, i386's mkdir)"},
			{data(specs.ArchX86, 39), retAllow, "i386 mkdir (39)"},
			{data(specs.ArchX86, 83), retEPERM, "i386 83 (not mkdir there)"},
			{data(specs.ArchX86, 102), retAllow, "i386 socketcall (102), unknown on x86_64"},
			{data(specs.ArchX32, 83|x32SyscallBit), retAllow, "x32 mkdir"},
			{data(specs.ArchX32, 39|x32SyscallBit), retEPERM, "x32 getpid"},
			{data(specs.ArchARM, 39), retKill, "arm not listed"},
		} {
			if got := verdict(t, f, tc.d); got != tc.want {
				t.Errorf("%s: %#x, want %#x", tc.what, got, tc.want)
			}
		}
	})
	t.Run("x32-specific numbers", func(t *testing.T) {
		f := mustCompile(t, &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			Architectures: []specs.Arch{specs.ArchX32},
			Syscalls:      []specs.LinuxSyscall{{Names: []string{"execve"}, Action: specs.ActErrno}},
		})
		if got := verdict(t, f, data(specs.ArchX32, 520|x32SyscallBit)); got != retEPERM {
			t.Errorf("x32 execve (520): %#x, want EPERM", got)
		}
		if got := verdict(t, f, data(specs.ArchX32, 59|x32SyscallBit)); got != retAllow {
			t.Errorf("x32 59 (x86_64's execve, not x32's): %#x, want allow", got)
		}
		if got := verdict(t, f, data(specs.ArchX86_64, 59)); got != retEPERM {
			t.Errorf("x86_64 execve: %#x, want EPERM", got)
		}
	})
	t.Run("other architectures", func(t *testing.T) {
		f := mustCompile(t, &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			Architectures: []specs.Arch{specs.ArchAARCH64, specs.ArchARM, specs.ArchS390X, specs.ArchPPC64LE},
			Syscalls: []specs.LinuxSyscall{{
				Names: []string{"mkdirat", "set_tls"}, Action: specs.ActErrno, ErrnoRet: uintp(5),
				Args: []specs.LinuxSeccompArg{{Index: 2, Op: specs.OpEqualTo, Value: 0x1ff}},
			}},
		})
		for _, a := range []specs.Arch{specs.ArchAARCH64, specs.ArchARM, specs.ArchS390X, specs.ArchPPC64LE} {
			if got := verdict(t, f, data(a, nr(t, a, "mkdirat"), 3, 0, 0x1ff)); got != unix.SECCOMP_RET_ERRNO|5 {
				t.Errorf("%s mkdirat mode 0777: %#x, want EIO", a, got)
			}
			if got := verdict(t, f, data(a, nr(t, a, "mkdirat"), 3, 0, 0x1ed)); got != retAllow {
				t.Errorf("%s mkdirat mode 0755: %#x, want allow", a, got)
			}
		}
		if got := verdict(t, f, data(specs.ArchARM, 0x0f0005, 0, 0, 0x1ff)); got != unix.SECCOMP_RET_ERRNO|5 {
			t.Errorf("arm set_tls: %#x, want EIO", got)
		}
	})
}

func TestEnosysStub(t *testing.T) {
	calls := []specs.LinuxSyscall{
		{Names: []string{"read"}, Action: specs.ActAllow},
		{Names: []string{"mkdir"}, Action: specs.ActErrno}, // same as the default: dropped, but counted
	}
	archList := []specs.Arch{specs.ArchX86_64, specs.ArchX32, specs.ArchS390X}
	f := mustCompile(t, &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Architectures: archList, Syscalls: calls})
	retENOSYS := unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
	for _, tc := range []struct {
		what string
		d    seccompData
		want uint32
	}{
		{"x86_64 read", data(specs.ArchX86_64, 0), retAllow},
		{"x86_64 mkdir (83, the largest named)", data(specs.ArchX86_64, 83), retEPERM},
		{"x86_64 50, not named", data(specs.ArchX86_64, 50), retEPERM},
		{"x86_64 84, above every named syscall", data(specs.ArchX86_64, 84), retENOSYS},
		{"x86_64 1000", data(specs.ArchX86_64, 1000), retENOSYS},
		{"x32 84", data(specs.ArchX32, 84|x32SyscallBit), retENOSYS},
		{"x32 50", data(specs.ArchX32, 50|x32SyscallBit), retEPERM},
		{"s390x 0 (the multiplexer)", data(specs.ArchS390X, 0), retENOSYS},
		{"s390x read", data(specs.ArchS390X, nr(t, specs.ArchS390X, "read")), retAllow},
		{"s390x 1000", data(specs.ArchS390X, 1000), retENOSYS},
	} {
		if got := verdict(t, f, tc.d); got != tc.want {
			t.Errorf("%s: %#x, want %#x", tc.what, got, tc.want)
		}
	}
	// No stub when the default lets syscalls through or already says ENOSYS.
	for _, def := range []*specs.LinuxSeccomp{
		{DefaultAction: specs.ActAllow},
		{DefaultAction: specs.ActLog},
		{DefaultAction: specs.ActErrno, DefaultErrnoRet: uintp(uint(unix.ENOSYS))},
	} {
		def.Syscalls = []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActKill}}
		f := mustCompile(t, def)
		want, _ := actionValue(def.DefaultAction, def.DefaultErrnoRet)
		if got := verdict(t, f, data(NativeArch(), 1000)); got != want {
			t.Errorf("default %s: syscall 1000: %#x, want the default %#x", def.DefaultAction, got, want)
		}
	}
}

func TestArgumentComparisons(t *testing.T) {
	const v = 0x1_0000_0005
	cases := []struct {
		op   specs.LinuxSeccompOperator
		args map[uint64]bool // argument -> rule matches
	}{
		{specs.OpEqualTo, map[uint64]bool{v: true, 5: false, v + 1: false, 0x2_0000_0005: false}},
		{specs.OpNotEqual, map[uint64]bool{v: false, 5: true, v + 1: true, 0x2_0000_0005: true}},
		{specs.OpLessThan, map[uint64]bool{v: false, v - 1: true, 5: true, 0xffff_ffff: true, v + 1: false, 0x2_0000_0000: false}},
		{specs.OpLessEqual, map[uint64]bool{v: true, v - 1: true, 0x1_0000_0006: false, 0x2_0000_0000: false, 0: true}},
		{specs.OpGreaterThan, map[uint64]bool{v: false, v + 1: true, 0x2_0000_0000: true, 6: false, ^uint64(0): true}},
		{specs.OpGreaterEqual, map[uint64]bool{v: true, v - 1: false, 0x2_0000_0000: true, 0xffff_ffff: false}},
	}
	for _, tc := range cases {
		f := mustCompile(t, &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{{
				Names: []string{"ioctl"}, Action: specs.ActErrno,
				Args: []specs.LinuxSeccompArg{{Index: 1, Op: tc.op, Value: v}},
			}},
		})
		a := NativeArch()
		for arg, match := range tc.args {
			want := uint32(retAllow)
			if match {
				want = retEPERM
			}
			if got := verdict(t, f, data(a, nr(t, a, "ioctl"), 0, arg)); got != want {
				t.Errorf("%s %#x: arg %#x: %#x, want %#x", tc.op, uint64(v), arg, got, want)
			}
		}
	}

	// MASKED_EQ: value is the mask, valueTwo the expected value, as in runc.
	f := mustCompile(t, &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Syscalls: []specs.LinuxSyscall{{
			Names: []string{"clone"}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: 0, Op: specs.OpMaskedEqual, Value: 0x1_7E02_0000, ValueTwo: 0}},
		}},
	})
	a := NativeArch()
	for arg, want := range map[uint64]uint32{
		0x0001_1200:   retAllow, // no namespace flag
		0x1000_0000:   retEPERM, // CLONE_NEWUSER
		0x1_0000_0000: retEPERM, // a bit in the mask's high half
		0x2_0000_0000: retAllow, // a high bit outside the mask
	} {
		if got := verdict(t, f, data(a, nr(t, a, "clone"), arg)); got != want {
			t.Errorf("clone flags %#x: %#x, want %#x", arg, got, want)
		}
	}
}

func TestArgumentsOn32BitArch(t *testing.T) {
	// i386 arguments are 32 bits: only the low half of value is compared.
	f := mustCompile(t, &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86},
		Syscalls: []specs.LinuxSyscall{{
			Names: []string{"personality"}, Action: specs.ActErrno,
			Args: []specs.LinuxSeccompArg{{Index: 0, Op: specs.OpEqualTo, Value: 0xffff_ffff_ffff_ffff}},
		}},
	})
	a := specs.ArchX86
	if got := verdict(t, f, data(a, nr(t, a, "personality"), 0xffff_ffff)); got != retEPERM {
		t.Errorf("personality(0xffffffff) on i386: %#x, want EPERM", got)
	}
	if got := verdict(t, f, data(a, nr(t, a, "personality"), 0)); got != retAllow {
		t.Errorf("personality(0) on i386: %#x, want allow", got)
	}
}

func TestSeveralConditionsAndRules(t *testing.T) {
	f := mustCompile(t, &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Syscalls: []specs.LinuxSyscall{
			// (a0 == 1 && a1 > 10) || a0 == 7
			{Names: []string{"socket"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{
				{Index: 0, Op: specs.OpEqualTo, Value: 1},
				{Index: 1, Op: specs.OpGreaterThan, Value: 10},
			}},
			{Names: []string{"socket"}, Action: specs.ActErrno, ErrnoRet: uintp(97), Args: []specs.LinuxSeccompArg{
				{Index: 0, Op: specs.OpEqualTo, Value: 7},
			}},
			// A rule doing what the default does is dropped: socketpair stays EPERM.
			{Names: []string{"socketpair"}, Action: specs.ActErrno},
		},
	})
	a := NativeArch()
	for _, tc := range []struct {
		args []uint64
		want uint32
	}{
		{[]uint64{1, 11}, retAllow},
		{[]uint64{1, 10}, retEPERM},
		{[]uint64{2, 11}, retEPERM},
		{[]uint64{7, 0}, unix.SECCOMP_RET_ERRNO | 97},
	} {
		if got := verdict(t, f, data(a, nr(t, a, "socket"), tc.args...)); got != tc.want {
			t.Errorf("socket%v: %#x, want %#x", tc.args, got, tc.want)
		}
	}

	// An unconditional rule decides the syscall, whatever the order.
	f = mustCompile(t, &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"personality"}, Action: specs.ActKill, Args: []specs.LinuxSeccompArg{{Index: 0, Op: specs.OpEqualTo, Value: 8}}},
			{Names: []string{"personality"}, Action: specs.ActAllow},
		},
	})
	if got := verdict(t, f, data(a, nr(t, a, "personality"), 8)); got != retAllow {
		t.Errorf("personality(8): %#x, want allow", got)
	}

	// Of two unconditional rules, the first decides.
	f = mustCompile(t, &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"mount"}, Action: specs.ActKill},
			{Names: []string{"mount"}, Action: specs.ActErrno},
		},
	})
	if got := verdict(t, f, data(a, nr(t, a, "mount"))); got != retKill {
		t.Errorf("mount: %#x, want the first rule's kill", got)
	}
}

func TestCompileErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    *specs.LinuxSeccomp
		want string
	}{
		{"nil", nil, "no configuration"},
		{"no default", &specs.LinuxSeccomp{}, "defaultAction: action is empty"},
		{"bad default", &specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_MAYBE"}, `unknown action "SCMP_ACT_MAYBE"`},
		{"unknown arch", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{"SCMP_ARCH_VAX"}}, `"SCMP_ARCH_VAX" is not a supported architecture`},
		{"unknown flag", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_FAST"}}, `unknown flag "SECCOMP_FILTER_FLAG_FAST"`},
		{"unknown syscall", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read", "frobnicate"}, Action: specs.ActErrno}}}, `syscalls[0]: unknown syscall "frobnicate"`},
		{"no names", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Action: specs.ActErrno}}}, "syscalls[0]: names is empty"},
		{"arg index", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 6, Op: specs.OpEqualTo}}}}}, "args[0]: index 6 is not 0 to 5"},
		{"arg op", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 0, Op: "SCMP_CMP_ABOUT"}}}}}, `args[0]: unknown op "SCMP_CMP_ABOUT"`},
		{"errnoRet on allow", &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read"}, Action: specs.ActAllow, ErrnoRet: uintp(1)}}}, "errnoRet is only valid with SCMP_ACT_ERRNO"},
		{"errnoRet too big", &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: uintp(70000)}, "errnoRet 70000 is more than 65535"},
		{"notify without listener", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"mount"}, Action: specs.ActNotify}}}, "syscalls[0]: SCMP_ACT_NOTIFY needs listenerPath"},
		{"notify write", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: "/run/agent.sock", Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read", "write"}, Action: specs.ActNotify}}}, "syscalls[0]: SCMP_ACT_NOTIFY cannot be used for write"},
		{"notify default", &specs.LinuxSeccomp{DefaultAction: specs.ActNotify, ListenerPath: "/run/agent.sock"}, "SCMP_ACT_NOTIFY cannot be the default action"},
		{"killable recv without notify", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagWaitKillableRecv}},
			"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs an SCMP_ACT_NOTIFY rule"},
	} {
		_, err := Compile(tc.s)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

func TestFlags(t *testing.T) {
	f := mustCompile(t, &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Flags:         []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_TSYNC", specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow},
	})
	if want := uint(unix.SECCOMP_FILTER_FLAG_TSYNC | unix.SECCOMP_FILTER_FLAG_LOG | unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW); f.Flags() != want {
		t.Errorf("flags %#x, want %#x", f.Flags(), want)
	}
}

// TestLongJumps makes rule blocks so large that dispatch jumps exceed the
// 255 instructions a conditional jump reaches.
func TestLongJumps(t *testing.T) {
	var calls []specs.LinuxSyscall
	names := []string{"read", "write", "openat", "close", "mmap", "ioctl", "socket", "connect", "bind", "listen"}
	for i, name := range names {
		var args []specs.LinuxSeccompArg
		for j := 0; j < 30; j++ {
			args = append(args, specs.LinuxSeccompArg{Index: uint(j % 6), Op: specs.OpNotEqual, Value: uint64(1000*i + j)})
		}
		calls = append(calls, specs.LinuxSyscall{Names: []string{name}, Action: specs.ActErrno, ErrnoRet: uintp(uint(i + 1)), Args: args})
	}
	s := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchX86, specs.ArchX32}, Syscalls: calls}
	f := mustCompile(t, s)
	if f.Instructions() < 3*maxJump {
		t.Fatalf("only %d instructions: the test does not exercise long jumps", f.Instructions())
	}
	a := NativeArch()
	for i, name := range names {
		d := data(a, nr(t, a, name), 1, 2, 3, 4, 5, 6)
		if got, want := verdict(t, f, d), unix.SECCOMP_RET_ERRNO|uint32(i+1); got != want {
			t.Errorf("%s: %#x, want %#x", name, got, want)
		}
		d.args[i%6] = uint64(1000*i + i%6)
		if got := verdict(t, f, d); got != retAllow {
			t.Errorf("%s with a failing condition: %#x, want allow", name, got)
		}
	}
}

// TestTooLong checks that a profile beyond BPF_MAXINSNS fails clearly.
func TestTooLong(t *testing.T) {
	var calls []specs.LinuxSyscall
	for name := range syscallTables()[string(NativeArch())] {
		var args []specs.LinuxSeccompArg
		for j := 0; j < 6; j++ {
			args = append(args, specs.LinuxSeccompArg{Index: uint(j), Op: specs.OpGreaterThan, Value: 1})
		}
		calls = append(calls, specs.LinuxSyscall{Names: []string{name}, Action: specs.ActErrno, Args: args})
	}
	_, err := Compile(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: calls})
	if err == nil || !strings.Contains(err.Error(), "more than the kernel's limit of 4096") {
		t.Fatalf("error %v, want the instruction limit", err)
	}
}

// TestMatchesReference compares the program with the documented semantics
// on random configurations and random syscalls.
func TestMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 300; i++ {
		s := randomConfig(rng)
		f, err := Compile(s)
		if err != nil {
			t.Fatalf("config %d: %v", i, err)
		}
		compareWithReference(t, s, f, rng, 200)
	}
}

var testArches = []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32, specs.ArchAARCH64, specs.ArchARM, specs.ArchS390X, specs.ArchMIPS}

var testOps = []specs.LinuxSeccompOperator{specs.OpEqualTo, specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual,
	specs.OpGreaterThan, specs.OpGreaterEqual, specs.OpMaskedEqual}

var testActions = []specs.LinuxSeccompAction{specs.ActAllow, specs.ActErrno, specs.ActKill, specs.ActKillProcess, specs.ActTrap, specs.ActLog}

var testValues = []uint64{0, 1, 2, 0xff, 0xffff_ffff, 0x1_0000_0000, 0x1_0000_0001, ^uint64(0)}

func randomConfig(rng *rand.Rand) *specs.LinuxSeccomp {
	s := &specs.LinuxSeccomp{DefaultAction: testActions[rng.Intn(len(testActions))]}
	for _, a := range testArches {
		if rng.Intn(3) == 0 {
			s.Architectures = append(s.Architectures, a)
		}
	}
	names := []string{"read", "write", "mkdir", "mkdirat", "socketcall", "set_tls", "clone", "ioctl", "personality", "execve"}
	for n := rng.Intn(8); n > 0; n-- {
		sc := specs.LinuxSyscall{Names: []string{names[rng.Intn(len(names))]}, Action: testActions[rng.Intn(len(testActions))]}
		if sc.Action == specs.ActErrno && rng.Intn(2) == 0 {
			sc.ErrnoRet = uintp(uint(rng.Intn(200)))
		}
		for k := rng.Intn(3); k > 0; k-- {
			sc.Args = append(sc.Args, specs.LinuxSeccompArg{
				Index: uint(rng.Intn(6)), Op: testOps[rng.Intn(len(testOps))],
				Value: testValues[rng.Intn(len(testValues))], ValueTwo: testValues[rng.Intn(len(testValues))],
			})
		}
		s.Syscalls = append(s.Syscalls, sc)
	}
	return s
}

func compareWithReference(t testing.TB, s *specs.LinuxSeccomp, f *Filter, rng *rand.Rand, n int) {
	t.Helper()
	if err := checkProgram(f.prog); err != nil {
		t.Fatalf("program rejected: %v", err)
	}
	var nrs []uint32
	for _, sc := range s.Syscalls {
		for _, name := range sc.Names {
			for _, a := range testArches {
				if v, ok := syscallTables()[string(a)][name]; ok {
					nrs = append(nrs, v)
				}
			}
		}
	}
	nrs = append(nrs, 0, 1, x32SyscallBit, 5000)
	for i := 0; i < n; i++ {
		a := testArches[rng.Intn(len(testArches))]
		d := data(a, nrs[rng.Intn(len(nrs))])
		if a == specs.ArchX32 {
			d.nr |= x32SyscallBit
		}
		for j := range d.args {
			d.args[j] = testValues[rng.Intn(len(testValues))]
			if rng.Intn(4) == 0 {
				d.args[j] = rng.Uint64()
			}
		}
		got, err := run(f.prog, d)
		if err != nil {
			t.Fatalf("run: %v", err)
		}
		if want := reference(s, d); got != want {
			js, _ := json.Marshal(s)
			t.Fatalf("config %s\ndata %+v: program says %#x, reference %#x", js, d, got, want)
		}
	}
}

func ExampleCompile() {
	f, err := Compile(&specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: uintp(uint(unix.EROFS))},
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(f.Instructions() > 0)
	// Output: true
}
