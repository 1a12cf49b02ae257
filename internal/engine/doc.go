// Package engine owns Berth's containers as docker does them: it turns an
// Engine API create request and an image into a container record (config
// merged with the image's, a unique name, an ID), generates the OCI spec
// with docker's defaults, mounts the container's snapshot as its rootfs,
// runs the container through one shim per container (internal/shim), and
// serves start, stop, kill, wait, attach, logs, exec, rename, remove and
// list. Containers outlive the daemon: their records are on disk and a new
// engine reconnects to the running shims and collects the exits that
// happened meanwhile.
//
// # On disk
//
//	<data-root>/containers/<id>/     the container's directory and OCI bundle
//	  config.v2.json                 the record (Config, HostConfig, State, Name, ...)
//	  config.json                    the OCI spec of the last start
//	  rootfs/                        the snapshot's mounts, mounted while it runs
//	  hostname, hosts, resolv.conf   bind-mounted into the container
//	  <id>-json.log                  docker's json-file log, written by the shim
//	<exec-root>/shims/<id>/          the shim's state directory (socket, exit.json)
//	<exec-root>/runtime/             the built-in runtime's state root
//	<exec-root>/netns/<id>           the loopback-only network namespace, bind-mounted
//
// # Lifecycle
//
// Create writes the record and prepares the writable snapshot; no process
// exists until start. Start mounts the rootfs, writes the spec and starts
// a shim, which creates the container; attach streams waiting for the
// start connect to the shim before the process runs, so no output is
// lost; then the shim starts the process. A goroutine per running
// container waits on the shim for the exit, records it, unmounts, deletes
// the shim and applies --rm and the restart policy.
package engine
