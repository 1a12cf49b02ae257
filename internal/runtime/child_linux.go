package runtime

import (
	"errors"
	"io"
	"os"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// child is a child process: the part of os/exec's Cmd this package needs.
// Package os/exec (and path/filepath, which it imports) is not linked into
// internal/runtime because Go initialises packages in import-path order once
// their imports are: with them the container's init, which starts from this
// package's initialisation, waited for some 30 more packages of the binary
// (docs/runtime.md, "Speed"). TestInitNeedsNoPackageNet keeps it so.
//
// As with exec.Cmd: stdio that is an *os.File is handed over as is, any
// other reader or writer is copied through a pipe by a goroutine, and nil
// is /dev/null; Stdout and Stderr that are the same writer share one pipe.
type child struct {
	Path        string
	Args        []string
	Env         []string // nil: none
	Dir         string
	Stdin       io.Reader
	Stdout      io.Writer
	Stderr      io.Writer
	ExtraFiles  []*os.File
	SysProcAttr *syscall.SysProcAttr

	Process *process

	childFiles []*os.File // closed once the child has them (or on failure)
	ourFiles   []*os.File // our ends of the copying pipes
	copies     []func() error
	copyErrs   chan error
}

// Start starts the process; on failure nothing it opened stays open.
func (p *child) Start() (err error) {
	if p.Process != nil {
		return errors.New("process already started")
	}
	defer func() {
		if err != nil {
			closeFiles(p.childFiles)
			closeFiles(p.ourFiles)
			p.childFiles, p.ourFiles, p.copies = nil, nil, nil
		}
	}()
	files := make([]*os.File, 0, 3+len(p.ExtraFiles))
	in, err := p.reader(p.Stdin)
	if err != nil {
		return err
	}
	out, err := p.writer(p.Stdout)
	if err != nil {
		return err
	}
	errOut := out
	if p.Stderr == nil || !sameWriter(p.Stderr, p.Stdout) {
		if errOut, err = p.writer(p.Stderr); err != nil {
			return err
		}
	}
	files = append(append(files, in, out, errOut), p.ExtraFiles...)
	env := p.Env
	if env == nil {
		env = []string{}
	}
	// syscall.ForkExec, not os.StartProcess: the first os.StartProcess of a
	// process checks that pidfds work by cloning and reaping a throw-away
	// child first, a third of a millisecond on every container's start.
	fds := make([]uintptr, len(files))
	for i, f := range files {
		fds[i] = f.Fd() // blocking, as os.StartProcess hands them over
	}
	pid, err := syscall.ForkExec(p.Path, p.Args, &syscall.ProcAttr{Dir: p.Dir, Env: env, Files: fds, Sys: p.SysProcAttr})
	for _, f := range files {
		runtime.KeepAlive(f)
	}
	if err != nil {
		return &os.PathError{Op: "fork/exec", Path: p.Path, Err: err}
	}
	p.Process = &process{Pid: pid}
	closeFiles(p.childFiles)
	p.childFiles = nil
	p.copyErrs = make(chan error, len(p.copies))
	for _, fn := range p.copies {
		go func() { p.copyErrs <- fn() }()
	}
	return nil
}

// Run starts the process and waits for it and its copies; a process that
// did not exit 0 is an *exitError.
func (p *child) Run() error {
	if err := p.Start(); err != nil {
		return err
	}
	return p.Wait()
}

// Wait waits for the process to exit, then for its copies to end.
func (p *child) Wait() error {
	ws, err := p.Process.Wait()
	copyErr := p.awaitCopies(0)
	if err != nil {
		return err
	}
	if !ws.Exited() || ws.ExitStatus() != 0 {
		return &exitError{ws}
	}
	return copyErr
}

// awaitCopies waits for the copying goroutines, which end when every process
// holding the child's ends of the pipes has closed them. With delay > 0 our
// ends are closed after delay, which ends the copies however they stand.
func (p *child) awaitCopies(delay time.Duration) error {
	var timeout <-chan time.Time
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		timeout = t.C
	}
	var first error
	for range p.copies {
		select {
		case err := <-p.copyErrs:
			if first == nil {
				first = err
			}
			continue
		case <-timeout:
		}
		closeFiles(p.ourFiles)
		timeout = nil
		if err := <-p.copyErrs; first == nil {
			first = err
		}
	}
	closeFiles(p.ourFiles)
	p.ourFiles, p.copies = nil, nil
	return first
}

func (p *child) reader(r io.Reader) (*os.File, error) {
	if f, ok := r.(*os.File); ok {
		return f, nil
	}
	if r == nil {
		f, err := os.Open(os.DevNull)
		if err == nil {
			p.childFiles = append(p.childFiles, f)
		}
		return f, err
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	p.childFiles = append(p.childFiles, pr)
	p.ourFiles = append(p.ourFiles, pw)
	p.copies = append(p.copies, func() error {
		_, err := io.Copy(pw, r)
		if cerr := pw.Close(); err == nil && !errors.Is(cerr, os.ErrClosed) {
			err = cerr
		}
		// A child that does not read all its input is not an error.
		if errors.Is(err, syscall.EPIPE) || errors.Is(err, os.ErrClosed) {
			err = nil
		}
		return err
	})
	return pr, nil
}

func (p *child) writer(w io.Writer) (*os.File, error) {
	if f, ok := w.(*os.File); ok {
		return f, nil
	}
	if w == nil {
		f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err == nil {
			p.childFiles = append(p.childFiles, f)
		}
		return f, err
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	p.childFiles = append(p.childFiles, pw)
	p.ourFiles = append(p.ourFiles, pr)
	p.copies = append(p.copies, func() error {
		_, err := io.Copy(w, pr)
		pr.Close()
		if errors.Is(err, os.ErrClosed) {
			err = nil
		}
		return err
	})
	return pw, nil
}

func sameWriter(a, b io.Writer) (same bool) {
	defer func() {
		if recover() != nil {
			same = false
		}
	}()
	return a == b
}

func closeFiles(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// process is a started child: its pid until it is reaped, which Kill then
// no longer signals (the pid may be another process's by then).
type process struct {
	Pid  int
	mu   sync.Mutex
	done bool
}

// Kill sends SIGKILL, unless the process was reaped.
func (p *process) Kill() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return os.ErrProcessDone
	}
	return unix.Kill(p.Pid, unix.SIGKILL)
}

// Wait waits for the process to exit and reaps it. It waits without reaping
// first, so that a concurrent Kill never signals a reused pid.
func (p *process) Wait() (unix.WaitStatus, error) {
	var ws unix.WaitStatus
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	if done {
		return ws, os.ErrProcessDone
	}
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, p.Pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return ws, os.NewSyscallError("waitid", err)
		}
		break
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return ws, os.ErrProcessDone
	}
	for {
		_, err := unix.Wait4(p.Pid, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return ws, os.NewSyscallError("wait", err)
		}
		p.done = true
		return ws, nil
	}
}

// exitError is a process that did not exit 0; its text is as os/exec's
// ("exit status 1", "signal: killed").
type exitError struct{ ws unix.WaitStatus }

func (e *exitError) Error() string {
	var s string
	switch {
	case e.ws.Exited():
		s = "exit status " + strconv.Itoa(e.ws.ExitStatus())
	case e.ws.Signaled():
		s = "signal: " + e.ws.Signal().String()
	case e.ws.Stopped():
		s = "stop signal: " + e.ws.StopSignal().String()
	case e.ws.Continued():
		s = "continued"
	}
	if e.ws.CoreDump() {
		s += " (core dumped)"
	}
	return s
}
