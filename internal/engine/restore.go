package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	mevents "github.com/moby/moby/api/types/events"

	"github.com/berth/berth/internal/shim"
)

// restore loads every container record, reconnects to the shims of the
// running ones, records the exits of those whose shim is gone (their real
// exit code from exit.json), and applies restart policies as a daemon
// start does.
func (e *Engine) restore(ctx context.Context) error {
	ents, err := os.ReadDir(e.root)
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	var toStart []*Container
	for _, ent := range ents {
		if !ent.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(e.root, ent.Name(), "config.v2.json"))
		if err != nil {
			slog.Warn("container without a record, skipped", "dir", ent.Name(), "err", err)
			continue
		}
		c := &Container{execs: map[string]bool{}}
		if err := json.Unmarshal(b, c); err != nil || c.ID != ent.Name() || c.Config == nil || c.HostConfig == nil {
			slog.Warn("unreadable container record, skipped", "dir", ent.Name(), "err", err)
			continue
		}
		e.containers[c.ID] = c
		e.names[strings.TrimPrefix(c.Name, "/")] = c.ID
		if c.State.Running || c.State.Restarting {
			client, err := shim.Connect(ctx, e.shimDir(c.ID))
			if err == nil {
				st, serr := client.State(ctx)
				if serr == nil && st.Status != shim.Stopped {
					c.client = client
					c.State.Running, c.State.Restarting = true, false
					c.State.Status = container.StateRunning
					if c.State.Paused {
						c.State.Status = container.StatePaused
					}
					e.startHealth(c, client)
					e.watchExit(c, client)
					continue
				}
				// Exited while no daemon was watching, shim still there.
				ex, _ := client.Wait(ctx)
				if ex == nil && serr == nil && st.Exit != nil {
					ex = st.Exit
				}
				_ = client.Delete(ctx, true)
				e.recordLostExit(c, ex)
			} else {
				if !errors.Is(err, shim.ErrShimGone) {
					slog.Warn("reconnect to shim", "id", c.ID, "err", err)
				}
				ex, _ := shim.ReadExit(e.shimDir(c.ID))
				if errors.Is(err, shim.ErrShimGone) {
					e.deleteOrphan(c)
				}
				e.recordLostExit(c, ex)
			}
		}
		if startAtRestore(c) {
			toStart = append(toStart, c)
		}
	}
	e.restoreNetworks(ctx)
	for _, c := range e.containers {
		e.reacquireVolumes(ctx, c)
	}
	for _, c := range e.containers {
		if c.HostConfig.AutoRemove && !c.State.Running && c.State.Status == container.StateExited {
			if err := e.Remove(ctx, c.ID, RemoveOptions{Force: true}); err != nil {
				slog.Error("auto-remove container at daemon start", "id", c.ID, "err", err)
			}
		}
	}
	for _, c := range toStart {
		c.mu.Lock()
		c.State.Restarting = false
		if err := e.startLocked(ctx, c); err != nil {
			slog.Error("restart container at daemon start", "id", c.ID, "err", err)
		}
		c.mu.Unlock()
	}
	return nil
}

// recordLostExit records an exit that happened while no engine watched.
func (e *Engine) recordLostExit(c *Container, ex *shim.Exit) {
	if ex == nil {
		ex = &shim.Exit{Code: 255, At: time.Now()}
	}
	_ = os.RemoveAll(e.shimDir(c.ID))
	e.releaseRun(c)
	c.State.Running, c.State.Paused, c.State.Pid = false, false, 0
	c.State.Status = container.StateExited
	c.State.ExitCode = ex.Code
	c.State.FinishedAt = ex.At.UTC()
	e.saveLogged(c)
	e.publish(c, mevents.ActionDie, map[string]string{"exitCode": strconv.Itoa(ex.Code)})
}

// startAtRestore reports whether a container that is not running is
// started when the daemon starts, as dockerd decides it: one that has run
// before, with restart policy "always" (even if it was stopped by hand),
// "unless-stopped" (unless it was), or "on-failure" while it was waiting
// to be restarted after a failure.
func startAtRestore(c *Container) bool {
	if c.State.Running || c.State.StartedAt.IsZero() {
		return false
	}
	switch c.HostConfig.RestartPolicy.Name {
	case container.RestartPolicyAlways:
		return true
	case container.RestartPolicyUnlessStopped:
		return !c.ManuallyStopped
	case container.RestartPolicyOnFailure:
		return !c.ManuallyStopped && c.State.ExitCode != 0 && c.State.Restarting
	}
	return false
}
