package runtime

import (
	"fmt"
	goruntime "runtime"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/cli/runtime/lifecycle"
	"github.com/berth/berth/internal/cli/version"
	rt "github.com/berth/berth/internal/runtime"
)

// ExitError carries a process exit code up to cli.Main.
type ExitError = lifecycle.ExitError

// globalOpts are runc's global flags.
type globalOpts = lifecycle.Global

// NewCommand returns the `berth runtime` command group.
func NewCommand() *cobra.Command {
	g := lifecycle.NewGlobal()
	cmd := &cobra.Command{
		Use:   "runtime",
		Short: "Run OCI bundles with Berth's own runtime (runc-compatible command line)",
		Long: "berth runtime runs containers from OCI bundles (a directory with config.json and a root\n" +
			"filesystem) with the same command line as runc, so tools that drive runc can drive Berth.",
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return g.Check()
		},
		// As runc: a word that is no command is an error (exit 3), not
		// the help text.
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return &ExitError{Code: 3, Err: fmt.Errorf("No help topic for '%s'", args[0])}
			}
			return cmd.Help()
		},
		// runc --version's lines.
		Version: version.Version,
	}
	cmd.SetVersionTemplate("berth version {{.Version}}\ncommit: " + commitOrUnknown() + "\nspec: " + specs.Version + "\ngo: " + goruntime.Version() + "\n")
	f := cmd.PersistentFlags()
	f.StringVar(&g.Root, "root", rt.DefaultRoot, "root directory for storage of container state")
	f.StringVar(&g.Log, "log", "", "file to write errors to, in addition to stderr")
	f.StringVar(&g.LogFormat, "log-format", "text", "log format: text or json")
	f.BoolVar(&g.Debug, "debug", false, "enable debug output")
	var systemd, rootless bool
	var criu string
	f.BoolVar(&systemd, "systemd-cgroup", false, "not supported: Berth manages cgroups through cgroupfs")
	f.StringVar(&criu, "criu", "", "not supported")
	f.StringVar(new(string), "rootless", "auto", "ignored")
	_ = rootless
	for _, n := range []string{"criu", "rootless"} {
		_ = f.MarkHidden(n)
	}
	cmd.AddCommand(
		newSpecCommand(g), newCreateCommand(g), newStartCommand(g), newRunCommand(g),
		newStateCommand(g), newKillCommand(g), newDeleteCommand(g), newExecCommand(g),
		newPsCommand(g), newListCommand(g), newPauseCommand(g), newResumeCommand(g),
		newUpdateCommand(g), newEventsCommand(g), newFeaturesCommand(g),
	)
	return cmd
}

func exactArgs(n int, usage string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return fmt.Errorf("%q requires exactly %d argument(s): %s", cmd.CommandPath(), n, usage)
		}
		return nil
	}
}

func commitOrUnknown() string {
	if version.GitCommit == "" {
		return "unknown"
	}
	return version.GitCommit
}
