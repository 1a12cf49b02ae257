// Package mount owns the description of a filesystem mount that snapshots
// hand out (Mount: type, source, options, as containerd's) and the two calls
// that act on it: All mounts a list of them on a target, UnmountAll undoes
// every mount stacked there. Snapshotters only describe mounts; callers (the
// image unpacker, the engine, tests) mount them with this package or pass
// them to the runtime as OCI mounts.
//
// An overlay whose option string would not fit in one page (the limit of
// mount(2)'s data argument, about 4 KiB, reached near 100 lower layers with
// absolute paths) is mounted through the new mount API instead: fsopen,
// one fsconfig "lowerdir+" call per layer (Linux 6.8+), fsmount and
// move_mount, which has no such limit.
package mount
