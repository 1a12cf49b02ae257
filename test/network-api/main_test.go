package networkapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth/berth/internal/network"
	"github.com/berth/berth/internal/testutil"
)

const dockerCLI = testutil.DockerCLI

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
	var err error
	env.berth, err = testutil.BerthBinary(tmp)
	return err
}

// daemon is one `berth daemon` with its own roots, socket, default bridge
// (btn<hex>), iptables chains (BTN<HEX>-...) and address pool.
type daemon struct {
	*testutil.Daemon
	bridge, chainPrefix string
	bip, pool           string
}

// newDaemon starts a berth daemon. Its cleanup stops it (SIGTERM; an idle
// daemon removes its bridges and chains), then asserts that `ip link` and
// `iptables-save` hold nothing of it, removing what is left if they do.
func newDaemon(t *testing.T) *daemon {
	t.Helper()
	return startNetDaemon(t, "")
}

// startNetDaemon starts a daemon whose default bridge is bridge (a fresh
// btn<hex> when empty; "none" for none).
func startNetDaemon(t *testing.T, bridge string) *daemon {
	t.Helper()
	if env.skip != "" {
		t.Skip(env.skip)
	}
	b := make([]byte, 3)
	rand.Read(b)
	id := hex.EncodeToString(b)
	if bridge == "" {
		bridge = "btn" + id
	}
	d := &daemon{bridge: bridge, chainPrefix: "BTN" + strings.ToUpper(id), bip: "10.213.0.1/24", pool: "10.213.0.0/16"}
	d.Daemon = testutil.StartDaemon(t, testutil.DaemonOptions{
		Binary: env.berth, DirPrefix: "berth-netapi-d",
		Network: []string{"--bridge", d.bridge, "--iptables-chain-prefix", d.chainPrefix, "--bip", d.bip,
			"--default-address-pool", "base=" + d.pool + ",size=24"},
		ClientEnv: []string{"TZ=UTC"},
		AfterStop: func(t testing.TB, _ *testutil.Daemon) { d.assertNothingLeft(t) },
	})
	return d
}

// leftovers lists links, mounts and firewall lines of this daemon still
// on the host: its default bridge, bridges of its networks (alias
// "berth:<prefix>:<id>"), mounts below its root (network namespaces,
// volumes, rootfs) and anything mentioning its chain prefix.
func (d *daemon) leftovers(t testing.TB) []string {
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
	for _, m := range testutil.MountsUnder(d.Dir) {
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

func (d *daemon) assertNothingLeft(t testing.TB) {
	left := d.leftovers(t)
	if len(left) == 0 {
		return
	}
	t.Errorf("the daemon left on the host:\n%s\ndaemon log:\n%s", strings.Join(left, "\n"), readFile(d.LogFile))
	// Remove it anyway, so a failed test leaks nothing.
	testutil.UnmountUnder(d.Dir)
	m, err := network.New(context.Background(), network.Config{
		Root: filepath.Join(d.DataRoot, "network"), DefaultBridge: d.bridge, ChainPrefix: d.chainPrefix,
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
	r := d.Run(t, bin, testutil.RunOptions{Stdin: strings.NewReader(stdin)}, args...)
	return result{stdout: r.Stdout, stderr: r.Stderr, code: r.Code}
}
