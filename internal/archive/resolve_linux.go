package archive

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// errEscape is returned for a name whose ".." would leave the root.
var errEscape = errors.New(`".." climbs above the root`)

// cleanName turns a name from an archive into a clean path relative to the
// root ("." for the root itself), or fails if it climbs above the root.
func cleanName(name string) (string, error) {
	if strings.IndexByte(name, 0) >= 0 {
		return "", errors.New("name contains a NUL byte")
	}
	p := path.Clean("/" + name)
	if p == "/" {
		return ".", nil
	}
	// path.Clean of a rooted path never keeps "..", so test the raw name: a
	// ".." that would climb above the root is an attack, not a typo.
	depth := 0
	for part := range strings.SplitSeq(name, "/") {
		switch part {
		case "", ".":
		case "..":
			depth--
			if depth < 0 {
				return "", errEscape
			}
		default:
			depth++
		}
	}
	return p[1:], nil
}

// beneath is the openat2 resolution used for every path inside the root.
const beneath = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS

// openBeneath opens rel (clean, relative) under rootFd with the kernel
// keeping the resolution beneath rootFd.
func openBeneath(rootFd int, rel string, flags uint64) (int, error) {
	how := unix.OpenHow{Flags: flags | unix.O_CLOEXEC, Resolve: beneath}
	for range 16 {
		fd, err := unix.Openat2(rootFd, rel, &how)
		if err == nil {
			return fd, nil
		}
		// EAGAIN: a concurrent rename raced with a ".." lookup.
		if !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EINTR) {
			return -1, err
		}
	}
	return -1, unix.EAGAIN
}

// resolveError explains an openat2 failure for the user.
func resolveError(what, p string, err error) error {
	switch {
	case errors.Is(err, unix.EXDEV), errors.Is(err, unix.ELOOP):
		return unsafeErr("%s %q goes through a symbolic link that leads outside the root", what, p)
	case errors.Is(err, unix.ENOTDIR):
		return fmt.Errorf("%s %q: a component is not a directory", what, p)
	case errors.Is(err, unix.ENOSYS):
		return fmt.Errorf("%s %q: openat2 is not available (Linux 5.6+ is required): %w", what, p, err)
	}
	return fmt.Errorf("%s %q: %w", what, p, err)
}

// procFd names an open descriptor for the *xattr and chmod calls that have no
// descriptor-relative form. It is our own descriptor, so following the magic
// link lands exactly on the file it refers to.
func procFd(fd int) string {
	return "/proc/self/fd/" + strconv.Itoa(fd)
}

// removeAllAt removes name in the directory dirFd, recursively, without ever
// following a symlink.
func removeAllAt(dirFd int, name string) error {
	err := unix.Unlinkat(dirFd, name, 0)
	if err == nil || errors.Is(err, unix.ENOENT) {
		return nil
	}
	if !errors.Is(err, unix.EISDIR) && !errors.Is(err, unix.EPERM) {
		return err
	}
	fd, err := unix.Openat(dirFd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	d := os.NewFile(uintptr(fd), name)
	names, err := d.Readdirnames(-1)
	if err != nil {
		d.Close()
		return err
	}
	for _, n := range names {
		if err := removeAllAt(fd, n); err != nil {
			d.Close()
			return err
		}
	}
	d.Close()
	err = unix.Unlinkat(dirFd, name, unix.AT_REMOVEDIR)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	return err
}
