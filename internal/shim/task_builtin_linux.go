//go:build !shimserver

package shim

import (
	"errors"
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
	return withConsole(terminal, func(remote *os.File) (int, func(), error) {
		opts := runtime.CreateOpts{Root: t.cfg.RuntimeRoot, ID: t.cfg.ID, Bundle: t.cfg.Bundle, ConsoleConn: remote}
		setStdio(&opts.Stdin, &opts.Stdout, &opts.Stderr, stdio)
		c, err := runtime.Create(opts)
		if err != nil {
			return 0, nil, err
		}
		t.c = c
		return c.State.Pid, func() { _ = c.Delete(true) }, nil
	})
}

// withConsole runs a create or an exec of the runtime, given the remote end
// of a console socket with a terminal (else nil), and receives the pty
// master the process sends there; undo takes back what run started when
// that fails.
func withConsole(terminal bool, run func(remote *os.File) (pid int, undo func(), err error)) (int, *os.File, error) {
	var local, remote *os.File
	if terminal {
		var err error
		if local, remote, err = socketPair(); err != nil {
			return 0, nil, err
		}
		defer local.Close()
		defer remote.Close()
	}
	pid, undo, err := run(remote)
	if err != nil || !terminal {
		return pid, nil, err
	}
	remote.Close()
	console, err := initsock.RecvFile(local)
	if err != nil {
		undo()
		return 0, nil, fmt.Errorf("receive pty master: %w", err)
	}
	return pid, console, nil
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
	return withConsole(p.Terminal, func(remote *os.File) (int, func(), error) {
		opts := runtime.ExecOpts{Process: p, ConsoleConn: remote}
		setStdio(&opts.Stdin, &opts.Stdout, &opts.Stderr, stdio)
		proc, err := t.c.Exec(opts)
		if err != nil {
			return 0, nil, err
		}
		return proc.Pid, func() { _ = unix.Kill(proc.Pid, unix.SIGKILL) }, nil
	})
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

// deleteBuiltin is DeleteFromRuntime for the built-in runtime.
func deleteBuiltin(cfg *Config) (bool, error) {
	c, err := runtime.Load(cfg.RuntimeRoot, cfg.ID)
	if errors.Is(err, runtime.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, c.Delete(true)
}
