// Package testutil owns the fixtures Berth's tests build for themselves: root
// checks, a busybox root filesystem and OCI bundle made from the host's static
// busybox, the runc-like default runtime spec, and the in-container checker
// (test/runtimetest) built and copied into a bundle. Nothing here touches the
// network; everything is created under the calling test's temp directory.
package testutil
