package daemon

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/runtime"
)

// lockDataRoot takes the exclusive lock of dataRoot (a flock on
// <data-root>/berth.lock, released by the kernel when the daemon dies) and
// records the daemon's pid in it. A second daemon on the same root fails.
func lockDataRoot(dataRoot string) (*os.File, error) {
	path := filepath.Join(dataRoot, "berth.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock data root: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		b, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			holder := strings.TrimSpace(string(b))
			if holder == "" {
				holder = "unknown"
			}
			return nil, fmt.Errorf("data root %s is in use by another berth daemon (pid %s): only one daemon may serve a data root; stop it or choose another --data-root", dataRoot, holder)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

// writePidfile writes the daemon's pid to path, refusing when the file
// names another live process.
func writePidfile(path string) error {
	if b, err := os.ReadFile(path); err == nil {
		if pid, err := strconv.Atoi(string(bytes.TrimSpace(b))); err == nil && pid != os.Getpid() && pid > 0 {
			if err := unix.Kill(pid, 0); (err == nil || errors.Is(err, syscall.EPERM)) && !zombie(pid) {
				if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); strings.TrimSpace(string(comm)) == "berth" {
					return fmt.Errorf("pidfile %s names process %d, a running berth daemon: stop it or choose another --pidfile", path, pid)
				}
			}
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("pidfile %s: %w", path, err)
	}
	if err := os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return fmt.Errorf("pidfile %s: %w", path, err)
	}
	return nil
}

// zombie reports whether pid has exited and waits to be reaped (a daemon
// killed a moment ago, whose parent has not collected it yet).
func zombie(pid int) bool {
	st, err := runtime.ProcState(pid)
	return err == nil && st == 'Z'
}

// engineID returns the daemon's persistent ID from <data-root>/engine-id,
// creating a random UUID there on first start.
func engineID(dataRoot string) (string, error) {
	path := filepath.Join(dataRoot, "engine-id")
	if b, err := os.ReadFile(path); err == nil {
		if id := strings.TrimSpace(string(b)); id != "" {
			return id, nil
		}
	} else if !os.IsNotExist(err) {
		return "", fmt.Errorf("engine id %s: %w", path, err)
	}
	var u [16]byte
	if _, err := rand.Read(u[:]); err != nil {
		return "", fmt.Errorf("engine id: %w", err)
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	id := fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("engine id %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("engine id %s: %w", path, err)
	}
	return id, nil
}
