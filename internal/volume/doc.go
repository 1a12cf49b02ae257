// Package volume owns named and anonymous volumes of the `local` driver:
// their directories and metadata under <data-root>/volumes, the in-use
// references containers hold on them, copy-up of an image directory into a
// new empty volume, and the parsers of docker's -v and --mount syntax.
//
// # On disk
//
//	<data-root>/volumes/          Store root (Open)
//	  <name>/
//	    volume.json               name, driver, created time, labels, options
//	                              (written to a temporary file, then renamed)
//	    _data/                    the volume's content, or the mount point of
//	                              its type/device/o mount while in use
//
// A directory without volume.json (left by a crash between mkdir and
// rename) is dropped when the store opens.
//
// # Names
//
// A name matches [a-zA-Z0-9][a-zA-Z0-9_.-]+ (two characters at least);
// Create with an empty name makes an anonymous volume: a random 64-hex
// name and the label com.docker.volume.anonymous. Prune without all=true
// removes only those; the API router adds all=true to requests older than
// API 1.42, which pruned every unused volume.
//
// # API for the engine
//
// At container create, for each HostConfig.Binds entry, HostConfig.Mounts
// entry and image or Config.Volumes destination (an anonymous volume):
//
//	mp, err := volume.ParseVolumeSpec("data:/srv:ro")   // a Binds entry; a Volumes key is only a cleaned destination
//	mp, err := volume.ValidateMount(m)                  // a Mounts entry (bind sources must exist)
//	rslave, err := volume.BindDaemonRoot(dataRoot, mp.Spec) // binds at or above the data root: rslave or rshared only
//	v, err := store.Create(ctx, mp.Source, volume.CreateOptions{}) // volumes; "" makes an anonymous one, an existing name is returned
//	dir, err := store.Acquire(ctx, v.Name, containerID) // volumes: the reference; mounts type/device/o on the first one
//	err = store.CopyUp(ctx, v.Name, rootfsDir)          // when mp.CopyData: fills an empty volume from the image
//	spec.Mounts = append(spec.Mounts, mp.OCIMount(dir)) // or mp.OCIMount(mp.Source) for a bind
//
// and at container removal store.Release(ctx, name, containerID) for each
// volume, then store.Remove for anonymous ones with `rm -v` (--rm removes
// anonymous volumes too, as dockerd).
//
// A bind whose source is the data root, below it or above it (-v /:/host)
// follows dockerd's rule: without a propagation it is rslave, so that the
// host's unmounts of container and image mounts reach the container and it
// never keeps them busy; rslave and rshared are allowed, any other
// propagation is refused at create. A bind volume's device (o=bind) must
// not be in the data root at all (CheckBindSource).
//
// References live in memory: after a daemon restart the engine acquires
// again for every container it restores, before the API serves (a
// type/device/o mount still in place is adopted, not mounted twice). Remove
// of a volume with references is errdefs.ErrConflict with dockerd's message
// "remove NAME: volume is in use - [ID, ...]", even with force. Usage gives
// `system df` a volume's size and reference count.
//
// ParseMountSpec parses the CLI's --mount value into the mount.Mount that
// docker's CLI sends in HostConfig.Mounts, with the CLI's messages.
package volume
