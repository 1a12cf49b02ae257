package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync/atomic"
	"time"
)

// Filesystem is a Driver over a directory of the local filesystem.
type Filesystem struct {
	root string
}

var tmpCounter atomic.Uint64

// NewFilesystem returns a driver rooted at dir, creating dir if needed.
func NewFilesystem(dir string) (*Filesystem, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create storage root %s: %w", dir, err)
	}
	return &Filesystem{root: dir}, nil
}

func (d *Filesystem) full(path string) (string, error) {
	if err := CheckPath(path); err != nil {
		return "", err
	}
	return filepath.Join(d.root, filepath.FromSlash(path)), nil
}

func notFound(path string, err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s: %w", path, ErrNotFound)
	}
	return err
}

// GetContent implements Driver.
func (d *Filesystem) GetContent(_ context.Context, path string) ([]byte, error) {
	p, err := d.full(path)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, notFound(path, err)
	}
	return b, nil
}

// PutContent implements Driver: it writes a temporary file beside path and
// renames it over path, so a crash leaves either the old or the new content.
func (d *Filesystem) PutContent(_ context.Context, path string, content []byte) error {
	p, err := d.full(path)
	if err != nil {
		return err
	}
	tmp := p + ".tmp-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatUint(tmpCounter.Add(1), 10)
	err = inDir(p, func() error { return os.WriteFile(tmp, content, 0o644) })
	if err == nil {
		err = inDir(p, func() error { return os.Rename(tmp, p) })
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("put %s: %w", path, err)
	}
	return nil
}

// Reader implements Driver; the reader is an *os.File.
func (d *Filesystem) Reader(_ context.Context, path string, offset int64) (io.ReadCloser, error) {
	p, err := d.full(path)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, notFound(path, err)
	}
	if offset > 0 {
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			f.Close()
			return nil, fmt.Errorf("seek %s to %d: %w", path, offset, err)
		}
	}
	return f, nil
}

type fsWriter struct {
	f    *os.File
	size int64
	done bool
}

func (w *fsWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.size += int64(n)
	return n, err
}

func (w *fsWriter) ReadFrom(r io.Reader) (int64, error) {
	n, err := w.f.ReadFrom(r)
	w.size += n
	return n, err
}

func (w *fsWriter) Size() int64 { return w.size }

func (w *fsWriter) Close() error {
	if w.done {
		return nil
	}
	w.done = true
	return w.f.Close()
}

func (w *fsWriter) Cancel() error {
	w.Close()
	if err := os.Remove(w.f.Name()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Writer implements Driver.
func (d *Filesystem) Writer(_ context.Context, path string, appendMode bool) (FileWriter, error) {
	p, err := d.full(path)
	if err != nil {
		return nil, err
	}
	flags := os.O_WRONLY | os.O_CREATE
	if appendMode {
		flags |= os.O_APPEND
	} else {
		flags |= os.O_TRUNC
	}
	var f *os.File
	err = inDir(p, func() (err error) {
		f, err = os.OpenFile(p, flags, 0o644)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("writer %s: %w", path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("writer %s: %w", path, err)
	}
	return &fsWriter{f: f, size: fi.Size()}, nil
}

// Stat implements Driver.
func (d *Filesystem) Stat(_ context.Context, path string) (FileInfo, error) {
	p, err := d.full(path)
	if err != nil {
		return FileInfo{}, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return FileInfo{}, notFound(path, err)
	}
	return FileInfo{Path: path, Size: fi.Size(), ModTime: fi.ModTime(), IsDir: fi.IsDir()}, nil
}

// List implements Driver. Temporary files of PutContent are not listed.
func (d *Filesystem) List(_ context.Context, path string) ([]string, error) {
	p, err := d.full(path)
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(p)
	if err != nil {
		return nil, notFound(path, err)
	}
	out := make([]string, 0, len(ents))
	for _, e := range ents {
		if isTemp(e.Name()) {
			continue
		}
		out = append(out, path+"/"+e.Name())
	}
	sort.Strings(out)
	return out, nil
}

func isTemp(name string) bool {
	for i := 0; i+5 <= len(name); i++ {
		if name[i:i+5] == ".tmp-" {
			return true
		}
	}
	return false
}

// Move implements Driver with rename(2).
func (d *Filesystem) Move(_ context.Context, src, dst string) error {
	ps, err := d.full(src)
	if err != nil {
		return err
	}
	pd, err := d.full(dst)
	if err != nil {
		return err
	}
	if _, err := os.Lstat(ps); err != nil {
		return fmt.Errorf("move %s to %s: %w", src, dst, notFound(src, err))
	}
	if err := inDir(pd, func() error { return os.Rename(ps, pd) }); err != nil {
		return fmt.Errorf("move %s to %s: %w", src, dst, err)
	}
	return nil
}

// Delete implements Driver. Empty parent directories are removed as well,
// up to the root.
func (d *Filesystem) Delete(_ context.Context, path string) error {
	p, err := d.full(path)
	if err != nil {
		return err
	}
	if _, err := os.Lstat(p); err != nil {
		return notFound(path, err)
	}
	if err := os.RemoveAll(p); err != nil {
		return fmt.Errorf("delete %s: %w", path, err)
	}
	for dir := filepath.Dir(p); dir != d.root && len(dir) > len(d.root); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil {
			break
		}
	}
	return nil
}

// Touch implements Driver.
func (d *Filesystem) Touch(_ context.Context, path string) error {
	p, err := d.full(path)
	if err != nil {
		return err
	}
	now := time.Now()
	if err := os.Chtimes(p, now, now); err != nil {
		return notFound(path, err)
	}
	return nil
}

// inDir runs op, which creates p, after creating p's parent directory; it
// retries when a concurrent Delete removed the (then empty) parent meanwhile.
func inDir(p string, op func() error) error {
	var err error
	for range 20 {
		if err = os.MkdirAll(filepath.Dir(p), 0o755); errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrExist) {
			continue
		} else if err != nil {
			return err
		}
		if err = op(); !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return err
}
