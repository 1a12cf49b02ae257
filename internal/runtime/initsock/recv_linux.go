package initsock

import (
	"errors"
	"io"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// RecvFile receives one file descriptor sent with SCM_RIGHTS on sock: the
// pty master that a container's init (this runtime's, runc's or crun's)
// sends to its console socket. Any further descriptors of the message are
// closed; the file is named by the message's bytes ("/dev/ptmx").
func RecvFile(sock *os.File) (*os.File, error) {
	buf := make([]byte, 256)
	oob := make([]byte, unix.CmsgSpace(4*4))
	n, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return nil, err
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return nil, err
	}
	for _, m := range msgs {
		fds, err := unix.ParseUnixRights(&m)
		if err != nil || len(fds) == 0 {
			continue
		}
		for _, extra := range fds[1:] {
			unix.Close(extra)
		}
		return os.NewFile(uintptr(fds[0]), string(buf[:n])), nil
	}
	return nil, errors.New("no file descriptor received")
}

// SockName is the init's exec socket in the container's state directory;
// it exists while the container is created and not yet started.
const SockName = "exec.sock"

// Start connects to the exec socket of the created container whose state
// directory is dir, which lets its init exec the process, and reads the
// init's answer before the connection closes on the exec: one byte when it
// exec'd the process; that byte and why when it failed; nothing when it
// had exited.
func Start(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	// Non-blocking, so that Go's poller waits for the answer rather than a
	// thread of its own (one thread more for good in a small process).
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return err
	}
	// Through the directory's fd: a long --root must not hit sun_path's limit.
	addr := &unix.SockaddrUnix{Name: "/proc/self/fd/" + strconv.Itoa(int(d.Fd())) + "/" + SockName}
	for {
		err = unix.Connect(fd, addr)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.ECONNREFUSED) {
			return errExitedBeforeStart
		}
		return err
	}
	f := os.NewFile(uintptr(fd), "exec-sock")
	defer f.Close()
	b, err := io.ReadAll(f)
	switch {
	case err != nil:
		return err
	case len(b) == 0:
		return errExitedBeforeStart
	case len(b) > 1:
		// The init failed after start: it wrote why instead of exec'ing.
		return errors.New(string(b[1:]))
	}
	return nil
}

var errExitedBeforeStart = errors.New("container init exited before start")
