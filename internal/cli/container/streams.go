package container

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"

	"github.com/moby/moby/api/pkg/stdcopy"
	mobyclient "github.com/moby/moby/client"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/berth/berth/internal/client"
)

// DefaultDetachKeys is docker's detach sequence, ctrl-p ctrl-q.
const DefaultDetachKeys = "ctrl-p,ctrl-q"

// errDetached ends a session the user left with the detach keys.
var errDetached = errors.New("read escape sequence")

// ParseDetachKeys turns "ctrl-p,ctrl-q" or "a,ctrl-@" into the bytes the
// terminal sends.
func ParseDetachKeys(s string) ([]byte, error) {
	var out []byte
	for _, k := range strings.Split(s, ",") {
		if strings.HasPrefix(k, "ctrl-") && len(k) == 6 {
			c := k[5]
			switch {
			case c >= 'a' && c <= 'z':
				out = append(out, c-'a'+1)
			case c == '@':
				out = append(out, 0)
			case c >= '[' && c <= '_':
				out = append(out, c-'['+27)
			default:
				return nil, fmt.Errorf("invalid detach keys (%s) provided", s)
			}
			continue
		}
		if len(k) != 1 {
			return nil, fmt.Errorf("invalid detach keys (%s) provided", s)
		}
		out = append(out, k[0])
	}
	return out, nil
}

// escapeReader passes input through until the detach sequence, which it
// swallows and reports as errDetached. A partial match is forwarded once
// the next byte breaks it.
type escapeReader struct {
	r    io.Reader
	keys []byte
	held []byte
}

func (e *escapeReader) Read(p []byte) (int, error) {
	buf := make([]byte, len(p))
	n, err := e.r.Read(buf)
	out := p[:0]
	for _, b := range buf[:n] {
		if b == e.keys[len(e.held)] {
			e.held = append(e.held, b)
			if len(e.held) == len(e.keys) {
				return len(out), errDetached
			}
			continue
		}
		out = append(out, e.held...)
		e.held = e.held[:0]
		out = append(out, b)
	}
	return len(out), err
}

// streams is the terminal the command runs in.
type streams struct {
	in       io.Reader
	out, err io.Writer
}

func (s streams) inFd() (int, bool) {
	if f, ok := s.in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return int(f.Fd()), true
	}
	return 0, false
}

func (s streams) outFd() (int, bool) {
	if f, ok := s.out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return int(f.Fd()), true
	}
	return 0, false
}

// session pumps a hijacked attach or exec stream: output demultiplexed
// unless tty, stdin (when attached) copied up then half-closed, the local
// terminal raw while a tty session lasts. It returns when the output ends,
// or errDetached when the user typed the detach keys.
func session(ctx context.Context, hr mobyclient.HijackedResponse, s streams, stdin bool, tty bool, detachKeys []byte) error {
	defer hr.Close()
	if tty && stdin {
		if fd, ok := s.inFd(); ok {
			if st, err := term.MakeRaw(fd); err == nil {
				defer term.Restore(fd, st)
			}
		}
	}
	outDone := make(chan error, 1)
	go func() {
		var err error
		if tty {
			_, err = io.Copy(s.out, hr.Reader)
		} else {
			_, err = stdcopy.StdCopy(s.out, s.err, hr.Reader)
		}
		outDone <- err
	}()
	inDone := make(chan error, 1)
	if stdin && s.in != nil {
		go func() {
			in := s.in
			if tty && len(detachKeys) > 0 {
				in = &escapeReader{r: in, keys: detachKeys}
			}
			_, err := io.Copy(hr.Conn, in)
			if errors.Is(err, errDetached) {
				inDone <- err
				return
			}
			_ = hr.CloseWrite()
			inDone <- nil
		}()
	} else {
		_ = hr.CloseWrite()
	}
	for {
		select {
		case err := <-outDone:
			if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, unix.ECONNRESET) {
				return err
			}
			return nil
		case err := <-inDone:
			if err != nil {
				return err
			}
			inDone = nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// resizeLoop sends the terminal size now and on every SIGWINCH until ctx
// ends. resize is ContainerResize or ExecResize.
func resizeLoop(ctx context.Context, s streams, resize func(h, w uint) error) {
	fd, ok := s.outFd()
	if !ok {
		return
	}
	send := func() {
		w, h, err := term.GetSize(fd)
		if err == nil && h > 0 && w > 0 {
			_ = resize(uint(h), uint(w))
		}
	}
	send()
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, unix.SIGWINCH)
	go func() {
		defer signal.Stop(ch)
		for {
			select {
			case <-ch:
				send()
			case <-ctx.Done():
				return
			}
		}
	}()
}

// proxySignals forwards the signals the CLI receives to the container (docker's
// --sig-proxy) until ctx ends.
func proxySignals(ctx context.Context, c *client.Client, id string) {
	ch := make(chan os.Signal, 16)
	signal.Notify(ch, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2)
	var once sync.Once
	go func() {
		defer once.Do(func() { signal.Stop(ch) })
		for {
			select {
			case sig := <-ch:
				name := unix.SignalName(sig.(unix.Signal))
				_, _ = c.ContainerKill(context.Background(), id, mobyclient.ContainerKillOptions{Signal: name})
			case <-ctx.Done():
				return
			}
		}
	}()
}

func termSize(fd int) (w, h uint, err error) {
	wi, hi, err := term.GetSize(fd)
	return uint(wi), uint(hi), err
}
