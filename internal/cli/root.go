package cli

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	registrycli "github.com/berth/berth/internal/cli/registry"
	runtimecli "github.com/berth/berth/internal/cli/runtime"
)

// Main runs the berth command tree with args and returns the process exit code.
func Main(args []string) int {
	root := &cobra.Command{
		Use:           "berth",
		Short:         "A self-sufficient runtime for containers",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(runtimecli.NewCommand())
	root.AddCommand(registrycli.NewCommand())
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var ee *runtimecli.ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			fmt.Fprintln(os.Stderr, "berth:", ee.Err)
		}
		return ee.Code
	}
	fmt.Fprintln(os.Stderr, "berth:", err)
	return 1
}
