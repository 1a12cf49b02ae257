package api

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	imagetypes "github.com/moby/moby/api/types/image"
)

// ImageUsage is system df's image part: every image with its Size (the
// unpacked size of its layers), SharedSize (the part in layers other
// images use too) and Containers (how many containers, in any state, use
// it). TotalSize is docker's LayersSize: each layer counted once.
// Reclaimable is what the docker CLI 28 computes from the legacy body:
// LayersSize less the unique part of every image a container uses.
func (s *Server) ImageUsage(ctx context.Context) (*imagetypes.DiskUsage, error) {
	du := &imagetypes.DiskUsage{Items: []imagetypes.Summary{}}
	if s.cfg.Images == nil {
		return du, nil
	}
	iu, err := s.cfg.Images.DiskUsage(ctx)
	if err != nil {
		return nil, err
	}
	users := map[string]int64{}
	if s.cfg.Engine != nil {
		for _, c := range s.cfg.Engine.List() {
			users[c.Summary().ImageID]++
		}
	}
	du.TotalSize = iu.LayersSize
	var used int64
	for _, img := range iu.Images {
		sum := imagetypes.Summary{
			Containers:  users[img.ID.String()],
			Created:     img.Created.Unix(),
			ID:          img.ID.String(),
			Labels:      img.Labels,
			RepoTags:    nonNil(img.RepoTags),
			RepoDigests: nonNil(img.RepoDigests),
			SharedSize:  iu.SharedSize[img.ID],
			Size:        img.Size,
		}
		du.Items = append(du.Items, sum)
		du.TotalCount++
		if sum.Containers > 0 {
			du.ActiveCount++
			used += sum.Size - sum.SharedSize
		}
	}
	du.Reclaimable = max(du.TotalSize-used, 0)
	return du, nil
}

// ContainerUsage is system df's container part: every container with
// SizeRw (its writable layer) and SizeRootFs (that plus its image), the
// total of SizeRw, and what removing the containers that are not running,
// paused or restarting would free.
func (s *Server) ContainerUsage(ctx context.Context) (*container.DiskUsage, error) {
	du := &container.DiskUsage{Items: []container.Summary{}}
	if s.cfg.Engine == nil {
		return du, nil
	}
	for _, c := range s.cfg.Engine.List() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		sum := c.Summary()
		rw, rootfs, err := s.cfg.Engine.Sizes(ctx, sum.ID)
		switch {
		case errdefs.IsNotFound(err):
			continue // removed meanwhile
		case err != nil:
			// As dockerd: one container's size does not fail the report.
			slog.WarnContext(ctx, "system df: container size", "id", sum.ID, "err", fmt.Errorf("size of %s: %w", sum.ID, err))
		}
		sum.SizeRw, sum.SizeRootFs = rw, rootfs
		du.Items = append(du.Items, sum)
		du.TotalCount++
		du.TotalSize += rw
		switch sum.State {
		case container.StateRunning, container.StatePaused, container.StateRestarting:
			du.ActiveCount++
		default:
			du.Reclaimable += rw
		}
	}
	return du, nil
}

// diskUsageKinds parses /system/df's type query: none means every kind.
func diskUsageKinds(types []string) (map[string]bool, error) {
	all := map[string]bool{"container": true, "image": true, "volume": true, "build-cache": true}
	if len(types) == 0 {
		return all, nil
	}
	want := map[string]bool{}
	for _, t := range types {
		if !all[t] {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("unknown object type: %s", t))
		}
		want[t] = true
	}
	return want, nil
}
