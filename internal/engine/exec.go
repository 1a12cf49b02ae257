package engine

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	mevents "github.com/moby/moby/api/types/events"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth/berth/internal/shim"
)

// Exec is one exec instance of a container.
type Exec struct {
	mu          sync.Mutex
	ID          string
	ContainerID string
	Config      container.ExecCreateRequest
	Running     bool
	ExitCode    *int
	Pid         int
	started     bool
	client      *shim.Client
}

// ExecCreate registers an exec in a running container.
func (e *Engine) ExecCreate(ctx context.Context, ref string, req container.ExecCreateRequest) (string, error) {
	c, err := e.Get(ref)
	if err != nil {
		return "", err
	}
	if len(req.Cmd) == 0 {
		return "", errdefs.ErrInvalidArgument.WithMessage("No exec command specified")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.State.Restarting {
		return "", errdefs.ErrConflict.WithMessage(fmt.Sprintf("Container %s is restarting, wait until the container is running", c.ID))
	}
	if !c.State.Running || c.client == nil {
		return "", errdefs.ErrConflict.WithMessage(fmt.Sprintf("Container %s is not running", c.ID))
	}
	if c.State.Paused {
		return "", errdefs.ErrConflict.WithMessage(fmt.Sprintf("Container %s is paused, unpause the container before exec", ref))
	}
	// The user is looked up now, so that an unknown one fails the create
	// (400), as with dockerd since 25.0; the start looks again.
	if req.User != "" {
		if _, err := e.execUser(c, req.User); err != nil {
			if !errdefs.IsInvalidArgument(err) {
				err = errdefs.ErrInvalidArgument.WithMessage(err.Error())
			}
			return "", err
		}
	}
	x := &Exec{ID: newID(), ContainerID: c.ID, Config: req}
	e.mu.Lock()
	e.execs[x.ID] = x
	e.mu.Unlock()
	c.execs[x.ID] = true
	e.publish(c, execAction("exec_create", req.Cmd), map[string]string{"execID": x.ID})
	return x.ID, nil
}

// CheckExecStart answers the start of exec id whose container stopped
// after the exec was created as dockerd does: 404, and the exec is gone.
func (e *Engine) CheckExecStart(id string) error {
	x, err := e.GetExec(id)
	if err != nil {
		return err
	}
	gone := errdefs.ErrNotFound.WithMessage("No such exec instance: " + id)
	c, err := e.Get(x.ContainerID)
	if err != nil {
		return gone
	}
	c.mu.Lock()
	running := c.State.Running
	c.mu.Unlock()
	x.mu.Lock()
	started := x.started || x.Running || x.ExitCode != nil
	x.mu.Unlock()
	if running || started {
		return nil
	}
	e.mu.Lock()
	delete(e.execs, id)
	e.mu.Unlock()
	c.forgetExec(id)
	return gone
}

// GetExec finds an exec by ID.
func (e *Engine) GetExec(id string) (*Exec, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.execs[id]
	if !ok {
		return nil, errdefs.ErrNotFound.WithMessage("No such exec instance: " + id)
	}
	return x, nil
}

// ExecInspect returns docker's view of an exec.
func (e *Engine) ExecInspect(id string) (container.ExecInspectResponse, error) {
	x, err := e.GetExec(id)
	if err != nil {
		return container.ExecInspectResponse{}, err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	priv := x.Config.Privileged
	return container.ExecInspectResponse{
		ID:       x.ID,
		Running:  x.Running,
		ExitCode: x.ExitCode,
		ProcessConfig: &container.ExecProcessConfig{
			Tty: x.Config.Tty, Entrypoint: x.Config.Cmd[0], Arguments: x.Config.Cmd[1:],
			Privileged: &priv, User: x.Config.User,
		},
		OpenStdin:   x.Config.AttachStdin,
		OpenStdout:  x.Config.AttachStdout,
		OpenStderr:  x.Config.AttachStderr,
		ContainerID: x.ContainerID,
		DetachKeys:  []byte(x.Config.DetachKeys),
		Pid:         x.Pid,
	}, nil
}

// ExecConsoleSize sets the terminal size an exec starts with (exec start's
// ConsoleSize, which overrides exec create's as in docker); it changes
// nothing once the exec has started.
func (e *Engine) ExecConsoleSize(id string, height, width uint) error {
	x, err := e.GetExec(id)
	if err != nil {
		return err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.started {
		x.Config.ConsoleSize = &[2]uint{height, width}
	}
	return nil
}

// ExecStart runs the exec and streams its stdio through s until it ends
// (detach: returns once it started).
func (e *Engine) ExecStart(ctx context.Context, id string, detach bool, s AttachStreams) error {
	x, err := e.GetExec(id)
	if err != nil {
		return err
	}
	c, err := e.Get(x.ContainerID)
	if err != nil {
		return err
	}
	x.mu.Lock()
	if x.started {
		x.mu.Unlock()
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("Error: Exec command %s has already run", id))
	}
	x.started = true
	x.mu.Unlock()
	c.mu.Lock()
	client := c.client
	if !c.State.Running || client == nil {
		c.mu.Unlock()
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("Container %s is not running", c.ID))
	}
	if c.State.Paused {
		c.mu.Unlock()
		x.mu.Lock()
		x.started = false // as dockerd: it may be started once unpaused
		x.mu.Unlock()
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("Container %s is paused, unpause the container before exec", c.ID))
	}
	p, err := e.execProcess(c, x.Config)
	c.mu.Unlock()
	if err != nil {
		// dockerd's code for an exec that could not start (an unknown
		// user); without it the CLI, which reads the code, exits 0.
		code := 126
		x.mu.Lock()
		x.ExitCode = &code
		x.mu.Unlock()
		c.forgetExec(x.ID)
		return err
	}
	stdin := x.Config.AttachStdin && s.Stdin != nil && !detach
	stream, err := client.Exec(ctx, shim.ExecConfig{ID: x.ID, Process: p, Stdin: stdin})
	if err != nil {
		code := exitCodeFor(err.Error())
		x.mu.Lock()
		x.ExitCode = &code
		x.mu.Unlock()
		c.forgetExec(x.ID)
		msg := fmt.Sprintf("OCI runtime exec failed: %s: unknown", err)
		if code == 126 || code == 127 {
			// dockerd's: a command that cannot be found or run is the
			// request's fault (400).
			return errdefs.ErrInvalidArgument.WithMessage(msg)
		}
		return errdefs.ErrUnknown.WithMessage(msg)
	}
	x.mu.Lock()
	x.Running, x.Pid, x.client = true, stream.Pid, client
	x.mu.Unlock()
	e.publish(c, execAction("exec_start", x.Config.Cmd), map[string]string{"execID": x.ID})
	finish := func(ex *shim.Exit) {
		code := 126
		if ex != nil {
			code = ex.Code
		}
		x.mu.Lock()
		x.Running = false
		x.ExitCode = &code
		x.mu.Unlock()
		c.forgetExec(x.ID)
		e.publish(c, mevents.ActionExecDie, map[string]string{"execID": x.ID, "exitCode": strconv.Itoa(code)})
	}
	if detach {
		go func() {
			defer stream.Close()
			_ = stream.CloseStdin()
			ex, _ := stream.Demux(nil, nil)
			finish(ex)
		}()
		return nil
	}
	defer stream.Close()
	if stdin {
		go func() {
			_, _ = copyStdin(stream, s.Stdin)
			_ = stream.CloseStdin()
		}()
	} else {
		_ = stream.CloseStdin()
	}
	stop := context.AfterFunc(ctx, func() { stream.Close() })
	defer stop()
	out, errw := s.Stdout, s.Stderr
	if !x.Config.AttachStdout {
		out = nil
	}
	if !x.Config.AttachStderr {
		errw = nil
	}
	ex, err := stream.Demux(out, errw)
	if ex == nil && err == nil {
		// The stream ended without an exit frame: ask the shim.
		ex, _ = client.WaitExec(context.WithoutCancel(ctx), x.ID)
	}
	finish(ex)
	return nil
}

// execUser is an exec's user in c: user's ids from the container's
// passwd and group files, with the container's --group-add groups (as
// dockerd's getUser).
func (e *Engine) execUser(c *Container, user string) (specs.User, error) {
	root := e.dir(c.ID) + "/rootfs"
	u, err := resolveUser(root, user)
	if err != nil {
		return u, err
	}
	u.AdditionalGids, err = addGroups(root, u.AdditionalGids, c.HostConfig.GroupAdd)
	return u, err
}

// execProcess builds the exec's OCI process from the container's; c.mu
// held.
func (e *Engine) execProcess(c *Container, req container.ExecCreateRequest) (*specs.Process, error) {
	user := c.Config.User
	if req.User != "" {
		user = req.User
	}
	u, err := e.execUser(c, user)
	if err != nil {
		return nil, err
	}
	hc := *c.HostConfig
	if req.Privileged {
		hc.Privileged = true
	}
	caps, err := capabilities(&hc)
	if err != nil {
		return nil, err
	}
	// As docker: the container's environment with HOSTNAME, TERM for this
	// exec's terminal, its legacy links' variables, then the exec's own.
	env := daemonEnv(containerHostname(c), req.Tty, e.linkEnv(c), c.Config.Env, req.Env)
	cwd := req.WorkingDir
	if cwd == "" {
		cwd = c.Config.WorkingDir
	}
	if cwd == "" {
		cwd = "/"
	}
	p := &specs.Process{
		Terminal:        req.Tty,
		User:            u,
		Args:            req.Cmd,
		Env:             env,
		Cwd:             cwd,
		Capabilities:    &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps},
		NoNewPrivileges: noNewPrivileges(c.HostConfig),
		Rlimits:         ulimits(c.HostConfig),
	}
	if req.ConsoleSize != nil && req.ConsoleSize[0] > 0 {
		p.ConsoleSize = &specs.Box{Height: req.ConsoleSize[0], Width: req.ConsoleSize[1]}
	}
	return p, nil
}

// Resize sets the terminal size of a container.
func (e *Engine) Resize(ctx context.Context, ref string, height, width uint16) error {
	c, err := e.Get(ref)
	if err != nil {
		return err
	}
	c.mu.Lock()
	client := c.client
	c.mu.Unlock()
	if client == nil {
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("Container %s is not running", c.ID))
	}
	if err := client.Resize(ctx, "", width, height); err != nil {
		if shim.IsNotRunning(err) {
			// Ended before the daemon learnt of it (the docker CLI
			// resizes right after a short run).
			return errdefs.ErrConflict.WithMessage(fmt.Sprintf("Container %s is not running", c.ID))
		}
		return err
	}
	e.publish(c, mevents.ActionResize, map[string]string{"height": strconv.Itoa(int(height)), "width": strconv.Itoa(int(width))})
	return nil
}

// ExecResize sets the terminal size of an exec.
func (e *Engine) ExecResize(ctx context.Context, id string, height, width uint16) error {
	x, err := e.GetExec(id)
	if err != nil {
		return err
	}
	x.mu.Lock()
	client, running := x.client, x.Running
	x.mu.Unlock()
	if client == nil || !running {
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("exec %s is not running", id))
	}
	if err := client.Resize(ctx, id, width, height); err != nil {
		if shim.IsNotRunning(err) {
			return errdefs.ErrConflict.WithMessage(fmt.Sprintf("exec %s is not running", id))
		}
		return err
	}
	return nil
}

// execAction is the action of an exec's create and start events as
// dockerd words it: "exec_create: " + the program + " " + its arguments,
// so a command without arguments ends in a space ("exec_start: env ").
func execAction(prefix string, cmd []string) mevents.Action {
	if len(cmd) == 0 {
		return mevents.Action(prefix + ":  ")
	}
	return mevents.Action(prefix + ": " + cmd[0] + " " + strings.Join(cmd[1:], " "))
}
