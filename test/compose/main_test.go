package compose

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth/berth/internal/testutil"
	"github.com/berth/berth/internal/testutil/netcheck"
)

var env struct {
	skip    string
	berth   string // the berth binary
	busybox string // docker-archive of busybox:latest
}

func TestMain(m *testing.M) {
	os.Exit(testutil.RunSuite(m, "berth-cmp-", func(dir string) {
		if err := setup(dir); err != nil {
			env.skip = err.Error()
		}
	}))
}

func setup(tmp string) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root to start a daemon")
	}
	for _, tool := range []string{"docker-compose", "docker", "skopeo", "iptables-save"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is not installed (hack/install-deps.sh): %v", tool, err)
		}
	}
	img, err := testutil.MakeBusyboxImage(tmp)
	if err != nil {
		return err
	}
	if env.busybox, err = img.DockerArchive(); err != nil {
		return err
	}
	env.berth, err = testutil.BerthBinary(tmp)
	return err
}

// daemon is a berth daemon with its own default bridge (bcm<hex>),
// iptables chains (BCM<HEX>-...) and address pool, busybox loaded.
type daemon struct {
	*testutil.Daemon
	bridge, chainPrefix, bip string
}

func newDaemon(t *testing.T) *daemon {
	t.Helper()
	if env.skip != "" {
		t.Skip(env.skip)
	}
	b := make([]byte, 3)
	rand.Read(b)
	id := hex.EncodeToString(b)
	d := &daemon{bridge: "bcm" + id, chainPrefix: "BCM" + strings.ToUpper(id), bip: "10.219.0.1/24"}
	d.Daemon = testutil.StartDaemon(t, testutil.DaemonOptions{
		Binary: env.berth, DirPrefix: "berth-cmp-d",
		Network: []string{"--bridge", d.bridge, "--iptables-chain-prefix", d.chainPrefix, "--bip", d.bip,
			"--default-address-pool", "base=10.219.0.0/16,size=24"},
		AfterStop: func(t testing.TB, _ *testutil.Daemon) {
			netcheck.AssertNothingLeft(t, d.Daemon, netcheck.Host{Bridge: d.bridge, ChainPrefix: d.chainPrefix, BIP: d.bip})
		},
	})
	d.LoadImage(t, env.busybox)
	return d
}

// result is one client run.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// client runs bin (docker-compose, python3, the docker CLI) in dir with
// DOCKER_HOST set to the daemon and extra environment. docker-compose run
// and exec go through the docker CLI on PATH, as by default: their
// in-process alternative (COMPOSE_INTERACTIVE_NO_CLI, dockerpty) closes
// the socket when stdin ends and loses output now and then, against
// dockerd too.
func (d *daemon) client(t *testing.T, dir string, extraEnv []string, bin string, args ...string) result {
	t.Helper()
	e := append([]string{"DOCKER_HOST=" + d.Host, "COMPOSE_API_VERSION="}, extraEnv...)
	r := d.Run(t, bin, testutil.RunOptions{NoHost: true, Dir: dir, Env: e, Timeout: 45 * time.Second}, args...)
	return result{stdout: r.Stdout, stderr: r.Stderr, code: r.Code}
}

// freePort returns a TCP port on 127.0.0.1 nothing listens on now.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// writeFiles writes name -> content below dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
