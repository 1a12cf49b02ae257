package runtime

import "os"

// The container's init (argv[1] InitArg, started by Create and exec with
// _BERTH_SYNC in its environment) is dispatched from this package's
// initialisation, not from main: Go initialises a package once its imports
// are, in import-path order, so the init starts before about 70 of the
// binary's 180 packages are initialised, among them everything that needs
// package net (net/http, crypto/tls, the registry client, the DNS server)
// and github.com/distribution/reference's regexps. The init only uses this
// package and what it imports, all initialised by now. This is what keeps
// this package and runtime/seccomp free of package net (dialUnix).
//
// Init never returns: it execs the container's process or exits.
func init() {
	if len(os.Args) > 1 && os.Args[1] == InitArg && os.Getenv("_BERTH_SYNC") != "" {
		Init()
	}
}
