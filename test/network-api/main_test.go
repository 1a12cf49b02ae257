package networkapi

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/berth/berth/internal/testutil"
	"github.com/berth/berth/internal/testutil/netcheck"
)

const dockerCLI = testutil.DockerCLI

var env struct {
	skip  string
	berth string // the berth binary
	tmp   string
}

func TestMain(m *testing.M) {
	os.Exit(testutil.RunSuite(m, "berth-netapi-", func(dir string) {
		env.tmp = dir
		if err := setup(dir); err != nil {
			env.skip = err.Error()
		}
	}))
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
		AfterStop: func(t testing.TB, _ *testutil.Daemon) { netcheck.AssertNothingLeft(t, d.Daemon, d.host()) },
	})
	return d
}

func (d *daemon) host() netcheck.Host {
	return netcheck.Host{Bridge: d.bridge, ChainPrefix: d.chainPrefix, BIP: d.bip}
}

func (d *daemon) leftovers(t testing.TB) []string { return netcheck.Leftovers(t, d.Daemon, d.host()) }

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
