// Package image owns Berth's image service: it resolves references against
// OCI registries, pulls images into the content store and unpacks their
// layers into snapshots (download and unpack overlapped), pushes images,
// keeps the image records (names, tags, dangling images), and converts
// images to and from docker-archive and OCI archive tars, rootfs imports
// and committed diffs. It is what the engine and the Engine API call.
//
// # Identity
//
// An image's ID is the digest of its config blob, as docker's is
// ("sha256:..."). Image records in package metadata give a normalised name
// ("docker.io/library/busybox:latest", or "repo@sha256:..." for a digest
// reference) a manifest as target. Every record whose manifest has the same
// config is the same image: its RepoTags are the tagged names, its
// RepoDigests the digest names. An image that loses its last name while it
// is still wanted (a tag moved to a newer pull, load or commit) is kept as
// a dangling record named berth-dangling@<manifest digest>, shown by List
// without RepoTags, as docker's "<none>:<none>".
//
// Get and List read an index of the records (index.go): images by ID, record
// names to IDs, and the sorted IDs for a prefix search, so Get is a map
// lookup or a binary search, not a scan. It is built from the database when
// first needed and dropped by every change of the records (setNames,
// Remove), so the next read builds it again.
//
// An image's Size is docker's: the unpacked size of its layers (what the
// overlay2 driver counts for a layer: file sizes and symlink targets, hard
// links once), not the compressed bytes stored. Each layer's figure is
// recorded as the label io.berth.layer.size of its snapshot when the layer
// is unpacked (pull, load, import, commit all unpack through applyLayer),
// so it survives restarts; a snapshot made before that label existed gets
// the same figure counted from its blob.
//
// # Pull
//
//	resolve ref ---- GET manifest (bounded, 4 MiB) ---- index? select platform
//	   |                                                    |
//	   lease in content store (1 h TTL, dropped when the record is stored)
//	   |
//	   config (bounded, verified in memory, parsed) -> diff IDs -> chain IDs
//	   (manifests and config are written to the store in the background)
//	   |
//	   layers: up to 3 downloads at once, in layer order, each written
//	   through a content ingest; a download's slot is freed as soon as its
//	   bytes are in and their digest and size verified, before the blob is
//	   synced and made visible. Each layer to unpack is a task, tasks start
//	   in layer order, up to 3 at once with a snapshot.Rebaser (overlay),
//	   else one at a time. A task reads its layer from the running download
//	   when it was waiting for it (the bytes are teed into the ingest and
//	   into archive.Apply), else from the verified bytes of the ingest, else
//	   from the store. It applies the layer onto a snapshot of chain ID i-1
//	   when that is committed, or else (Rebaser) into a snapshot of its own,
//	   committed onto chain ID i-1 once that is. The uncompressed stream is
//	   hashed and must equal the config's diff ID; a snapshot is committed
//	   under its chain ID only after the blob's digest and size were
//	   verified, so a hostile layer leaves no committed snapshot. Layers
//	   whose chain ID is already committed and whose blob is present are
//	   skipped ("Already exists").
//	   |
//	   every blob synced -> image record (the tag and repo@digest), lease deleted
//
// Transient registry errors (5xx, 429, connection reset, unexpected EOF)
// are retried with backoff; a blob download resumes from the byte it
// reached with a Range request when the registry allows it.
//
// # Snapshots
//
// The service takes any snapshot.Snapshotter (overlay or native). Layer
// snapshots are named by chain ID; a container's writable snapshot by the
// container ID the engine passes to Prepare. Layers are applied directly
// into the directory a mount names (an overlay upperdir, or a bind
// source), so unpacking needs no mount.
package image
