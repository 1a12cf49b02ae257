package mount

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// Mount is one filesystem mount: Type is the filesystem ("overlay") or
// "bind"; Source the device or directory; Options the mount(8)-style
// options, flags ("ro", "rbind", "nosuid", ...) and filesystem data
// ("lowerdir=...") alike.
type Mount struct {
	Type    string   `json:"type"`
	Source  string   `json:"source"`
	Options []string `json:"options,omitempty"`
}

// Option returns the value of the key=value option key.
func (m Mount) Option(key string) (string, bool) {
	for _, o := range m.Options {
		if v, ok := strings.CutPrefix(o, key+"="); ok {
			return v, true
		}
	}
	return "", false
}

// ReadOnly reports whether the mount has the "ro" option.
func (m Mount) ReadOnly() bool {
	for _, o := range m.Options {
		if o == "ro" {
			return true
		}
	}
	return false
}

// WritableDir returns the directory a layer is unpacked into for an active
// snapshot's mounts, and whether it is an overlay upper directory (unpack
// in overlay form: whiteouts as devices) or a plain directory (a full copy
// or an empty first layer: whiteouts delete).
func WritableDir(mounts []Mount) (dir string, overlay bool, err error) {
	if len(mounts) != 1 {
		return "", false, fmt.Errorf("writable dir: %d mounts, want 1", len(mounts))
	}
	m := mounts[0]
	switch {
	case m.Type == "overlay":
		up, ok := m.Option("upperdir")
		if !ok {
			return "", false, errors.New("writable dir: overlay mount without upperdir (a read-only view)")
		}
		return up, true, nil
	case m.Type == "bind" && !m.ReadOnly():
		return m.Source, false, nil
	}
	return "", false, fmt.Errorf("writable dir: %s mount of %s is read-only", m.Type, m.Source)
}

// LowerDirs returns the lower directories of an overlay among mounts,
// highest first, or nil when there is none (a bind).
func LowerDirs(mounts []Mount) []string {
	for _, m := range mounts {
		if m.Type != "overlay" {
			continue
		}
		if v, ok := m.Option("lowerdir"); ok {
			return strings.Split(v, ":")
		}
	}
	return nil
}

// flag options and their mount(2) flags (set, or cleared when clear).
var flags = map[string]struct {
	clear bool
	flag  uintptr
}{
	"ro":         {false, unix.MS_RDONLY},
	"rw":         {true, unix.MS_RDONLY},
	"bind":       {false, unix.MS_BIND},
	"rbind":      {false, unix.MS_BIND | unix.MS_REC},
	"nosuid":     {false, unix.MS_NOSUID},
	"suid":       {true, unix.MS_NOSUID},
	"nodev":      {false, unix.MS_NODEV},
	"dev":        {true, unix.MS_NODEV},
	"noexec":     {false, unix.MS_NOEXEC},
	"exec":       {true, unix.MS_NOEXEC},
	"noatime":    {false, unix.MS_NOATIME},
	"relatime":   {false, unix.MS_RELATIME},
	"nodiratime": {false, unix.MS_NODIRATIME},
}

func parse(opts []string) (flag uintptr, data []string) {
	for _, o := range opts {
		if f, ok := flags[o]; ok {
			if f.clear {
				flag &^= f.flag
			} else {
				flag |= f.flag
			}
			continue
		}
		data = append(data, o)
	}
	return flag, data
}

// maxData is the longest option string mount(2) takes (one page less the
// terminating NUL).
var maxData = os.Getpagesize() - 1

// All mounts mounts on target in order, each over the previous. On error
// the ones already mounted are unmounted again.
func All(mounts []Mount, target string) error {
	for i, m := range mounts {
		if err := mountOne(m, target); err != nil {
			for range i {
				unix.Unmount(target, 0)
			}
			return fmt.Errorf("mount %s %s on %s: %w", m.Type, m.Source, target, err)
		}
	}
	return nil
}

func mountOne(m Mount, target string) error {
	flag, data := parse(m.Options)
	if m.Type == "bind" {
		flag |= unix.MS_BIND
	}
	if flag&unix.MS_BIND != 0 {
		if err := unix.Mount(m.Source, target, "", flag&(unix.MS_BIND|unix.MS_REC), ""); err != nil {
			return err
		}
		// Flags other than bind and rec only take effect on a remount.
		if rest := flag &^ (unix.MS_BIND | unix.MS_REC); rest != 0 {
			if err := unix.Mount("", target, "", rest|unix.MS_BIND|unix.MS_REMOUNT, ""); err != nil {
				unix.Unmount(target, unix.MNT_DETACH)
				return fmt.Errorf("remount with %v: %w", m.Options, err)
			}
		}
		return nil
	}
	joined := strings.Join(data, ",")
	if m.Type == "overlay" && len(joined) > maxData {
		return mountFsconfig(m, target, flag, data)
	}
	return unix.Mount(m.Source, target, m.Type, flag, joined)
}

// mountFsconfig mounts an overlay through the new mount API, one lower
// layer per fsconfig call, so the number of layers is not bound by a page.
func mountFsconfig(m Mount, target string, flag uintptr, data []string) error {
	fsfd, err := unix.Fsopen(m.Type, unix.FSOPEN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("fsopen %s: %w", m.Type, err)
	}
	defer unix.Close(fsfd)
	for _, o := range data {
		k, v, hasValue := strings.Cut(o, "=")
		switch {
		case k == "lowerdir":
			for _, l := range strings.Split(v, ":") {
				if err := unix.FsconfigSetString(fsfd, "lowerdir+", l); err != nil {
					return fmt.Errorf("fsconfig lowerdir+ %s (Linux 6.8+ needed for this many layers): %w", l, err)
				}
			}
		case hasValue:
			if err := unix.FsconfigSetString(fsfd, k, v); err != nil {
				return fmt.Errorf("fsconfig %s: %w", o, err)
			}
		default:
			if err := unix.FsconfigSetFlag(fsfd, k); err != nil {
				return fmt.Errorf("fsconfig %s: %w", o, err)
			}
		}
	}
	if err := unix.FsconfigSetString(fsfd, "source", m.Source); err != nil {
		return fmt.Errorf("fsconfig source: %w", err)
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return fmt.Errorf("fsconfig create: %w", err)
	}
	attr := 0
	for f, a := range map[uintptr]int{unix.MS_RDONLY: unix.MOUNT_ATTR_RDONLY, unix.MS_NOSUID: unix.MOUNT_ATTR_NOSUID,
		unix.MS_NODEV: unix.MOUNT_ATTR_NODEV, unix.MS_NOEXEC: unix.MOUNT_ATTR_NOEXEC, unix.MS_NOATIME: unix.MOUNT_ATTR_NOATIME} {
		if flag&f != 0 {
			attr |= a
		}
	}
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, attr)
	if err != nil {
		return fmt.Errorf("fsmount: %w", err)
	}
	defer unix.Close(mfd)
	if err := unix.MoveMount(mfd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("move_mount to %s: %w", target, err)
	}
	return nil
}

// UnmountAll unmounts every mount stacked on target; a target that is not
// a mount point (or does not exist) is not an error.
func UnmountAll(target string) error {
	for range 1000 {
		err := unix.Unmount(target, 0)
		switch {
		case err == nil:
			continue
		case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOENT):
			return nil
		case errors.Is(err, unix.EINTR):
			continue
		default:
			return fmt.Errorf("unmount %s: %w", target, err)
		}
	}
	return fmt.Errorf("unmount %s: still mounted after 1000 unmounts", target)
}
