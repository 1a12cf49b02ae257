package networkapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth/berth/internal/network"
)

const dockerCLI = "/usr/local/bin/docker"

var env struct {
	skip  string
	berth string // the berth binary
	tmp   string
}

func TestMain(m *testing.M) {
	code := func() int {
		tmp, err := os.MkdirTemp("", "berth-netapi-")
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
	if _, err := exec.LookPath("iptables-save"); err != nil {
		return fmt.Errorf("needs iptables: %v", err)
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

// daemon is one `berth daemon` with its own roots, socket, default bridge
// (btn<hex>), iptables chains (BTN<HEX>-...) and address pool.
type daemon struct {
	root, host, dataRoot string
	bridge, chainPrefix  string
	bip, pool            string
	cmd                  *exec.Cmd
	exited               chan struct{}
	log                  string
}

// newDaemon starts a berth daemon. t.Cleanup stops it (SIGTERM; an idle
// daemon removes its bridges and chains), then asserts that `ip link` and
// `iptables-save` hold nothing of it, removing what is left if they do.
func newDaemon(t *testing.T) *daemon {
	t.Helper()
	if env.skip != "" {
		t.Skip(env.skip)
	}
	root, err := os.MkdirTemp(env.tmp, "d")
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 3)
	rand.Read(b)
	id := hex.EncodeToString(b)
	d := &daemon{
		root: root, host: "unix://" + filepath.Join(root, "d.sock"), dataRoot: filepath.Join(root, "data"),
		log: filepath.Join(root, "daemon.log"), bridge: "btn" + id, chainPrefix: "BTN" + strings.ToUpper(id),
		bip: "10.213.0.1/24", pool: "10.213.0.0/16",
	}
	t.Cleanup(func() {
		d.stop()
		d.assertNothingLeft(t)
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
	d.cmd = exec.Command(env.berth, "daemon", "--data-root", d.dataRoot, "--exec-root", filepath.Join(d.root, "exec"),
		"--pidfile", filepath.Join(d.root, "d.pid"), "--config-file", cfg, "-H", d.host,
		"--bridge", d.bridge, "--iptables-chain-prefix", d.chainPrefix, "--bip", d.bip,
		"--default-address-pool", "base="+d.pool+",size=24")
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

// stop ends the daemon this test started, by its PID: SIGTERM, SIGKILL
// after 20s.
func (d *daemon) stop() {
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

// leftovers lists links, mounts and firewall lines of this daemon still
// on the host: its default bridge, bridges of its networks (alias
// "berth:<prefix>:<id>"), mounts below its root (network namespaces,
// volumes, rootfs) and anything mentioning its chain prefix.
func (d *daemon) leftovers(t *testing.T) []string {
	t.Helper()
	var left []string
	out, err := exec.Command("ip", "-o", "link", "show").CombinedOutput()
	if err != nil {
		t.Errorf("ip link: %v\n%s", err, out)
	}
	tag := "berth:" + d.chainPrefix + ":"
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, ": "+d.bridge+":") || strings.Contains(line, tag) {
			left = append(left, "ip link: "+line)
		}
	}
	for _, m := range mountsUnder(t, d.root) {
		left = append(left, "mount: "+m)
	}
	for _, cmd := range []string{"iptables-save", "ip6tables-save"} {
		out, err := exec.Command(cmd).CombinedOutput()
		if err != nil {
			t.Errorf("%s: %v\n%s", cmd, err, out)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, d.chainPrefix) {
				left = append(left, cmd+": "+line)
			}
		}
	}
	return left
}

func (d *daemon) assertNothingLeft(t *testing.T) {
	left := d.leftovers(t)
	if len(left) == 0 {
		return
	}
	t.Errorf("the daemon left on the host:\n%s\ndaemon log:\n%s", strings.Join(left, "\n"), readFile(d.log))
	// Remove it anyway, so a failed test leaks nothing.
	mps := mountsUnder(t, d.root)
	for i := len(mps) - 1; i >= 0; i-- {
		syscall.Unmount(mps[i], syscall.MNT_DETACH)
	}
	m, err := network.New(context.Background(), network.Config{
		Root: filepath.Join(d.dataRoot, "network"), DefaultBridge: d.bridge, ChainPrefix: d.chainPrefix,
		BIP: netip.MustParsePrefix(d.bip),
	})
	if err != nil {
		t.Errorf("clean up: %v", err)
		return
	}
	if err := m.Uninstall(context.Background()); err != nil {
		t.Errorf("clean up: %v", err)
	}
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
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
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+filepath.Join(env.tmp, "config"), "DOCKER_CLI_HINTS=false", "TZ=UTC")
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
