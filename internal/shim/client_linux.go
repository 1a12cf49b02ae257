package shim

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ErrShimGone is returned by Connect when no shim serves the state
// directory; ReadExit then tells whether it recorded an exit.
var ErrShimGone = errors.New("shim is not running")

// Client talks to one shim. It holds no connection: each call dials the
// shim's socket, so a daemon may drop a Client at any time and make a new
// one with Connect.
type Client struct {
	dir string
	pid int
}

// Start spawns a shim for cfg (a re-exec of cfg.Binary, default
// /proc/self/exe, in its own session, stdio not ours) and returns once the
// shim created the container (status created) and serves its socket. The
// shim is our child only until we exit: a goroutine reaps it if it ends
// first.
func Start(ctx context.Context, cfg Config) (*Client, error) {
	return (*Pool)(nil).Start(ctx, cfg)
}

// prepare checks cfg, makes its state directory and writes config.json
// there; it returns cfg with absolute paths and the shim binary to run.
func prepare(ctx context.Context, cfg Config) (Config, string, error) {
	if err := cfg.validate(); err != nil {
		return cfg, "", err
	}
	dir, err := filepath.Abs(cfg.StateDir)
	if err != nil {
		return cfg, "", fmt.Errorf("shim state dir: %w", err)
	}
	cfg.StateDir = dir
	if cfg.Bundle, err = filepath.Abs(cfg.Bundle); err != nil {
		return cfg, "", fmt.Errorf("shim bundle: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return cfg, "", fmt.Errorf("shim state dir: %w", err)
	}
	if c, err := Connect(ctx, dir); err == nil {
		return cfg, "", fmt.Errorf("shim state dir %s: already served by shim %d", dir, c.pid)
	}
	for _, n := range []string{exitName, pidName, sockName} {
		_ = os.Remove(filepath.Join(dir, n))
	}
	b, err := json.Marshal(&cfg)
	if err != nil {
		return cfg, "", err
	}
	if err := writeFileAtomic(filepath.Join(dir, configName), b); err != nil {
		return cfg, "", fmt.Errorf("write shim config: %w", err)
	}
	bin := cfg.Binary
	if bin == "" {
		bin = "/proc/self/exe"
	}
	return cfg, bin, nil
}

// proc is a shim process this daemon started and still reaps.
type proc struct {
	cmd    *exec.Cmd
	ready  *os.File      // read end of the shim's fd 3
	assign *os.File      // write end of a spare's fd 4; nil for a shim started for its directory
	exited chan struct{} // closed once reaped
}

// spawn starts bin as a shim for dir, or as a spare (dir == spareArg) that
// waits for its directory on fd 4. Its stderr is stderr (the state
// directory's shim.log; /dev/null for a spare, which opens its log once
// it has a directory).
func spawn(bin, dir string, stderr *os.File) (*proc, error) {
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	defer devnull.Close()
	if stderr == nil {
		stderr = devnull
	}
	rd, wr, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer wr.Close()
	p := &proc{ready: rd, exited: make(chan struct{})}
	extra := []*os.File{wr}
	if dir == spareArg {
		ard, awr, err := os.Pipe()
		if err != nil {
			rd.Close()
			return nil, err
		}
		defer ard.Close()
		p.assign = awr
		extra = append(extra, ard)
	}
	env := shimEnv()
	// Without the image (it could not be made), the shim serves in place.
	if img, _ := servingImage(); img != nil {
		extra = append(extra, img)
		env = append(env, imageFdEnv+"="+strconv.Itoa(2+len(extra)))
	}
	p.cmd = &exec.Cmd{
		Path:        bin,
		Args:        []string{"berth", Arg, dir},
		Env:         env,
		Dir:         "/",
		Stdin:       devnull,
		Stdout:      devnull,
		Stderr:      stderr,
		ExtraFiles:  extra,
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	if err := p.cmd.Start(); err != nil {
		rd.Close()
		if p.assign != nil {
			p.assign.Close()
		}
		return nil, fmt.Errorf("start shim: %w", err)
	}
	go func() {
		awaitExit(p.cmd.Process.Pid)
		_ = p.cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// awaitExit returns once the child pid has exited (it is not reaped):
// Go's poller waits on its pidfd, where Wait would hold a thread of the
// daemon blocked in waitid for each running shim (50 containers, 50
// threads: about 45 KiB of the daemon's memory per container). Without
// pidfds it returns at once, and Wait blocks as before.
func awaitExit(pid int) {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return
	}
	unix.CloseOnExec(fd)
	f := os.NewFile(uintptr(fd), "pidfd")
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	// Readable once the process exited; the first call only asks for the
	// wait.
	first := true
	_ = rc.Read(func(uintptr) bool {
		if first {
			first = false
			return false
		}
		return true
	})
}

// await waits for the shim p started for cfg to report that it created
// the container, and gives up (SIGTERM, so that the shim removes what it
// created) when ctx ends.
func (p *proc) await(ctx context.Context, cfg Config) (*Client, error) {
	defer p.ready.Close()
	msg := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(p.ready, 4096))
		msg <- strings.TrimSpace(string(b))
	}()
	select {
	case m := <-msg:
		if m == "ok" {
			return &Client{dir: cfg.StateDir, pid: p.cmd.Process.Pid}, nil
		}
		if m == "" {
			m = "exited before it was ready"
			if b, err := os.ReadFile(filepath.Join(cfg.StateDir, logName)); err == nil && len(b) > 0 {
				m += ": " + strings.TrimSpace(string(b))
			}
		}
		return nil, fmt.Errorf("shim for %s: %s", cfg.ID, m)
	case <-ctx.Done():
		// SIGTERM lets the shim remove a container it created meanwhile.
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(termAsk):
			// The shim had created the container and was exec'ing its
			// serving image, which ignores the signal over the exec: ask
			// it through its socket.
			p.deleteServed(cfg.StateDir)
		}
		// A shim that ended without deleting the container (the signal
		// came while the serving image's Go was starting, before it
		// handles it) leaves it to us.
		_, _ = DeleteFromRuntime(cfg.StateDir)
		return nil, fmt.Errorf("shim for %s: %w", cfg.ID, ctx.Err())
	}
}

// termAsk is how long Start waits for a shim it sent SIGTERM to, before
// it asks for the delete through the shim's socket; termWait how long in
// all, before it kills the shim.
const (
	termAsk  = 2 * time.Second
	termWait = 15 * time.Second
)

// deleteServed has the shim that serves dir kill and delete its container,
// and waits for the shim to exit; one that does not answer is killed.
func (p *proc) deleteServed(dir string) {
	ctx, cancel := context.WithTimeout(context.Background(), termWait)
	defer cancel()
	if c, err := Connect(ctx, dir); err == nil {
		_ = c.Delete(ctx, true)
	}
	select {
	case <-p.exited:
	case <-ctx.Done():
		_ = p.cmd.Process.Kill()
	}
}

// shimEnv is the environment of a shim: only what it and the runtimes
// need, and the Go runtime settings that keep it small from its first
// allocation on (baseEnv); it does not collect at all until it created the
// container (see Main).
func shimEnv() []string {
	return append(baseEnv(), "GOGC=off")
}

// baseEnv is the environment of a shim and its serving image: PATH,
// TMPDIR and BERTH_INIT (the daemon's choice of the container's init, see
// internal/runtime), one P, no heap profiling, and no reading of the cgroup's CPU
// limits for GOMAXPROCS (which kept two cgroup files open in every shim);
// SHIM_GODEBUG (passed on to the serving image) adds GODEBUG settings for
// debugging. BERTH_PREFAULT=0: a shim lives as long as its container, and
// the heap pages internal/prefault populates for a quick start would stay
// in it (a shim that serves as berth itself took 3.55 MiB of anonymous
// memory with them, 3.5 is TestMemory's guard).
func baseEnv() []string {
	var env []string
	for _, k := range []string{"PATH", "TMPDIR", "BERTH_INIT", "SHIM_GODEBUG"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	godebug := "memprofilerate=0,containermaxprocs=0,updatemaxprocs=0"
	if v := os.Getenv("SHIM_GODEBUG"); v != "" {
		godebug += "," + v
	}
	return append(env, "GOMAXPROCS=1", "GODEBUG="+godebug, "BERTH_PREFAULT=0")
}

// Connect returns a client for the shim serving stateDir, after checking it
// answers. When none does, the error wraps ErrShimGone.
func Connect(ctx context.Context, stateDir string) (*Client, error) {
	dir, err := filepath.Abs(stateDir)
	if err != nil {
		return nil, err
	}
	c := &Client{dir: dir}
	st, err := c.State(ctx)
	if err != nil {
		return nil, err
	}
	c.pid = st.ShimPid
	return c, nil
}

// Pid is the shim's process id.
func (c *Client) Pid() int { return c.pid }

// StateDir is the shim's state directory.
func (c *Client) StateDir() string { return c.dir }

// dial connects to the shim's socket (through /proc/self/fd for a long
// path) and sends req.
func (c *Client) dial(ctx context.Context, req request) (*net.UnixConn, *bufio.Reader, error) {
	path := filepath.Join(c.dir, sockName)
	addr := path
	if len(addr) > 100 {
		d, err := os.Open(c.dir)
		if err != nil {
			return nil, nil, fmt.Errorf("shim %s: %w", c.dir, err)
		}
		defer d.Close()
		addr = "/proc/self/fd/" + strconv.Itoa(int(d.Fd())) + "/" + sockName
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", addr)
	if err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ECONNREFUSED) {
			return nil, nil, fmt.Errorf("shim %s: %w", path, ErrShimGone)
		}
		return nil, nil, fmt.Errorf("shim %s: %w", path, err)
	}
	uc := conn.(*net.UnixConn)
	if err := writeLine(uc, req); err != nil {
		uc.Close()
		return nil, nil, fmt.Errorf("shim %s: %s: %w", path, req.Op, err)
	}
	return uc, bufio.NewReader(uc), nil
}

// call sends req and reads the response; ctx bounds the whole call.
func (c *Client) call(ctx context.Context, req request) (*response, error) {
	conn, r, err := c.dial(ctx, req)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	var resp response
	if err := readLine(r, &resp); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("shim %s: %s: %w", c.dir, req.Op, ctx.Err())
		}
		if req.Op == opDelete && errors.Is(err, io.EOF) {
			return &resp, nil
		}
		return nil, fmt.Errorf("shim %s: %s: %w", c.dir, req.Op, err)
	}
	if resp.Error != "" {
		return &resp, errors.New(resp.Error)
	}
	return &resp, nil
}

// State returns the container's state.
func (c *Client) State(ctx context.Context) (*State, error) {
	resp, err := c.call(ctx, request{Op: opState})
	if err != nil {
		return nil, err
	}
	return resp.State, nil
}

// Start starts the created container's process.
func (c *Client) Start(ctx context.Context) error {
	_, err := c.call(ctx, request{Op: opStart})
	return err
}

// Kill signals the container's init, or with all every process of it.
func (c *Client) Kill(ctx context.Context, sig syscall.Signal, all bool) error {
	_, err := c.call(ctx, request{Op: opKill, Signal: int(sig), All: all})
	return err
}

// KillExec signals an exec'd process.
func (c *Client) KillExec(ctx context.Context, execID string, sig syscall.Signal) error {
	_, err := c.call(ctx, request{Op: opKill, Exec: execID, Signal: int(sig)})
	return err
}

// Wait blocks until the container exited and returns its exit status.
func (c *Client) Wait(ctx context.Context) (*Exit, error) {
	resp, err := c.call(ctx, request{Op: opWait})
	if err != nil {
		return nil, err
	}
	return resp.Exit, nil
}

// WaitExec blocks until the exec'd process exited.
func (c *Client) WaitExec(ctx context.Context, execID string) (*Exit, error) {
	resp, err := c.call(ctx, request{Op: opWait, Exec: execID})
	if err != nil {
		return nil, err
	}
	return resp.Exit, nil
}

// Resize sets the terminal size of the container (execID "") or an exec.
func (c *Client) Resize(ctx context.Context, execID string, width, height uint16) error {
	_, err := c.call(ctx, request{Op: opResize, Exec: execID, Width: width, Height: height})
	return err
}

// CloseStdin closes the stdin of the container (execID "") or an exec.
func (c *Client) CloseStdin(ctx context.Context, execID string) error {
	_, err := c.call(ctx, request{Op: opCloseStdin, Exec: execID})
	return err
}

// Delete removes the container from the runtime (a running one only with
// force, which kills it) and ends the shim. The state directory keeps
// exit.json and shim.log; the caller removes it.
func (c *Client) Delete(ctx context.Context, force bool) error {
	_, err := c.call(ctx, request{Op: opDelete, Force: force})
	return err
}

// AttachOpts selects the streams of an attach.
type AttachOpts struct {
	Stdin, Stdout, Stderr bool
}

// Attach opens a stream to the container's stdio. Frames come as docker's
// 8-byte multiplexed framing, with the exit frame last (see the package
// doc); Stream wraps the connection.
func (c *Client) Attach(ctx context.Context, o AttachOpts) (*Stream, error) {
	conn, r, err := c.dial(ctx, request{Op: opAttach, Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr})
	if err != nil {
		return nil, err
	}
	var resp response
	if err := readLine(r, &resp); err != nil {
		conn.Close()
		return nil, fmt.Errorf("shim %s: attach: %w", c.dir, err)
	}
	if resp.Error != "" {
		conn.Close()
		return nil, errors.New(resp.Error)
	}
	return &Stream{conn: conn, r: r}, nil
}

// Exec starts cfg's process in the running container and returns the
// stream of its stdio, which ends with its exit frame.
func (c *Client) Exec(ctx context.Context, cfg ExecConfig) (*Stream, error) {
	conn, r, err := c.dial(ctx, request{Op: opExec, Config: &cfg})
	if err != nil {
		return nil, err
	}
	var resp response
	if err := readLine(r, &resp); err != nil {
		conn.Close()
		return nil, fmt.Errorf("shim %s: exec: %w", c.dir, err)
	}
	if resp.Error != "" {
		conn.Close()
		return nil, errors.New(resp.Error)
	}
	return &Stream{conn: conn, r: r, Pid: resp.Pid}, nil
}

// Stream is an attach or exec stream. Write sends stdin (framed),
// CloseStdin half-closes, Demux or ReadFrame read the output.
type Stream struct {
	conn *net.UnixConn
	r    *bufio.Reader
	// Pid is an exec'd process's pid.
	Pid int
}

// Write sends p as stdin.
func (s *Stream) Write(p []byte) (int, error) {
	for off := 0; off < len(p); {
		n := min(len(p)-off, 32<<10)
		if err := writeFrame(s.conn, StreamStdin, p[off:off+n]); err != nil {
			return off, err
		}
		off += n
	}
	return len(p), nil
}

// CloseStdin ends the stdin of this stream (a half-close); the output
// goes on.
func (s *Stream) CloseStdin() error { return s.conn.CloseWrite() }

// Close drops the stream (a detach).
func (s *Stream) Close() error { return s.conn.Close() }

// ReadFrame reads the next frame: its stream and payload. At the end of
// the output it returns io.EOF.
func (s *Stream) ReadFrame() (byte, []byte, error) {
	stream, n, err := readFrameHeader(s.r)
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = io.EOF
		}
		return 0, nil, err
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(s.r, p); err != nil {
		return 0, nil, err
	}
	return stream, p, nil
}

// Demux copies stdout and stderr frames to the writers until the output
// ends, and returns the exit status when the process ended (nil when the
// stream ended without one).
func (s *Stream) Demux(stdout, stderr io.Writer) (*Exit, error) {
	for {
		stream, p, err := s.ReadFrame()
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		switch stream {
		case StreamStdout:
			if stdout != nil {
				if _, err := stdout.Write(p); err != nil {
					return nil, err
				}
			}
		case StreamStderr:
			if stderr != nil {
				if _, err := stderr.Write(p); err != nil {
					return nil, err
				}
			}
		case StreamExit:
			var e Exit
			if err := json.Unmarshal(p, &e); err != nil {
				return nil, fmt.Errorf("exit frame: %w", err)
			}
			return &e, nil
		}
	}
}
