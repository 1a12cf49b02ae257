// Package integration owns Berth's root-only integration tests. The runtime
// tests run the same OCI bundles under `berth runtime` and under runc and
// assert that both show the same things from inside the container (through
// the test/runtimetest checker) and from outside (exit codes, state, hooks,
// files, and nothing left behind after delete).
//
//	runtime_test.go           parity cases: one table, run under every runtime
//	runtime_badinput_test.go  bundles create must refuse; mount escapes; duplicate ids
//	cinit_test.go             which containers the C init covers (BERTH_INIT=c)
//	mkimage_test.go           hack/mkimage-*.sh produce OCI layouts skopeo reads
//	harness_test.go, main_test.go, leftovers_test.go, console_test.go  the harness
//
// Environment:
//
//	BERTH_TEST_RUNTIMES  comma-separated runtimes to run: berth, berth-goinit
//	                     (berth with BERTH_INIT=go: every init in Go), runc
//	                     (default "berth,berth-goinit,runc")
//	BERTH_TEST_DEBIAN=1  also build the debian:bookworm image (slow, network)
package integration
