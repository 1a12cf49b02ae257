// Command berth is the single Berth binary: the docker-compatible CLI, the
// daemon, the OCI runtime and the registry. Re-exec entry points (the
// runtime's container init) are dispatched before the command tree is built,
// so a container's init never pays for cobra or the daemon's packages.
package main

import (
	"os"

	"github.com/berth/berth/internal/cli"
	"github.com/berth/berth/internal/runtime"
	_ "github.com/berth/berth/internal/runtime/nsenter"
	"github.com/berth/berth/internal/shim"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == runtime.InitArg {
		runtime.Init() // never returns
	}
	if len(os.Args) > 1 && os.Args[1] == shim.Arg {
		shim.Main() // never returns
	}
	os.Exit(cli.Main(os.Args[1:]))
}
