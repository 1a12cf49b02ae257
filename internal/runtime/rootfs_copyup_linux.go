package runtime

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// mountTmpfsCopyUp mounts a tmpfs on dest and copies what dest held into
// it (the tmpcopyup option of runc and crun, which podman gives --tmpfs
// mounts): the directory is opened before the mount, so its content stays
// readable under the new tmpfs, and copied, owners, modes and times kept;
// the tmpfs's root takes the directory's owner and mode.
func mountTmpfsCopyUp(root *inRoot, source, dest string, flags uintptr, data string) error {
	return root.withPath(dest, createDir, func(target string) error {
		old, err := unix.Open(target, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("tmpcopyup: open %s: %w", dest, err)
		}
		defer unix.Close(old)
		var st unix.Stat_t
		if err := unix.Fstat(old, &st); err != nil {
			return fmt.Errorf("tmpcopyup: stat %s: %w", dest, err)
		}
		// Writable for the copy; read-only afterwards if asked.
		if err := unix.Mount(source, target, "tmpfs", flags&^unix.MS_RDONLY, data); err != nil {
			return err
		}
		// The new tmpfs, reached by path through the root (target, by
		// descriptor, still names the directory under it).
		return root.withPath(dest, createNone, func(mounted string) error {
			nfd, err := unix.Open(mounted, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				return fmt.Errorf("tmpcopyup: open the tmpfs on %s: %w", dest, err)
			}
			defer unix.Close(nfd)
			if err := copyDirAt(old, nfd); err != nil {
				return fmt.Errorf("tmpcopyup: copy %s: %w", dest, err)
			}
			if err := unix.Fchown(nfd, int(st.Uid), int(st.Gid)); err != nil {
				return err
			}
			if err := unix.Fchmod(nfd, st.Mode&0o7777); err != nil {
				return err
			}
			if flags&unix.MS_RDONLY != 0 {
				return unix.Mount("", mounted, "", flags|unix.MS_REMOUNT, data)
			}
			return nil
		})
	})
}

// copyDirAt copies the entries of directory src into directory dst, by
// descriptors only (never following a symlink of the tree).
func copyDirAt(src, dst int) error {
	dup, err := unix.Dup(src)
	if err != nil {
		return err
	}
	d := os.NewFile(uintptr(dup), "copyup")
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := copyEntryAt(src, dst, name); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

func copyEntryAt(src, dst int, name string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(src, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	mode := st.Mode & 0o7777
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		if err := unix.Mkdirat(dst, name, 0o700); err != nil {
			return err
		}
		s, err := unix.Openat(src, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(s)
		t, err := unix.Openat(dst, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(t)
		if err := copyDirAt(s, t); err != nil {
			return err
		}
	case unix.S_IFREG:
		s, err := unix.Openat(src, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		sf := os.NewFile(uintptr(s), name)
		defer sf.Close()
		t, err := unix.Openat(dst, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return err
		}
		tf := os.NewFile(uintptr(t), name)
		_, err = io.Copy(tf, sf)
		if cerr := tf.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	case unix.S_IFLNK:
		buf := make([]byte, unix.PathMax)
		n, err := unix.Readlinkat(src, name, buf)
		if err != nil {
			return err
		}
		if err := unix.Symlinkat(string(buf[:n]), dst, name); err != nil {
			return err
		}
	case unix.S_IFCHR, unix.S_IFBLK, unix.S_IFIFO, unix.S_IFSOCK:
		if err := unix.Mknodat(dst, name, st.Mode&unix.S_IFMT|0o600, int(st.Rdev)); err != nil {
			return err
		}
	default:
		return nil
	}
	if err := unix.Fchownat(dst, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		if err := unix.Fchmodat(dst, name, mode, 0); err != nil {
			return err
		}
	}
	times := []unix.Timespec{st.Atim, st.Mtim}
	return unix.UtimesNanoAt(dst, name, times, unix.AT_SYMLINK_NOFOLLOW)
}
