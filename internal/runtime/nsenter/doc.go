// Package nsenter holds berth's C code, which runs before any Go runtime:
// the C init (fastinit.c, see internal/runtime/fastinit_linux.go) and the
// joining of existing namespaces (nsenter.c). hack/build.sh builds it into
// the init image (package initimage, src/main.c includes both files), a
// static program the runtime execs; a build with cgo and without the
// image links it into berth instead, as a constructor (nsenter.go).
//
// nsenter.c joins existing namespaces before the Go runtime starts.
//
// setns(2) into a mount or user namespace needs a single-threaded process,
// which a Go program never is once main runs: the C runs first, in the
// image or from the constructor: when the environment
// holds _BERTH_NS="type:path,type:path,...", it opens every path, joins the
// namespaces in the order given (the caller puts user first), and, when a PID
// namespace was joined, forks so that the child is inside it: the parent then
// writes {"type":"pid","pid":N} to the sync socket (fd in _BERTH_SYNC) and
// exits, and the child goes on: into the C init when the parent chose it
// (it does for network, IPC and UTS namespaces joined), else into Go. Errors are written to the same socket
// as {"type":"error","message":...}. Without _BERTH_NS it does nothing.
//
// It does not join cgroups: a process joins them once its Go runtime has
// started (internal/runtime/cgroupjoin_linux.go), so that the runtime's
// threads are not counted against the container's pids limit.
//
// The Go side is internal/runtime (create and exec); the message format is
// the runtime's sync protocol (internal/runtime/sync_linux.go).
package nsenter
