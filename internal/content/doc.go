// Package content owns Berth's content-addressed blob store: blobs named by
// their digest (sha256 or sha512), written through an ingest that verifies
// size and digest before the blob becomes visible, read back by digest,
// labelled, protected by leases and garbage collected.
//
// The interfaces are split by role, as containerd's are: a Provider reads
// committed blobs, an Ingester writes new ones (its doc walks through the
// lifecycle of an ingest), a Manager lists, labels and deletes them, an
// IngestManager watches and aborts ingests, and a Store is all four.
// LocalStore is the implementation on a local filesystem; contenttest is the
// conformance suite every implementation runs.
//
// # On disk
//
//	<root>/                          (the daemon's <data-root>/content)
//	  blobs/sha256/<hex>             committed blobs, mode 0444, mtime = commit time
//	  blobs/sha512/<hex>
//	  labels/<alg>/<hex>             JSON {labels, updatedAt}; absent when no labels
//	  ingest/<sha256(ref)>/          one ingest in progress
//	    meta                         JSON {ref, total, expected, startedAt}
//	    data                         the bytes written so far
//	  leases/<sha256(id)>.json       JSON {id, createdAt, expiresAt, resources}
//
// Commit fsyncs data, renames it into blobs/ (a rename within one
// filesystem, so a blob is either wholly there or absent) and fsyncs the
// directory. Open removes every ingest (or, with WithIngestMaxAge, the stale
// ones) and stray *.tmp files, so a crash mid-ingest leaves nothing
// visible. An ingest's meta and the lease files are written through a
// rename but not fsynced: they matter only to the running process (a torn
// meta after a power loss starts its ingest over, a torn lease is dropped
// by GC). A LocalStore's writers are IngestReaders: the bytes written so far
// can be read before Commit (a pull unpacks a verified layer while its blob
// is being synced).
//
// # Sharing one download
//
// While a Writer is open, its ref and its expected digest are locked in
// memory. A second Writer for either gets errdefs.ErrUnavailable at once;
// OpenWriter and WriteBlob wait instead, and then find the blob committed
// (errdefs.ErrAlreadyExists, which WriteBlob treats as success) or resume
// the ingest the first writer left. Locks are per process: one LocalStore
// per root, owned by the daemon.
//
// # Leases and garbage collection
//
// A pull creates a Lease, writes under WithLease(ctx, id), records its
// image in metadata, then deletes the lease. GC(ctx, roots) keeps the
// blobs reachable from roots and from live leases, following the children
// of manifests and indexes found by parsing them (OCI and Docker schema 2
// media types; no gc labels are needed or read), and deletes the rest.
// Leases are kept here rather than in the metadata database because the
// layering keeps content and metadata independent of each other.
//
// # Manifests and platforms
//
// ParseManifest, ParseIndex and ParseConfig (and their Read* forms that
// read from a Provider and check the digest) refuse anything over
// MaxManifestSize (4 MiB) and anything malformed with
// errdefs.ErrInvalidArgument. ParsePlatform, MatchPlatform and
// SelectManifest choose a manifest from an index for a platform
// (DefaultPlatform, linux/amd64 on this machine, when none is given), with
// variant matching.
package content
