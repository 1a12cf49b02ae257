package runtime

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Every path the runtime mounts onto or creates inside a container's root is
// resolved with the root as the boundary: ".." stops at the root and a
// symbolic link (absolute or relative) is followed as if the process were
// chrooted into the root, so a hostile rootfs can never redirect a mount to the
// host. The result is an O_PATH file descriptor; mounts then target
// /proc/self/fd/N, which names exactly that file however the path is swapped
// afterwards.
//
// With openat2(2) (Linux 5.6+) the kernel does the resolution with
// RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS. Without it, walkInRoot resolves one
// component at a time with O_NOFOLLOW, reading links itself and keeping its
// own stack of directory descriptors for "..", which is equally race-free: a
// component swapped for a symlink after being checked is never followed by the
// kernel.

// maxSymlinks is the link budget of one resolution, as the kernel's (40).
const maxSymlinks = 40

// openat2Disabled forces walkInRoot; set once openat2 is found missing (or by
// tests to exercise the fallback).
var openat2Disabled atomic.Bool

// createKind says what walkInRoot creates when the path does not exist.
type createKind int

const (
	createNone createKind = iota
	createDir             // missing components become directories (0755)
	createFile            // missing parents become directories, the last an empty file (0644)
)

// openInRoot opens unsafePath resolved inside the directory rootFd, creating
// it as asked, and returns an O_PATH descriptor of the result.
func openInRoot(rootFd int, unsafePath string, create createKind) (int, error) {
	if !openat2Disabled.Load() {
		fd, err := openat2InRoot(rootFd, unsafePath)
		switch {
		case err == nil:
			return fd, nil
		case errors.Is(err, unix.ENOSYS):
			openat2Disabled.Store(true)
		case errors.Is(err, unix.ENOENT) && create != createNone:
			// fall through to create the missing components
		default:
			return -1, err
		}
	}
	return walkInRoot(rootFd, unsafePath, create)
}

func openat2InRoot(rootFd int, unsafePath string) (int, error) {
	how := unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	rel := strings.TrimLeft(unsafePath, "/")
	if rel == "" {
		rel = "."
	}
	var err error
	for range 16 {
		var fd int
		fd, err = unix.Openat2(rootFd, rel, &how)
		if err == nil {
			return fd, nil
		}
		// EAGAIN: a rename raced with a ".." lookup; the kernel asks to retry.
		if !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EINTR) {
			break
		}
	}
	return -1, &os.PathError{Op: "openat2", Path: unsafePath, Err: err}
}

// walkInRoot resolves unsafePath under rootFd one component at a time without
// letting the kernel follow any symlink, creating missing components as asked.
func walkInRoot(rootFd int, unsafePath string, create createKind) (fd int, err error) {
	root, err := unix.Openat(rootFd, ".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, &os.PathError{Op: "open root", Path: unsafePath, Err: err}
	}
	stack := []int{root}
	defer func() {
		for _, d := range stack {
			if d != fd {
				unix.Close(d)
			}
		}
	}()
	remaining := unsafePath
	links := 0
	for {
		var part string
		part, remaining = nextComponent(remaining)
		if part == "" {
			break
		}
		switch part {
		case ".":
			continue
		case "..":
			if len(stack) > 1 {
				unix.Close(stack[len(stack)-1])
				stack = stack[:len(stack)-1]
			}
			continue
		}
		cur := stack[len(stack)-1]
		last := isLastComponent(remaining)
		next, err := unix.Openat(cur, part, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOENT) && create != createNone {
			next, err = createAt(cur, part, create == createFile && last)
		}
		if err != nil {
			return -1, &os.PathError{Op: "open", Path: unsafePath, Err: err}
		}
		var st unix.Stat_t
		if err := unix.Fstat(next, &st); err != nil {
			unix.Close(next)
			return -1, &os.PathError{Op: "stat", Path: unsafePath, Err: err}
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFLNK:
			links++
			target, err := readlinkFd(next)
			unix.Close(next)
			if err != nil {
				return -1, &os.PathError{Op: "readlink", Path: unsafePath, Err: err}
			}
			if links > maxSymlinks {
				return -1, &os.PathError{Op: "open", Path: unsafePath, Err: unix.ELOOP}
			}
			if strings.HasPrefix(target, "/") {
				for _, d := range stack[1:] {
					unix.Close(d)
				}
				stack = stack[:1]
			}
			remaining = target + "/" + remaining
		case unix.S_IFDIR:
			stack = append(stack, next)
		default:
			if !last {
				unix.Close(next)
				return -1, &os.PathError{Op: "open", Path: unsafePath, Err: unix.ENOTDIR}
			}
			stack = append(stack, next)
		}
	}
	fd = stack[len(stack)-1]
	return fd, nil
}

// createAt makes name in dir (an empty file when file, else a directory) and
// opens it O_PATH without following a symlink someone may have put there.
func createAt(dir int, name string, file bool) (int, error) {
	if file {
		fd, err := unix.Openat(dir, name, unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_RDONLY|unix.O_CLOEXEC, 0o644)
		if err == nil {
			unix.Close(fd)
		} else if !errors.Is(err, unix.EEXIST) {
			return -1, err
		}
	} else if err := unix.Mkdirat(dir, name, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
		return -1, err
	}
	return unix.Openat(dir, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
}

// nextComponent splits the first path component off p.
func nextComponent(p string) (part, rest string) {
	p = strings.TrimLeft(p, "/")
	if i := strings.IndexByte(p, '/'); i >= 0 {
		return p[:i], p[i+1:]
	}
	return p, ""
}

// isLastComponent reports whether rest names no further component (only
// slashes and "." remain). A trailing ".." is not last: it walks back up.
func isLastComponent(rest string) bool {
	for {
		var part string
		part, rest = nextComponent(rest)
		switch part {
		case "":
			return true
		case ".":
			continue
		default:
			return false
		}
	}
}

func readlinkFd(fd int) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(fd, "", buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}

// procFdPath names the file behind fd for syscalls that take a path (mount,
// chmod): the kernel follows the magic link to exactly that file.
func procFdPath(fd int) string {
	return "/proc/self/fd/" + strconv.Itoa(fd)
}

// inRoot is a container root directory, held open while paths are resolved
// inside it.
type inRoot struct {
	fd   int
	path string // for messages and for reaching host-side sources
}

func openRoot(dir string) (*inRoot, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open root %s: %w", dir, err)
	}
	return &inRoot{fd: fd, path: dir}, nil
}

func (r *inRoot) close() { unix.Close(r.fd) }

// open resolves p inside the root (see openInRoot) and returns an O_PATH fd.
func (r *inRoot) open(p string, create createKind) (int, error) {
	fd, err := openInRoot(r.fd, p, create)
	if err != nil {
		return -1, fmt.Errorf("resolve %s in root %s: %w", p, r.path, err)
	}
	return fd, nil
}

// withPath resolves p inside the root and calls fn with a path naming the
// result (/proc/self/fd/N). The descriptor is closed when fn returns; open it
// again after a mount on it to reach the new mount.
func (r *inRoot) withPath(p string, create createKind, fn func(target string) error) error {
	fd, err := r.open(p, create)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return fn(r.target(fd, p))
}

// target names the file behind fd for mount(2) and friends: /proc/self/fd/N.
// After enterRootfs (root "/") a container without /proc gets the cleaned
// path instead; it was just resolved inside the root, and the process cannot
// see anything outside its root any more.
func (r *inRoot) target(fd int, p string) string {
	t := procFdPath(fd)
	if r.path == "/" {
		if err := unix.Access("/proc/self/fd", unix.F_OK); err != nil {
			return cleanDest(p)
		}
	}
	return t
}

// cleanDest makes a mount destination absolute and clean. Relative
// destinations are taken relative to the container's root, as runc does.
func cleanDest(dest string) string {
	return path.Clean("/" + dest)
}
