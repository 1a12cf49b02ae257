package runtime

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	rt "github.com/berth/berth/internal/runtime"
)

// ExitError carries a process exit code up to cli.Main; Err, when set, is
// printed first.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err != nil {
		return e.Err.Error()
	}
	return fmt.Sprintf("exit status %d", e.Code)
}

func (e *ExitError) Unwrap() error { return e.Err }

// globalOpts are runc's global flags.
type globalOpts struct {
	root      string
	log       string
	logFormat string
	debug     bool
}

// NewCommand returns the `berth runtime` command group.
func NewCommand() *cobra.Command {
	g := &globalOpts{}
	cmd := &cobra.Command{
		Use:   "runtime",
		Short: "Run OCI bundles with Berth's own runtime (runc-compatible command line)",
		Long: "berth runtime runs containers from OCI bundles (a directory with config.json and a root\n" +
			"filesystem) with the same command line as runc, so tools that drive runc can drive Berth.",
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if g.logFormat != "text" && g.logFormat != "json" {
				return fmt.Errorf("invalid log-format: %s", g.logFormat)
			}
			return nil
		},
	}
	f := cmd.PersistentFlags()
	f.StringVar(&g.root, "root", rt.DefaultRoot, "root directory for storage of container state")
	f.StringVar(&g.log, "log", "", "file to write errors to, in addition to stderr")
	f.StringVar(&g.logFormat, "log-format", "text", "log format: text or json")
	f.BoolVar(&g.debug, "debug", false, "enable debug output")
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

// fail logs err to --log (if any) and returns it for cli.Main to print.
func (g *globalOpts) fail(err error) error {
	if err == nil || g.log == "" {
		return err
	}
	f, ferr := os.OpenFile(g.log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if ferr != nil {
		return err
	}
	defer f.Close()
	if g.logFormat == "json" {
		b, _ := json.Marshal(map[string]string{"level": "error", "msg": err.Error(), "time": time.Now().UTC().Format(time.RFC3339Nano)})
		fmt.Fprintf(f, "%s\n", b)
	} else {
		fmt.Fprintf(f, "time=%q level=error msg=%q\n", time.Now().UTC().Format(time.RFC3339Nano), err.Error())
	}
	return err
}

func exactArgs(n int, usage string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return fmt.Errorf("%q requires exactly %d argument(s): %s", cmd.CommandPath(), n, usage)
		}
		return nil
	}
}

func (g *globalOpts) load(id string) (*rt.Container, error) {
	return rt.Load(g.root, id)
}
