// Package build owns the docker-compatible build commands: `berth build`
// (docker's legacy builder client: the context directory, honouring
// .dockerignore, or a tar or Dockerfile on stdin, sent to POST /build, its
// JSON stream printed as docker prints it) and `berth builder prune`.
package build
