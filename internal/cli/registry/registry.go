package registry

import "github.com/spf13/cobra"

// DefaultRoot is where the registry keeps its data unless --root says
// otherwise.
const DefaultRoot = "/var/lib/berth/registry"

// NewCommand returns the `berth registry` command group.
func NewCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "registry",
		Short: "Run and maintain an OCI image registry",
	}
	cmd.AddCommand(newServeCommand(), newGCCommand())
	return cmd
}
