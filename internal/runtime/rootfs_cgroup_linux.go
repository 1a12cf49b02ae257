package runtime

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// mountCgroup gives the container a view of its own cgroup at dest. On a
// unified host, or when the type is cgroup2, that is a cgroup2 mount (on a
// hybrid host the one at /sys/fs/cgroup/unified); on a v1 host a tmpfs with
// one directory per v1 hierarchy. With a cgroup namespace the filesystems are
// mounted afresh (the kernel roots them at the namespace's cgroup); without
// one, the container's cgroup directories are bound from the host. The
// result is read-only unless the mount's options say rw.
//
// hostMounts are the host's cgroup v1 mounts (hostCgroupMounts); nil means
// read them from the mount table here.
func mountCgroup(spec *specs.Spec, root *inRoot, fstype, dest string, o mountOptions, hostMounts []cgroupMount) error {
	ownNS := hasCgroupNamespace(spec)
	cgroups, err := readProcCgroup("/proc/self/cgroup")
	if err != nil {
		return err
	}
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil {
		return fmt.Errorf("statfs /sys/fs/cgroup: %w", err)
	}
	flags := o.flags &^ (unix.MS_BIND | unix.MS_REC)
	if unified := st.Type == unix.CGROUP2_SUPER_MAGIC; unified || fstype == "cgroup2" {
		if ownNS {
			return mountFilesystem(root, "cgroup2", "cgroup2", dest, o)
		}
		base := "/sys/fs/cgroup"
		if !unified {
			base = "/sys/fs/cgroup/unified" // hybrid layout
		}
		src := path.Join(base, cgroups[""])
		return mountBind(root, src, dest, mountOptions{flags: unix.MS_BIND | flags | unix.MS_REC, cleared: o.cleared, atime: o.atime, prop: o.prop})
	}

	mounts := hostMounts
	if mounts == nil {
		if mounts, err = hostCgroupMounts(); err != nil {
			return err
		}
	}
	// The tmpfs stays writable until the hierarchies are in place.
	tmpfsFlags := flags &^ unix.MS_RDONLY
	err = root.withPath(dest, createDir, func(target string) error {
		return unix.Mount("tmpfs", target, "tmpfs", tmpfsFlags, "mode=755")
	})
	if err != nil {
		return fmt.Errorf("mount tmpfs for cgroup hierarchies: %w", err)
	}
	// The tmpfs is new and only this process has reached it: its entries
	// are made and opened from its own descriptor, not resolved from the
	// container's root again for every hierarchy.
	tmpfs, err := root.open(dest, createNone)
	if err != nil {
		return err
	}
	defer unix.Close(tmpfs)
	for _, m := range mounts {
		controllers := cgroupControllers(m.SuperOptions)
		if controllers == "" {
			continue
		}
		cgPath, ok := cgroups[controllers]
		if !ok {
			continue
		}
		name := path.Base(m.MountPoint)
		if ownNS {
			err = withTmpfsDir(tmpfs, name, true, func(target string) error {
				return unix.Mount("cgroup", target, "cgroup", flags, controllers)
			})
		} else {
			rel := strings.TrimPrefix(cgPath, m.Root)
			if m.Root != "/" && !strings.HasPrefix(cgPath, m.Root+"/") && cgPath != m.Root {
				continue // our cgroup is outside what this host mount shows
			}
			src := path.Join(m.MountPoint, rel)
			err = withTmpfsDir(tmpfs, name, true, func(target string) error {
				return unix.Mount(src, target, "", unix.MS_BIND, "")
			})
			if err == nil {
				// Opened again: the bind mount now covers the directory.
				err = withTmpfsDir(tmpfs, name, false, func(target string) error {
					return remountBind(target, flags, o.cleared, o.atime)
				})
			}
		}
		if err != nil {
			return fmt.Errorf("cgroup hierarchy %s: %w", controllers, err)
		}
		// A co-mounted hierarchy (cpu,cpuacct) is reachable by each name.
		if strings.Contains(name, ",") {
			for _, c := range strings.Split(name, ",") {
				if err := unix.Symlinkat(name, tmpfs, c); err != nil && !errors.Is(err, unix.EEXIST) {
					return fmt.Errorf("symlink %s -> %s: %w", c, name, err)
				}
			}
		}
	}
	if flags&unix.MS_RDONLY != 0 {
		if err := unix.Mount("", procFdPath(tmpfs), "", unix.MS_REMOUNT|flags, "mode=755"); err != nil {
			return fmt.Errorf("remount cgroup tmpfs read-only: %w", err)
		}
	}
	return finishMount(root, dest, mountOptions{prop: o.prop})
}

// cgroupMount is a host cgroup v1 mount under /sys/fs/cgroup.
type cgroupMount struct {
	MountPoint   string `json:"mountPoint"`
	Root         string `json:"root"`
	SuperOptions string `json:"superOptions"`
}

// hostCgroupMounts returns the cgroup v1 mounts under /sys/fs/cgroup of the
// caller's mount table, in its order (never nil).
func hostCgroupMounts() ([]cgroupMount, error) {
	mounts, err := readMountInfo("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	out := []cgroupMount{}
	for _, m := range mounts {
		if m.fsType == "cgroup" && pathWithin(m.mountPoint, "/sys/fs/cgroup") {
			out = append(out, cgroupMount{MountPoint: m.mountPoint, Root: m.root, SuperOptions: m.superOptions})
		}
	}
	return out, nil
}

// needsHostCgroupMounts reports whether the init will mount a v1 cgroup view
// (a "cgroup" mount on a host whose /sys/fs/cgroup is not cgroup2), which
// needs the host's cgroup mounts.
func needsHostCgroupMounts(spec *specs.Spec) bool {
	for _, m := range spec.Mounts {
		if m.Type == "cgroup" {
			var st unix.Statfs_t
			return unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type != unix.CGROUP2_SUPER_MAGIC
		}
	}
	return false
}

// withTmpfsDir calls fn with a path naming directory name of the tmpfs at
// dir (made first when create), opened without following a symlink.
func withTmpfsDir(dir int, name string, create bool, fn func(target string) error) error {
	if create {
		if err := unix.Mkdirat(dir, name, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("mkdir %s: %w", name, err)
		}
	}
	fd, err := unix.Openat(dir, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", name, err)
	}
	defer unix.Close(fd)
	return fn(procFdPath(fd))
}

func hasCgroupNamespace(spec *specs.Spec) bool {
	if spec.Linux == nil {
		return false
	}
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == specs.CgroupNamespace {
			return true
		}
	}
	return false
}

// cgroupControllers returns the sorted, comma-joined controller list of a
// cgroup v1 mount's super options ("rw,cpu,cpuacct" -> "cpu,cpuacct";
// "rw,name=systemd" -> "name=systemd"), the key /proc/self/cgroup uses.
func cgroupControllers(superOptions string) string {
	var cs []string
	for _, o := range strings.Split(superOptions, ",") {
		switch {
		case o == "rw" || o == "ro" || o == "":
		case strings.Contains(o, "=") && !strings.HasPrefix(o, "name="):
		case o == "noprefix" || o == "clone_children" || o == "xattr" || o == "cpuset_v2_mode" || o == "favordynmods":
		default:
			cs = append(cs, o)
		}
	}
	sort.Strings(cs)
	return strings.Join(cs, ",")
}

// readProcCgroup maps each hierarchy's sorted controller list ("" for the
// unified hierarchy) to the process's cgroup path in it.
func readProcCgroup(file string) (map[string]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("read own cgroups: %w", err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		cs := strings.Split(parts[1], ",")
		sort.Strings(cs)
		out[strings.Join(cs, ",")] = parts[2]
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read own cgroups: %w", err)
	}
	return out, nil
}
