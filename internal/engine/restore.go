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

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	mevents "github.com/moby/moby/api/types/events"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/shim"
	"github.com/berth/berth/internal/snapshot/mount"
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
		if errors.Is(err, os.ErrNotExist) {
			// A create or a removal the daemon's death cut short: what
			// is left of it goes (its root, were it prepared).
			e.removeUnrecorded(ctx, ent.Name())
			continue
		}
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
					e.watchOOM(c)
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
		} else {
			e.repairInterruptedStart(ctx, c)
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
	for _, c := range linkedFirst(toStart) {
		c.mu.Lock()
		c.State.Restarting = false
		// As dockerd (its restart manager reset at daemon start): an
		// always container stopped by hand keeps its policy from this
		// run on, and the policy counts afresh.
		c.ManuallyStopped = false
		c.RestartCount, c.restartDelay = 0, 0
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

// repairInterruptedStart cleans up after a start that the daemon's death
// cut short, for a container recorded as not running: the shim it
// launched and the container in the runtime (its process and cgroups),
// the mounted root, /dev/shm and volume subpaths, and the network
// namespace. Nothing of a container that did not run is touched.
func (e *Engine) repairInterruptedStart(ctx context.Context, c *Container) {
	dir := e.shimDir(c.ID)
	if _, err := os.Stat(dir); err == nil {
		if client, err := shim.Connect(ctx, dir); err == nil {
			if err := client.Delete(ctx, true); err != nil {
				slog.Warn("repair: delete the container of an interrupted start", "id", c.ID, "err", err)
				if pid := client.Pid(); pid > 0 {
					_ = unix.Kill(pid, unix.SIGKILL)
				}
				e.deleteOrphan(c)
			}
		} else {
			// A shim that never came to serve (the daemon died while it
			// started) goes by its pid file.
			killShimOf(dir)
			e.deleteOrphan(c)
		}
		_ = os.RemoveAll(dir)
		slog.Warn("repair: an interrupted start of the container was undone", "id", c.ID)
	}
	if ns := filepath.Join(e.cfg.ExecRoot, "netns", c.ID); c.NetNS == "" {
		if _, err := os.Lstat(ns); err == nil {
			c.NetNS = ns
		}
	}
	e.releaseRun(c)
}

// removeUnrecorded removes a container directory without a record, and the
// writable snapshot of that ID if there is one.
func (e *Engine) removeUnrecorded(ctx context.Context, id string) {
	dir := filepath.Join(e.root, id)
	if err := mount.UnmountAll(filepath.Join(dir, "rootfs")); err != nil {
		slog.Warn("repair: unmount the root of an unrecorded container", "dir", id, "err", err)
		return
	}
	if e.cfg.Images != nil {
		if err := e.cfg.Images.RemoveRootfs(ctx, id); err != nil && !errdefs.IsNotFound(err) {
			slog.Warn("repair: remove the root of an unrecorded container", "dir", id, "err", err)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		slog.Warn("repair: remove an unrecorded container", "dir", id, "err", err)
		return
	}
	slog.Info("repair: removed a container directory without a record", "dir", id)
}

// killShimOf kills the shim whose pid file is in its state dir, if that
// pid is a shim serving dir (not a process that reused the pid).
func killShimOf(dir string) {
	b, err := os.ReadFile(filepath.Join(dir, "shim.pid"))
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return
	}
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || !strings.Contains(string(cmdline), "shim") || !strings.Contains(string(cmdline), dir) {
		return
	}
	_ = unix.Kill(pid, unix.SIGKILL)
}

// linkedFirst orders cs so that the containers a legacy link names start
// before the containers that link to them (a link needs its target
// running, as dockerd's restore orders them); a cycle keeps its order.
func linkedFirst(cs []*Container) []*Container {
	pending := map[string]bool{}
	for _, c := range cs {
		pending[c.ID] = true
	}
	out := make([]*Container, 0, len(cs))
	rest := cs
	for len(rest) > 0 {
		var next []*Container
		for _, c := range rest {
			ready := true
			for _, id := range c.LinkIDs {
				if id != c.ID && pending[id] {
					ready = false
				}
			}
			if ready {
				out = append(out, c)
				delete(pending, c.ID)
			} else {
				next = append(next, c)
			}
		}
		if len(next) == len(rest) { // a cycle
			return append(out, next...)
		}
		rest = next
	}
	return out
}
