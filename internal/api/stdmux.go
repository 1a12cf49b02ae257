package api

import (
	"encoding/binary"
	"io"
	"sync"
)

// StdStream names a stream in the multiplexed framing.
type StdStream byte

// The stream bytes of the frame header.
const (
	Stdin  StdStream = 0
	Stdout StdStream = 1
	Stderr StdStream = 2
)

// stdHeaderLen is the frame header: stream byte, three zero bytes, the
// payload length as a big-endian uint32.
const stdHeaderLen = 8

// MuxWriter writes stdout and stderr onto one stream with the Engine API's
// 8-byte frame headers (used without a TTY by logs, attach and exec). Each
// Write becomes one frame; frames from concurrent writers never interleave.
type MuxWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// NewMuxWriter frames onto w.
func NewMuxWriter(w io.Writer) *MuxWriter { return &MuxWriter{w: w} }

// Stream returns a writer whose writes are framed as stream s.
func (m *MuxWriter) Stream(s StdStream) io.Writer { return &muxStream{m: m, s: s} }

type muxStream struct {
	m *MuxWriter
	s StdStream
}

// Write sends p as one frame and returns len(p) once header and payload
// are written; an empty p sends nothing.
func (ms *muxStream) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	frame := make([]byte, stdHeaderLen+len(p))
	frame[0] = byte(ms.s)
	binary.BigEndian.PutUint32(frame[4:stdHeaderLen], uint32(len(p)))
	copy(frame[stdHeaderLen:], p)
	ms.m.mu.Lock()
	defer ms.m.mu.Unlock()
	n, err := ms.m.w.Write(frame)
	if err != nil {
		return max(0, n-stdHeaderLen), err
	}
	return len(p), nil
}
