package network

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
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
