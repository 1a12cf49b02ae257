//go:build !shimserver

package shim

import (
	"fmt"
	"io"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/runtime"
	"github.com/berth/berth/internal/runtime/initsock"
)

func newBuiltinTask(cfg *Config) (task, error) { return &builtinTask{cfg: cfg}, nil }

// builtinTask calls internal/runtime in the shim's own process, which is
// thereby the init's parent.
type builtinTask struct {
	cfg *Config
	c   *runtime.Container
}

func (t *builtinTask) create(stdio stdioFiles, terminal bool) (int, *os.File, error) {
	opts := runtime.CreateOpts{Root: t.cfg.RuntimeRoot, ID: t.cfg.ID, Bundle: t.cfg.Bundle}
	var local, remote *os.File
	if terminal {
		var err error
		if local, remote, err = socketPair(); err != nil {
			return 0, nil, err
		}
		defer local.Close()
		defer remote.Close()
		opts.ConsoleConn = remote
	}
	setStdio(&opts.Stdin, &opts.Stdout, &opts.Stderr, stdio)
	c, err := runtime.Create(opts)
	if err != nil {
		return 0, nil, err
	}
	t.c = c
	var console *os.File
	if terminal {
		remote.Close()
		if console, err = initsock.RecvFile(local); err != nil {
			_ = c.Delete(true)
			return 0, nil, fmt.Errorf("receive pty master: %w", err)
		}
	}
	return c.State.Pid, console, nil
}

// setStdio sets the runtime's stdio fields to the files, leaving nil (not a
// typed nil *os.File) where a file is absent.
func setStdio(in *io.Reader, out, errw *io.Writer, s stdioFiles) {
	if s.stdin != nil {
		*in = s.stdin
	}
	if s.stdout != nil {
		*out = s.stdout
	}
	if s.stderr != nil {
		*errw = s.stderr
	}
}

func (t *builtinTask) start() error { return t.c.Start() }

func (t *builtinTask) kill(sig unix.Signal, all bool) error { return t.c.Signal(sig, all) }

func (t *builtinTask) exec(id string, p *specs.Process, stdio stdioFiles) (int, *os.File, error) {
	opts := runtime.ExecOpts{Process: p}
	var local, remote *os.File
	if p.Terminal {
		var err error
		if local, remote, err = socketPair(); err != nil {
			return 0, nil, err
		}
		defer local.Close()
		defer remote.Close()
		opts.ConsoleConn = remote
	}
	setStdio(&opts.Stdin, &opts.Stdout, &opts.Stderr, stdio)
	proc, err := t.c.Exec(opts)
	if err != nil {
		return 0, nil, err
	}
	var console *os.File
	if p.Terminal {
		remote.Close()
		if console, err = initsock.RecvFile(local); err != nil {
			_ = unix.Kill(proc.Pid, unix.SIGKILL)
			return 0, nil, fmt.Errorf("receive pty master: %w", err)
		}
	}
	return proc.Pid, console, nil
}

func (t *builtinTask) delete() error { return t.c.Delete(true) }

// handover tells the serving image how to go on without the runtime: the
// berth binary for `berth runtime`, the container's state directory and
// cgroup, and whether its spec has hooks.
func (t *builtinTask) handover() (*handover, error) {
	fd, err := unix.Open("/proc/self/exe", unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open the berth binary: %w", err)
	}
	return &handover{Berth: fd, Dir: t.c.Dir(), Cgroup: t.c.State.CgroupPaths, Hooks: t.c.State.Spec != nil && t.c.State.Spec.Hooks != nil}, nil
}

// prewarm readies what a create needs while a spare waits.
func prewarm() { runtime.Prewarm() }
