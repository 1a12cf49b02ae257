package volume

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// The local driver's options, as dockerd's: type and device go together,
// o needs both. type=none with o=bind binds device (a host path) instead
// of mounting a filesystem.
var (
	validOptions     = []string{"type", "device", "o"}
	mandatoryOptions = []struct{ opt, needs string }{
		{"type", "device"}, {"device", "type"}, {"o", "device"}, {"o", "type"},
	}
)

func validateOptions(opts map[string]string) error {
	for k := range opts {
		ok := false
		for _, v := range validOptions {
			ok = ok || k == v
		}
		if !ok {
			if k == "size" {
				return errors.New("quota size requested but no quota support")
			}
			return fmt.Errorf("invalid option: %q", k)
		}
	}
	for _, m := range mandatoryOptions {
		if _, ok := opts[m.opt]; !ok {
			continue
		}
		if _, ok := opts[m.needs]; !ok {
			return fmt.Errorf("missing required option: %q", m.needs)
		}
	}
	if _, _, err := mountFlags(opts["o"]); err != nil {
		return err
	}
	return nil
}

// flagOptions are the o= words that are mount flags rather than
// filesystem data (the subset of mount(8)'s that volumes use).
var flagOptions = map[string]struct {
	clear bool
	flag  uintptr
}{
	"ro": {false, unix.MS_RDONLY}, "rw": {true, unix.MS_RDONLY},
	"nosuid": {false, unix.MS_NOSUID}, "suid": {true, unix.MS_NOSUID},
	"nodev": {false, unix.MS_NODEV}, "dev": {true, unix.MS_NODEV},
	"noexec": {false, unix.MS_NOEXEC}, "exec": {true, unix.MS_NOEXEC},
	"sync": {false, unix.MS_SYNCHRONOUS}, "async": {true, unix.MS_SYNCHRONOUS},
	"noatime": {false, unix.MS_NOATIME}, "atime": {true, unix.MS_NOATIME},
	"nodiratime": {false, unix.MS_NODIRATIME}, "diratime": {true, unix.MS_NODIRATIME},
	"relatime": {false, unix.MS_RELATIME}, "norelatime": {true, unix.MS_RELATIME},
	"strictatime": {false, unix.MS_STRICTATIME},
	"bind":        {false, unix.MS_BIND}, "rbind": {false, unix.MS_BIND | unix.MS_REC},
	"defaults": {false, 0},
}

// mountFlags splits an o= value into mount flags and filesystem data.
func mountFlags(o string) (uintptr, string, error) {
	var flags uintptr
	var data []string
	for _, w := range strings.Split(o, ",") {
		if w == "" {
			continue
		}
		if f, ok := flagOptions[w]; ok {
			if f.clear {
				flags &^= f.flag
			} else {
				flags |= f.flag
			}
			continue
		}
		if strings.ContainsAny(w, " \t") {
			return 0, "", fmt.Errorf("invalid mount option %q in o", w)
		}
		data = append(data, w)
	}
	return flags, strings.Join(data, ","), nil
}

// mountOptions mounts the volume's type/device/o on its _data.
func mountOptions(ctx context.Context, v Volume) error {
	flags, data, err := mountFlags(v.Options["o"])
	if err != nil {
		return err
	}
	typ, dev := v.Options["type"], v.Options["device"]
	if flags&unix.MS_BIND != 0 {
		typ = ""
	}
	slog.DebugContext(ctx, "volume mount", "name", v.Name, "type", typ, "device", dev, "flags", flags, "data", data)
	first := flags
	if flags&unix.MS_BIND != 0 {
		first &^= unix.MS_RDONLY
	}
	if err := unix.Mount(dev, v.Mountpoint, typ, first, data); err != nil {
		return fmt.Errorf("mount %s (type %q, device %q, o %q) on %s: %w", v.Name, typ, dev, v.Options["o"], v.Mountpoint, err)
	}
	// A read-only bind needs a remount: the kernel ignores MS_RDONLY on
	// the first bind.
	if flags&unix.MS_BIND != 0 && flags&unix.MS_RDONLY != 0 {
		if err := unix.Mount("", v.Mountpoint, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
			_ = unix.Unmount(v.Mountpoint, unix.MNT_DETACH)
			return fmt.Errorf("mount %s read-only on %s: %w", v.Name, v.Mountpoint, err)
		}
	}
	return nil
}

// mountPoints returns the mount points of this mount namespace.
func mountPoints() (map[string]bool, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	out := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 {
			out[unescapeMountinfo(f[4])] = true
		}
	}
	return out, nil
}

// MountOf returns the mount point of the mount path is on in this mount
// namespace, and that mount's optional fields (shared:N, master:N), from
// /proc/self/mountinfo: what a bind's propagation depends on.
func MountOf(path string) (string, []string, error) {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", nil, fmt.Errorf("bind source %s: %w", path, err)
	}
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", nil, fmt.Errorf("read mountinfo: %w", err)
	}
	best := ""
	var bestOpts []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 7 {
			continue
		}
		mp := unescapeMountinfo(f[4])
		within := real == mp || mp == "/" || strings.HasPrefix(real, mp+"/")
		if !within || len(mp) < len(best) {
			continue
		}
		var opts []string
		for _, o := range f[6:] {
			if o == "-" {
				break
			}
			opts = append(opts, o)
		}
		best, bestOpts = mp, opts // the last of equal ones is on top
	}
	return best, bestOpts, nil
}

// unescapeMountinfo decodes mountinfo's octal escapes (\040 for a space).
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, "\\") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func unmount(path string) error {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount %s: %w", path, err)
	}
	return nil
}

// Acquire records that container ref uses the volume and returns the
// directory to mount into it. The first reference mounts the volume's
// type/device/o, if it has them; a failed mount records nothing.
func (s *Store) Acquire(ctx context.Context, name, ref string) (string, error) {
	if ref == "" {
		return "", fmt.Errorf("acquire volume %s: empty reference", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.vols[name]
	if !ok {
		return "", notFound(name)
	}
	if len(e.refs) == 0 && len(e.v.Options) > 0 && !e.mounted {
		if err := mountOptions(ctx, e.v); err != nil {
			return "", err
		}
		e.mounted = true
	}
	e.refs[ref]++
	return e.v.Mountpoint, nil
}

// Release drops one reference of container ref (Acquire'd once per
// mount); the last reference of all unmounts the volume's type/device/o.
// Releasing a reference not held is no error.
func (s *Store) Release(ctx context.Context, name, ref string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.vols[name]
	if !ok {
		return nil
	}
	if e.refs[ref] > 1 {
		e.refs[ref]--
		return nil
	}
	delete(e.refs, ref)
	if len(e.refs) == 0 && e.mounted {
		if err := unmount(e.v.Mountpoint); err != nil {
			return fmt.Errorf("release volume %s: %w", name, err)
		}
		e.mounted = false
	}
	return nil
}

// MountsBelow lists the mount points strictly below dir (a path without
// symlinks), in mount order.
func MountsBelow(dir string) []string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		if mp := unescapeMountinfo(f[4]); strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	return out
}
