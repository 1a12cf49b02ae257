package runtime

import (
	"errors"
	"os"

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
