package runtime

import (
	"github.com/spf13/cobra"

	rt "github.com/berth/berth/internal/runtime"
)

type createOpts struct {
	bundle        string
	consoleSocket string
	pidFile       string
	noPivot       bool
	noNewKeyring  bool
	preserveFds   int
}

func (o *createOpts) flags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVarP(&o.bundle, "bundle", "b", ".", "path to the root of the bundle directory")
	f.StringVar(&o.consoleSocket, "console-socket", "", "path to an AF_UNIX socket which will receive the pty master")
	f.StringVar(&o.pidFile, "pid-file", "", "file to write the init's process id to")
	f.BoolVar(&o.noPivot, "no-pivot", false, "do not use pivot_root to jail the process inside rootfs")
	f.BoolVar(&o.noNewKeyring, "no-new-keyring", false, "accepted for compatibility")
	f.IntVar(&o.preserveFds, "preserve-fds", 0, "accepted for compatibility")
}

func (o *createOpts) runtimeOpts(g *globalOpts, id string) rt.CreateOpts {
	return rt.CreateOpts{
		Root:          g.root,
		ID:            id,
		Bundle:        o.bundle,
		ConsoleSocket: o.consoleSocket,
		PidFile:       o.pidFile,
		NoPivot:       o.noPivot,
	}
}

func newCreateCommand(g *globalOpts) *cobra.Command {
	o := &createOpts{}
	cmd := &cobra.Command{
		Use:   "create [flags] <container-id>",
		Short: "Create a container",
		Args:  exactArgs(1, "<container-id>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := rt.Create(o.runtimeOpts(g, args[0]))
			return g.fail(err)
		},
	}
	o.flags(cmd)
	return cmd
}

func newStartCommand(g *globalOpts) *cobra.Command {
	return &cobra.Command{
		Use:   "start <container-id>",
		Short: "Execute the user-defined process in a created container",
		Args:  exactArgs(1, "<container-id>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.load(args[0])
			if err != nil {
				return g.fail(err)
			}
			return g.fail(c.Start())
		},
	}
}
