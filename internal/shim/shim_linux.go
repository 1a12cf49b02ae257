package shim

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// readyFd is the descriptor a starting shim reports on: "ok\n" once it
// serves, or an error message.
const readyFd = 3

// Memory settings of the shim process: a tiny heap, collected early.
const (
	gcPercent   = 20
	memoryLimit = 4 << 20
)

// defaultExitTimeout is how long an exited container's shim waits for a
// client before it cleans up and leaves only exit.json.
const defaultExitTimeout = 10 * time.Minute

// Main is the shim process, `berth shim <stateDir>` as Start runs it (fd 3
// is its ready pipe). It never returns.
func Main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: berth shim STATE-DIR")
		os.Exit(2)
	}
	// No collection while the container is created: the runtime's create
	// (the spec's decoding above all) allocates a few MiB that a 4 MiB
	// limit would collect over and over, on the path every `run` waits
	// for. The tiny heap's settings apply once the shim serves.
	debug.SetGCPercent(-1)
	goruntime.MemProfileRate = 0
	dir := os.Args[2]
	if dir == spareArg {
		dir = awaitAssignment()
	}
	ready := os.NewFile(readyFd, "ready")
	// Not into the runtime's processes: crun's container init inherits
	// what crun create does and would hold the daemon's read of this pipe
	// open until the container starts (runc starts its init with 0-2 only).
	unix.CloseOnExec(readyFd)
	img := imageFd()
	// SIGTERM or SIGINT, even while the container is being created: kill
	// and delete it, then exit.
	term := notifyTerm()
	// Created on a goroutine that ends, so the deep stack of the runtime's
	// create is freed rather than kept by the serving goroutine.
	var s *shim
	var err error
	done := make(chan struct{})
	go func() {
		s, err = newShim(dir, img >= 0)
		close(done)
	}()
	<-done
	if err != nil {
		if ready != nil {
			fmt.Fprintf(ready, "%v\n", err)
		}
		fmt.Fprintf(os.Stderr, "shim: %v\n", err)
		os.Exit(1)
	}
	if ready != nil {
		_, _ = ready.Write([]byte("ok\n"))
		ready.Close()
	}
	if img >= 0 {
		// The container is created: go on in the serving image, which
		// costs a fraction of this process's memory.
		if err := s.handOver(img, term); err != nil {
			fmt.Fprintf(os.Stderr, "shim: %v; serving from this process\n", err)
		}
		s.wirePending()
	}
	debug.SetGCPercent(gcPercent)
	debug.SetMemoryLimit(memoryLimit)
	go s.terminateOn(term)
	s.trimLater(false)
	s.serve()
}

// notifyTerm is the channel of SIGTERM and SIGINT, which end a shim.
func notifyTerm() chan os.Signal {
	term := make(chan os.Signal, 1)
	signal.Notify(term, unix.SIGTERM, unix.SIGINT)
	return term
}

// terminateOn kills and deletes the container, and exits, on a signal of
// term.
func (s *shim) terminateOn(term <-chan os.Signal) {
	<-term
	if err := s.delete(true); err != nil {
		fmt.Fprintf(os.Stderr, "shim: terminate: %v\n", err)
	}
	s.shutdown(nil)
}

// awaitAssignment is a spare's wait (see Pool): it reads its state
// directory from fd 4 and makes that directory's shim.log its stderr. It
// exits when the daemon lets it go (end-of-file) or sends something that
// is not an absolute path.
func awaitAssignment() string {
	unix.CloseOnExec(assignFd)
	prewarm()
	f := os.NewFile(assignFd, "assign")
	b, _ := io.ReadAll(io.LimitReader(f, 4097))
	f.Close()
	dir, ok := strings.CutSuffix(string(b), "\n")
	if !ok || !filepath.IsAbs(dir) || strings.Contains(dir, "\n") {
		os.Exit(0)
	}
	if logf, err := os.OpenFile(filepath.Join(dir, logName), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600); err == nil {
		_ = unix.Dup3(int(logf.Fd()), 2, 0)
		logf.Close()
	}
	return dir
}

// shim is the server side: one container, its stdio and its execs.
type shim struct {
	cfg    Config
	dir    string
	reaper *reaper
	task   task
	l      *net.UnixListener
	io     *procIO

	mu      sync.Mutex
	pid     int
	pidfd   int // of the container's init, opened before it could be reaped; -1 without
	status  Status
	started time.Time
	exit    *Exit
	exited  chan struct{} // closed once exit.json is written
	execs   map[string]*execProc
	ended   []string // ids of ended execs, oldest first
	trim    *time.Timer
	// dropText: the serving image's dropTextPages, after a start or exec.
	dropText *time.Timer
	conns    int
	idle     time.Time // when the last connection closed

	// served: this is the serving image.
	served bool
	// handing: the shim will exec the serving image, which reads the
	// output; until then its read ends wait here.
	handing        bool
	pending        stdioFiles
	pendingConsole *os.File
}

type execProc struct {
	pid    int
	io     *procIO
	exit   *Exit
	exited chan struct{}
}

func newShim(stateDir string, handing bool) (*shim, error) {
	s, err := newState(stateDir)
	if err != nil {
		return nil, err
	}
	s.handing = handing
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return nil, fmt.Errorf("become subreaper: %w", err)
	}
	// Hold no directory of the host busy.
	_ = os.Chdir("/")
	s.reaper = newReaper()
	if s.task, err = newTask(&s.cfg); err != nil {
		return nil, err
	}
	if err := s.create(); err != nil {
		return nil, err
	}
	if s.l, err = listen(stateDir); err != nil {
		if s.reaper.tryLock(killLockWait) {
			_ = s.task.kill(unix.SIGKILL, true)
			s.reaper.unlock()
		} else {
			_ = s.signalByPidfd(unix.SIGKILL) // see kill
		}
		<-s.exited
		s.reaper.lock()
		_ = s.task.delete()
		s.reaper.unlock()
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(stateDir, pidName), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return nil, fmt.Errorf("write pid file: %w", err)
	}
	return s, nil
}

// create makes the container with its stdio: pipes, or the pty master
// the runtime sends.
func (s *shim) create() error {
	p := &procIO{stdinOnce: s.cfg.StdinOnce}
	if s.cfg.LogPath != "" {
		l, err := openJSONLog(s.cfg.LogPath, s.cfg.LogMaxSize, s.cfg.LogMaxFiles, s.cfg.LogCompress)
		if err != nil {
			return err
		}
		l.setAttrs(s.cfg.LogAttrs)
		p.log = l
	}
	child, outs, err := makeStdio(p, s.cfg.OpenStdin, s.cfg.Terminal)
	if err != nil {
		return err
	}
	s.io = p
	s.reaper.lock()
	pid, console, err := s.task.create(child, s.cfg.Terminal)
	if err == nil {
		s.mu.Lock()
		s.pid = pid
		s.pidfd = openPidfd(pid) // not reapable before unlock: it is ours
		s.mu.Unlock()
		// The copiers run before the exit can be reaped (at unlock), so
		// the exit waits for the output.
		if s.handing {
			s.pending, s.pendingConsole = outs, console
		} else {
			p.wire(outs, console, s.cfg.OpenStdin)
		}
		s.reaper.watchPid(pid, s.initExited)
	}
	s.reaper.unlock()
	child.close()
	if err != nil {
		outs.close()
		if p.stdin != nil {
			p.stdin.Close()
		}
		return fmt.Errorf("create container %s: %w", s.cfg.ID, err)
	}
	return nil
}

// makeStdio makes the pipes of a process without a terminal: the child's
// ends, and the shim's (the stdin write end goes into p).
func makeStdio(p *procIO, stdin, terminal bool) (child, ours stdioFiles, err error) {
	if terminal {
		return child, ours, nil
	}
	defer func() {
		if err != nil {
			child.close()
			ours.close()
		}
	}()
	if stdin {
		if child.stdin, p.stdin, err = os.Pipe(); err != nil {
			return child, ours, fmt.Errorf("stdin pipe: %w", err)
		}
	} else if child.stdin, err = os.Open(os.DevNull); err != nil {
		return child, ours, err
	}
	if ours.stdout, child.stdout, err = os.Pipe(); err != nil {
		return child, ours, fmt.Errorf("stdout pipe: %w", err)
	}
	if ours.stderr, child.stderr, err = os.Pipe(); err != nil {
		return child, ours, fmt.Errorf("stderr pipe: %w", err)
	}
	return child, ours, nil
}

func (f stdioFiles) close() {
	for _, x := range []*os.File{f.stdin, f.stdout, f.stderr} {
		if x != nil {
			x.Close()
		}
	}
}

// wire starts the output copiers on the shim's ends (or the console).
func (p *procIO) wire(ours stdioFiles, console *os.File, stdin bool) {
	if console != nil {
		p.console = console
		if stdin {
			p.stdin = console
		}
		p.startCopy(console, StreamStdout)
		return
	}
	p.startCopy(ours.stdout, StreamStdout)
	p.startCopy(ours.stderr, StreamStderr)
}

// wirePending starts reading the output a handover left unread (when it
// could not exec the serving image).
func (s *shim) wirePending() {
	s.reaper.lock()
	defer s.reaper.unlock()
	s.wirePendingLocked()
}

// wirePendingLocked is wirePending with the reaper's lock held.
func (s *shim) wirePendingLocked() {
	if !s.handing {
		return
	}
	s.handing = false
	s.io.wire(s.pending, s.pendingConsole, s.cfg.OpenStdin)
	s.pending, s.pendingConsole = stdioFiles{}, nil
}

// initExited runs when the reaper collected the container's init: it waits
// for the output to end, records exit.json, and only then reports the exit.
func (s *shim) initExited(code int) {
	e := &Exit{Code: code, At: time.Now().UTC()}
	s.io.waitOutput()
	if b, err := json.Marshal(e); err == nil {
		if err := writeFileAtomic(filepath.Join(s.dir, exitName), b); err != nil {
			fmt.Fprintf(os.Stderr, "shim: record exit status: %v\n", err)
		}
	}
	s.mu.Lock()
	s.exit = e
	s.status = Stopped
	s.idle = time.Now()
	s.mu.Unlock()
	close(s.exited)
	s.io.finish(e)
	if s.io.log != nil {
		_ = s.io.log.close()
	}
	go s.exitTimer()
}

// exitTimer ends an exited container's shim once no client was connected
// for ExitTimeout: it deletes the container from the runtime and exits,
// leaving exit.json for a later daemon.
func (s *shim) exitTimer() {
	d := s.cfg.ExitTimeout
	if d < 0 {
		return
	}
	if d == 0 {
		d = defaultExitTimeout
	}
	for {
		s.mu.Lock()
		conns, wait := s.conns, d-time.Since(s.idle)
		s.mu.Unlock()
		if conns == 0 && wait <= 0 {
			s.shutdown(nil)
		}
		if wait < time.Second {
			wait = time.Second
		}
		time.Sleep(wait)
	}
}

// attachDrainMax bounds how long the shim, the container deleted, stays
// for attached clients to take the output still queued for them (a client
// that goes away ends its attach at once).
const attachDrainMax = time.Hour

// shutdown removes the container from the runtime and the shim's socket and
// pid file, answers reply, and exits once attached clients have the output
// queued for them; exit.json and the log stay.
func (s *shim) shutdown(reply func(error)) {
	s.reaper.lock()
	err := s.task.delete()
	s.reaper.unlock()
	if err != nil {
		err = fmt.Errorf("delete %s: %w", s.cfg.ID, err)
		fmt.Fprintf(os.Stderr, "shim: %v\n", err)
	}
	s.l.Close()
	_ = os.Remove(filepath.Join(s.dir, sockName))
	_ = os.Remove(filepath.Join(s.dir, pidName))
	if reply != nil {
		reply(err)
	}
	// The daemon has its answer (the container is gone from the runtime);
	// attached clients still get what is queued for them, however slowly
	// they read, as dockerd keeps a reader's output: a client that pauses
	// after the container exited (a pager, ctrl-s) loses nothing.
	if s.io != nil {
		s.io.drainAttaches(attachDrainMax)
	}
	os.Exit(0)
}

// listen makes <stateDir>/shim.sock, through /proc/self/fd for a long dir.
func listen(dir string) (*net.UnixListener, error) {
	path := filepath.Join(dir, sockName)
	_ = os.Remove(path)
	addr := path
	if len(addr) > 100 {
		d, err := os.Open(dir)
		if err != nil {
			return nil, fmt.Errorf("listen: %w", err)
		}
		defer d.Close()
		addr = "/proc/self/fd/" + strconv.Itoa(int(d.Fd())) + "/" + sockName
	}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: addr, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	l.SetUnlinkOnClose(false)
	return l, nil
}

func (s *shim) serve() {
	for {
		c, err := s.l.AcceptUnix()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				select {}
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		s.mu.Lock()
		s.conns++
		s.mu.Unlock()
		go func() {
			s.handle(c)
			c.Close()
			s.mu.Lock()
			s.conns--
			s.idle = time.Now()
			s.mu.Unlock()
		}()
	}
}

func (s *shim) handle(c *net.UnixConn) {
	r := bufio.NewReaderSize(c, 4096)
	var req request
	if err := readLine(r, &req); err != nil {
		_ = writeLine(c, response{Error: "bad request: " + err.Error()})
		return
	}
	var resp response
	var err error
	switch req.Op {
	case opState:
		resp.State = s.state()
	case opStart:
		err = s.start()
	case opKill:
		err = s.kill(req)
	case opWait:
		resp.Exit, err = s.wait(req.Exec)
	case opResize:
		err = s.resize(req)
	case opCloseStdin:
		err = s.closeStdin(req.Exec)
	case opAttach:
		s.attach(c, r, req)
		return
	case opExec:
		s.exec(c, r, req)
		return
	case opDelete:
		if err = s.delete(req.Force); err == nil {
			s.shutdown(func(err error) {
				if err != nil {
					resp.Error = err.Error()
				}
				_ = writeLine(c, resp)
			})
		}
	default:
		err = fmt.Errorf("unknown operation %q", req.Op)
	}
	if err != nil {
		resp.Error = err.Error()
	}
	_ = writeLine(c, resp)
}

func (s *shim) state() *State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return &State{ID: s.cfg.ID, Pid: s.pid, ShimPid: os.Getpid(), Status: s.status,
		Started: s.started, Exit: s.exit, Terminal: s.cfg.Terminal}
}

func (s *shim) start() error {
	s.mu.Lock()
	st := s.status
	s.mu.Unlock()
	if st != Created {
		return fmt.Errorf("container %s is %s, not created", s.cfg.ID, st)
	}
	s.reaper.lock()
	err := s.task.start()
	s.reaper.unlock()
	if err != nil {
		return fmt.Errorf("start container %s: %w", s.cfg.ID, err)
	}
	s.mu.Lock()
	if s.status == Created {
		s.status = Running
	}
	s.started = time.Now().UTC()
	s.mu.Unlock()
	// Create and start are the peaks of the shim's heap: give it back,
	// once the answer is out.
	s.trimLater(false)
	return nil
}

func (s *shim) kill(req request) error {
	sig := unix.Signal(req.Signal)
	if sig == 0 {
		sig = unix.SIGKILL
	}
	if req.Exec != "" {
		e, err := s.execByID(req.Exec)
		if err != nil {
			return err
		}
		// Under the reaper's lock, and only while the pid is not reaped:
		// a reaped pid may be another process's already.
		s.reaper.lock()
		defer s.reaper.unlock()
		if !s.reaper.watching(e.pid) {
			return fmt.Errorf("exec %s is not running", req.Exec)
		}
		if err := unix.Kill(e.pid, sig); err != nil {
			return fmt.Errorf("signal exec %s: %w", req.Exec, err)
		}
		return nil
	}
	select {
	case <-s.exited:
		return fmt.Errorf("container %s is not running", s.cfg.ID)
	default:
	}
	if !s.reaper.tryLock(killLockWait) {
		// An exec holds the reaper while its setup is stuck (a container
		// stalled at its memory limit with the OOM killer off): signal the
		// init through its pidfd, which cannot name another process.
		if err := s.signalByPidfd(sig); err == nil || !req.All {
			return err
		}
		s.reaper.lock()
	}
	if !s.reaper.watching(s.pid) {
		// Reaped, its exit not yet recorded: the pid may be reused.
		s.reaper.unlock()
		return fmt.Errorf("container %s is not running", s.cfg.ID)
	}
	err := s.task.kill(sig, req.All)
	s.reaper.unlock()
	if err != nil {
		return fmt.Errorf("kill container %s: %w", s.cfg.ID, err)
	}
	return nil
}

// killLockWait is how long a kill waits for the reaper before it signals
// the init through its pidfd instead.
const killLockWait = 200 * time.Millisecond

// signalByPidfd sends sig to the container's init through its pidfd.
func (s *shim) signalByPidfd(sig unix.Signal) error {
	s.mu.Lock()
	fd := s.pidfd
	s.mu.Unlock()
	if fd < 0 {
		return fmt.Errorf("kill container %s: no pidfd of its init", s.cfg.ID)
	}
	if err := unix.PidfdSendSignal(fd, sig, nil, 0); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("container %s is not running", s.cfg.ID)
		}
		return fmt.Errorf("kill container %s: %w", s.cfg.ID, err)
	}
	return nil
}

// openPidfd opens a pidfd of pid, a child not yet reaped; -1 if the kernel
// has none.
func openPidfd(pid int) int {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return -1
	}
	unix.CloseOnExec(fd)
	return fd
}

func (s *shim) wait(execID string) (*Exit, error) {
	if execID != "" {
		e, err := s.execByID(execID)
		if err != nil {
			return nil, err
		}
		<-e.exited
		return e.exit, nil
	}
	<-s.exited
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.exit, nil
}

func (s *shim) execByID(id string) (*execProc, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.execs[id]
	if e == nil {
		return nil, fmt.Errorf("exec %s: no such exec", id)
	}
	return e, nil
}

func (s *shim) resize(req request) error {
	p := s.io
	if req.Exec != "" {
		e, err := s.execByID(req.Exec)
		if err != nil {
			return err
		}
		p = e.io
	}
	if p.console == nil {
		// Nothing to size: containerd's shim ignores it too, so a
		// client's resize of a container without -t is no error.
		return nil
	}
	ws := &unix.Winsize{Row: req.Height, Col: req.Width}
	// Through Control, which keeps the pty open meanwhile: its reader
	// closes it once the process ended, and the descriptor's number may
	// then be another file's.
	var ioErr error
	rc, err := p.console.SyscallConn()
	if err == nil {
		err = rc.Control(func(fd uintptr) { ioErr = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, ws) })
	}
	if err != nil || errors.Is(ioErr, unix.EIO) {
		// Closed: the process ended and its output was read.
		return errors.New(ErrNotRunning)
	}
	if ioErr != nil {
		return fmt.Errorf("resize: %w", ioErr)
	}
	return nil
}

func (s *shim) closeStdin(execID string) error {
	p := s.io
	if execID != "" {
		e, err := s.execByID(execID)
		if err != nil {
			return err
		}
		p = e.io
	}
	p.closeStdin()
	return nil
}

func (s *shim) attach(c *net.UnixConn, r *bufio.Reader, req request) {
	// Subscribe before the answer: the client starts the container as
	// soon as it has it, and output written in between must not be lost.
	sub := s.io.subscribe(req.Stdout, req.Stderr)
	if err := writeLine(c, response{State: s.state()}); err != nil {
		s.io.unsubscribe(sub)
		return
	}
	s.io.attach(c, r, sub, req.Stdin && s.cfg.OpenStdin)
}

// exec starts a process in the container; its output is streamed on c
// until it exits, then its exit frame.
func (s *shim) exec(c *net.UnixConn, r *bufio.Reader, req request) {
	e, sub, err := s.startExec(req.Config)
	if err != nil {
		_ = writeLine(c, response{Error: err.Error()})
		return
	}
	if err := writeLine(c, response{Pid: e.pid}); err != nil {
		e.io.unsubscribe(sub) // or the exec's output would wait for it
		return
	}
	e.io.attach(c, r, sub, req.Config.Stdin)
}

func (s *shim) startExec(cfg *ExecConfig) (*execProc, *subscriber, error) {
	if cfg == nil || cfg.ID == "" || cfg.Process == nil {
		return nil, nil, errors.New("exec: id and process are required")
	}
	s.mu.Lock()
	_, dup := s.execs[cfg.ID]
	st := s.status
	s.mu.Unlock()
	if dup {
		return nil, nil, fmt.Errorf("exec %s: already exists", cfg.ID)
	}
	if st != Running {
		return nil, nil, fmt.Errorf("exec %s: container %s is %s, not running", cfg.ID, s.cfg.ID, st)
	}
	p := &procIO{stdinOnce: true}
	child, outs, err := makeStdio(p, cfg.Stdin, cfg.Process.Terminal)
	if err != nil {
		return nil, nil, err
	}
	e := &execProc{io: p, exited: make(chan struct{})}
	// Subscribed before the process starts, so no output is lost: the
	// caller attaches right after; until then frames queue.
	sub := p.subscribe(true, true)
	s.reaper.lock()
	pid, console, err := s.task.exec(cfg.ID, cfg.Process, child)
	if err == nil {
		e.pid = pid
		// Before the exit can be reaped (at unlock): see create.
		p.wire(outs, console, cfg.Stdin)
		s.reaper.watchPid(pid, func(code int) {
			x := &Exit{Code: code, At: time.Now().UTC()}
			p.finish(x)
			e.exit = x
			close(e.exited)
			s.execDone(cfg.ID)
		})
	}
	s.reaper.unlock()
	child.close()
	if err != nil {
		outs.close()
		if p.stdin != nil {
			p.stdin.Close()
		}
		return nil, nil, fmt.Errorf("exec %s: %w", cfg.ID, err)
	}
	s.trimLater(true)
	s.mu.Lock()
	s.execs[cfg.ID] = e
	s.mu.Unlock()
	return e, sub, nil
}

// trimDelay is how long after a create, start or exec the shim returns its
// freed heap to the kernel: off the caller's path, after a burst.
const trimDelay = 100 * time.Millisecond

// trimLater schedules a debug.FreeOSMemory. The serving image does so
// only after an exec: a forced collection makes Go take fresh 64 KiB
// arenas of mark bits and clear the ones it reuses, which costs an idle
// shim more (about 170 KiB) than its tiny heap gives back, while a shim
// that execs (health checks) gives back more (about 400 KiB after a minute
// of one exec a second).
func (s *shim) trimLater(afterExec bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.served {
		// And its code's pages, once the start or exec is over.
		if s.dropText != nil {
			s.dropText.Reset(textDropDelay)
		} else {
			s.dropText = time.AfterFunc(textDropDelay, dropTextPages)
		}
		if !afterExec {
			return
		}
	}
	if s.trim != nil {
		s.trim.Reset(trimDelay)
		return
	}
	s.trim = time.AfterFunc(trimDelay, debug.FreeOSMemory)
}

// maxEndedExecs is how many ended execs keep their exit status for
// WaitExec; older ones are forgotten (a health check execs forever).
const maxEndedExecs = 64

// execDone records that exec id ended and forgets the oldest ended execs.
func (s *shim) execDone(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ended = append(s.ended, id)
	for len(s.ended) > maxEndedExecs {
		delete(s.execs, s.ended[0])
		s.ended = s.ended[1:]
	}
}

// delete removes the container from the runtime; a running one only with
// force (it is killed, and its exit recorded, first); a created one that
// never started is killed as docker's rm does.
func (s *shim) delete(force bool) error {
	s.mu.Lock()
	created := s.status == Created
	s.mu.Unlock()
	select {
	case <-s.exited:
	default:
		if !force && !created {
			return fmt.Errorf("container %s is running: stop it first or force the delete", s.cfg.ID)
		}
		s.reaper.lock()
		_ = s.task.kill(unix.SIGKILL, true)
		s.reaper.unlock()
		select {
		case <-s.exited:
		case <-time.After(10 * time.Second):
			return fmt.Errorf("delete %s: init process %d did not exit after SIGKILL", s.cfg.ID, s.pid)
		}
	}
	return nil
}
