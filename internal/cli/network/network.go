package network

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/cli/command"
	"github.com/berth/berth/internal/client"
)

// AddCommands adds the `network` group to root. opts holds the global -H
// and TLS flags.
func AddCommands(root *cobra.Command, opts *client.Options) {
	group := &cobra.Command{
		Use:   "network",
		Short: "Manage networks",
		Args:  cobra.NoArgs,
		RunE:  command.ShowHelp,
	}
	group.AddCommand(newConnectCommand(opts), newCreateCommand(opts), newDisconnectCommand(opts),
		newInspectCommand(opts), newListCommand(opts), newRemoveCommand(opts), newPruneCommand(opts))
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

// argsError is docker's wrong-argument-count error: exit 1, the usage
// line and a pointer to --help.
func argsError(cmd *cobra.Command, what, see string) error {
	return &command.StatusError{Code: 1, Err: fmt.Errorf("%s: '%s' %s\n\nUsage:  %s %s\n\n%s '%s --help' for more information",
		cmd.Root().Name(), cmd.CommandPath(), what, cmd.Parent().CommandPath(), cmd.Use, see, cmd.CommandPath())}
}

func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == n {
			return nil
		}
		return argsError(cmd, fmt.Sprintf("requires %d argument%s", n, plural(n)), "See")
	}
}

func minArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) >= n {
			return nil
		}
		return argsError(cmd, fmt.Sprintf("requires at least %d argument%s", n, plural(n)), "See")
	}
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	return argsError(cmd, "accepts no arguments", "Run")
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
