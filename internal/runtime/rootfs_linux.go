package runtime

import (
	"errors"
	"fmt"
	"os"
	"path"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The container's filesystem is built in four calls from the init, which runs
// in the container's new mount namespace:
//
//	prepareRootfs   / made rslave (or linux.rootfsPropagation), rootfs bound
//	                onto itself, spec mounts in order, /dev nodes and links
//	mountConsole    (optional) pty slave onto /dev/console   } after
//	enterRootfs     pivot_root (or MS_MOVE + chroot)         } prepareRootfs
//	finalizeRootfs  readonlyPaths, maskedPaths, readonly /, final propagation
//
// Every destination is resolved inside the root (rootfs_resolve_linux.go).

// prepareRootfs runs in the init, in the container's new mount namespace,
// before enterRootfs. rootfs is the host path of the bundle's root.
//
// cgroupMounts are the host's cgroup v1 mounts for a cgroup mount entry, or
// nil to read them here.
func prepareRootfs(spec *specs.Spec, rootfs string, cgroupMounts []cgroupMount) error {
	if spec == nil {
		return errors.New("prepare rootfs: no spec")
	}
	real, err := evalSymlinks(rootfs)
	if err != nil {
		return fmt.Errorf("prepare rootfs: resolve root.path %s: %w", rootfs, err)
	}
	rootfs = real

	prop := uintptr(unix.MS_SLAVE | unix.MS_REC)
	if p, ok, err := rootfsPropagation(spec); err != nil {
		return err
	} else if ok {
		prop = p
	}
	if err := unix.Mount("", "/", "", prop, ""); err != nil {
		return fmt.Errorf("prepare rootfs: set propagation of /: %w", err)
	}
	// After a recursive rslave or rprivate no mount is shared any more, and
	// the mount table (long on a busy host) need not be read.
	if prop&unix.MS_REC == 0 || prop&(unix.MS_SLAVE|unix.MS_PRIVATE) == 0 {
		if err := makeParentMountPrivate(rootfs); err != nil {
			return err
		}
	}
	if err := unix.Mount(rootfs, rootfs, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("prepare rootfs: bind %s onto itself: %w", rootfs, err)
	}

	for i, m := range spec.Mounts {
		if err := mountSpecEntry(spec, rootfs, m, cgroupMounts); err != nil {
			return fmt.Errorf("mounts[%d] (%s on %s): %w", i, m.Type, m.Destination, err)
		}
	}
	if err := createCwd(spec, rootfs); err != nil {
		return err
	}

	if !devIsBindMount(spec) {
		root, err := openRoot(rootfs)
		if err != nil {
			return err
		}
		defer root.close()
		devs, err := containerDevices(spec)
		if err != nil {
			return err
		}
		if err := createDevices(root, devs); err != nil {
			return err
		}
		if err := setupDevSymlinks(root); err != nil {
			return err
		}
		if devptsAtDevPts(spec) {
			if err := setupPtmx(root); err != nil {
				return err
			}
		}
	}
	return nil
}

// createCwd makes process.cwd inside the root when it is missing (0755
// directories, owned by root), as runc does: an image's WORKDIR or
// `run -w` need not exist in the image. It runs after the mounts so that a
// cwd inside a volume is made there, and is resolved inside the root, so a
// symbolic link in the image cannot make it create anything outside.
func createCwd(spec *specs.Spec, rootfs string) error {
	if spec.Process == nil || spec.Process.Cwd == "" || cleanDest(spec.Process.Cwd) == "/" {
		return nil
	}
	root, err := openRoot(rootfs)
	if err != nil {
		return err
	}
	defer root.close()
	fd, err := root.open(spec.Process.Cwd, createDir)
	if err != nil {
		return fmt.Errorf("process.cwd %s: %w", spec.Process.Cwd, err)
	}
	unix.Close(fd)
	return nil
}

// rootfsPropagation returns linux.rootfsPropagation as mount flags.
func rootfsPropagation(spec *specs.Spec) (uintptr, bool, error) {
	if spec.Linux == nil || spec.Linux.RootfsPropagation == "" {
		return 0, false, nil
	}
	p, ok := mountPropagationOptions[spec.Linux.RootfsPropagation]
	if !ok {
		return 0, false, fmt.Errorf("linux.rootfsPropagation: unknown mode %q", spec.Linux.RootfsPropagation)
	}
	return p, true, nil
}

// makeParentMountPrivate makes the mount holding rootfs private, as runc
// does: pivot_root and MS_MOVE refuse a shared parent, and an unbindable one
// (rootfsPropagation runbindable) could not be bound onto itself.
func makeParentMountPrivate(rootfs string) error {
	mounts, err := readMountInfo("/proc/self/mountinfo")
	if err != nil {
		return fmt.Errorf("prepare rootfs: %w", err)
	}
	m, ok := mountContaining(mounts, rootfs)
	if !ok {
		return fmt.Errorf("prepare rootfs: no mount holds %s", rootfs)
	}
	if err := unix.Mount("", m.mountPoint, "", unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("prepare rootfs: make parent mount %s private: %w", m.mountPoint, err)
	}
	return nil
}

// mountSpecEntry performs one entry of spec.Mounts.
func mountSpecEntry(spec *specs.Spec, rootfs string, m specs.Mount, cgroupMounts []cgroupMount) error {
	if len(m.UIDMappings) > 0 || len(m.GIDMappings) > 0 {
		return errors.New("id-mapped mounts (uidMappings/gidMappings) are not supported")
	}
	o, err := parseMountOptions(m.Options)
	if err != nil {
		return err
	}
	if o.idmap != "" {
		return fmt.Errorf("mount option %q (id-mapped mount) is not supported", o.idmap)
	}
	if m.Destination == "" {
		return errors.New("destination is empty")
	}
	dest := cleanDest(m.Destination)
	root, err := openRoot(rootfs) // again for each entry: a mount may cover part of the tree
	if err != nil {
		return err
	}
	defer root.close()

	switch {
	case m.Type == "bind" || o.flags&unix.MS_BIND != 0:
		return mountBind(root, m.Source, dest, o)
	case m.Type == "cgroup" || m.Type == "cgroup2":
		return mountCgroup(spec, root, m.Type, dest, o, cgroupMounts)
	case m.Type == "":
		return errors.New("type is empty and options have no bind or rbind")
	default:
		return mountFilesystem(root, m.Type, m.Source, dest, o)
	}
}

// mountBind binds source (a host path; relative means relative to the
// init's working directory, the bundle) onto dest in the root, then applies
// flags, recursive attributes and propagation.
func mountBind(root *inRoot, source, dest string, o mountOptions) error {
	if source == "" {
		return errors.New("bind mount source is empty")
	}
	src, err := absPath(source)
	if err != nil {
		return fmt.Errorf("bind mount source %s: %w", source, err)
	}
	st, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("bind mount source: %w", err)
	}
	create := createDir
	if !st.IsDir() {
		create = createFile
	}
	err = root.withPath(dest, create, func(target string) error {
		return unix.Mount(src, target, "", unix.MS_BIND|(o.flags&unix.MS_REC), "")
	})
	if err != nil {
		return fmt.Errorf("bind %s: %w", src, err)
	}
	if o.needsRemount() {
		if err := root.withPath(dest, createNone, func(target string) error {
			return remountBind(target, o.flags, o.cleared, o.atime)
		}); err != nil {
			return err
		}
	}
	return finishMount(root, dest, o)
}

// remountBind sets flags on the bind mount at target, keeping the flags the
// mount already has (which in a user namespace may be locked) unless cleared.
func remountBind(target string, flags, cleared uintptr, atime bool) error {
	var st unix.Statfs_t
	if err := unix.Statfs(target, &st); err != nil {
		return fmt.Errorf("statfs bind mount: %w", err)
	}
	keep := statfsToMountFlags(st.Flags) &^ cleared
	if atime {
		keep &^= atimeFlags
	}
	flags = flags&^(unix.MS_BIND|unix.MS_REC|unix.MS_REMOUNT) | keep
	if err := unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|flags, ""); err != nil {
		return fmt.Errorf("remount bind mount with flags %#x: %w", flags, err)
	}
	return nil
}

// mountFilesystem mounts a new instance of fstype (proc, sysfs, tmpfs,
// devpts, mqueue, ...) on dest.
func mountFilesystem(root *inRoot, fstype, source, dest string, o mountOptions) error {
	if source == "" {
		source = fstype
	}
	flags := o.flags &^ unix.MS_REC
	var err error
	if fstype == "proc" || fstype == "sysfs" {
		err = withOrdinaryDir(root, dest, func(target string) error {
			return unix.Mount(source, target, fstype, flags, o.dataString())
		})
	} else if fstype == "tmpfs" && o.tmpcopyup {
		err = mountTmpfsCopyUp(root, source, dest, flags, o.dataString())
	} else {
		err = root.withPath(dest, createDir, func(target string) error {
			return unix.Mount(source, target, fstype, flags, o.dataString())
		})
	}
	if fstype == "sysfs" && errors.Is(err, unix.EPERM) {
		// A user namespace without its own network namespace may not mount
		// sysfs; runc binds the host's /sys instead, read-only.
		err = root.withPath(dest, createDir, func(target string) error {
			return unix.Mount("/sys", target, "", unix.MS_BIND|unix.MS_REC, "")
		})
		if err == nil {
			err = root.withPath(dest, createNone, func(target string) error {
				return remountBind(target, flags|unix.MS_RDONLY, 0, false)
			})
		}
	}
	if err != nil {
		return fmt.Errorf("mount %s: %w", fstype, err)
	}
	return finishMount(root, dest, o)
}

// withOrdinaryDir is withPath for proc and sysfs, whose destination must be
// a real directory: its last component may not be a symlink, even one that
// stays inside the root (a proc mounted elsewhere than where the runtime
// expects it has been an attack before, CVE-2019-19921).
func withOrdinaryDir(root *inRoot, dest string, fn func(target string) error) error {
	dir, name := path.Split(dest)
	if name == "" {
		return fmt.Errorf("%s is the root", dest)
	}
	parent, err := root.open(dir, createDir)
	if err != nil {
		return err
	}
	defer unix.Close(parent)
	if err := unix.Mkdirat(parent, name, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("mkdir %s: %w", dest, err)
	}
	fd, err := unix.Openat(parent, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", dest, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("stat %s: %w", dest, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fmt.Errorf("%s must be an ordinary directory (mode %#o)", dest, st.Mode)
	}
	return fn(root.target(fd, dest))
}

// finishMount applies the recursive attributes and propagation changes of a
// mount after it exists.
func finishMount(root *inRoot, dest string, o mountOptions) error {
	if o.recSet != 0 || o.recClr != 0 {
		attr := unix.MountAttr{Attr_set: o.recSet, Attr_clr: o.recClr}
		if err := root.withPath(dest, createNone, func(target string) error {
			return unix.MountSetattr(unix.AT_FDCWD, target, unix.AT_RECURSIVE, &attr)
		}); err != nil {
			return fmt.Errorf("set recursive mount attributes: %w", err)
		}
	}
	for _, p := range o.prop {
		if err := root.withPath(dest, createNone, func(target string) error {
			return unix.Mount("", target, "", p, "")
		}); err != nil {
			return fmt.Errorf("set propagation: %w", err)
		}
	}
	return nil
}

// enterRootfs makes rootfs the process's root: pivot_root, or MS_MOVE and
// chroot when noPivot or when the current root is an initramfs (where
// pivot_root fails with EINVAL). The working directory becomes /.
func enterRootfs(rootfs string, noPivot bool) error {
	real, err := evalSymlinks(rootfs)
	if err != nil {
		return fmt.Errorf("enter rootfs: resolve %s: %w", rootfs, err)
	}
	rootfs = real
	if noPivot {
		return moveRoot(rootfs)
	}
	err = pivotRoot(rootfs)
	if errors.Is(err, unix.EINVAL) && rootIsInitramfs() {
		return moveRoot(rootfs)
	}
	return err
}

// pivotRoot uses pivot_root(".", ".") with the new root as working directory:
// the old root is stacked under the new one, then detached, so no directory
// is needed for it.
func pivotRoot(rootfs string) error {
	oldRoot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("pivot_root: open old root: %w", err)
	}
	defer unix.Close(oldRoot)
	newRoot, err := unix.Open(rootfs, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("pivot_root: open new root %s: %w", rootfs, err)
	}
	defer unix.Close(newRoot)
	if err := unix.Fchdir(newRoot); err != nil {
		return fmt.Errorf("pivot_root: chdir %s: %w", rootfs, err)
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root %s: %w", rootfs, err)
	}
	// The old root is now stacked under the new one; reach it by its fd.
	if err := unix.Fchdir(oldRoot); err != nil {
		return fmt.Errorf("pivot_root: chdir old root: %w", err)
	}
	// Slave first, so that detaching it cannot propagate an unmount to the host.
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("pivot_root: make old root rslave: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("pivot_root: detach old root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("pivot_root: chdir /: %w", err)
	}
	return nil
}

// rootIsInitramfs reports whether / is the initial ramfs (fstype rootfs or
// ramfs), which cannot be pivoted away from.
func rootIsInitramfs() bool {
	var st unix.Statfs_t
	if unix.Statfs("/", &st) == nil && st.Type == unix.RAMFS_MAGIC {
		return true
	}
	mounts, err := readMountInfo("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	for _, m := range mounts {
		if m.mountPoint == "/" && (m.fsType == "rootfs" || m.fsType == "ramfs") {
			return true
		}
	}
	return false
}

// moveRoot moves rootfs onto / and chroots into it. First, as runc does, it
// detaches the full proc and sysfs mounts outside rootfs (or covers them when
// they cannot be unmounted), so the host's stay out of the container's mount
// table (the kernel also counts them when deciding whether a proc or sysfs
// may be mounted in a user namespace).
func moveRoot(rootfs string) error {
	mounts, err := readMountInfo("/proc/self/mountinfo")
	if err != nil {
		return fmt.Errorf("move root: %w", err)
	}
	for i := len(mounts) - 1; i >= 0; i-- {
		m := mounts[i]
		if m.root != "/" || (m.fsType != "proc" && m.fsType != "sysfs") || pathWithin(m.mountPoint, rootfs) {
			continue
		}
		if err := unix.Mount("", m.mountPoint, "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue // a parent is already gone
			}
			return fmt.Errorf("move root: make %s rslave: %w", m.mountPoint, err)
		}
		if err := unix.Unmount(m.mountPoint, unix.MNT_DETACH); err != nil {
			if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.EPERM) {
				return fmt.Errorf("move root: detach %s: %w", m.mountPoint, err)
			}
			if err := unix.Mount("tmpfs", m.mountPoint, "tmpfs", 0, ""); err != nil {
				return fmt.Errorf("move root: cover %s: %w", m.mountPoint, err)
			}
		}
	}
	if err := unix.Chdir(rootfs); err != nil {
		return fmt.Errorf("move root: chdir %s: %w", rootfs, err)
	}
	if err := unix.Mount(rootfs, "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("move root: move %s to /: %w", rootfs, err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("move root: chroot %s: %w", rootfs, err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("move root: chdir /: %w", err)
	}
	return nil
}

// finalizeRootfs runs after enterRootfs: linux.readonlyPaths, then
// linux.maskedPaths, then root.readonly, then the final root propagation.
func finalizeRootfs(spec *specs.Spec) error {
	if spec == nil {
		return errors.New("finalize rootfs: no spec")
	}
	root, err := openRoot("/")
	if err != nil {
		return err
	}
	defer root.close()
	if spec.Linux != nil {
		for _, p := range spec.Linux.ReadonlyPaths {
			if err := readonlyPath(root, p); err != nil {
				return fmt.Errorf("linux.readonlyPaths %s: %w", p, err)
			}
		}
		for _, p := range spec.Linux.MaskedPaths {
			if err := maskPath(root, p); err != nil {
				return fmt.Errorf("linux.maskedPaths %s: %w", p, err)
			}
		}
	}
	if spec.Root != nil && spec.Root.Readonly {
		if err := remountBind("/", unix.MS_RDONLY, 0, false); err != nil {
			return fmt.Errorf("root.readonly: %w", err)
		}
	}
	if p, ok, err := rootfsPropagation(spec); err != nil {
		return err
	} else if ok {
		if err := unix.Mount("", "/", "", p, ""); err != nil {
			return fmt.Errorf("linux.rootfsPropagation %s: %w", spec.Linux.RootfsPropagation, err)
		}
	}
	return nil
}

// isMissing reports an error that means "nothing at that path".
func isMissing(err error) bool {
	return errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR)
}

// readonlyPath binds p onto itself and makes it and every mount under it
// read-only. A missing path is not an error.
func readonlyPath(root *inRoot, p string) error {
	dest := cleanDest(p)
	err := root.withPath(dest, createNone, func(target string) error {
		return unix.Mount(target, target, "", unix.MS_BIND|unix.MS_REC, "")
	})
	if isMissing(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("bind onto itself: %w", err)
	}
	return root.withPath(dest, createNone, func(target string) error {
		if err := remountBind(target, unix.MS_RDONLY, 0, false); err != nil {
			return err
		}
		attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
		err := unix.MountSetattr(unix.AT_FDCWD, target, unix.AT_RECURSIVE, &attr)
		if err != nil && !errors.Is(err, unix.ENOSYS) {
			return fmt.Errorf("make mounts beneath read-only: %w", err)
		}
		return nil
	})
}

// maskPath hides p: a read-only empty tmpfs over a directory, /dev/null
// over anything else. A missing path is not an error.
func maskPath(root *inRoot, p string) error {
	fd, err := root.open(cleanDest(p), createNone)
	if isMissing(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("stat: %w", err)
	}
	target := root.target(fd, p)
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		if err := unix.Mount("tmpfs", target, "tmpfs", unix.MS_RDONLY, ""); err != nil {
			return fmt.Errorf("cover with tmpfs: %w", err)
		}
		return nil
	}
	null, err := root.open("/dev/null", createNone)
	if err != nil {
		return err
	}
	defer unix.Close(null)
	if err := unix.Fstat(null, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
		return errors.New("cannot mask: /dev/null in the container is not the null device")
	}
	if err := unix.Mount(root.target(null, "/dev/null"), target, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("cover with /dev/null: %w", err)
	}
	return nil
}

// mountConsole bind-mounts the pty slave at slavePath (inside the new root,
// e.g. /dev/pts/0) onto /dev/console, creating /dev/console if missing. It
// runs after enterRootfs.
func mountConsole(slavePath string) error {
	root, err := openRoot("/")
	if err != nil {
		return err
	}
	defer root.close()
	src, err := root.open(slavePath, createNone)
	if err != nil {
		return fmt.Errorf("console %s: %w", slavePath, err)
	}
	defer unix.Close(src)
	err = root.withPath("/dev/console", createFile, func(target string) error {
		return unix.Mount(root.target(src, slavePath), target, "", unix.MS_BIND, "")
	})
	if err != nil {
		return fmt.Errorf("bind console %s onto /dev/console: %w", slavePath, err)
	}
	return nil
}
