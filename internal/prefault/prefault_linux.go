package prefault

import (
	"syscall"
	"unsafe"
)

const (
	madvPopulateWrite = 23 // MADV_POPULATE_WRITE, Linux 5.14

	// The window around the heap's frontier that is populated: a `berth
	// runtime run` touches about 1.1 MB above where the frontier is when
	// this package is initialised, and fills holes up to 0.4 MB below it
	// (measured with `perf record -e page-faults -d`). 1.25 MB above was
	// the fastest of 0.75, 1.25 and 2 MB.
	below = 512 << 10
	above = 1280 << 10

	// Go maps its heap in chunks of 4 MB, aligned; the probe's own chunk is
	// mapped from its start.
	chunk = 4 << 20
)

// Window is what the initialiser populated: [Lo, Hi), and the madvise's
// error (a window that runs past the mapped heap is populated up to its
// end, and then fails). All zero when it was turned off.
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
	lo := w - below
	if c := w &^ (chunk - 1); lo < c || lo > w {
		lo = c
	}
	hi := w + above
	Window.Lo, Window.Hi = lo, hi
	if _, _, e := syscall.Syscall(syscall.SYS_MADVISE, lo, hi-lo, madvPopulateWrite); e != 0 {
		Window.Err = e
	}
}
