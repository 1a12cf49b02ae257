// Package archive owns the translation between layer tars and directories:
// Apply unpacks a layer (uncompressed, gzip or zstd) into a snapshot's
// directory, Diff writes the changes of an overlay upper directory back as a
// layer tar, and Changes lists them docker-diff style; DiffDirs and
// ChangesDirs do the same for two full trees (native snapshots).
//
// # Forms
//
// A layer tar marks deletions with whiteouts (OCI image-spec layer.md): an
// empty file ".wh.NAME" deletes NAME of the layers below, and ".wh..wh..opq"
// in a directory hides everything the layers below have in it. Apply writes
// them in one of two forms:
//
//   - FormatOverlay (the default): the directory is an overlayfs upper layer.
//     A whiteout becomes a 0/0 character device NAME, an opaque marker the
//     xattr trusted.overlay.opaque=y on its directory; other ".wh..wh.*"
//     entries (aufs metadata) are skipped, as docker does.
//   - FormatNative: the directory is a full copy of the layers below (the
//     native snapshotter). A whiteout removes NAME; an opaque marker removes
//     every child of its directory that this layer did not create.
//
// As image-spec says, a whiteout hides only the lower layers' files: what the
// same layer made stays (a directory of it becomes opaque), and ".wh.d"
// followed by "d/" leaves an opaque d. With ApplyOptions.Lowers (overlay
// form), parent directories the tar does not list take the lowers' owner,
// mode and xattrs, and a hard link to a lower layer's file copies it up.
//
// Diff does the reverse of FormatOverlay: a whiteout device becomes
// ".wh.NAME", the opaque xattr ".wh..wh..opq", in a deterministic order
// (depth first, names in byte order, parents before children; no atimes,
// user or group names; mtimes in whole seconds), so the same upper directory
// always gives the same bytes and the same diff ID.
//
// Apply reports, in ApplyOptions.Stats, the layer's size as docker counts
// it (its files' and symlinks' sizes, hard links once), which the image
// service records per layer; LayerSize computes the same from a layer tar.
//
// # Safety
//
// No entry writes outside the root, whatever the archive says:
//
//   - Names are cleaned; a leading "/" is dropped (absolute names are made
//     relative to the root, as docker does); a name whose ".." climbs above
//     the root is rejected, as are names or link names longer than
//     MaxNameBytes and entries whose PAX records exceed MaxPAXBytes.
//   - The parent directory of every entry is opened with openat2(2) and
//     RESOLVE_BENEATH|RESOLVE_NO_MAGICLINKS relative to a descriptor of the
//     root: a symbolic link met on the way (one made by this layer or by a
//     lower one) is followed only while it stays beneath the root, so a
//     symlink to "/etc" or "../.." followed by a file under it is rejected
//     rather than resolved. The kernel does the resolution, so a component
//     swapped for a symlink concurrently cannot redirect it (Linux 5.6+).
//     An absolute symlink on a parent path is refused too, even one that
//     would stay inside the root seen from the container (docker resolves
//     those chroot-style); layers that docker or buildkit write never
//     contain such paths, as their diffs record real paths.
//   - The entry itself is created with *at(2) calls on that parent
//     descriptor (O_CREAT|O_EXCL|O_NOFOLLOW, mknodat, symlinkat, linkat
//     without AT_SYMLINK_FOLLOW), so a final symlink is never followed.
//     Metadata is set through O_PATH descriptors or AT_SYMLINK_NOFOLLOW.
//   - A hard link's target is resolved the same way and must exist inside
//     the root.
//   - Symbolic link targets are data: they are stored as given and are
//     resolved later, inside the container's root, by the kernel.
//   - xattrs in the trusted.overlay. namespace are never taken from a tar (a
//     hostile layer could otherwise forge opaque directories or redirects).
//   - ApplyOptions.MaxSize bounds the total bytes of file contents; at most
//     1 MiB may follow the end-of-archive blocks (a small compressed stream
//     can inflate to endless zeros).
//   - Every stream DecompressStream returns (Apply's, LayerSize's, the image
//     service's import and commit) fails past MaxLayerSize (64 GiB)
//     uncompressed with ErrLayerTooLarge, naming the limit.
//
// Every rejection is an *EntryError naming the entry. Apply streams: it reads
// the layer once, front to back, holding no copy of it, so a download and its
// unpacking can overlap.
package archive
