// Package prefault makes a berth process take fewer page faults while it
// starts: imported by cmd/berth, its initialiser populates, with one
// madvise(MADV_POPULATE_WRITE), the part of the Go heap that the rest of
// the start-up and a short command are about to touch.
//
// Every first touch of a page is a fault, and in a virtual machine a fault
// is dear: 13 to 16 µs each on the PVM host of docs/runtime.md, where
// populating a page in a batch costs 1 to 2 µs. A `berth runtime run` took
// about 260 faults on its heap, 180 of them after this package's
// initialiser (Go's allocator gives each size class its own span, so even
// a small heap is spread over a few hundred pages).
//
// The initialiser runs early because the package imports nothing but
// syscall and unsafe: Go initialises a package as soon as its imports are,
// the first ready one in import-path order first, so this one comes right
// after package syscall, before the ~80 packages that the runtime CLI's
// commands wait for (TestImportsOnlySyscall keeps it so).
//
// BERTH_PREFAULT=0 in the environment turns it off: the daemon starts its
// shims so (a shim lives as long as its container, and the populated
// pages would stay in it), and it measures the package's effect. On a
// kernel without MADV_POPULATE_WRITE (before 5.14) the call fails and
// nothing changes.
package prefault
