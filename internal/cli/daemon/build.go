package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/berth/berth/internal/build"
	"github.com/berth/berth/internal/engine"
	"github.com/berth/berth/internal/image"
)

// openBuilder opens the Dockerfile builder behind /build: its cache lives
// under <data-root>/build and its RUN steps run through the engine.
// RUN steps a previous daemon left running are removed first.
func openBuilder(cfg Config, images *image.Service, eng *engine.Engine) (*build.Builder, error) {
	ex := eng.BuildExecutor()
	if err := ex.Cleanup(); err != nil {
		slog.Error("builder: cleanup of interrupted builds", "err", err)
	}
	b, err := build.New(build.Config{
		Images:    images,
		Executor:  ex,
		CacheRoot: filepath.Join(cfg.DataRoot, "build"),
	})
	if err != nil {
		return nil, fmt.Errorf("builder: %w", err)
	}
	if err := b.Cleanup(context.Background()); err != nil {
		slog.Error("builder: cleanup of interrupted builds", "err", err)
	}
	return b, nil
}
