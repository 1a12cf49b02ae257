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
// out of the process's page tables; they are mapped back when touched. The
// kernel maps a file's cached pages up to 64 KiB around each fault, so the
// serving image had its whole 2.8 MB file mapped after its start, where
// its steady state (the poller, the reaper, the log) maps back about 1.2
// MB. The pages stay in the page cache, shared with every other shim; only
// this process's mappings go. Writable data, and read-only mappings with
// private copies, are left alone.
func dropTextPages() {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return
	}
	defer f.Close()
	var start, end uint64
	candidate := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) >= 5 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			// A mapping: start-end perms offset dev inode path.
			candidate = false
			if len(fields) < 6 || strings.Join(fields[5:], " ") != exe {
				continue
			}
			if perms := fields[1]; perms != "r-xp" && perms != "r--p" {
				continue
			}
			lo, hi, ok := strings.Cut(fields[0], "-")
			var err1, err2 error
			start, err1 = strconv.ParseUint(lo, 16, 64)
			end, err2 = strconv.ParseUint(hi, 16, 64)
			candidate = ok && err1 == nil && err2 == nil && end > start
			continue
		}
		// Only a mapping without private copies: a read-only one may
		// still hold pages the loader wrote (a PIE's relocated data),
		// which MADV_DONTNEED would take back to the file's bytes.
		if candidate && len(fields) >= 2 && fields[0] == "Anonymous:" {
			candidate = false
			if fields[1] != "0" {
				continue
			}
			for _, advice := range []uintptr{unix.MADV_RANDOM, unix.MADV_DONTNEED} {
				_, _, _ = unix.Syscall(unix.SYS_MADVISE, uintptr(start), uintptr(end-start), advice)
			}
		}
	}
}
