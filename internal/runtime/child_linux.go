package runtime

import (
	"errors"
	"io"
	"os"
	"syscall"
	"time"
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

	Process *os.Process

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
	p.Process, err = os.StartProcess(p.Path, p.Args, &os.ProcAttr{Dir: p.Dir, Env: env, Files: files, Sys: p.SysProcAttr})
	if err != nil {
		return err
	}
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
	st, err := p.Process.Wait()
	copyErr := p.awaitCopies(0)
	if err != nil {
		return err
	}
	if !st.Success() {
		return &exitError{st}
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

// exitError is a process that did not exit 0; its text is as os/exec's
// ("exit status 1", "signal: killed").
type exitError struct{ *os.ProcessState }

func (e *exitError) Error() string { return e.ProcessState.String() }
