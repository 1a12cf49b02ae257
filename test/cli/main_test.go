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
	host      string // unix://... of the daemon under test (the current target's)
	configDir string // DOCKER_CONFIG of both CLIs
	tmp       string
	archive   string // busybox:latest as a docker-archive
}

// target is a daemon both CLIs are compared against.
type target struct {
	name, host, skip string
}

// targets are dockerd (20.10, Debian's docker.io) and `berth daemon`,
// each on its own roots and socket. BERTH_CLI_TARGETS (comma-separated
// names) narrows the list.
var targets []*target

// currentTarget is the name of the target forEachTarget is running.
var currentTarget string

// forEachTarget runs fn as a subtest per target, with env.host set.
func forEachTarget(t *testing.T, fn func(t *testing.T)) {
	t.Helper()
	needEnv(t)
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			if tg.skip != "" {
				t.Skip(tg.skip)
			}
			env.host, currentTarget = tg.host, tg.name
			fn(t)
		})
	}
}

func wanted(name string) bool {
	v := os.Getenv("BERTH_CLI_TARGETS")
	if v == "" {
		return true
	}
	for _, n := range strings.Split(v, ",") {
		if strings.TrimSpace(n) == name {
			return true
		}
	}
	return false
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
		if err := setupCommon(tmp); err != nil {
			env.skip = err.Error()
			return m.Run()
		}
		if wanted("dockerd") {
			tg := &target{name: "dockerd"}
			stop, host, err := startDockerd(tmp)
			if stop != nil {
				defer stop()
			}
			if err != nil {
				tg.skip = "dockerd: " + err.Error()
			}
			tg.host = host
			targets = append(targets, tg)
		}
		if wanted("berth") {
			tg := &target{name: "berth"}
			stop, host, err := startBerthDaemon(tmp)
			if stop != nil {
				defer stop()
			}
			if err != nil {
				tg.skip = "berth daemon: " + err.Error()
			}
			tg.host = host
			targets = append(targets, tg)
		}
		return m.Run()
	}()
	os.Exit(code)
}

// setupCommon checks the tools, builds berth and the busybox archive.
func setupCommon(tmp string) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root to start daemons")
	}
	if _, err := os.Stat(dockerCLI); err != nil {
		return fmt.Errorf("the docker CLI 28 is not at %s: %v", dockerCLI, err)
	}
	for _, tool := range []string{"skopeo", "sh"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not installed: %v", tool, err)
		}
	}
	env.berth = os.Getenv("BERTH_TEST_BINARY")
	if env.berth == "" {
		env.berth = filepath.Join(tmp, "berth")
		out, err := exec.Command("go", "build", "-o", env.berth, "github.com/berth/berth/cmd/berth").CombinedOutput()
		if err != nil {
			return fmt.Errorf("go build berth: %v\n%s", err, out)
		}
	}
	env.configDir = filepath.Join(tmp, "config")
	if err := os.MkdirAll(env.configDir, 0o700); err != nil {
		return err
	}
	return buildBusybox(tmp)
}

// startDockerd starts Debian's dockerd on its own roots without touching
// the host's network, and loads busybox. stop ends it and unmounts what
// it left.
func startDockerd(tmp string) (stop func(), host string, err error) {
	dockerd, err := exec.LookPath("dockerd")
	if err != nil {
		return nil, "", fmt.Errorf("not installed (hack/install-deps.sh installs docker.io): %v", err)
	}
	// Short paths: unix socket names are limited to 108 bytes.
	root := filepath.Join(tmp, "d")
	sock := filepath.Join(root, "docker.sock")
	pidfile := filepath.Join(root, "docker.pid")
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, "", err
	}
	logf, err := os.Create(filepath.Join(tmp, "dockerd.log"))
	if err != nil {
		return nil, "", err
	}
	cmd := exec.Command(dockerd, "--data-root", filepath.Join(root, "data"), "--exec-root", filepath.Join(root, "exec"),
		"-H", "unix://"+sock, "--pidfile", pidfile, "--bridge", "none", "--iptables=false", "--ip6tables=false",
		"--ip-forward=false", "--ip-masq=false", "--userland-proxy=false", "--storage-driver", "overlay2")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, "", fmt.Errorf("start: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop = func() {
		if ids := strings.Fields(cliOutput(host, "ps", "-aq")); len(ids) > 0 {
			cliOutput(host, append([]string{"rm", "-f"}, ids...)...)
		}
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
	host = "unix://" + sock
	if err := waitReady(host, exited, logf.Name()); err != nil {
		return stop, host, err
	}
	return stop, host, loadBusybox(host)
}

// startBerthDaemon starts `berth daemon` on its own roots and socket and
// loads busybox. stop removes the tests' leftover containers (the daemon
// leaves containers running when it stops), ends it and unmounts what it
// left.
func startBerthDaemon(tmp string) (stop func(), host string, err error) {
	root := filepath.Join(tmp, "b")
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, "", err
	}
	cfg := filepath.Join(root, "daemon.json")
	if err := os.WriteFile(cfg, []byte("{}\n"), 0o600); err != nil {
		return nil, "", err
	}
	logf, err := os.Create(filepath.Join(tmp, "berthd.log"))
	if err != nil {
		return nil, "", err
	}
	host = "unix://" + filepath.Join(root, "d.sock")
	cmd := exec.Command(env.berth, "daemon", "--data-root", filepath.Join(root, "data"), "--exec-root", filepath.Join(root, "exec"),
		"--pidfile", filepath.Join(root, "d.pid"), "--config-file", cfg, "-H", host)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, "", fmt.Errorf("start: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop = func() {
		if ids := strings.Fields(cliOutput(host, "ps", "-aq")); len(ids) > 0 {
			cliOutput(host, append([]string{"rm", "-f"}, ids...)...)
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		logf.Close()
		unmountUnder(root)
	}
	if err := waitReady(host, exited, logf.Name()); err != nil {
		return stop, host, err
	}
	return stop, host, loadBusybox(host)
}

// cliOutput runs the docker CLI against host and returns its stdout.
func cliOutput(host string, args ...string) string {
	out, _ := exec.Command(dockerCLI, append([]string{"-H", host}, args...)...).Output()
	return string(out)
}

// waitReady waits until the daemon at host answers `docker version`.
func waitReady(host string, exited chan struct{}, logPath string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := exec.Command(dockerCLI, "-H", host, "version").Run(); err == nil {
			return nil
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(logPath)
			return fmt.Errorf("exited at start:\n%s", tail(string(b), 2000))
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("did not answer within 30s")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// buildBusybox makes busybox:latest as a docker-archive with
// hack/mkimage-busybox.sh and skopeo.
func buildBusybox(tmp string) error {
	repo, err := repoRoot()
	if err != nil {
		return err
	}
	layout := filepath.Join(tmp, "busybox-oci")
	env.archive = filepath.Join(tmp, "busybox.tar")
	steps := [][]string{
		{"sh", filepath.Join(repo, "hack/mkimage-busybox.sh"), layout},
		{"skopeo", "copy", "-q", "oci:" + layout + ":latest", "docker-archive:" + env.archive + ":busybox:latest"},
	}
	for _, s := range steps {
		if out, err := exec.Command(s[0], s[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v\n%s", strings.Join(s, " "), err, out)
		}
	}
	return nil
}

// loadBusybox loads the busybox archive into the daemon at host.
func loadBusybox(host string) error {
	if out, err := exec.Command(dockerCLI, "-H", host, "load", "-q", "-i", env.archive).CombinedOutput(); err != nil {
		return fmt.Errorf("docker load: %v\n%s", err, out)
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
	r, err := runCLIErr(bin, stdin, args...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// runCLIErr is runCLI for any goroutine: failures to run are returned.
func runCLIErr(bin, stdin string, args ...string) (result, error) {
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
	if ctx.Err() != nil {
		return result{}, fmt.Errorf("%s %v: timed out", bin, args)
	}
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			return result{}, fmt.Errorf("%s %v: %v", bin, args, err)
		}
		code = ee.ExitCode()
	}
	return result{stdout: so.String(), stderr: se.String(), code: code}, nil
}

// configDir is the client config directory of one CLI: each has its own,
// so login and logout of one do not change what the other sees.
func configDir(bin string) string {
	return filepath.Join(env.configDir, filepath.Base(bin))
}

func needEnv(t *testing.T) {
	t.Helper()
	if env.skip != "" {
		t.Skip("CLI parity tests cannot run: " + env.skip)
	}
}

var _ = strconv.Itoa
