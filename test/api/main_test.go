package api

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth/berth/internal/testutil"
)

var (
	berthBin      string
	berthBuildErr error
)

func TestMain(m *testing.M) {
	os.Exit(testutil.RunSuite(m, "berth-api-test-", func(dir string) {
		berthBin, berthBuildErr = testutil.BerthBinary(dir)
	}))
}

func requireBerth(t *testing.T) {
	t.Helper()
	if berthBuildErr != nil {
		t.Fatalf("build berth: %v", berthBuildErr)
	}
}

// dockerCLI returns the docker CLI's path or skips t saying it is missing.
func dockerCLI(t *testing.T) string {
	t.Helper()
	return testutil.RequireDockerCLI(t)
}

// newDaemonDirs makes a test daemon's roots (testutil.Daemon: a short
// temporary directory, as unix socket paths are limited to 108 bytes);
// its cleanup stops the daemon and removes them. startDaemon starts it.
func newDaemonDirs(t *testing.T) *testutil.Daemon {
	t.Helper()
	requireBerth(t)
	return testutil.NewDaemon(t, testutil.DaemonOptions{Binary: berthBin, DirPrefix: "bapi"})
}

// startDaemon starts berth daemon listening on d.Host (plus extra flags)
// and waits until it is ready.
func startDaemon(t *testing.T, d *testutil.Daemon, extra ...string) {
	t.Helper()
	d.Start(t, extra...)
}

// result of one CLI run.
type result struct {
	stdout, stderr string
	code           int
}

// run executes bin with args (and env additions), with a 60s limit.
func run(t *testing.T, env []string, bin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(testutil.CleanEnv(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %v: %v", bin, args, err)
	}
	return r
}

// dockerEnv gives the docker CLI a throw-away config directory.
func dockerEnv(t *testing.T) []string {
	return []string{"DOCKER_CONFIG=" + t.TempDir()}
}

// freeLoopbackPort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// rssKiB reads a process's resident set size.
func rssKiB(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return n
		}
	}
	t.Fatal("no VmRSS")
	return 0
}
