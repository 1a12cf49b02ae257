package command

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/client"
)

// StatusError is an error with the exit code the docker CLI would use.
// The message is printed as is (an empty one prints nothing).
type StatusError struct {
	Code int
	Err  error
}

func (e *StatusError) Error() string {
	if e.Err == nil {
		return ""
	}
	return e.Err.Error()
}

func (e *StatusError) Unwrap() error { return e.Err }

// ExitCode is the process exit code for e.
func (e *StatusError) ExitCode() int { return e.Code }

// UsageError is a bad flag or argument: exit 125, as docker.
func UsageError(format string, args ...any) error {
	return &StatusError{Code: 125, Err: fmt.Errorf(format, args...)}
}

// DaemonError is a failed call to the daemon: exit 1, with the one-line
// reason when no daemon answered.
func DaemonError(err error) error {
	return &StatusError{Code: 1, Err: client.Cause(err)}
}

// FlagError is the cobra flag-error hook: exit 125 with docker's usage hint.
func FlagError(cmd *cobra.Command, err error) error {
	return &StatusError{Code: 125, Err: fmt.Errorf("%w\n\nUsage:  %s\n\nRun '%s --help' for more information", err, usageLine(cmd), cmd.CommandPath())}
}

// usageLine is docker's "berth version [OPTIONS]" form of the usage line.
func usageLine(cmd *cobra.Command) string {
	if cmd.HasParent() {
		return cmd.Parent().CommandPath() + " " + cmd.Use
	}
	return cmd.Name() + " [OPTIONS] COMMAND [ARG...]"
}
