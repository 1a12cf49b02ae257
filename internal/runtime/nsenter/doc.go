// Package nsenter joins existing namespaces before the Go runtime starts.
//
// setns(2) into a mount or user namespace needs a single-threaded process,
// which a Go program never is once main runs. Importing this package links a
// small C constructor that runs before the Go runtime: when the environment
// holds _BERTH_NS="type:path,type:path,...", it opens every path, joins the
// namespaces in the order given (the caller puts user first), and, when a PID
// namespace was joined, forks so that the child is inside it: the parent then
// writes {"type":"pid","pid":N} to the sync socket (fd in _BERTH_SYNC) and
// exits, and the child goes on into Go. Errors are written to the same socket
// as {"type":"error","message":...}. Without _BERTH_NS it does nothing.
//
// Before any of that, when _BERTH_CGROUP lists cgroup v1 directories (one a
// line), it joins them by writing "0" to each tasks file and reports
// {"type":"cgroup"} (with a "message" on failure): see
// internal/runtime/cgroupjoin_linux.go.
//
// The Go side is internal/runtime (create and exec); the message format is
// the runtime's sync protocol (internal/runtime/sync_linux.go).
package nsenter
