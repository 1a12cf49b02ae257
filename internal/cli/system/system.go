package system

import (
	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/cli/command"
	"github.com/berth/berth/internal/client"
)

// AddCommands adds version, info, events and the system group to root.
// opts holds the global -H and TLS flags; it is read when a command runs.
func AddCommands(root *cobra.Command, opts *client.Options) {
	sys := &cobra.Command{
		Use:   "system",
		Short: "Manage Berth",
		Args:  cobra.NoArgs,
		RunE:  command.ShowHelp,
	}
	sys.AddCommand(newInfoCommand(opts), newEventsCommand(opts), newDiskUsageCommand(opts), newPruneCommand(opts))
	for _, c := range []*cobra.Command{newVersionCommand(opts), newInfoCommand(opts), newEventsCommand(opts), sys} {
		command.DockerHelp(c)
		root.AddCommand(c)
	}
}
