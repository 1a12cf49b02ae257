package shim

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/berth/berth/internal/runtime/jsonenc"
)

// jsonLog writes docker's json-file log: one JSON object per line,
//
//	{"log":"hello\n","stream":"stdout","time":"2026-11-26T19:27:09.675961933Z"}
//
// rotated like dockerd's json-file driver: when a line would take the file
// above maxSize bytes, the file becomes <path>.1 (older ones shift to .2
// ... .maxFiles-1, the oldest is dropped) and a new file starts; with
// maxFiles 1 the file is truncated instead. With compress, each rotated
// file is gzipped (<path>.1.gz, ...), in the background.
type jsonLog struct {
	mu       sync.Mutex
	path     string
	f        *os.File
	size     int64
	maxSize  int64
	maxFiles int
	compress bool
	zipping  sync.WaitGroup // the gzip of the last rotated file
	buf      []byte
	err      error  // the first write error, reported once
	attrs    []byte // `,"attrs":{...}` or empty
}

func openJSONLog(path string, maxSize int64, maxFiles int, compress bool) (*jsonLog, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open log: %w", err)
	}
	if maxFiles < 1 {
		maxFiles = 1
	}
	return &jsonLog{path: path, f: f, size: st.Size(), maxSize: maxSize, maxFiles: maxFiles, compress: compress && maxFiles > 1}, nil
}

// write logs one message (a line with its newline, or a partial line
// without) read at t from stream ("stdout" or "stderr").
func (l *jsonLog) write(stream string, msg []byte, t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return
	}
	b := append(l.buf[:0], `{"log":`...)
	b = jsonenc.AppendString(b, msg)
	b = append(b, `,"stream":"`...)
	b = append(b, stream...)
	b = append(b, '"')
	b = append(b, l.attrs...)
	b = append(b, `,"time":"`...)
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, "\"}\n"...)
	if cap(b) <= 64<<10 {
		l.buf = b
	}
	if l.maxSize > 0 && l.size > 0 && l.size+int64(len(b)) > l.maxSize {
		if err := l.rotate(); err != nil {
			l.fail(err)
			return
		}
	}
	n, err := l.f.Write(b)
	l.size += int64(n)
	if err != nil {
		l.fail(err)
	}
}

func (l *jsonLog) fail(err error) {
	if l.err == nil {
		l.err = err
		fmt.Fprintf(os.Stderr, "shim: log %s: %v\n", l.path, err)
	}
}

func (l *jsonLog) rotate() error {
	if l.maxFiles == 1 {
		if err := l.f.Truncate(0); err != nil {
			return fmt.Errorf("rotate: %w", err)
		}
		l.size = 0
		return nil
	}
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("rotate: %w", err)
	}
	l.f = nil
	l.zipping.Wait() // .1 is whole before it moves on
	ext := ""
	if l.compress {
		ext = ".gz"
	}
	for i := l.maxFiles - 1; i > 1; i-- {
		from, to := l.path+"."+strconv.Itoa(i-1)+ext, l.path+"."+strconv.Itoa(i)+ext
		if err := os.Rename(from, to); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("rotate: %w", err)
		}
	}
	if err := os.Rename(l.path, l.path+".1"); err != nil {
		return fmt.Errorf("rotate: %w", err)
	}
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("rotate: %w", err)
	}
	l.f, l.size = f, 0
	if l.compress {
		l.zipping.Add(1)
		go func() {
			defer l.zipping.Done()
			if err := gzipFile(l.path + ".1"); err != nil {
				fmt.Fprintf(os.Stderr, "shim: log %s: compress: %v\n", l.path, err)
			}
		}()
	}
	return nil
}

// gzipFile replaces path with path.gz, its gzip: the plain file goes only
// once the compressed one is complete (a reader finds one or the other).
func gzipFile(path string) error {
	in, err := os.Open(path)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := path + ".gz.tmp"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	zw := gzip.NewWriter(out)
	_, err = io.Copy(zw, in)
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path+".gz")
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Remove(path)
}

func (l *jsonLog) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	l.zipping.Wait()
	return err
}

// setAttrs makes every entry carry attrs, as docker's json-file does
// ({"log":...,"stream":...,"attrs":{...},"time":...}).
func (l *jsonLog) setAttrs(attrs map[string]string) {
	if len(attrs) == 0 {
		return
	}
	b, err := json.Marshal(attrs) // keys sorted
	if err != nil {
		return
	}
	l.attrs = append([]byte(`,"attrs":`), b...)
}
