package build

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/snapshot/mount"
)

// unmount unmounts everything on dir. A mount is busy for a moment when
// a process forked concurrently (a RUN step's container starting in
// another stage) still holds a descriptor inherited from us until it
// execs: unmount retries for a second, then detaches the mount.
func unmount(dir string) error {
	var err error
	for wait := time.Millisecond; wait < time.Second; wait *= 2 {
		if err = mount.UnmountAll(dir); err == nil || !errors.Is(err, unix.EBUSY) {
			return err
		}
		time.Sleep(wait)
	}
	if derr := unix.Unmount(dir, unix.MNT_DETACH); derr != nil {
		return fmt.Errorf("unmount %s: %w (detach: %v)", dir, err, derr)
	}
	return mount.UnmountAll(dir)
}
