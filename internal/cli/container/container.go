package container

import (
	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/cli/command"
	"github.com/berth/berth/internal/client"
)

// AddCommands adds the `container` group, docker's top-level aliases of
// its commands (run, ps, exec, ...) and the untyped `inspect` to root.
// opts holds the global -H and TLS flags; it is read when a command runs.
func AddCommands(root *cobra.Command, opts *client.Options) {
	group := &cobra.Command{
		Use:   "container",
		Short: "Manage containers",
		Args:  NoArgs,
		RunE:  command.ShowHelp,
	}
	sub := func() []*cobra.Command {
		ls := newPsCommand(opts)
		ls.Use, ls.Aliases = "ls [OPTIONS]", []string{"ps", "list"}
		return []*cobra.Command{
			newAttachCommand(opts), newCommitCommand(opts), newCpCommand(opts), newCreateCommand(opts), newDiffCommand(opts),
			newExecCommand(opts), newExportCommand(opts), newContainerInspectCommand(opts), newKillCommand(opts),
			newLogsCommand(opts), ls, newPauseCommand(opts, false), newPortCommand(opts), newPruneCommand(opts),
			newRenameCommand(opts), newStopCommand(opts, true), newRmCommand(opts), newRunCommand(opts),
			newStartCommand(opts), newStatsCommand(opts), newStopCommand(opts, false), newTopCommand(opts),
			newPauseCommand(opts, true), newUpdateCommand(opts), newWaitCommand(opts),
		}
	}
	for _, c := range sub() {
		group.AddCommand(c)
	}
	command.DockerHelp(group)
	for _, c := range group.Commands() {
		command.DockerHelp(c)
	}
	root.AddCommand(group)
	// Top-level aliases, as docker has them.
	for _, c := range sub() {
		if c.Name() == "ls" || c.Name() == "prune" || c.Name() == "inspect" {
			continue
		}
		c.Aliases = nil
		command.DockerHelp(c)
		root.AddCommand(c)
	}
	ps := newPsCommand(opts)
	ps.Aliases = nil
	command.DockerHelp(ps)
	inspect := NewInspectCommand(opts)
	command.DockerHelp(inspect)
	root.AddCommand(ps, inspect)
}
