package apiimages

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/berth/berth/internal/testutil"
)

var (
	berthBin      string
	berthBuildErr error
	busyboxDir    string // OCI layout of busybox:latest from hack/mkimage-busybox.sh
	busyboxErr    error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "berth-apiimages-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	berthBin = filepath.Join(dir, "berth")
	berthBuildErr = testutil.GoBuild(berthBin, "./cmd/berth")
	busyboxDir = filepath.Join(dir, "busybox-oci")
	busyboxErr = makeBusybox(busyboxDir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func makeBusybox(dir string) error {
	root, err := testutil.ModuleRoot()
	if err != nil {
		return err
	}
	out, err := exec.Command("sh", filepath.Join(root, "hack", "mkimage-busybox.sh"), dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("hack/mkimage-busybox.sh: %v\n%s", err, out)
	}
	return nil
}

// lockedBuffer collects a process's output safely while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// daemon is a `berth daemon` started by a test on its own roots.
type daemon struct {
	dir, dataRoot, sock string
	host                string // -H for clients
	cmd                 *exec.Cmd
	log                 *lockedBuffer
	done                chan struct{}
}

// startDaemon starts berth daemon on a short temporary directory (unix
// socket paths are limited to 108 bytes) with config as its daemon.json,
// and waits until it answers; cleanup stops it by its PID and removes the
// directory (and any mount under it).
func startDaemon(t *testing.T, config string) *daemon {
	t.Helper()
	if berthBuildErr != nil {
		t.Fatalf("build berth: %v", berthBuildErr)
	}
	dir, err := os.MkdirTemp("", "bimg")
	if err != nil {
		t.Fatal(err)
	}
	d := &daemon{dir: dir, dataRoot: filepath.Join(dir, "data"), sock: filepath.Join(dir, "d.sock")}
	d.host = "unix://" + d.sock
	t.Cleanup(func() {
		unmountUnder(dir)
		os.RemoveAll(dir)
	})
	if config == "" {
		config = "{}"
	}
	cfgFile := filepath.Join(dir, "daemon.json")
	if err := os.WriteFile(cfgFile, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	d.log = &lockedBuffer{}
	d.cmd = exec.Command(berthBin, "daemon", "--bridge", "none", "--data-root", d.dataRoot, "--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "d.pid"), "--config-file", cfgFile, "-H", d.host)
	// The daemon's own registry credentials: none (an empty config dir).
	d.cmd.Env = append(cleanEnv(), "DOCKER_CONFIG="+home, "HOME="+home)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d.done = make(chan struct{})
	go func() { d.cmd.Wait(); close(d.done) }()
	t.Cleanup(func() { d.stop(t) })
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(d.log.String(), "berth daemon ready") {
		select {
		case <-d.done:
			t.Fatalf("daemon exited before it was ready:\n%s", d.log.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon not ready after 20s:\n%s", d.log.String())
		}
	}
	return d
}

// stop ends the daemon with SIGTERM (SIGKILL if it hangs).
func (d *daemon) stop(t *testing.T) {
	select {
	case <-d.done:
		return
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(15 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
		t.Errorf("daemon ignored SIGTERM for 15s; killed. Log:\n%s", d.log.String())
	}
	if t.Failed() {
		t.Logf("daemon log:\n%s", d.log.String())
	}
}

// unmountUnder lazily unmounts whatever is still mounted below dir (a
// failed test may leave a view), deepest first.
func unmountUnder(dir string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var mps []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			mps = append(mps, f[4])
		}
	}
	for i := len(mps) - 1; i >= 0; i-- {
		_ = syscall.Unmount(mps[i], syscall.MNT_DETACH)
	}
}

// httpClient talks HTTP to the daemon's socket.
func (d *daemon) httpClient() *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var dl net.Dialer
		return dl.DialContext(ctx, "unix", d.sock)
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
	cmd.Env = append(cleanEnv(), env...)
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

// cleanEnv is the test's environment without anything that selects a
// daemon or a docker config.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "BERTH_HOST", "DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_API_VERSION", "DOCKER_CONFIG":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// dockerCLI returns the docker CLI's path or skips t saying it is missing.
func dockerCLI(t *testing.T) string {
	t.Helper()
	const p = "/usr/local/bin/docker"
	if _, err := os.Stat(p); err != nil {
		t.Skipf("the docker CLI is not installed at %s (%v): docker CLI cases skipped", p, err)
	}
	return p
}

// cli runs the docker CLI against d with a private config directory.
type cli struct {
	t      *testing.T
	docker string
	host   string
	env    []string
}

func newCLI(t *testing.T, d *daemon) *cli {
	return &cli{t: t, docker: dockerCLI(t), host: d.host, env: []string{"DOCKER_CONFIG=" + t.TempDir()}}
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
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		t.Skip("docker-registry is not installed (hack/install-deps.sh)")
	}
	dir := t.TempDir()
	host := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := fmt.Sprintf("version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s/data\n  delete:\n    enabled: true\nhttp:\n  addr: %s\n", dir, host)
	if user != "" {
		h, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "htpasswd"), []byte(user+":"+string(h)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg += fmt.Sprintf("auth:\n  htpasswd:\n    realm: berth-test\n    path: %s/htpasswd\n", dir)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", filepath.Join(dir, "config.yml"))
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("docker-registry log:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + host + "/v2/")
		if err == nil {
			resp.Body.Close()
			return host
		}
		if time.Now().After(deadline) {
			t.Fatalf("docker-registry on %s did not answer: %v\n%s", host, err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
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
