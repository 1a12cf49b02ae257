package network

import (
	"context"

	mobyclient "github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/cli/container"
	"github.com/berth/berth/internal/client"
)

func newInspectCommand(copts *client.Options) *cobra.Command {
	var format string
	var verbose bool
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] NETWORK [NETWORK...]",
		Short: "Display detailed information on one or more networks",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			lookup := func(ctx context.Context, c *client.Client, name string) (container.Inspected, error) {
				r, err := c.NetworkInspect(ctx, name, mobyclient.NetworkInspectOptions{Verbose: verbose})
				return container.Inspected{Value: r.Network, Raw: r.Raw}, err
			}
			return container.RunInspect(cmd, copts, format, args, lookup)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "Verbose output for diagnostics")
	return cmd
}
