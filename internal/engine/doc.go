// Package engine owns Berth's containers as docker does them: it turns an
// Engine API create request and an image into a container record (config
// merged with the image's, a unique name, an ID), generates the OCI spec
// with docker's defaults, mounts the container's snapshot as its rootfs,
// runs the container through one shim per container (internal/shim), and
// serves start, stop, kill, restart, wait, attach, logs, exec, pause,
// update, top, stats, cp, diff, export, commit, rename, remove and list. Containers
// outlive the daemon: their records are on disk and a new engine
// reconnects to the running shims and collects the exits that happened
// meanwhile. This is docker's live restore, always on (`docker info` says
// "Live Restore Enabled: true"): the daemon stops no container when it
// shuts down.
//
// # On disk
//
//	<data-root>/containers/<id>/     the container's directory and OCI bundle
//	  config.v2.json                 the record (Config, HostConfig, State, Name, Networks, MountPoints, ...), written atomically
//	  config.json                    the OCI spec of the last start
//	  rootfs/                        the snapshot's mounts, mounted while it runs
//	  shm/                           --ipc shareable: the /dev/shm tmpfs, mounted while it runs
//	                                 (bound by --ipc container:<id> joiners; --ipc host binds
//	                                 the host's /dev/shm, none has none, private a tmpfs)
//	  hostname, hosts, resolv.conf   bind-mounted into the container
//	  <id>-json.log[.N]              docker's json-file log, written (and rotated) by the shim
//	<exec-root>/shims/<id>/          the shim's state directory (socket, exit.json)
//	<exec-root>/runtime/             the built-in runtime's state root (runc/, crun/ for those)
//	<exec-root>/netns/<id>           the container's network namespace, bind-mounted (inspect's SandboxKey)
//
// # Lifecycle
//
//	Create: record + writable snapshot (image.Service.Prepare); mounts
//	        validated (-v, --mount, --tmpfs,
//	        --volumes-from, image VOLUMEs), volumes created and acquired;
//	        no process
//	Start:  mount rootfs (and shm), netns (own, none, host or container:ID's),
//	        --dns forwarders, Connect to each network, PublishPorts (a
//	        host port in use fails the start: the container stays created), then
//	        hosts/resolv.conf/hostname (with --link and --add-host
//	        entries), copy-up into new volumes, spec (the user's mounts
//	        by depth; --pid/--ipc/--uts own, host or container:ID's;
//	        --group-add, --cgroup-parent; /.dockerenv) -> shim Pool.Start
//	        (created; the pool's spare shim when it has one) -> attach
//	        streams waiting for this start connect to the shim -> shim
//	        start (the process runs) -> watchExit goroutine
//	Exit:   record code and OOM kill, shim delete, unmount,
//	        UnpublishPorts + Release, netns removed, "die" event,
//	        then --rm (remove) or the restart policy
//	Remove: (force: shim delete) snapshot and directory removed, volumes
//	        released (anonymous ones removed with -v or --rm), "destroy"
//
// # Networks and volumes
//
// With a network.Manager (Config.Networks; nil: every container gets a
// loopback-only namespace) a container joins the network its NetworkMode
// names ("default" and "bridge": the default network; with --bridge none
// the manager has none, and such a container gets loopback only, as
// dockerd's NetworkDisabled, its published ports discarded with a create
// warning) and those of Container.Networks (NetworkingConfig at create,
// network connect while stopped); network connect and disconnect of a
// running container go to the manager at once (ConnectContainer,
// DisconnectContainer: the api.NetworkAttacher). Inspect and ps show the
// endpoints and published ports copied from the manager at each change;
// stats read the interface counters of the container's namespace
// (/proc/PID/net/dev, without lo).
// At daemon start the running containers' namespaces go to
// Manager.Restore, which removes everything else; every restored
// container acquires its volumes again (references live in memory).
//
// An attach to a container that does not run registers for its next start
// before the API answers the hijack: the docker CLI sends start as soon as
// it has the upgrade, and a fast process's output must not be missed.
// Stdin follows dockerd's rules: a container without OpenStdin ignores a
// client's stdin; when a client's stdin ends, StdinOnce without a TTY
// closes the container's stdin (and the attach goes on until the output
// ends), otherwise the container's stdin stays open for the next attach
// and this attach ends (a TTY's stdin is never closed by a client: ctrl-p
// ctrl-q, then attach again, reaches the same process).
//
// Commit takes the snapshot's upper directory as one layer (archive.Diff),
// pausing a running container meanwhile unless asked not to, and merges
// the request's config with the container's as dockerd does. The files the
// engine bind-mounts over /etc (hostname, hosts, resolv.conf) are left out
// of diff and commit when the runtime created them empty as mount targets:
// dockerd keeps them in an init layer below the container's.
//
// Restart policies follow docker's: no, always, unless-stopped,
// on-failure[:N]; the delay doubles from 100 ms (at most a minute) and
// resets after a run of 10 s; stop and kill keep a container from
// restarting (a kill of one whose process has just ended, its exit not yet
// handled, succeeds as dockerd's); at the next daemon start an always
// container starts again, an unless-stopped one does not.
//
// # After a daemon restart
//
// New loads every record. A container recorded as running whose shim
// answers keeps running and is watched again (its healthcheck resumes); one
// whose shim is gone or reports an exit gets that exit code (exit.json,
// which the shim writes before it answers anyone) and its restart policy;
// always containers, and unless-stopped ones not stopped by a user, are
// started, their policy counted afresh as dockerd's: an always container
// stopped by hand restarts after its exits again.
//
// # Around the runtime
//
// The cgroup of a container is the spec's cgroupsPath /berth/<id>, which
// the built-in runtime and runc share; pause, update, top, stats and the
// OOM check use internal/runtime/cgroups on it directly. HEALTHCHECK probes
// run as shim execs. --init bind-mounts the host's static docker-init
// (tini) as PID 1; the berth binary links libc and cannot run inside
// arbitrary images.
package engine
