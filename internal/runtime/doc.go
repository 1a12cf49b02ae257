// Package runtime is Berth's own OCI runtime: it creates, starts, signals and
// deletes containers from an OCI bundle (runtime-spec 1.x, Linux), and is what
// `berth runtime` (a runc-compatible command line) and the shim call.
//
// # Processes and stages
//
// A container is made by two processes, the parent (this package's Create,
// running in the caller) and the init (Init, the container's PID 1 until it
// execs the user process):
//
//	parent (berth runtime create)                 init (the Go init: sealed copy of berth, arg
//	                                              "init", exec'd by the init image when it
//	                                              joins namespaces; the C init: see
//	                                              fastinit_linux.go)
//	-----------------------------                 ---------------------------------------
//	decode and check what starting the init
//	needs (launchSpec), mkdir state dir, listen
//	on exec.sock, the v2 (or unified) cgroup dir
//	clone(new namespaces) + exec sealed berth ---> [nsenter (image or constructor), before the Go
//	decode and validate the whole spec; cgroup     runtime starts, only with namespaces
//	dirs and limits, while the init starts         given by path: setns(), fork if a
//	                        <---- syncPipe ------   PID namespace is joined, msgPid]
//	(mount namespace given by path: add pid to
//	cgroup), oom_score_adj
//	send initConfig (JSON)  ----- syncPipe ----->  read initConfig
//	                                               v1: join the cgroups through their
//	                                               tasks files from the exec thread;
//	                        <---- syncPipe ------  msgCgroup (v2 with a pids limit: to
//	                                               be moved)
//	(failed, or v2 with a pids limit: add pid to
//	cgroup, msgContinue)
//	                                               prepare rootfs, mounts, devices,
//	                                               process.cwd (made 0755 in the
//	                                               root when missing, as runc)
//	  only with prestart or createRuntime hooks:
//	                        <---- syncPipe ------  msgPrestart
//	run prestart, createRuntime hooks
//	msgContinue             ----- syncPipe ----->
//	                                               hooks createContainer, pivot_root,
//	                                               console (consoleSize set before
//	                                               the exec), masked/readonly paths,
//	                                               hostname, sysctl, credentials
//	                        <---- syncPipe ------  msgReady (or msgError{message})
//	write state.json, exit
//
//	berth runtime start: connect to exec.sock ---> init's accept() returns; it
//	sends one byte, drops privileges (user, capabilities, rlimits,
//	no_new_privs, seccomp) and execs the process; the connection closes on
//	exec, and start, which reads to EOF, runs the poststart hooks.
//
// For the containers it covers, the init is C code that runs before the Go
// runtime starts (internal/runtime/nsenter/fastinit.c): the parent sends it
// a plan (fastPlan, fastinit_linux.go) where the Go init gets initConfig,
// and it does the same steps in the same order with the same messages.
// BERTH_INIT=go forces the Go init below.
//
// The init's Go code is entered from this package's initialisation
// (initentry_linux.go), before the rest of the binary's packages are
// initialised; the package therefore does not import package net.
//
// Errors in the init are sent to the parent as msgError and printed by the
// parent as a one-line error naming what failed; the parent then kills the
// init and removes every trace (cgroup, state directory).
//
// # State on disk
//
//	<root>/                       --root, default /run/berth/runtime
//	  <id>/
//	    state.json                id, bundle, pid, pid start time, created, annotations,
//	                              namespaces paths, cgroup paths, the spec
//	    exec.sock                 the init's start socket, present while "created"
//
// # Escapes closed
//
// The init is a re-exec of a sealed memfd copy of the binary (CVE-2019-5736),
// it is made non-dumpable until exec, every file descriptor above the process's
// stdio is close-on-exec before the final exec and the working directory is
// set inside the new root (CVE-2024-21626), and mount destinations are resolved
// inside the root, with openat2(RESOLVE_IN_ROOT) where the kernel has it.
package runtime
