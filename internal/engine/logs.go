package engine

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/containerd/errdefs"
)

// LogOptions are GET /containers/{id}/logs's.
type LogOptions struct {
	Stdout, Stderr bool
	Follow         bool
	Since, Until   time.Time // zero: unbounded
	Tail           int       // lines from the end; negative: all
}

// LogEntry is one line of the json-file log.
type LogEntry struct {
	Stream string    // "stdout" or "stderr"
	Time   time.Time // when the shim read it
	Line   []byte
	// Attrs are the labels and environment variables the labels and env
	// log-opts name (logs --details shows them).
	Attrs map[string]string
}

type jsonEntry struct {
	Log    string            `json:"log"`
	Stream string            `json:"stream"`
	Attrs  map[string]string `json:"attrs,omitempty"`
	Time   time.Time         `json:"time"`
}

// Logs calls emit for each line of the container's log that o selects;
// with Follow it goes on until the container's current run ends and the
// log is drained, or ctx ends.
func (e *Engine) Logs(ctx context.Context, ref string, o LogOptions, emit func(LogEntry) error) error {
	c, err := e.Get(ref)
	if err != nil {
		return err
	}
	c.mu.Lock()
	path := c.LogPath
	lc := c.HostConfig.LogConfig
	c.mu.Unlock()
	if lc.Type == "none" {
		return errdefs.ErrNotImplemented.WithMessage(`configured logging driver does not support reading`) // 501, as dockerd: Compose skips such services
	}
	maxFiles := 1
	if lc.Type == "local" {
		maxFiles = 5
	}
	if v := lc.Config["max-file"]; v != "" {
		maxFiles, _ = strconv.Atoi(v)
	}
	keep := func(en jsonEntry) bool {
		if en.Stream == "stdout" && !o.Stdout || en.Stream == "stderr" && !o.Stderr {
			return false
		}
		if !o.Since.IsZero() && en.Time.Before(o.Since) {
			return false
		}
		if !o.Until.IsZero() && en.Time.After(o.Until) {
			return false
		}
		return true
	}
	send := func(en jsonEntry) error {
		return emit(LogEntry{Stream: en.Stream, Time: en.Time, Line: []byte(en.Log), Attrs: en.Attrs})
	}
	// Rotated files first (oldest is .N-1), then the current one.
	var entries []jsonEntry
	for i := maxFiles - 1; i >= 1; i-- {
		// A rotated file is plain or gzipped (compress=true; the plain
		// one is there until its gzip is complete).
		rotated := fmt.Sprintf("%s.%d", path, i)
		err := readEntries(rotated, 0, func(en jsonEntry) { entries = append(entries, en) })
		if errors.Is(err, os.ErrNotExist) {
			_ = readGzipEntries(rotated+".gz", func(en jsonEntry) { entries = append(entries, en) })
		}
	}
	f, err := os.Open(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("logs %s: %w", c.ID, err)
	}
	var off int64
	if f != nil {
		defer f.Close()
		off, err = scan(f, 0, func(en jsonEntry) { entries = append(entries, en) })
		if err != nil {
			return fmt.Errorf("logs %s: %w", c.ID, err)
		}
	}
	// As dockerd: the last Tail lines of the log, then the time and
	// stream filters on those (a --tail 5 --until T whose last five lines
	// are all after T shows nothing).
	if o.Tail >= 0 && len(entries) > o.Tail {
		entries = entries[len(entries)-o.Tail:]
	}
	for _, en := range entries {
		if !keep(en) {
			continue
		}
		if err := send(en); err != nil {
			return err
		}
	}
	if !o.Follow || !o.Until.IsZero() && time.Now().After(o.Until) {
		return nil
	}
	// Follow: poll the file for growth until the container stops.
	var ino uint64
	if f != nil {
		ino = inode(f)
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	// The run followed: the one going on, or the next one if the
	// container is about to start. As dockerd's, following ends with that
	// run, also when the restart policy starts another.
	var run time.Time
	for {
		c.mu.Lock()
		if run.IsZero() && c.State.Running {
			run = c.State.StartedAt
		}
		var running bool
		if run.IsZero() {
			running = c.State.Restarting || c.client != nil || c.starting != nil
		} else {
			running = c.State.Running && c.State.StartedAt.Equal(run)
		}
		removed := c.removed
		ch := c.watch()
		c.mu.Unlock()
		if f == nil {
			f, _ = os.Open(path)
			if f != nil {
				defer f.Close()
				ino, off = inode(f), 0
			}
		}
		if f != nil {
			var serr error
			off, serr = scan(f, off, func(en jsonEntry) {
				if serr == nil && keep(en) {
					serr = send(en)
				}
			})
			if serr != nil {
				return serr
			}
			// Rotated: the path now names a new file.
			if st, err := os.Stat(path); err == nil && statIno(st) != ino {
				f.Close()
				f = nil
				continue
			}
		}
		if !running || removed {
			return nil
		}
		// A follow with until ends then, as dockerd's.
		if !o.Until.IsZero() && !time.Now().Before(o.Until) {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-ch:
		}
	}
}

// scan reads complete lines of f from off and returns the offset after
// the last complete line.
func scan(f *os.File, off int64, fn func(jsonEntry)) (int64, error) {
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return off, err
	}
	r := bufio.NewReaderSize(f, 64<<10)
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			off += int64(len(line))
			var en jsonEntry
			if json.Unmarshal(line, &en) == nil {
				fn(en)
			}
		}
		if err != nil {
			return off, nil
		}
	}
}

// readGzipEntries reads the entries of a gzipped rotated log file.
func readGzipEntries(path string, fn func(jsonEntry)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	r := bufio.NewReaderSize(zr, 64<<10)
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			var en jsonEntry
			if json.Unmarshal(line, &en) == nil {
				fn(en)
			}
		}
		if err != nil {
			return nil
		}
	}
}

func readEntries(path string, off int64, fn func(jsonEntry)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = scan(f, off, fn)
	return err
}
