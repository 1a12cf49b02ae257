// Package build owns Berth's Dockerfile builder: it parses a Dockerfile
// (buildkit's parser, instructions and shell lexer, so quoting and
// expansion match docker's), turns its stages into steps, runs RUN steps
// through an Executor (the engine implements it; build never imports the
// engine or the runtime), copies COPY and ADD sources from the build
// context, other stages, images or http URLs, commits each step as an
// image through the image service, and keeps a content-addressed cache of
// steps that is shared between builds.
//
// # Steps and images
//
// As docker's legacy builder does, every instruction after FROM yields an
// image: RUN, COPY and ADD one with a new layer (the diff of the step's
// writable snapshot), the others one with the same layers and a changed
// config. Progress is reported in the legacy build stream's words:
//
//	Step 2/5 : RUN echo hi
//	 ---> Running in 3f1c...
//	hi
//	 ---> 9a0b...
//	Step 3/5 : COPY a /a
//	 ---> Using cache
//	 ---> 77c1...
//	Successfully built 77c1...
//	Successfully tagged app:latest
//
// Stages the target does not need are skipped; the stages it needs are
// built concurrently when they do not depend on one another.
//
// # Cache
//
// A step's key is the SHA-256 of its parent image ID, the instruction
// after expansion, the build args a RUN sees, and for COPY and ADD a hash
// of the content, modes, owners and names of what they read (never
// mtimes). A hit replaces the step by the cached image: no container is
// started and nothing is copied. An entry whose image was removed is a
// miss. The cache lives in files under its root and is shared by every
// build of the Builder (and of any Builder on the same root):
//
//	<cache root>/
//	  steps/<key hex>          JSON {"image": "sha256:...", "created": ..., "lastUsed": ...}
//	  mounts/<id hash>/        the directories of RUN --mount=type=cache
//	  tmp/                     build contexts unpacked from tars, scratch files
//
// # Context
//
// A context directory is used in place. A context tar (POST /build's
// body) is unpacked under tmp/ in one pass that hashes every regular
// file on a goroutine of its own while it is written (context_unpack.go):
// the hashes are remembered by file identity (device, inode, size,
// mtime, ctime), so the COPY keys of a fully cached rebuild read nothing
// again. Names resolve inside the directory (os.Root), a later entry
// replaces an earlier one, devices and fifos are skipped, and a file a
// later entry changes (a hard link changes its ctime) is hashed from disk.
//
// A cache hit costs a file read and an image lookup: no container starts,
// COPY --from and RUN --mount from= mount their image only on a miss, and
// tags already in place are not written again.
//
// # Images
//
// HEALTHCHECK, SHELL and ONBUILD go into the image config's "config"
// object under docker's names (Healthcheck, Shell, OnBuild); a stage
// FROM an image inherits its healthcheck and shell and runs its ONBUILD
// triggers once. With SOURCE_DATE_EPOCH the configs' and history's
// created times are that time and it is part of every step's key.
// Step images are kept by image records named berth-build-cache:<key>
// (image.IntermediateName): the image service does not list them, as
// docker's images hides the legacy builder's intermediate images, and
// builder prune removes them. A RUN step's new image is reported as an
// Event (Created: the daemon's "image create"), as dockerd's classic
// builder logs a step committed from a container; metadata, COPY and ADD
// steps and cache hits are not.
//
// Not supported: RUN --mount=type=ssh, ADD from git, COPY --parents;
// COPY --link is accepted and gives the same result as COPY.
package build
