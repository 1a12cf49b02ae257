//go:build !shimimage

package shim

// embeddedImage is the serving image; a berth built without it (plain
// `go build`) serves each container from the shim that created it.
var embeddedImage []byte
