package network

import (
	"errors"
	"fmt"

	"github.com/containerd/errdefs"
	mobyclient "github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/cli/command"
	"github.com/berth/berth/internal/client"
)

func newRemoveCommand(copts *client.Options) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm NETWORK [NETWORK...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more networks",
		Args:    minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := command.Connect(copts)
			if err != nil {
				return err
			}
			defer c.Close()
			failed := false
			for _, name := range args {
				// docker looks the network up first (to warn about ingress
				// networks), then removes it whatever the answer.
				if _, err := c.NetworkInspect(cmd.Context(), name, mobyclient.NetworkInspectOptions{}); err != nil {
					var ue *client.UnreachableError
					if errors.As(err, &ue) {
						return command.DaemonError(err)
					}
				}
				if _, err := c.NetworkRemove(cmd.Context(), name, mobyclient.NetworkRemoveOptions{}); err != nil {
					var ue *client.UnreachableError
					if errors.As(err, &ue) {
						return command.DaemonError(err)
					}
					if force && errdefs.IsNotFound(err) {
						continue
					}
					fmt.Fprintln(cmd.ErrOrStderr(), client.Cause(err))
					failed = true
					continue
				}
				fmt.Fprintln(cmd.OutOrStdout(), name)
			}
			if failed {
				return &command.StatusError{Code: 1, Err: errors.New("exit status 1")}
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not error if the network does not exist")
	return cmd
}
