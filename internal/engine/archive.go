package engine

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	mevents "github.com/moby/moby/api/types/events"
	mounttypes "github.com/moby/moby/api/types/mount"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/archive"
	"github.com/berth/berth/internal/snapshot/mount"
)

// withRootfs calls fn with the container's merged root: the mounted rootfs
// of a running container, or a temporary mount of a stopped one.
func (e *Engine) withRootfs(ctx context.Context, ref string, fn func(c *Container, root string) error) error {
	return e.withRoot(ctx, ref, false, fn)
}

// withMounts is withRootfs for docker cp: a running container's root as
// its process sees it (/proc/PID/root), with its volumes, binds, tmpfs
// mounts and /etc/hosts, hostname and resolv.conf, so a copy lands where
// the container reads it. (A stopped container's volumes are not
// mounted: its rootfs alone.)
func (e *Engine) withMounts(ctx context.Context, ref string, fn func(c *Container, root string) error) error {
	return e.withRoot(ctx, ref, true, fn)
}

func (e *Engine) withRoot(ctx context.Context, ref string, withMounts bool, fn func(c *Container, root string) error) error {
	c, err := e.Get(ref)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.removed {
		return errdefs.ErrNotFound.WithMessage("No such container: " + ref)
	}
	root := filepath.Join(e.dir(c.ID), "rootfs")
	if c.State.Running {
		if withMounts && c.State.Pid > 0 {
			proc := fmt.Sprintf("/proc/%d/root", c.State.Pid)
			if _, err := os.Stat(proc); err == nil {
				return fn(c, proc)
			}
		}
		return fn(c, root)
	}
	mounts, err := e.cfg.Images.Mounts(ctx, c.ID)
	if err != nil {
		return err
	}
	if err := mount.All(mounts, root); err != nil {
		return fmt.Errorf("mount rootfs of %s: %w", c.ID, err)
	}
	defer func() { _ = mount.UnmountAll(root) }()
	if withMounts {
		// docker cp of a stopped container reaches its volumes and
		// binds too: they are bound into the temporary root meanwhile.
		unbind, err := e.bindVolumes(c, root)
		defer unbind()
		if err != nil {
			return err
		}
	}
	return fn(c, root)
}

// bindVolumes binds c's volumes and bind mounts at their destinations
// inside root (resolved inside it, a parent before what goes below it),
// read-only where the container has them so; the returned function
// unmounts them, last first.
func (e *Engine) bindVolumes(c *Container, root string) (func(), error) {
	var bound []string
	undo := func() {
		for i := len(bound) - 1; i >= 0; i-- {
			_ = unix.Unmount(bound[i], unix.MNT_DETACH)
		}
		// The container does not run: the subpaths staged for it are
		// this call's alone.
		e.unmountSubpaths(c.ID)
	}
	ms, err := e.volumeMounts(c)
	if err != nil {
		return undo, err
	}
	// The container's hostname, hosts and resolv.conf, as it runs with
	// them (dockerd's cp of a stopped container has them too).
	for _, f := range []struct{ name, dest string }{{"hostname", "/etc/hostname"}, {"hosts", "/etc/hosts"}, {"resolv.conf", "/etc/resolv.conf"}} {
		src := filepath.Join(e.dir(c.ID), f.name)
		if _, err := os.Stat(src); err == nil {
			ms = append(ms, specs.Mount{Destination: f.dest, Type: "bind", Source: src})
		}
	}
	sort.SliceStable(ms, func(i, j int) bool { return mountDepth(ms[i].Destination) < mountDepth(ms[j].Destination) })
	for _, m := range ms {
		if m.Type != "bind" || m.Source == "" {
			continue // tmpfs: nothing outside a running container
		}
		fi, err := os.Stat(m.Source)
		if err != nil {
			continue
		}
		target, err := resolveIn(root, m.Destination, false)
		if err != nil {
			return undo, err
		}
		if fi.IsDir() {
			err = os.MkdirAll(target, 0o755)
		} else if _, serr := os.Lstat(target); serr != nil {
			if err = os.MkdirAll(filepath.Dir(target), 0o755); err == nil {
				err = os.WriteFile(target, nil, 0o644)
			}
		}
		if err != nil {
			return undo, fmt.Errorf("mount point %s of %s: %w", m.Destination, c.ID, err)
		}
		if err := unix.Mount(m.Source, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return undo, fmt.Errorf("bind %s at %s: %w", m.Source, m.Destination, err)
		}
		bound = append(bound, target)
		if slices.Contains(m.Options, "ro") {
			if err := unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
				return undo, fmt.Errorf("bind %s at %s read-only: %w", m.Source, m.Destination, err)
			}
		}
	}
	return undo, nil
}

// Changes lists what the container changed over its image (docker diff).
func (e *Engine) Changes(ctx context.Context, ref string) ([]container.FilesystemChange, error) {
	c, err := e.Get(ref)
	if err != nil {
		return nil, err
	}
	mounts, err := e.cfg.Images.Mounts(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	upper, overlay, err := mount.WritableDir(mounts)
	if err != nil {
		return nil, fmt.Errorf("changes of %s: %w", c.ID, err)
	}
	if !overlay {
		return nil, errdefs.ErrNotImplemented.WithMessage("changes of containers on native snapshots are not supported")
	}
	ch, err := archive.Changes(ctx, mount.LowerDirs(mounts), upper)
	if err != nil {
		return nil, fmt.Errorf("changes of %s: %w", c.ID, err)
	}
	var out []container.FilesystemChange
	skipEtc := onlyMountTargetsIn(mount.LowerDirs(mounts), upper)
	for _, x := range ch {
		if x.Kind == archive.ChangeAdd && isMountTarget(upper, strings.TrimPrefix(x.Path, "/")) {
			continue // dockerd's init layer holds these (see etcMountTargets)
		}
		if x.Path == "/etc" && x.Kind == archive.ChangeModify && skipEtc {
			continue
		}
		kind := container.ChangeModify
		switch x.Kind {
		case archive.ChangeAdd:
			kind = container.ChangeAdd
		case archive.ChangeDelete:
			kind = container.ChangeDelete
		}
		out = append(out, container.FilesystemChange{Path: x.Path, Kind: kind})
	}
	return out, nil
}

// Export writes the container's whole filesystem as a tar.
func (e *Engine) Export(ctx context.Context, ref string, w io.Writer) error {
	return e.withRootfs(ctx, ref, func(c *Container, root string) error {
		return writeTree(ctx, root, "", w, addInitLayer(root))
	})
}

// resolveIn resolves p (absolute, as seen in the container) inside root,
// following symlinks as the container would, never leaving root. The last
// element is followed too unless noFollowLast.
func resolveIn(root, p string, noFollowLast bool) (string, error) {
	p = path.Clean("/" + p)
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	cur := "/"
	for links := 0; len(parts) > 0; {
		part := parts[0]
		parts = parts[1:]
		if part == "" || part == "." {
			continue
		}
		next := path.Join(cur, part)
		if noFollowLast && len(parts) == 0 {
			cur = next
			break
		}
		fi, err := os.Lstat(filepath.Join(root, next))
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		if links++; links > 40 {
			return "", fmt.Errorf("%s: too many levels of symbolic links", p)
		}
		target, err := os.Readlink(filepath.Join(root, next))
		if err != nil {
			return "", err
		}
		if path.IsAbs(target) {
			cur = "/"
		}
		parts = append(strings.Split(strings.TrimPrefix(target, "/"), "/"), parts...)
	}
	return filepath.Join(root, path.Clean(cur)), nil
}

// StatPath is docker's stat of a path in the container (cp's HEAD).
func (e *Engine) StatPath(ctx context.Context, ref, p string) (container.PathStat, error) {
	var st container.PathStat
	err := e.withMounts(ctx, ref, func(c *Container, root string) error {
		var err error
		st, err = statIn(root, p)
		if errors.Is(err, os.ErrNotExist) {
			return errdefs.ErrNotFound.WithMessage(fmt.Sprintf("Could not find the file %s in container %s", p, ref))
		}
		return err
	})
	return st, err
}

// containerPath is docker's reading of a path given to cp: absolute in the
// container, its directory resolved in the container's scope (every
// symlink followed) and its last element kept as written, not followed.
// A trailing "/" or "/." asks for the directory the path leads to (its
// symlink followed); name is what the archive's entries start with:
// the last element ("l" for "/l/"), "." for "dir/." and "/" for "/".
type containerPath struct {
	host    string // the host path
	name    string // the entries' first element
	follow  bool   // host names the directory itself: stat follows it
	asDir   bool   // the path ends in "/" or "/.": it must be a directory
	asEntry string // the path as written (for messages)
}

func resolveContainerPath(root, p string) (containerPath, error) {
	abs := path.Join("/", p)
	cp := containerPath{asEntry: p}
	switch {
	case path.Base(p) == ".": // ".", "./", "dir/.", "dir/./"
		cp.name, cp.follow, cp.asDir = ".", true, true
	case strings.HasSuffix(p, "/") || abs == "/":
		cp.name, cp.follow, cp.asDir = path.Base(abs), true, true // "/" for the root
	}
	if cp.follow {
		host, err := resolveIn(root, abs, false)
		if err != nil {
			return containerPath{}, err
		}
		cp.host = host
		return cp, nil
	}
	dir, base := path.Split(abs)
	rdir, err := resolveIn(root, dir, false)
	if err != nil {
		return containerPath{}, err
	}
	cp.host, cp.name = filepath.Join(rdir, base), base
	return cp, nil
}

func statIn(root, p string) (container.PathStat, error) {
	cp, err := resolveContainerPath(root, p)
	if err != nil {
		return container.PathStat{}, err
	}
	return statResolved(cp)
}

func statResolved(cp containerPath) (container.PathStat, error) {
	lstat := os.Lstat
	if cp.follow {
		// The directory a trailing "/" leads to; a running container's
		// root is /proc/<pid>/root, a link to follow too.
		lstat = os.Stat
	}
	fi, err := lstat(cp.host)
	if err != nil {
		return container.PathStat{}, err
	}
	if cp.asDir && !fi.IsDir() {
		return container.PathStat{}, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("%s: not a directory", cp.asEntry))
	}
	st := container.PathStat{Name: cp.name, Size: fi.Size(), Mode: fi.Mode(), Mtime: fi.ModTime()}
	if fi.Mode()&fs.ModeSymlink != 0 {
		st.LinkTarget, _ = os.Readlink(cp.host)
	}
	return st, nil
}

// ArchivePath writes a tar of p (a file or a tree, its entries starting
// with the name docker gives them) and returns its stat, as docker cp from
// a container needs.
func (e *Engine) ArchivePath(ctx context.Context, ref, p string, w func(container.PathStat) io.Writer) error {
	return e.withMounts(ctx, ref, func(c *Container, root string) error {
		cp, err := resolveContainerPath(root, p)
		if err != nil {
			return err
		}
		st, err := statResolved(cp)
		if errors.Is(err, os.ErrNotExist) {
			return errdefs.ErrNotFound.WithMessage(fmt.Sprintf("Could not find the file %s in container %s", p, ref))
		}
		if err != nil {
			return err
		}
		host := cp.host
		if cp.follow {
			host += "/" // walked as the directory it leads to
		}
		if err := writeTree(ctx, host, cp.name, w(st)); err != nil {
			return err
		}
		e.publish(c, mevents.ActionArchivePath, map[string]string{"path": p}) // dockerd's
		return nil
	})
}

// ExtractTo unpacks the tar r into the directory p of the container.
func (e *Engine) ExtractTo(ctx context.Context, ref, p string, r io.Reader, noOverwriteDirNonDir bool) error {
	return e.withMounts(ctx, ref, func(c *Container, root string) error {
		host, err := resolveIn(root, p, false)
		if err != nil {
			return err
		}
		// As dockerd: into a volume or bind, unless it is read-only; into
		// the rootfs, unless that is.
		rel, err := filepath.Rel(root, host)
		if err != nil {
			return err
		}
		toVolume := false
		for _, m := range c.MountPoints {
			if m.Type == mounttypes.TypeTmpfs || !pathWithin("/"+filepath.ToSlash(rel), m.Destination) {
				continue
			}
			if !m.RW {
				return errdefs.ErrPermissionDenied.WithMessage("mounted volume is marked read-only")
			}
			toVolume = true
		}
		if !toVolume && c.HostConfig.ReadonlyRootfs {
			return errdefs.ErrPermissionDenied.WithMessage("container rootfs is marked read-only")
		}
		fi, err := os.Stat(host)
		if errors.Is(err, os.ErrNotExist) {
			return errdefs.ErrNotFound.WithMessage(fmt.Sprintf("Could not find the file %s in container %s", p, ref))
		}
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("extraction point is not a directory: %s", p))
		}
		if _, err := archive.Apply(ctx, host, r, archive.ApplyOptions{Format: archive.FormatNative, NoOverwriteDirNonDir: noOverwriteDirNonDir}); err != nil {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("extract to %s: %v", p, err))
		}
		e.publish(c, mevents.ActionExtractToDir, map[string]string{"path": p}) // dockerd's
		return nil
	})
}

// writeTree writes src (a file or directory tree) as a tar whose entries
// start with name ("" for the tree's contents at the top level).
func writeTree(ctx context.Context, src, name string, w io.Writer, more ...func(*tar.Writer) error) error {
	tw := tar.NewWriter(w)
	type inode struct{ dev, ino uint64 }
	seen := map[inode]string{} // hard links: the first name of each inode
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		rel, _ := filepath.Rel(src, p)
		rel = filepath.ToSlash(rel)
		// Each entry is name/rel, "./x" for a tree asked as "dir/.": the
		// docker CLI renames the first element of every entry to the
		// destination, so it must stay, "." too.
		entry := name + "/" + rel
		switch {
		case name == "" && rel == ".":
			return nil
		case name == "":
			entry = rel
		case rel == ".":
			entry = name
		case name == "/":
			entry = "/" + rel
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			link, _ = os.Readlink(p)
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return nil // sockets and the like: skipped, as docker does
		}
		hdr.Name = entry
		if fi.IsDir() && !strings.HasSuffix(entry, "/") {
			hdr.Name += "/"
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			hdr.Uid, hdr.Gid = int(st.Uid), int(st.Gid)
			if fi.Mode().IsRegular() && st.Nlink > 1 {
				key := inode{uint64(st.Dev), st.Ino}
				if first, ok := seen[key]; ok {
					hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
				} else {
					seen[key] = hdr.Name
				}
			}
		}
		hdr.Uname, hdr.Gname = "", ""
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if hdr.Typeflag == tar.TypeReg {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, f)
			f.Close()
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, fn := range more {
		if err := fn(tw); err != nil {
			return err
		}
	}
	return tw.Close()
}

// initLayer is what dockerd's init layer puts under a container's files
// where the image has none: mount points, /.dockerenv and /etc/mtab.
// docker export shows them, also for a container that never ran.
var initLayer = []struct {
	name     string
	typeflag byte
	link     string
}{
	{"dev", tar.TypeDir, ""}, {"dev/pts", tar.TypeDir, ""}, {"dev/shm", tar.TypeDir, ""},
	{"proc", tar.TypeDir, ""}, {"sys", tar.TypeDir, ""}, {"etc", tar.TypeDir, ""},
	{".dockerenv", tar.TypeReg, ""}, {"dev/console", tar.TypeReg, ""},
	{"etc/hostname", tar.TypeReg, ""}, {"etc/hosts", tar.TypeReg, ""}, {"etc/resolv.conf", tar.TypeReg, ""},
	{"etc/mtab", tar.TypeSymlink, "/proc/mounts"},
}

// addInitLayer writes the entries of initLayer that root lacks.
func addInitLayer(root string) func(*tar.Writer) error {
	return func(tw *tar.Writer) error {
		for _, e := range initLayer {
			if _, err := os.Lstat(filepath.Join(root, e.name)); err == nil {
				continue
			}
			hdr := &tar.Header{Name: e.name, Typeflag: e.typeflag, Mode: 0o755, Linkname: e.link, Format: tar.FormatPAX}
			if e.typeflag == tar.TypeDir {
				hdr.Name += "/"
			}
			if e.typeflag == tar.TypeSymlink {
				hdr.Mode = 0o777
			}
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
		}
		return nil
	}
}

// Sizes returns the bytes the container wrote (its snapshot's writable
// directory) and that plus its image's size, as inspect --size and ps -s
// show them.
func (e *Engine) Sizes(ctx context.Context, ref string) (rw, rootfs int64, err error) {
	c, err := e.Get(ref)
	if err != nil {
		return 0, 0, err
	}
	mounts, err := e.cfg.Images.Mounts(ctx, c.ID)
	if err != nil {
		return 0, 0, err
	}
	dir, _, err := mount.WritableDir(mounts)
	if err != nil {
		return 0, 0, fmt.Errorf("size of %s: %w", c.ID, err)
	}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if fi, err := d.Info(); err == nil && fi.Mode().IsRegular() {
			rw += fi.Size()
		}
		return nil
	})
	rootfs = rw
	c.mu.Lock()
	imageID := c.ImageID
	c.mu.Unlock()
	if img, err := e.cfg.Images.Get(ctx, imageID); err == nil {
		rootfs += img.Size
	}
	return rw, rootfs, nil
}

// onlyMtimeChanged reports whether the directory rel in upper has the
// mode and owner it has in the highest lower directory that holds it: a
// directory copied up only because something was created in it.
func onlyMtimeChanged(lowers []string, upper, rel string) bool {
	var up syscall.Stat_t
	if err := syscall.Lstat(filepath.Join(upper, rel), &up); err != nil {
		return false
	}
	for _, l := range lowers {
		var lo syscall.Stat_t
		if err := syscall.Lstat(filepath.Join(l, rel), &lo); err != nil {
			continue
		}
		return lo.Mode == up.Mode && lo.Uid == up.Uid && lo.Gid == up.Gid
	}
	return false
}

// pathWithin reports whether the clean absolute path p is dir or below it.
func pathWithin(p, dir string) bool {
	p, dir = path.Clean(p), path.Clean(dir)
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}
