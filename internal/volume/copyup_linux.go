package volume

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// CopyUp fills the volume, if it is still empty, with the content of srcDir
// (the image's directory at the mount destination, resolved by the caller
// inside the container's rootfs), as dockerd does on a volume's first
// mount: owners, modes (setuid and sticky bits too), extended attributes,
// modification times, symlinks, hard links, devices and fifos are kept, and
// the volume's root takes srcDir's owner and mode. A volume that holds
// anything, or a srcDir that does not exist or is not a directory, is left
// as it is. Symlinks are copied, never followed.
func (s *Store) CopyUp(ctx context.Context, name, srcDir string) error {
	return s.CopyUpSubpath(ctx, name, "", srcDir)
}

// CopyUpSubpath is CopyUp into the directory sub of the volume (a mount's
// VolumeOptions.Subpath), when that directory is empty, as dockerd fills
// it. sub is resolved beneath the volume (openat2); one that leads out of
// it, or is not a directory, is left to the mount to refuse.
func (s *Store) CopyUpSubpath(ctx context.Context, name, sub, srcDir string) error {
	v, err := s.Get(ctx, name)
	if err != nil {
		return err
	}
	if sub != "" {
		root, err := unix.Open(v.Mountpoint, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("copy up into volume %s: %w", name, err)
		}
		defer unix.Close(root)
		fd, err := unix.Openat2(root, sub, &unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS})
		if err != nil {
			return nil
		}
		defer unix.Close(fd)
		v.Mountpoint = fmt.Sprintf("/proc/self/fd/%d", fd)
	}
	st, err := os.Lstat(srcDir)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && !st.IsDir()) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("copy up into volume %s: %w", name, err)
	}
	dst := v.Mountpoint
	des, err := os.ReadDir(dst)
	if err != nil {
		return fmt.Errorf("copy up into volume %s: %w", name, err)
	}
	if len(des) > 0 {
		return nil
	}
	c := copier{links: map[uint64]string{}}
	if err := c.tree(ctx, srcDir, dst); err != nil {
		return fmt.Errorf("copy up %s into volume %s: %w", srcDir, name, err)
	}
	return nil
}

type copier struct {
	links map[uint64]string // inode of a multiply-linked file -> its copy
}

// tree copies the content of directory src into the existing directory
// dst, then gives dst src's metadata.
func (c *copier) tree(ctx context.Context, src, dst string) error {
	des, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, de := range des {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := c.entry(ctx, filepath.Join(src, de.Name()), filepath.Join(dst, de.Name())); err != nil {
			return err
		}
	}
	var st unix.Stat_t
	if err := unix.Lstat(src, &st); err != nil {
		return fmt.Errorf("stat %s: %w", src, err)
	}
	return copyMeta(src, dst, &st)
}

func (c *copier) entry(ctx context.Context, src, dst string) error {
	var st unix.Stat_t
	if err := unix.Lstat(src, &st); err != nil {
		return fmt.Errorf("stat %s: %w", src, err)
	}
	mode := st.Mode & unix.S_IFMT
	if mode != unix.S_IFDIR && st.Nlink > 1 {
		if first, ok := c.links[st.Ino]; ok {
			if err := os.Link(first, dst); err != nil {
				return err
			}
			return nil
		}
		c.links[st.Ino] = dst
	}
	switch mode {
	case unix.S_IFDIR:
		if err := os.Mkdir(dst, 0o700); err != nil {
			return err
		}
		return c.tree(ctx, src, dst)
	case unix.S_IFREG:
		if err := copyFile(src, dst); err != nil {
			return err
		}
	case unix.S_IFLNK:
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		if err := os.Symlink(target, dst); err != nil {
			return err
		}
	case unix.S_IFIFO, unix.S_IFCHR, unix.S_IFBLK, unix.S_IFSOCK:
		if mode == unix.S_IFSOCK {
			return nil // sockets are not content; dockerd skips them too
		}
		if err := unix.Mknod(dst, st.Mode, int(st.Rdev)); err != nil {
			return fmt.Errorf("mknod %s: %w", dst, err)
		}
	default:
		return fmt.Errorf("%s: unsupported file type %#o", src, mode)
	}
	return copyMeta(src, dst, &st)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return out.Close()
}

// copyMeta gives dst src's owner, mode, extended attributes and times
// (without following a symlink dst).
func copyMeta(src, dst string, st *unix.Stat_t) error {
	if err := unix.Lchown(dst, int(st.Uid), int(st.Gid)); err != nil {
		return fmt.Errorf("chown %s: %w", dst, err)
	}
	isLink := st.Mode&unix.S_IFMT == unix.S_IFLNK
	if !isLink {
		// After chown, which clears setuid and setgid bits.
		if err := unix.Chmod(dst, st.Mode&07777); err != nil {
			return fmt.Errorf("chmod %s: %w", dst, err)
		}
	}
	if err := copyXattrs(src, dst); err != nil {
		return err
	}
	ts := []unix.Timespec{st.Atim, st.Mtim}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, dst, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set times of %s: %w", dst, err)
	}
	return nil
}

func copyXattrs(src, dst string) error {
	size, err := unix.Llistxattr(src, nil)
	if err != nil {
		if errors.Is(err, unix.ENOTSUP) {
			return nil
		}
		return fmt.Errorf("list xattrs of %s: %w", src, err)
	}
	if size == 0 {
		return nil
	}
	buf := make([]byte, size)
	size, err = unix.Llistxattr(src, buf)
	if err != nil {
		return fmt.Errorf("list xattrs of %s: %w", src, err)
	}
	for _, name := range splitNul(buf[:size]) {
		vsize, err := unix.Lgetxattr(src, name, nil)
		if err != nil {
			return fmt.Errorf("xattr %s of %s: %w", name, src, err)
		}
		val := make([]byte, vsize)
		vsize, err = unix.Lgetxattr(src, name, val)
		if err != nil {
			return fmt.Errorf("xattr %s of %s: %w", name, src, err)
		}
		if err := unix.Lsetxattr(dst, name, val[:vsize], 0); err != nil {
			if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EPERM) && isLinkPath(dst) {
				continue
			}
			return fmt.Errorf("xattr %s on %s: %w", name, dst, err)
		}
	}
	return nil
}

func isLinkPath(p string) bool {
	st, err := os.Lstat(p)
	return err == nil && st.Mode()&fs.ModeSymlink != 0
}

func splitNul(b []byte) []string {
	var out []string
	start := 0
	for i, c := range b {
		if c == 0 {
			if i > start {
				out = append(out, string(b[start:i]))
			}
			start = i + 1
		}
	}
	return out
}

// dirSize is the apparent size of the regular files under dir, each
// hard-linked file counted once (dockerd's volume size).
func dirSize(dir string) (int64, error) {
	var total int64
	seen := map[uint64]bool{}
	err := filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !de.Type().IsRegular() {
			return nil
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return nil
		}
		if st.Nlink > 1 {
			if seen[st.Ino] {
				return nil
			}
			seen[st.Ino] = true
		}
		total += st.Size
		return nil
	})
	return total, err
}

// Usage reports the volume's size in bytes and how many containers use it
// (for `system df`).
func (s *Store) Usage(ctx context.Context, name string) (size int64, refCount int, err error) {
	v, err := s.Get(ctx, name)
	if err != nil {
		return 0, 0, err
	}
	size, err = dirSize(v.Mountpoint)
	if err != nil {
		return 0, 0, fmt.Errorf("usage of volume %s: %w", name, err)
	}
	return size, len(s.Refs(name)), nil
}
