package daemon

import (
	"fmt"
	"path/filepath"

	"github.com/berth/berth/internal/build"
	"github.com/berth/berth/internal/engine"
	"github.com/berth/berth/internal/image"
)

// openBuilder opens the Dockerfile builder behind /build: its cache lives
// under <data-root>/build and its RUN steps run through the engine.
func openBuilder(cfg Config, images *image.Service, eng *engine.Engine) (*build.Builder, error) {
	b, err := build.New(build.Config{
		Images:    images,
		Executor:  eng.BuildExecutor(),
		CacheRoot: filepath.Join(cfg.DataRoot, "build"),
	})
	if err != nil {
		return nil, fmt.Errorf("builder: %w", err)
	}
	return b, nil
}
