package runtime

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// defaultUmask is the umask of a container process whose config does not set
// process.user.umask, as in runc.
const defaultUmask = 0o022

// finalizeProcess drops the init to the process's credentials right before
// seccomp and exec. It must run on a runtime.LockOSThread()'d thread, and the
// exec must follow on the same thread: capabilities, the bounding set, keep
// caps and no_new_privs are per thread. The order is runc's:
//
//  1. rlimits (prlimit on the own pid), while CAP_SYS_RESOURCE may still be held
//  2. drop the bounding set (needs CAP_SETPCAP, so before the user change)
//  3. PR_SET_KEEPCAPS, so that setuid to non-root keeps the permitted set
//  4. setgroups, setgid, setuid (of this thread only)
//  5. clear PR_SET_KEEPCAPS
//  6. capset effective, permitted, inheritable; raise the ambient set
//  7. umask, then PR_SET_NO_NEW_PRIVS when noNewPrivileges is set
//
// oom_score_adj is written by the parent, and seccomp is loaded by the caller
// after this returns.
func finalizeProcess(p *specs.Process) error {
	if p == nil {
		return errors.New("finalize process: process is required")
	}
	caps, err := newProcessCaps(p.Capabilities)
	if err != nil {
		return err
	}
	if err := setRlimits(p.Rlimits); err != nil {
		return err
	}
	if err := caps.applyBoundingSet(); err != nil {
		return err
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("set keep capabilities: %w", err)
	}
	if err := setProcessUser(p.User); err != nil {
		return err
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("clear keep capabilities: %w", err)
	}
	if err := caps.applyCaps(); err != nil {
		return err
	}
	umask := defaultUmask
	if p.User.Umask != nil {
		umask = int(*p.User.Umask)
	}
	unix.Umask(umask)
	if p.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("process.noNewPrivileges: set no_new_privs: %w", err)
		}
	}
	return nil
}

// setProcessUser sets the supplementary groups, gid and uid of the calling
// thread, which must be the one that execs. First it hands the stdio pipes
// and terminal to the user, as runc does.
func setProcessUser(u specs.User) error {
	if err := chownStdio(u.UID); err != nil {
		return err
	}
	denied, err := setgroupsDenied()
	if err != nil {
		return err
	}
	switch {
	case !denied:
		gids := u.AdditionalGids
		// Also with no additional gids: this clears the groups the init
		// inherited from the caller.
		if err := threadSetgroups(gids); err != nil {
			return fmt.Errorf("process.user.additionalGids: setgroups %v: %w", u.AdditionalGids, err)
		}
	case len(u.AdditionalGids) > 0:
		return fmt.Errorf("process.user.additionalGids: cannot set %v: setgroups is denied in this user namespace", u.AdditionalGids)
	}
	if err := threadSetid(unix.SYS_SETGID, u.GID); err != nil {
		return fmt.Errorf("process.user.gid: setgid %d: %w%s", u.GID, err, unmappedHint(err))
	}
	if err := threadSetid(unix.SYS_SETUID, u.UID); err != nil {
		return fmt.Errorf("process.user.uid: setuid %d: %w%s", u.UID, err, unmappedHint(err))
	}
	return nil
}

// threadSetgroups and threadSetid change the credentials of the calling
// thread only, with the raw system calls, as runc does (libcontainer/system).
// Go's syscall.Setgroups, Setgid and Setuid change every thread of the
// process, which with cgo linked in means glibc's setxid broadcast: a signal
// to each thread and a wait for all of them, per call. The init execs from
// this thread right after, and the exec ends the other threads.
func threadSetgroups(gids []uint32) error {
	var p unsafe.Pointer
	if len(gids) > 0 {
		p = unsafe.Pointer(&gids[0])
	}
	if _, _, errno := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(gids)), uintptr(p), 0); errno != 0 {
		return errno
	}
	return nil
}

func threadSetid(nr uintptr, id uint32) error {
	if _, _, errno := unix.RawSyscall(nr, uintptr(id), 0, 0); errno != 0 {
		return errno
	}
	return nil
}

// unmappedHint explains EINVAL from setuid/setgid, which the kernel returns
// for an id without a mapping in the current user namespace.
func unmappedHint(err error) string {
	if errors.Is(err, unix.EINVAL) {
		return " (the id is not mapped in the user namespace)"
	}
	return ""
}

// setgroupsDenied reports whether /proc/self/setgroups says "deny" (a user
// namespace whose setgroups(2) is disabled). A kernel without the file allows
// setgroups.
func setgroupsDenied() (bool, error) {
	b, err := os.ReadFile("/proc/self/setgroups")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return false, fmt.Errorf("read /proc/self/setgroups: %w", err)
	}
	return strings.TrimSpace(string(b)) == "deny", nil
}

// chownStdio gives the process's stdin, stdout and stderr to uid when they
// are pipes or terminals, so that a non-root process can reopen them
// (/dev/stdout, /proc/self/fd/1), as runc's fixStdioPermissions does. Only
// the owner changes. Unlike runc, regular files, sockets and other devices
// are left alone: they may be host files the caller redirected to. Errors
// that mean the owner cannot be changed from here (an id not mapped in the
// user namespace, a read-only file system) are ignored, as in runc.
func chownStdio(uid uint32) error {
	var null unix.Stat_t
	nullErr := unix.Stat("/dev/null", &null)
	for fd := 0; fd <= 2; fd++ {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			if errors.Is(err, unix.EBADF) {
				continue
			}
			return fmt.Errorf("chown stdio: fstat fd %d: %w", fd, err)
		}
		if st.Uid == uid {
			continue
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFIFO:
		case unix.S_IFCHR:
			if nullErr == nil && st.Rdev == null.Rdev {
				continue
			}
			if !isPtyOrTty(st.Rdev) {
				continue
			}
		default:
			continue
		}
		if err := unix.Fchown(fd, int(uid), -1); err != nil {
			if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EPERM) || errors.Is(err, unix.EROFS) {
				continue
			}
			return fmt.Errorf("chown stdio: fd %d to uid %d: %w", fd, uid, err)
		}
	}
	return nil
}

// isPtyOrTty reports whether a character device number is a terminal:
// a UNIX 98 pty slave (majors 136-143), a virtual console or serial line
// (major 4), or /dev/tty, /dev/console and /dev/ptmx (major 5).
func isPtyOrTty(rdev uint64) bool {
	major := unix.Major(rdev)
	return (major >= 136 && major <= 143) || major == 4 || major == 5
}
