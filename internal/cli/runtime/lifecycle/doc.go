// Package lifecycle is what `berth runtime` does for a container's life
// (create, start, run, state, kill, delete), without the command tree:
// internal/cli/runtime builds runc's command line on it, and fast.go runs
// the common invocations of those commands before the rest of the berth
// binary is initialised.
//
// # Fast path
//
// Package initialisation in Go runs in import-path order once a package's
// imports are done. This package imports only internal/runtime, the
// runtime spec, golang.org/x/sys/unix and the standard library, so its init
// runs after 84 of the 185 packages of the binary that have init work
// (GODEBUG=inittrace=1 lists them): the command tree
// (cobra, pflag, text/template), the docker client, the registry and
// everything that needs package net come later. It does not import
// golang.org/x/term (console.go sets raw mode itself): waiting for a
// package that sorts after x/sys/unix let bbolt, logrus and the seccomp
// profiles go first, 1 ms of every command here
// (internal/runtime's TestInitNeedsNoPackageNet keeps the list short).
//
// When argv is `berth runtime [--root R] [--log F] [--log-format
// text|json] [--debug] CMD ...` with CMD one of
// create, start, run, state, kill and delete, and every flag is one this
// file knows, the command runs from that init and the process exits with
// its status. Anything else (help, another command, an unknown flag, a
// wrong number of arguments) goes on to main and the full command tree,
// which gives the same result for the commands above and reports errors
// with its usage text. The command runs on a goroutine of its own: the
// goroutine that runs package initialisers is locked to the main thread,
// and every wait of a locked goroutine is a hand-off between threads.
package lifecycle
