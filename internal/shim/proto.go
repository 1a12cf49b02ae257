package shim

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Operations of the shim's API (request.Op).
const (
	opState      = "state"
	opStart      = "start"
	opKill       = "kill"
	opWait       = "wait"
	opAttach     = "attach"
	opExec       = "exec"
	opResize     = "resize"
	opCloseStdin = "closeStdin"
	opDelete     = "delete"
)

// ErrNotRunning is the shim's error, word for word, when a request needs
// a process that has ended (a resize after the exit, say). IsNotRunning
// tells it.
const ErrNotRunning = "the process is not running"

// IsNotRunning reports whether err is the shim's ErrNotRunning.
func IsNotRunning(err error) bool {
	return err != nil && err.Error() == ErrNotRunning
}

// request is the JSON line a client sends first on a connection.
type request struct {
	Op     string      `json:"op"`
	Exec   string      `json:"exec,omitempty"` // exec id; empty: the container
	Signal int         `json:"signal,omitempty"`
	All    bool        `json:"all,omitempty"`
	Width  uint16      `json:"width,omitempty"`
	Height uint16      `json:"height,omitempty"`
	Force  bool        `json:"force,omitempty"`
	Stdin  bool        `json:"stdin,omitempty"`
	Stdout bool        `json:"stdout,omitempty"`
	Stderr bool        `json:"stderr,omitempty"`
	Config *ExecConfig `json:"config,omitempty"`
}

// response is the JSON line the shim answers with; for attach and exec,
// frames follow it.
type response struct {
	Error string `json:"error,omitempty"`
	State *State `json:"state,omitempty"`
	Exit  *Exit  `json:"exit,omitempty"`
	Pid   int    `json:"pid,omitempty"`
}

// Streams of a frame (byte 0 of its header). 0, 1 and 2 are docker's.
const (
	StreamStdin  = 0 // client to shim; an empty payload ends stdin
	StreamStdout = 1 // shim to client (the pty's output with a terminal)
	StreamStderr = 2
	StreamExit   = 3 // shim to client, last frame: the Exit as JSON
)

// frameHeaderLen is docker's 8-byte header: stream, three zero bytes, the
// payload length as a big-endian uint32.
const frameHeaderLen = 8

// maxFrame bounds a payload the shim accepts, so a broken client cannot
// make it allocate.
const maxFrame = 1 << 20

func putFrameHeader(h []byte, stream byte, n int) {
	h[0] = stream
	h[1], h[2], h[3] = 0, 0, 0
	binary.BigEndian.PutUint32(h[4:], uint32(n))
}

// writeFrame writes one frame.
func writeFrame(w io.Writer, stream byte, p []byte) error {
	buf := make([]byte, frameHeaderLen+len(p))
	putFrameHeader(buf, stream, len(p))
	copy(buf[frameHeaderLen:], p)
	_, err := w.Write(buf)
	return err
}

// readFrame reads one frame's header and returns its stream and length;
// the payload is then read by the caller.
func readFrameHeader(r io.Reader) (stream byte, n int, err error) {
	var h [frameHeaderLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, 0, err
	}
	n = int(binary.BigEndian.Uint32(h[4:]))
	if n > maxFrame {
		return 0, 0, fmt.Errorf("frame of %d bytes is larger than %d", n, maxFrame)
	}
	return h[0], n, nil
}

// readLine reads one JSON line (the request or the response) and decodes
// it into v.
func readLine(r *bufio.Reader, v any) error {
	var line []byte
	for {
		part, err := r.ReadSlice('\n')
		if err == nil && line == nil {
			line = part
			break
		}
		line = append(line, part...)
		if err == nil {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return err
		}
		if len(line) > maxFrame {
			return errors.New("message line too long")
		}
	}
	return json.Unmarshal(line, v)
}

func writeLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
