package daemon

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/berth/berth/internal/api"
	"github.com/berth/berth/internal/content"
	"github.com/berth/berth/internal/image"
	"github.com/berth/berth/internal/metadata"
	"github.com/berth/berth/internal/snapshot"
)

// openImages opens the image service over the stores under the data root:
//
//	<data-root>/content/        blobs (package content)
//	<data-root>/metadata.db     image records (package metadata)
//	<data-root>/snapshots/overlay/ or snapshots/native/   layer snapshots
//
// The overlay snapshotter is used when the daemon runs as root on a kernel
// with overlayfs, unless the data root already holds native snapshots;
// native copies otherwise. Registries listed in daemon.json's
// "insecure-registries" (and loopback ones) are reached over plain HTTP.
// The stores stay open for the daemon's life; their locks go with the
// process.
func openImages(cfg Config) (*image.Service, error) {
	cs, err := content.Open(filepath.Join(cfg.DataRoot, "content"))
	if err != nil {
		return nil, fmt.Errorf("image service: %w", err)
	}
	db, err := metadata.Open(filepath.Join(cfg.DataRoot, "metadata.db"))
	if err != nil {
		return nil, fmt.Errorf("image service: %w", err)
	}
	snapRoot := filepath.Join(cfg.DataRoot, "snapshots")
	var sn snapshot.Snapshotter
	if useOverlay(snapRoot) {
		sn, err = snapshot.NewOverlay(filepath.Join(snapRoot, "overlay"))
	} else {
		sn, err = snapshot.NewNative(filepath.Join(snapRoot, "native"))
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("image service: %w", err)
	}
	svc, err := image.New(image.Config{
		Content: cs, Metadata: db, Snapshotter: sn,
		// As dockerd: a client's request carries the credentials, the
		// daemon's own config.json is never used for it.
		Registry: image.RegistryConfig{Insecure: cfg.InsecureRegistries, NoKeychain: true,
			MaxConcurrentDownloads: cfg.MaxConcurrentDownloads, MaxConcurrentUploads: cfg.MaxConcurrentUploads},
	})
	if err != nil {
		sn.Close()
		db.Close()
		return nil, err
	}
	return svc, nil
}

// useOverlay tells whether snapshots under root should be overlay ones.
func useOverlay(root string) bool {
	if _, err := os.Stat(filepath.Join(root, "native")); err == nil {
		return false
	}
	if os.Geteuid() != 0 {
		return false
	}
	fs, err := os.ReadFile("/proc/filesystems")
	return err == nil && bytes.Contains(fs, []byte("\toverlay\n"))
}

// imageCounts reports the number of images for /info.
func imageCounts(svc *image.Service) func(context.Context) (api.Counts, error) {
	return func(ctx context.Context) (api.Counts, error) {
		imgs, err := svc.List(ctx, image.ListOptions{})
		if err != nil {
			return api.Counts{}, err
		}
		return api.Counts{Images: len(imgs)}, nil
	}
}
