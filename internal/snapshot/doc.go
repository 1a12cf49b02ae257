// Package snapshot owns the filesystem snapshots that image layers are
// unpacked into and containers run on: the Snapshotter interface (the shape
// of containerd's) and its two implementations, overlay (the default) and
// native (full copies, for hosts without overlayfs). Snapshotters return
// mounts (package mount) and never mount anything themselves.
//
// # Keys, names and parents
//
// A snapshot is active (writable, made by Prepare), a view (read-only, made
// by View) or committed (immutable, made by Commit from an active one). An
// active snapshot or a view is addressed by its key, a committed one by its
// name; keys and names share one namespace. The parent of a new snapshot
// must be committed. A committed snapshot that has children cannot be
// removed.
//
// Importing a layer goes like this (the image service does it):
//
//	if _, err := sn.Stat(ctx, chainID); err == nil { /* unpacked already: shared */ }
//	mounts, _ := sn.Prepare(ctx, "extract-"+random+" "+chainID, parentChainID)
//	dir, overlay, _ := mount.WritableDir(mounts)      // no mount needed to unpack
//	archive.Apply(ctx, dir, layer, archive.ApplyOptions{
//		Format: overlay ? FormatOverlay : FormatNative,
//		Lowers: mount.LowerDirs(mounts),             // implicit parents keep the lowers' modes
//	})
//	sn.Commit(ctx, chainID, key)                      // AlreadyExists: someone else won; Remove(key)
//
// Prepare with Ephemeral keeps an active snapshot in memory until it is
// committed (a crash removes it with the orphan directories). The overlay
// snapshotter is a Rebaser: an active snapshot prepared without a parent can
// be committed onto any committed parent (CommitOnto), since an overlay
// layer's files do not depend on the layers below; the image service unpacks
// a pull's layers in parallel that way. A committed snapshot's usage is
// computed by the first Usage call and kept.
//
// Naming committed layers by their chain ID makes every layer unpacked once
// and shared by every image and container above it. A container then
// Prepares its own key on the image's top chain ID and mounts the result.
//
// # On disk
//
//	<root>/                   e.g. /var/lib/berth/snapshots/overlay (or .../native)
//	  metadata.json           every snapshot: key or name -> id, kind, parent,
//	                          labels, created, updated, usage (once computed);
//	                          written whole (temp file, rename) at open and
//	                          when the log is compacted
//	  metadata.log            the changes since: one JSON line per key put or
//	                          deleted ({"op","key","rec","next"}), a commit's
//	                          two in one write; replayed at open (a torn last
//	                          line is ignored), compacted into metadata.json
//	                          after 1000 entries more than there are snapshots.
//	                          Neither is fsynced, like the layers' files (see save)
//	  metadata.lock           flock held by the open Snapshotter (one process at a time)
//	  <id>/                   id: a small decimal number, so lowerdir strings stay short
//	    fs/                   overlay: the layer's own files (upper dir while active);
//	                          native: a full copy of the parent plus the changes
//	    work/                 overlay work dir, while active with a parent
//
// A directory <id> that metadata.json does not list is left by a crash and is
// removed when the snapshotter is opened.
//
// # Mounts returned
//
// Overlay: an active snapshot without parent is a read-write bind of fs/;
// with a parent, an overlay of lowerdir=<parent chain, nearest first>,
// upperdir=fs, workdir=work, redirect_dir=off (so the upper dir is always
// a plain diff archive.Diff can write as a layer). A view of one layer is a read-only bind of that
// layer, of several a lowerdir-only overlay (read-only by nature). Native:
// a read-write bind of the active copy; a view is a read-only bind of its
// parent's copy. Overlays of more layers than one page of options can hold
// (about 100 here) are mounted by mount.All through fsconfig "lowerdir+".
package snapshot
