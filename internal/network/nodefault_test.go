package network

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/vishvananda/netlink"
)

// TestNoDefaultBridge is dockerd's --bridge=none: no default network and
// nothing on the host at start (no chains, no bridge, also after a
// Restore), a user network that still works, a default network of an
// earlier start dropped, and nothing left after Uninstall.
func TestNoDefaultBridge(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	cfg := newTestConfig(t)

	// An earlier start with the default bridge.
	m, err := New(ctx, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if !m.HasDefault() || !linkExists(cfg.DefaultBridge) {
		t.Fatalf("with a default bridge: HasDefault %v, bridge %s exists %v", m.HasDefault(), cfg.DefaultBridge, linkExists(cfg.DefaultBridge))
	}
	m.Close()

	bridge := cfg.DefaultBridge
	cfg.DefaultBridge = NoDefaultBridge
	m, err = New(ctx, cfg)
	if err != nil {
		t.Fatalf("New with bridge none: %v", err)
	}
	if m.HasDefault() || len(m.List(ctx)) != 0 {
		t.Errorf("bridge none: HasDefault %v, networks %v; want no network", m.HasDefault(), m.List(ctx))
	}
	if linkExists(bridge) {
		t.Errorf("bridge none: the default bridge %s of the earlier start is still there", bridge)
	}
	if _, err := m.Get(ctx, DefaultNetworkName); !errdefs.IsNotFound(err) {
		t.Errorf("Get(bridge) = %v, want not found", err)
	}
	if err := m.Uninstall(ctx); err != nil {
		t.Errorf("Uninstall: %v", err)
	}

	// A fresh start with none touches nothing on the host.
	cfg.Root = t.TempDir()
	m = newTestManager(t, cfg)
	if err := m.Restore(ctx, nil); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if rules := strings.TrimSpace(iptablesSave(t, cfg.ChainPrefix)); rules != "" {
		t.Errorf("bridge none without networks made rules:\n%s", rules)
	}

	n, err := m.Create(ctx, NetworkConfig{Name: "user1"})
	if err != nil {
		t.Fatalf("Create user1: %v", err)
	}
	if !linkExists(n.Bridge) || !strings.Contains(iptablesSave(t, cfg.ChainPrefix), n.ID[:12]) && !strings.Contains(iptablesSave(t, cfg.ChainPrefix), n.Bridge) {
		t.Errorf("user network %s: bridge %s exists %v, rules:\n%s", n.Name, n.Bridge, linkExists(n.Bridge), iptablesSave(t, cfg.ChainPrefix))
	}
	if _, err := m.Create(ctx, NetworkConfig{Name: DefaultNetworkName}); err == nil {
		t.Error("Create(bridge) with bridge none succeeded; it is a pre-defined name")
	} else if !errors.Is(err, errdefs.ErrPermissionDenied) {
		t.Errorf("Create(bridge) = %v, want permission denied", err)
	}
}

// TestDefaultBridgeReconfigured: a start with another --bridge, --bip or
// --mtu changes the default network kept from an earlier start, as dockerd
// recreates its default bridge, unless a running container is on it; the
// daemon's --mtu is the default bridge's only (a user network has 1500).
func TestDefaultBridgeReconfigured(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	cfg := newTestConfig(t)
	cfg.MTU = 1400
	m := newTestManager(t, cfg)
	if err := m.Restore(ctx, nil); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	def, err := m.Get(ctx, DefaultNetworkName)
	if err != nil {
		t.Fatal(err)
	}
	if def.MTU != 1400 || linkMTU(t, cfg.DefaultBridge) != 1400 {
		t.Errorf("default network MTU %d, bridge %d; want 1400", def.MTU, linkMTU(t, cfg.DefaultBridge))
	}
	u, err := m.Create(ctx, NetworkConfig{Name: "user1"})
	if err != nil {
		t.Fatal(err)
	}
	if u.MTU != 1500 {
		t.Errorf("user network MTU %d, want 1500 (the daemon's --mtu is the default bridge's)", u.MTU)
	}
	if err := m.Remove(ctx, "user1"); err != nil {
		t.Fatal(err)
	}

	// A running container on the default network: a new --bip waits.
	ns := newNetns(t)
	if _, err := m.Connect(ctx, DefaultNetworkName, "c1", ns, EndpointConfig{Name: "c1"}); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	m.Close()
	oldBridge := cfg.DefaultBridge
	cfg2 := cfg
	cfg2.DefaultBridge = oldBridge + "n"
	cfg2.BIP = netip.MustParsePrefix("10.246.1.1/24")
	cfg2.MTU = 1450
	m2, err := New(ctx, cfg2)
	if err != nil {
		t.Fatal(err)
	}
	if err := m2.Restore(ctx, []ContainerNetState{{ContainerID: "c1", NetnsPath: ns}}); err != nil {
		t.Fatalf("Restore with a running container: %v", err)
	}
	if n, _ := m2.Get(ctx, DefaultNetworkName); n.Subnet != def.Subnet || n.Bridge != oldBridge || !linkExists(oldBridge) {
		t.Errorf("with a running container: default network %s %s (bridge exists %v), want it kept", n.Bridge, n.Subnet, linkExists(oldBridge))
	}
	if err := m2.Disconnect(ctx, DefaultNetworkName, "c1"); err != nil {
		t.Fatal(err)
	}
	m2.Close()

	// No container on it: the next start applies the new settings.
	m3, err := New(ctx, cfg2)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := m3.Uninstall(ctx); err != nil {
			t.Errorf("Uninstall: %v", err)
		}
	}()
	if err := m3.Restore(ctx, nil); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	n, err := m3.Get(ctx, DefaultNetworkName)
	if err != nil {
		t.Fatal(err)
	}
	if n.ID != def.ID || n.Bridge != cfg2.DefaultBridge || n.Subnet.String() != "10.246.1.0/24" || n.Gateway.String() != "10.246.1.1" || n.MTU != 1450 {
		t.Errorf("reconfigured default network: %+v", n)
	}
	if linkExists(oldBridge) || !linkExists(cfg2.DefaultBridge) || linkMTU(t, cfg2.DefaultBridge) != 1450 {
		t.Errorf("bridges: old %s exists %v, new %s exists %v", oldBridge, linkExists(oldBridge), cfg2.DefaultBridge, linkExists(cfg2.DefaultBridge))
	}
	ep, err := m3.Connect(ctx, DefaultNetworkName, "c2", newNetns(t), EndpointConfig{Name: "c2"})
	if err != nil {
		t.Fatalf("Connect after the change: %v", err)
	}
	if !n.Subnet.Contains(ep.IP) {
		t.Errorf("container address %s not in the new subnet %s", ep.IP, n.Subnet)
	}
	if err := m3.Disconnect(ctx, DefaultNetworkName, "c2"); err != nil {
		t.Fatal(err)
	}
}

func linkMTU(t *testing.T, name string) int {
	t.Helper()
	l, err := netlink.LinkByName(name)
	if err != nil {
		t.Fatalf("link %s: %v", name, err)
	}
	return l.Attrs().MTU
}
