package apiimages

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth/berth/internal/testutil"
)

var (
	berthBin      string
	berthBuildErr error
	busyboxDir    string // OCI layout of busybox:latest from hack/mkimage-busybox.sh
	busyboxErr    error
)

func TestMain(m *testing.M) {
	os.Exit(testutil.RunSuite(m, "berth-apiimages-", func(dir string) {
		berthBin, berthBuildErr = testutil.BerthBinary(dir)
		if img, err := testutil.MakeBusyboxImage(dir); err != nil {
			busyboxErr = err
		} else {
			busyboxDir = img.Layout
		}
	}))
}

// lockedBuffer collects a process's output safely while it runs.
type lockedBuffer = testutil.LockedBuffer

// daemon is a `berth daemon` started by a test on its own roots.
type daemon struct {
	*testutil.Daemon
}

// startDaemon starts berth daemon (testutil.Daemon: a short temporary
// directory, as unix socket paths are limited to 108 bytes) with config
// as its daemon.json and no registry credentials of its own, and waits
// until it is ready; cleanup stops it by its PID and removes the
// directory (and any mount under it).
func startDaemon(t *testing.T, config string) *daemon {
	t.Helper()
	if berthBuildErr != nil {
		t.Fatalf("build berth: %v", berthBuildErr)
	}
	d := &daemon{testutil.NewDaemon(t, testutil.DaemonOptions{Binary: berthBin, DirPrefix: "bimg", Config: config})}
	// The daemon's own registry credentials: none (an empty config dir).
	home := filepath.Join(d.Dir, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	d.SetEnv([]string{"DOCKER_CONFIG=" + home, "HOME=" + home})
	d.Start(t)
	return d
}

// httpClient talks HTTP to the daemon's socket.
func (d *daemon) httpClient() *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var dl net.Dialer
		return dl.DialContext(ctx, "unix", d.Sock)
	}}}
}

// result of one CLI run.
type result struct {
	stdout, stderr string
	code           int
}

// run executes bin with args (and env additions), with a 120 s limit,
// and stdin when not nil.
func run(t *testing.T, env []string, stdin []byte, bin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(testutil.CleanEnv(), env...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
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

// dockerCLI returns the docker CLI's path or skips t saying it is missing.
func dockerCLI(t *testing.T) string {
	t.Helper()
	return testutil.RequireDockerCLI(t)
}

// cli runs the docker CLI against d with a private config directory.
type cli struct {
	t      *testing.T
	docker string
	host   string
	env    []string
}

func newCLI(t *testing.T, d *daemon) *cli {
	return &cli{t: t, docker: dockerCLI(t), host: d.Host, env: []string{"DOCKER_CONFIG=" + t.TempDir()}}
}

func (c *cli) run(args ...string) result {
	c.t.Helper()
	return run(c.t, c.env, nil, c.docker, append([]string{"-H", c.host}, args...)...)
}

func (c *cli) runIn(stdin []byte, args ...string) result {
	c.t.Helper()
	return run(c.t, c.env, stdin, c.docker, append([]string{"-H", c.host}, args...)...)
}

// ok runs args and fails the test unless they exit 0.
func (c *cli) ok(args ...string) result {
	c.t.Helper()
	r := c.run(args...)
	if r.code != 0 {
		c.t.Fatalf("docker %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startRegistry runs Debian's docker-registry on 127.0.0.1 with its own
// temporary root, with htpasswd auth for user:pass when user is not empty,
// and returns its host:port; cleanup kills it by its PID.
func startRegistry(t *testing.T, user, pass string) string {
	t.Helper()
	return testutil.StartDockerRegistry(t, user, pass)
}

// skopeo runs skopeo with args and fails the test on error.
func skopeo(t *testing.T, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("skopeo")
	if err != nil {
		t.Skip("skopeo is not installed (hack/install-deps.sh)")
	}
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("skopeo %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// pushBusybox copies the busybox OCI layout into the registry as repo:tag.
func pushBusybox(t *testing.T, host, repo string, creds ...string) {
	t.Helper()
	if busyboxErr != nil {
		t.Fatal(busyboxErr)
	}
	args := []string{"copy", "--quiet", "--dest-tls-verify=false"}
	if len(creds) == 2 {
		args = append(args, "--dest-creds", creds[0]+":"+creds[1])
	}
	skopeo(t, append(args, "oci:"+busyboxDir+":latest", "docker://"+host+"/"+repo)...)
}
