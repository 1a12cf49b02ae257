package runtime

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestChildExitStatus(t *testing.T) {
	for _, tc := range []struct {
		script, want string
	}{
		{"exit 0", ""},
		{"exit 3", "exit status 3"},
		{"kill -KILL $$", "signal: killed"},
		{"kill -TERM $$", "signal: terminated"},
	} {
		err := (&child{Path: "/bin/sh", Args: []string{"sh", "-c", tc.script}}).Run()
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("sh -c %q: got %q, want %q", tc.script, got, tc.want)
		}
	}
}

func TestChildStdioCopied(t *testing.T) {
	var out bytes.Buffer
	c := &child{Path: "/bin/sh", Args: []string{"sh", "-c", "cat; echo err >&2"}, Stdin: strings.NewReader("in\n"), Stdout: &out, Stderr: &out}
	if err := c.Run(); err != nil {
		t.Fatal(err)
	}
	if out.String() != "in\nerr\n" {
		t.Errorf("output %q, want %q", out.String(), "in\nerr\n")
	}
}

func TestChildStartErrorNamesPath(t *testing.T) {
	err := (&child{Path: "/nonexistent/berth-test", Args: []string{"x"}}).Start()
	var pe *os.PathError
	if !errors.As(err, &pe) || pe.Op != "fork/exec" || pe.Path != "/nonexistent/berth-test" || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Start of a missing binary: %v (%T)", err, err)
	}
}

// A kill after the process was reaped signals nothing: its pid may be
// another process's by then.
func TestChildKillAfterWait(t *testing.T) {
	c := &child{Path: "/bin/true", Args: []string{"true"}}
	if err := c.Run(); err != nil {
		t.Fatal(err)
	}
	if err := c.Process.Kill(); !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("Kill after Wait: %v, want %v", err, os.ErrProcessDone)
	}
	if _, err := c.Process.Wait(); !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("second Wait: %v, want %v", err, os.ErrProcessDone)
	}
}

func TestHookTimeoutKills(t *testing.T) {
	timeout := 1
	start := time.Now()
	err := runHook(specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "exec sleep 30"}, Timeout: &timeout}, []byte("{}"))
	if err == nil || err.Error() != "timed out after 1s" {
		t.Fatalf("hook of 30 s with a 1 s timeout: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the hook was not killed at its timeout: returned after %v", d)
	}
}

func TestHookFailureShowsOutput(t *testing.T) {
	err := runHook(specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "echo no way >&2; exit 2"}}, []byte("{}"))
	if err == nil || err.Error() != "exit status 2: no way" {
		t.Fatalf("failing hook: %v, want %q", err, "exit status 2: no way")
	}
}
