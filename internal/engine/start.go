package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	mevents "github.com/moby/moby/api/types/events"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth/berth/internal/shim"
	"github.com/berth/berth/internal/snapshot/mount"
)

// Start starts a created or stopped container. errdefs.ErrNotModified
// when it already runs.
func (e *Engine) Start(ctx context.Context, ref string) error {
	c, err := e.Get(ref)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.removed {
		return errdefs.ErrNotFound.WithMessage("No such container: " + ref)
	}
	if c.State.Paused {
		return errdefs.ErrConflict.WithMessage("cannot start a paused container, try unpause instead")
	}
	if c.State.Running {
		return errdefs.ErrNotModified.WithMessage("container already started")
	}
	c.ManuallyStopped = false
	// A start by hand begins the restart policy afresh, as dockerd's
	// (on-failure:N counts again from 0, the back-off from 100 ms).
	c.RestartCount, c.restartDelay = 0, 0
	if err := e.startLocked(ctx, c); err != nil {
		if c.HostConfig.AutoRemove {
			go func() { _ = e.Remove(context.WithoutCancel(ctx), c.ID, RemoveOptions{Force: true}) }()
		}
		return err
	}
	return nil
}

// startLocked runs c; c.mu is held.
func (e *Engine) startLocked(ctx context.Context, c *Container) (retErr error) {
	prepStart := time.Now()
	dir := e.dir(c.ID)
	rootfs := filepath.Join(dir, "rootfs")
	mounts, err := e.cfg.Images.Mounts(ctx, c.ID)
	if err != nil {
		return fmt.Errorf("start %s: %w", c.ID, err)
	}
	if err := os.MkdirAll(rootfs, 0o711); err != nil {
		return fmt.Errorf("start %s: %w", c.ID, err)
	}
	_ = mount.UnmountAll(rootfs)
	if err := mount.All(mounts, rootfs); err != nil {
		return fmt.Errorf("start %s: mount rootfs: %w", c.ID, err)
	}
	if err := ensureMtab(rootfs); err != nil {
		_ = mount.UnmountAll(rootfs)
		return fmt.Errorf("start %s: %w", c.ID, err)
	}
	cleanup := func() {
		_ = mount.UnmountAll(rootfs)
		_ = mount.UnmountAll(e.shmDir(c.ID))
		e.unmountSubpaths(c.ID)
		if c.NetNS != "" {
			e.disconnectNetworks(context.WithoutCancel(ctx), c)
			removeNetNS(c.NetNS)
			c.NetNS = ""
		}
		_ = os.RemoveAll(e.shimDir(c.ID))
	}
	defer func() {
		if retErr != nil {
			cleanup()
			c.State.Error = retErr.Error()
			c.State.ExitCode = exitCodeFor(retErr.Error())
			if c.State.ExitCode != 128 && !errdefs.IsInvalidArgument(retErr) {
				// dockerd's class for a command that cannot run (a 400).
				retErr = errdefs.ErrInvalidArgument.WithMessage(retErr.Error())
			}
			c.notify()
			e.saveLogged(c)
		}
	}()
	if err := e.mountShm(c); err != nil {
		return fmt.Errorf("start %s: %w", c.ID, err)
	}
	netns, err := e.setupNetwork(ctx, c, dir)
	if err != nil {
		return err
	}
	if err := e.copyUpVolumes(ctx, c, rootfs); err != nil {
		return err
	}
	spec, err := e.specFor(c, dir, netns)
	if err != nil {
		return err
	}
	spec.Mounts = append(spec.Mounts, specs.Mount{Destination: "/.dockerenv", Type: "bind", Source: e.dockerenv(), Options: []string{"rbind", "rprivate", "ro"}})
	b, err := json.Marshal(spec)
	if err != nil {
		return fmt.Errorf("start %s: spec: %w", c.ID, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o600); err != nil {
		return fmt.Errorf("start %s: %w", c.ID, err)
	}
	scfg := shim.Config{
		ID:          c.ID,
		Bundle:      dir,
		StateDir:    e.shimDir(c.ID),
		Runtime:     shim.RuntimeBerth,
		RuntimeRoot: filepath.Join(e.cfg.ExecRoot, "runtime"),
		Terminal:    c.Config.Tty,
		OpenStdin:   c.Config.OpenStdin,
		StdinOnce:   c.Config.OpenStdin && c.Config.StdinOnce,
		LogPath:     c.LogPath,
		Binary:      e.cfg.ShimBinary,
	}
	if err := logOptions(c.HostConfig.LogConfig, &scfg); err != nil {
		return err
	}
	scfg.LogAttrs = logAttrs(c.HostConfig.LogConfig, c.Config)
	if c.Runtime != shim.RuntimeBerth {
		// A runtime the daemon's configuration dropped since the create
		// (SIGHUP) is an error, not a silent fallback to runc.
		if err := e.checkRuntime(c.Runtime); err != nil {
			return err
		}
		scfg.Runtime = c.Runtime
		scfg.RuntimeRoot = filepath.Join(e.cfg.ExecRoot, c.Runtime)
		if e.cfg.RuntimePath != nil {
			if p, ok := e.cfg.RuntimePath(c.Runtime); ok {
				scfg.RuntimePath = p
			}
		}
		if scfg.Runtime != shim.RuntimeRunc && scfg.Runtime != shim.RuntimeCrun {
			scfg.Runtime = shim.RuntimeRunc // runc-compatible command line
		}
	}
	t0 := time.Now()
	client, err := e.shims.Start(ctx, scfg)
	slog.DebugContext(ctx, "shim started", "id", c.ID, "runtime", scfg.Runtime, "took", time.Since(t0), "prepare", t0.Sub(prepStart))
	if err != nil {
		return errdefs.ErrUnknown.WithMessage(fmt.Sprintf("failed to create task for container: OCI runtime create failed: %s: unknown", strings.TrimPrefix(err.Error(), "shim for "+c.ID+": ")))
	}
	c.client = client
	// Attach streams that wait for this start connect to the shim now,
	// before the process runs.
	if c.starting != nil {
		close(c.starting)
		c.starting = nil
		done := make(chan struct{})
		wg := c.attachWG
		go func() { wg.Wait(); close(done) }()
		c.mu.Unlock()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
		}
		c.mu.Lock()
		c.attachWG = nil
	}
	t1 := time.Now()
	defer func() { slog.DebugContext(ctx, "container started", "id", c.ID, "start", time.Since(t1)) }()
	if err := client.Start(ctx); err != nil {
		if derr := client.Delete(context.WithoutCancel(ctx), true); derr != nil {
			// No shim to delete it: from the runtime, or the next start
			// finds the container still there.
			e.deleteOrphan(c)
		}
		c.client = nil
		return fmt.Errorf("start %s: %w", c.ID, err)
	}
	// The container runs: from here on its exit is watched whatever
	// happens to this request.
	pid := 0
	if st, err := client.State(context.WithoutCancel(ctx)); err == nil {
		pid = st.Pid
	} else {
		slog.WarnContext(ctx, "state of a started container", "id", c.ID, "err", err)
	}
	c.State = State{
		Status:    container.StateRunning,
		Running:   true,
		Pid:       pid,
		StartedAt: time.Now().UTC(),
	}
	e.startHealth(c, client)
	c.notify()
	e.saveLogged(c)
	e.publishVolumeEvents(ctx, c, mevents.ActionMount)
	e.publish(c, mevents.ActionStart, nil)
	e.watchExit(c, client)
	e.watchOOM(c)
	return nil
}

// exitCodeFor is the exit code dockerd records for a start that failed.
func exitCodeFor(msg string) int {
	switch {
	case strings.Contains(msg, "executable file not found"), strings.Contains(msg, "no such file or directory"):
		return 127
	case strings.Contains(msg, "permission denied"), strings.Contains(msg, "is a directory"):
		return 126
	}
	return 128
}

func logOptions(lc container.LogConfig, s *shim.Config) error {
	switch lc.Type {
	case "", "json-file":
	case "local":
		// docker's local driver: rotated and compressed by default
		// (max-size 20m, max-file 5, compress true); its entries are
		// kept in the json-file format here, which logs reads alike.
		s.LogMaxSize, s.LogMaxFiles, s.LogCompress = 20<<20, 5, true
	case "none":
		s.LogPath = ""
		return nil
	default:
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("logging driver %q is not supported (json-file, local, none)", lc.Type))
	}
	if v := lc.Config["max-size"]; v != "" {
		n, err := parseSize(v)
		if err != nil {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("log-opt max-size %q: %v", v, err))
		}
		s.LogMaxSize = n
	}
	if v := lc.Config["max-file"]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("log-opt max-file %q: want a number of at least 1", v))
		}
		s.LogMaxFiles = n
	}
	if v, ok := lc.Config["compress"]; ok {
		on, err := strconv.ParseBool(v)
		if err != nil {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("error reading compress log option: %v", err))
		}
		if on && s.LogMaxFiles < 2 {
			return errdefs.ErrInvalidArgument.WithMessage("compress cannot be true when max-file is less than 2")
		}
		s.LogCompress = on
	}
	return nil
}

func parseSize(v string) (int64, error) {
	v = strings.ToLower(strings.TrimSpace(v))
	mult := int64(1)
	for _, u := range []struct {
		s string
		m int64
	}{{"kb", 1 << 10}, {"mb", 1 << 20}, {"gb", 1 << 30}, {"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"b", 1}} {
		if strings.HasSuffix(v, u.s) {
			v, mult = strings.TrimSuffix(v, u.s), u.m
			break
		}
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil || n < 0 {
		return 0, errors.New("invalid size")
	}
	return int64(n * float64(mult)), nil
}

// watchExit waits in the background for c's exit through client.
func (e *Engine) watchExit(c *Container, client *shim.Client) {
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		for {
			ex, err := client.Wait(e.ctx)
			if e.ctx.Err() != nil {
				return
			}
			if err != nil {
				if _, cerr := shim.Connect(e.ctx, client.StateDir()); !errors.Is(cerr, shim.ErrShimGone) {
					if e.ctx.Err() != nil {
						return
					}
					// The shim lives (or does not answer yet); only the
					// wait broke.
					time.Sleep(100 * time.Millisecond)
					continue
				}
				// The shim is gone: its exit.json, if any, tells the code.
				ex, err = shim.ReadExit(client.StateDir())
				if err != nil || ex == nil {
					ex = &shim.Exit{Code: 255, At: time.Now()}
				}
				e.deleteOrphan(c)
			}
			e.handleExit(c, client, ex)
			return
		}
	}()
}

// deleteOrphan removes c's container from its runtime after its shim died
// without doing so (killed, out of memory): whatever of it still runs is
// killed, as containerd does for a dead shim, so that nothing is left that
// no one watches and rm cannot reach.
func (e *Engine) deleteOrphan(c *Container) {
	found, err := shim.DeleteFromRuntime(e.shimDir(c.ID))
	if err != nil {
		slog.Error("delete the container of a dead shim from its runtime", "id", c.ID, "err", err)
		return
	}
	if found {
		slog.Warn("the container's shim died: container deleted from its runtime", "id", c.ID)
	}
}

// handleExit records an exit, releases what the run held and applies
// --rm and the restart policy.
func (e *Engine) handleExit(c *Container, client *shim.Client, ex *shim.Exit) {
	ctx := context.WithoutCancel(e.ctx)
	t0 := time.Now()
	var tDelete, tRelease, tSaved time.Time
	defer func() {
		if tSaved.IsZero() {
			return
		}
		slog.Debug("exit handled", "id", c.ID, "code", ex.Code, "took", time.Since(t0), "release", tRelease.Sub(t0),
			"shim-delete", tDelete.Sub(t0), "record", tSaved.Sub(tDelete), "remove", time.Since(tSaved))
	}()
	c.mu.Lock()
	if c.client != client {
		c.mu.Unlock()
		return
	}
	c.client = nil
	oom := e.oomKilled(c)
	// The shim's delete (runtime state, cgroups) and the release of what
	// the run held here (rootfs mount, network) do not depend on each
	// other: both at once, as run --rm waits for them.
	deleted := make(chan struct{})
	go func() {
		_ = client.Delete(ctx, true)
		_ = os.RemoveAll(e.shimDir(c.ID))
		close(deleted)
	}()
	publishDisconnects := e.releaseRunLater(c)
	tRelease = time.Now()
	<-deleted
	tDelete = time.Now()
	if c.State.Health != nil {
		c.State.Health.Status = container.Unhealthy
	}
	at := ex.At
	if at.IsZero() {
		at = time.Now()
	}
	c.State.Running, c.State.Paused, c.State.Pid = false, false, 0
	c.State.Status = container.StateExited
	c.State.ExitCode = ex.Code
	c.exits, c.lastExit = c.exits+1, ex.Code
	c.State.FinishedAt = at.UTC()
	c.State.OOMKilled = oom
	if oom {
		e.publish(c, mevents.ActionOOM, nil)
	}
	restart, delay := e.restartDecision(c)
	if restart {
		c.State.Restarting = true
		c.State.Status = container.StateRestarting
	}
	// die comes before anything a waiter does on the exit (stop's event),
	// and before the network disconnects, as dockerd sends them.
	e.publish(c, mevents.ActionDie, map[string]string{"exitCode": strconv.Itoa(ex.Code)})
	publishDisconnects()
	if !restart {
		e.publishVolumeEvents(ctx, c, mevents.ActionUnmount)
	}
	c.notify()
	e.saveLogged(c)
	// --rm removes the container when it exits, but not when a restart
	// stopped it (dockerd's docker restart of a --rm container).
	autoRemove := c.HostConfig.AutoRemove && c.restarting == 0
	c.mu.Unlock()
	tSaved = time.Now()
	if autoRemove {
		if err := e.Remove(ctx, c.ID, RemoveOptions{Force: true}); err != nil {
			slog.Error("auto-remove container", "id", c.ID, "err", err)
		}
		return
	}
	if restart {
		e.scheduleRestart(c, delay)
	}
}

// releaseRun unmounts the rootfs, unpublishes the ports, disconnects the
// networks and drops the network namespace; c.mu held.
func (e *Engine) releaseRun(c *Container) { e.releaseRunLater(c)() }

// releaseRunLater is releaseRun whose network "disconnect" events go out
// when the returned function is called.
func (e *Engine) releaseRunLater(c *Container) (publish func()) {
	publish = func() {}
	if c.healthCancel != nil {
		c.healthCancel()
		c.healthCancel = nil
	}
	if err := mount.UnmountAll(filepath.Join(e.dir(c.ID), "rootfs")); err != nil {
		slog.Error("unmount rootfs", "id", c.ID, "err", err)
	}
	if err := mount.UnmountAll(e.shmDir(c.ID)); err != nil {
		slog.Error("unmount shm", "id", c.ID, "err", err)
	}
	e.unmountSubpaths(c.ID)
	if c.NetNS != "" {
		publish = e.disconnectNetworksLater(context.WithoutCancel(e.ctx), c)
		removeNetNS(c.NetNS)
		c.NetNS = ""
	}
	return publish
}

// restartDecision applies the restart policy with docker's back-off
// (100 ms doubling, reset after 10 s of running); c.mu held.
func (e *Engine) restartDecision(c *Container) (bool, time.Duration) {
	if c.ManuallyStopped || c.removed {
		return false, 0
	}
	p := c.HostConfig.RestartPolicy
	switch p.Name {
	case container.RestartPolicyAlways, container.RestartPolicyUnlessStopped:
	case container.RestartPolicyOnFailure:
		if c.State.ExitCode == 0 {
			return false, 0
		}
		if p.MaximumRetryCount > 0 && c.RestartCount >= p.MaximumRetryCount {
			return false, 0
		}
	default:
		return false, 0
	}
	ran := c.State.FinishedAt.Sub(c.State.StartedAt)
	if ran > 10*time.Second {
		c.restartDelay = 0
	}
	if c.restartDelay == 0 {
		c.restartDelay = 100 * time.Millisecond
	} else {
		c.restartDelay *= 2
		if c.restartDelay > time.Minute {
			c.restartDelay = time.Minute
		}
	}
	return true, c.restartDelay
}

func (e *Engine) scheduleRestart(c *Container, delay time.Duration) {
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		select {
		case <-time.After(delay):
		case <-e.ctx.Done():
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if !c.State.Restarting || c.removed || c.State.Running {
			return
		}
		c.State.Restarting = false
		c.RestartCount++
		if err := e.startLocked(e.ctx, c); err != nil {
			slog.Error("restart container", "id", c.ID, "err", err)
			c.State.Status = container.StateExited
			c.notify()
			e.saveLogged(c)
		}
	}()
}

// awaitStart is called by an attach to a container that is not running:
// it returns a channel closed when the next start created the shim, and a
// done func to call once the attach connected.
func (e *Engine) awaitStart(c *Container) (<-chan struct{}, func()) {
	if c.starting == nil {
		c.starting = make(chan struct{})
		c.attachWG = &sync.WaitGroup{}
	}
	wg := c.attachWG
	wg.Add(1)
	var once sync.Once
	return c.starting, func() { once.Do(wg.Done) }
}

// logAttrs are the attributes docker's json-file writes with each entry:
// the container's labels named by the labels log-opt (or matching
// labels-regex) and its environment variables named by env (or matching
// env-regex).
func logAttrs(lc container.LogConfig, cfg *container.Config) map[string]string {
	out := map[string]string{}
	if v := lc.Config["labels"]; v != "" {
		for _, k := range strings.Split(v, ",") {
			if val, ok := cfg.Labels[k]; ok {
				out[k] = val
			}
		}
	}
	if v := lc.Config["labels-regex"]; v != "" {
		if re, err := regexp.Compile(v); err == nil {
			for k, val := range cfg.Labels {
				if re.MatchString(k) {
					out[k] = val
				}
			}
		}
	}
	env := map[string]string{}
	for _, kv := range cfg.Env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	if v := lc.Config["env"]; v != "" {
		for _, k := range strings.Split(v, ",") {
			if val, ok := env[k]; ok {
				out[k] = val
			}
		}
	}
	if v := lc.Config["env-regex"]; v != "" {
		if re, err := regexp.Compile(v); err == nil {
			for k, val := range env {
				if re.MatchString(k) {
					out[k] = val
				}
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
