// Package metadata owns Berth's metadata database (bbolt, the data root's
// metadata.db): image records that give a normalised reference name a
// target descriptor, with timestamps and labels, in transactions; and the
// docker reference normalisation those names follow.
//
// # Names
//
// Every name is stored normalised as docker does (ParseDockerRef):
// "busybox" is "docker.io/library/busybox:latest", "user/repo" is
// "docker.io/user/repo:latest", "host:port/repo:tag" keeps its registry,
// "repo@sha256:..." is stored by digest, and "repo:tag@sha256:..." drops
// the tag and keeps the digest. Repository paths must be lower case; a
// 64-hex-digit name alone is refused (it would read as an image ID).
// FamiliarName gives back the short form docker prints ("busybox:latest").
//
// # Buckets
//
//	v1/                              schema version
//	  images/
//	    <name>/                      normalised reference, e.g. docker.io/library/busybox:latest
//	      createdat                  time.Time.MarshalBinary
//	      updatedat                  time.Time.MarshalBinary
//	      target/
//	        digest                   e.g. sha256:<hex>
//	        mediatype                manifest or index media type
//	        size                     uvarint
//	      labels/
//	        <key>                    <value>
//
// Leases that protect blobs during a pull are kept by the content store
// (content.LocalStore), which the layering keeps independent of this
// package; GC there takes the image targets listed here as its roots.
// Parsing manifests and choosing a platform from an index is also in
// package content (ParseIndex, SelectManifest).
package metadata
