package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	mevents "github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/mount"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/image"
	snapmount "github.com/berth/berth/internal/snapshot/mount"
	"github.com/berth/berth/internal/volume"
)

// MountRecord is one of a container's mounts as validated at create: a
// bind, a tmpfs or a volume (with the name of the volume it got).
type MountRecord struct {
	volume.MountPoint
	// Name is the volume's name (anonymous ones get a random one).
	Name string `json:",omitempty"`
	// Anonymous marks a volume made for this container (image VOLUME,
	// -v /path, --mount without source): rm -v and --rm remove it.
	Anonymous bool `json:",omitempty"`
	// Copied is set once the image's content was copied up.
	Copied bool `json:",omitempty"`
	// Driver is the volume driver --volume-driver asks for a -v volume or
	// an image's anonymous volume ("" for the default, local); --mount
	// names its own in Spec.VolumeOptions.
	Driver string `json:",omitempty"`
	// CreateSource marks a -v bind: a missing host directory is made at
	// each start (0755, as docker does); a --mount bind's must exist.
	CreateSource bool `json:",omitempty"`
	// ReadOnlyNonRecursive leaves mounts below a read-only bind or volume
	// writable: bind-recursive=writable, or a container created through
	// API < 1.44, as with dockerd. Otherwise a read-only mount is
	// read-only all the way down ("rro", where the kernel can).
	ReadOnlyNonRecursive bool `json:",omitempty"`
	// ImageID is an image mount's image, resolved at create.
	ImageID string `json:",omitempty"`
}

// ociMount is r's runtime-spec mount from source, read-only recursively
// unless r says otherwise.
func (r *MountRecord) ociMount(source string) (specs.Mount, error) {
	m := r.OCIMount(source)
	if r.Type == mount.TypeTmpfs || r.RW {
		return m, nil
	}
	force := r.Spec.BindOptions != nil && r.Spec.BindOptions.ReadOnlyForceRecursive
	if r.ReadOnlyNonRecursive && !force {
		return m, nil
	}
	if !recursiveReadOnly() {
		if force {
			return m, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("mount %s: bind-recursive=readonly needs kernel 5.12 or later (mount_setattr)", r.Destination))
		}
		return m, nil
	}
	m.Options = append(m.Options, "rro")
	return m, nil
}

// recursiveReadOnly reports whether the kernel has mount_setattr, which
// recursive read-only mounts need (5.12).
var recursiveReadOnly = sync.OnceValue(func() bool {
	err := unix.MountSetattr(-1, "", unix.AT_EMPTY_PATH, &unix.MountAttr{})
	return !errors.Is(err, unix.ENOSYS)
})

// prepareMounts validates and resolves c's mounts: -v, --mount, --tmpfs,
// --volumes-from and the image's VOLUMEs, creating and acquiring volumes.
// On error every volume acquired here is released (and anonymous ones
// removed).
//
// nonRecursiveRO makes every read-only mount read-only at its top only (a
// request through API < 1.44).
func (e *Engine) prepareMounts(ctx context.Context, c *Container, nonRecursiveRO bool) (retErr error) {
	var recs []MountRecord
	dests := map[string]bool{}
	add := func(mp *volume.MountPoint) error {
		if dests[mp.Destination] {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Duplicate mount point: %s", mp.Destination))
		}
		dests[mp.Destination] = true
		recs = append(recs, MountRecord{MountPoint: *mp})
		return nil
	}
	hc := c.HostConfig
	for _, b := range hc.Binds {
		mp, err := volume.ParseVolumeSpec(b)
		if err != nil {
			return err
		}
		if err := add(mp); err != nil {
			return err
		}
		switch mp.Type {
		case mount.TypeBind:
			recs[len(recs)-1].CreateSource = true
		case mount.TypeVolume:
			recs[len(recs)-1].Driver = hc.VolumeDriver
		}
	}
	for _, m := range hc.Mounts {
		mp, err := volume.ValidateMount(m)
		if err != nil {
			return err
		}
		if mp.Type == mount.TypeVolume && mp.Mode == "" && (m.VolumeOptions == nil || m.VolumeOptions.DriverConfig == nil ||
			m.VolumeOptions.DriverConfig.Name == "" || m.VolumeOptions.DriverConfig.Name == volume.DriverName) {
			mp.Mode = "z" // dockerd's mode of a local volume (setBindModeIfNull), as for -v
		}
		if err := add(mp); err != nil {
			return err
		}
	}
	tmpfs := make([]string, 0, len(hc.Tmpfs))
	for dest := range hc.Tmpfs {
		tmpfs = append(tmpfs, dest)
	}
	sort.Strings(tmpfs)
	for _, dest := range tmpfs {
		d := filepath.Clean(dest)
		// dockerd's words for a relative path and for "/".
		if !filepath.IsAbs(d) {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid mount config for type \"tmpfs\": invalid mount path: '%s' mount path must be absolute", dest))
		}
		if d == "/" {
			return errdefs.ErrInvalidArgument.WithMessage("invalid mount config for type \"tmpfs\": invalid specification: destination can't be '/'")
		}
		if dests[d] {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Duplicate mount point: %s", d))
		}
		dests[d] = true // spec.go mounts --tmpfs itself
	}
	// --volumes-from: the container's own mounts win; among the
	// containers named, the last one's mount at a destination wins, as
	// dockerd's. An inherited anonymous volume stays anonymous: rm -v
	// removes it once no container uses it (dockerd's rule).
	inherited := map[string]int{} // destination -> index in recs
	for _, from := range hc.VolumesFrom {
		ref, mode, _ := strings.Cut(from, ":")
		readOnly, err := volumesFromMode(mode)
		if err != nil {
			return err
		}
		other, err := e.Get(ref)
		if err != nil {
			return createRefError(err)
		}
		for _, r := range other.Snapshot().MountPoints {
			if r.Type == mount.TypeTmpfs {
				continue
			}
			r.CopyData = false
			// As dockerd's: ":ro" makes every mount read-only; ":rw" (the
			// default) keeps each as the source container has it, so a
			// read-only mount never becomes writable.
			if readOnly {
				r.RW = false
			}
			if i, ok := inherited[r.Destination]; ok {
				recs[i] = r
				continue
			}
			if dests[r.Destination] {
				continue
			}
			dests[r.Destination] = true
			inherited[r.Destination] = len(recs)
			recs = append(recs, r)
		}
	}
	vols := make([]string, 0, len(c.Config.Volumes))
	for dest := range c.Config.Volumes {
		vols = append(vols, dest)
	}
	sort.Strings(vols)
	for _, dest := range vols {
		d := filepath.Clean(dest)
		if !filepath.IsAbs(d) || d == "/" {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid volume destination %q", dest))
		}
		if dests[d] {
			continue
		}
		dests[d] = true
		recs = append(recs, MountRecord{MountPoint: volume.MountPoint{Type: mount.TypeVolume, Destination: d, RW: true, CopyData: true}, Driver: hc.VolumeDriver})
	}
	for i := range recs {
		r := &recs[i]
		if !r.RW && (nonRecursiveRO || r.Spec.BindOptions != nil && r.Spec.BindOptions.ReadOnlyNonRecursive) {
			r.ReadOnlyNonRecursive = true
		}
	}
	var acquired []MountRecord
	defer func() {
		if retErr != nil {
			e.releaseMounts(context.WithoutCancel(ctx), c.ID, acquired, true)
			e.removeImageViews(context.WithoutCancel(ctx), c.ID, recs)
		}
	}()
	for i := range recs {
		r := &recs[i]
		switch r.Type {
		case mount.TypeImage:
			img, err := e.cfg.Images.Get(ctx, r.Source)
			if err != nil {
				if errdefs.IsNotFound(err) {
					// 400, not 404: the docker CLI answers a 404 from
					// create by pulling the container's own image.
					return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid mount config for type \"image\": No such image: %s", r.Source))
				}
				return fmt.Errorf("image mount %s: %w", r.Destination, err)
			}
			r.ImageID = img.ID.String()
			// The mount's snapshot is made now and kept until the
			// container is removed: its layers stay when the image
			// goes (rmi -f), as dockerd keeps them for the container.
			if _, err := e.cfg.Images.Prepare(ctx, imageViewKey(c.ID, i), img); err != nil && !errdefs.IsAlreadyExists(err) {
				return fmt.Errorf("image mount %s: %w", r.Destination, err)
			}
		case mount.TypeBind:
			rslave, err := volume.BindDaemonRoot(e.cfg.DataRoot, r.Spec)
			if err != nil {
				return err
			}
			if rslave {
				r.Propagation = mount.PropagationRSlave
			}
		case mount.TypeVolume:
			if e.cfg.Volumes == nil {
				return errdefs.ErrNotImplemented.WithMessage("volumes are not available in this daemon")
			}
			name := r.Name
			if name == "" {
				name = r.Source
			}
			if name == "" {
				r.Anonymous = true
			}
			opts := volume.CreateOptions{Driver: r.Driver}
			if r.Spec.VolumeOptions != nil {
				opts.Labels = r.Spec.VolumeOptions.Labels
				if d := r.Spec.VolumeOptions.DriverConfig; d != nil {
					opts.Driver, opts.Options = d.Name, d.Options
				}
			}
			existed := false
			if name != "" {
				_, gerr := e.cfg.Volumes.Get(ctx, name)
				existed = gerr == nil
			}
			v, err := e.cfg.Volumes.Create(ctx, name, opts)
			if err != nil {
				// A missing driver is 404, from create too, as dockerd
				// answers it (moby's TestContainerVolumeAnonymous).
				return err
			}
			if !existed { // dockerd's "create" event for a volume a container made
				e.publishVolume(mevents.ActionCreate, v.Name, v.Driver)
			}
			r.Name = v.Name
			if _, err := e.cfg.Volumes.Acquire(ctx, v.Name, c.ID); err != nil {
				if r.Anonymous {
					_ = e.cfg.Volumes.Remove(ctx, v.Name, true)
				}
				return err
			}
			acquired = append(acquired, *r)
		}
	}
	c.MountPoints = recs
	return nil
}

// releaseMounts drops c's references on its volumes and, with
// removeAnonymous, removes its anonymous volumes.
func (e *Engine) releaseMounts(ctx context.Context, id string, recs []MountRecord, removeAnonymous bool) {
	if e.cfg.Volumes == nil {
		return
	}
	for _, r := range recs {
		if r.Type != mount.TypeVolume || r.Name == "" {
			continue
		}
		if err := e.cfg.Volumes.Release(ctx, r.Name, id); err != nil {
			slog.Error("release volume", "volume", r.Name, "container", id, "err", err)
		}
		if removeAnonymous && r.Anonymous {
			err := e.cfg.Volumes.Remove(ctx, r.Name, false)
			switch {
			case err == nil:
				e.publishVolume(mevents.ActionDestroy, r.Name, "")
			case !errdefs.IsNotFound(err) && !errdefs.IsConflict(err):
				slog.Error("remove anonymous volume", "volume", r.Name, "err", err)
			}
		}
	}
}

// reacquireVolumes takes again the references of a container restored at
// daemon start (references live in memory only).
func (e *Engine) reacquireVolumes(ctx context.Context, c *Container) {
	if e.cfg.Volumes == nil {
		return
	}
	for _, r := range c.MountPoints {
		if r.Type == mount.TypeVolume && r.Name != "" {
			if _, err := e.cfg.Volumes.Acquire(ctx, r.Name, c.ID); err != nil {
				slog.Error("acquire volume at daemon start", "volume", r.Name, "container", c.ID, "err", err)
			}
		}
	}
}

// copyUpVolumes fills c's new empty volumes from the image's content at
// their destination (rootfs is mounted); once per volume mount. c.mu held.
func (e *Engine) copyUpVolumes(ctx context.Context, c *Container, rootfs string) error {
	changed, err := e.copyUp(ctx, c, rootfs)
	if changed {
		e.saveLogged(c)
	}
	if err != nil {
		return fmt.Errorf("start %s: %w", c.ID, err)
	}
	return nil
}

// copyUp copies the content under each of c's volumes' destinations in
// rootfs (c's mounted root) into the volume, once per volume, and reports
// whether any record changed.
func (e *Engine) copyUp(ctx context.Context, c *Container, rootfs string) (changed bool, err error) {
	for i := range c.MountPoints {
		r := &c.MountPoints[i]
		if r.Type != mount.TypeVolume || !r.CopyData || r.Copied || e.cfg.Volumes == nil {
			continue
		}
		src, err := securePath(rootfs, r.Destination)
		if err != nil {
			return changed, fmt.Errorf("volume %s: %w", r.Destination, err)
		}
		sub := ""
		if o := r.Spec.VolumeOptions; o != nil {
			sub = o.Subpath // an empty subpath directory is filled, as dockerd
		}
		if err := e.cfg.Volumes.CopyUpSubpath(ctx, r.Name, sub, src); err != nil {
			return changed, err
		}
		r.Copied, changed = true, true
	}
	return changed, nil
}

// populateVolumes copies the image's content into c's volumes at create,
// as dockerd does, so that a container that never runs (a data container
// for --volumes-from, a volume shared with -v) already holds it. c's root
// is mounted for the time of the copy.
func (e *Engine) populateVolumes(ctx context.Context, c *Container, rootfs string) error {
	copyUp := false
	for _, r := range c.MountPoints {
		copyUp = copyUp || r.Type == mount.TypeVolume && r.CopyData && !r.Copied
	}
	copyUp = copyUp && e.cfg.Volumes != nil
	wd := path.Clean("/" + c.Config.WorkingDir)
	if !copyUp && wd == "/" {
		return nil
	}
	mounts, err := e.cfg.Images.Mounts(ctx, c.ID)
	if err != nil {
		return fmt.Errorf("create %s: %w", c.ID, err)
	}
	if err := snapmount.All(mounts, rootfs); err != nil {
		_ = snapmount.UnmountAll(rootfs)
		return fmt.Errorf("create %s: mount rootfs: %w", c.ID, err)
	}
	if wd != "/" {
		// As dockerd at create: the working directory exists from now on
		// (docker cp into it before the first start works), 0755, root's.
		err = makeWorkdir(rootfs, wd)
	}
	if err == nil && copyUp {
		_, err = e.copyUp(ctx, c, rootfs)
	}
	if uerr := snapmount.UnmountAll(rootfs); uerr != nil && err == nil {
		err = uerr
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", c.ID, err)
	}
	return nil
}

// securePath resolves p inside root, following symlinks as if root were
// "/", so a link in the image never leads out of it.
func securePath(root, p string) (string, error) {
	var done []string // resolved components below root
	todo := strings.Split(filepath.Clean("/"+p), "/")
	for links := 0; len(todo) > 0; {
		part := todo[0]
		todo = todo[1:]
		switch part {
		case "", ".":
			continue
		case "..":
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}
		full := filepath.Join(root, filepath.Join(done...), part)
		st, err := os.Lstat(full)
		if err != nil || st.Mode()&os.ModeSymlink == 0 {
			done = append(done, part)
			continue
		}
		if links++; links > 255 {
			return "", errors.New("too many levels of symbolic links")
		}
		target, err := os.Readlink(full)
		if err != nil {
			return "", err
		}
		if filepath.IsAbs(target) {
			done = nil
		}
		todo = append(strings.Split(target, "/"), todo...)
	}
	return filepath.Join(append([]string{root}, done...)...), nil
}

// volumeMounts are c's -v, --mount and volume mounts for the spec.
func (e *Engine) volumeMounts(c *Container) ([]specs.Mount, error) {
	var out []specs.Mount
	for i := range c.MountPoints {
		r := &c.MountPoints[i]
		switch r.Type {
		case mount.TypeVolume:
			if e.cfg.Volumes == nil {
				return nil, errdefs.ErrNotImplemented.WithMessage("volumes are not available in this daemon")
			}
			v, err := e.cfg.Volumes.Get(context.Background(), r.Name)
			if err != nil {
				return nil, fmt.Errorf("volume %s for %s: %w", r.Name, r.Destination, err)
			}
			source := v.Mountpoint
			if o := r.Spec.VolumeOptions; o != nil && o.Subpath != "" {
				if source, err = e.stageSubpath(c.ID, i, v.Mountpoint, o.Subpath); err != nil {
					return nil, err
				}
			}
			m, err := r.ociMount(source)
			if err != nil {
				return nil, err
			}
			out = append(out, m)
		case mount.TypeImage:
			source, err := e.mountImageView(c.ID, i, r)
			if err != nil {
				return nil, err
			}
			m, err := r.ociMount(source)
			if err != nil {
				return nil, err
			}
			out = append(out, m)
		case mount.TypeBind:
			if r.CreateSource {
				if err := createBindSource(r.Source); err != nil {
					return nil, err
				}
			}
			m, err := r.ociMount(r.Source)
			if err != nil {
				return nil, err
			}
			out = append(out, m)
		default:
			m, _ := r.ociMount("")
			out = append(out, m)
		}
	}
	return out, nil
}

// createRefError is a container that create's request names (with
// --volumes-from, --network container:) and that does not exist: 400 with
// dockerd's "No such container" message, since the docker CLI answers a
// 404 from create by pulling the image.
func createRefError(err error) error {
	if errdefs.IsNotFound(err) {
		return errdefs.ErrInvalidArgument.WithMessage(err.Error())
	}
	return err
}

// createBindSource makes the missing host directory of a -v bind, as
// docker does; an existing file or directory is left as it is.
func createBindSource(source string) error {
	if _, err := os.Lstat(source); err == nil {
		return nil
	}
	if err := os.MkdirAll(source, 0o755); err != nil && !errors.Is(err, unix.ENOTDIR) {
		return fmt.Errorf("error while creating mount source path '%s': %w", source, err)
	}
	return nil
}

// mountPointsOf is inspect's and ps's Mounts of a container; vols (nil for
// ps) gives volumes' host paths.
func mountPointsOf(s *Container, vols *volume.Store) []container.MountPoint {
	out := []container.MountPoint{}
	for _, r := range s.MountPoints {
		mp := container.MountPoint{Type: r.Type, Destination: r.Destination, Mode: r.Mode, RW: r.RW, Propagation: r.Propagation}
		switch r.Type {
		case mount.TypeBind:
			mp.Source = r.Source
			if mp.Propagation == "" {
				mp.Propagation = mount.PropagationRPrivate
			}
		case mount.TypeImage:
			mp.Source = r.Source
		case mount.TypeVolume:
			mp.Name, mp.Driver = r.Name, "local"
			if vols != nil {
				if v, err := vols.Get(context.Background(), r.Name); err == nil {
					mp.Source = v.Mountpoint
				}
			}
		}
		out = append(out, mp)
	}
	// --tmpfs mounts are in HostConfig.Tmpfs only, as dockerd shows them;
	// --mount type=tmpfs ones are mount points.
	return out
}

// publishVolume logs a volume's "create" or "destroy" event with its
// driver ("local" when empty), as the volume API does.
func (e *Engine) publishVolume(action mevents.Action, name, driver string) {
	if e.cfg.Publish == nil {
		return
	}
	if driver == "" {
		driver = "local"
	}
	now := time.Now()
	e.cfg.Publish(mevents.Message{
		Type:     mevents.VolumeEventType,
		Action:   action,
		Actor:    mevents.Actor{ID: name, Attributes: map[string]string{"driver": driver}},
		Scope:    "local",
		Time:     now.Unix(),
		TimeNano: now.UnixNano(),
	})
}

// publishVolumeEvents logs dockerd's events for c's volumes: "mount"
// (driver, container, destination, read/write, propagation) as it starts,
// "unmount" (driver, container) once it exited for good. c.mu held.
func (e *Engine) publishVolumeEvents(ctx context.Context, c *Container, action mevents.Action) {
	if e.cfg.Publish == nil {
		return
	}
	for _, m := range c.MountPoints {
		if m.Type != mount.TypeVolume || m.Name == "" {
			continue
		}
		driver := "local"
		if e.cfg.Volumes != nil {
			if v, err := e.cfg.Volumes.Get(ctx, m.Name); err == nil && v.Driver != "" {
				driver = v.Driver
			}
		}
		attrs := map[string]string{"driver": driver, "container": c.ID}
		if action == mevents.ActionMount {
			attrs["destination"] = m.Destination
			attrs["read/write"] = strconv.FormatBool(m.RW)
			attrs["propagation"] = string(m.Propagation)
		}
		now := time.Now()
		e.cfg.Publish(mevents.Message{
			Type:     mevents.VolumeEventType,
			Action:   action,
			Actor:    mevents.Actor{ID: m.Name, Attributes: attrs},
			Scope:    "local",
			Time:     now.Unix(),
			TimeNano: now.UnixNano(),
		})
	}
}

// volumesFromMode reads the mode of a --volumes-from CONTAINER[:MODE]: "",
// "rw" or "ro", optionally with the SELinux relabel modes "z" or "Z"
// (accepted and ignored, as elsewhere), comma-separated.
func volumesFromMode(mode string) (readOnly bool, err error) {
	if mode == "" {
		return false, nil
	}
	seenRW, seenLabel := false, false
	for _, m := range strings.Split(mode, ",") {
		switch m {
		case "ro", "rw":
			if seenRW {
				return false, errdefs.ErrInvalidArgument.WithMessage("invalid mode: " + mode)
			}
			seenRW, readOnly = true, m == "ro"
		case "z", "Z":
			if seenLabel {
				return false, errdefs.ErrInvalidArgument.WithMessage("invalid mode: " + mode)
			}
			seenLabel = true
		default:
			return false, errdefs.ErrInvalidArgument.WithMessage("invalid mode: " + mode)
		}
	}
	return readOnly, nil
}

// subpathsDir holds the bind mounts of c's volume subpaths while it runs
// (stageSubpath); unmountSubpaths removes them.
func (e *Engine) subpathsDir(id string) string { return filepath.Join(e.dir(id), "subpaths") }

// stageSubpath makes the subpath sub of the volume at root (--mount
// volume-subpath) the source of mount point i of container id: sub is
// opened beneath root, never following a link out of it (openat2
// RESOLVE_BENEATH), and what was opened is bound at
// <container dir>/subpaths/<i>, so that nothing the volume's users do to
// the path afterwards changes what the container gets.
func (e *Engine) stageSubpath(id string, i int, root, sub string) (string, error) {
	fail := func(err error) (string, error) {
		if errors.Is(err, unix.EXDEV) {
			// openat2 refused a step out of the root: dockerd's words.
			err = errors.New("path concatenation escapes the base directory")
		}
		return "", errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("cannot access path %s: %v", filepath.Join(root, sub), err))
	}
	rootFD, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fail(err)
	}
	defer unix.Close(rootFD)
	fd, err := unix.Openat2(rootFD, sub, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return fail(err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fail(err)
	}
	dir := e.subpathsDir(id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	target := filepath.Join(dir, strconv.Itoa(i))
	_ = snapmount.UnmountAll(target)
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		err = os.Mkdir(target, 0o700)
	} else {
		var f *os.File
		if f, err = os.OpenFile(target, os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
			f.Close()
		}
	}
	if err != nil && !errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("volume subpath %s: %w", sub, err)
	}
	if err := unix.Mount("/proc/self/fd/"+strconv.Itoa(fd), target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return "", fmt.Errorf("volume subpath %s: bind: %w", sub, err)
	}
	return target, nil
}

// unmountSubpaths removes the bind mounts stageSubpath made for id, then
// the image views mountImageView made and their snapshots.
func (e *Engine) unmountSubpaths(id string) {
	defer e.unmountImageViews(id)
	unmountEntries(id, e.subpathsDir(id), "volume subpath", nil)
}

// unmountEntries unmounts every entry of dir, calls after(name) for each,
// and removes dir; a mount that stays stops it (nothing is removed through
// a mount).
func unmountEntries(id, dir, what string, after func(name string)) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, en := range ents {
		if err := snapmount.UnmountAll(filepath.Join(dir, en.Name())); err != nil {
			slog.Error("unmount "+what, "id", id, "err", err)
			return
		}
		if after != nil {
			after(en.Name())
		}
	}
	_ = os.RemoveAll(dir)
}

// imageViewsDir holds the read-only views of c's image mounts while it
// runs: <container dir>/imagemounts/<i>, each an overlay of a snapshot
// named <id>-imagemount-<i> on the image's layers.
func (e *Engine) imageViewsDir(id string) string { return filepath.Join(e.dir(id), "imagemounts") }

func imageViewKey(id string, i int) string { return id + "-imagemount-" + strconv.Itoa(i) }

// mountImageView mounts the image of c's mount i (its ImageOptions.Subpath
// resolved beneath it) and returns the host path to bind.
func (e *Engine) mountImageView(id string, i int, r *MountRecord) (string, error) {
	ctx := context.Background()
	key := imageViewKey(id, i)
	mounts, err := e.cfg.Images.Mounts(ctx, key) // made at create
	if errdefs.IsNotFound(err) {
		var img image.Image
		if img, err = e.cfg.Images.Get(ctx, r.ImageID); err != nil {
			return "", fmt.Errorf("image mount %s: image %s: %w", r.Destination, r.Source, err)
		}
		mounts, err = e.cfg.Images.Prepare(ctx, key, img)
	}
	if err != nil {
		return "", fmt.Errorf("image mount %s: %w", r.Destination, err)
	}
	dir := filepath.Join(e.imageViewsDir(id), strconv.Itoa(i))
	_ = snapmount.UnmountAll(dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	if err := snapmount.All(mounts, dir); err != nil {
		return "", fmt.Errorf("image mount %s: %w", r.Destination, err)
	}
	if o := r.Spec.ImageOptions; o != nil && o.Subpath != "" {
		return e.stageSubpath(id, i, dir, o.Subpath)
	}
	return dir, nil
}

// removeImageViews removes the snapshots of id's image mounts among recs
// (made by prepareMounts, kept until the container is removed).
func (e *Engine) removeImageViews(ctx context.Context, id string, recs []MountRecord) {
	for i, r := range recs {
		if r.Type != mount.TypeImage {
			continue
		}
		if err := e.cfg.Images.RemoveRootfs(ctx, imageViewKey(id, i)); err != nil && !errdefs.IsNotFound(err) {
			slog.Error("remove image mount snapshot", "id", id, "err", err)
		}
	}
}

// unmountImageViews unmounts id's image views; their snapshots stay until
// the container is removed.
func (e *Engine) unmountImageViews(id string) {
	unmountEntries(id, e.imageViewsDir(id), "image mount", nil)
}

// makeWorkdir makes the working directory wd in the mounted rootfs,
// resolved inside it; something else than a directory there is dockerd's
// error.
func makeWorkdir(rootfs, wd string) error {
	target, err := securePath(rootfs, wd)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(target); err == nil {
		if !fi.IsDir() {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Cannot mkdir: %s is not a directory", wd))
		}
		return nil
	}
	if err := os.MkdirAll(target, 0o755); err != nil {
		return fmt.Errorf("working directory %s: %w", wd, err)
	}
	return nil
}
