package archive

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
)

// xzMemLimit bounds the memory the xz decoder may use: a stream whose
// header asks for a larger dictionary is refused rather than decoded (xz's
// own presets need at most 65 MiB).
const xzMemLimit = "256MiB"

// xzReader decodes an xz stream with the xz program (xz-utils, as dockerd
// does), under xzMemLimit. Close stops it.
func xzReader(r io.Reader) (io.ReadCloser, error) {
	cmd := exec.Command("xz", "--decompress", "--stdout", "--quiet", "--threads=1", "--memlimit-decompress="+xzMemLimit)
	cmd.Stdin = r
	stderr := &limitedBuffer{max: 4 << 10}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start xz: %w", err)
	}
	return &xzStream{cmd: cmd, out: out, stderr: stderr}, nil
}

type xzStream struct {
	cmd    *exec.Cmd
	out    io.ReadCloser
	stderr *limitedBuffer
	once   sync.Once
	err    error
}

func (x *xzStream) Read(p []byte) (int, error) {
	n, err := x.out.Read(p)
	if errors.Is(err, io.EOF) {
		// The end of the output: the stream was whole only if xz says so.
		if werr := x.wait(); werr != nil {
			return n, werr
		}
	}
	return n, err
}

func (x *xzStream) wait() error {
	x.once.Do(func() {
		if err := x.cmd.Wait(); err != nil {
			msg := strings.TrimSpace(x.stderr.String())
			msg = strings.TrimPrefix(msg, "xz: (stdin): ")
			if msg == "" {
				msg = err.Error()
			}
			x.err = fmt.Errorf("xz: %s", msg)
		}
	})
	return x.err
}

// Close stops xz if it still runs and releases it.
func (x *xzStream) Close() error {
	_ = x.cmd.Process.Kill() // ErrProcessDone once it was waited for
	_ = x.wait()
	return nil
}

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room > 0 {
		if len(p) > room {
			b.buf.Write(p[:room])
		} else {
			b.buf.Write(p)
		}
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
