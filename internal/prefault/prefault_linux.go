package prefault

import (
	"syscall"
	"unsafe"
)

const (
	madvPopulateWrite = 23 // MADV_POPULATE_WRITE, Linux 5.14

	// How far above the heap's frontier the window goes: a `berth runtime
	// run` touches about 1.1 MB above where the frontier is when this
	// package is initialised (measured with `perf record -e page-faults
	// -d`); 1.25 MB was the fastest of 0.75, 1.25 and 2 MB.
	above = 1280 << 10

	// Go maps its heap in chunks of 4 MB, aligned; the probe's own chunk is
	// mapped from its start.
	chunk = 4 << 20
)

// Window is what the initialiser populated: [Lo, Hi), and the madvise's
// error. All zero when it was turned off.
var Window struct {
	Lo, Hi uintptr
	Err    error
}

// probe is where the heap's frontier is: a large object (over 32 KB) gets
// pages of its own, the lowest free ones, which the allocator does not
// touch when they are fresh from the kernel.
var probe []byte

func init() {
	if v, _ := syscall.Getenv("BERTH_PREFAULT"); v == "0" {
		return
	}
	probe = make([]byte, 33<<10)
	w := uintptr(unsafe.Pointer(unsafe.SliceData(probe))) &^ (4096 - 1)
	probe = nil
	// Below the frontier the window starts at the heap's first page: later
	// objects also go to the untouched pages of spans begun earlier, and
	// to free runs of pages there. The heap starts at a random page of its
	// first chunk, the pages before it never touched: its first page is
	// the first resident one, in the frontier's chunk or, when that one's
	// first page is resident, in a chunk below.
	lo := w
	for end, n := w, 0; n < 4; n++ {
		c0 := (end - 1) &^ (chunk - 1) // the chunk of the page before end
		first := firstResident(c0, end)
		if first == end {
			break
		}
		lo = first
		if first != c0 {
			break
		}
		end = c0
	}
	// Above it, to the end of the frontier's chunk at most: what follows is
	// mapped only when the heap grows into it (a populate crossing into it
	// fails, after populating up to it).
	hi := min(w+above, w&^(chunk-1)+chunk)
	Window.Lo, Window.Hi = lo, hi
	if _, _, e := syscall.Syscall(syscall.SYS_MADVISE, lo, hi-lo, madvPopulateWrite); e != 0 {
		Window.Err = e
	}
}

// firstResident returns the first page of [lo, hi) that is in memory, or
// hi (also when mincore fails: nothing mapped there).
func firstResident(lo, hi uintptr) uintptr {
	var vec [chunk / 4096]byte
	if _, _, e := syscall.Syscall(syscall.SYS_MINCORE, lo, hi-lo, uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
		return hi
	}
	for i := range (hi - lo) / 4096 {
		if vec[i]&1 != 0 {
			return lo + i*4096
		}
	}
	return hi
}
