package shim

import (
	"os"
	"os/signal"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// reaper waits for every child of the shim, its own and the orphans it
// inherits as a subreaper, and hands the exit codes of watched pids to
// their callbacks.
//
// Code that starts a child and waits for it itself (runtime.Create, hooks,
// the runc command line) holds the reaper's lock meanwhile, so the reaper's
// wait4(-1) never takes a status meant for someone else. A pid to watch is
// registered under the same lock, before the child can be reaped.
type reaper struct {
	mu sync.Mutex // held by code that waits for its own children

	wmu   sync.Mutex
	watch map[int]func(code int)
	early map[int]int // exits of pids not yet watched (bounded)
}

const maxEarlyExits = 64

func newReaper() *reaper {
	r := &reaper{watch: map[int]func(int){}, early: map[int]int{}}
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, unix.SIGCHLD)
	go func() {
		for range ch {
			r.mu.Lock()
			r.reap()
			r.mu.Unlock()
		}
	}()
	return r
}

// lock is taken around code that waits for its own children; unlock runs a
// reap, for the SIGCHLDs that came meanwhile.
func (r *reaper) lock() { r.mu.Lock() }

// tryLock is lock if the reaper is free within d; it reports whether it
// took it.
func (r *reaper) tryLock(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if r.mu.TryLock() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (r *reaper) unlock() {
	r.reap()
	r.mu.Unlock()
}

// reap collects every exited child. The caller holds r.mu.
func (r *reaper) reap() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil || pid <= 0 {
			return
		}
		code := ws.ExitStatus()
		if ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
		r.wmu.Lock()
		fn := r.watch[pid]
		delete(r.watch, pid)
		if fn == nil {
			if len(r.early) >= maxEarlyExits {
				for k := range r.early {
					delete(r.early, k)
					break
				}
			}
			r.early[pid] = code
		}
		r.wmu.Unlock()
		if fn != nil {
			go fn(code)
		}
	}
}

// watchPid calls fn with pid's exit code once it exits. The caller holds
// the lock (it just started pid, or learned it under the lock).
func (r *reaper) watchPid(pid int, fn func(code int)) {
	r.wmu.Lock()
	code, ok := r.early[pid]
	if ok {
		delete(r.early, pid)
	} else {
		r.watch[pid] = fn
	}
	r.wmu.Unlock()
	if ok {
		go fn(code)
	}
}

// watching reports whether pid is watched and not yet reaped. The caller
// holds the lock.
func (r *reaper) watching(pid int) bool {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	_, ok := r.watch[pid]
	return ok
}
