package runtime

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// sealedExe returns a file the container's init is exec'd from, such that a
// process in the container that reaches /proc/<init>/exe can never write to
// the host's berth binary (CVE-2019-5736).
//
// The fast way, as runc 1.2 does: a detached, read-only bind mount of our own
// binary (open_tree + mount_setattr). The mount is attached to no namespace,
// so nothing in a container can remount it writable, and it disappears with
// its last reference. Where the kernel lacks those calls (before 5.12), a
// sealed memfd copy of the binary is used instead.
//
// The caller execs "/proc/self/fd/<fd>" and closes the file afterwards.
func sealedExe() (*os.File, error) {
	f, err := roBindExe()
	if err != nil {
		if f, err = memfdExe(); err != nil {
			return nil, err
		}
	}
	return highFd(f)
}

// highFd moves f above the descriptors the child's stdio and extra files
// (and Go's temporary copies of them) are dup'ed onto before the exec, or
// the exec path would name one of them. It stays below 64, the size of a
// new fd table: growing the table of a threaded process waits for an RCU
// grace period (about 10 ms here).
func highFd(f *os.File) (*os.File, error) {
	hi, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, sealedExeMinFd)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("dup sealed binary: %w", err)
	}
	return os.NewFile(uintptr(hi), "berth-sealed-exe"), nil
}

// sealedImage returns the init image in a sealed memfd (about 90 KB): as
// the sealed binary, nothing in a container can write to what
// /proc/<init>/exe names.
func sealedImage() (*os.File, error) {
	fd, err := unix.MemfdCreate("berth:[init]", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	mf := os.NewFile(uintptr(fd), "berth-init-image")
	if _, err := mf.Write(initImage); err != nil {
		mf.Close()
		return nil, fmt.Errorf("copy init image: %w", err)
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals); err != nil {
		mf.Close()
		return nil, fmt.Errorf("seal init image: %w", err)
	}
	return highFd(mf)
}

// sealedExeMinFd is the lowest descriptor the sealed binary may take; the
// init gets at most a handful of extra files.
const sealedExeMinFd = 32

func roBindExe() (*os.File, error) {
	fd, err := unix.OpenTree(unix.AT_FDCWD, "/proc/self/exe", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return nil, err
	}
	attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, attr); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), "berth-ro-exe"), nil
}

func memfdExe() (*os.File, error) {
	src, err := os.Open("/proc/self/exe")
	if err != nil {
		return nil, fmt.Errorf("open own binary: %w", err)
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return nil, err
	}
	fd, err := unix.MemfdCreate("berth:[init]", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	mf := os.NewFile(uintptr(fd), "berth-sealed")
	size := fi.Size()
	var off int64
	for off < size {
		n, err := unix.Sendfile(fd, int(src.Fd()), nil, int(size-off))
		if err != nil {
			mf.Close()
			return nil, fmt.Errorf("copy own binary: %w", err)
		}
		if n == 0 {
			break
		}
		off += int64(n)
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals); err != nil {
		mf.Close()
		return nil, fmt.Errorf("seal own binary: %w", err)
	}
	return mf, nil
}
