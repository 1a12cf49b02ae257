package network

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Links Berth made carry the alias (IFLA_IFALIAS) "berth:<chain prefix>:"
// followed by the network ID (bridges) or "<network ID>:<container ID>"
// (veths), so Restore finds its own links and no other manager's.

func ipNet(p netip.Prefix, a netip.Addr) *net.IPNet {
	return &net.IPNet{IP: net.IP(a.AsSlice()), Mask: net.CIDRMask(p.Bits(), 32)}
}

func ipNet6(p netip.Prefix, a netip.Addr) *net.IPNet {
	return &net.IPNet{IP: net.IP(a.AsSlice()), Mask: net.CIDRMask(p.Bits(), 128)}
}

// ensureBridge creates the network's bridge with its gateway address, MTU
// and route_localnet (for DNAT from 127.0.0.1), and sets it up.
func ensureBridge(tag string, n *Network) error {
	link, err := netlink.LinkByName(n.Bridge)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if !errors.As(err, &nf) {
			return fmt.Errorf("bridge %s: %w", n.Bridge, err)
		}
		la := netlink.NewLinkAttrs()
		la.Name = n.Bridge
		la.MTU = n.MTU
		br := &netlink.Bridge{LinkAttrs: la}
		if err := netlink.LinkAdd(br); err != nil {
			return fmt.Errorf("create bridge %s: %w", n.Bridge, err)
		}
		if link, err = netlink.LinkByName(n.Bridge); err != nil {
			return fmt.Errorf("bridge %s: %w", n.Bridge, err)
		}
	} else if link.Type() != "bridge" {
		return fmt.Errorf("interface %s exists and is not a bridge", n.Bridge)
	}
	if err := netlink.LinkSetAlias(link, tag+n.ID); err != nil {
		return fmt.Errorf("bridge %s: set alias: %w", n.Bridge, err)
	}
	addr := &netlink.Addr{IPNet: ipNet(n.Subnet, n.Gateway)}
	if err := netlink.AddrReplace(link, addr); err != nil {
		return fmt.Errorf("bridge %s: address %s: %w", n.Bridge, addr.IPNet, err)
	}
	if n.Subnet6.IsValid() {
		a6 := &netlink.Addr{IPNet: ipNet6(n.Subnet6, n.Gateway6), Flags: unix.IFA_F_NODAD}
		if err := netlink.AddrReplace(link, a6); err != nil {
			return fmt.Errorf("bridge %s: address %s: %w", n.Bridge, a6.IPNet, err)
		}
	}
	if err := os.WriteFile("/proc/sys/net/ipv4/conf/"+n.Bridge+"/route_localnet", []byte("1"), 0o644); err != nil {
		return fmt.Errorf("bridge %s: route_localnet: %w", n.Bridge, err)
	}
	if n.Subnet6.IsValid() && !n.Internal {
		// IPv6 forwarding for what comes in on this bridge only (Linux
		// 6.17+): hairpin to published ports and routed traffic out of
		// the network, without net.ipv6.conf.all.forwarding, which would
		// turn off router advertisements on the host's own interfaces.
		p := "/proc/sys/net/ipv6/conf/" + n.Bridge + "/force_forwarding"
		if err := os.WriteFile(p, []byte("1"), 0o644); err != nil {
			slog.Debug("bridge: no per-interface IPv6 forwarding; IPv6 hairpin and routing need net.ipv6.conf.all.forwarding=1", "bridge", n.Bridge, "err", err)
		}
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("bridge %s: set up: %w", n.Bridge, err)
	}
	return nil
}

// deleteLink deletes a link by name; a missing link is not an error.
func deleteLink(name string) error {
	link, err := netlink.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return fmt.Errorf("link %s: %w", name, err)
	}
	if err := netlink.LinkDel(link); err != nil {
		// Gone meanwhile: a veth pair is also deleted in the background
		// after a stop, and deleting one end takes the other.
		if errors.Is(err, unix.ENODEV) {
			return nil
		}
		return fmt.Errorf("delete link %s: %w", name, err)
	}
	return nil
}

// hostRoutes returns the IPv4 destinations of the host's routes (the
// default route excluded).
func hostRoutes() ([]netip.Prefix, error) {
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("list host routes: %w", err)
	}
	var out []netip.Prefix
	for _, r := range routes {
		if r.Dst == nil {
			continue
		}
		a, ok := netip.AddrFromSlice(r.Dst.IP.To4())
		if !ok {
			continue
		}
		ones, _ := r.Dst.Mask.Size()
		if ones == 0 {
			continue
		}
		out = append(out, netip.PrefixFrom(a, ones).Masked())
	}
	return out, nil
}

func enableForwarding() error {
	p := "/proc/sys/net/ipv4/ip_forward"
	if b, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(b)) == "1" {
		return nil
	}
	if err := os.WriteFile(p, []byte("1"), 0o644); err != nil {
		return fmt.Errorf("enable ip forwarding: %w", err)
	}
	return nil
}

// attach creates the veth pair of ep, its host side on the bridge and its
// container side made directly inside the namespace at ep.NetnsPath
// (created there, not moved: a move costs the kernel a network
// synchronization of some 10 to 30 ms) with its name ep.IfName (the next
// free ethN when empty) and MAC; then address, up, default route via the
// gateway unless the network is internal. On error nothing is left.
func attach(tag string, n *Network, ep *Endpoint) (err error) {
	br, err := netlink.LinkByName(n.Bridge)
	if err != nil {
		return fmt.Errorf("bridge %s: %w", n.Bridge, err)
	}
	ns, err := netns.GetFromPath(ep.NetnsPath)
	if err != nil {
		return fmt.Errorf("network namespace %s: %w", ep.NetnsPath, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("netlink in %s: %w", ep.NetnsPath, err)
	}
	defer h.Close()

	if ep.IfName == "" {
		ep.IfName, err = freeIfName(h)
		if err != nil {
			return err
		}
	}
	mac, err := net.ParseMAC(ep.MAC)
	if err != nil {
		return fmt.Errorf("mac address %q: %w", ep.MAC, err)
	}
	la := netlink.NewLinkAttrs()
	la.Name = ep.HostVeth
	la.MTU = n.MTU
	la.MasterIndex = br.Attrs().Index
	veth := netlink.NewVeth(la)
	veth.PeerName = ep.IfName
	veth.PeerHardwareAddr = mac
	veth.PeerNamespace = netlink.NsFd(ns)
	if err := netlink.LinkAdd(veth); err != nil {
		if !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("create veth %s: %w", ep.HostVeth, err)
		}
		// A pair of this container on this network left by a crash (or
		// dying with an old namespace): its name is ours, remove it.
		if derr := deleteLink(ep.HostVeth); derr != nil {
			return fmt.Errorf("create veth %s: %w (and removing the old one: %v)", ep.HostVeth, err, derr)
		}
		if err := netlink.LinkAdd(veth); err != nil {
			return fmt.Errorf("create veth %s: %w", ep.HostVeth, err)
		}
	}
	defer func() {
		if err != nil {
			deleteLink(ep.HostVeth)
		}
	}()
	host, err := netlink.LinkByName(ep.HostVeth)
	if err != nil {
		return fmt.Errorf("veth %s: %w", ep.HostVeth, err)
	}
	if err := netlink.LinkSetAlias(host, tag+n.ID+":"+ep.ContainerID); err != nil {
		return fmt.Errorf("veth %s: set alias: %w", ep.HostVeth, err)
	}
	if err := netlink.LinkSetHairpin(host, true); err != nil {
		return fmt.Errorf("veth %s: hairpin: %w", ep.HostVeth, err)
	}
	if err := netlink.LinkSetUp(host); err != nil {
		return fmt.Errorf("veth %s: set up: %w", ep.HostVeth, err)
	}
	peer, err := h.LinkByName(ep.IfName)
	if err != nil {
		return fmt.Errorf("veth %s in %s: %w", ep.IfName, ep.NetnsPath, err)
	}
	if err := h.AddrAdd(peer, &netlink.Addr{IPNet: ipNet(n.Subnet, ep.IP)}); err != nil {
		return fmt.Errorf("%s: address %s: %w", ep.IfName, ep.IP, err)
	}
	if ep.IPv6.IsValid() {
		a6 := &netlink.Addr{IPNet: ipNet6(n.Subnet6, ep.IPv6), Flags: unix.IFA_F_NODAD}
		if err := h.AddrAdd(peer, a6); err != nil {
			return fmt.Errorf("%s: address %s: %w", ep.IfName, ep.IPv6, err)
		}
	}
	if !ep.IPv6.IsValid() {
		// As dockerd: an interface without an IPv6 address has IPv6
		// off, so it gets no link-local address and sends nothing
		// (router and neighbour solicitations) before it is up.
		if err := disableIPv6(ep.NetnsPath, ep.IfName); err != nil {
			return err
		}
	}
	if lo, err := h.LinkByName("lo"); err == nil {
		h.LinkSetUp(lo)
	}
	if err := h.LinkSetUp(peer); err != nil {
		return fmt.Errorf("%s: set up: %w", ep.IfName, err)
	}
	if !n.Internal {
		gw := net.IP(n.Gateway.AsSlice())
		routes, _ := h.RouteList(nil, netlink.FAMILY_V4)
		hasDefault := false
		for _, r := range routes {
			hasDefault = hasDefault || r.Dst == nil || r.Dst.IP.IsUnspecified()
		}
		if !hasDefault {
			if err := h.RouteAdd(&netlink.Route{LinkIndex: peer.Attrs().Index, Gw: gw}); err != nil {
				return fmt.Errorf("%s: default route via %s: %w", ep.IfName, gw, err)
			}
		}
		if ep.IPv6.IsValid() {
			routes6, _ := h.RouteList(nil, netlink.FAMILY_V6)
			hasDefault6 := false
			for _, r := range routes6 {
				hasDefault6 = hasDefault6 || r.Dst == nil || r.Dst.IP.IsUnspecified()
			}
			if !hasDefault6 {
				gw6 := net.IP(n.Gateway6.AsSlice())
				if err := h.RouteAdd(&netlink.Route{LinkIndex: peer.Attrs().Index, Gw: gw6}); err != nil {
					return fmt.Errorf("%s: default route via %s: %w", ep.IfName, gw6, err)
				}
			}
		}
	}
	return nil
}

// nextIfName returns the first ethN not present in the namespace at path.
func nextIfName(path string) (string, error) {
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return "", fmt.Errorf("network namespace %s: %w", path, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return "", fmt.Errorf("netlink in %s: %w", path, err)
	}
	defer h.Close()
	return freeIfName(h)
}

// freeIfName returns the first ethN not present in the namespace.
func freeIfName(h *netlink.Handle) (string, error) {
	links, err := h.LinkList()
	if err != nil {
		return "", fmt.Errorf("list links: %w", err)
	}
	used := map[string]bool{}
	for _, l := range links {
		used[l.Attrs().Name] = true
	}
	for i := 0; ; i++ {
		if name := fmt.Sprintf("eth%d", i); !used[name] {
			return name, nil
		}
	}
}

// inNetns runs fn on a thread switched into the namespace at path. Sockets
// fn opens stay in that namespace.
func inNetns(path string, fn func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return fmt.Errorf("current network namespace: %w", err)
	}
	defer orig.Close()
	target, err := netns.GetFromPath(path)
	if err != nil {
		return fmt.Errorf("network namespace %s: %w", path, err)
	}
	defer target.Close()
	if err := unix.Setns(int(target), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("enter network namespace %s: %w", path, err)
	}
	ferr := fn()
	if err := unix.Setns(int(orig), unix.CLONE_NEWNET); err != nil {
		// The thread is in the wrong namespace: keep it locked so the Go
		// runtime ends it instead of reusing it.
		runtime.LockOSThread()
		return fmt.Errorf("return from network namespace %s: %w", path, err)
	}
	return ferr
}

// disableIPv6 sets net.ipv6.conf.IFNAME.disable_ipv6 in the network
// namespace at nsPath; a kernel without IPv6 has nothing to turn off.
func disableIPv6(nsPath, ifName string) error {
	return inNetns(nsPath, func() error {
		err := os.WriteFile("/proc/sys/net/ipv6/conf/"+ifName+"/disable_ipv6", []byte("1"), 0)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s: disable IPv6: %w", ifName, err)
		}
		return nil
	})
}

// taggedLinks returns the host links whose alias starts with tag.
func taggedLinks(tag string) ([]netlink.Link, error) {
	links, err := netlink.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	var out []netlink.Link
	for _, l := range links {
		if strings.HasPrefix(l.Attrs().Alias, tag) {
			out = append(out, l)
		}
	}
	return out, nil
}
