package command

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/client"
)

func TestFlagErrorAndHelp(t *testing.T) {
	root := &cobra.Command{Use: "berth", SilenceErrors: true, SilenceUsage: true}
	root.SetFlagErrorFunc(FlagError)
	sub := &cobra.Command{Use: "version [OPTIONS]", Short: "Show the version", RunE: func(*cobra.Command, []string) error { return nil }}
	sub.Flags().StringP("format", "f", "", "Format output")
	DockerHelp(sub)
	root.AddCommand(sub)

	root.SetArgs([]string{"version", "--bogus"})
	err := root.Execute()
	var se *StatusError
	if !errors.As(err, &se) || se.ExitCode() != 125 {
		t.Fatalf("flag error = %v, want a StatusError with code 125", err)
	}
	want := "unknown flag: --bogus\n\nUsage:  berth version [OPTIONS]\n\nRun 'berth version --help' for more information"
	if err.Error() != want {
		t.Errorf("flag error text:\n%s\nwant:\n%s", err, want)
	}
	root.SetArgs([]string{"--nope"})
	if err := root.Execute(); err == nil || !strings.Contains(err.Error(), "Usage:  berth [OPTIONS] COMMAND [ARG...]") {
		t.Errorf("root flag error = %v", err)
	}

	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"version", "--help"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "Usage:  berth version [OPTIONS]\n\nShow the version\n\nOptions:\n  -f, --format string") {
		t.Errorf("help:\n%s", out.String())
	}
}

func TestDaemonErrorUsesUnreachableCause(t *testing.T) {
	ue := &client.UnreachableError{Host: "unix:///x.sock", Err: errors.New("dial: refused")}
	wrapped := errors.Join(errors.New("error during connect"), ue)
	err := DaemonError(wrapped)
	var se *StatusError
	if !errors.As(err, &se) || se.ExitCode() != 1 || err.Error() != ue.Error() {
		t.Errorf("DaemonError = %v (%T)", err, err)
	}
	if UsageError("bad %s", "x").(*StatusError).Code != 125 {
		t.Error("UsageError code is not 125")
	}
}
