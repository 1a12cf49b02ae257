// Package registry owns Berth's OCI distribution server: the /v2/ HTTP API
// (manifests, blobs, chunked and resumable uploads, cross-repository
// mounts, tags, referrers, catalog), the repository store over a
// storage.Driver, garbage collection that runs while the registry serves,
// basic and bearer-token auth, and metrics.
//
// It stands alone: it imports no other Berth package.
//
// On-disk layout (paths of the storage driver; with the filesystem driver,
// below --root). Blobs are shared by all repositories; repositories hold
// links, as distribution does:
//
//	blobs/<alg>/<hex[0:2]>/<hex>/data            verified content (layers, configs, manifests)
//	repositories/<name>/
//	  _layers/<alg>/<hex>/link                   "<digest>": blob is in this repository
//	  _manifests/revisions/<alg>/<hex>/link      "<digest>\n<media type>": manifest is in this repository
//	  _manifests/tags/<tag>/current/link         "<digest>" the tag points at
//	  _referrers/<alg>/<subject hex>/<alg>/<hex>/link   referrer descriptor (JSON)
//	  _uploads/<id>/startedat, data              upload in progress
//
// Every file is written whole (write, then rename); an upload becomes a blob
// by renaming its data after the digest was verified, so a crash leaves
// either no blob or a whole one, and leftover uploads are purged once older
// than the upload TTL.
//
// Garbage collection marks every blob referenced by a manifest revision and
// sweeps the rest; see Store.GC for how it stays safe against concurrent
// pushes without a read-only window.
package registry
