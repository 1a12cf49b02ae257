package lifecycle

import (
	"os"
	"os/signal"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	rt "github.com/berth/berth/internal/runtime"
)

// Run is `run`: create and start, and unless detached, wait and delete
// (unless keep) with signals forwarded and the terminal (when asked for)
// relayed. It returns the process's exit code.
func Run(g *Global, o *CreateOpts, id string, detach, keep bool) (int, error) {
	if err := CheckPreserved(o.PreserveFds); err != nil {
		return 0, err
	}
	ro := o.RuntimeOpts(g, id)
	ro.StartNow = true // Start follows at once
	var console *ConsoleRelay
	if !detach {
		// We wait for the init, so it must stay our descendant.
		if !o.NoSubreaper {
			_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
		}
		// config.json is read once, here; a bundle that cannot be read
		// is left to Create, which reports it in its usual order.
		cfg, err := rt.ReadBundleConfig(o.Bundle)
		if err == nil {
			cfg.DecodeAhead()
			ro.Config = cfg
		}
		if cfg != nil && cfg.Terminal() && o.ConsoleSocket == "" {
			console, err = NewConsoleRelay()
			if err != nil {
				return 0, err
			}
			defer console.Close()
			ro.ConsoleConn = console.Remote
		}
	}
	// Forward signals from the moment the init exists: they are being
	// caught while Create reads the spec, and it waits for that before it
	// starts the init.
	var sigs *Signals
	if !detach {
		if sigs, earlySigs = earlySigs, nil; sigs == nil {
			sigs = NotifySignals()
		}
		defer sigs.Stop()
		ro.BeforeInit = sigs.FatalCaught
	}
	c, err := rt.Create(ro)
	if err != nil {
		return 0, err
	}
	if console != nil {
		if err := console.Receive(); err != nil {
			_ = c.Delete(true)
			return 0, err
		}
	}
	if err := c.Start(); err != nil {
		_ = c.Delete(true)
		return 0, err
	}
	if detach {
		return 0, nil
	}
	if console != nil {
		console.Start()
	}
	sigs.Forward(console, func(sig unix.Signal) { _ = c.Signal(sig, false) })
	code, werr := c.Wait()
	sigs.Stop()
	if console != nil {
		console.Drain()
	}
	if !keep {
		if err := c.Delete(true); err != nil && werr == nil {
			werr = err
		}
	}
	return code, werr
}

// Signals relays the signals a foreground run or exec receives to its
// process.
//
// Every signal Go's os/signal starts to catch costs a round trip to the
// Go runtime's signal thread (two thread switches): about 2 ms for all 64
// on this kind of machine, on the path of every `run`. NotifySignals
// catches, on a goroutine of its own while the caller goes on, first the
// signals whose default would end berth (HUP, INT, QUIT, ABRT, TERM;
// FatalCaught waits for these, and Create for FatalCaught before the init
// exists), then those that would stop it (TSTP, TTIN, TTOU), those
// programs are commonly sent (USR1, USR2, ALRM) and WINCH for a terminal
// (Caught waits for all, and Forward for Caught); Forward catches the
// others restDelay after the process started, if it still runs. Until
// then Go's runtime receives those and does nothing with them (os/signal:
// "other signals will be caught but no action will be taken"): a
// real-time signal, say, sent in the process's first 20 ms is not passed
// on, nor is a USR1 sent before the init exists.
type Signals struct {
	c      chan os.Signal
	done   chan struct{}
	fatal  chan struct{} // closed once fatalSignals are caught
	caught chan struct{} // closed once all earlySignals are caught

	mu      sync.Mutex
	stopped bool
	rest    *time.Timer
}

// restDelay is how long after the start Forward catches the signals that
// are not among earlySignals.
const restDelay = 20 * time.Millisecond

// earlySignals are caught from NotifySignals on, fatalSignals (those that
// would end berth) first.
var (
	fatalSignals = []os.Signal{unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGABRT, unix.SIGTERM}
	earlySignals = append(fatalSignals[:len(fatalSignals):len(fatalSignals)],
		unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU, unix.SIGUSR1, unix.SIGUSR2, unix.SIGALRM, unix.SIGWINCH)
)

// earlySigs are the signals the fast path's `run` started to catch before
// Run (fast.go), or nil.
var earlySigs *Signals

// NotifySignals starts catching the early signals.
func NotifySignals() *Signals {
	s := &Signals{c: make(chan os.Signal, 64), done: make(chan struct{}),
		fatal: make(chan struct{}), caught: make(chan struct{})}
	go func() {
		signal.Notify(s.c, fatalSignals...)
		close(s.fatal)
		signal.Notify(s.c, earlySignals[len(fatalSignals):]...)
		close(s.caught)
	}()
	return s
}

// FatalCaught returns once the signals that would end berth are caught.
func (s *Signals) FatalCaught() { <-s.fatal }

// Caught returns once the early signals are caught.
func (s *Signals) Caught() { <-s.caught }

// Forward relays what arrives to send, following window size changes for
// console and ignoring the signals that are ours (SIGCHLD, the Go
// runtime's SIGURG, SIGPIPE), and catches every other signal restDelay
// later unless Stop was called by then.
func (s *Signals) Forward(console *ConsoleRelay, send func(unix.Signal)) {
	s.Caught()
	s.mu.Lock()
	if !s.stopped {
		s.rest = time.AfterFunc(restDelay, s.catchRest)
	}
	s.mu.Unlock()
	go func() {
		for {
			select {
			case <-s.done:
				return
			case sg := <-s.c:
				sig := sg.(unix.Signal)
				switch sig {
				case unix.SIGCHLD, unix.SIGURG, unix.SIGPIPE:
				case unix.SIGWINCH:
					if console != nil {
						console.Resize()
					}
				default:
					send(sig)
				}
			}
		}
	}()
}

// Stop ends the relay: nothing is forwarded any more. It may be called
// more than once. The signals stay caught, and what arrives is dropped,
// until the process exits, which its callers (run, exec) do right after:
// giving each back to Go's default (signal.Stop) is a round trip to the Go
// runtime's signal thread, about half a millisecond for the early ones,
// on the way out of every `run`.
func (s *Signals) Stop() {
	if s == nil {
		return
	}
	s.Caught()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	s.stopped = true
	if s.rest != nil {
		s.rest.Stop()
	}
	close(s.done)
}

// catchRest catches the signals not among earlySignals, one at a time,
// until Stop.
func (s *Signals) catchRest() {
	for n := 1; n <= 64; n++ {
		switch sig := unix.Signal(n); sig {
		case unix.SIGKILL, unix.SIGSTOP, unix.SIGCHLD, unix.SIGURG, unix.SIGPIPE, unix.SIGPROF:
		default:
			s.mu.Lock()
			if s.stopped {
				s.mu.Unlock()
				return
			}
			signal.Notify(s.c, sig)
			s.mu.Unlock()
		}
	}
}
