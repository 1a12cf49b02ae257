package runtime

import "os"

// InitArg is argv[1] of a container's init process, a re-exec of berth.
const InitArg = "init"

// Init is the entry point of the container's init. It never returns.
func Init() {
	os.Exit(1)
}
