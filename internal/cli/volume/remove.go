package volume

import (
	"errors"
	"fmt"
	"strings"

	mobyclient "github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/cli/command"
	"github.com/berth/berth/internal/client"
)

func newRemoveCommand(copts *client.Options) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm [OPTIONS] VOLUME [VOLUME...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more volumes",
		Long:    "Remove one or more volumes. You cannot remove a volume that is in use by a container.",
		Args:    minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := command.Connect(copts)
			if err != nil {
				return err
			}
			defer c.Close()
			var errs []string
			for _, name := range args {
				if _, err := c.VolumeRemove(cmd.Context(), name, mobyclient.VolumeRemoveOptions{Force: force}); err != nil {
					var ue *client.UnreachableError
					if errors.As(err, &ue) {
						return command.DaemonError(err)
					}
					errs = append(errs, client.Cause(err).Error())
					continue
				}
				fmt.Fprintln(cmd.OutOrStdout(), name)
			}
			if len(errs) > 0 {
				return &command.StatusError{Code: 1, Err: errors.New(strings.Join(errs, "\n"))}
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force the removal of one or more volumes")
	return cmd
}
