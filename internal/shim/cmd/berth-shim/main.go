// Command berth-shim is the shim alone, without the rest of berth: a
// measurement of what the shim costs when the process does not carry (and
// initialise) every package of the berth binary. TestMemory compares it
// with `berth shim`.
package main

import (
	"os"

	"github.com/berth/berth/internal/runtime"
	_ "github.com/berth/berth/internal/runtime/nsenter"
	"github.com/berth/berth/internal/shim"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == runtime.InitArg {
		runtime.Init()
	}
	if len(os.Args) > 1 && os.Args[1] == shim.Arg {
		shim.Main()
	}
	os.Stderr.WriteString("usage: berth-shim shim STATE-DIR\n")
	os.Exit(2)
}
