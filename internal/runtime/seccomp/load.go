package seccomp

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Load installs the filter on the calling process with
// seccomp(SECCOMP_SET_MODE_FILTER), always with SECCOMP_FILTER_FLAG_TSYNC so
// that every thread of the Go process gets it, plus the configured flags.
// The caller must have set no_new_privs (prctl PR_SET_NO_NEW_PRIVS) or hold
// CAP_SYS_ADMIN.
func (f *Filter) Load() error {
	if len(f.prog) == 0 {
		return errors.New("load seccomp filter: empty program")
	}
	prog := unix.SockFprog{Len: uint16(len(f.prog)), Filter: &f.prog[0]}
	flags := f.flags | unix.SECCOMP_FILTER_FLAG_TSYNC
	r, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(flags), uintptr(unsafe.Pointer(&prog)))
	runtime.KeepAlive(f)
	switch {
	case errno == unix.EACCES:
		return fmt.Errorf("load seccomp filter: %w (no_new_privs is not set and CAP_SYS_ADMIN is missing)", errno)
	case errno != 0:
		return fmt.Errorf("load seccomp filter (%d instructions, flags %#x): %w", len(f.prog), flags, errno)
	case r != 0:
		// With TSYNC, a positive return is the thread that could not be synchronized.
		return fmt.Errorf("load seccomp filter: thread %d could not be synchronized", r)
	}
	return nil
}
