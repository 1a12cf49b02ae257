// Command berth-shim is the shim's serving image: the part of a shim that
// outlives the container's creation, without the runtime and the rest of
// berth, so that each running container costs a fraction of the memory.
// hack/build.sh builds it with the shimserver tag and embeds it into berth
// (see internal/shim, "Two images"); `berth shim` execs it once the
// container is created. It is not run by hand.
package main

import (
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/shim"
)

// init runs on the main thread, whose name ps shows: the image is exec'd
// through /proc/self/fd, which would name it after the descriptor.
func init() {
	name := []byte("berth-shim\x00")
	_ = unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&name[0])), 0, 0, 0)
}

func main() {
	shim.ServeMain()
}
