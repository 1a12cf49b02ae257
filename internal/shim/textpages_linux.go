package shim

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// textDropDelay is how long after a start or an exec the serving image
// drops its code's pages from its resident set (dropTextPages).
const textDropDelay = time.Second

// dropTextPages takes the pages of this program's code and read-only data
// out of the process's page tables, and asks the kernel to map them back
// one at a time when touched (MADV_RANDOM: no fault-around). The kernel
// maps a file's cached pages 64 KiB at a time around each fault, so the
// serving image had its whole 2.8 MB file mapped, where its steady state
// (waiting on the poller, reaping, logging) touches a few hundred KiB.
// The pages stay in the page cache, shared with every other shim; only
// this process's mappings go. Writable data is left alone.
func dropTextPages() {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// start-end perms offset dev inode path
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || strings.Join(fields[5:], " ") != exe {
			continue
		}
		if perms := fields[1]; perms != "r-xp" && perms != "r--p" {
			continue
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		for _, advice := range []uintptr{unix.MADV_RANDOM, unix.MADV_DONTNEED} {
			_, _, _ = unix.Syscall(unix.SYS_MADVISE, uintptr(start), uintptr(end-start), advice)
		}
	}
}
