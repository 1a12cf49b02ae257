// Command berth is the single Berth binary: the docker-compatible CLI, the
// daemon, the OCI runtime and the registry. Re-exec entry points are
// dispatched before the command tree is built: the runtime's container init
// even earlier, from internal/runtime's package initialisation
// (initentry_linux.go), so that it does not wait for the daemon's and the
// CLI's packages to be initialised; the shim here.
package main

import (
	"os"

	"github.com/berth/berth/internal/cli"
	// First of berth's packages to be initialised (it imports only
	// syscall): populates the heap pages the start-up is about to touch.
	_ "github.com/berth/berth/internal/prefault"
	"github.com/berth/berth/internal/runtime"
	_ "github.com/berth/berth/internal/runtime/initimage"
	_ "github.com/berth/berth/internal/runtime/nsenter"
	"github.com/berth/berth/internal/shim"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == runtime.InitArg {
		runtime.Init() // never returns; normally reached from runtime's init() already
	}
	if len(os.Args) > 1 && os.Args[1] == shim.Arg {
		shim.Main() // never returns
	}
	os.Exit(cli.Main(os.Args[1:]))
}
