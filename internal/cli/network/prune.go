package network

import (
	"fmt"

	"github.com/docker/cli/opts"
	mobyclient "github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/cli/command"
	"github.com/berth/berth/internal/client"
)

const pruneWarning = "WARNING! This will remove all custom networks not used by at least one container."

func newPruneCommand(copts *client.Options) *cobra.Command {
	var force bool
	filter := opts.NewFilterOpt()
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all unused networks",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			if !force {
				// Docker's prompt: a "no" ends quietly with exit 0.
				if !command.Confirm(cmd, pruneWarning) {
					return nil
				}
			}
			return connectDo(copts, func(c *client.Client) error {
				res, err := c.NetworkPrune(cmd.Context(), mobyclient.NetworkPruneOptions{Filters: filter.Value()})
				if err != nil {
					return err
				}
				if len(res.Report.NetworksDeleted) > 0 {
					fmt.Fprintln(out, "Deleted Networks:")
					for _, n := range res.Report.NetworksDeleted {
						fmt.Fprintln(out, n)
					}
					fmt.Fprintln(out)
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	cmd.Flags().Var(&filter, "filter", `Provide filter values (e.g. "until=<timestamp>")`)
	return cmd
}
