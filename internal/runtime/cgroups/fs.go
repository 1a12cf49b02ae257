package cgroups

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// traceWrite, when set by a test, sees every write in order.
var traceWrite func(dir, file, value string)

// writeFile writes value to the existing cgroup file dir/file in one write(2),
// as the kernel expects. It never creates the file: a missing file means the
// kernel (or the mounted controllers) lack it.
func writeFile(dir, file, value string) error {
	w := fileWriter{dir: dir}
	defer w.close()
	return w.write(file, value)
}

// fileWriter writes values to the existing cgroup files of dir, each value
// in one write(2), each file opened once (writeFile opens it for one
// value): for a controller file that takes one entry per write
// (devices.allow, devices.deny).
type fileWriter struct {
	dir string
	fds map[string]int
}

func (w *fileWriter) write(file, value string) error {
	if traceWrite != nil {
		traceWrite(w.dir, file, value)
	}
	fd, ok := w.fds[file]
	if !ok {
		var err error
		if fd, err = unix.Open(path.Join(w.dir, file), unix.O_WRONLY|unix.O_TRUNC|unix.O_CLOEXEC, 0); err != nil {
			return fmt.Errorf("set %s=%s: %w", file, value, err)
		}
		if w.fds == nil {
			w.fds = map[string]int{}
		}
		w.fds[file] = fd
	}
	for {
		_, err := unix.Write(fd, []byte(value))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("set %s=%s: %w", file, value, err)
		}
		return nil
	}
}

// close closes the files w opened.
func (w *fileWriter) close() {
	for _, fd := range w.fds {
		unix.Close(fd)
	}
}

// fileExists reports whether dir/file exists.
func fileExists(dir, file string) bool {
	_, err := os.Stat(path.Join(dir, file))
	return err == nil
}

// readString returns the trimmed content of dir/file.
func readString(dir, file string) (string, error) {
	data, err := os.ReadFile(path.Join(dir, file))
	if err != nil {
		return "", fmt.Errorf("read %s: %w", file, err)
	}
	return strings.TrimSpace(string(data)), nil
}

// parseUint parses a cgroup number; "max" and v1's -1 mean unlimited and read
// as math.MaxUint64.
func parseUint(s string) (uint64, error) {
	if s == "max" || s == "-1" {
		return math.MaxUint64, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		// Negative counters (rare kernel races) read as 0.
		if i, ierr := strconv.ParseInt(s, 10, 64); ierr == nil && i < 0 {
			return 0, nil
		}
		return 0, err
	}
	return v, nil
}

// readUint reads a single-number file.
func readUint(dir, file string) (uint64, error) {
	s, err := readString(dir, file)
	if err != nil {
		return 0, err
	}
	v, err := parseUint(s)
	if err != nil {
		return 0, fmt.Errorf("parse %s: %w", file, err)
	}
	return v, nil
}

// readOptionalUint reads a single-number file, returning 0 if it is absent.
func readOptionalUint(dir, file string) (uint64, error) {
	v, err := readUint(dir, file)
	if err != nil && errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	return v, err
}

// readKeyValues parses "key value" lines (memory.stat, cpu.stat,
// memory.events, freezer-less oom_control). Lines that do not parse are
// skipped.
func readKeyValues(dir, file string) (map[string]uint64, error) {
	s, err := readString(dir, file)
	if err != nil {
		return nil, err
	}
	m := map[string]uint64{}
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		if v, err := parseUint(f[1]); err == nil {
			m[f[0]] = v
		}
	}
	return m, nil
}

// rmdirAll removes dir and any child cgroups under it, deepest first, with
// rmdir(2) only (cgroup files cannot be unlinked). EBUSY is retried for about
// a second, since the kernel releases an emptied cgroup asynchronously.
func rmdirAll(dir string) error {
	// A cgroup without child cgroups (the usual case) goes at once; its
	// interface files do not keep rmdir from succeeding.
	if err := unix.Rmdir(dir); err == nil || err == unix.ENOENT {
		return nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("remove cgroup %s: %w", dir, err)
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := rmdirAll(path.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	delay := 5 * time.Millisecond
	for attempt := 0; ; attempt++ {
		err := unix.Rmdir(dir)
		switch {
		case err == nil, err == unix.ENOENT:
			return nil
		case err == unix.EBUSY && attempt < 8 && !hasProcs(dir):
			// Emptied moments ago: the kernel frees the cgroup asynchronously.
			time.Sleep(delay)
			delay *= 2
			continue
		}
		return fmt.Errorf("remove cgroup %s: %w", dir, err)
	}
}

// hasProcs reports whether the cgroup at dir still has processes (then an
// EBUSY from rmdir is final).
func hasProcs(dir string) bool {
	pids, err := procsOf(dir)
	return err == nil && len(pids) > 0
}

// mkdirCgroup creates dir and its missing parents.
func mkdirCgroup(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create cgroup: %w", err)
	}
	return nil
}

// writeProcs moves pid into the cgroup at dir.
func writeProcs(dir string, pid int) error {
	if err := writeFile(dir, "cgroup.procs", strconv.Itoa(pid)); err != nil {
		return fmt.Errorf("add pid %d to cgroup %s: %w", pid, dir, err)
	}
	return nil
}

// waitFor polls cond every few milliseconds until it returns true or timeout
// passes; it returns the last error of cond, or an error after the timeout.
func waitFor(timeout time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	delay := time.Millisecond
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v", timeout)
		}
		time.Sleep(delay)
		if delay < 50*time.Millisecond {
			delay *= 2
		}
	}
}
