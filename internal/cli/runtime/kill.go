package runtime

import (
	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/cli/runtime/lifecycle"
)

func newKillCommand(g *globalOpts) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "kill [flags] <container-id> [signal]",
		Short: "Send a signal (default SIGTERM) to the container's init process",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			sig := ""
			if len(args) == 2 {
				sig = args[1]
			}
			return lifecycle.Kill(g, args[0], sig, all)
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "send the signal to all processes in the container")
	return cmd
}

func newDeleteCommand(g *globalOpts) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "delete [flags] <container-id>",
		Short: "Delete any resources held by the container",
		Args:  exactArgs(1, "<container-id>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return lifecycle.Delete(g, args[0], force)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "forcibly delete the container if it is still running (uses SIGKILL)")
	return cmd
}

func newPauseCommand(g *globalOpts) *cobra.Command {
	return &cobra.Command{
		Use:   "pause <container-id>",
		Short: "Suspend all processes inside the container",
		Args:  exactArgs(1, "<container-id>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.Load(args[0])
			if err != nil {
				return g.Fail(err)
			}
			return g.Fail(c.Pause())
		},
	}
}

func newResumeCommand(g *globalOpts) *cobra.Command {
	return &cobra.Command{
		Use:   "resume <container-id>",
		Short: "Resume all processes that have been previously paused",
		Args:  exactArgs(1, "<container-id>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.Load(args[0])
			if err != nil {
				return g.Fail(err)
			}
			return g.Fail(c.Resume())
		},
	}
}
