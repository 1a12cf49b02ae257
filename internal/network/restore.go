package network

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"

	"github.com/vishvananda/netlink"
)

// Restore reconciles the host with the state after a daemon (re)start.
// The networking of the containers in running is kept: their veths,
// addresses and published ports stay, their embedded DNS is served again
// and their host ports are reserved again. Everything else of this
// manager is removed: endpoints and veths of containers that are gone
// (their addresses are released), their port rules, and bridges and rules
// of networks that are not in the state.
func (m *Manager) Restore(ctx context.Context, running []ContainerNetState) error {
	alive := map[string]string{}
	for _, c := range running {
		alive[c.ContainerID] = c.NetnsPath
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var errs []error

	for key, ep := range m.st.Endpoints {
		path, ok := alive[ep.ContainerID]
		if ok {
			if _, err := netlink.LinkByName(ep.HostVeth); err != nil {
				ok = false // its namespace went away with its veth
			}
		}
		if !ok {
			slog.Debug("network restore: stale endpoint", "container", ep.ContainerID, "network", ep.NetworkID, "veth", ep.HostVeth)
			if err := deleteLink(ep.HostVeth); err != nil {
				errs = append(errs, err)
			}
			delete(m.st.Endpoints, key)
			continue
		}
		if path != "" {
			ep.NetnsPath = path
		}
	}
	for id := range m.st.Ports {
		if _, ok := alive[id]; !ok {
			delete(m.st.Ports, id)
		}
	}
	for id := range m.st.Forwarders {
		if _, ok := alive[id]; !ok {
			delete(m.st.Forwarders, id)
		}
	}
	if err := m.save(); err != nil {
		return err
	}

	if m.cfg.DefaultBridge != NoDefaultBridge {
		if err := m.reconfigureDefault(); err != nil {
			errs = append(errs, err)
		}
	}

	if !m.fwReady && len(m.st.Networks) == 0 {
		// --bridge none and no network: nothing of ours on the host, and
		// the chains and links of this prefix may be another daemon's.
		return errors.Join(errs...)
	}
	// Links: bridges of unknown networks, veths of unknown endpoints.
	links, err := taggedLinks(m.tag())
	if err != nil {
		errs = append(errs, err)
	}
	for _, l := range links {
		rest := strings.TrimPrefix(l.Attrs().Alias, m.tag())
		netID, cid, isVeth := strings.Cut(rest, ":")
		keep := false
		if isVeth {
			_, keep = m.st.Endpoints[epKey(netID, cid)]
		} else {
			_, keep = m.st.Networks[netID]
		}
		if !keep {
			slog.Debug("network restore: stale link", "link", l.Attrs().Name)
			if err := netlink.LinkDel(l); err != nil {
				errs = append(errs, fmt.Errorf("delete stale link %s: %w", l.Attrs().Name, err))
			}
		}
	}

	// Rules: of owners that are gone; then ports and networks again.
	for owner := range m.fw.owners() {
		_, isNet := m.st.Networks[owner]
		_, hasPorts := m.st.Ports[owner]
		if !isNet && !hasPorts {
			if err := m.fw.removeOwner(owner); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, n := range m.st.Networks {
		if err := m.up(n); err != nil {
			errs = append(errs, err)
		}
	}
	for id, p := range m.st.Ports {
		if err := m.fw.removeOwner(id); err != nil {
			errs = append(errs, err)
		}
		if err := m.fw.addPorts(id, p.ContainerIP, p.ContainerIPv6, p.Bindings); err != nil {
			errs = append(errs, err)
		}
		if _, held := m.holds[id]; !held {
			var hs []portHolder
			for _, b := range p.Bindings {
				v4, v6 := families(b.HostIP, p.ContainerIPv6)
				var proxy4 netip.Addr
				if p.Proxy6 {
					proxy4 = p.ContainerIP
				}
				h, _, err := holdBinding(b, v4, v6, netip.AddrPortFrom(p.ContainerIPv6, 0), proxy4, b.HostPort)
				if err != nil {
					errs = append(errs, fmt.Errorf("reserve host port %d of %s: %w", b.HostPort, id, err))
					continue
				}
				hs = append(hs, h...)
			}
			m.holds[id] = hs
		}
	}

	// Embedded DNS of the running containers on user-defined networks.
	for _, ep := range m.st.Endpoints {
		if n := m.st.Networks[ep.NetworkID]; n != nil && !n.Default {
			if err := m.ensureResolver(ep.ContainerID, ep.NetnsPath); err != nil {
				errs = append(errs, fmt.Errorf("restore dns of %s: %w", ep.ContainerID, err))
			}
		}
	}
	for id, r := range m.resolvers {
		if _, ok := alive[id]; !ok {
			r.stop()
			delete(m.resolvers, id)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("network restore: %w", err)
	}
	return nil
}

// Uninstall removes everything of this manager from the host: endpoints'
// veths, bridges (the default one too), rules and chains. The state file
// is kept. It is for tests and `berth system` clean-up.
func (m *Manager) Uninstall(ctx context.Context) error {
	m.Close()
	m.mu.Lock()
	defer m.mu.Unlock()
	var errs []error
	for _, ep := range m.st.Endpoints {
		errs = append(errs, deleteLink(ep.HostVeth))
	}
	for _, n := range m.st.Networks {
		errs = append(errs, deleteLink(n.Bridge))
	}
	if m.fwReady {
		errs = append(errs, m.fw.teardown())
	}
	return errors.Join(errs...)
}
