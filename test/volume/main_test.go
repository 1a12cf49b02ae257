package volume

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/berth/berth/internal/testutil"
)

const dockerCLI = testutil.DockerCLI

var env struct {
	skip  string
	berth string // the berth binary
}

func TestMain(m *testing.M) {
	os.Exit(testutil.RunSuite(m, "berth-vol-", func(dir string) {
		if err := setup(dir); err != nil {
			env.skip = err.Error()
		}
	}))
}

func setup(tmp string) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root to start a daemon")
	}
	if _, err := os.Stat(dockerCLI); err != nil {
		return fmt.Errorf("the docker CLI 28 is not at %s: %v", dockerCLI, err)
	}
	var err error
	env.berth, err = testutil.BerthBinary(tmp)
	return err
}

// newDaemon starts a berth daemon (--bridge none) on roots of its own;
// its cleanup stops it and fails the test if it left anything behind.
func newDaemon(t *testing.T) *testutil.Daemon {
	t.Helper()
	if env.skip != "" {
		t.Skip(env.skip)
	}
	return testutil.StartDaemon(t, testutil.DaemonOptions{Binary: env.berth, DirPrefix: "berth-vol-d"})
}

// result is one CLI run.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// run runs bin (the docker CLI or berth) against d with stdin.
func run(t *testing.T, d *testutil.Daemon, bin, stdin string, args ...string) result {
	t.Helper()
	r := d.Run(t, bin, testutil.RunOptions{Stdin: strings.NewReader(stdin)}, args...)
	return result{stdout: r.Stdout, stderr: r.Stderr, code: r.Code}
}
