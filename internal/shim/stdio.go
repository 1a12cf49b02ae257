package shim

import (
	"encoding/json"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// Sizes that bound the shim's memory per process: the read buffer of each
// output stream, the longest log line kept before it is logged as partial
// (dockerd's 16 KiB), and the frames queued for one attached client before
// it is dropped as too slow.
const (
	readBufSize   = 16 << 10
	maxLogLine    = 16 << 10
	subQueueLen   = 64
	drainExitWait = 2 * time.Second
)

// procIO is the stdio of one process (the container's init or an exec) as
// the shim holds it: the output is read by one goroutine per stream, logged,
// and copied to the attached clients without ever blocking on them.
type procIO struct {
	stdin     *os.File // pipe write end or pty master; nil without stdin
	console   *os.File // pty master; nil without terminal
	log       *jsonLog // nil for execs and without LogPath
	stdinOnce bool

	copiers sync.WaitGroup

	mu          sync.Mutex
	subs        map[*subscriber]struct{}
	done        bool
	exit        *Exit
	stdinClosed bool
}

// subscriber is one attached client's output side.
type subscriber struct {
	ch             chan []byte // whole frames
	stdout, stderr bool
	closed         bool
}

// startCopy reads r until it ends (EOF, or EIO from a pty whose slave side
// is closed) and hands each chunk to the log and the subscribers.
func (p *procIO) startCopy(r *os.File, stream byte) {
	p.copiers.Add(1)
	go func() {
		defer p.copiers.Done()
		defer r.Close()
		name := "stdout"
		if stream == StreamStderr {
			name = "stderr"
		}
		buf := make([]byte, readBufSize)
		var line []byte
		for {
			n, err := r.Read(buf)
			if n > 0 {
				now := time.Now()
				if p.log != nil {
					line = p.logLines(name, line, buf[:n], now)
				}
				p.broadcast(stream, buf[:n])
			}
			if err != nil {
				break
			}
		}
		if p.log != nil && len(line) > 0 {
			p.log.write(name, line, time.Now())
		}
	}()
}

// logLines logs every complete line of pending+chunk and returns what is
// left of an unfinished line (logged as a partial message once it reaches
// maxLogLine).
func (p *procIO) logLines(stream string, pending, chunk []byte, t time.Time) []byte {
	for len(chunk) > 0 {
		i := indexByte(chunk, '\n')
		if i < 0 {
			pending = append(pending, chunk...)
			break
		}
		if len(pending) == 0 {
			p.log.write(stream, chunk[:i+1], t)
		} else {
			pending = append(pending, chunk[:i+1]...)
			p.log.write(stream, pending, t)
			pending = pending[:0]
		}
		chunk = chunk[i+1:]
	}
	for len(pending) >= maxLogLine {
		p.log.write(stream, pending[:maxLogLine], t)
		pending = append(pending[:0], pending[maxLogLine:]...)
	}
	if cap(pending) > 2*maxLogLine && len(pending) == 0 {
		pending = nil
	}
	return pending
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// broadcast queues one frame to every subscriber of stream; one whose queue
// is full is dropped (its connection closed) rather than waited for.
func (p *procIO) broadcast(stream byte, data []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var frame []byte
	for s := range p.subs {
		if (stream == StreamStdout && !s.stdout) || (stream == StreamStderr && !s.stderr) {
			continue
		}
		if frame == nil {
			frame = make([]byte, frameHeaderLen+len(data))
			putFrameHeader(frame, stream, len(data))
			copy(frame[frameHeaderLen:], data)
		}
		select {
		case s.ch <- frame:
		default:
			p.dropLocked(s)
		}
	}
}

func (p *procIO) dropLocked(s *subscriber) {
	if !s.closed {
		s.closed = true
		close(s.ch)
	}
	delete(p.subs, s)
}

// unsubscribe drops a subscriber that will never be read.
func (p *procIO) unsubscribe(s *subscriber) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dropLocked(s)
}

// subscribe registers an attached client's output side; frames queue from
// now on.
func (p *procIO) subscribe(stdout, stderr bool) *subscriber {
	s := &subscriber{ch: make(chan []byte, subQueueLen), stdout: stdout, stderr: stderr}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		s.closed = true
		close(s.ch)
		return s
	}
	if p.subs == nil {
		p.subs = map[*subscriber]struct{}{}
	}
	p.subs[s] = struct{}{}
	return s
}

// attach copies the process's output to conn as frames until the process
// ended (then the exit frame follows) or conn fails, and feeds the stdin
// frames that come from r to the process when withStdin. The client's
// half-close ends its stdin; output goes on. attach returns when the output
// side is done; the caller closes conn.
func (p *procIO) attach(conn net.Conn, r io.Reader, s *subscriber, withStdin bool) {
	go p.readStdin(r, withStdin)
	var failed bool
	for frame := range s.ch {
		if failed {
			continue
		}
		if _, err := conn.Write(frame); err != nil {
			failed = true
			p.mu.Lock()
			p.dropLocked(s)
			p.mu.Unlock()
		}
	}
	if failed {
		return
	}
	p.mu.Lock()
	exit := p.exit
	p.mu.Unlock()
	if exit != nil {
		b, _ := json.Marshal(exit)
		_ = writeFrame(conn, StreamExit, b)
	}
}

// readStdin reads the stdin frames of one attached client until it
// half-closes or goes away.
func (p *procIO) readStdin(r io.Reader, withStdin bool) {
	var buf []byte
	for {
		stream, n, err := readFrameHeader(r)
		if err != nil {
			break
		}
		if cap(buf) < n {
			buf = make([]byte, n)
		}
		if _, err := io.ReadFull(r, buf[:n]); err != nil {
			break
		}
		if stream != StreamStdin || !withStdin || p.stdin == nil {
			continue
		}
		p.mu.Lock()
		closed := p.stdinClosed
		p.mu.Unlock()
		if closed {
			continue
		}
		if _, err := p.stdin.Write(buf[:n]); err != nil {
			withStdin = false
		}
	}
	// StdinOnce closes the container's stdin when the first client's
	// stdin ends, but not a terminal's (docker's rule): a client that
	// detaches from a TTY (ctrl-p ctrl-q, or simply goes away) leaves it
	// open for the next attach.
	if withStdin && p.stdinOnce && p.stdin != p.console {
		p.closeStdin()
	}
}

// closeStdin closes the process's stdin (a pty's master stays open: it is
// also the output).
func (p *procIO) closeStdin() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stdinClosed || p.stdin == nil {
		return
	}
	p.stdinClosed = true
	if p.stdin != p.console {
		p.stdin.Close()
	}
}

// finish waits (a bounded time) for the output to end, then ends every
// attach with the exit frame.
func (p *procIO) finish(exit *Exit) {
	p.waitOutput()
	p.mu.Lock()
	p.done = true
	p.exit = exit
	for s := range p.subs {
		p.dropLocked(s)
	}
	p.mu.Unlock()
	p.closeStdin()
}

// waitOutput waits until the output streams ended, at most drainExitWait
// (processes outside a PID namespace may keep them open).
func (p *procIO) waitOutput() {
	ch := make(chan struct{})
	go func() {
		p.copiers.Wait()
		close(ch)
	}()
	select {
	case <-ch:
	case <-time.After(drainExitWait):
	}
}
