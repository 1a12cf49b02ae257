package runtime

import (
	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/cli/runtime/lifecycle"
)

func newRunCommand(g *globalOpts) *cobra.Command {
	o := &createOpts{}
	var detach, keep bool
	cmd := &cobra.Command{
		Use:   "run [flags] <container-id>",
		Short: "Create and run a container",
		Args:  exactArgs(1, "<container-id>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			code, err := lifecycle.Run(g, o, args[0], detach, keep)
			if err != nil {
				return g.Fail(err)
			}
			if code != 0 {
				return &ExitError{Code: code}
			}
			return nil
		},
	}
	createFlags(cmd, o)
	cmd.Flags().BoolVarP(&detach, "detach", "d", false, "detach from the container's process")
	cmd.Flags().BoolVar(&keep, "keep", false, "do not delete the container after it exits")
	cmd.Flags().BoolVar(&o.NoSubreaper, "no-subreaper", false, "disable the use of the subreaper used to reap reparented processes")
	return cmd
}
