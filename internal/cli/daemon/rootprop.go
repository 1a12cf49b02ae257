package daemon

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/volume"
)

// unmountMarker is the file in the exec root that says the data root's
// bind mount on itself is the daemon's own, to be undone at shutdown (as
// dockerd's "unmount-on-shutdown").
const unmountMarker = "unmount-on-shutdown"

// shareDataRoot makes the mount the data root sits on shared, as dockerd
// does at start: a container may bind the data root (or a parent of it,
// as -v /:/host) only with rslave or rshared propagation, and those need a
// shared or slave mount under the source. When the data root's mount is
// neither (a host whose / is private), the data root is bind-mounted on
// itself and the bind made shared; the marker in execRoot records it. A
// data root with mounts below it already (containers still running from
// before) is left as it is, with a warning: binding it on itself would
// hide those mounts from the daemon.
func shareDataRoot(dataRoot, execRoot string) {
	marker := filepath.Join(execRoot, unmountMarker)
	root, err := filepath.EvalSymlinks(dataRoot)
	if err != nil {
		slog.Warn("data root propagation", "err", err)
		return
	}
	mnt, opts, err := volume.MountOf(root)
	if err != nil {
		slog.Warn("data root propagation", "err", err)
		return
	}
	if sharedOrSlave(opts) {
		if mnt != root {
			_ = os.Remove(marker) // not ours (any more)
		}
		return
	}
	if mnt != root {
		if below := volume.MountsBelow(root); len(below) > 0 {
			slog.Warn("the data root is on a private mount and has mounts below it; binds of the data root need a restart with nothing mounted there", "data-root", root, "mounts", len(below))
			return
		}
		if err := unix.Mount(root, root, "", unix.MS_BIND, ""); err != nil {
			slog.Warn("data root propagation: bind mount on itself", "data-root", root, "err", err)
			return
		}
		if err := os.WriteFile(marker, nil, 0o600); err != nil {
			slog.Warn("data root propagation", "err", err)
		}
	}
	if err := unix.Mount("", root, "", unix.MS_SHARED, ""); err != nil {
		slog.Warn("data root propagation: make shared", "data-root", root, "err", err)
	}
}

// unshareDataRoot undoes shareDataRoot's bind at shutdown, when it made one
// and nothing is mounted below the data root any more (containers that
// keep running keep it until a later shutdown).
func unshareDataRoot(dataRoot, execRoot string) {
	marker := filepath.Join(execRoot, unmountMarker)
	if _, err := os.Stat(marker); err != nil {
		return
	}
	root, err := filepath.EvalSymlinks(dataRoot)
	if err != nil {
		return
	}
	if mnt, _, err := volume.MountOf(root); err != nil || mnt != root {
		_ = os.Remove(marker)
		return
	}
	if len(volume.MountsBelow(root)) > 0 {
		return
	}
	// Detached: the daemon's own files in it (the metadata databases) may
	// still be open; they keep it until the process ends.
	if err := unix.Unmount(root, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
		slog.Warn("unmount the data root's bind", "data-root", root, "err", err)
		return
	}
	_ = os.Remove(marker)
}

// sharedOrSlave reports whether mountinfo's optional fields opts name a
// shared or slave mount.
func sharedOrSlave(opts []string) bool {
	for _, o := range opts {
		if strings.HasPrefix(o, "shared:") || strings.HasPrefix(o, "master:") {
			return true
		}
	}
	return false
}
