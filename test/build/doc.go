// Package build holds the end-to-end tests of builds through the daemon:
// a `berth daemon` on its own temp roots (--bridge none) with busybox
// imported, then `docker build` (the docker CLI's legacy builder,
// DOCKER_BUILDKIT=0) and `berth build` of small Dockerfiles, runs of the
// built images, and `builder prune`. The tests need root.
package build
