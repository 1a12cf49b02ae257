package volume

import (
	"errors"
	"fmt"

	"github.com/docker/cli/opts"
	mobyclient "github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/cli/command"
	"github.com/berth/berth/internal/client"
)

type createOptions struct {
	name, driver string
	driverOpts   *opts.MapOpts
	labels       opts.ListOpts
}

func newCreateCommand(copts *client.Options) *cobra.Command {
	o := createOptions{driverOpts: opts.NewMapOpts(nil, nil), labels: opts.NewListOpts(opts.ValidateLabel)}
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] [VOLUME]",
		Short: "Create a volume",
		Args:  maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if o.name != "" {
					return &command.StatusError{Code: 1, Err: errors.New("conflicting options: cannot specify a volume-name through both --name and as a positional arg")}
				}
				o.name = args[0]
			}
			return connectDo(copts, func(c *client.Client) error {
				res, err := c.VolumeCreate(cmd.Context(), mobyclient.VolumeCreateOptions{
					Driver:     o.driver,
					DriverOpts: o.driverOpts.GetAll(),
					Name:       o.name,
					Labels:     opts.ConvertKVStringsToMap(o.labels.GetSlice()),
				})
				if err != nil {
					return err
				}
				_, err = fmt.Fprintln(cmd.OutOrStdout(), res.Volume.Name)
				return err
			})
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.driver, "driver", "d", "local", "Specify volume driver name")
	f.StringVar(&o.name, "name", "", "Specify volume name")
	_ = f.MarkHidden("name")
	f.VarP(o.driverOpts, "opt", "o", "Set driver specific options")
	f.Var(&o.labels, "label", "Set metadata for a volume")
	return cmd
}

// argsError is docker's wrong-argument-count error: exit 1, the usage
// line and a pointer to --help.
func argsError(cmd *cobra.Command, what, see string) error {
	return &command.StatusError{Code: 1, Err: fmt.Errorf("%s: '%s' %s\n\nUsage:  %s %s\n\n%s '%s --help' for more information",
		cmd.Root().Name(), cmd.CommandPath(), what, cmd.Parent().CommandPath(), cmd.Use, see, cmd.CommandPath())}
}

func maxArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) <= n {
			return nil
		}
		// docker 28's RequiresMaxArgs prints a stray "S" before "Run".
		return argsError(cmd, fmt.Sprintf("requires at most %d argument%s", n, plural(n)), "SRun")
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
