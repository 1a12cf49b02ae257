// Package volume holds the end-to-end tests of volumes: the docker CLI 28
// and `berth volume` against a `berth daemon` on its own data root and
// socket, with identical output, and what the daemon keeps on disk.
package volume
