package runtime

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// sealedExe returns a read-only, sealed memfd copy of the running binary.
// The container's init is exec'd from it, so a process in the container that
// reaches /proc/<init>/exe finds the sealed copy, never the host's berth
// binary (CVE-2019-5736). The caller closes it after the init has exec'd.
func sealedExe() (*os.File, error) {
	src, err := os.Open("/proc/self/exe")
	if err != nil {
		return nil, fmt.Errorf("open own binary: %w", err)
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return nil, err
	}
	fd, err := unix.MemfdCreate("berth:[init]", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	mf := os.NewFile(uintptr(fd), "berth-sealed")
	size := fi.Size()
	var off int64
	for off < size {
		n, err := unix.Sendfile(fd, int(src.Fd()), nil, int(size-off))
		if err != nil {
			mf.Close()
			return nil, fmt.Errorf("copy own binary: %w", err)
		}
		if n == 0 {
			break
		}
		off += int64(n)
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals); err != nil {
		mf.Close()
		return nil, fmt.Errorf("seal own binary: %w", err)
	}
	return mf, nil
}
