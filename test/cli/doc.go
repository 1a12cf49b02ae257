// Package cli holds the parity tests of berth's docker-compatible CLI: the
// same commands run with the real docker CLI (28, /usr/local/bin/docker)
// and with berth against one daemon, and their output (modulo IDs and
// times) and exit codes must be identical. The daemon is Debian's dockerd
// (docker.io 20.10), started by the tests on their own socket, data root
// and exec root with networking changes disabled; the tests skip with a
// reason when it cannot start. They need root.
package cli
