package shim

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// A Pool starts shims and keeps one spare: a shim process already past
// its own start (the exec of the berth binary, the Go runtime's and the
// packages' initialisation), waiting on fd 4 for the state directory it
// is to serve. A container's start then hands its directory to the spare
// instead of waiting for a new process, and a new spare is started in
// the background. The first start after a quiet spell pays for its own
// process: a spare is only made after a start, and one left unused for
// Idle goes away, so an idle daemon keeps none.
//
// A spare whose daemon dies reads end-of-file on fd 4 and exits.
type Pool struct {
	idle time.Duration

	mu      sync.Mutex
	spare   *proc
	bin     string // the binary the spare runs
	filling bool
	closed  bool
	timer   *time.Timer
}

// refillDelay is how long after a start the pool makes its next spare:
// on two CPUs, a spare started at once competes with the container just
// created (3 ms more per `docker run --rm` at the median), and `run -d`
// in a loop still finds the next spare ready.
const refillDelay = 30 * time.Millisecond

// spareArg is a spare's state directory argument: `berth shim -`.
const spareArg = "-"

// assignFd is the descriptor a spare reads its state directory from, one
// line; end-of-file tells it to exit.
const assignFd = 4

// NewPool returns a Pool whose spare lives idle at most for idle.
func NewPool(idle time.Duration) *Pool {
	return &Pool{idle: idle}
}

// Start is the package's Start, through the pool's spare when it has one
// for cfg's binary. A nil Pool starts every shim as its own process.
func (p *Pool) Start(ctx context.Context, cfg Config) (*Client, error) {
	cfg, bin, err := prepare(ctx, cfg)
	if err != nil {
		return nil, err
	}
	var sh *proc
	if p != nil {
		sh = p.take(bin)
		// The next spare is made a little later, not while this
		// container's own start and first moments want the CPUs.
		defer time.AfterFunc(refillDelay, func() { p.refill(bin) })
	}
	if sh != nil {
		_, err := sh.assign.Write([]byte(cfg.StateDir + "\n"))
		sh.assign.Close()
		if err != nil { // it died while waiting: start one for this container
			sh.ready.Close()
			sh = nil
		}
	}
	if sh == nil {
		logf, err := os.OpenFile(filepath.Join(cfg.StateDir, logName), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return nil, fmt.Errorf("shim log: %w", err)
		}
		sh, err = spawn(bin, cfg.StateDir, logf)
		logf.Close()
		if err != nil {
			return nil, err
		}
	}
	return sh.await(ctx, cfg)
}

// take returns the spare if it runs bin and still lives.
func (p *Pool) take(bin string) *proc {
	p.mu.Lock()
	defer p.mu.Unlock()
	sh := p.spare
	if sh == nil || p.bin != bin {
		return nil
	}
	p.spare = nil
	p.timer.Stop()
	select {
	case <-sh.exited:
		sh.drop()
		return nil
	default:
		return sh
	}
}

// refill starts a new spare for bin in the background, unless one is
// there or being started; a spare for another binary is replaced.
func (p *Pool) refill(bin string) {
	p.mu.Lock()
	if p.closed || p.filling || (p.spare != nil && p.bin == bin) {
		p.mu.Unlock()
		return
	}
	p.filling = true
	p.mu.Unlock()
	go func() {
		sh, err := spawn(bin, spareArg, nil)
		p.mu.Lock()
		defer p.mu.Unlock()
		p.filling = false
		if err != nil {
			return
		}
		if p.closed {
			sh.drop()
			return
		}
		if old := p.spare; old != nil {
			old.drop()
		}
		p.spare, p.bin = sh, bin
		if p.timer == nil {
			p.timer = time.AfterFunc(p.idle, p.expire)
		} else {
			p.timer.Reset(p.idle)
		}
	}()
}

// expire lets an unused spare go.
func (p *Pool) expire() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.spare != nil {
		p.spare.drop()
		p.spare = nil
	}
}

// Close lets the spare go and starts no other; Start still works, each
// shim then its own process.
func (p *Pool) Close() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	if p.spare != nil {
		p.spare.drop()
		p.spare = nil
	}
}

// Spare is the pid of the waiting spare, 0 when there is none.
func (p *Pool) Spare() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.spare == nil {
		return 0
	}
	return p.spare.cmd.Process.Pid
}

// drop closes a spare's pipes: it reads end-of-file and exits, and the
// goroutine of spawn reaps it.
func (sh *proc) drop() {
	sh.assign.Close()
	sh.ready.Close()
}
