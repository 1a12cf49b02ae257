package runtime

import (
	"errors"
	"fmt"
	"os"
	"path"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// deviceNode is a device file to create in the container's root.
type deviceNode struct {
	path         string // absolute inside the root
	typ          uint32 // unix.S_IFCHR, S_IFBLK or S_IFIFO
	major, minor int64
	perm         uint32
	uid, gid     uint32
}

// defaultDevices are the nodes every container gets (runtime-spec "Default
// Devices"), root-owned, mode 0666.
func defaultDevices() []deviceNode {
	return []deviceNode{
		{path: "/dev/null", typ: unix.S_IFCHR, major: 1, minor: 3, perm: 0o666},
		{path: "/dev/zero", typ: unix.S_IFCHR, major: 1, minor: 5, perm: 0o666},
		{path: "/dev/full", typ: unix.S_IFCHR, major: 1, minor: 7, perm: 0o666},
		{path: "/dev/random", typ: unix.S_IFCHR, major: 1, minor: 8, perm: 0o666},
		{path: "/dev/urandom", typ: unix.S_IFCHR, major: 1, minor: 9, perm: 0o666},
		{path: "/dev/tty", typ: unix.S_IFCHR, major: 5, minor: 0, perm: 0o666},
	}
}

// containerDevices is the default devices followed by linux.devices; an
// entry of linux.devices replaces a default one with the same path.
func containerDevices(spec *specs.Spec) ([]deviceNode, error) {
	var extra []deviceNode
	byPath := map[string]bool{}
	if spec.Linux != nil {
		for i, d := range spec.Linux.Devices {
			n, err := specDevice(d)
			if err != nil {
				return nil, fmt.Errorf("linux.devices[%d] %s: %w", i, d.Path, err)
			}
			extra = append(extra, n)
			byPath[n.path] = true
		}
	}
	var devs []deviceNode
	for _, d := range defaultDevices() {
		if !byPath[d.path] {
			devs = append(devs, d)
		}
	}
	return append(devs, extra...), nil
}

func specDevice(d specs.LinuxDevice) (deviceNode, error) {
	n := deviceNode{path: cleanDest(d.Path), major: d.Major, minor: d.Minor, perm: 0o666}
	if d.Path == "" || n.path == "/" {
		return n, errors.New("path is empty")
	}
	switch d.Type {
	case "c", "u":
		n.typ = unix.S_IFCHR
	case "b":
		n.typ = unix.S_IFBLK
	case "p":
		n.typ = unix.S_IFIFO
		n.major, n.minor = 0, 0
	default:
		return n, fmt.Errorf("type %q is not one of c, u, b, p", d.Type)
	}
	if d.FileMode != nil {
		n.perm = uint32(d.FileMode.Perm())
		if *d.FileMode&os.ModeSetuid != 0 {
			n.perm |= unix.S_ISUID
		}
		if *d.FileMode&os.ModeSetgid != 0 {
			n.perm |= unix.S_ISGID
		}
		if *d.FileMode&os.ModeSticky != 0 {
			n.perm |= unix.S_ISVTX
		}
	}
	if d.UID != nil {
		n.uid = *d.UID
	}
	if d.GID != nil {
		n.gid = *d.GID
	}
	return n, nil
}

// devIsBindMount reports whether the spec binds something onto /dev; then
// the runtime leaves /dev alone, as runc does.
func devIsBindMount(spec *specs.Spec) bool {
	for _, m := range spec.Mounts {
		if cleanDest(m.Destination) != "/dev" {
			continue
		}
		if m.Type == "bind" {
			return true
		}
		if o, err := parseMountOptions(m.Options); err == nil && o.flags&unix.MS_BIND != 0 {
			return true
		}
	}
	return false
}

// devptsAtDevPts reports whether the spec mounts a devpts at /dev/pts.
func devptsAtDevPts(spec *specs.Spec) bool {
	for _, m := range spec.Mounts {
		if m.Type == "devpts" && cleanDest(m.Destination) == "/dev/pts" {
			return true
		}
	}
	return false
}

// createDevices makes each node with mknod; when that is not permitted (a
// user namespace), it binds the host's node of the same path instead.
func createDevices(root *inRoot, devs []deviceNode) error {
	bind := false
	for _, d := range devs {
		if !bind {
			err := mknodDevice(root, d)
			if err == nil {
				continue
			}
			if !errors.Is(err, unix.EPERM) {
				return fmt.Errorf("create device %s: %w", d.path, err)
			}
			bind = true
		}
		if err := bindDevice(root, d); err != nil {
			return fmt.Errorf("bind device %s from the host: %w", d.path, err)
		}
	}
	return nil
}

// mknodDevice creates d, replacing whatever non-directory of another kind is
// at its path (a regular file, a symlink: never followed). A node that
// already is the right device, or something mounted there, is left as is.
func mknodDevice(root *inRoot, d deviceNode) error {
	dir, name := path.Split(d.path)
	parent, err := root.open(dir, createDir)
	if err != nil {
		return err
	}
	defer unix.Close(parent)
	rdev := unix.Mkdev(uint32(d.major), uint32(d.minor))
	var st unix.Stat_t
	if err := unix.Fstatat(parent, name, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil {
		if st.Mode&unix.S_IFMT == d.typ && (d.typ == unix.S_IFIFO || st.Rdev == rdev) {
			return nil
		}
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			return errors.New("a directory is in the way")
		}
		if err := unix.Unlinkat(parent, name, 0); err != nil {
			if errors.Is(err, unix.EBUSY) {
				return nil // a mount point: the spec put something there
			}
			return fmt.Errorf("remove what is in the way: %w", err)
		}
	} else if !errors.Is(err, unix.ENOENT) {
		return err
	}
	if err := unix.Mknodat(parent, name, d.typ|d.perm, int(rdev)); err != nil {
		return err
	}
	if err := unix.Fchownat(parent, name, int(d.uid), int(d.gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown: %w", err)
	}
	// mknod applied the umask; set the mode through an O_PATH descriptor so
	// nothing swapped in meanwhile is followed.
	fd, err := unix.Openat(parent, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != d.typ {
		return errors.New("replaced while being created")
	}
	if err := unix.Chmod(procFdPath(fd), d.perm); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	return nil
}

// bindDevice binds the host's node at d.path onto an empty file there.
func bindDevice(root *inRoot, d deviceNode) error {
	return root.withPath(d.path, createFile, func(target string) error {
		return unix.Mount(d.path, target, "", unix.MS_BIND, "")
	})
}

// devSymlinks are the links setupDevSymlinks makes in /dev, [target, name]:
// fd, stdin, stdout, stderr, and core when the host has /proc/kcore.
func devSymlinks() [][2]string {
	links := [][2]string{
		{"/proc/self/fd", "fd"},
		{"/proc/self/fd/0", "stdin"},
		{"/proc/self/fd/1", "stdout"},
		{"/proc/self/fd/2", "stderr"},
	}
	if _, err := os.Stat("/proc/kcore"); err == nil {
		links = append(links, [2]string{"/proc/kcore", "core"})
	}
	return links
}

// setupDevSymlinks makes devSymlinks. Existing entries are kept.
func setupDevSymlinks(root *inRoot) error {
	links := devSymlinks()
	dev, err := root.open("/dev", createDir)
	if err != nil {
		return err
	}
	defer unix.Close(dev)
	for _, l := range links {
		if err := unix.Symlinkat(l[0], dev, l[1]); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("symlink /dev/%s -> %s: %w", l[1], l[0], err)
		}
	}
	return nil
}

// setupPtmx replaces /dev/ptmx by a symlink to pts/ptmx, the multiplexer of
// the container's own devpts instance.
func setupPtmx(root *inRoot) error {
	dev, err := root.open("/dev", createDir)
	if err != nil {
		return err
	}
	defer unix.Close(dev)
	if err := unix.Unlinkat(dev, "ptmx", 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("remove /dev/ptmx: %w", err)
	}
	if err := unix.Symlinkat("pts/ptmx", dev, "ptmx"); err != nil {
		return fmt.Errorf("symlink /dev/ptmx -> pts/ptmx: %w", err)
	}
	return nil
}
