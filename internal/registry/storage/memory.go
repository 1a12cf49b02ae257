package storage

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"
)

// Memory is a Driver that keeps everything in memory; for tests.
type Memory struct {
	mu    sync.Mutex
	files map[string]*memFile
}

type memFile struct {
	data    []byte
	modTime time.Time
}

// NewMemory returns an empty in-memory driver.
func NewMemory() *Memory {
	return &Memory{files: map[string]*memFile{}}
}

// GetContent implements Driver.
func (d *Memory) GetContent(_ context.Context, path string) ([]byte, error) {
	if err := CheckPath(path); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	f, ok := d.files[path]
	if !ok {
		return nil, fmt.Errorf("%s: %w", path, ErrNotFound)
	}
	return bytes.Clone(f.data), nil
}

// PutContent implements Driver.
func (d *Memory) PutContent(_ context.Context, path string, content []byte) error {
	if err := CheckPath(path); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.isDirLocked(path) {
		return fmt.Errorf("put %s: is a directory", path)
	}
	d.files[path] = &memFile{data: bytes.Clone(content), modTime: time.Now()}
	return nil
}

func (d *Memory) isDirLocked(path string) bool {
	prefix := path + "/"
	for k := range d.files {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

// Reader implements Driver; the reader is a snapshot of the content.
func (d *Memory) Reader(_ context.Context, path string, offset int64) (io.ReadCloser, error) {
	if err := CheckPath(path); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	f, ok := d.files[path]
	if !ok {
		return nil, fmt.Errorf("%s: %w", path, ErrNotFound)
	}
	if offset > int64(len(f.data)) {
		offset = int64(len(f.data))
	}
	return memReader{bytes.NewReader(f.data[offset:])}, nil
}

type memReader struct{ *bytes.Reader }

func (memReader) Close() error { return nil }

type memWriter struct {
	d      *Memory
	path   string
	closed bool
}

func (w *memWriter) Write(p []byte) (int, error) {
	if w.closed {
		return 0, fmt.Errorf("write %s: writer closed", w.path)
	}
	w.d.mu.Lock()
	defer w.d.mu.Unlock()
	f, ok := w.d.files[w.path]
	if !ok {
		f = &memFile{}
		w.d.files[w.path] = f
	}
	f.data = append(f.data, p...)
	f.modTime = time.Now()
	return len(p), nil
}

func (w *memWriter) Size() int64 {
	w.d.mu.Lock()
	defer w.d.mu.Unlock()
	if f, ok := w.d.files[w.path]; ok {
		return int64(len(f.data))
	}
	return 0
}

func (w *memWriter) Close() error { w.closed = true; return nil }

func (w *memWriter) Cancel() error {
	w.closed = true
	w.d.mu.Lock()
	defer w.d.mu.Unlock()
	delete(w.d.files, w.path)
	return nil
}

// Writer implements Driver.
func (d *Memory) Writer(_ context.Context, path string, appendMode bool) (FileWriter, error) {
	if err := CheckPath(path); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.isDirLocked(path) {
		return nil, fmt.Errorf("writer %s: is a directory", path)
	}
	f, ok := d.files[path]
	if !ok || !appendMode {
		f = &memFile{modTime: time.Now()}
		d.files[path] = f
	}
	return &memWriter{d: d, path: path}, nil
}

// Stat implements Driver.
func (d *Memory) Stat(_ context.Context, path string) (FileInfo, error) {
	if err := CheckPath(path); err != nil {
		return FileInfo{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if f, ok := d.files[path]; ok {
		return FileInfo{Path: path, Size: int64(len(f.data)), ModTime: f.modTime}, nil
	}
	var newest time.Time
	found := false
	prefix := path + "/"
	for k, f := range d.files {
		if strings.HasPrefix(k, prefix) {
			found = true
			if f.modTime.After(newest) {
				newest = f.modTime
			}
		}
	}
	if !found {
		return FileInfo{}, fmt.Errorf("%s: %w", path, ErrNotFound)
	}
	return FileInfo{Path: path, ModTime: newest, IsDir: true}, nil
}

// List implements Driver.
func (d *Memory) List(_ context.Context, path string) ([]string, error) {
	if err := CheckPath(path); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	prefix := path + "/"
	seen := map[string]bool{}
	for k := range d.files {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		child, _, _ := strings.Cut(rest, "/")
		seen[prefix+child] = true
	}
	if len(seen) == 0 {
		if _, ok := d.files[path]; ok {
			return nil, fmt.Errorf("list %s: not a directory", path)
		}
		return nil, fmt.Errorf("%s: %w", path, ErrNotFound)
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out, nil
}

// Move implements Driver.
func (d *Memory) Move(_ context.Context, src, dst string) error {
	if err := CheckPath(src); err != nil {
		return err
	}
	if err := CheckPath(dst); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if f, ok := d.files[src]; ok {
		delete(d.files, src)
		d.files[dst] = f
		return nil
	}
	prefix := src + "/"
	moved := false
	for k, f := range d.files {
		if rest, ok := strings.CutPrefix(k, prefix); ok {
			delete(d.files, k)
			d.files[dst+"/"+rest] = f
			moved = true
		}
	}
	if !moved {
		return fmt.Errorf("move %s to %s: %w", src, dst, ErrNotFound)
	}
	return nil
}

// Delete implements Driver.
func (d *Memory) Delete(_ context.Context, path string) error {
	if err := CheckPath(path); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	found := false
	if _, ok := d.files[path]; ok {
		delete(d.files, path)
		found = true
	}
	prefix := path + "/"
	for k := range d.files {
		if strings.HasPrefix(k, prefix) {
			delete(d.files, k)
			found = true
		}
	}
	if !found {
		return fmt.Errorf("%s: %w", path, ErrNotFound)
	}
	return nil
}

// Touch implements Driver.
func (d *Memory) Touch(_ context.Context, path string) error {
	if err := CheckPath(path); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	f, ok := d.files[path]
	if !ok {
		return fmt.Errorf("%s: %w", path, ErrNotFound)
	}
	f.modTime = time.Now()
	return nil
}
