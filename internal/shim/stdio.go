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
// the output waits for it. drainExitWait bounds the waits for output after
// the process exited (processes outside a PID namespace may keep the
// streams open).
const (
	readBufSize   = 16 << 10
	maxLogLine    = 16 << 10
	subQueueLen   = 64
	drainExitWait = 2 * time.Second
)

// procIO is the stdio of one process (the container's init or an exec) as
// the shim holds it: the output is read by one goroutine per stream, logged,
// and copied to the attached clients. An attached client that reads slowly
// slows the output down (its queue full, the copier waits, the process
// blocks on its pipe), as with dockerd: it never loses a byte. One that goes
// away is dropped and holds nothing up.
type procIO struct {
	stdin     *os.File // pipe write end or pty master; nil without stdin
	console   *os.File // pty master; nil without terminal
	log       *jsonLog // nil for execs and without LogPath
	stdinOnce bool

	copiers sync.WaitGroup
	// attaches are the attached clients still being sent output; the
	// shim's exit waits for them.
	attaches sync.WaitGroup

	mu          sync.Mutex
	subs        map[*subscriber]struct{}
	wired       bool // the copiers were started
	copying     int  // copiers still running
	outputEnded bool // wired and every copier ended: subscribers' queues are closed
	done        bool
	exit        *Exit
	exited      chan struct{} // closed by finish; made by subscribe or finish
	stdinClosed bool
}

// subscriber is one attached client's output side. ch is closed (under
// procIO.mu) once the output ended, when no copier sends any more; gone is
// closed when the client is dropped, so that no copier waits for it.
type subscriber struct {
	ch             chan []byte // whole frames
	gone           chan struct{}
	goneOnce       sync.Once
	stdout, stderr bool
	closed         bool
}

// startCopy reads r until it ends (EOF, or EIO from a pty whose slave side
// is closed) and hands each chunk to the log and the subscribers.
func (p *procIO) startCopy(r *os.File, stream byte) {
	p.copiers.Add(1)
	p.mu.Lock()
	p.wired = true
	p.copying++
	p.mu.Unlock()
	go func() {
		defer p.copiers.Done()
		defer p.copierEnded()
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

// copierEnded counts a copier out; the last one closes the subscribers'
// queues: the output ended.
func (p *procIO) copierEnded() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.copying--
	if p.copying > 0 || p.outputEnded {
		return
	}
	p.outputEnded = true
	for s := range p.subs {
		p.closeQueueLocked(s)
	}
}

// broadcast queues one frame to every subscriber of stream, waiting while
// a subscriber's queue is full, until it has room or the subscriber is
// gone.
func (p *procIO) broadcast(stream byte, data []byte) {
	p.mu.Lock()
	var targets []*subscriber
	for s := range p.subs {
		if (stream == StreamStdout && s.stdout) || (stream == StreamStderr && s.stderr) {
			targets = append(targets, s)
		}
	}
	p.mu.Unlock()
	if len(targets) == 0 {
		return
	}
	frame := make([]byte, frameHeaderLen+len(data))
	putFrameHeader(frame, stream, len(data))
	copy(frame[frameHeaderLen:], data)
	for _, s := range targets {
		select {
		case s.ch <- frame:
		case <-s.gone:
		}
	}
}

// closeQueueLocked closes s's queue (no copier sends any more) and
// forgets s; p.mu held.
func (p *procIO) closeQueueLocked(s *subscriber) {
	if !s.closed {
		s.closed = true
		close(s.ch)
	}
	delete(p.subs, s)
}

// drop forgets a subscriber that will not be read (any more): copiers
// stop waiting for it.
func (p *procIO) drop(s *subscriber) {
	s.goneOnce.Do(func() { close(s.gone) })
	p.mu.Lock()
	delete(p.subs, s)
	p.mu.Unlock()
}

// unsubscribe drops a subscriber that will never be read.
func (p *procIO) unsubscribe(s *subscriber) { p.drop(s) }

// subscribe registers an attached client's output side; frames queue from
// now on (and the output waits for them to be read).
func (p *procIO) subscribe(stdout, stderr bool) *subscriber {
	s := &subscriber{ch: make(chan []byte, subQueueLen), gone: make(chan struct{}), stdout: stdout, stderr: stderr}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exited == nil {
		p.exited = make(chan struct{})
	}
	if p.outputEnded || p.done && !p.wired {
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

// attach copies the process's output to conn as frames until the output
// ended and the process exited (then the exit frame follows) or conn fails,
// and feeds the stdin frames that come from r to the process when
// withStdin. The client's half-close ends its stdin; output goes on. A
// client that reads slowly is waited for. Once the process exited, output
// that stays open without a frame for drainExitWait (a process outside the
// PID namespace holding the stream) no longer holds the attach. attach
// returns when the output side is done; the caller closes conn.
func (p *procIO) attach(conn net.Conn, r io.Reader, s *subscriber, withStdin bool) {
	p.attaches.Add(1)
	defer p.attaches.Done()
	go p.readStdin(r, withStdin)
	defer p.drop(s)
	p.mu.Lock()
	if p.exited == nil {
		p.exited = make(chan struct{})
	}
	exited := p.exited
	p.mu.Unlock()
	exitedOnce := exited // nil once seen, so that the select fires once
	var idle <-chan time.Time
	for {
		select {
		case frame, ok := <-s.ch:
			if !ok {
				<-exited
				p.writeExit(conn)
				return
			}
			if _, err := conn.Write(frame); err != nil {
				return
			}
			if idle != nil {
				idle = time.After(drainExitWait)
			}
		case <-exitedOnce:
			exitedOnce = nil // the output may still drain
			idle = time.After(drainExitWait)
		case <-idle:
			p.writeExit(conn)
			return
		}
	}
}

// writeExit sends the exit frame, when the process exited.
func (p *procIO) writeExit(conn net.Conn) {
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

// finish waits (a bounded time) for the output to end, then records the
// exit: each attach sends the exit frame once its client has the output.
func (p *procIO) finish(exit *Exit) {
	p.waitOutput()
	p.mu.Lock()
	p.done = true
	p.exit = exit
	if p.exited == nil {
		p.exited = make(chan struct{})
	}
	close(p.exited)
	if !p.wired { // no output was ever read: nothing will close the queues
		for s := range p.subs {
			p.closeQueueLocked(s)
		}
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

// drainAttaches waits, at most max, for the attached clients to have the
// output queued for them.
func (p *procIO) drainAttaches(max time.Duration) {
	done := make(chan struct{})
	go func() {
		p.attaches.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(max):
	}
}
