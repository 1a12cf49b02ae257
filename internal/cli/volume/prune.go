package volume

import (
	"errors"
	"fmt"

	"github.com/docker/cli/opts"
	"github.com/docker/go-units"
	mobyclient "github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/cli/command"
	"github.com/berth/berth/internal/client"
)

const (
	anonymousWarning = "WARNING! This will remove anonymous local volumes not used by at least one container."
	allWarning       = "WARNING! This will remove all local volumes not used by at least one container."
)

func newPruneCommand(copts *client.Options) *cobra.Command {
	var all, force bool
	filter := opts.NewFilterOpt()
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused local volumes",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f := filter.Value().Clone()
			warning := anonymousWarning
			if all {
				if _, ok := f["all"]; ok {
					return &command.StatusError{Code: 1, Err: errors.New("conflicting options: cannot specify both --all and --filter all=1")}
				}
				f.Add("all", "true")
				warning = allWarning
			}
			out := cmd.OutOrStdout()
			if !force {
				// Docker's prompt: a "no" ends quietly with exit 0.
				if !command.Confirm(cmd, warning) {
					return nil
				}
			}
			return connectDo(copts, func(c *client.Client) error {
				res, err := c.VolumePrune(cmd.Context(), mobyclient.VolumePruneOptions{Filters: f})
				if err != nil {
					return err
				}
				var space uint64
				if len(res.Report.VolumesDeleted) > 0 {
					fmt.Fprintln(out, "Deleted Volumes:")
					for _, n := range res.Report.VolumesDeleted {
						fmt.Fprintln(out, n)
					}
					fmt.Fprintln(out)
					space = res.Report.SpaceReclaimed
				}
				fmt.Fprintln(out, "Total reclaimed space:", units.HumanSize(float64(space)))
				return nil
			})
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "Remove all unused volumes, not just anonymous ones")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	cmd.Flags().Var(&filter, "filter", `Provide filter values (e.g. "label=<label>")`)
	return cmd
}
