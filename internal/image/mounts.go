package image

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/containerd/errdefs"

	"github.com/berth/berth/internal/snapshot"
	"github.com/berth/berth/internal/snapshot/mount"
)

// Prepare creates the writable snapshot of container containerID on top of
// img's layers and returns its mounts. errdefs.ErrAlreadyExists if the
// container has one.
func (s *Service) Prepare(ctx context.Context, containerID string, img Image) ([]mount.Mount, error) {
	if containerID == "" {
		return nil, fmt.Errorf("prepare rootfs: empty container ID: %w", errdefs.ErrInvalidArgument)
	}
	if img.ChainID != "" {
		if info, err := s.snap.Stat(ctx, img.ChainID.String()); err != nil || info.Kind != snapshot.KindCommitted {
			s.gcMu.RLock()
			err := s.unpackLayers(ctx, img.Manifest.Layers, img.Config.RootFS.DiffIDs)
			s.gcMu.RUnlock()
			if err != nil {
				return nil, fmt.Errorf("prepare rootfs of %s: image %s: %w", containerID, img.ID, err)
			}
		}
	}
	parent := ""
	if img.ChainID != "" {
		parent = img.ChainID.String()
	}
	m, err := s.snap.Prepare(ctx, containerID, parent)
	if err != nil {
		return nil, fmt.Errorf("prepare rootfs of %s: %w", containerID, err)
	}
	return m, nil
}

// Mounts returns the mounts of container containerID's snapshot.
func (s *Service) Mounts(ctx context.Context, containerID string) ([]mount.Mount, error) {
	m, err := s.snap.Mounts(ctx, containerID)
	if err != nil {
		return nil, fmt.Errorf("rootfs of %s: %w", containerID, err)
	}
	return m, nil
}

// RemoveRootfs removes container containerID's snapshot.
func (s *Service) RemoveRootfs(ctx context.Context, containerID string) error {
	if err := s.snap.Remove(ctx, containerID); err != nil {
		return fmt.Errorf("remove rootfs of %s: %w", containerID, err)
	}
	return nil
}

// RemoveRootfsPrefix removes the writable snapshots whose container IDs
// start with prefix (what a daemon that died left of its builds' steps)
// and returns their IDs.
func (s *Service) RemoveRootfsPrefix(ctx context.Context, prefix string) ([]string, error) {
	if prefix == "" {
		return nil, fmt.Errorf("remove rootfs: empty prefix: %w", errdefs.ErrInvalidArgument)
	}
	var ids []string
	err := s.snap.Walk(ctx, func(_ context.Context, info snapshot.Info) error {
		if info.Kind == snapshot.KindActive && strings.HasPrefix(info.Name, prefix) {
			ids = append(ids, info.Name)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("remove rootfs: walk snapshots: %w", err)
	}
	var removed []string
	var errs []error
	for _, id := range ids {
		if err := s.snap.Remove(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("remove rootfs of %s: %w", id, err))
			continue
		}
		removed = append(removed, id)
	}
	return removed, errors.Join(errs...)
}
