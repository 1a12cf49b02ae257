package volume

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const dockerCLI = "/usr/local/bin/docker"

var env struct {
	skip  string
	berth string // the berth binary
	tmp   string
}

func TestMain(m *testing.M) {
	code := func() int {
		tmp, err := os.MkdirTemp("", "berth-vol-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(tmp)
		env.tmp = tmp
		if err := setup(tmp); err != nil {
			env.skip = err.Error()
		}
		return m.Run()
	}()
	os.Exit(code)
}

func setup(tmp string) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root to start a daemon")
	}
	if _, err := os.Stat(dockerCLI); err != nil {
		return fmt.Errorf("the docker CLI 28 is not at %s: %v", dockerCLI, err)
	}
	env.berth = os.Getenv("BERTH_TEST_BINARY")
	if env.berth == "" {
		env.berth = filepath.Join(tmp, "berth")
		if out, err := exec.Command("go", "build", "-o", env.berth, "github.com/berth/berth/cmd/berth").CombinedOutput(); err != nil {
			return fmt.Errorf("go build berth: %v\n%s", err, out)
		}
	}
	return nil
}

// daemon is one `berth daemon` on roots under a test's temp directory.
type daemon struct {
	root, host, dataRoot string
	cmd                  *exec.Cmd
	exited               chan struct{}
	log                  string
}

// newDaemon starts a berth daemon; t.Cleanup stops it and unmounts what
// is left below its root.
func newDaemon(t *testing.T) *daemon {
	t.Helper()
	if env.skip != "" {
		t.Skip(env.skip)
	}
	root, err := os.MkdirTemp(env.tmp, "d")
	if err != nil {
		t.Fatal(err)
	}
	d := &daemon{root: root, host: "unix://" + filepath.Join(root, "d.sock"), dataRoot: filepath.Join(root, "data"), log: filepath.Join(root, "daemon.log")}
	t.Cleanup(func() {
		d.stop(t)
		unmountUnder(root)
	})
	d.start(t)
	return d
}

func (d *daemon) start(t *testing.T) {
	t.Helper()
	cfg := filepath.Join(d.root, "daemon.json")
	if err := os.WriteFile(cfg, []byte("{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.OpenFile(d.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	d.cmd = exec.Command(env.berth, "daemon", "--bridge", "none", "--data-root", d.dataRoot, "--exec-root", filepath.Join(d.root, "exec"),
		"--pidfile", filepath.Join(d.root, "d.pid"), "--config-file", cfg, "-H", d.host)
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start berth daemon: %v", err)
	}
	d.exited = make(chan struct{})
	go func(cmd *exec.Cmd, ch chan struct{}) { _ = cmd.Wait(); close(ch) }(d.cmd, d.exited)
	deadline := time.Now().Add(30 * time.Second)
	for exec.Command(dockerCLI, "-H", d.host, "version").Run() != nil {
		select {
		case <-d.exited:
			b, _ := os.ReadFile(d.log)
			t.Fatalf("berth daemon exited at start:\n%s", b)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("berth daemon did not answer within 30s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (d *daemon) stop(t *testing.T) {
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	select {
	case <-d.exited:
		return
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(20 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.exited
	}
}

// unmountUnder lazily unmounts anything left mounted below dir.
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

// result is one CLI run.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// run runs bin (the docker CLI or berth) against d with stdin.
func run(t *testing.T, d *daemon, bin, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"-H", d.host}, args...)...)
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+filepath.Join(env.tmp, "config"), "DOCKER_CLI_HINTS=false")
	cmd.Stdin = strings.NewReader(stdin)
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
