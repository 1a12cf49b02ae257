package volume

import (
	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/cli/command"
	"github.com/berth/berth/internal/client"
)

// AddCommands adds the `volume` group to root. opts holds the global -H
// and TLS flags.
func AddCommands(root *cobra.Command, opts *client.Options) {
	group := &cobra.Command{
		Use:   "volume",
		Short: "Manage volumes",
		Args:  cobra.NoArgs,
		RunE:  command.ShowHelp,
	}
	group.AddCommand(newCreateCommand(opts), newInspectCommand(opts), newListCommand(opts), newPruneCommand(opts), newRemoveCommand(opts))
	command.DockerHelp(group)
	for _, c := range group.Commands() {
		command.DockerHelp(c)
	}
	root.AddCommand(group)
}

// connectDo runs fn with a client for the selected daemon; a failed call
// is a daemon error (exit 1).
func connectDo(copts *client.Options, fn func(*client.Client) error) error {
	c, err := command.Connect(copts)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := fn(c); err != nil {
		return command.DaemonError(err)
	}
	return nil
}
