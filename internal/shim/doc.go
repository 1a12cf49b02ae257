// Package shim owns a container's life after the daemon let go of it: the
// `berth shim` process, one per container, is the parent of the container's
// init, holds its stdio and pty, writes its json-file log, reaps it and
// records its exit status, and serves a small API on a unix socket, so that
// containers outlive the daemon.
//
// # Processes
//
//	daemon --Start: re-exec berth "shim" STATE-DIR, setsid, stdio /dev/null--> berth shim
//	       <-- fd 3: "ok\n" once the container is created and shim.sock serves
//	berth shim (PR_SET_CHILD_SUBREAPER)
//	   |-- built-in runtime: runtime.Create in-process, the init is its child
//	   `-- runc/crun: `runc --root R create --bundle B --pid-file F [--console-socket S] ID`,
//	       then `start`, `kill`, `exec --detach`, `delete --force`; their init
//	       and exec'd processes reparent to the shim (a subreaper)
//
// The daemon never waits for a shim; it reaps one that ends while it is
// still its parent. When the daemon dies the shim goes on; a new daemon
// finds it with Connect(stateDir).
//
// # Spare
//
// The daemon starts shims through a Pool, which keeps one spare: `berth
// shim -`, a shim process already through the exec of the berth binary
// and Go's start and through runtime.Prewarm (encoding/json's tables for
// the spec: 1 ms less per start), blocked on fd 4. Pool.Start writes config.json, hands
// the spare its state directory (one line on fd 4; the spare then makes
// that directory's shim.log its stderr and goes on as any shim) and starts
// the next spare 30 ms later. The spare is made only after a start and
// let go after a minute unused (its fd 4 closed: it reads end-of-file and
// exits, as it does when the daemon dies), so an idle daemon has none.
// It takes about 5 ms off each container start (`shim started` in the
// daemon's debug log: 18.6 against 14.3 ms, median of 30).
//
// One goroutine reaps every child (wait4(-1) on SIGCHLD). Code that waits
// for its own children (runtime.Create, hooks, the runc command line) holds
// the reaper's lock meanwhile, and registers the pids it wants reported
// under that lock, so no exit status is taken from its owner or lost.
// A kill signals the init under that lock too (a reaped pid may be
// another process's); when an exec's setup holds it for long (a container
// stalled at its memory limit with the OOM killer off), the kill goes
// through a pidfd of the init opened before it could be reaped.
//
// # Use from the daemon
//
//	c, err := shim.Start(ctx, shim.Config{ID: id, Bundle: b, StateDir: d, LogPath: l, ...})
//	s, err := c.Attach(ctx, shim.AttachOpts{Stdin: true, Stdout: true, Stderr: true}) // docker run -a
//	err = c.Start(ctx)
//	exit, err := c.Wait(ctx)           // or the exit frame that ends s
//	err = c.Delete(ctx, false)         // then remove d
//
// After a restart the daemon calls Connect(ctx, d) for every container it
// knows; ErrShimGone with ReadExit(d) set means the container exited and
// its shim already cleaned up.
//
// # Lifecycle
//
//	Start ──> created ──Start──> running ──init exits──> stopped ──Delete──> shim exits
//	                                                        │
//	                                  no client for ExitTimeout (default 10 min)
//	                                                        └──> runtime delete, shim exits
//
// When the init exits the shim waits (at most 2 s) for its output to end,
// writes exit.json atomically (temporary file, fsync, rename), and only then
// answers Wait, ends the attach streams with an exit frame and reports the
// status in State. It then stays until Delete, or, when no client connected
// for Config.ExitTimeout, deletes the container from the runtime and exits
// by itself; exit.json stays for a later daemon (ReadExit). Delete of a
// running container needs force: the shim kills it, records the exit, then
// deletes. The daemon removes the state directory after Delete. SIGTERM
// (or SIGINT) to the shim is a forced delete and exit, also while it is
// still creating the container: that is how Start gives up when its context
// ends.
//
// # State directory
//
//	<stateDir>/             Config.StateDir, e.g. /run/berth/shims/<id>
//	  config.json           Config, written by Start
//	  shim.sock             the API socket
//	  shim.pid              the shim's pid
//	  shim.log              the shim's own stderr (errors only)
//	  exit.json             {"exitCode":N,"exitedAt":"..."} once the init exited
//	  runtime.log           runc/crun --log (json)
//	<Config.LogPath>        docker json-file log, rotated to .1 ... .N-1
//
// # Protocol
//
// Every call is one connection to shim.sock. The client sends a request as
// one JSON line, the shim answers with one JSON line; attach and exec then
// carry frames both ways until the process ends:
//
//	client                                   shim
//	{"op":"attach","stdin":true,...}\n ───>
//	                                   <───  {"state":{...}}\n
//	[0 0 0 0 | len] stdin bytes        ───>  to the process's stdin
//	half-close (CloseWrite)            ───>  end of this client's stdin (closes the
//	                                         container's stdin with StdinOnce and
//	                                         no terminal, as docker does)
//	                                   <───  [1 0 0 0 | len] stdout bytes
//	                                   <───  [2 0 0 0 | len] stderr bytes
//	                                   <───  [3 0 0 0 | len] {"exitCode":N,...} (last)
//	                                         close
//
// Frames have docker's 8-byte header (stream, three zero bytes, big-endian
// payload length). Stream 3, the exit frame, is ours: the daemon strips it
// and answers docker's wait from it. With a terminal all output comes as
// stream 1 (the pty's). Operations: state, start, kill{signal,all,exec},
// wait{exec}, resize{width,height,exec}, closeStdin{exec}, attach{stdin,
// stdout,stderr}, exec{config} (a stream, like attach), delete{force}.
//
// An attached client gets every byte, as from dockerd: each has a queue of
// 64 frames, and while one is full the output waits for the client (the
// copier, then the process on its pipe), so a slow reader slows the
// process down instead of losing output. A client that goes away is
// dropped and holds nothing up. Once the process exited, an attach that
// gets no output for 2 s (a process outside the PID namespace holding the
// stream open) ends with the exit frame. When the container is deleted
// (as right after a `run --rm`), the shim answers the delete and then stays
// until its attached clients have taken what is queued for them, however
// slowly (an hour at most; a client that goes away ends its attach), as
// dockerd keeps a paused reader's output. The log is written as the output
// is read, so it waits with it.
//
// # Two images
//
// A shim is two programs in turn, with one pid. `berth shim` (the berth
// binary) creates the container: the built-in runtime in-process, runc or
// crun through their command line. Once the container is created and the
// socket listens, it execs the serving image, berth-shim, a program of this
// package alone (internal/shim/cmd/berth-shim, built with the shimserver
// tag, so without the runtime and the rest of berth), which goes on for the
// container's whole life:
//
//	daemon --spawn, fd 3 ready, fd N the image (a sealed memfd)--> berth shim DIR
//	berth shim: create, listen, "ok" on fd 3, then
//	  execve(/proc/self/fd/N, ["berth-shim" "serve" DIR], BERTH_SHIM_HANDOVER={...})
//	berth-shim serve DIR: same pid, so the init stays its child; same
//	  session; the subreaper flag, the listening socket, the stdio pipes or
//	  pty master and an O_PATH descriptor of the berth binary are
//	  inherited, named in the handover (JSON in its environment)
//
// The output is not read before the exec (the init has not started the
// process yet); the serving image wires it, watches the init and reaps it
// if it already exited. A SIGTERM or SIGINT that arrived before the exec
// is handled by `berth shim` itself, which then serves in place; over the
// exec they are ignored (held, one would end the image as Go starts), and
// the image handles them as soon as its main starts. The daemon sends
// one only while Start waits for "ok"; when that shim does not exit within
// 2 s, Start asks it through its socket to delete the container.
//
// Without the runtime, the serving image does what is frequent itself, as
// the runtime would: start (the init's exec socket, package
// runtime/initsock), a signal to the init, and the removal of a container
// whose init is gone (cgroups.Remove, then its state directory). Exec,
// signals to all processes, SIGKILL (a paused container must be thawed),
// and start and delete when the spec has hooks go through `berth runtime`,
// run through the inherited descriptor, like runc's command line: a later
// berth binary at the same path does not change what a running shim runs.
//
// hack/build.sh builds the image first and embeds it (the shimimage tag,
// image_embed.go); the daemon puts it in a sealed memfd once, which every
// shim execs, so they share its pages. A berth built without it (plain `go
// build`) has no image: each shim then serves from `berth shim` itself.
// Should the exec fail, the shim also serves in place.
//
// # Memory
//
// Each running container costs its serving image: about 0.85 MiB of
// private memory, plus its share of the image's pages (2.8 MB, shared by
// every shim). A second after a start or an exec the image drops its code
// and read-only data from its page tables (dropTextPages): the kernel
// maps a file's cached pages 64 KiB around each fault, so the whole file
// was in every shim's RSS, where the steady state touches about 1.2 MB of
// it (RSS 3.5 -> 2.1 MiB per shim, PSS -0.02). The image runs with GOMAXPROCS=1,
// GOGC=20, heap profiling off and a 4 MiB soft memory limit, reads with
// 16 KiB buffers, keeps one goroutine per output stream, one for the
// reaper and one per connection. It forces a collection (and gives its
// free heap back) only 100 ms after an exec: each collection makes Go take
// fresh 64 KiB arenas of mark bits and clear the ones it reuses, which
// costs an idle shim more (about 170 KiB, measured) than its tiny heap
// gives back, while a shim that execs gives back more (a health check
// every second: 2.0 MiB of private memory after 45 s without, 1.6 with). The init's exec socket is read through Go's
// poller, not a blocked thread, since every thread keeps a signal stack
// and a system stack. The daemon waits for its shims through pidfds for
// the same reason (a thread blocked in waitid per shim was 45 KiB of the
// daemon per container), and drops the embedded image's pages from its own
// resident set once they are in the memfd.
//
// `berth shim`, until the exec, does not collect at all (GOGC=off in its
// environment): under a 4 MiB limit the create's few MiB of allocations
// (the spec's decoding above all) were collected over and over, and the
// start took twice as long (54 against 27 ms at load 3, on the path every
// `run` waits for). When it serves in place (no image), it returns its heap
// to the kernel 100 ms after a create, start or exec.
//
// TestMemory measures it (smaps_rollup, 5 running containers, each
// attached to and exec'd into once; 2026-11-27), bench/engine.sh with 50
// (docs/benchmarks.md):
//
//	                              RSS        PSS        anonymous
//	serving image (5, TestMemory)  2.5 MiB    1.4 MiB    1.1 MiB
//	serving image (50, engine.sh)  2.1 MiB    0.89 MiB
//	berth shim in place (5)       23.7 MiB    7.3 MiB    3.3 MiB
//	containerd-shim (50)          12.9 MiB    2.6 MiB
//
// In place, RSS carries the berth binary (this kernel maps a binary's text
// and rodata whole, as large folios), and the private part holds the heap
// that the initialisers of every package of berth keep (970 KB: the
// regexps of distribution/reference 415 KB, runtime/seccomp's syscall
// tables 236 KB, ...; GODEBUG=inittrace=1 shows them) and encoding/json's
// type cache for the spec; hence the second image.
package shim
