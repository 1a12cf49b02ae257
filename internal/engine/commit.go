package engine

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/containerd/errdefs"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/moby/api/types/container"
	mevents "github.com/moby/moby/api/types/events"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/archive"
	"github.com/berth/berth/internal/image"
	"github.com/berth/berth/internal/snapshot/mount"
)

// CommitOptions are docker commit's.
type CommitOptions struct {
	// Ref names the new image, normalised ("docker.io/library/x:latest");
	// "" leaves it dangling. ShownRef is its familiar form for the event.
	Ref, ShownRef string
	// Author and Comment go into the image's config and history.
	Author, Comment string
	// Changes are Dockerfile instructions applied to the config (-c).
	Changes []string
	// Config replaces the container's config before Changes; what it
	// leaves empty comes from the container's, as dockerd merges them.
	// nil means the container's config.
	Config *container.Config
	// Pause freezes a running container while its diff is taken.
	Pause bool
}

// Commit makes an image of the container's image plus what the container
// changed (its snapshot's upper directory as one layer), with the
// container's config merged with o.Config and o.Changes, and returns it.
// It publishes the container's "commit" event.
func (e *Engine) Commit(ctx context.Context, ref string, o CommitOptions) (image.Image, error) {
	c, err := e.Get(ref)
	if err != nil {
		return image.Image{}, err
	}
	c.mu.Lock()
	removing, dead := c.removed, c.State.Dead
	running, paused := c.State.Running, c.State.Paused
	imageID, ctrCfg := c.ImageID, c.Config
	c.mu.Unlock()
	switch {
	case removing:
		return image.Image{}, errdefs.ErrConflict.WithMessage(fmt.Sprintf("You cannot commit container %s which is being removed", c.ID))
	case dead:
		return image.Image{}, errdefs.ErrConflict.WithMessage(fmt.Sprintf("You cannot commit container %s which is Dead", c.ID))
	}
	cfg := commitConfig(o.Config, ctrCfg)
	parent, err := e.cfg.Images.Get(ctx, imageID)
	if err != nil {
		return image.Image{}, fmt.Errorf("commit %s: image %s: %w", c.ID, imageID, err)
	}
	mounts, err := e.cfg.Images.Mounts(ctx, c.ID)
	if err != nil {
		return image.Image{}, fmt.Errorf("commit %s: %w", c.ID, err)
	}
	upper, overlay, err := mount.WritableDir(mounts)
	if err != nil {
		return image.Image{}, fmt.Errorf("commit %s: %w", c.ID, err)
	}
	if !overlay && parent.ChainID != "" {
		return image.Image{}, errdefs.ErrNotImplemented.WithMessage("commit of containers on native snapshots is not supported")
	}
	if o.Pause && running && !paused {
		if err := e.Pause(c.ID); err != nil && !errdefs.IsConflict(err) {
			return image.Image{}, fmt.Errorf("commit %s: %w", c.ID, err)
		} else if err == nil {
			defer func() {
				if err := e.Unpause(c.ID); err != nil && !errdefs.IsConflict(err) {
					slog.Warn("commit: unpause failed", "container", c.ID, "err", err)
				}
			}()
		}
	}
	pr, pw := io.Pipe()
	go func() {
		dr, dw := io.Pipe()
		go func() { dw.CloseWithError(archive.Diff(ctx, mount.LowerDirs(mounts), upper, dw)) }()
		err := withoutMountTargets(mount.LowerDirs(mounts), upper, dr, pw)
		dr.CloseWithError(errors.New("diff not read"))
		pw.CloseWithError(err)
	}()
	img, err := e.cfg.Images.CreateFromDiff(ctx, parent, pr, image.CommitOptions{
		Ref:       o.Ref,
		Changes:   o.Changes,
		Config:    cfg,
		ConfigExt: commitConfigExt(parent, o.Config, ctrCfg),
		Author:    o.Author,
		Comment:   o.Comment,
		CreatedBy: strings.Join(ctrCfg.Cmd, " "),
	})
	pr.CloseWithError(errors.New("layer not read"))
	if errdefs.IsInvalidArgument(err) {
		return image.Image{}, err // a bad change: the message names it
	}
	if err != nil {
		return image.Image{}, fmt.Errorf("commit %s: %w", c.ID, err)
	}
	e.publish(c, mevents.ActionCommit, map[string]string{
		"comment": o.Comment, "imageID": img.ID.String(), "imageRef": o.ShownRef,
	})
	return img, nil
}

// commitConfig is dockerd's merge of the config a commit asked for (nil:
// the container's own) with the container's: what the request leaves
// empty is the container's (Env and ExposedPorts and Labels and Volumes
// joined), and the result is the image config it becomes.
func commitConfig(req, ctr *container.Config) *ocispec.ImageConfig {
	if ctr == nil {
		ctr = &container.Config{}
	}
	var u container.Config
	if req != nil {
		u = *req
	} else {
		u = *ctr
	}
	if u.User == "" {
		u.User = ctr.User
	}
	ports := map[string]struct{}{}
	for p := range u.ExposedPorts {
		ports[p.String()] = struct{}{}
	}
	for p := range ctr.ExposedPorts {
		ports[p.String()] = struct{}{}
	}
	env := slices.Clone(u.Env)
	if len(env) == 0 {
		env = slices.Clone(ctr.Env)
	} else {
		have := map[string]bool{}
		for _, kv := range env {
			k, _, _ := strings.Cut(kv, "=")
			have[k] = true
		}
		for _, kv := range ctr.Env {
			if k, _, _ := strings.Cut(kv, "="); !have[k] {
				env = append(env, kv)
			}
		}
	}
	labels := maps.Clone(u.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	for k, v := range ctr.Labels {
		if _, ok := labels[k]; !ok {
			labels[k] = v
		}
	}
	if len(u.Entrypoint) == 0 {
		if len(u.Cmd) == 0 {
			u.Cmd = ctr.Cmd
		}
		if u.Entrypoint == nil {
			u.Entrypoint = ctr.Entrypoint
		}
	}
	if u.WorkingDir == "" {
		u.WorkingDir = ctr.WorkingDir
	}
	vols := maps.Clone(u.Volumes)
	if vols == nil && len(ctr.Volumes) > 0 {
		vols = map[string]struct{}{}
	}
	maps.Copy(vols, ctr.Volumes)
	if u.StopSignal == "" {
		u.StopSignal = ctr.StopSignal
	}
	out := &ocispec.ImageConfig{
		User:       u.User,
		Env:        env,
		Entrypoint: slices.Clone(u.Entrypoint),
		Cmd:        slices.Clone(u.Cmd),
		Volumes:    vols,
		WorkingDir: u.WorkingDir,
		Labels:     labels,
		StopSignal: u.StopSignal,
	}
	if len(ports) > 0 {
		out.ExposedPorts = ports
	}
	return out
}

// etcMountTargets are the files the engine bind-mounts over the image's
// (etc.go): when the image lacks them, the runtime creates them empty in
// the container's upper directory as mount targets. dockerd keeps them in
// an init layer below the container's, so neither diff nor commit shows
// them; the same is done here by leaving out an empty file at one of
// these paths (what the container writes there goes to the bind-mounted
// file, never to the upper directory).
var etcMountTargets = map[string]bool{"etc/hostname": true, "etc/hosts": true, "etc/resolv.conf": true, ".dockerenv": true}

// isMountTarget reports whether rel (relative to upper, no leading "/")
// is an engine-created, empty mount target file, or the /etc/mtab link the
// engine adds where the image has none (ensureMtab).
func isMountTarget(upper, rel string) bool {
	if rel == mtabPath {
		target, err := os.Readlink(filepath.Join(upper, rel))
		return err == nil && target == mtabTarget
	}
	if !etcMountTargets[rel] {
		return false
	}
	fi, err := os.Lstat(filepath.Join(upper, rel))
	return err == nil && fi.Mode().IsRegular() && fi.Size() == 0
}

// mtabPath is where dockerd's init layer links /proc/mounts (mtabTarget)
// for programs that read the mount table from /etc/mtab.
const (
	mtabPath   = "etc/mtab"
	mtabTarget = "/proc/mounts"
)

// ensureMtab adds the /etc/mtab link to a container's mounted rootfs when
// its image has none, as dockerd's init layer does. The link goes into the
// container's writable layer; diff and commit leave it out (isMountTarget).
// /etc must be a directory of the image (a symbolic link there is not
// followed: the image is untrusted); without one nothing is added.
func ensureMtab(rootfs string) error {
	if _, err := os.Lstat(filepath.Join(rootfs, mtabPath)); !errors.Is(err, os.ErrNotExist) {
		return nil
	}
	fd, err := unix.Open(filepath.Join(rootfs, "etc"), unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer unix.Close(fd)
	if err := unix.Symlinkat(mtabTarget, fd, path.Base(mtabPath)); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("/etc/mtab: %w", err)
	}
	return nil
}

// withoutMountTargets copies the layer tar r to w, leaving out the
// engine's empty mount target files, and /etc itself when they are all
// that the container changed in it.
func withoutMountTargets(lowers []string, upper string, r io.Reader, w io.Writer) error {
	skipEtc := onlyMountTargetsIn(lowers, upper)
	tr := tar.NewReader(r)
	tw := tar.NewWriter(w)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return tw.Close()
		}
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(path.Clean("/"+hdr.Name), "/")
		if hdr.Typeflag == tar.TypeReg && hdr.Size == 0 && isMountTarget(upper, name) ||
			hdr.Typeflag == tar.TypeSymlink && name == mtabPath && hdr.Linkname == mtabTarget && isMountTarget(upper, name) ||
			skipEtc && name == "etc" && hdr.Typeflag == tar.TypeDir {
			continue
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
}

// onlyMountTargetsIn reports whether the container's /etc holds nothing
// but the engine's mount targets and is otherwise its image's.
func onlyMountTargetsIn(lowers []string, upper string) bool {
	entries, err := os.ReadDir(filepath.Join(upper, "etc"))
	if err != nil {
		return false
	}
	for _, en := range entries {
		if !isMountTarget(upper, "etc/"+en.Name()) {
			return false
		}
	}
	return onlyMtimeChanged(lowers, upper, "etc")
}

// commitConfigExt is the docker-only part of a committed image's config:
// the parent's Healthcheck, Shell and OnBuild, replaced by what the
// commit's config (or else the container's) sets, as dockerd writes the
// container's config into the image. Nil keeps the parent's as they are.
func commitConfigExt(parent image.Image, req, ctr *container.Config) *dockerspec.DockerOCIImageConfigExt {
	c := req
	if c == nil {
		c = ctr
	}
	if c == nil || (c.Healthcheck == nil && len(c.Shell) == 0 && len(c.OnBuild) == 0) {
		return nil
	}
	var raw struct {
		Config dockerspec.DockerOCIImageConfigExt `json:"config"`
	}
	if len(parent.ConfigRaw) > 0 {
		_ = json.Unmarshal(parent.ConfigRaw, &raw) // a parent without them keeps none
	}
	ext := raw.Config
	if h := c.Healthcheck; h != nil {
		ext.Healthcheck = &dockerspec.HealthcheckConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout,
			StartPeriod: h.StartPeriod, StartInterval: h.StartInterval, Retries: h.Retries}
	}
	if len(c.Shell) > 0 {
		ext.Shell = slices.Clone(c.Shell)
	}
	if len(c.OnBuild) > 0 {
		ext.OnBuild = slices.Clone(c.OnBuild)
	}
	return &ext
}
