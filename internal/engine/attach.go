package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/containerd/errdefs"
	mevents "github.com/moby/moby/api/types/events"
	"github.com/moby/term"

	"github.com/berth/berth/internal/shim"
)

// AttachOptions select the streams of an attach.
type AttachOptions struct {
	Stdin, Stdout, Stderr bool
	// DetachKeys end the attach when the client types them (docker's
	// ctrl-p,ctrl-q when empty); the container goes on.
	DetachKeys []byte
}

// DefaultDetachKeys is docker's detach sequence, ctrl-p ctrl-q.
var DefaultDetachKeys = []byte{16, 17}

// AttachStreams are the client's side of an attach: Stdin is read until
// EOF (then the container's stdin is closed when it has StdinOnce and no
// TTY, and the attach ends otherwise, as dockerd does),
// Stdout and Stderr receive the output (with a TTY only Stdout).
type AttachStreams struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// Tty reports whether ref has a terminal (attach and logs are raw then).
func (e *Engine) Tty(ref string) (bool, error) {
	c, err := e.Get(ref)
	if err != nil {
		return false, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.Config.Tty, nil
}

// ErrLogsOnly, returned by an Attach's open, ends an attach that wanted
// the logs only (stream=0) once the client is attached.
var ErrLogsOnly = errors.New("attach: logs only")

// Attach connects the client's streams to the container's stdio. For a
// container that is not running it registers for the next start first,
// then calls open (the API's hijack: the client may send start as soon as
// it has the upgrade), and connects to the shim before the process runs,
// so nothing is lost (docker run attaches before it starts). It returns
// when the output ends or ctx is done.
func (e *Engine) Attach(ctx context.Context, ref string, o AttachOptions, open func() (AttachStreams, error)) error {
	c, err := e.Get(ref)
	if err != nil {
		return err
	}
	c.mu.Lock()
	if c.removed {
		c.mu.Unlock()
		return errdefs.ErrNotFound.WithMessage("No such container: " + ref)
	}
	if c.State.Paused {
		c.mu.Unlock()
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("container %s is paused, unpause the container before attach", c.ID))
	}
	client := c.client
	// dockerd ends an attach's output when its stdin ends, unless the end
	// closes the container's stdin instead (StdinOnce without a TTY).
	// A container without OpenStdin ignores the client's stdin.
	endWithStdin := !(c.Config.StdinOnce && !c.Config.Tty)
	o.Stdin = o.Stdin && c.Config.OpenStdin
	var done func()
	var started <-chan struct{}
	if client == nil || !c.State.Running {
		started, done = e.awaitStart(c)
		defer done()
	}
	c.mu.Unlock()
	s, err := open()
	if err != nil && !errors.Is(err, ErrLogsOnly) {
		return err
	}
	c.mu.Lock()
	e.publish(c, mevents.ActionAttach, nil) // dockerd logs it once the client is attached, logs only or not
	c.mu.Unlock()
	if err != nil {
		return err
	}
	if started != nil {
		select {
		case <-started:
		case <-ctx.Done():
			return ctx.Err()
		}
		c.mu.Lock()
		client = c.client
		c.mu.Unlock()
	}
	if client == nil {
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("container %s is not running", c.ID))
	}
	stream, err := client.Attach(ctx, shim.AttachOpts{Stdin: o.Stdin && s.Stdin != nil, Stdout: o.Stdout, Stderr: o.Stderr})
	if done != nil {
		done()
	}
	if err != nil {
		return fmt.Errorf("attach %s: %w", c.ID, err)
	}
	if o.Stdin && s.Stdin != nil {
		keys := o.DetachKeys
		if len(keys) == 0 {
			keys = DefaultDetachKeys
		}
		s.Stdin = term.NewEscapeProxy(s.Stdin, keys)
	}
	return pump(ctx, stream, o.Stdin, endWithStdin, s)
}

// pump copies stdin to stream and the stream's output to s until the
// output ends, or, with endWithStdin, until the client's stdin ends.
func pump(ctx context.Context, stream *shim.Stream, withStdin, endWithStdin bool, s AttachStreams) error {
	defer stream.Close()
	var stdinEnded atomic.Bool
	if withStdin && s.Stdin != nil {
		go func() {
			_, err := io.Copy(stream, s.Stdin)
			if errors.As(err, new(term.EscapeError)) {
				// Detached: the attach ends, the container's stdin stays.
				stdinEnded.Store(true)
				stream.Close()
				return
			}
			_ = stream.CloseStdin()
			if err == nil && endWithStdin {
				stdinEnded.Store(true)
				stream.Close()
			}
		}()
	} else {
		_ = stream.CloseStdin()
	}
	stop := context.AfterFunc(ctx, func() { stream.Close() })
	defer stop()
	stdout, stderr := s.Stdout, s.Stderr
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	_, err := stream.Demux(stdout, stderr)
	if err != nil && (ctx.Err() != nil || stdinEnded.Load()) {
		return nil
	}
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

func copyStdin(w io.Writer, r io.Reader) (int64, error) { return io.Copy(w, r) }
