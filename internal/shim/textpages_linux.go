package shim

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"os"
	"strconv"
	"strings"
	"sync"
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
// this process's mappings go. Writable data is left alone, and read-only
// data where the loader may have written it.
func dropTextPages() {
	exe, rodata := ownImage()
	if exe == "" {
		return
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 4096)
	for {
		line, err := r.ReadSlice('\n')
		if len(line) > 0 && bytes.HasSuffix(bytes.TrimRight(line, "\n"), []byte(" "+exe)) {
			dropMapping(string(line), rodata)
		}
		if err != nil {
			return
		}
	}
}

// ownImage is, once for the process, the path /proc/self/maps names this
// program by ("" when unknown), and whether its read-only data may be dropped too: only
// where nothing wrote to it (a binary with a dynamic section, an
// interpreter or a RELRO segment, a PIE's relocated data say, may hold
// private copies there, which MADV_DONTNEED would take back to the file's
// bytes).
var ownImage = sync.OnceValues(func() (string, bool) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return "", false
	}
	return exe, !elfWritesReadOnly("/proc/self/exe")
})

// dropMapping drops one line of /proc/self/maps, "start-end perms offset
// dev inode path", if it is code, or read-only data and rodata is set.
func dropMapping(line string, rodata bool) {
	fields := strings.Fields(line)
	if len(fields) < 6 || !(fields[1] == "r-xp" || rodata && fields[1] == "r--p") {
		return
	}
	lo, hi, ok := strings.Cut(fields[0], "-")
	start, err1 := strconv.ParseUint(lo, 16, 64)
	end, err2 := strconv.ParseUint(hi, 16, 64)
	if !ok || err1 != nil || err2 != nil || end <= start {
		return
	}
	for _, advice := range []uintptr{unix.MADV_RANDOM, unix.MADV_DONTNEED} {
		_, _, _ = unix.Syscall(unix.SYS_MADVISE, uintptr(start), uintptr(end-start), advice)
	}
}

// elfWritesReadOnly reports whether the ELF file at path may have its
// read-only data written at load time (a PT_DYNAMIC, PT_INTERP or
// PT_GNU_RELRO program header), or cannot be read as a 64-bit ELF: true
// then, to be safe. Berth's serving image (static, internally linked) has
// none of them.
func elfWritesReadOnly(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return true
	}
	defer f.Close()
	var h [64]byte
	if _, err := f.ReadAt(h[:], 0); err != nil || string(h[:4]) != "\x7fELF" || h[4] != 2 || h[5] != 1 {
		return true
	}
	phoff := int64(binary.LittleEndian.Uint64(h[32:]))
	phentsize := int(binary.LittleEndian.Uint16(h[54:]))
	phnum := int(binary.LittleEndian.Uint16(h[56:]))
	if phentsize < 4 || phnum == 0 || phnum > 64 {
		return true
	}
	ph := make([]byte, phentsize*phnum)
	if _, err := f.ReadAt(ph, phoff); err != nil {
		return true
	}
	const ptDynamic, ptInterp, ptGNURelro = 2, 3, 0x6474e552
	for i := 0; i < phnum; i++ {
		switch binary.LittleEndian.Uint32(ph[i*phentsize:]) {
		case ptDynamic, ptInterp, ptGNURelro:
			return true
		}
	}
	return false
}
