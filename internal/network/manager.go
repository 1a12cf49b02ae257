package network

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
)

// DefaultNetworkName is the name of the default bridge network.
const DefaultNetworkName = "bridge"

const stateFile = "state.json"

// state is the manager's persistent state.
type state struct {
	Networks  map[string]*Network     `json:"networks"`
	Endpoints map[string]*Endpoint    `json:"endpoints"` // key: networkID/containerID
	Ports     map[string]*publication `json:"ports"`     // key: containerID
	// Forwarders are containers' own upstream DNS servers (--dns).
	Forwarders map[string][]string `json:"forwarders,omitempty"` // key: containerID
}

// publication is one container's published ports.
type publication struct {
	ContainerIP netip.Addr `json:"containerIp"`
	// ContainerIPv6 is set when the bindings are published over IPv6 too.
	ContainerIPv6 netip.Addr    `json:"containerIpv6,omitzero"`
	Bindings      []PortBinding `json:"bindings"`
	// Proxy6 is set when a container without IPv6 has its bindings on all
	// addresses served on IPv6 too, by a proxy of the daemon's to its
	// IPv4 address (docker-proxy's job), so that [::1]:port (what
	// "localhost" often is) reaches it.
	Proxy6 bool `json:"proxy6,omitempty"`
}

// Manager owns Berth's networks on this host. It is safe for concurrent use.
type Manager struct {
	cfg Config
	fw  *firewall

	mu        sync.RWMutex
	st        state
	fwReady   bool                    // forwarding on, chains set up: by the first network
	resolvers map[string]*resolver    // by container ID
	holds     map[string][]portHolder // by container ID: sockets reserving host ports
	drain     draining                // released veths being deleted
}

// New loads the manager's state from cfg.Root and makes sure the default
// network exists (its bridge, address and firewall rules). With
// DefaultBridge "none" there is no default network: the host is not
// touched (no forwarding, chains or links) until a user-defined network
// is made or found in the state.
func New(ctx context.Context, cfg Config) (*Manager, error) {
	if cfg.Root == "" {
		return nil, errdefs.ErrInvalidArgument.WithMessage("network: config root is empty")
	}
	if cfg.DefaultBridge == "" {
		cfg.DefaultBridge = "berth0"
	}
	if cfg.MTU == 0 {
		cfg.MTU = 1500
	}
	if cfg.ChainPrefix == "" {
		cfg.ChainPrefix = "BERTH"
	}
	if cfg.DNSAddr == "" {
		cfg.DNSAddr = "127.0.0.11:53"
	}
	if len(cfg.DefaultAddressPools) == 0 {
		cfg.DefaultAddressPools = defaultPools()
	}
	if err := os.MkdirAll(cfg.Root, 0o700); err != nil {
		return nil, fmt.Errorf("network: state root %s: %w", cfg.Root, err)
	}
	m := &Manager{
		cfg:       cfg,
		fw:        &firewall{prefix: cfg.ChainPrefix},
		resolvers: map[string]*resolver{},
		holds:     map[string][]portHolder{},
	}
	if err := m.load(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if cfg.DefaultBridge == NoDefaultBridge {
		if err := m.dropDefault(); err != nil {
			return nil, err
		}
	} else if err := m.setupHost(); err != nil {
		return nil, err
	}
	if cfg.DefaultBridge != NoDefaultBridge && m.defaultNetwork() == nil {
		n := &Network{
			ID: newID(), Name: DefaultNetworkName, Driver: "bridge", Default: true,
			Bridge: cfg.DefaultBridge, MTU: cfg.MTU, Created: time.Now().UTC(),
			Options: map[string]string{"com.docker.network.bridge.name": cfg.DefaultBridge},
		}
		if cfg.BIP.IsValid() {
			n.Subnet = cfg.BIP.Masked()
			n.Gateway = cfg.BIP.Addr()
		} else {
			sub, err := m.pickSubnet()
			if err != nil {
				return nil, fmt.Errorf("network: default bridge: %w", err)
			}
			n.Subnet, n.Gateway = sub, sub.Addr().Next()
		}
		m.st.Networks[n.ID] = n
		if err := m.save(); err != nil {
			return nil, err
		}
	}
	for _, n := range m.st.Networks {
		if err := m.up(n); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func defaultPools() []AddressPool {
	return []AddressPool{
		{Base: netip.MustParsePrefix("172.17.0.0/16"), Size: 16},
		{Base: netip.MustParsePrefix("172.18.0.0/15"), Size: 16},
		{Base: netip.MustParsePrefix("172.20.0.0/14"), Size: 16},
		{Base: netip.MustParsePrefix("172.24.0.0/14"), Size: 16},
		{Base: netip.MustParsePrefix("172.28.0.0/14"), Size: 16},
		{Base: netip.MustParsePrefix("192.168.0.0/16"), Size: 20},
	}
}

// setupHost turns on forwarding and sets up the firewall chains, once;
// m.mu is held.
func (m *Manager) setupHost() error {
	if m.fwReady {
		return nil
	}
	if err := enableForwarding(); err != nil {
		return err
	}
	if err := m.fw.setup(); err != nil {
		return err
	}
	m.fwReady = true
	return nil
}

// dropDefault forgets the default network of an earlier start (the
// daemon runs with --bridge none now) and removes its bridge, as dockerd
// removes docker0; m.mu is held. With endpoints left it stays, for
// Restore to sort out.
func (m *Manager) dropDefault() error {
	n := m.defaultNetwork()
	if n == nil {
		return nil
	}
	for _, ep := range m.st.Endpoints {
		if ep.NetworkID == n.ID {
			return nil
		}
	}
	delete(m.st.Networks, n.ID)
	if err := m.save(); err != nil {
		return err
	}
	if err := m.setupHost(); err != nil {
		return err
	}
	m.down(n)
	return nil
}

// reconfigureDefault applies a changed --bridge, --bip or --mtu to the
// default network kept from an earlier start, as dockerd recreates its
// default bridge at each start: the old bridge and its rules go, the
// network keeps its ID. With containers on it (running: berth's
// containers outlive the daemon) it is left as it is, with a warning, as
// dockerd does with live-restore. Restore calls it once the endpoints of
// containers that are gone are dropped; m.mu is held.
func (m *Manager) reconfigureDefault() error {
	n := m.defaultNetwork()
	if n == nil {
		return nil
	}
	want := *n
	want.Bridge, want.MTU = m.cfg.DefaultBridge, m.cfg.MTU
	if m.cfg.BIP.IsValid() {
		want.Subnet, want.Gateway = m.cfg.BIP.Masked(), m.cfg.BIP.Addr()
	}
	if want.Bridge == n.Bridge && want.MTU == n.MTU && want.Subnet == n.Subnet && want.Gateway == n.Gateway {
		return nil
	}
	for _, ep := range m.st.Endpoints {
		if ep.NetworkID == n.ID {
			slog.Warn("there are running containers on the default network: its new configuration takes effect once none is",
				"network", n.Name, "bridge", n.Bridge, "subnet", n.Subnet, "mtu", n.MTU)
			return nil
		}
	}
	for _, o := range m.st.Networks {
		if o.ID != n.ID && (o.Bridge == want.Bridge || o.Subnet.Overlaps(want.Subnet)) {
			return fmt.Errorf("network: default bridge %s %s: conflicts with network %s (%s %s)", want.Bridge, want.Subnet, o.Name, o.Bridge, o.Subnet)
		}
	}
	m.down(n)
	want.Options = cloneMap(n.Options)
	if want.Options == nil {
		want.Options = map[string]string{}
	}
	want.Options["com.docker.network.bridge.name"] = want.Bridge
	m.st.Networks[n.ID] = &want
	slog.Info("default network reconfigured", "bridge", want.Bridge, "subnet", want.Subnet, "gateway", want.Gateway, "mtu", want.MTU)
	return m.save()
}

// HasDefault tells whether the default network exists (not with
// DefaultBridge "none").
func (m *Manager) HasDefault() bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.defaultNetwork() != nil
}

// up creates the network's bridge and firewall rules when missing.
func (m *Manager) up(n *Network) error {
	if err := m.setupHost(); err != nil {
		return fmt.Errorf("network %s: %w", n.Name, err)
	}
	if err := ensureBridge(m.tag(), n); err != nil {
		return fmt.Errorf("network %s: %w", n.Name, err)
	}
	if err := m.fw.addNetwork(n); err != nil {
		return fmt.Errorf("network %s: %w", n.Name, err)
	}
	return nil
}

// tag is the alias prefix of this manager's links.
func (m *Manager) tag() string { return "berth:" + m.cfg.ChainPrefix + ":" }

func (m *Manager) defaultNetwork() *Network {
	for _, n := range m.st.Networks {
		if n.Default {
			return n
		}
	}
	return nil
}

func newID() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (m *Manager) load() error {
	m.st = state{}
	b, err := os.ReadFile(filepath.Join(m.cfg.Root, stateFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("network: read state: %w", err)
	}
	if err == nil {
		if err := json.Unmarshal(b, &m.st); err != nil {
			return fmt.Errorf("network: parse %s: %w", filepath.Join(m.cfg.Root, stateFile), err)
		}
	}
	if m.st.Networks == nil {
		m.st.Networks = map[string]*Network{}
	}
	if m.st.Endpoints == nil {
		m.st.Endpoints = map[string]*Endpoint{}
	}
	if m.st.Ports == nil {
		m.st.Ports = map[string]*publication{}
	}
	if m.st.Forwarders == nil {
		m.st.Forwarders = map[string][]string{}
	}
	return nil
}

// save writes the state atomically; m.mu is held.
func (m *Manager) save() error {
	b, err := json.MarshalIndent(&m.st, "", "\t")
	if err != nil {
		return fmt.Errorf("network: encode state: %w", err)
	}
	p := filepath.Join(m.cfg.Root, stateFile)
	tmp := p + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("network: write state: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err != nil {
		return fmt.Errorf("network: write state %s: %w", p, err)
	}
	return nil
}

// find resolves a network by full ID, unique ID prefix or name; m.mu is held.
func (m *Manager) find(ref string) (*Network, error) {
	if ref == "" {
		return nil, errdefs.ErrInvalidArgument.WithMessage("network: empty network name or id")
	}
	if n, ok := m.st.Networks[ref]; ok {
		return n, nil
	}
	for _, n := range m.st.Networks {
		if n.Name == ref {
			return n, nil
		}
	}
	var found *Network
	for id, n := range m.st.Networks {
		if strings.HasPrefix(id, ref) {
			if found != nil {
				return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("network %s is ambiguous", ref))
			}
			found = n
		}
	}
	if found == nil {
		return nil, errdefs.ErrNotFound.WithMessage(fmt.Sprintf("network %s not found", ref))
	}
	return found, nil
}

func clone(n *Network) *Network {
	c := *n
	c.Labels = cloneMap(n.Labels)
	c.Options = cloneMap(n.Options)
	return &c
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// Create makes a bridge network: its record, its Linux bridge with the
// gateway address and its firewall rules. A name in use or a subnet that
// overlaps another network is a conflict.
func (m *Manager) Create(ctx context.Context, c NetworkConfig) (*Network, error) {
	if c.Driver == "" {
		c.Driver = "bridge"
	}
	if c.Driver != "bridge" {
		return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("network %s: driver %q is not supported (only bridge)", c.Name, c.Driver))
	}
	if c.Name == "" {
		return nil, errdefs.ErrInvalidArgument.WithMessage("network: name is empty")
	}
	if c.Name == "host" || c.Name == "none" || c.Name == DefaultNetworkName {
		return nil, errdefs.ErrPermissionDenied.WithMessage(fmt.Sprintf("%s is a pre-defined network and cannot be created", c.Name))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, n := range m.st.Networks {
		if n.Name == c.Name {
			return nil, errdefs.ErrConflict.WithMessage(fmt.Sprintf("network with name %s already exists", c.Name))
		}
	}
	n := &Network{
		ID: newID(), Name: c.Name, Driver: c.Driver, Internal: c.Internal, IPv6: c.IPv6,
		// The daemon's --mtu is the default bridge's only, as dockerd's:
		// a user network has 1500 unless its driver option says otherwise.
		Labels: cloneMap(c.Labels), Options: cloneMap(c.Options), MTU: 1500,
		Created: time.Now().UTC(),
	}
	if s := c.Options["com.docker.network.driver.mtu"]; s != "" {
		mtu, err := strconv.Atoi(s)
		if err != nil || mtu < 68 {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("network %s: option com.docker.network.driver.mtu: invalid value %q", c.Name, s))
		}
		n.MTU = mtu
	}
	n.Bridge = c.Options["com.docker.network.bridge.name"]
	if n.Bridge == "" {
		n.Bridge = "br-" + n.ID[:12]
	} else if len(n.Bridge) > 15 || strings.ContainsAny(n.Bridge, "/ :") {
		return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("network %s: option com.docker.network.bridge.name: invalid interface name %q", c.Name, n.Bridge))
	}
	for _, o := range m.st.Networks {
		if o.Bridge == n.Bridge {
			return nil, errdefs.ErrConflict.WithMessage(fmt.Sprintf("network %s: bridge %s is used by network %s", c.Name, n.Bridge, o.Name))
		}
	}
	if c.Subnet.IsValid() {
		if !c.Subnet.Addr().Is4() {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("network %s: subnet %s: only IPv4 subnets are supported", c.Name, c.Subnet))
		}
		if c.Subnet.Bits() > 30 {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("network %s: subnet %s is too small", c.Name, c.Subnet))
		}
		n.Subnet = c.Subnet.Masked()
		for _, o := range m.st.Networks {
			if o.Subnet.Overlaps(n.Subnet) {
				// dockerd's status (403) and words, then which network.
				return nil, errdefs.ErrPermissionDenied.WithMessage(fmt.Sprintf("invalid pool request: Pool overlaps with other one on this address space: network %s: subnet %s overlaps with network %s (%s)", c.Name, n.Subnet, o.Name, o.Subnet))
			}
		}
	} else {
		if c.Gateway.IsValid() || c.IPRange.IsValid() {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("network %s: gateway and ip-range need a subnet", c.Name))
		}
		sub, err := m.pickSubnet()
		if err != nil {
			return nil, fmt.Errorf("network %s: %w", c.Name, err)
		}
		n.Subnet, n.AutoSubnet = sub, true
	}
	n.Gateway = n.Subnet.Addr().Next()
	if c.Gateway.IsValid() {
		if !n.Subnet.Contains(c.Gateway) || c.Gateway == n.Subnet.Addr() || c.Gateway == broadcast(n.Subnet) {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("network %s: gateway %s is not a host address of subnet %s", c.Name, c.Gateway, n.Subnet))
		}
		n.Gateway = c.Gateway
	}
	if c.IPRange.IsValid() {
		r := c.IPRange.Masked()
		if !n.Subnet.Contains(r.Addr()) || r.Bits() < n.Subnet.Bits() {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("network %s: ip-range %s is not inside subnet %s", c.Name, c.IPRange, n.Subnet))
		}
		n.IPRange = r
	}
	if c.IPv6 || c.Subnet6.IsValid() {
		if err := m.setIPv6(n, c); err != nil {
			return nil, err
		}
	}
	for name, a := range c.Aux {
		in4 := a.Is4() && n.Subnet.Contains(a) && a != n.Subnet.Addr() && a != broadcast(n.Subnet)
		in6 := a.Is6() && n.Subnet6.IsValid() && n.Subnet6.Contains(a) && a != n.Subnet6.Addr()
		if !in4 && !in6 {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("network %s: no matching subnet for aux-address %s (%s)", c.Name, a, name))
		}
		if a == n.Gateway || a == n.Gateway6 {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("network %s: aux-address %s (%s) is the gateway", c.Name, a, name))
		}
		if n.Aux == nil {
			n.Aux = map[string]netip.Addr{}
		}
		n.Aux[name] = a
	}
	if err := m.up(n); err != nil {
		m.down(n)
		return nil, err
	}
	m.st.Networks[n.ID] = n
	if err := m.save(); err != nil {
		delete(m.st.Networks, n.ID)
		m.down(n)
		return nil, err
	}
	return clone(n), nil
}

// down removes the network's bridge and rules; errors are ignored because
// it is also used to undo half-made networks.
func (m *Manager) down(n *Network) {
	m.fw.removeOwner(n.ID)
	deleteLink(n.Bridge)
}

// pickSubnet returns the first pool subnet that overlaps neither a network
// nor a route of the host; m.mu is held.
func (m *Manager) pickSubnet() (netip.Prefix, error) {
	routes, err := hostRoutes()
	if err != nil {
		return netip.Prefix{}, err
	}
	for _, pool := range m.cfg.DefaultAddressPools {
		base := pool.Base.Masked()
		if pool.Size < base.Bits() || pool.Size > 30 {
			continue
		}
		for a := base.Addr(); base.Contains(a); {
			sub := netip.PrefixFrom(a, pool.Size)
			free := true
			for _, n := range m.st.Networks {
				free = free && !n.Subnet.Overlaps(sub)
			}
			for _, r := range routes {
				free = free && !r.Overlaps(sub)
			}
			if free {
				return sub, nil
			}
			next, ok := addOffset(a, 1<<(32-pool.Size))
			if !ok {
				break
			}
			a = next
		}
	}
	return netip.Prefix{}, errdefs.ErrUnavailable.WithMessage("no free subnet left in the default address pools")
}

// Get returns a network by ID, ID prefix or name.
func (m *Manager) Get(ctx context.Context, ref string) (*Network, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	n, err := m.find(ref)
	if err != nil {
		return nil, err
	}
	return clone(n), nil
}

// List returns all networks, sorted by name.
func (m *Manager) List(ctx context.Context) []*Network {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]*Network, 0, len(m.st.Networks))
	for _, n := range m.st.Networks {
		out = append(out, clone(n))
	}
	slices.SortFunc(out, func(a, b *Network) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Endpoints returns the endpoints of a network, sorted by container name.
func (m *Manager) Endpoints(ctx context.Context, ref string) ([]Endpoint, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	n, err := m.find(ref)
	if err != nil {
		return nil, err
	}
	var out []Endpoint
	for _, ep := range m.st.Endpoints {
		if ep.NetworkID == n.ID {
			e := *ep
			e.Aliases = slices.Clone(ep.Aliases)
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b Endpoint) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Remove deletes a network with its bridge and rules. The default network
// cannot be removed; a network with endpoints is a conflict.
func (m *Manager) Remove(ctx context.Context, ref string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.find(ref)
	if err != nil {
		return err
	}
	return m.removeLocked(n)
}

func (m *Manager) removeLocked(n *Network) error {
	if n.Default {
		return errdefs.ErrPermissionDenied.WithMessage(fmt.Sprintf("%s is a pre-defined network and cannot be removed", n.Name))
	}
	for _, ep := range m.st.Endpoints {
		if ep.NetworkID == n.ID {
			return errdefs.ErrConflict.WithMessage(fmt.Sprintf("error while removing network: network %s id %s has active endpoints", n.Name, n.ID))
		}
	}
	delete(m.st.Networks, n.ID)
	if err := m.save(); err != nil {
		m.st.Networks[n.ID] = n
		return err
	}
	if err := m.fw.removeOwner(n.ID); err != nil {
		return fmt.Errorf("network %s: %w", n.Name, err)
	}
	if err := deleteLink(n.Bridge); err != nil {
		return fmt.Errorf("network %s: %w", n.Name, err)
	}
	return nil
}

// Prune removes every user-defined network without endpoints for which
// keep (nil: none) returns false, and returns the removed names.
func (m *Manager) Prune(ctx context.Context, keep func(*Network) bool) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	used := map[string]bool{}
	for _, ep := range m.st.Endpoints {
		used[ep.NetworkID] = true
	}
	var removed []string
	var errs []error
	for _, n := range m.st.Networks {
		if n.Default || used[n.ID] || (keep != nil && keep(clone(n))) {
			continue
		}
		if err := m.removeLocked(n); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, n.Name)
	}
	slices.Sort(removed)
	return removed, errors.Join(errs...)
}

// HostGateway returns the default bridge's gateway address, which docker's
// --add-host NAME:host-gateway stands for.
func (m *Manager) HostGateway() netip.Addr {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if n := m.defaultNetwork(); n != nil {
		return n.Gateway
	}
	return netip.Addr{}
}

// Close waits for released veth pairs to be deleted, stops the embedded
// DNS servers and releases the host-port reservations of this process.
// Networking of containers stays in place for Restore in the next daemon.
func (m *Manager) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.drain.wg.Wait()
	for id, r := range m.resolvers {
		r.stop()
		delete(m.resolvers, id)
	}
	for id, hs := range m.holds {
		for _, h := range hs {
			h.Close()
		}
		delete(m.holds, id)
	}
	return nil
}

func broadcast(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3]) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func addOffset(a netip.Addr, off uint32) (netip.Addr, bool) {
	b := a.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	nv := v + off
	if nv < v {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4([4]byte{byte(nv >> 24), byte(nv >> 16), byte(nv >> 8), byte(nv)}), true
}

// macFor derives a locally administered MAC from an IPv4 address as
// docker does (02:42:a:b:c:d).
func macFor(ip netip.Addr) string {
	b := ip.As4()
	return net.HardwareAddr{0x02, 0x42, b[0], b[1], b[2], b[3]}.String()
}

// setIPv6 gives n its IPv6 subnet and gateway; m.mu is held.
func (m *Manager) setIPv6(n *Network, c NetworkConfig) error {
	n.IPv6 = true
	if c.Subnet6.IsValid() {
		if !c.Subnet6.Addr().Is6() || c.Subnet6.Addr().Is4In6() || c.Subnet6.Bits() > 126 {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("network %s: subnet %s is not a usable IPv6 subnet", c.Name, c.Subnet6))
		}
		n.Subnet6 = c.Subnet6.Masked()
	} else {
		b := make([]byte, 5)
		rand.Read(b)
		var a [16]byte
		a[0] = 0xfd
		copy(a[1:6], b)
		n.Subnet6, n.AutoSubnet6 = netip.PrefixFrom(netip.AddrFrom16(a), 64), true
	}
	for _, o := range m.st.Networks {
		if o.Subnet6.IsValid() && o.Subnet6.Overlaps(n.Subnet6) {
			return errdefs.ErrPermissionDenied.WithMessage(fmt.Sprintf("invalid pool request: Pool overlaps with other one on this address space: network %s: subnet %s overlaps with network %s (%s)", c.Name, n.Subnet6, o.Name, o.Subnet6))
		}
	}
	n.Gateway6 = n.Subnet6.Addr().Next()
	if c.Gateway6.IsValid() {
		if !n.Subnet6.Contains(c.Gateway6) || c.Gateway6 == n.Subnet6.Addr() {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("network %s: gateway %s is not a host address of subnet %s", c.Name, c.Gateway6, n.Subnet6))
		}
		n.Gateway6 = c.Gateway6
	}
	return nil
}
