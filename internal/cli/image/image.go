package image

import (
	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/cli/command"
	"github.com/berth/berth/internal/cli/container"
	"github.com/berth/berth/internal/client"
)

// AddCommands adds the `image` group, docker's top-level image commands
// (images, pull, push, rmi, tag, history, save, load, import, login,
// logout, search) to root. opts holds the global -H and TLS flags.
func AddCommands(root *cobra.Command, opts *client.Options) {
	group := &cobra.Command{
		Use:   "image",
		Short: "Manage images",
		Args:  container.NoArgs,
		RunE:  command.ShowHelp,
	}
	ls := newListCommand(opts)
	ls.Use, ls.Aliases = "ls [OPTIONS] [REPOSITORY[:TAG]]", []string{"images", "list"}
	rm := newRemoveCommand(opts)
	rm.Use, rm.Aliases = "rm [OPTIONS] IMAGE [IMAGE...]", []string{"rmi", "remove"}
	group.AddCommand(newHistoryCommand(opts), newImportCommand(opts), newInspectCommand(opts), newLoadCommand(opts),
		ls, newPruneCommand(opts), newPullCommand(opts), newPushCommand(opts), rm, newSaveCommand(opts), newTagCommand(opts))
	command.DockerHelp(group)
	for _, c := range group.Commands() {
		command.DockerHelp(c)
	}
	root.AddCommand(group)
	for _, c := range []*cobra.Command{newListCommand(opts), newPullCommand(opts), newPushCommand(opts), newRemoveCommand(opts),
		newTagCommand(opts), newHistoryCommand(opts), newSaveCommand(opts), newLoadCommand(opts), newImportCommand(opts),
		newLoginCommand(opts), newLogoutCommand(opts), newSearchCommand(opts)} {
		command.DockerHelp(c)
		root.AddCommand(c)
	}
}
