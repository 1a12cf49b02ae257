package seccomp

import (
	"math/rand"
	"slices"
	"testing"

	mobyseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// dockerCaps is Docker's default capability set.
var dockerCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// dockerDefault is the profile dockerd hands to runc for a default container
// on this machine.
func dockerDefault(t testing.TB) *specs.LinuxSeccomp {
	t.Helper()
	spec := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: dockerCaps}}}
	s, err := mobyseccomp.GetDefaultProfile(spec)
	if err != nil {
		t.Fatalf("docker default profile: %v", err)
	}
	return s
}

func TestDockerDefaultProfile(t *testing.T) {
	s := dockerDefault(t)
	f := mustCompile(t, s)
	names := 0
	for _, sc := range s.Syscalls {
		names += len(sc.Names)
	}
	t.Logf("docker default profile: %d rules, %d names, architectures %v: %d instructions", len(s.Syscalls), names, s.Architectures, f.Instructions())
	if names < 300 {
		t.Fatalf("only %d syscall names: not the profile expected", names)
	}
	if f.Instructions() > maxInsns {
		t.Fatalf("%d instructions", f.Instructions())
	}

	a := NativeArch()
	for _, tc := range []struct {
		what string
		name string
		args []uint64
		want uint32
	}{
		{"read", "read", nil, retAllow},
		{"reboot", "reboot", nil, retEPERM},
		{"add_key", "add_key", nil, retEPERM},
		{"personality(0)", "personality", []uint64{0}, retAllow},
		{"personality(0xffffffff)", "personality", []uint64{0xffffffff}, retAllow},
		{"personality(0x12345)", "personality", []uint64{0x12345}, retEPERM},
		{"clone without namespaces", "clone", []uint64{0x3d0f00}, retAllow},
		{"clone with CLONE_NEWUSER", "clone", []uint64{0x10000000 | 0x3d0f00}, retEPERM},
		{"clone3", "clone3", nil, unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)},
		{"socket(AF_INET)", "socket", []uint64{unix.AF_INET}, retAllow},
		{"socket(AF_VSOCK)", "socket", []uint64{unix.AF_VSOCK}, retEPERM},
		{"a syscall newer than the profile", "", nil, unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)},
	} {
		n := uint32(1000)
		if tc.name != "" {
			n = nr(t, a, tc.name)
		}
		d := data(a, n, tc.args...)
		if got := verdict(t, f, d); got != tc.want {
			t.Errorf("%s: %#x, want %#x", tc.what, got, tc.want)
		}
	}
	compareWithReference(t, s, f, rand.New(rand.NewSource(2)), 5000)
}

// dockerArchNames are the architecture names of the profile's includes and
// excludes, by libseccomp name.
var dockerArchNames = map[specs.Arch]string{
	specs.ArchX86_64: "amd64", specs.ArchAARCH64: "arm64", specs.ArchMIPS64: "mips64",
	specs.ArchMIPS64N32: "mips64n32", specs.ArchMIPSEL64: "mipsel64", specs.ArchMIPSEL64N32: "mips3l64n32",
	specs.ArchS390X: "s390x", specs.ArchRISCV64: "riscv64", specs.ArchLOONGARCH64: "loongarch64",
}

// TestDockerProfileEveryArch compiles Docker's profile as dockerd would on
// each architecture family it knows, with all capabilities and a new
// kernel, so that most conditional rules are in: every name Docker uses must
// be in some table.
func TestDockerProfileEveryArch(t *testing.T) {
	p := mobyseccomp.DefaultProfile()
	for _, am := range p.ArchMap {
		native := dockerArchNames[am.Arch]
		s := &specs.LinuxSeccomp{
			DefaultAction: p.DefaultAction, DefaultErrnoRet: p.DefaultErrnoRet,
			Architectures: append([]specs.Arch{am.Arch}, am.SubArches...),
		}
	calls:
		for _, sc := range p.Syscalls {
			if ex := sc.Excludes; ex != nil && (slices.Contains(ex.Arches, native) || len(ex.Caps) > 0 || ex.MinKernel != nil) {
				continue
			}
			if in := sc.Includes; in != nil && len(in.Arches) > 0 && !slices.Contains(in.Arches, native) {
				continue calls
			}
			ls := sc.LinuxSyscall
			if sc.Name != "" {
				ls.Names = []string{sc.Name}
			}
			s.Syscalls = append(s.Syscalls, ls)
		}
		f, err := Compile(s)
		if err != nil {
			t.Errorf("%s: %v", am.Arch, err)
			continue
		}
		if err := checkProgram(f.prog); err != nil {
			t.Errorf("%s: %v", am.Arch, err)
		}
		t.Logf("%s %v: %d rules, %d instructions", am.Arch, s.Architectures, len(s.Syscalls), f.Instructions())
	}
}

func BenchmarkCompileDockerDefault(b *testing.B) {
	s := dockerDefault(b)
	for b.Loop() {
		if _, err := Compile(s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFilterDockerDefault(b *testing.B) {
	f := mustCompile(b, dockerDefault(b))
	a := NativeArch()
	d := data(a, nr(b, a, "socket"), unix.AF_INET)
	for b.Loop() {
		if v, err := run(f.prog, d); err != nil || v != retAllow {
			b.Fatal(v, err)
		}
	}
}
