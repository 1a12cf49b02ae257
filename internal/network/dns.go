package network

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/miekg/dns"
)

// resolver is the embedded DNS of one container: a UDP and a TCP socket on
// Config.DNSAddr opened inside the container's network namespace and served
// by goroutines of this process, which answer from the manager's endpoints
// as they are at the moment of the query.
type resolver struct {
	udp, tcp *dns.Server
}

func (r *resolver) stop() {
	r.udp.Shutdown()
	r.tcp.Shutdown()
}

// ensureResolver starts the container's embedded DNS unless it runs; m.mu
// is held.
func (m *Manager) ensureResolver(containerID, netnsPath string) error {
	if _, ok := m.resolvers[containerID]; ok {
		return nil
	}
	var pc net.PacketConn
	var ln net.Listener
	err := inNetns(netnsPath, func() error {
		var err error
		if pc, err = net.ListenPacket("udp4", m.cfg.DNSAddr); err != nil {
			return fmt.Errorf("embedded dns: %w", err)
		}
		if ln, err = net.Listen("tcp4", m.cfg.DNSAddr); err != nil {
			pc.Close()
			return fmt.Errorf("embedded dns: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	h := &dnsHandler{m: m, containerID: containerID}
	r := &resolver{
		udp: &dns.Server{PacketConn: pc, Handler: h},
		tcp: &dns.Server{Listener: ln, Handler: h},
	}
	for _, s := range []*dns.Server{r.udp, r.tcp} {
		started := make(chan struct{})
		s.NotifyStartedFunc = func() { close(started) }
		go func() {
			if err := s.ActivateAndServe(); err != nil {
				slog.Debug("embedded dns stopped", "container", containerID, "err", err)
			}
		}()
		select {
		case <-started:
		case <-time.After(5 * time.Second):
		}
	}
	m.resolvers[containerID] = r
	return nil
}

// dropResolverIfUnused stops the container's DNS when it is on no
// user-defined network any more, and forgets its forwarders when it is on
// no network at all; m.mu is held.
func (m *Manager) dropResolverIfUnused(containerID string) {
	onAny, onUser := false, false
	for _, ep := range m.st.Endpoints {
		if ep.ContainerID == containerID {
			onAny = true
			onUser = onUser || !m.st.Networks[ep.NetworkID].Default
		}
	}
	if r, ok := m.resolvers[containerID]; ok && !onUser {
		r.stop()
		delete(m.resolvers, containerID)
	}
	if _, ok := m.st.Forwarders[containerID]; ok && !onAny {
		delete(m.st.Forwarders, containerID)
		m.save()
	}
}

// SetForwarders sets the servers the embedded DNS of a container forwards
// unknown names to (its --dns servers, IP or IP:port); nil restores the
// default (Config.DNSUpstreams, else the host's nameservers). Set them
// before Connect so the first query already uses them.
func (m *Manager) SetForwarders(ctx context.Context, containerID string, servers []string) error {
	for _, s := range servers {
		host := s
		if h, _, err := net.SplitHostPort(s); err == nil {
			host = h
		}
		if _, err := netip.ParseAddr(host); err != nil {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("dns server %q: not an IP address", s))
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(servers) == 0 {
		delete(m.st.Forwarders, containerID)
	} else {
		m.st.Forwarders[containerID] = slices.Clone(servers)
	}
	return m.save()
}

type dnsHandler struct {
	m           *Manager
	containerID string
}

// lookup returns the addresses a name has on the user-defined networks the
// container is connected to: container names, aliases, short and full
// container IDs, each also as NAME.NETWORK.
func (m *Manager) lookup(containerID, name string) (v4, v6 []netip.Addr) {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if name == "" {
		return nil, nil
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	// The asker's networks in the order it joined them (eth0, eth1, ...):
	// the first where the name is known answers, as dockerd's resolver
	// does, not every network the two share.
	var mine []*Endpoint
	for _, own := range m.st.Endpoints {
		if own.ContainerID == containerID {
			mine = append(mine, own)
		}
	}
	sort.Slice(mine, func(i, j int) bool {
		a, b := ifIndexOf(mine[i].IfName), ifIndexOf(mine[j].IfName)
		return a < b || a == b && mine[i].NetworkID < mine[j].NetworkID
	})
	for _, own := range mine {
		if len(v4) > 0 || len(v6) > 0 {
			break
		}
		n := m.st.Networks[own.NetworkID]
		if n == nil || n.Default {
			continue
		}
		q := strings.TrimSuffix(name, "."+strings.ToLower(n.Name))
		for alias, target := range own.Links {
			if strings.EqualFold(alias, q) {
				q = strings.ToLower(strings.TrimPrefix(target, "/")) // a --link of this container
				break
			}
		}
		for _, ep := range m.st.Endpoints {
			if ep.NetworkID != n.ID {
				continue
			}
			match := (ep.Name != "" && strings.EqualFold(ep.Name, q)) || ep.ContainerID == q ||
				(len(q) == 12 && strings.HasPrefix(ep.ContainerID, q))
			for _, a := range ep.Aliases {
				match = match || strings.EqualFold(a, q)
			}
			if match {
				v4 = append(v4, ep.IP)
				if ep.IPv6.IsValid() {
					v6 = append(v6, ep.IPv6)
				}
			}
		}
	}
	return v4, v6
}

func (h *dnsHandler) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	if len(req.Question) != 1 {
		resp := new(dns.Msg)
		resp.SetRcode(req, dns.RcodeFormatError)
		w.WriteMsg(resp)
		return
	}
	q := req.Question[0]
	if q.Qclass == dns.ClassINET && (q.Qtype == dns.TypeA || q.Qtype == dns.TypeAAAA || q.Qtype == dns.TypeANY) {
		if v4, v6 := h.m.lookup(h.containerID, q.Name); len(v4) > 0 {
			// A known name: answered here, also when it has no address of
			// the asked family (NOERROR without answers), never forwarded.
			resp := new(dns.Msg)
			resp.SetReply(req)
			resp.Authoritative = true
			resp.RecursionAvailable = true
			if q.Qtype != dns.TypeAAAA {
				for _, a := range v4 {
					resp.Answer = append(resp.Answer, &dns.A{
						Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 600},
						A:   net.IP(a.AsSlice()),
					})
				}
			}
			if q.Qtype != dns.TypeA {
				for _, a := range v6 {
					resp.Answer = append(resp.Answer, &dns.AAAA{
						Hdr:  dns.RR_Header{Name: q.Name, Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: 600},
						AAAA: net.IP(a.AsSlice()),
					})
				}
			}
			w.WriteMsg(resp)
			return
		}
	}
	if q.Qclass == dns.ClassINET && q.Qtype == dns.TypePTR {
		if names := h.m.reverse(h.containerID, q.Name); len(names) > 0 {
			resp := new(dns.Msg)
			resp.SetReply(req)
			resp.Authoritative = true
			resp.RecursionAvailable = true
			for _, n := range names {
				resp.Answer = append(resp.Answer, &dns.PTR{
					Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: 600},
					Ptr: dns.Fqdn(n),
				})
			}
			w.WriteMsg(resp)
			return
		}
	}
	h.forward(w, req)
}

// reverse answers a PTR question (d.c.b.a.in-addr.arpa.) for an address of
// a user-defined network the container is on: "NAME.NETWORK".
func (m *Manager) reverse(containerID, qname string) []string {
	rev, ok := strings.CutSuffix(strings.ToLower(qname), ".in-addr.arpa.")
	if !ok {
		return nil
	}
	parts := strings.Split(rev, ".")
	if len(parts) != 4 {
		return nil
	}
	slices.Reverse(parts)
	ip, err := netip.ParseAddr(strings.Join(parts, "."))
	if err != nil {
		return nil
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []string
	for _, own := range m.st.Endpoints {
		n := m.st.Networks[own.NetworkID]
		if own.ContainerID != containerID || n == nil || n.Default {
			continue
		}
		for _, ep := range m.st.Endpoints {
			if ep.NetworkID == n.ID && ep.IP == ip && ep.Name != "" {
				out = append(out, ep.Name+"."+n.Name)
			}
		}
	}
	return out
}

// forward asks the upstream servers, in order, over the protocol the
// question came in on; SERVFAIL when none answers.
func (h *dnsHandler) forward(w dns.ResponseWriter, req *dns.Msg) {
	proto := "udp"
	if _, ok := w.LocalAddr().(*net.TCPAddr); ok {
		proto = "tcp"
	}
	c := &dns.Client{Net: proto, Timeout: 3 * time.Second}
	for _, up := range h.m.upstreams(h.containerID) {
		resp, _, err := c.Exchange(req, up)
		if err != nil {
			slog.Debug("embedded dns: upstream", "server", up, "err", err)
			continue
		}
		w.WriteMsg(resp)
		return
	}
	resp := new(dns.Msg)
	resp.SetRcode(req, dns.RcodeServerFailure)
	w.WriteMsg(resp)
}

// upstreams returns a container's forwarders as host:port.
func (m *Manager) upstreams(containerID string) []string {
	m.mu.RLock()
	list := m.st.Forwarders[containerID]
	m.mu.RUnlock()
	if list == nil {
		list = m.cfg.DNSUpstreams
	}
	if list == nil {
		b, _ := os.ReadFile("/etc/resolv.conf")
		list = parseResolvConf(b).Nameservers
	}
	var out []string
	for _, s := range list {
		if _, _, err := net.SplitHostPort(s); err != nil {
			s = net.JoinHostPort(s, "53")
		}
		out = append(out, s)
	}
	return out
}
