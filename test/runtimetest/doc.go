// Command runtimetest is the in-container checker: a static program that owns
// the description of what a process sees from inside a container (identity,
// credentials, capabilities, namespaces, mounts, cgroups, rlimits) and prints
// it as one JSON document on stdout, so integration tests can compare runtimes
// from the inside.
//
// Build it with CGO_ENABLED=0 and copy it into a bundle's rootfs. Without flags
// it only reports; flags add probes:
//
//	-readable PATH     try to read PATH (repeatable)
//	-writable PATH     try to open PATH for writing, or create a file in it if
//	                   it is a directory (repeatable)
//	-try OP            attempt an operation and report its errno (repeatable):
//	                   mkdir:PATH, rmdir:PATH, open:PATH, create:PATH,
//	                   sethostname:NAME, unshare[:mnt|uts|ipc|net|pid|user|cgroup],
//	                   syscall:NR (a raw syscall with zero arguments)
//	-spawn N           fork+exec N children of -spawn-path (default /bin/sleep 30)
//	                   and report how many started and the first error
//	-alloc MIB         allocate and touch MIB mebibytes, then report (an OOM
//	                   kill is the expected outcome under a memory limit)
//	-cat PATH          report PATH's content, at most 4096 bytes (repeatable)
//	-write PATH=TEXT   write TEXT to PATH before reporting (repeatable)
//
// The program has no dependencies beyond the standard library, so it runs in
// any rootfs, including ones without a libc.
package main
