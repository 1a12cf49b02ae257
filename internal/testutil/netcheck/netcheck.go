// Package netcheck checks that a test daemon with its own default bridge
// and iptables chain prefix left nothing on the host once it stopped, and
// removes what it left so a failed test leaks nothing.
package netcheck

import (
	"context"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth/berth/internal/network"
	"github.com/berth/berth/internal/testutil"
)

// Host names what a daemon puts on the host: its default bridge, its
// iptables chain prefix and the default bridge's address.
type Host struct {
	Bridge, ChainPrefix, BIP string
}

// Leftovers lists the links, mounts and firewall lines of the daemon d
// still on the host: its default bridge, bridges of its networks (alias
// "berth:<prefix>:<id>"), mounts below its directory (network namespaces,
// volumes, rootfs) and any iptables or ip6tables line with its prefix.
func Leftovers(t testing.TB, d *testutil.Daemon, h Host) []string {
	t.Helper()
	var left []string
	out, err := exec.Command("ip", "-o", "link", "show").CombinedOutput()
	if err != nil {
		t.Errorf("ip link: %v\n%s", err, out)
	}
	tag := "berth:" + h.ChainPrefix + ":"
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, ": "+h.Bridge+":") || strings.Contains(line, tag) {
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
			if strings.Contains(line, h.ChainPrefix) {
				left = append(left, cmd+": "+line)
			}
		}
	}
	return left
}

// AssertNothingLeft fails t when Leftovers finds anything, then unmounts
// and uninstalls it (bridges, veths, chains) anyway.
func AssertNothingLeft(t testing.TB, d *testutil.Daemon, h Host) {
	t.Helper()
	left := Leftovers(t, d, h)
	if len(left) == 0 {
		return
	}
	log, _ := os.ReadFile(d.LogFile)
	t.Errorf("the daemon left on the host:\n%s\ndaemon log:\n%s", strings.Join(left, "\n"), log)
	testutil.UnmountUnder(d.Dir)
	m, err := network.New(context.Background(), network.Config{
		Root: filepath.Join(d.DataRoot, "network"), DefaultBridge: h.Bridge, ChainPrefix: h.ChainPrefix,
		BIP: netip.MustParsePrefix(h.BIP),
	})
	if err != nil {
		t.Errorf("clean up: %v", err)
		return
	}
	if err := m.Uninstall(context.Background()); err != nil {
		t.Errorf("clean up: %v", err)
	}
}
