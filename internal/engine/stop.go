package engine

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	mevents "github.com/moby/moby/api/types/events"
	"github.com/moby/sys/signal"
)

// ParseSignal reads a signal as docker accepts it: a number, "KILL" or
// "SIGKILL"; "" is def.
func ParseSignal(s string, def syscall.Signal) (syscall.Signal, error) {
	if s == "" {
		return def, nil
	}
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Invalid signal: %s", s)) // dockerd's capital
		}
		return syscall.Signal(n), nil
	}
	// docker's table (moby/sys/signal): the names, with or without SIG,
	// and the real-time ones, RTMIN, RTMIN+n, RTMAX-n, RTMAX.
	sig, ok := signal.SignalMap[strings.TrimPrefix(strings.ToUpper(s), "SIG")]
	if !ok {
		return 0, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Invalid signal: %s", s)) // dockerd's capital
	}
	return sig, nil
}

// Kill sends sig to a running container.
func (e *Engine) Kill(ctx context.Context, ref string, sigName string) error {
	sig, err := ParseSignal(sigName, syscall.SIGKILL)
	if err != nil {
		return err
	}
	c, err := e.Get(ref)
	if err != nil {
		return err
	}
	c.mu.Lock()
	client := c.client
	if !c.State.Running || client == nil {
		if e.cancelRestart(c) {
			// As dockerd: a kill of a container waiting for its restart
			// cancels the restart; there is no process to signal.
			c.mu.Unlock()
			e.publish(c, mevents.ActionKill, map[string]string{"signal": strconv.Itoa(int(sig))})
			return nil
		}
		c.mu.Unlock()
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("Cannot kill container: %s: container %s is not running", ref, c.ID))
	}
	if sig == syscall.SIGKILL || sig == syscall.SIGTERM || sig == syscall.SIGINT {
		c.ManuallyStopped = true
	}
	var exited <-chan struct{}
	if sig == syscall.SIGKILL {
		exited = c.watchExitChan()
	}
	c.mu.Unlock()
	e.publish(c, mevents.ActionKill, map[string]string{"signal": strconv.Itoa(int(sig))})
	if err := client.Kill(ctx, sig, false); err != nil {
		if !processEnded(err) {
			return fmt.Errorf("kill %s: %w", c.ID, err)
		}
		// As dockerd: the process has ended and its exit is not handled
		// yet (a crash-looping container, between its exit and our
		// record of it). Nothing to signal; the stop by hand is recorded
		// above, so no restart follows that exit.
	}
	if exited == nil {
		return nil
	}
	// As dockerd: a SIGKILL returns once the container has stopped, so
	// that a remove right after it finds it stopped.
	select {
	case <-exited:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(killWait):
		return fmt.Errorf("kill %s: tried to kill container, but did not receive an exit event", c.ID)
	}
}

// killWait is how long a SIGKILL waits for the container to stop.
const killWait = 10 * time.Second

// Stop sends the stop signal, waits timeout (the container's StopTimeout,
// else 10 s; negative: forever), then SIGKILL. errdefs.ErrNotModified when
// it is not running.
func (e *Engine) Stop(ctx context.Context, ref string, sigName string, timeout *int) error {
	// As dockerd's: a client that goes away does not cut a stop short
	// (the container would be left running, its SIGKILL never sent).
	ctx = context.WithoutCancel(ctx)
	c, err := e.Get(ref)
	if err != nil {
		return err
	}
	c.mu.Lock()
	client := c.client
	if !c.State.Running || client == nil {
		restarting := e.cancelRestart(c)
		c.mu.Unlock()
		if restarting {
			e.publish(c, mevents.ActionStop, nil)
			return nil
		}
		return errdefs.ErrNotModified.WithMessage("container already stopped")
	}
	c.ManuallyStopped = true
	if sigName == "" {
		sigName = c.Config.StopSignal
	}
	t := 10
	if c.Config.StopTimeout != nil {
		t = *c.Config.StopTimeout
	}
	if timeout != nil {
		t = *timeout
	}
	exited := c.watchExitChan()
	e.saveLogged(c)
	c.mu.Unlock()
	sig, err := ParseSignal(sigName, syscall.SIGTERM)
	if err != nil {
		return err
	}
	e.publish(c, mevents.ActionKill, map[string]string{"signal": strconv.Itoa(int(sig))})
	if err := client.Kill(ctx, sig, false); err != nil && !processEnded(err) {
		return fmt.Errorf("stop %s: %w", c.ID, err)
	}
	var after <-chan time.Time
	if t >= 0 {
		after = time.After(time.Duration(t) * time.Second)
	}
	select {
	case <-exited:
	case <-after:
		e.publish(c, mevents.ActionKill, map[string]string{"signal": "9"})
		_ = client.Kill(ctx, syscall.SIGKILL, true)
		select {
		case <-exited:
		case <-ctx.Done():
			return ctx.Err()
		}
	case <-ctx.Done():
		return ctx.Err()
	}
	e.publish(c, mevents.ActionStop, nil)
	return nil
}

// watchExitChan returns a channel closed once the container is no
// longer running; c.mu held.
func (c *Container) watchExitChan() <-chan struct{} {
	done := make(chan struct{})
	go func() {
		for {
			c.mu.Lock()
			if !c.State.Running || c.removed {
				c.mu.Unlock()
				close(done)
				return
			}
			ch := c.watch()
			c.mu.Unlock()
			<-ch
		}
	}()
	return done
}

// Restart stops (if running) and starts the container.
func (e *Engine) Restart(ctx context.Context, ref string, sigName string, timeout *int) error {
	// As dockerd's: a client that goes away does not cut a restart short.
	ctx = context.WithoutCancel(ctx)
	c, err := e.Get(ref)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.restarting++
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.restarting--
		c.mu.Unlock()
	}()
	if err := e.Stop(ctx, c.ID, sigName, timeout); err != nil && !errdefs.IsNotModified(err) {
		return err
	}
	err = e.Start(ctx, c.ID)
	if errdefs.IsNotModified(err) {
		return nil
	}
	if err == nil {
		e.publish(c, mevents.ActionRestart, nil)
	}
	return err
}

// WaitCondition is docker's wait condition.
type WaitCondition string

const (
	WaitNotRunning WaitCondition = "not-running"
	WaitNextExit   WaitCondition = "next-exit"
	WaitRemoved    WaitCondition = "removed"
)

// Wait returns a function that blocks until cond is met and returns the
// exit code; the container is looked up now, so a later removal still
// answers a "removed" wait.
func (e *Engine) Wait(ref string, cond WaitCondition) (func(ctx context.Context) (int, error), error) {
	switch cond {
	case "", WaitNotRunning, WaitNextExit, WaitRemoved:
	default:
		return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid condition: %q", cond))
	}
	c, err := e.Get(ref)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	startExits := c.exits
	c.mu.Unlock()
	return func(ctx context.Context) (int, error) {
		for {
			c.mu.Lock()
			st := c.State
			removed := c.gone
			exited, lastExit := c.exits != startExits, c.lastExit
			ch := c.watch()
			c.mu.Unlock()
			// An exit since the wait began answers it even when the
			// container runs again by now (docker restart, a restart
			// policy), as dockerd's waits end at every stop.
			switch cond {
			case WaitRemoved:
				if removed {
					return st.ExitCode, nil
				}
			case WaitNextExit:
				if exited {
					return lastExit, nil
				}
				if removed {
					return st.ExitCode, nil
				}
			default:
				if exited {
					return lastExit, nil
				}
				if !st.Running && !st.Restarting || removed {
					return st.ExitCode, nil
				}
			}
			select {
			case <-ch:
			case <-ctx.Done():
				return -1, ctx.Err()
			}
		}
	}, nil
}

// RemoveOptions are DELETE /containers/{id}'s.
type RemoveOptions struct {
	Force, Volumes bool
}

// Remove deletes a container: its shim (killed with force), rootfs
// snapshot, directory and name.
func (e *Engine) Remove(ctx context.Context, ref string, o RemoveOptions) error {
	c, err := e.Get(ref)
	if err != nil {
		return err
	}
	c.mu.Lock()
	if c.removed {
		c.mu.Unlock()
		return nil
	}
	if c.State.Running && !o.Force {
		c.mu.Unlock()
		if c.State.Paused {
			return errdefs.ErrConflict.WithMessage(fmt.Sprintf("cannot remove container %q: container is paused and must be unpaused first", ref))
		}
		// dockerd 25+'s words (20.10 said "You cannot remove a running
		// container ...").
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("cannot remove container %q: container is running: stop the container before removing or force remove", c.Name))
	}
	c.removed = true
	client := c.client
	c.client = nil
	if client != nil {
		// As dockerd's rm -f: kill, die, the networks' disconnect, destroy.
		e.publish(c, mevents.ActionKill, map[string]string{"signal": "9"})
		_ = client.Delete(ctx, true)
		_ = os.RemoveAll(e.shimDir(c.ID))
		c.State.Running, c.State.Pid = false, 0
		c.State.ExitCode = 137
		c.State.FinishedAt = time.Now().UTC()
	}
	disconnected := e.releaseRunLater(c)
	c.State.Status = container.StateRemoving
	wasRunning := client != nil
	c.mu.Unlock()
	if wasRunning {
		e.publish(c, mevents.ActionDie, map[string]string{"exitCode": "137"})
	}
	disconnected()
	c.mu.Lock()
	recs := c.MountPoints
	c.mu.Unlock()
	e.removeImageViews(ctx, c.ID, recs) // kept from create to rm
	if err := e.cfg.Images.RemoveRootfs(ctx, c.ID); err != nil && !errdefs.IsNotFound(err) {
		c.mu.Lock()
		c.removed = false
		c.State.Status = container.StateDead
		c.State.Dead = true
		c.notify()
		c.mu.Unlock()
		return fmt.Errorf("remove %s: %w", c.ID, err)
	}
	e.releaseMounts(ctx, c.ID, recs, o.Volumes || c.HostConfig.AutoRemove)
	_ = os.RemoveAll(e.dir(c.ID))
	e.mu.Lock()
	delete(e.containers, c.ID)
	delete(e.names, strings.TrimPrefix(c.Name, "/"))
	for id, x := range e.execs {
		if x.ContainerID == c.ID {
			delete(e.execs, id)
		}
	}
	e.mu.Unlock()
	e.publish(c, mevents.ActionDestroy, nil)
	c.mu.Lock()
	c.gone = true
	c.notify()
	c.mu.Unlock()
	return nil
}

// Rename gives a container a new name.
func (e *Engine) Rename(ref, newName string) error {
	if !validName(newName) {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", newName))
	}
	newName = strings.TrimPrefix(newName, "/")
	e.mu.Lock()
	c, err := e.lookup(ref)
	if err != nil {
		e.mu.Unlock()
		return err
	}
	old := strings.TrimPrefix(c.Name, "/")
	if old == newName {
		e.mu.Unlock()
		return errdefs.ErrInvalidArgument.WithMessage("Renaming a container with the same name as its current name")
	}
	if other, ok := e.names[newName]; ok {
		e.mu.Unlock()
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("Conflict. The container name \"/%s\" is already in use by container \"%s\". You have to remove (or rename) that container to be able to reuse that name.", newName, other))
	}
	delete(e.names, old)
	e.names[newName] = c.ID
	e.mu.Unlock()
	c.mu.Lock()
	c.Name = "/" + newName
	e.saveLogged(c)
	running := c.State.Running
	c.mu.Unlock()
	e.renameInLinks("/"+old, "/"+newName)
	if e.cfg.Networks != nil && running {
		if err := e.cfg.Networks.Rename(context.Background(), c.ID, newName); err != nil {
			slog.Error("rename container on its networks", "id", c.ID, "err", err)
		}
	}
	e.publish(c, mevents.ActionRename, map[string]string{"oldName": "/" + old})
	return nil
}

// renameInLinks rewrites the stored legacy links ("/TARGET:/LINKER/ALIAS")
// that name a renamed container, as target or as linker, so that inspect
// shows the current names, as dockerd's (which builds them from its link
// index), and the links still resolve.
func (e *Engine) renameInLinks(old, new string) {
	for _, o := range e.List() {
		o.mu.Lock()
		var links []string
		changed := false
		for _, l := range o.HostConfig.Links {
			target, linkName, ok := strings.Cut(l, ":")
			if ok && strings.HasPrefix(linkName, "/") {
				if target == old {
					target, changed = new, true
				}
				if rest, ok := strings.CutPrefix(linkName, old+"/"); ok {
					linkName, changed = new+"/"+rest, true
				}
				l = target + ":" + linkName
			}
			links = append(links, l)
		}
		if changed {
			hc := *o.HostConfig
			hc.Links = links
			o.HostConfig = &hc
			e.saveLogged(o)
		}
		o.mu.Unlock()
	}
}

// cancelRestart stops c from restarting when it waits for its restart
// (docker stop or kill between two runs): it stays exited, stopped by
// hand. It reports whether c was waiting; c.mu held.
func (e *Engine) cancelRestart(c *Container) bool {
	if !c.State.Restarting {
		return false
	}
	c.State.Restarting = false
	c.ManuallyStopped = true
	c.State.Status = container.StateExited
	c.notify()
	e.saveLogged(c)
	return true
}

// processEnded says whether a kill failed because the container's process
// has already ended: the shim's words ("container X is not running") or
// those of the runtime it drives (runc's "container not running").
func processEnded(err error) bool {
	return strings.Contains(err.Error(), "not running")
}
