package seccomp

import (
	"fmt"
	goruntime "runtime"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// x32SyscallBit is set in the syscall number of every x32 syscall
// (__X32_SYSCALL_BIT); x32 and x86_64 share AUDIT_ARCH_X86_64.
const x32SyscallBit = 0x40000000

// arch describes how one architecture's syscalls look in seccomp_data.
type arch struct {
	name      specs.Arch
	audit     uint32 // seccomp_data.arch (AUDIT_ARCH_*)
	bigEndian bool   // where the high half of a 64-bit argument lies
	bits32    bool   // arguments are 32 bits wide
}

// arches lists the architectures with a syscall table, by libseccomp name.
var arches = map[specs.Arch]arch{
	specs.ArchX86:         {specs.ArchX86, unix.AUDIT_ARCH_I386, false, true},
	specs.ArchX86_64:      {specs.ArchX86_64, unix.AUDIT_ARCH_X86_64, false, false},
	specs.ArchX32:         {specs.ArchX32, unix.AUDIT_ARCH_X86_64, false, true}, // ILP32: libseccomp compares 32 bits
	specs.ArchARM:         {specs.ArchARM, unix.AUDIT_ARCH_ARM, false, true},
	specs.ArchAARCH64:     {specs.ArchAARCH64, unix.AUDIT_ARCH_AARCH64, false, false},
	specs.ArchLOONGARCH64: {specs.ArchLOONGARCH64, unix.AUDIT_ARCH_LOONGARCH64, false, false},
	specs.ArchMIPS:        {specs.ArchMIPS, unix.AUDIT_ARCH_MIPS, true, true},
	specs.ArchMIPSEL:      {specs.ArchMIPSEL, unix.AUDIT_ARCH_MIPSEL, false, true},
	specs.ArchMIPS64:      {specs.ArchMIPS64, unix.AUDIT_ARCH_MIPS64, true, false},
	specs.ArchMIPSEL64:    {specs.ArchMIPSEL64, unix.AUDIT_ARCH_MIPSEL64, false, false},
	specs.ArchPPC:         {specs.ArchPPC, unix.AUDIT_ARCH_PPC, true, true},
	specs.ArchPPC64:       {specs.ArchPPC64, unix.AUDIT_ARCH_PPC64, true, false},
	specs.ArchPPC64LE:     {specs.ArchPPC64LE, unix.AUDIT_ARCH_PPC64LE, false, false},
	specs.ArchRISCV64:     {specs.ArchRISCV64, unix.AUDIT_ARCH_RISCV64, false, false},
	specs.ArchS390X:       {specs.ArchS390X, unix.AUDIT_ARCH_S390X, true, false},
}

// tableless are libseccomp architectures without a syscall table here. They
// are left out of the filter, so their syscalls get the bad arch action:
// failing closed rather than refusing a profile (Docker's lists
// SCMP_ARCH_S390 with SCMP_ARCH_S390X, for instance).
var tableless = map[specs.Arch]bool{
	specs.ArchMIPS64N32: true, specs.ArchMIPSEL64N32: true, specs.ArchS390: true,
	specs.ArchPARISC: true, specs.ArchPARISC64: true, specs.ArchM68K: true,
	specs.ArchSH: true, specs.ArchSHEB: true,
}

// nativeArches maps GOARCH to the libseccomp architecture of this binary.
var nativeArches = map[string]specs.Arch{
	"386":      specs.ArchX86,
	"amd64":    specs.ArchX86_64,
	"arm":      specs.ArchARM,
	"arm64":    specs.ArchAARCH64,
	"loong64":  specs.ArchLOONGARCH64,
	"mips":     specs.ArchMIPS,
	"mipsle":   specs.ArchMIPSEL,
	"mips64":   specs.ArchMIPS64,
	"mips64le": specs.ArchMIPSEL64,
	"ppc64":    specs.ArchPPC64,
	"ppc64le":  specs.ArchPPC64LE,
	"riscv64":  specs.ArchRISCV64,
	"s390x":    specs.ArchS390X,
}

// NativeArch is the libseccomp name of the architecture this binary runs as;
// every filter includes it.
func NativeArch() specs.Arch {
	return nativeArches[goruntime.GOARCH]
}

// lookupArch returns the description of a libseccomp architecture name.
func lookupArch(name specs.Arch) (arch, error) {
	a, ok := arches[name]
	if !ok {
		return arch{}, fmt.Errorf("architectures: %q is not a supported architecture", name)
	}
	return a, nil
}

// argOffsets returns the offsets in seccomp_data of the low and high 32-bit
// halves of argument i.
func (a arch) argOffsets(i uint) (lo, hi uint32) {
	base := uint32(16 + 8*i)
	if a.bigEndian {
		return base + 4, base
	}
	return base, base + 4
}
