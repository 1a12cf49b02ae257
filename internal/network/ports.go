package network

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/errdefs"
)

// portHolder is a socket bound to a published host port, so that no other
// program of the host takes the port while the container has it (the
// DNAT rule catches the traffic before it reaches the socket).
type portHolder = io.Closer

// hold binds hostIP:port (port 0: an ephemeral port) over IPv4 and
// returns the socket with the port it got.
func hold(proto, hostIP string, port int) (portHolder, int, error) {
	addr := net.JoinHostPort(hostIP, strconv.Itoa(port))
	if proto == "udp" {
		pc, err := net.ListenPacket("udp4", addr)
		if err != nil {
			return nil, 0, err
		}
		return pc, pc.LocalAddr().(*net.UDPAddr).Port, nil
	}
	ln, err := net.Listen("tcp4", addr)
	if err != nil {
		return nil, 0, err
	}
	return ln, ln.Addr().(*net.TCPAddr).Port, nil
}

// hold6 binds hostIP:port over IPv6 only ("" or "::": all addresses;
// port 0: an ephemeral port). The ip6tables DNAT rules catch TCP and UDP
// to every local address but ::1, which the kernel never routes off the
// host: a TCP connection or UDP datagram to [::1]:port reaches this
// socket, which forwards it to the container at to.
func hold6(proto, hostIP string, port int, to netip.AddrPort) (portHolder, int, error) {
	if hostIP == "" {
		hostIP = "::"
	}
	addr := net.JoinHostPort(hostIP, strconv.Itoa(port))
	if proto == "udp" {
		pc, err := net.ListenPacket("udp6", addr)
		if err != nil {
			return nil, 0, err
		}
		f := &udpForwarder{pc: pc, to: to, flows: map[string]*net.UDPConn{}}
		go f.serve()
		return f, pc.LocalAddr().(*net.UDPAddr).Port, nil
	}
	ln, err := net.Listen("tcp6", addr) // "tcp6": IPV6_V6ONLY, beside the IPv4 socket
	if err != nil {
		return nil, 0, err
	}
	p := &loopbackProxy{ln: ln, to: to, conns: map[net.Conn]bool{}}
	go p.serve()
	return p, ln.Addr().(*net.TCPAddr).Port, nil
}

// loopbackProxy forwards the TCP connections a holding socket accepts
// (only those to [::1], the others are DNATed before) to the container.
type loopbackProxy struct {
	ln net.Listener
	to netip.AddrPort

	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]bool
}

func (p *loopbackProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil { // e.g. out of file descriptors: try again
			slog.Debug("published port: [::1] accept", "to", p.to, "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		go p.forward(c)
	}
}

// track adds (or, with add false, removes) a connection; false when the
// proxy is closed.
func (p *loopbackProxy) track(c net.Conn, add bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !add {
		delete(p.conns, c)
		return true
	}
	if p.closed {
		return false
	}
	p.conns[c] = true
	return true
}

func (p *loopbackProxy) forward(c net.Conn) {
	defer c.Close()
	if !p.track(c, true) {
		return
	}
	defer p.track(c, false)
	up, err := net.DialTimeout("tcp", p.to.String(), 5*time.Second)
	if err != nil {
		slog.Debug("published port: [::1] forward", "to", p.to, "err", err)
		return
	}
	defer up.Close()
	if !p.track(up, true) {
		return
	}
	defer p.track(up, false)
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(up, c)
	go pipe(c, up)
	<-done
	<-done
}

// Close stops accepting and ends the forwarded connections.
func (p *loopbackProxy) Close() error {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	return p.ln.Close()
}

// udpForwarder relays datagrams a holding socket receives (only those to
// [::1], the others are DNATed before) to the container: one connected
// socket per client address, which relays the answers back and is closed
// after udpIdle without traffic. At most udpMaxFlows clients at a time.
type udpForwarder struct {
	pc net.PacketConn
	to netip.AddrPort

	mu     sync.Mutex
	closed bool
	flows  map[string]*net.UDPConn // by client address
}

const (
	udpIdle     = 60 * time.Second
	udpMaxFlows = 1024
)

func (f *udpForwarder) serve() {
	buf := make([]byte, 65535)
	for {
		n, from, err := f.pc.ReadFrom(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			slog.Debug("published port: [::1] udp read", "to", f.to, "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		up := f.flow(from)
		if up == nil {
			continue
		}
		up.SetReadDeadline(time.Now().Add(udpIdle))
		if _, err := up.Write(buf[:n]); err != nil {
			slog.Debug("published port: [::1] udp forward", "to", f.to, "err", err)
		}
	}
}

// flow returns the socket towards the container for client from, made
// on its first datagram; nil when closed or at the limit.
func (f *udpForwarder) flow(from net.Addr) *net.UDPConn {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	key := from.String()
	if up := f.flows[key]; up != nil {
		return up
	}
	if len(f.flows) >= udpMaxFlows {
		return nil
	}
	up, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(f.to))
	if err != nil {
		slog.Debug("published port: [::1] udp dial", "to", f.to, "err", err)
		return nil
	}
	f.flows[key] = up
	go func() {
		buf := make([]byte, 65535)
		for {
			n, err := up.Read(buf)
			if err != nil { // idle, closed, or the container refused
				break
			}
			up.SetReadDeadline(time.Now().Add(udpIdle))
			f.pc.WriteTo(buf[:n], from)
		}
		f.mu.Lock()
		if f.flows[key] == up {
			delete(f.flows, key)
		}
		f.mu.Unlock()
		up.Close()
	}()
	return up
}

// Close stops forwarding and closes every client's socket.
func (f *udpForwarder) Close() error {
	f.mu.Lock()
	f.closed = true
	for _, up := range f.flows {
		up.Close()
	}
	f.mu.Unlock()
	return f.pc.Close()
}

// holdBinding reserves b's host port (b.HostPort, 0: ephemeral) on the
// families it is published on and returns the holders with the port. With
// proxy4 valid (a container without IPv6, see Proxy6), a binding on all
// addresses is also served on [::]:port by a proxy to proxy4; where the
// host has no IPv6 that part is left out.
func holdBinding(b PortBinding, v4, v6 bool, to6 netip.AddrPort, proxy4 netip.Addr, port int) ([]portHolder, int, error) {
	var hs []portHolder
	fail := func(err error) ([]portHolder, int, error) {
		for _, h := range hs {
			h.Close()
		}
		return nil, 0, err
	}
	if v4 {
		h, p, err := hold(b.Proto, b.HostIP, port)
		if err != nil {
			return fail(err)
		}
		hs, port = append(hs, h), p
	}
	if v6 {
		h, p, err := hold6(b.Proto, b.HostIP, port, netip.AddrPortFrom(to6.Addr(), uint16(b.ContainerPort)))
		if err != nil {
			return fail(err)
		}
		hs, port = append(hs, h), p
	}
	if v4 && !v6 && b.HostIP == "" && proxy4.IsValid() {
		h, _, err := hold6(b.Proto, "::", port, netip.AddrPortFrom(proxy4, uint16(b.ContainerPort)))
		switch {
		case err == nil:
			hs = append(hs, h)
		case errors.Is(err, syscall.EADDRINUSE):
			return fail(err) // taken on IPv6 by another program
		}
	}
	return hs, port, nil
}

// hostHasIPv6 tells whether this host can listen on IPv6 (on [::1]).
var hostHasIPv6 = sync.OnceValue(func() bool {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		return false
	}
	ln.Close()
	return true
})

func normalize(b PortBinding) (PortBinding, error) {
	if b.Proto == "" {
		b.Proto = "tcp"
	}
	if b.Proto != "tcp" && b.Proto != "udp" {
		return b, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid proto %q: want tcp or udp", b.Proto))
	}
	if b.ContainerPort < 1 || b.ContainerPort > 65535 {
		return b, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid container port %d", b.ContainerPort))
	}
	if b.HostPort < 0 || b.HostPort > 65535 || b.HostPortEnd > 65535 || (b.HostPortEnd != 0 && b.HostPortEnd < b.HostPort) {
		return b, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid host port range %d-%d", b.HostPort, b.HostPortEnd))
	}
	if b.HostIP == "0.0.0.0" {
		b.HostIP = ""
	}
	if b.HostIP != "" {
		a, err := netip.ParseAddr(b.HostIP)
		if err != nil || a.Zone() != "" || a.Is4In6() {
			return b, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid host ip %q: want an IPv4 or IPv6 address", b.HostIP))
		}
		b.HostIP = a.String()
	}
	return b, nil
}

// taken reports whether Berth already publishes the host port; m.mu is held.
func (m *Manager) taken(proto, hostIP string, port int) bool {
	is6 := func(ip string) bool { return strings.Contains(ip, ":") }
	for _, p := range m.st.Ports {
		for _, b := range p.Bindings {
			if b.Proto != proto || b.HostPort != port {
				continue
			}
			if b.HostIP == "" || hostIP == "" || b.HostIP == hostIP ||
				(b.HostIP == "::" && is6(hostIP)) || (hostIP == "::" && is6(b.HostIP)) {
				return true
			}
		}
	}
	return false
}

// conflict is the error for a host port that cannot be published, in
// dockerd's words: taken by another container (err nil), or by another
// program (err from binding it; docker-proxy's words).
func conflict(b PortBinding, port int, err error) error {
	ip := b.HostIP
	if ip == "" {
		ip = "0.0.0.0"
	}
	addr := net.JoinHostPort(ip, strconv.Itoa(port))
	if err == nil {
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("Bind for %s failed: port is already allocated", addr))
	}
	if errors.Is(err, syscall.EADDRINUSE) {
		proto, fam := b.Proto, "4"
		if proto == "" {
			proto = "tcp"
		}
		if strings.Contains(ip, ":") {
			fam = "6"
		}
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("Error starting userland proxy: listen %s%s %s: bind: address already in use", proto, fam, addr))
	}
	return errdefs.ErrConflict.WithMessage("Error starting userland proxy: " + err.Error())
}

// PublishPorts makes host ports forward to a container's ports. Every
// host port is checked first, against Berth's own bindings and by binding
// it on the host IP; a port that is taken fails the whole call with a
// Conflict error before any rule is installed. It returns the bindings as
// made: ranges and ephemeral ports resolved to one port each. The ports
// stay reserved (bound by this process) until UnpublishPorts.
//
// When the container's endpoint with containerIP also has an IPv6
// address (its network has --ipv6), a binding on all addresses (HostIP
// "") or on an IPv6 one is published over IPv6 too, to that address, on
// the same host port; [::1]:port included (see hold6). A binding on an
// IPv6 host address for a container without IPv6 is invalid.
func (m *Manager) PublishPorts(ctx context.Context, containerID string, containerIP netip.Addr, bindings []PortBinding) ([]PortBinding, error) {
	if !containerIP.Is4() {
		return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("publish ports of %s: container ip %s is not IPv4", containerID, containerIP))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.st.Ports[containerID]; ok {
		return nil, errdefs.ErrConflict.WithMessage(fmt.Sprintf("ports of container %s are already published", containerID))
	}
	var ip6 netip.Addr
	for _, ep := range m.st.Endpoints {
		if ep.ContainerID == containerID && ep.IP == containerIP {
			ip6 = ep.IPv6
		}
	}
	to6 := netip.AddrPortFrom(ip6, 0)
	var proxy4 netip.Addr
	if !ip6.IsValid() && hostHasIPv6() {
		proxy4 = containerIP
	}
	var made []PortBinding
	var holders []portHolder
	fail := func(err error) ([]PortBinding, error) {
		for _, h := range holders {
			h.Close()
		}
		delete(m.st.Ports, containerID)
		return nil, err
	}
	// Bindings made in this call count as taken too.
	m.st.Ports[containerID] = &publication{ContainerIP: containerIP, ContainerIPv6: ip6, Proxy6: proxy4.IsValid()}
	defer func() {
		if m.st.Ports[containerID] != nil && len(m.st.Ports[containerID].Bindings) == 0 {
			delete(m.st.Ports, containerID)
		}
	}()
	for _, b := range bindings {
		b, err := normalize(b)
		if err != nil {
			return fail(err)
		}
		v4, v6 := families(b.HostIP, ip6)
		if !v4 && !v6 {
			return fail(errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("publish %s:%d: container %s has no IPv6 address (its network has no --ipv6)", b.HostIP, b.HostPort, containerID)))
		}
		var hs []portHolder
		var got int
		var lastErr error
		switch {
		case b.HostPort == 0:
			for try := 0; try < 20 && hs == nil; try++ {
				hh, p, err := holdBinding(b, v4, v6, to6, proxy4, 0)
				if err != nil {
					// An ephemeral port free on one family may be taken
					// on the other: try another.
					lastErr = err
					continue
				}
				if m.taken(b.Proto, b.HostIP, p) {
					defer closeAll(hh) // keep it bound until another is found
					continue
				}
				hs, got = hh, p
			}
		default:
			end := b.HostPort
			if b.HostPortEnd > end {
				end = b.HostPortEnd
			}
			for p := b.HostPort; p <= end && hs == nil; p++ {
				if m.taken(b.Proto, b.HostIP, p) {
					continue
				}
				hh, _, err := holdBinding(b, v4, v6, to6, proxy4, p)
				if err != nil {
					lastErr = err
					continue
				}
				hs, got = hh, p
			}
		}
		if hs == nil {
			return fail(conflict(b, b.HostPort, lastErr))
		}
		holders = append(holders, hs...)
		b.HostPort, b.HostPortEnd = got, 0
		made = append(made, b)
		m.st.Ports[containerID].Bindings = made
	}
	if len(made) == 0 {
		return nil, nil
	}
	if err := m.fw.addPorts(containerID, containerIP, ip6, made); err != nil {
		m.fw.removeOwner(containerID)
		delete(m.st.Ports, containerID)
		return fail(err)
	}
	if err := m.save(); err != nil {
		m.fw.removeOwner(containerID)
		delete(m.st.Ports, containerID)
		return fail(err)
	}
	m.holds[containerID] = holders
	return slices.Clone(made), nil
}

// UnpublishPorts removes a container's port forwarding and frees its host
// ports. A container without published ports is not an error, and costs
// no firewall call (rules of ports that the state lost in a crash are
// removed by Restore).
func (m *Manager) UnpublishPorts(ctx context.Context, containerID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, published := m.st.Ports[containerID]
	if _, held := m.holds[containerID]; !published && !held {
		return nil
	}
	var errs []error
	if err := m.fw.removePorts(containerID); err != nil {
		errs = append(errs, fmt.Errorf("unpublish ports of %s: %w", containerID, err))
	}
	for _, h := range m.holds[containerID] {
		h.Close()
	}
	delete(m.holds, containerID)
	if _, ok := m.st.Ports[containerID]; ok {
		delete(m.st.Ports, containerID)
		errs = append(errs, m.save())
	}
	return errors.Join(errs...)
}

// Ports returns a container's published ports. A binding on all
// addresses served on IPv6 too (a container with IPv6, or Proxy6) is
// listed twice, as docker shows it: on 0.0.0.0 (HostIP "") and on "::".
func (m *Manager) Ports(ctx context.Context, containerID string) []PortBinding {
	m.mu.RLock()
	defer m.mu.RUnlock()
	p := m.st.Ports[containerID]
	if p == nil {
		return nil
	}
	var out []PortBinding
	for _, b := range p.Bindings {
		out = append(out, b)
		if b.HostIP == "" && (p.ContainerIPv6.IsValid() || p.Proxy6) {
			b.HostIP = "::"
			out = append(out, b)
		}
	}
	return out
}

func closeAll(hs []portHolder) {
	for _, h := range hs {
		h.Close()
	}
}
