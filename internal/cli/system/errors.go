package system

import (
	"fmt"

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

// usageError is a bad flag or argument: exit 125, as docker.
func usageError(format string, args ...any) error {
	return &StatusError{Code: 125, Err: fmt.Errorf(format, args...)}
}

// daemonError is a failed call to the daemon: exit 1, with the one-line
// reason when no daemon answered.
func daemonError(err error) error {
	return &StatusError{Code: 1, Err: client.Cause(err)}
}
