package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const dockerCLI = "/usr/local/bin/docker"

// env is what every parity test needs; skip says why it cannot run.
var env struct {
	skip      string
	berth     string // the berth binary
	host      string // unix://... of the daemon under test
	configDir string // DOCKER_CONFIG of both CLIs
	tmp       string
}

func TestMain(m *testing.M) {
	code := func() int {
		tmp, err := os.MkdirTemp("", "berth-cli-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(tmp)
		env.tmp = tmp
		stop, err := setup(tmp)
		if stop != nil {
			defer stop()
		}
		if err != nil {
			env.skip = err.Error()
		}
		return m.Run()
	}()
	os.Exit(code)
}

// setup builds berth, starts dockerd and loads busybox into it. The
// returned function stops dockerd and unmounts what it left.
func setup(tmp string) (func(), error) {
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("needs root to start dockerd")
	}
	if _, err := os.Stat(dockerCLI); err != nil {
		return nil, fmt.Errorf("the docker CLI 28 is not at %s: %v", dockerCLI, err)
	}
	dockerd, err := exec.LookPath("dockerd")
	if err != nil {
		return nil, fmt.Errorf("dockerd not installed (hack/install-deps.sh installs docker.io): %v", err)
	}
	for _, tool := range []string{"skopeo", "sh"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("%s not installed: %v", tool, err)
		}
	}
	env.berth = os.Getenv("BERTH_TEST_BINARY")
	if env.berth == "" {
		env.berth = filepath.Join(tmp, "berth")
		out, err := exec.Command("go", "build", "-o", env.berth, "github.com/berth/berth/cmd/berth").CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("go build berth: %v\n%s", err, out)
		}
	}
	env.configDir = filepath.Join(tmp, "config")
	if err := os.MkdirAll(env.configDir, 0o700); err != nil {
		return nil, err
	}
	// Short paths: unix socket names are limited to 108 bytes.
	root := filepath.Join(tmp, "d")
	sock := filepath.Join(root, "docker.sock")
	pidfile := filepath.Join(root, "docker.pid")
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(tmp, "dockerd.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(dockerd, "--data-root", filepath.Join(root, "data"), "--exec-root", filepath.Join(root, "exec"),
		"-H", "unix://"+sock, "--pidfile", pidfile, "--bridge", "none", "--iptables=false", "--ip6tables=false",
		"--ip-forward=false", "--ip-masq=false", "--userland-proxy=false", "--storage-driver", "overlay2")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start dockerd: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		logf.Close()
		unmountUnder(root)
	}
	env.host = "unix://" + sock
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := exec.Command(dockerCLI, "-H", env.host, "version").Run(); err == nil {
			break
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(logf.Name())
			return stop, fmt.Errorf("dockerd exited at start:\n%s", tail(string(b), 2000))
		default:
		}
		if time.Now().After(deadline) {
			return stop, fmt.Errorf("dockerd did not answer within 30s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := loadBusybox(tmp); err != nil {
		return stop, err
	}
	return stop, nil
}

// loadBusybox builds busybox:latest with hack/mkimage-busybox.sh and
// loads it through `docker load`.
func loadBusybox(tmp string) error {
	repo, err := repoRoot()
	if err != nil {
		return err
	}
	layout := filepath.Join(tmp, "busybox-oci")
	archive := filepath.Join(tmp, "busybox.tar")
	steps := [][]string{
		{"sh", filepath.Join(repo, "hack/mkimage-busybox.sh"), layout},
		{"skopeo", "copy", "-q", "oci:" + layout + ":latest", "docker-archive:" + archive + ":busybox:latest"},
		{dockerCLI, "-H", env.host, "load", "-q", "-i", archive},
	}
	for _, s := range steps {
		if out, err := exec.Command(s[0], s[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v\n%s", strings.Join(s, " "), err, out)
		}
	}
	return nil
}

func repoRoot() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return "", fmt.Errorf("go list -m: %v", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// unmountUnder lazily unmounts anything dockerd left mounted below dir.
func unmountUnder(dir string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var mps []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && strings.HasPrefix(f[4], dir) {
			mps = append(mps, f[4])
		}
	}
	for i := len(mps) - 1; i >= 0; i-- {
		_ = syscall.Unmount(mps[i], syscall.MNT_DETACH)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// result is one CLI invocation.
type result struct {
	stdout, stderr string
	code           int
}

// runCLI runs bin (docker or berth) against the daemon under test.
func runCLI(t *testing.T, bin, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+env.host, "DOCKER_CONFIG="+configDir(bin), "BERTH_HOST=", "DOCKER_CLI_HINTS=false")
	cmd.Dir = env.tmp
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("%s %v: %v", bin, args, err)
		}
		code = ee.ExitCode()
	}
	if ctx.Err() != nil {
		t.Fatalf("%s %v: timed out", bin, args)
	}
	return result{stdout: so.String(), stderr: se.String(), code: code}
}

// configDir is the client config directory of one CLI: each has its own,
// so login and logout of one do not change what the other sees.
func configDir(bin string) string {
	return filepath.Join(env.configDir, filepath.Base(bin))
}

func needEnv(t *testing.T) {
	t.Helper()
	if env.skip != "" {
		t.Skip("CLI parity tests need dockerd: " + env.skip)
	}
}

var _ = strconv.Itoa
