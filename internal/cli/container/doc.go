// Package container owns the docker-compatible container commands of the
// berth CLI (run, create, start, stop, restart, kill, rm, ps, logs, exec,
// attach, wait, inspect, top, pause, unpause, rename, update, diff,
// export, port, prune, commit), their top-level aliases, the untyped
// `berth inspect`, and the output helpers the image commands share: docker's
// table/--format rendering (Render) and progress-stream display
// (DisplayProgress). It reaches the daemon only through internal/client.
//
// Behaviour follows docker CLI 28: the same flags parsed with the same
// semantics, the same table columns, and the same exit codes (125 for a
// usage or daemon error of run/create, 126/127 when the command cannot be
// invoked or found, otherwise the container's own code).
package container
