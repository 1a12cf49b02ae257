package network

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strconv"

	"github.com/containerd/errdefs"
)

// portHolder is a socket bound to a published host port, so that no other
// program of the host takes the port while the container has it (the
// DNAT rule catches the traffic before it reaches the socket).
type portHolder = io.Closer

// hold binds hostIP:port (port 0: an ephemeral port) and returns the
// socket with the port it got.
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
		if err != nil || !a.Is4() {
			return b, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid host ip %q: want an IPv4 address", b.HostIP))
		}
	}
	return b, nil
}

// taken reports whether Berth already publishes the host port; m.mu is held.
func (m *Manager) taken(proto, hostIP string, port int) bool {
	for _, p := range m.st.Ports {
		for _, b := range p.Bindings {
			if b.Proto == proto && b.HostPort == port && (b.HostIP == "" || hostIP == "" || b.HostIP == hostIP) {
				return true
			}
		}
	}
	return false
}

func conflict(b PortBinding, port int, err error) error {
	ip := b.HostIP
	if ip == "" {
		ip = "0.0.0.0"
	}
	msg := fmt.Sprintf("bind for %s:%d failed: port is already allocated", ip, port)
	if err != nil {
		msg += " (" + err.Error() + ")"
	}
	return errdefs.ErrConflict.WithMessage(msg)
}

// PublishPorts makes host ports forward to a container's ports. Every
// host port is checked first, against Berth's own bindings and by binding
// it on the host IP; a port that is taken fails the whole call with a
// Conflict error before any rule is installed. It returns the bindings as
// made: ranges and ephemeral ports resolved to one port each. The ports
// stay reserved (bound by this process) until UnpublishPorts.
func (m *Manager) PublishPorts(ctx context.Context, containerID string, containerIP netip.Addr, bindings []PortBinding) ([]PortBinding, error) {
	if !containerIP.Is4() {
		return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("publish ports of %s: container ip %s is not IPv4", containerID, containerIP))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.st.Ports[containerID]; ok {
		return nil, errdefs.ErrConflict.WithMessage(fmt.Sprintf("ports of container %s are already published", containerID))
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
	m.st.Ports[containerID] = &publication{ContainerIP: containerIP}
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
		var h portHolder
		var got int
		var lastErr error
		switch {
		case b.HostPort == 0:
			for try := 0; try < 20 && h == nil; try++ {
				hh, p, err := hold(b.Proto, b.HostIP, 0)
				if err != nil {
					lastErr = err
					break
				}
				if m.taken(b.Proto, b.HostIP, p) {
					defer hh.Close() // keep it bound until another is found
					continue
				}
				h, got = hh, p
			}
		default:
			end := b.HostPort
			if b.HostPortEnd > end {
				end = b.HostPortEnd
			}
			for p := b.HostPort; p <= end && h == nil; p++ {
				if m.taken(b.Proto, b.HostIP, p) {
					continue
				}
				hh, _, err := hold(b.Proto, b.HostIP, p)
				if err != nil {
					lastErr = err
					continue
				}
				h, got = hh, p
			}
		}
		if h == nil {
			return fail(conflict(b, b.HostPort, lastErr))
		}
		holders = append(holders, h)
		b.HostPort, b.HostPortEnd = got, 0
		made = append(made, b)
		m.st.Ports[containerID].Bindings = made
	}
	if len(made) == 0 {
		return nil, nil
	}
	if err := m.fw.addPorts(containerID, containerIP, made); err != nil {
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
// ports. A container without published ports is not an error.
func (m *Manager) UnpublishPorts(ctx context.Context, containerID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var errs []error
	if err := m.fw.removeOwner(containerID); err != nil {
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

// Ports returns a container's published ports.
func (m *Manager) Ports(ctx context.Context, containerID string) []PortBinding {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if p := m.st.Ports[containerID]; p != nil {
		return slices.Clone(p.Bindings)
	}
	return nil
}
