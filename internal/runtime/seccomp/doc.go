// Package seccomp owns the translation of an OCI runtime-spec seccomp
// configuration into a classic BPF program and its installation on the
// calling process, in pure Go (no libseccomp).
//
// Compile checks the configuration and builds a Filter; Filter.Load installs
// it with seccomp(SECCOMP_SET_MODE_FILTER). Setting no_new_privs (or holding
// CAP_SYS_ADMIN) is the caller's job, because the runtime decides where in the
// init sequence that happens.
//
// # Semantics (those of libseccomp, as runc uses it)
//
//   - The native architecture of the running binary is always in the filter,
//     like a libseccomp filter made by seccomp_init; the listed architectures
//     are added to it. A syscall made with any other architecture's
//     convention gets the "bad arch" action, SCMP_ACT_KILL (kill the thread),
//     libseccomp's default that runc does not change.
//   - Architectures libseccomp knows but this package has no syscall table
//     for (SCMP_ARCH_S390, SCMP_ARCH_MIPS64N32, SCMP_ARCH_MIPSEL64N32,
//     SCMP_ARCH_PARISC, SCMP_ARCH_PARISC64, SCMP_ARCH_M68K, SCMP_ARCH_SH,
//     SCMP_ARCH_SHEB) are left out, so their syscalls get the bad arch
//     action; an architecture name nobody knows is an error.
//   - x32 and x86_64 share AUDIT_ARCH_X86_64; x32 syscall numbers carry
//     __X32_SYSCALL_BIT. Numbers with that bit get the bad arch action unless
//     SCMP_ARCH_X32 is in the filter, and numbers without it get the bad arch
//     action unless SCMP_ARCH_X86_64 is.
//   - A syscall name unknown for one architecture is skipped for that
//     architecture.
//   - Argument conditions compare the 64-bit argument as unsigned, high and
//     low 32-bit halves separately; on 32-bit architectures only the low half
//     exists, so only the low 32 bits of the value (and mask) are compared;
//     x32 counts as 32-bit, as in libseccomp. The conditions of one rule are
//     ANDed. SCMP_CMP_MASKED_EQ takes the mask in value and the expected value
//     in valueTwo, and compares (arg & mask) with (valueTwo & mask).
//   - Several rules for the same syscall: the first rule without conditions
//     decides the syscall (libseccomp drops the others); otherwise the rules
//     are tried in the order given and the first whose conditions all match
//     applies; if none matches, the default action applies. (libseccomp
//     orders overlapping conditional rules with different actions its own
//     way; profiles do not rely on that.) A rule whose action equals the
//     default action is dropped, as runc does.
//   - errnoRet applies to SCMP_ACT_ERRNO and SCMP_ACT_TRACE and defaults to
//     EPERM; defaultErrnoRet likewise for the default action.
//   - runc's -ENOSYS stub: unless the default action is SCMP_ACT_ALLOW,
//     SCMP_ACT_LOG or SCMP_ACT_TRACE, or already returns ENOSYS, a syscall
//     numbered above every syscall the configuration names for its
//     architecture returns ENOSYS (on s390x also syscall 0, through which
//     the kernel multiplexes syscalls it does not know), so that programs
//     fall back from syscalls newer than the profile.
//   - SCMP_ACT_NOTIFY needs listenerPath and may not be used for write (the
//     init reports the listener to its parent with write, as in runc). Such a
//     filter is installed with LoadListener, which returns the listener, and
//     SendListener hands it to the seccomp agent at listenerPath with the
//     container process state, as the runtime-spec describes.
//
// Where Berth differs from runc on purpose:
//
//   - A syscall name no table knows is an error naming it; runc ignores it.
//   - Conditions repeating an argument index are ANDed like the others; runc
//     splits such a rule into one rule per condition (ORed), a workaround for
//     libseccomp. Docker's default profile has no such rule.
//   - The -ENOSYS stub also covers the native architecture when
//     architectures is empty (runc's covers listed architectures only), and
//     its bound comes from Berth's tables, which know newer syscalls than
//     libseccomp 2.5.
//   - Architectures of different endianness may be mixed (libseccomp
//     refuses); socket(2) and the SysV IPC calls are filtered as the direct
//     syscalls on x86, not also through socketcall/ipc as libseccomp does.
//
// The tests check the programs with a BPF interpreter against a reference
// written from the rules above, and against libseccomp's own programs
// (Debian's python3-seccomp, when installed) on random configurations and
// Docker's default profile.
//
// # Program shape
//
//	load arch; jeq each filtered arch -> its block; ret bad-arch
//	block: load nr; (x86_64: split x32 by __X32_SYSCALL_BIT)
//	       -ENOSYS stub: jgt largest named number -> ret ENOSYS
//	       binary search over the syscall numbers (linear below 8 entries)
//	       -> ret action, or -> the syscall's argument rules -> ret action
//	       anything else -> ret default action
//
// The program is emitted back to front, so every jump target is already
// placed when a jump is written; a conditional jump further than 255
// instructions goes through a trampoline (a copy of the return, or a ja).
// A program longer than the kernel's BPF_MAXINSNS (4096) is an error.
//
// The syscall tables in zsyscalls.go are generated by mksyscalls.go from
// golang.org/x/sys (go generate).
package seccomp

//go:generate go run mksyscalls.go
