package seccomp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"time"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// LoadListener installs a filter with SCMP_ACT_NOTIFY rules like Load, and
// returns the listener (SECCOMP_FILTER_FLAG_NEW_LISTENER) on which the
// kernel queues the notified syscalls. Needs Linux 5.7
// (SECCOMP_FILTER_FLAG_TSYNC_ESRCH, without which TSYNC and NEW_LISTENER
// exclude each other).
func (f *Filter) LoadListener() (*os.File, error) {
	if !f.notify {
		return nil, errors.New("load seccomp filter: no SCMP_ACT_NOTIFY rule, use Load")
	}
	flags := f.flags | unix.SECCOMP_FILTER_FLAG_NEW_LISTENER | unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH
	fd, err := f.load(flags)
	if err != nil {
		return nil, err
	}
	return os.NewFile(fd, "seccomp-listener"), nil
}

// load calls seccomp(SECCOMP_SET_MODE_FILTER) with TSYNC and flags and
// returns what the kernel returned.
func (f *Filter) load(flags uint) (uintptr, error) {
	if len(f.prog) == 0 {
		return 0, errors.New("load seccomp filter: empty program")
	}
	flags |= unix.SECCOMP_FILTER_FLAG_TSYNC
	prog := unix.SockFprog{Len: uint16(len(f.prog)), Filter: &f.prog[0]}
	r, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(flags), uintptr(unsafe.Pointer(&prog)))
	runtime.KeepAlive(f)
	switch {
	case errno == unix.EACCES:
		return 0, fmt.Errorf("load seccomp filter: %w (no_new_privs is not set and CAP_SYS_ADMIN is missing)", errno)
	case errno == unix.ESRCH:
		return 0, fmt.Errorf("load seccomp filter: %w (another thread could not be synchronized)", errno)
	case errno != 0:
		return 0, fmt.Errorf("load seccomp filter (%d instructions, flags %#x): %w", len(f.prog), flags, errno)
	case flags&unix.SECCOMP_FILTER_FLAG_NEW_LISTENER == 0 && r != 0:
		// With TSYNC, a positive return is the thread that could not be synchronized.
		return 0, fmt.Errorf("load seccomp filter: thread %d could not be synchronized", r)
	}
	return r, nil
}

// ListenerFdName is the name of the listener in the fds of the state sent to
// the seccomp agent.
const ListenerFdName = "seccompFd"

// SendListener hands a listener to the seccomp agent listening on the UNIX
// socket at path: one message carrying the listener (SCM_RIGHTS) and the
// container process state as JSON, its fds set to [ListenerFdName].
func SendListener(ctx context.Context, path string, listener *os.File, state specs.ContainerProcessState) error {
	state.Fds = []string{ListenerFdName}
	if state.Version == "" {
		state.Version = specs.Version
	}
	payload, err := json.Marshal(state)
	if err != nil {
		return fmt.Errorf("send seccomp listener: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("send seccomp listener to listenerPath %s: %w", path, err)
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("send seccomp listener: socket: %w", err)
	}
	defer unix.Close(fd)
	// A unix stream connect does not block once the agent listens (the
	// kernel queues it); the deadline bounds the send.
	if dl, ok := ctx.Deadline(); ok {
		tv := unix.NsecToTimeval(max(time.Until(dl), time.Millisecond).Nanoseconds())
		_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv)
	}
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		return fmt.Errorf("send seccomp listener to listenerPath %s: dial unix %s: %w", path, path, err)
	}
	if err := sendOn(fd, payload, listener); err != nil {
		return fmt.Errorf("send seccomp listener to listenerPath %s: %w", path, err)
	}
	return nil
}

// SendListenerOn is SendListener over a connection made earlier (the
// container's init connects before pivot_root, while the agent's socket is
// still reachable, and sends once the filter is loaded).
func SendListenerOn(conn *os.File, listener *os.File, state specs.ContainerProcessState) error {
	state.Fds = []string{ListenerFdName}
	if state.Version == "" {
		state.Version = specs.Version
	}
	payload, err := json.Marshal(state)
	if err != nil {
		return fmt.Errorf("send seccomp listener: %w", err)
	}
	if dom, err := unix.GetsockoptInt(int(conn.Fd()), unix.SOL_SOCKET, unix.SO_DOMAIN); err != nil || dom != unix.AF_UNIX {
		return fmt.Errorf("send seccomp listener: not a unix socket")
	}
	err = sendOn(int(conn.Fd()), payload, listener)
	runtime.KeepAlive(conn)
	if err != nil {
		return fmt.Errorf("send seccomp listener: %w", err)
	}
	return nil
}

// sendOn sends payload with listener (SCM_RIGHTS) in one message on the
// connected unix socket fd. The package does without package net (see
// runtime's dialUnix).
func sendOn(fd int, payload []byte, listener *os.File) error {
	n, err := unix.SendmsgN(fd, payload, unix.UnixRights(int(listener.Fd())), nil, 0)
	runtime.KeepAlive(listener)
	if err != nil {
		return err
	}
	if n != len(payload) {
		return fmt.Errorf("short write (%d of %d bytes)", n, len(payload))
	}
	return nil
}
