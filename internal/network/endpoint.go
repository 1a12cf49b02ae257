package network

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/containerd/errdefs"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

func epKey(netID, containerID string) string { return netID + "/" + containerID }

// draining tracks the veth pairs of released endpoints while the kernel
// deletes them in the background (see Release). Their addresses stay
// held, so an address is handed out again only once its old pair is gone,
// and a Connect that would make a pair of the same name waits for it. It
// has its own lock: the deleting goroutines never take Manager.mu, so
// holders of Manager.mu may wait for them.
type draining struct {
	mu    sync.Mutex
	wg    sync.WaitGroup
	addrs map[string]chan struct{} // "<network ID>/<address>" -> closed when free
	links map[string]chan struct{} // host veth name -> closed when deleted
}

func (d *draining) holds(netID string, a netip.Addr) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.addrs[netID+"/"+a.String()] != nil
}

// waitAddr waits until a released pair holding address a of netID is
// deleted.
func (d *draining) waitAddr(netID string, a netip.Addr) {
	d.mu.Lock()
	done := d.addrs[netID+"/"+a.String()]
	d.mu.Unlock()
	if done != nil {
		<-done
	}
}

// start deletes link in the background, holding addrs of netID meanwhile.
func (d *draining) start(link netlink.Link, netID string, addrs ...netip.Addr) {
	d.mu.Lock()
	if d.addrs == nil {
		d.addrs, d.links = map[string]chan struct{}{}, map[string]chan struct{}{}
	}
	name := link.Attrs().Name
	done := make(chan struct{})
	d.links[name] = done
	var keys []string
	for _, a := range addrs {
		if a.IsValid() {
			keys = append(keys, netID+"/"+a.String())
			d.addrs[keys[len(keys)-1]] = done
		}
	}
	d.wg.Add(1)
	d.mu.Unlock()
	go func() {
		defer d.wg.Done()
		// By index: a pair made meanwhile under the same name is not this one.
		if err := netlink.LinkDel(link); err != nil && !errors.Is(err, unix.ENODEV) {
			slog.Error("network: delete released veth", "veth", name, "err", err)
		}
		d.mu.Lock()
		for _, k := range keys {
			if d.addrs[k] == done {
				delete(d.addrs, k)
			}
		}
		if d.links[name] == done {
			delete(d.links, name)
		}
		d.mu.Unlock()
		close(done)
	}()
}

// waitLink waits until a released pair named name is deleted.
func (d *draining) waitLink(name string) {
	d.mu.Lock()
	done := d.links[name]
	d.mu.Unlock()
	if done != nil {
		<-done
	}
}

// allocate returns the requested address if free, else the preferred one
// (the container's address on the network before) if free, else the
// lowest free address of the network's range; m.mu is held. Addresses held
// by an endpoint in the state are never returned. A requested or
// preferred address whose released pair is still being deleted is waited
// for (a restart keeps its address, as with dockerd); any other such
// address is passed over, so a new container never waits.
func (m *Manager) allocate(n *Network, want, prefer netip.Addr) (netip.Addr, error) {
	held := map[netip.Addr]bool{n.Gateway: true}
	for _, ep := range m.st.Endpoints {
		if ep.NetworkID == n.ID {
			held[ep.IP] = true
		}
	}
	for _, a := range n.Aux {
		held[a] = true
	}
	isHeld := func(a netip.Addr) bool { return held[a] || m.drain.holds(n.ID, a) }
	bc := broadcast(n.Subnet)
	if want.IsValid() {
		if !n.Subnet.Contains(want) || want == n.Subnet.Addr() || want == bc {
			return netip.Addr{}, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("network %s: address %s is not a host address of subnet %s", n.Name, want, n.Subnet))
		}
		if held[want] {
			return netip.Addr{}, errdefs.ErrConflict.WithMessage(fmt.Sprintf("network %s: address %s is already in use", n.Name, want))
		}
		m.drain.waitAddr(n.ID, want)
		return want, nil
	}
	r := n.Subnet
	if n.IPRange.IsValid() {
		r = n.IPRange
	}
	if prefer.IsValid() && r.Contains(prefer) && prefer != n.Subnet.Addr() && prefer != bc && !held[prefer] {
		m.drain.waitAddr(n.ID, prefer)
		return prefer, nil
	}
	for a := r.Addr(); r.Contains(a); a = a.Next() {
		if a == n.Subnet.Addr() || a == bc || isHeld(a) {
			continue
		}
		return a, nil
	}
	return netip.Addr{}, errdefs.ErrUnavailable.WithMessage(fmt.Sprintf("network %s: no available address in %s", n.Name, r))
}

// allocate6 is allocate for the network's IPv6 subnet; m.mu is held.
func (m *Manager) allocate6(n *Network, want, prefer netip.Addr) (netip.Addr, error) {
	held := map[netip.Addr]bool{n.Gateway6: true, n.Subnet6.Addr(): true}
	for _, ep := range m.st.Endpoints {
		if ep.NetworkID == n.ID && ep.IPv6.IsValid() {
			held[ep.IPv6] = true
		}
	}
	for _, a := range n.Aux {
		held[a] = true
	}
	isHeld := func(a netip.Addr) bool { return held[a] || m.drain.holds(n.ID, a) }
	if want.IsValid() {
		if !n.Subnet6.Contains(want) || want == n.Subnet6.Addr() {
			return netip.Addr{}, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("network %s: address %s is not a host address of subnet %s", n.Name, want, n.Subnet6))
		}
		if held[want] {
			return netip.Addr{}, errdefs.ErrConflict.WithMessage(fmt.Sprintf("network %s: address %s is already in use", n.Name, want))
		}
		m.drain.waitAddr(n.ID, want)
		return want, nil
	}
	if prefer.IsValid() && n.Subnet6.Contains(prefer) && !held[prefer] {
		m.drain.waitAddr(n.ID, prefer)
		return prefer, nil
	}
	for a := n.Subnet6.Addr(); n.Subnet6.Contains(a); a = a.Next() {
		if !isHeld(a) {
			return a, nil
		}
	}
	return netip.Addr{}, errdefs.ErrUnavailable.WithMessage(fmt.Sprintf("network %s: no available address in %s", n.Name, n.Subnet6))
}

// vethName is the host side of the veth pair of a container on a network.
func vethName(netID, containerID string) string {
	h := sha256.Sum256([]byte(netID + "/" + containerID))
	return "vb" + hex.EncodeToString(h[:])[:10]
}

// Connect attaches the container whose network namespace is at netnsPath
// to a network: an address from the network's IPAM (recorded before
// anything is made), a veth pair with its host side on the bridge, and, on
// user-defined networks, the embedded DNS inside the namespace. Connecting
// twice to the same network is a conflict.
func (m *Manager) Connect(ctx context.Context, netRef, containerID, netnsPath string, cfg EndpointConfig) (*Endpoint, error) {
	if containerID == "" || netnsPath == "" {
		return nil, errdefs.ErrInvalidArgument.WithMessage("network connect: container id and netns path are required")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.find(netRef)
	if err != nil {
		return nil, err
	}
	key := epKey(n.ID, containerID)
	if _, ok := m.st.Endpoints[key]; ok {
		return nil, errdefs.ErrPermissionDenied.WithMessage(fmt.Sprintf("endpoint with name %s already exists in network %s", cfg.Name, n.Name)) // dockerd: 403
	}
	if cfg.IP.IsValid() && n.Default {
		return nil, errdefs.ErrInvalidArgument.WithMessage("user specified IP address is supported on user defined networks only")
	}
	if len(cfg.Aliases) > 0 && n.Default {
		return nil, errdefs.ErrInvalidArgument.WithMessage("network-scoped alias is supported only for containers in user defined networks")
	}
	ip, err := m.allocate(n, cfg.IP, cfg.PreferIP)
	if err != nil {
		return nil, err
	}
	var ip6 netip.Addr
	if n.Subnet6.IsValid() {
		if ip6, err = m.allocate6(n, cfg.IPv6, cfg.PreferIPv6); err != nil {
			return nil, err
		}
	} else if cfg.IPv6.IsValid() {
		return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("network %s: IPv6 address %s requested on a network without IPv6", n.Name, cfg.IPv6))
	}
	mac := cfg.MacAddress
	if mac == "" {
		mac = macFor(ip)
	} else if hw, err := net.ParseMAC(mac); err != nil || len(hw) != 6 {
		return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("network %s: invalid mac address %q", n.Name, mac))
	}
	ep := &Endpoint{
		ID: newID(), NetworkID: n.ID, ContainerID: containerID, Name: strings.TrimPrefix(cfg.Name, "/"),
		Aliases: slices.Clone(cfg.Aliases), Links: maps.Clone(cfg.Links), GwPriority: cfg.GwPriority, IP: ip, Prefix: n.Subnet.Bits(), Gateway: n.Gateway,
		MAC: mac, HostVeth: vethName(n.ID, containerID), NetnsPath: netnsPath,
	}
	if ip6.IsValid() {
		ep.IPv6, ep.Prefix6, ep.Gateway6 = ip6, n.Subnet6.Bits(), n.Gateway6
	}
	if n.Internal {
		ep.Gateway, ep.Gateway6 = netip.Addr{}, netip.Addr{}
	}
	if cfg.IfName != "" {
		// A name of the user's (docker's endpoint ifname option): a
		// valid interface name not taken in the namespace.
		if len(cfg.IfName) > 15 || strings.ContainsAny(cfg.IfName, "/: \t\n") || cfg.IfName == "." || cfg.IfName == ".." {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("network %s: invalid interface name %q", n.Name, cfg.IfName))
		}
		for _, o := range m.st.Endpoints {
			if o.ContainerID == containerID && o.IfName == cfg.IfName {
				return nil, errdefs.ErrConflict.WithMessage(fmt.Sprintf("network %s: interface name %s is already in use in the container", n.Name, cfg.IfName))
			}
		}
		ep.IfName = cfg.IfName
	} else if ep.IfName, err = nextIfName(netnsPath); err != nil {
		return nil, fmt.Errorf("network %s: connect %s: %w", n.Name, containerID, err)
	}
	m.st.Endpoints[key] = ep
	if err := m.save(); err != nil {
		delete(m.st.Endpoints, key)
		return nil, err
	}
	undo := func() {
		deleteLink(ep.HostVeth)
		delete(m.st.Endpoints, key)
		m.save()
	}
	m.drain.waitLink(ep.HostVeth) // a pair of this name released just before
	if err := attach(m.tag(), n, ep); err != nil {
		undo()
		return nil, fmt.Errorf("network %s: connect %s: %w", n.Name, containerID, err)
	}
	if !n.Default {
		if err := m.ensureResolver(containerID, netnsPath); err != nil {
			undo()
			return nil, fmt.Errorf("network %s: connect %s: %w", n.Name, containerID, err)
		}
	}
	// A second network may take the default route (attach gave the
	// first one the route).
	joined := 0
	for _, o := range m.st.Endpoints {
		if o.ContainerID == containerID {
			joined++
		}
	}
	if joined > 1 {
		if err := m.routeDefault(containerID); err != nil {
			slog.Warn("default route", "container", containerID, "err", err)
		}
	}
	out := *ep
	out.Aliases, out.Links = slices.Clone(ep.Aliases), maps.Clone(ep.Links)
	return &out, nil
}

// Disconnect detaches a container from a network: its veth pair is
// deleted (both sides), its address released and its names leave the
// network's DNS at once. A container that is not connected is NotFound.
func (m *Manager) Disconnect(ctx context.Context, netRef, containerID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.find(netRef)
	if err != nil {
		return err
	}
	key := epKey(n.ID, containerID)
	ep, ok := m.st.Endpoints[key]
	if !ok {
		return errdefs.ErrNotFound.WithMessage(fmt.Sprintf("container %s is not connected to network %s", containerID, n.Name))
	}
	if err := deleteLink(ep.HostVeth); err != nil {
		return fmt.Errorf("network %s: disconnect %s: %w", n.Name, containerID, err)
	}
	delete(m.st.Endpoints, key)
	if err := m.save(); err != nil {
		return err
	}
	m.dropResolverIfUnused(containerID)
	// The default route may have gone with the link: another network
	// takes it.
	if err := m.routeDefault(containerID); err != nil {
		slog.Warn("default route", "container", containerID, "err", err)
	}
	return nil
}

// routeDefault puts the container's default routes (IPv4, and IPv6 where
// it has IPv6) via the network that should have them, as dockerd picks it:
// the highest GwPriority among its non-internal networks; among equals the
// one that has the route now, else the first joined (eth0 before eth1).
// m.mu is held.
func (m *Manager) routeDefault(containerID string) error {
	var eps []*Endpoint
	for _, ep := range m.st.Endpoints {
		if n := m.st.Networks[ep.NetworkID]; ep.ContainerID == containerID && n != nil && !n.Internal {
			eps = append(eps, ep)
		}
	}
	if len(eps) == 0 {
		return nil
	}
	ns, err := netns.GetFromPath(eps[0].NetnsPath)
	if err != nil {
		return fmt.Errorf("network namespace %s: %w", eps[0].NetnsPath, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	var errs []error
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		gwOf := func(ep *Endpoint) netip.Addr {
			if fam == netlink.FAMILY_V4 {
				return m.st.Networks[ep.NetworkID].Gateway
			}
			if !ep.IPv6.IsValid() {
				return netip.Addr{}
			}
			return m.st.Networks[ep.NetworkID].Gateway6
		}
		current := ""
		routes, _ := h.RouteList(nil, fam)
		for _, r := range routes {
			if r.Dst == nil || r.Dst.IP.IsUnspecified() {
				if l, err := h.LinkByIndex(r.LinkIndex); err == nil {
					current = l.Attrs().Name
				}
			}
		}
		var best *Endpoint
		for _, ep := range eps {
			if !gwOf(ep).IsValid() {
				continue
			}
			switch {
			case best == nil, ep.GwPriority > best.GwPriority:
				best = ep
			case ep.GwPriority < best.GwPriority:
			case best.IfName == current:
			case ep.IfName == current || ifIndexOf(ep.IfName) < ifIndexOf(best.IfName):
				best = ep
			}
		}
		if best == nil || best.IfName == current {
			continue
		}
		link, err := h.LinkByName(best.IfName)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		dst := &net.IPNet{IP: net.IPv4zero, Mask: net.CIDRMask(0, 32)}
		if fam == netlink.FAMILY_V6 {
			dst = &net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}
		}
		if err := h.RouteReplace(&netlink.Route{LinkIndex: link.Attrs().Index, Dst: dst, Gw: net.IP(gwOf(best).AsSlice())}); err != nil {
			errs = append(errs, fmt.Errorf("%s: default route via %s: %w", best.IfName, gwOf(best), err))
		}
	}
	return errors.Join(errs...)
}

// ifIndexOf is N of an interface named ethN (a large number otherwise).
func ifIndexOf(name string) int {
	n, err := strconv.Atoi(strings.TrimPrefix(name, "eth"))
	if err != nil {
		return 1 << 30
	}
	return n
}

// DisconnectAll detaches a container from every network it is on.
func (m *Manager) DisconnectAll(ctx context.Context, containerID string) error {
	m.mu.RLock()
	var nets []string
	for _, ep := range m.st.Endpoints {
		if ep.ContainerID == containerID {
			nets = append(nets, ep.NetworkID)
		}
	}
	m.mu.RUnlock()
	var errs []error
	for _, id := range nets {
		if err := m.Disconnect(ctx, id, containerID); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Release detaches a container whose network namespace the caller
// releases right after (the engine, once the container stopped) from
// every network: like DisconnectAll, its endpoints leave the state and
// its names the DNS at once, but the veth pairs are deleted in the
// background, off the caller's path: a deletion waits 10 to 30 ms for the
// kernel's network synchronization. Their addresses are handed out again
// only once they are gone; Close waits for them.
func (m *Manager) Release(ctx context.Context, containerID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	type released struct {
		link netlink.Link
		ep   *Endpoint
	}
	var rel []released
	var errs []error
	for key, ep := range m.st.Endpoints {
		if ep.ContainerID != containerID {
			continue
		}
		link, err := netlink.LinkByName(ep.HostVeth)
		if err != nil {
			var nf netlink.LinkNotFoundError
			if !errors.As(err, &nf) {
				errs = append(errs, fmt.Errorf("release %s: veth %s: %w", containerID, ep.HostVeth, err))
				continue // kept: DisconnectAll or Restore deletes it
			}
			link = nil // gone already
		}
		delete(m.st.Endpoints, key)
		rel = append(rel, released{link, ep})
	}
	if len(rel) == 0 {
		return errors.Join(errs...)
	}
	for _, r := range rel {
		if r.link != nil {
			m.drain.start(r.link, r.ep.NetworkID, r.ep.IP, r.ep.IPv6)
		}
	}
	if err := m.save(); err != nil { // Restore drops what a crash leaves
		errs = append(errs, err)
	}
	m.dropResolverIfUnused(containerID)
	return errors.Join(errs...)
}

// ContainerEndpoints returns the endpoints of a container, by network ID.
func (m *Manager) ContainerEndpoints(ctx context.Context, containerID string) map[string]Endpoint {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := map[string]Endpoint{}
	for _, ep := range m.st.Endpoints {
		if ep.ContainerID == containerID {
			e := *ep
			e.Aliases, e.Links = slices.Clone(ep.Aliases), maps.Clone(ep.Links)
			out[ep.NetworkID] = e
		}
	}
	return out
}

// Rename changes the name the embedded DNS answers for a container, on
// every network, at once.
func (m *Manager) Rename(ctx context.Context, containerID, newName string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, ep := range m.st.Endpoints {
		if ep.ContainerID == containerID {
			ep.Name = strings.TrimPrefix(newName, "/")
		}
	}
	return m.save()
}
