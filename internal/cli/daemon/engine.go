package daemon

import (
	"context"
	"fmt"

	mevents "github.com/moby/moby/api/types/events"

	"github.com/berth/berth/internal/api"
	"github.com/berth/berth/internal/api/events"
	"github.com/berth/berth/internal/engine"
	"github.com/berth/berth/internal/image"
	"github.com/berth/berth/internal/network"
	"github.com/berth/berth/internal/volume"
)

// runtimePath answers the engine's RuntimePath from the current runtime
// set (replaced on SIGHUP): the binary of a runtime driven through its
// command line; berth's own is built in.
func runtimePath(current func() *api.Runtimes) func(string) (string, bool) {
	return func(name string) (string, bool) {
		rt, ok := current().All[name]
		if !ok || name == "berth" {
			return "", false
		}
		return rt.Path, true
	}
}

// openEngine opens the container engine over the data and exec roots:
// it reconnects to the shims of running containers and applies restart
// policies before the API serves.
func openEngine(ctx context.Context, cfg Config, images *image.Service, bus *events.Bus, rts *api.Runtimes, lookup func(string) (string, bool), nets *network.Manager, vols *volume.Store) (*engine.Engine, error) {
	defaults, err := containerDefaults(cfg)
	if err != nil {
		return nil, err
	}
	e, err := engine.New(ctx, engine.Config{
		Defaults:       defaults,
		DataRoot:       cfg.DataRoot,
		ExecRoot:       cfg.ExecRoot,
		Images:         images,
		Publish:        func(m mevents.Message) { bus.Publish(m) },
		Networks:       nets,
		Volumes:        vols,
		DefaultRuntime: rts.Default,
		RuntimePath:    lookup,
	})
	if err != nil {
		return nil, fmt.Errorf("container engine: %w", err)
	}
	return e, nil
}

// countsOf reports containers by state and images for /info.
func countsOf(images *image.Service, e *engine.Engine) func(context.Context) (api.Counts, error) {
	imgs := imageCounts(images)
	return func(ctx context.Context) (api.Counts, error) {
		c, err := imgs(ctx)
		if err != nil {
			return api.Counts{}, err
		}
		c.Containers, c.Running, c.Paused, c.Stopped = e.Counts()
		return c, nil
	}
}
