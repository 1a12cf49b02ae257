package testutil

import (
	"fmt"
	"os"
	"testing"
)

// RunSuite is a test binary's TestMain body: it makes a temporary
// directory (named by prefix, removed afterwards), lets setup prepare the
// suite in it (setup records a failure for the tests to report or skip
// with), runs the tests and returns the exit code for os.Exit.
func RunSuite(m *testing.M, prefix string, setup func(dir string)) int {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	setup(dir)
	return m.Run()
}
