// Package cli holds the parity tests of berth's docker-compatible CLI: the
// same commands run with the real docker CLI (28, /usr/local/bin/docker)
// and with berth against one daemon, and their output (modulo IDs and
// times) and exit codes must be identical. Every test runs against two
// targets: Debian's dockerd (docker.io 20.10) and `berth daemon`, each
// started by the tests on their own socket, data root and exec root
// (dockerd with networking changes disabled); a target that cannot start
// is skipped with the reason. BERTH_CLI_TARGETS=dockerd (or berth) runs
// one. BERTH_TEST_BINARY selects a prebuilt berth. They need root.
package cli
