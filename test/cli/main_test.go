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

	"github.com/berth/berth/internal/testutil"
)

const dockerCLI = testutil.DockerCLI

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
	code := func() (code int) {
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
			stop, host, err := startBerthDaemon()
			if stop != nil {
				defer func() {
					if err := stop(); err != nil {
						fmt.Fprintf(os.Stderr, "berth daemon cleanup: %v\n", err)
						code = 1
					}
				}()
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
	var err error
	if env.berth, err = testutil.BerthBinary(tmp); err != nil {
		return err
	}
	env.configDir = filepath.Join(tmp, "config")
	if err := os.MkdirAll(env.configDir, 0o700); err != nil {
		return err
	}
	img, err := testutil.MakeBusyboxImage(tmp)
	if err != nil {
		return err
	}
	env.archive, err = img.DockerArchive()
	return err
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

// startBerthDaemon starts `berth daemon` on its own roots and socket
// (testutil.Daemon) and loads busybox. stop removes the tests' leftover
// containers (the daemon leaves containers running when it stops), ends
// it and fails the run if anything of it is left.
func startBerthDaemon() (stop func() error, host string, err error) {
	d, err := testutil.OpenDaemon(testutil.DaemonOptions{Binary: env.berth, DirPrefix: "berth-cli-b"})
	if err != nil {
		return nil, "", err
	}
	if err := d.TryStart(); err != nil {
		return d.Close, d.Host, err
	}
	return d.Close, d.Host, loadBusybox(d.Host)
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

// loadBusybox loads the busybox archive into the daemon at host.
func loadBusybox(host string) error {
	if out, err := exec.Command(dockerCLI, "-H", host, "load", "-q", "-i", env.archive).CombinedOutput(); err != nil {
		return fmt.Errorf("docker load: %v\n%s", err, out)
	}
	return nil
}

// unmountUnder lazily unmounts anything dockerd left mounted below dir.
func unmountUnder(dir string) { testutil.UnmountUnder(dir) }

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
