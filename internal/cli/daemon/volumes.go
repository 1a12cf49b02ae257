package daemon

import (
	"fmt"
	"path/filepath"

	"github.com/berth/berth/internal/volume"
)

// openVolumes opens the local volume driver under <data-root>/volumes
// (layout in package volume). Volumes' in-use references are rebuilt by
// the engine as it restores its containers.
func openVolumes(cfg Config) (*volume.Store, error) {
	s, err := volume.Open(filepath.Join(cfg.DataRoot, "volumes"))
	if err != nil {
		return nil, fmt.Errorf("volumes: %w", err)
	}
	return s, nil
}
