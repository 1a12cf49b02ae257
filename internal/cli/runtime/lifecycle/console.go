package lifecycle

import (
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/runtime/initsock"
)

// ConsoleRelay is the console socket of a foreground `run` or `exec` with a
// terminal: it receives the pty master from the container and relays it to
// our stdio, with our terminal in raw mode and its size followed.
type ConsoleRelay struct {
	local *os.File
	// Remote is the container's end: CreateOpts.ConsoleConn or ExecOpts.ConsoleConn.
	Remote   *os.File
	master   *os.File
	oldState *unix.Termios
	wg       sync.WaitGroup
}

func NewConsoleRelay() (*ConsoleRelay, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("console socketpair: %w", err)
	}
	return &ConsoleRelay{local: os.NewFile(uintptr(fds[0]), "console"), Remote: os.NewFile(uintptr(fds[1]), "console-remote")}, nil
}

// Receive reads the pty master sent by the container.
func (r *ConsoleRelay) Receive() error {
	r.Remote.Close()
	f, err := initsock.RecvFile(r.local)
	if err != nil {
		return fmt.Errorf("receive pty master: %w", err)
	}
	r.master = f
	return nil
}

// Start relays the pty and our stdio, our terminal in raw mode.
func (r *ConsoleRelay) Start() {
	if st, err := makeRaw(int(os.Stdin.Fd())); err == nil {
		r.oldState = st
		r.Resize()
	}
	go func() { _, _ = io.Copy(r.master, os.Stdin) }()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		_, _ = io.Copy(os.Stdout, r.master)
	}()
}

// Resize gives the pty our terminal's size.
func (r *ConsoleRelay) Resize() {
	if r.master == nil {
		return
	}
	ws, err := unix.IoctlGetWinsize(int(os.Stdin.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return
	}
	_ = unix.IoctlSetWinsize(int(r.master.Fd()), unix.TIOCSWINSZ, ws)
}

// Drain waits for the output still buffered in the pty after the process
// exited (the read ends with EIO once the last slave is closed).
func (r *ConsoleRelay) Drain() {
	r.wg.Wait()
}

// Close restores our terminal and closes the relay's files.
func (r *ConsoleRelay) Close() {
	if r.oldState != nil {
		_ = unix.IoctlSetTermios(int(os.Stdin.Fd()), unix.TCSETS, r.oldState)
	}
	if r.master != nil {
		r.master.Close()
	}
	r.local.Close()
	r.Remote.Close()
}

// makeRaw puts the terminal fd in raw mode (cfmakeraw) and returns its
// previous state; it fails if fd is no terminal.
func makeRaw(fd int) (*unix.Termios, error) {
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, err
	}
	raw := *old
	raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	raw.Oflag &^= unix.OPOST
	raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	raw.Cflag &^= unix.CSIZE | unix.PARENB
	raw.Cflag |= unix.CS8
	raw.Cc[unix.VMIN] = 1
	raw.Cc[unix.VTIME] = 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &raw); err != nil {
		return nil, err
	}
	return old, nil
}
