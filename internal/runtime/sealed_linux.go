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

// sealedImage returns the init image as a file to exec that nothing in a
// container can write to through /proc/<init>/exe: a sealed memfd (about
// 90 KB), or where the host refuses executable memfds
// (vm.memfd_noexec=2), a detached read-only mount of a copy written in dir
// and unlinked at once.
func sealedImage(dir string) (*os.File, error) {
	f, err := memfdImage()
	if err != nil {
		var ferr error
		if f, ferr = fileImage(dir); ferr != nil {
			return nil, fmt.Errorf("init image: %w; in %s: %w", err, dir, ferr)
		}
	}
	return highFd(f)
}

func memfdImage() (*os.File, error) {
	return sealedMemfd("init image", func(f *os.File) error {
		_, err := f.Write(initImage)
		return err
	})
}

// sealedMemfd returns a memfd that fill writes, then sealed against any
// change. MFD_EXEC keeps it executable where vm.memfd_noexec=1 makes
// memfds non-executable by default; kernels before 6.3 know no such flag,
// and their memfds are executable.
func sealedMemfd(what string, fill func(*os.File) error) (*os.File, error) {
	flags := unix.MFD_CLOEXEC | unix.MFD_ALLOW_SEALING
	fd, err := unix.MemfdCreate("berth:[init]", flags|unix.MFD_EXEC)
	if err == unix.EINVAL {
		fd, err = unix.MemfdCreate("berth:[init]", flags)
	}
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	mf := os.NewFile(uintptr(fd), "berth-"+what)
	if err := fill(mf); err != nil {
		mf.Close()
		return nil, fmt.Errorf("copy %s: %w", what, err)
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals); err != nil {
		mf.Close()
		return nil, fmt.Errorf("seal %s: %w", what, err)
	}
	return mf, nil
}

// fileImage writes the image to a file in dir and returns a detached,
// read-only bind mount of it (as roBindExe does for berth), executable
// even if dir's file system is mounted noexec; the file is removed before
// it returns, the mount keeping it.
func fileImage(dir string) (*os.File, error) {
	tmp, err := os.CreateTemp(dir, ".berth-init-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(initImage)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o500)
	}
	if err != nil {
		return nil, err
	}
	return roBind(tmp.Name())
}

// sealedExeMinFd is the lowest descriptor the sealed binary may take; the
// init gets at most a handful of extra files.
const sealedExeMinFd = 32

func roBindExe() (*os.File, error) { return roBind("/proc/self/exe") }

// roBind returns a detached bind mount of the file at p, read-only, nosuid
// and nodev, and not noexec even where p's file system is.
func roBind(p string) (*os.File, error) {
	fd, err := unix.OpenTree(unix.AT_FDCWD, p, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("open_tree: %w", err)
	}
	attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV, Attr_clr: unix.MOUNT_ATTR_NOEXEC}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, attr); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("mount_setattr: %w", err)
	}
	return os.NewFile(uintptr(fd), "berth-ro-bind"), nil
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
	return sealedMemfd("own binary", func(f *os.File) error {
		for off, size := int64(0), fi.Size(); off < size; {
			n, err := unix.Sendfile(int(f.Fd()), int(src.Fd()), nil, int(size-off))
			if err != nil {
				return err
			}
			if n == 0 {
				break
			}
			off += int64(n)
		}
		return nil
	})
}
