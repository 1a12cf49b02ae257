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
// name and the label com.docker.volume.anonymous, which prune without
// all=true removes (API 1.42 and later; the API asks for all=true below).
//
// # API for the engine
//
// A container that mounts a volume calls, in this order:
//
//	mp, err := volume.ParseVolumeSpec("data:/srv:ro")     // -v (HostConfig.Binds; a Config.Volumes key is only a cleaned destination, as dockerd)
//	mp, err := volume.ValidateMount(m)                    // --mount (HostConfig.Mounts), bind source must exist
//	err = volume.CheckBindSource(dataRoot, mp.Source)     // binds: refuse paths inside the data root
//	v, err := store.Create(ctx, mp.Source, volume.CreateOptions{})  // "" gives an anonymous volume; an existing name is returned as is
//	dir, err := store.Acquire(ctx, v.Name, containerID)   // mounts type/device/o on the first reference
//	err = store.CopyUp(ctx, v.Name, rootfsPathOfDestination) // when mp.CopyData: only fills an empty volume
//	...bind dir at mp.Destination...
//	err = store.Release(ctx, v.Name, containerID)         // at container removal; unmounts on the last one
//
// References live in memory: after a daemon restart the engine acquires
// again for every container it restores, before the API serves. Remove of a
// volume with references is errdefs.ErrConflict with dockerd's message
// "remove NAME: volume is in use - [ID, ...]", even with force.
// ParseMountSpec parses the CLI's --mount value into an API mount.Mount
// (what docker's CLI sends in HostConfig.Mounts).
package volume
