package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// ErrNotFound is returned (wrapped) when a path does not exist.
var ErrNotFound = errors.New("not found")

// FileInfo describes one path.
type FileInfo struct {
	Path    string
	Size    int64
	ModTime time.Time
	IsDir   bool
}

// Driver stores files under slash-separated paths.
//
// Lifecycle of a write: content written with PutContent becomes visible at
// once and as a whole (a reader sees the old or the new content, never a
// mix). A FileWriter appends to its path as it goes (that is where resumable
// uploads live); a finished file is published elsewhere with Move, which is
// atomic and replaces the destination.
type Driver interface {
	// GetContent returns the whole content of path.
	GetContent(ctx context.Context, path string) ([]byte, error)
	// PutContent replaces path with content atomically.
	PutContent(ctx context.Context, path string, content []byte) error
	// Reader opens path for reading from offset. If the returned reader is
	// an io.ReadSeeker, callers may seek it.
	Reader(ctx context.Context, path string, offset int64) (io.ReadCloser, error)
	// Writer opens path for writing; with appendMode it continues after the
	// existing content, otherwise it truncates.
	Writer(ctx context.Context, path string, appendMode bool) (FileWriter, error)
	// Stat describes path, a file or a directory.
	Stat(ctx context.Context, path string) (FileInfo, error)
	// List returns the full paths of the direct children of directory path,
	// sorted.
	List(ctx context.Context, path string) ([]string, error)
	// Move renames src to dst atomically, replacing dst.
	Move(ctx context.Context, src, dst string) error
	// Delete removes path and, for a directory, everything below it.
	Delete(ctx context.Context, path string) error
	// Touch sets the modification time of path to now.
	Touch(ctx context.Context, path string) error
}

// FileWriter writes one file. Close keeps what was written (a later Writer
// with appendMode continues it); Cancel removes the file.
type FileWriter interface {
	io.WriteCloser
	// Size is the file's size so far, including what existed before an
	// append.
	Size() int64
	// Cancel closes the writer and removes the file.
	Cancel() error
}

// CheckPath rejects paths that are empty, absolute, or hold "." or ".."
// elements or empty elements.
func CheckPath(path string) error {
	if path == "" {
		return fmt.Errorf("storage path is empty")
	}
	for _, el := range strings.Split(path, "/") {
		if el == "" || el == "." || el == ".." {
			return fmt.Errorf("storage path %q is invalid", path)
		}
	}
	return nil
}
