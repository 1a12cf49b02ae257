package runtime

import (
	"github.com/spf13/cobra"
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
	return "exit status"
}

func (e *ExitError) Unwrap() error { return e.Err }

// NewCommand returns the `berth runtime` command group.
func NewCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "runtime",
		Short: "Run OCI bundles with Berth's own runtime (runc-compatible command line)",
	}
	return cmd
}
