// Package engine holds Berth's container engine integration tests: a
// `berth daemon` on a temporary data root, exec root and socket, with
// busybox loaded from hack/mkimage-busybox.sh's layout, driven by the real
// docker CLI and the Go client (github.com/moby/moby/client). They need
// root and clean up every container, shim, mount and directory they make.
package engine
