package integration

import (
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// consoleSocket is the receiving end of --console-socket: a unix socket on
// which the runtime connects and sends the pty master with SCM_RIGHTS.
type consoleSocket struct {
	path string
	l    *net.UnixListener
}

func newConsoleSocket(t *testing.T) *consoleSocket {
	t.Helper()
	path := filepath.Join(t.TempDir(), "console.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatalf("console socket: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return &consoleSocket{path: path, l: l}
}

// receive accepts one connection and returns the file descriptor it
// carries, as a non-blocking *os.File so reads can time out.
func (s *consoleSocket) receive(t *testing.T, timeout time.Duration) *os.File {
	t.Helper()
	s.l.SetDeadline(time.Now().Add(timeout))
	conn, err := s.l.AcceptUnix()
	if err != nil {
		t.Fatalf("console socket: accept: %v", err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(timeout))
	buf, oob := make([]byte, 4096), make([]byte, syscall.CmsgSpace(4*4))
	_, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		t.Fatalf("console socket: receive: %v", err)
	}
	msgs, err := syscall.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		t.Fatalf("console socket: control message: %v (%d messages)", err, len(msgs))
	}
	fds, err := syscall.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		t.Fatalf("console socket: SCM_RIGHTS: %v (%d fds)", err, len(fds))
	}
	if err := syscall.SetNonblock(fds[0], true); err != nil {
		t.Fatalf("console socket: %v", err)
	}
	f := os.NewFile(uintptr(fds[0]), "pty-master")
	t.Cleanup(func() { f.Close() })
	return f
}

// readUntilClosed reads the pty master until the other side is gone (EIO)
// or timeout passes.
func readUntilClosed(t *testing.T, f *os.File, timeout time.Duration) string {
	t.Helper()
	f.SetReadDeadline(time.Now().Add(timeout))
	var out []byte
	buf := make([]byte, 4096)
	for {
		n, err := f.Read(buf)
		out = append(out, buf[:n]...)
		if err == nil {
			continue
		}
		if errors.Is(err, syscall.EIO) || errors.Is(err, io.EOF) {
			return string(out)
		}
		t.Fatalf("read pty master: %v (read so far %q)", err, out)
	}
}
