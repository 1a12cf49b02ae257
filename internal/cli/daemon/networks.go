package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/berth/berth/internal/network"
)

// AddressPool is one --default-address-pool (daemon.json
// "default-address-pools" entry): subnets of Size bits carved from Base.
type AddressPool struct {
	Base string `json:"base"`
	Size int    `json:"size"`
}

// addressPools is the repeatable --default-address-pool base=CIDR,size=N
// flag.
type addressPools struct{ pools *[]AddressPool }

func (a addressPools) Type() string { return "pool-options" }

func (a addressPools) String() string {
	var s []string
	for _, p := range *a.pools {
		s = append(s, fmt.Sprintf("base=%s,size=%d", p.Base, p.Size))
	}
	return strings.Join(s, " ")
}

func (a addressPools) Set(v string) error {
	var p AddressPool
	for _, field := range strings.Split(v, ",") {
		k, val, _ := strings.Cut(strings.TrimSpace(field), "=")
		switch strings.ToLower(k) {
		case "base":
			p.Base = val
		case "size":
			n, err := strconv.Atoi(val)
			if err != nil {
				return fmt.Errorf("invalid size value %q: %w", val, err)
			}
			p.Size = n
		default:
			return fmt.Errorf("unexpected key %q in %q: want base=CIDR,size=N", k, v)
		}
	}
	*a.pools = append(*a.pools, p)
	return nil
}

// networkConfig turns the daemon's network settings (--bip,
// --default-address-pool, --mtu, --bridge and --iptables-chain-prefix)
// into the network manager's configuration under <data-root>/network.
func networkConfig(cfg Config) (network.Config, error) {
	nc := network.Config{
		Root:          filepath.Join(cfg.DataRoot, "network"),
		DefaultBridge: cfg.Bridge,
		MTU:           cfg.MTU,
		ChainPrefix:   cfg.ChainPrefix,
	}
	if cfg.BIP != "" {
		p, err := netip.ParsePrefix(cfg.BIP)
		if err != nil || !p.Addr().Is4() {
			return nc, fmt.Errorf("bip %q: want an IPv4 address with its prefix length, e.g. 172.17.0.1/16", cfg.BIP)
		}
		if p.Addr() == p.Masked().Addr() {
			return nc, fmt.Errorf("bip %q: the address is the subnet's network address; give the bridge's own address, e.g. %s", cfg.BIP, netip.PrefixFrom(p.Addr().Next(), p.Bits()))
		}
		nc.BIP = p
	}
	for _, ap := range cfg.DefaultAddressPools {
		base, err := netip.ParsePrefix(ap.Base)
		if err != nil || !base.Addr().Is4() {
			return nc, fmt.Errorf("default-address-pool base %q: want an IPv4 CIDR", ap.Base)
		}
		if ap.Size < base.Bits() || ap.Size > 30 {
			return nc, fmt.Errorf("default-address-pool base=%s,size=%d: size must be between %d and 30", ap.Base, ap.Size, base.Bits())
		}
		nc.DefaultAddressPools = append(nc.DefaultAddressPools, network.AddressPool{Base: base, Size: ap.Size})
	}
	if cfg.MTU < 0 || (cfg.MTU > 0 && cfg.MTU < 68) || cfg.MTU > 65535 {
		return nc, fmt.Errorf("mtu %d: want 68 to 65535 (0 for 1500)", cfg.MTU)
	}
	if len(cfg.Bridge) > 15 || strings.ContainsAny(cfg.Bridge, "/ :") {
		return nc, fmt.Errorf("bridge %q: not a valid interface name", cfg.Bridge)
	}
	return nc, nil
}

// openNetworks opens the network manager (state in <data-root>/network,
// layout in package network): it brings up the default bridge and the
// firewall chains. Close it at shutdown; containers' networking stays.
// With --bridge none (dockerd's way to go without the default bridge)
// there is no default network: the network API lists host and none,
// containers asking for the default network get none, and the host is
// not touched (no bridge, no forwarding, no firewall chains) until a
// user-defined network is created; so daemons, such as other packages'
// tests, can run beside a real one.
func openNetworks(ctx context.Context, cfg Config) (*network.Manager, error) {
	if cfg.Bridge == network.NoDefaultBridge {
		slog.Info("no default bridge (--bridge none)")
	}
	nc, err := networkConfig(cfg)
	if err != nil {
		return nil, err
	}
	m, err := network.New(ctx, nc)
	if err != nil {
		return nil, fmt.Errorf("networks: %w", err)
	}
	return m, nil
}

// closeNetworks ends the manager at shutdown. While containers are
// attached their networking stays for the next start (Close); with none,
// the default bridge, user networks' bridges and the firewall chains are
// removed too (Uninstall), so a stopped daemon leaves nothing on the host:
// the next start brings them back from the state file.
func closeNetworks(ctx context.Context, m *network.Manager) {
	if m == nil {
		return
	}
	for _, n := range m.List(ctx) {
		if eps, err := m.Endpoints(ctx, n.ID); err != nil || len(eps) > 0 {
			if err := m.Close(); err != nil {
				slog.Warn("networks: close", "err", err)
			}
			return
		}
	}
	if err := m.Uninstall(ctx); err != nil {
		slog.Warn("networks: remove bridges and firewall chains", "err", err)
	}
}
