package cli

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	buildcli "github.com/berth/berth/internal/cli/build"
	"github.com/berth/berth/internal/cli/command"
	containercli "github.com/berth/berth/internal/cli/container"
	"github.com/berth/berth/internal/cli/daemon"
	imagecli "github.com/berth/berth/internal/cli/image"
	networkcli "github.com/berth/berth/internal/cli/network"
	registrycli "github.com/berth/berth/internal/cli/registry"
	runtimecli "github.com/berth/berth/internal/cli/runtime"
	"github.com/berth/berth/internal/cli/system"
	"github.com/berth/berth/internal/cli/version"
	volumecli "github.com/berth/berth/internal/cli/volume"
	"github.com/berth/berth/internal/client"
)

// Main runs the berth command tree with args and returns the process exit code.
func Main(args []string) int {
	// `berth runtime ...` is on every container's start path (containerd and
	// scripts call it as they call runc): it gets a tree of its own, without
	// the docker commands and their daemon flags.
	if len(args) > 0 && args[0] == "runtime" {
		root := &cobra.Command{Use: "berth", SilenceUsage: true, SilenceErrors: true}
		rt := runtimecli.NewCommand()
		rt.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return err })
		root.AddCommand(rt)
		root.SetArgs(args)
		return exitCode(root.Execute())
	}
	build := version.GitCommit
	if build == "" {
		build = "unknown"
	}
	root := &cobra.Command{
		Use:           "berth",
		Short:         "A self-sufficient runtime for containers",
		SilenceUsage:  true,
		SilenceErrors: true,
		// docker --version / -v: "Docker version 28.2.2, build e6534b4".
		Version: version.Version + ", build " + build,
		// The global flags come before the command, as docker's: they
		// are the root's own flags, read on the way to the command, so
		// that a command's -H (history --human) is its own.
		TraverseChildren: true,
		// Without a command: the help. With one that does not exist:
		// docker's words and exit 1.
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			return &command.StatusError{Code: 1, Err: fmt.Errorf("berth: unknown command: berth %s\n\nRun 'berth --help' for more information", args[0])}
		},
	}
	root.SetVersionTemplate("Berth version {{.Version}}\n")
	// Global flags select the daemon the docker-compatible commands talk to.
	var clientOpts client.Options
	pf := root.Flags()
	pf.StringVarP(&clientOpts.Host, "host", "H", "", "Daemon socket to connect to (default $BERTH_HOST, $DOCKER_HOST or "+client.DefaultHost+")")
	pf.BoolVar(&clientOpts.TLS, "tls", false, "Use TLS; implied by --tlsverify")
	pf.BoolVar(&clientOpts.TLSVerify, "tlsverify", false, "Use TLS and verify the remote")
	pf.StringVar(&clientOpts.CACert, "tlscacert", "", "Trust certs signed only by this CA")
	pf.StringVar(&clientOpts.Cert, "tlscert", "", "Path to TLS certificate file")
	pf.StringVar(&clientOpts.Key, "tlskey", "", "Path to TLS key file")
	// Flag errors exit 125 as docker's; the runc-compatible runtime keeps
	// runc's behaviour (exit 1).
	root.SetFlagErrorFunc(command.FlagError)
	rt := runtimecli.NewCommand()
	rt.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return err })
	root.AddCommand(rt)
	daemonCmd := daemon.NewCommand()
	command.DockerHelp(daemonCmd)
	root.AddCommand(daemonCmd)
	system.AddCommands(root, &clientOpts)
	containercli.AddCommands(root, &clientOpts)
	imagecli.AddCommands(root, &clientOpts)
	buildcli.AddCommands(root, &clientOpts)
	volumecli.AddCommands(root, &clientOpts)
	networkcli.AddCommands(root, &clientOpts)
	root.AddCommand(registrycli.NewCommand())
	root.SetArgs(args)
	return exitCode(root.Execute())
}

// exitCode prints err as the command's kind wants and returns the process
// exit code.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *runtimecli.ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			fmt.Fprintln(os.Stderr, "berth:", ee.Err)
		}
		return ee.Code
	}
	// Docker-style commands carry their exit code (125 usage, 1 daemon).
	var coded interface{ ExitCode() int }
	if errors.As(err, &coded) {
		if msg := err.Error(); msg != "" {
			fmt.Fprintln(os.Stderr, msg)
		}
		return coded.ExitCode()
	}
	var unreachable *client.UnreachableError
	if errors.As(err, &unreachable) {
		fmt.Fprintln(os.Stderr, unreachable)
		return 1
	}
	fmt.Fprintln(os.Stderr, "berth:", err)
	return 1
}
