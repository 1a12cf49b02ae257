package runtime

import (
	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/cli/runtime/lifecycle"
)

type createOpts = lifecycle.CreateOpts

func createFlags(cmd *cobra.Command, o *createOpts) {
	f := cmd.Flags()
	f.StringVarP(&o.Bundle, "bundle", "b", ".", "path to the root of the bundle directory")
	f.StringVar(&o.ConsoleSocket, "console-socket", "", "path to an AF_UNIX socket which will receive the pty master")
	f.StringVar(&o.PidFile, "pid-file", "", "file to write the init's process id to")
	f.BoolVar(&o.NoPivot, "no-pivot", false, "do not use pivot_root to jail the process inside rootfs")
	f.BoolVar(&o.NoNewKeyring, "no-new-keyring", false, "do not create a new session keyring for the container")
	f.IntVar(&o.PreserveFds, "preserve-fds", 0, "pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)")
}

func newCreateCommand(g *globalOpts) *cobra.Command {
	o := &createOpts{}
	cmd := &cobra.Command{
		Use:   "create [flags] <container-id>",
		Short: "Create a container",
		Args:  exactArgs(1, "<container-id>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return lifecycle.Create(g, o, args[0])
		},
	}
	createFlags(cmd, o)
	return cmd
}

func newStartCommand(g *globalOpts) *cobra.Command {
	return &cobra.Command{
		Use:   "start <container-id>",
		Short: "Execute the user-defined process in a created container",
		Args:  exactArgs(1, "<container-id>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return lifecycle.Start(g, args[0])
		},
	}
}
