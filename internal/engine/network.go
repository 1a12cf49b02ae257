package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	mevents "github.com/moby/moby/api/types/events"
	mnetwork "github.com/moby/moby/api/types/network"

	"github.com/berth/berth/internal/network"
)

// netMode is how a container's network namespace is made.
type netMode int

const (
	modeBridge    netMode = iota // own netns, connected to networks (loopback only without a manager)
	modeNone                     // own netns, loopback only
	modeHost                     // the host's namespace
	modeContainer                // another container's namespace
)

func networkMode(hc *container.HostConfig) (netMode, string) {
	m := string(hc.NetworkMode)
	switch {
	case m == "host":
		return modeHost, ""
	case m == "none":
		return modeNone, ""
	case strings.HasPrefix(m, "container:"):
		return modeContainer, strings.TrimPrefix(m, "container:")
	}
	return modeBridge, ""
}

// primaryNetwork is the network name NetworkMode stands for: the default
// network for "default" and "bridge".
func primaryNetwork(hc *container.HostConfig) string {
	m := string(hc.NetworkMode)
	if m == "" || m == "default" {
		return network.DefaultNetworkName
	}
	return m
}

// primaryNetwork is primaryNetwork of c's HostConfig, by name when
// create resolved it (PrimaryNetwork).
func (c *Container) primaryNetwork() string {
	if c.PrimaryNetwork != "" {
		return c.PrimaryNetwork
	}
	return primaryNetwork(c.HostConfig)
}

// isUserNetwork tells whether name is a user-defined network (embedded
// DNS) rather than the default bridge.
func isUserNetwork(name string) bool {
	return name != network.DefaultNetworkName && name != "default"
}

// wantedNetworks returns the networks c joins at start, the primary one
// first, with their settings.
func wantedNetworks(c *Container) []string {
	primary := c.primaryNetwork()
	var out []string
	if !c.PrimaryDisconnected {
		out = []string{primary}
	}
	var rest []string
	for name := range c.Networks {
		if name != primary && name != "default" {
			rest = append(rest, name)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// connectNetworks attaches c's network namespace to its networks and
// publishes its ports; on failure everything made is undone. c.mu held.
func (e *Engine) connectNetworks(ctx context.Context, c *Container) (retErr error) {
	nets := e.cfg.Networks
	defer func() {
		if retErr != nil {
			e.disconnectNetworks(context.WithoutCancel(ctx), c)
		}
	}()
	names := wantedNetworks(c)
	// dockerd with --bridge=none gives a container that asks for the
	// default network no network at all (its NetworkDisabled), and joins
	// it to the others.
	noDefault := !nets.HasDefault()
	user := false
	for _, n := range names {
		if isUserNetwork(n) {
			user = true
		}
	}
	if user {
		servers, _, _ := e.dns(c)
		if err := nets.SetForwarders(ctx, c.ID, servers); err != nil {
			return fmt.Errorf("start %s: dns: %w", c.ID, err)
		}
	}
	var primaryIP netip.Addr
	var primaryEP, primaryNet string
	for i, name := range names {
		if noDefault && !isUserNetwork(name) {
			continue
		}
		es := c.Networks[name]
		if es == nil && i == 0 && !c.PrimaryDisconnected {
			es = c.Networks["default"]
		}
		cfg := network.EndpointConfig{Name: strings.TrimPrefix(c.Name, "/")}
		if es != nil {
			cfg.GwPriority, cfg.IfName = es.GwPriority, es.DriverOpts[ifNameOption]
			if es.IPAMConfig != nil {
				cfg.IP = es.IPAMConfig.IPv4Address
				cfg.IPv6 = es.IPAMConfig.IPv6Address
			}
			if isUserNetwork(name) {
				cfg.Aliases = append(cfg.Aliases, es.Aliases...)
			}
			if len(es.MacAddress) > 0 {
				cfg.MacAddress = es.MacAddress.String()
			}
		}
		if isUserNetwork(name) {
			cfg.Aliases = append(cfg.Aliases, dnsAliases(c)...)
			var links []string
			if es != nil {
				links = es.Links
			}
			if i == 0 && !c.PrimaryDisconnected {
				links = append(links, c.HostConfig.Links...) // --link on a user network
			}
			cfg.Links = linkMap(links)
		}
		if last, ok := c.LastAddrs[name]; ok {
			cfg.PreferIP, cfg.PreferIPv6 = last[0], last[1]
		}
		ep, err := nets.Connect(ctx, name, c.ID, c.NetNS, cfg)
		if err != nil {
			if errdefs.IsNotFound(err) {
				return errdefs.ErrNotFound.WithMessage(fmt.Sprintf("network %s not found", name))
			}
			if strings.HasPrefix(err.Error(), "network "+name+": ") {
				return fmt.Errorf("start %s: %w", c.ID, err) // named already
			}
			return fmt.Errorf("start %s: network %s: %w", c.ID, name, err)
		}
		// Ports are published on the first network that is not
		// --internal (an internal network has no external connectivity:
		// dockerd maps nothing there).
		if !primaryIP.IsValid() {
			if n, err := nets.Get(ctx, ep.NetworkID); err == nil && !n.Internal {
				primaryIP, primaryEP, primaryNet = ep.IP, ep.ID, ep.NetworkID
			}
		}
		c.rememberAddrs(name, ep)
		e.publishNetwork(ep.NetworkID, name, c, mevents.ActionConnect)
	}
	bindings, err := portBindings(c)
	if err != nil {
		return err
	}
	if n, err := nets.Get(ctx, primaryNet); err == nil && len(bindings) > 0 {
		// The network's default host address for -p without one.
		if a, err := netip.ParseAddr(n.Options[network.OptionHostBindingIPv4]); err == nil && a.Is4() {
			for i := range bindings {
				if bindings[i].HostIP == "" {
					bindings[i].HostIP = a.String()
				}
			}
		}
	}
	if len(bindings) > 0 && primaryIP.IsValid() { // else discarded, as create warned
		if _, err := nets.PublishPorts(ctx, c.ID, primaryIP, bindings); err != nil {
			// dockerd's words: a host port is checked at start, not at
			// create (the container stays, created, as with dockerd).
			return fmt.Errorf("driver failed programming external connectivity on endpoint %s (%s): %w",
				strings.TrimPrefix(c.Name, "/"), primaryEP, err)
		}
	}
	e.refreshNet(ctx, c)
	return nil
}

// dnsAliases are the names the embedded DNS answers for c on a user
// network besides its name and aliases, as dockerd's: the short ID and
// the --hostname.
func dnsAliases(c *Container) []string {
	out := []string{c.ID[:12]}
	if h := c.Config.Hostname; h != "" && h != strings.TrimPrefix(c.Name, "/") && h != c.ID[:12] {
		out = append(out, h)
	}
	return out
}

// rememberAddrs records ep's addresses as c's on network name; c.mu held.
func (c *Container) rememberAddrs(name string, ep *network.Endpoint) {
	if c.LastAddrs == nil {
		c.LastAddrs = map[string][2]netip.Addr{}
	}
	c.LastAddrs[name] = [2]netip.Addr{ep.IP, ep.IPv6}
}

// refreshNet copies the manager's view of c's endpoints and ports into c
// for inspect and ps; c.mu held.
func (e *Engine) refreshNet(ctx context.Context, c *Container) {
	if e.cfg.Networks == nil {
		return
	}
	c.endpoints = e.endpointsByName(ctx, c.ID)
	c.ports = e.cfg.Networks.Ports(ctx, c.ID)
}

// endpointsByName is the manager's endpoints of a container keyed by
// network name.
func (e *Engine) endpointsByName(ctx context.Context, id string) map[string]network.Endpoint {
	out := map[string]network.Endpoint{}
	for netID, ep := range e.cfg.Networks.ContainerEndpoints(ctx, id) {
		name := netID
		if n, err := e.cfg.Networks.Get(ctx, netID); err == nil {
			name = n.Name
		}
		out[name] = ep
	}
	return out
}

// disconnectNetworks removes c's ports and endpoints; c.mu held. Every
// caller releases c's network namespace right after, so the veth pairs
// are left to the manager to delete in the background (Release).
func (e *Engine) disconnectNetworks(ctx context.Context, c *Container) {
	e.disconnectNetworksLater(ctx, c)()
}

// disconnectNetworksLater is disconnectNetworks whose "disconnect" events
// go out when the returned function is called (after "die", as dockerd
// sends them).
func (e *Engine) disconnectNetworksLater(ctx context.Context, c *Container) (publish func()) {
	nets := e.cfg.Networks
	if nets == nil {
		return func() {}
	}
	eps := e.endpointsByName(ctx, c.ID)
	if err := nets.UnpublishPorts(ctx, c.ID); err != nil {
		slog.Error("unpublish ports", "id", c.ID, "err", err)
	}
	if err := nets.Release(ctx, c.ID); err != nil {
		slog.Error("disconnect networks", "id", c.ID, "err", err)
	}
	c.endpoints, c.ports = nil, nil
	return func() {
		for name, ep := range eps {
			e.publishNetwork(ep.NetworkID, name, c, mevents.ActionDisconnect)
		}
	}
}

func (e *Engine) publishNetwork(netID, name string, c *Container, action mevents.Action) {
	// A build's RUN steps are no containers of the engine's: no events
	// about them, as with BuildKit (a watcher would look up an ID that
	// no container has).
	if e.cfg.Publish == nil || c.buildStep {
		return
	}
	e.cfg.Publish(mevents.Message{
		Type:   mevents.NetworkEventType,
		Action: action,
		Actor:  mevents.Actor{ID: netID, Attributes: map[string]string{"container": c.ID, "name": name, "type": "bridge"}},
		Scope:  "local",
	})
}

// portBindings turns -p and -P into the manager's bindings.
func portBindings(c *Container) ([]network.PortBinding, error) {
	var out []network.PortBinding
	seen := map[mnetwork.Port]bool{}
	ports := make([]mnetwork.Port, 0, len(c.HostConfig.PortBindings))
	for p := range c.HostConfig.PortBindings {
		ports = append(ports, p)
	}
	sort.Slice(ports, func(i, j int) bool { return ports[i].String() < ports[j].String() })
	for _, p := range ports {
		seen[p] = true
		bs := c.HostConfig.PortBindings[p]
		if len(bs) == 0 {
			bs = []mnetwork.PortBinding{{}}
		}
		for _, b := range bs {
			pb := network.PortBinding{ContainerPort: int(p.Num()), Proto: string(p.Proto())}
			if b.HostIP.IsValid() {
				pb.HostIP = b.HostIP.String()
			}
			if b.HostPort != "" {
				lo, hi, isRange := strings.Cut(b.HostPort, "-")
				n, err := strconv.Atoi(lo)
				if err != nil {
					return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid host port %q for %s", b.HostPort, p))
				}
				pb.HostPort = n
				if isRange {
					m, err := strconv.Atoi(hi)
					if err != nil {
						return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid host port range %q for %s", b.HostPort, p))
					}
					pb.HostPortEnd = m
				}
			}
			out = append(out, pb)
		}
	}
	if c.HostConfig.PublishAllPorts {
		var exposed []mnetwork.Port
		for p := range c.Config.ExposedPorts {
			if !seen[p] {
				exposed = append(exposed, p)
			}
		}
		sort.Slice(exposed, func(i, j int) bool { return exposed[i].String() < exposed[j].String() })
		for _, p := range exposed {
			out = append(out, network.PortBinding{ContainerPort: int(p.Num()), Proto: string(p.Proto())})
		}
	}
	return out, nil
}

// networkSettings is inspect's NetworkSettings of a container.
func networkSettings(s *Container) (map[string]*mnetwork.EndpointSettings, mnetwork.PortMap) {
	nets := map[string]*mnetwork.EndpointSettings{}
	ports := mnetwork.PortMap{}
	mode, _ := networkMode(s.HostConfig)
	if mode == modeBridge && s.State.Running {
		for name, ep := range s.endpoints {
			es := &mnetwork.EndpointSettings{
				NetworkID:   ep.NetworkID,
				EndpointID:  ep.ID,
				Gateway:     ep.Gateway,
				IPAddress:   ep.IP,
				IPPrefixLen: ep.Prefix,
				DNSNames:    []string{ep.Name, s.ID[:12]},
				GwPriority:  ep.GwPriority,
			}
			hostAlias := dnsAliases(s)[1:] // the hostname: a DNS name, not an alias
			for _, a := range ep.Aliases {
				if a != s.ID[:12] {
					if !slices.Contains(hostAlias, a) {
						es.Aliases = append(es.Aliases, a)
					}
					es.DNSNames = append(es.DNSNames, a)
				}
			}
			if w := s.Networks[name]; w != nil {
				es.IPAMConfig, es.DriverOpts = w.IPAMConfig, w.DriverOpts
			}
			if ep.IPv6.IsValid() {
				es.GlobalIPv6Address, es.GlobalIPv6PrefixLen, es.IPv6Gateway = ep.IPv6, ep.Prefix6, ep.Gateway6
			}
			if mac, err := parseMAC(ep.MAC); err == nil {
				es.MacAddress = mac
			}
			if !isUserNetwork(name) {
				es.DNSNames = nil
			}
			nets[name] = es
		}
		for _, b := range s.ports {
			p, ok := mnetwork.PortFrom(uint16(b.ContainerPort), mnetwork.IPProtocol(b.Proto))
			if !ok {
				continue
			}
			pb := mnetwork.PortBinding{HostPort: strconv.Itoa(b.HostPort)}
			if ip, err := netip.ParseAddr(b.HostIP); err == nil {
				pb.HostIP = ip
			} else {
				pb.HostIP = netip.IPv4Unspecified()
			}
			ports[p] = append(ports[p], pb)
		}
	}
	if len(nets) == 0 {
		switch mode {
		case modeBridge:
			for _, name := range wantedNetworks(s) {
				es := &mnetwork.EndpointSettings{}
				if w := s.Networks[name]; w != nil {
					es = w.Copy()
				}
				nets[name] = es
			}
		case modeNone, modeHost:
			nets[string(s.HostConfig.NetworkMode)] = &mnetwork.EndpointSettings{}
		}
	}
	if mode != modeBridge || !s.State.Running || len(s.endpoints) == 0 {
		// dockerd lists exposed ports only while the container runs on a
		// network: created, exited, none and host containers show none.
		return nets, ports
	}
	for p := range s.Config.ExposedPorts {
		if _, ok := ports[p]; !ok {
			ports[p] = nil
		}
	}
	return nets, ports
}

func parseMAC(s string) (mnetwork.HardwareAddr, error) {
	var m mnetwork.HardwareAddr
	err := m.UnmarshalText([]byte(s))
	return m, err
}

// ifNameOption is the endpoint driver option naming the container's
// interface (docker 28's, Compose's interface_name).
const ifNameOption = "com.docker.network.endpoint.ifname"

// writeNetworkEtcFiles writes hostname, hosts and resolv.conf for a
// container with its own namespace once its endpoints exist.
func (e *Engine) writeNetworkEtcFiles(ctx context.Context, c *Container, dir string) error {
	hostname := containerHostname(c)
	hc := network.HostsConfig{Hostname: hostname, Domainname: c.Config.Domainname, ExtraHosts: c.HostConfig.ExtraHosts}
	embedded := false
	if nets := e.cfg.Networks; nets != nil {
		hc.HostGateway = nets.HostGateway()
		eps := e.endpointsByName(ctx, c.ID)
		names := make([]string, 0, len(eps))
		primary := e.netName(ctx, primaryNetwork(c.HostConfig))
		// --link NAME:ALIAS on the default bridge: the linked
		// container's address under the alias, its short ID and name. On
		// a user network the embedded DNS answers the alias (it follows
		// the container when it is recreated), and /etc/hosts has none,
		// as with dockerd.
		links := c.HostConfig.Links
		if isUserNetwork(primary) {
			links = nil
		}
		for _, l := range links {
			other, alias, err := e.linked(l)
			if err != nil {
				return err
			}
			if ep, ok := e.endpointsByName(ctx, other.ID)[primary]; ok && ep.IP.IsValid() {
				// dockerd's: the alias, the linked container's hostname
				// (its short ID unless -h) and its name.
				if other != c {
					other.mu.Lock()
				}
				names := []string{alias, containerHostname(other)}
				if other != c {
					other.mu.Unlock()
				}
				if name := strings.TrimPrefix(other.Name, "/"); name != alias {
					names = append(names, name)
				}
				for _, n := range names {
					hc.ExtraHosts = append(hc.ExtraHosts, n+":"+ep.IP.String())
				}
			}
		}
		for name := range eps {
			if name != primary {
				names = append(names, name)
			}
		}
		sort.Strings(names)
		if _, ok := eps[primary]; ok {
			names = append([]string{primary}, names...)
		}
		for _, name := range names {
			hc.IPs = append(hc.IPs, eps[name].IP)
			if isUserNetwork(name) {
				embedded = true
			}
		}
	}
	hosts, err := network.HostsFile(hc)
	if err != nil {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("container %s: %v", c.ID, err))
	}
	host := network.HostResolvConf()
	servers, search, options := e.dns(c)
	resolv := network.ResolvConf(host, network.ResolvOptions{DNS: servers, Search: search, Options: options, Embedded: embedded})
	for name, data := range map[string][]byte{"hostname": []byte(hostname + "\n"), "hosts": hosts, "resolv.conf": resolv} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return fmt.Errorf("container %s: %w", c.ID, err)
		}
	}
	return nil
}

// copyEtcFiles gives a container that joins another's namespace that
// container's hosts and resolv.conf.
func (e *Engine) copyEtcFiles(c *Container, other *Container, dir string) error {
	for _, name := range []string{"hostname", "hosts", "resolv.conf"} {
		b, err := os.ReadFile(filepath.Join(e.dir(other.ID), name))
		if err != nil {
			return fmt.Errorf("container %s: %s of %s: %w", c.ID, name, other.ID, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return fmt.Errorf("container %s: %w", c.ID, err)
		}
	}
	return nil
}

// ConnectContainer connects a container to a network (docker network
// connect): a running one at once, a created or stopped one at its next
// start.
func (e *Engine) ConnectContainer(ctx context.Context, netID, ref string, settings *mnetwork.EndpointSettings) error {
	c, err := e.Get(ref)
	if err != nil {
		return err
	}
	if e.cfg.Networks == nil {
		return errdefs.ErrNotImplemented.WithMessage("networking is disabled (--bridge none)")
	}
	n, err := e.cfg.Networks.Get(ctx, netID)
	if err != nil {
		return err
	}
	if err := e.validateEndpoint(ctx, n.Name, settings); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	mode, _ := networkMode(c.HostConfig)
	if mode != modeBridge {
		// dockerd's words (runconfig's errors), 403.
		if mode == modeNone {
			return errdefs.ErrPermissionDenied.WithMessage("container cannot be connected to multiple networks with one of the networks in private (none) mode")
		}
		return errdefs.ErrPermissionDenied.WithMessage("container sharing network namespace with another container or host cannot be connected to any other network")
	}
	name := n.Name
	primary := e.netName(ctx, primaryNetwork(c.HostConfig)) == name
	if _, ok := c.Networks[name]; ok || (primary && !c.PrimaryDisconnected) {
		if !c.State.Running || e.endpointsByName(ctx, c.ID)[name].ID != "" {
			return errdefs.ErrPermissionDenied.WithMessage(fmt.Sprintf("endpoint with name %s already exists in network %s", strings.TrimPrefix(c.Name, "/"), name)) // dockerd: 403
		}
	}
	if settings == nil {
		settings = &mnetwork.EndpointSettings{}
	}
	if c.State.Running && c.NetNS != "" {
		cfg := network.EndpointConfig{Name: strings.TrimPrefix(c.Name, "/"), Aliases: append(append([]string{}, settings.Aliases...), dnsAliases(c)...),
			Links: linkMap(settings.Links), GwPriority: settings.GwPriority, IfName: settings.DriverOpts[ifNameOption]}
		if settings.IPAMConfig != nil {
			cfg.IP, cfg.IPv6 = settings.IPAMConfig.IPv4Address, settings.IPAMConfig.IPv6Address
		}
		if isUserNetwork(name) {
			servers, _, _ := e.dns(c)
			if err := e.cfg.Networks.SetForwarders(ctx, c.ID, servers); err != nil {
				return err
			}
		}
		ep, err := e.cfg.Networks.Connect(ctx, n.ID, c.ID, c.NetNS, cfg)
		if err != nil {
			return err
		}
		c.rememberAddrs(name, ep)
		if c.Networks == nil {
			c.Networks = map[string]*mnetwork.EndpointSettings{}
		}
		c.Networks[name] = settings
		if primary {
			c.PrimaryDisconnected = false
		}
		// Ports that had no network to go on (only --internal ones) are
		// published on the first normal network joined, as dockerd does.
		if !n.Internal && len(e.cfg.Networks.Ports(ctx, c.ID)) == 0 {
			if bindings, err := portBindings(c); err == nil && len(bindings) > 0 {
				if _, err := e.cfg.Networks.PublishPorts(ctx, c.ID, ep.IP, bindings); err != nil {
					slog.Error("publish ports on the network connected", "id", c.ID, "network", name, "err", err)
				}
			}
		}
		if err := e.writeNetworkEtcFiles(ctx, c, e.dir(c.ID)); err != nil {
			slog.Error("rewrite etc files", "id", c.ID, "err", err)
		}
		e.refreshNet(ctx, c)
		e.publishNetwork(n.ID, name, c, mevents.ActionConnect)
	} else {
		if c.Networks == nil {
			c.Networks = map[string]*mnetwork.EndpointSettings{}
		}
		c.Networks[name] = settings
		if primary {
			c.PrimaryDisconnected = false
		}
	}
	e.saveLogged(c)
	return nil
}

// DisconnectContainer disconnects a container from a network (docker
// network disconnect).
func (e *Engine) DisconnectContainer(ctx context.Context, netID, ref string, force bool) error {
	c, err := e.Get(ref)
	if err != nil {
		if force && errdefs.IsNotFound(err) && e.cfg.Networks != nil {
			return e.cfg.Networks.Disconnect(ctx, netID, ref)
		}
		return err
	}
	if e.cfg.Networks == nil {
		return errdefs.ErrNotImplemented.WithMessage("networking is disabled (--bridge none)")
	}
	n, err := e.cfg.Networks.Get(ctx, netID)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	name := n.Name
	_, wanted := c.Networks[name]
	primary := e.netName(ctx, primaryNetwork(c.HostConfig)) == name && !c.PrimaryDisconnected
	if !wanted && !primary {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("container %s is not connected to network %s", c.ID, name))
	}
	if c.State.Running {
		if err := e.cfg.Networks.Disconnect(ctx, n.ID, c.ID); err != nil && !errdefs.IsNotFound(err) {
			return err
		}
		e.refreshNet(ctx, c) // the API publishes the disconnect event
	}
	delete(c.Networks, name)
	if primary {
		// dockerd keeps NetworkMode: a later connect to this network (as
		// Compose does right after create) must still be allowed.
		c.PrimaryDisconnected = true
	}
	if c.State.Running {
		if err := e.writeNetworkEtcFiles(ctx, c, e.dir(c.ID)); err != nil {
			slog.Error("rewrite etc files", "id", c.ID, "err", err)
		}
	}
	e.saveLogged(c)
	return nil
}

// restoreNetworks hands the manager the containers still running; its
// errors are logged, not fatal.
func (e *Engine) restoreNetworks(ctx context.Context) {
	if e.cfg.Networks == nil {
		return
	}
	var running []network.ContainerNetState
	for _, c := range e.List() {
		c.mu.Lock()
		if c.State.Running && c.NetNS != "" {
			if mode, _ := networkMode(c.HostConfig); mode == modeBridge {
				running = append(running, network.ContainerNetState{ContainerID: c.ID, NetnsPath: c.NetNS})
			}
		}
		c.mu.Unlock()
	}
	if err := e.cfg.Networks.Restore(ctx, running); err != nil {
		slog.Error("restore networks", "err", errors.Join(err))
	}
	for _, r := range running {
		if c, err := e.Get(r.ContainerID); err == nil {
			c.mu.Lock()
			e.refreshNet(ctx, c)
			c.mu.Unlock()
		}
	}
}

// setupNetwork gives c its network namespace, endpoints, published ports
// and etc files, in that order; it returns the namespace path for the
// spec ("" for the host's). c.mu held; the caller's cleanup undoes it.
func (e *Engine) setupNetwork(ctx context.Context, c *Container, dir string) (string, error) {
	mode, ref := networkMode(c.HostConfig)
	switch mode {
	case modeHost:
		return "", e.writeEtcFiles(c, dir)
	case modeContainer:
		other, err := e.Get(ref)
		if err != nil {
			return "", err
		}
		if other == c {
			return "", errdefs.ErrInvalidArgument.WithMessage("cannot join own network namespace")
		}
		other.mu.Lock()
		running, ns := other.State.Running, other.NetNS
		hostname, domainname := containerHostname(other), other.Config.Domainname
		other.mu.Unlock()
		if !running {
			return "", errdefs.ErrConflict.WithMessage(fmt.Sprintf("cannot join network namespace of a non running container: container %s is not running", ref))
		}
		// As dockerd: the container takes the hostname and domain name of
		// the one whose network it joins, with its /etc files.
		cfg := *c.Config
		cfg.Hostname, cfg.Domainname = hostname, domainname
		c.Config = &cfg
		if ns == "" {
			return "", e.writeEtcFiles(c, dir)
		}
		return ns, e.copyEtcFiles(c, other, dir)
	}
	if err := e.linkedRunning(ctx, c); err != nil {
		return "", err
	}
	p := filepath.Join(e.cfg.ExecRoot, "netns", c.ID)
	if err := newNetNS(p); err != nil {
		return "", fmt.Errorf("start %s: network namespace: %w", c.ID, err)
	}
	c.NetNS = p
	if mode == modeNone || e.cfg.Networks == nil {
		if mode == modeNone {
			return p, e.writeNetworkEtcFiles(ctx, c, dir)
		}
		return p, e.writeEtcFiles(c, dir)
	}
	if err := e.connectNetworks(ctx, c); err != nil {
		return "", err
	}
	return p, e.writeNetworkEtcFiles(ctx, c, dir)
}

// validateNetwork checks NetworkMode at create: a user network must
// exist (when the daemon has networking), container:REF must name some
// container (looked up at start). It returns create's warnings: published ports that nothing
// will publish. A missing network or container is an invalid argument of
// create, not a 404: the docker CLI takes a 404 from create for a missing
// image and goes pulling it.
func (e *Engine) validateNetwork(ctx context.Context, hc *container.HostConfig) ([]string, error) {
	publishes := len(hc.PortBindings) > 0 || hc.PublishAllPorts
	mode, ref := networkMode(hc)
	switch mode {
	case modeContainer:
		if ref == "" {
			return nil, errdefs.ErrInvalidArgument.WithMessage("network mode container: needs a container name or ID")
		}
		// The container is looked up at start, as dockerd does: a create
		// may name one that comes later.
		if publishes {
			return nil, errdefs.ErrInvalidArgument.WithMessage("conflicting options: port publishing and the container type network mode")
		}
	case modeBridge:
		name := primaryNetwork(hc)
		if e.cfg.Networks == nil || (!isUserNetwork(name) && !e.cfg.Networks.HasDefault()) {
			if isUserNetwork(name) {
				return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("network %s not found", name))
			}
			// dockerd (--bridge=none) runs it without a network.
			if publishes {
				return []string{"Published ports are discarded: the default bridge network is disabled (the daemon runs with --bridge none)"}, nil
			}
			return nil, nil
		}
		if _, err := e.cfg.Networks.Get(ctx, name); err != nil {
			if errdefs.IsNotFound(err) {
				return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("network %s not found", name))
			}
			return nil, err
		}
	case modeHost:
		// dockerd's warning; the docker CLI prints it.
		if len(hc.PortBindings) > 0 {
			return []string{"Published ports are discarded when using host network mode"}, nil
		}
	case modeNone:
		// dockerd publishes nothing without a word; say so.
		if publishes {
			return []string{"Published ports are discarded when using network mode none"}, nil
		}
	}
	return nil, nil
}

// validateEndpoint checks a container's settings for network name as
// dockerd does at create (its validateEndpointSettings): static addresses
// and aliases only on user-defined networks, addresses that parse and lie
// in the network's subnet.
func (e *Engine) validateEndpoint(ctx context.Context, name string, es *mnetwork.EndpointSettings) error {
	if es == nil {
		return nil
	}
	var a4, a6 netip.Addr
	if es.IPAMConfig != nil {
		a4, a6 = es.IPAMConfig.IPv4Address, es.IPAMConfig.IPv6Address
	}
	var errs []string
	predefined := !container.NetworkMode(name).IsUserDefined()
	if predefined && (a4.IsValid() || a6.IsValid()) {
		errs = append(errs, "user specified IP address is supported on user defined networks only")
	}
	if predefined && len(es.Aliases) > 0 {
		errs = append(errs, "network-scoped aliases are only supported for user-defined networks")
	}
	if a4.IsValid() && !a4.Is4() {
		errs = append(errs, "invalid IPv4 address: "+a4.String())
	}
	if a6.IsValid() && (!a6.Is6() || a6.Is4In6()) {
		errs = append(errs, "invalid IPv6 address: "+a6.String())
	}
	if !predefined && e.cfg.Networks != nil && len(errs) == 0 && (a4.IsValid() || a6.IsValid()) {
		if n, err := e.cfg.Networks.Get(ctx, name); err == nil && !n.UserSubnets() {
			errs = append(errs, "user specified IP address is supported only when connecting to networks with user configured subnets")
		} else if err == nil {
			if a4.IsValid() && !n.Subnet.Contains(a4) {
				errs = append(errs, "no configured subnet or ip-range contain the IP address "+a4.String())
			}
			if a6.IsValid() && (!n.Subnet6.IsValid() || !n.Subnet6.Contains(a6)) {
				errs = append(errs, "no configured subnet or ip-range contain the IP address "+a6.String())
			}
		}
	}
	if len(errs) > 0 {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid config for network %s: invalid endpoint settings:\n%s", name, strings.Join(errs, "\n")))
	}
	return nil
}

func dnsStrings(in []netip.Addr) []string {
	var out []string
	for _, a := range in {
		out = append(out, a.String())
	}
	return out
}

// netName is the name of network ref (a name, ID or ID prefix); ref when
// the manager does not know it.
func (e *Engine) netName(ctx context.Context, ref string) string {
	if e.cfg.Networks != nil {
		if n, err := e.cfg.Networks.Get(ctx, ref); err == nil {
			return n.Name
		}
	}
	return ref
}

// linkMap turns links ("NAME[:ALIAS]") into alias -> NAME, which the
// embedded DNS of a user-defined network answers for the linking
// container, as dockerd's does.
func linkMap(links []string) map[string]string {
	var m map[string]string
	for _, l := range links {
		name, alias := splitLink(l)
		if name == "" || alias == "" {
			continue
		}
		if m == nil {
			m = map[string]string{}
		}
		m[alias] = name
	}
	return m
}

// splitLink splits a link "NAME[:ALIAS]" (NAME may start with a slash,
// ALIAS is its last path element; NAME when absent).
func splitLink(l string) (name, alias string) {
	name, alias, ok := strings.Cut(l, ":")
	name = strings.TrimPrefix(name, "/")
	if !ok {
		alias = name
	}
	return name, path.Base(alias)
}

// linked returns the container and alias of a --link value: "NAME:ALIAS",
// "NAME" (alias NAME) or dockerd's stored "/NAME:/CONTAINER/ALIAS".
// linkEnv is the environment docker's legacy links give a container on
// the default bridge, for each --link NAME:ALIAS: ALIAS_NAME, ALIAS_PORT
// (the lowest exposed port), ALIAS_PORT_<port>_<PROTO>[_ADDR|_PORT|_PROTO],
// _START/_END for runs of consecutive ports, and ALIAS_ENV_<var> for the
// linked container's variables but HOME and PATH; c.mu held.
func (e *Engine) linkEnv(c *Container) []string {
	if len(c.HostConfig.Links) == 0 || e.cfg.Networks == nil {
		return nil
	}
	ctx := context.Background()
	primary := e.netName(ctx, primaryNetwork(c.HostConfig))
	if isUserNetwork(primary) {
		return nil // user networks: DNS, no variables
	}
	var env []string
	for _, l := range c.HostConfig.Links {
		other, alias, err := e.linked(l)
		if err != nil || other == c {
			continue
		}
		ep, ok := e.endpointsByName(ctx, other.ID)[primary]
		if !ok || !ep.IP.IsValid() {
			continue
		}
		other.mu.Lock()
		ocfg := other.Config
		other.mu.Unlock()
		env = append(env, legacyLinkEnv(path.Join(c.Name, alias), ep.IP.String(), ocfg)...)
	}
	return env
}

// legacyLinkEnv is docker's Link.ToEnv for the link named name (/c/alias)
// to a container at ip with config cfg.
func legacyLinkEnv(name, ip string, cfg *container.Config) []string {
	prefix := strings.ReplaceAll(strings.ToUpper(path.Base(name)), "-", "_")
	type port struct {
		num   int
		proto string
	}
	var ports []port
	for p := range cfg.ExposedPorts {
		ports = append(ports, port{int(p.Num()), string(p.Proto())})
	}
	sort.Slice(ports, func(i, j int) bool {
		return ports[i].num < ports[j].num || ports[i].num == ports[j].num && ports[i].proto == "tcp" && ports[j].proto != "tcp"
	})
	var env []string
	if len(ports) > 0 {
		env = append(env, fmt.Sprintf("%s_PORT=%s://%s:%d", prefix, ports[0].proto, ip, ports[0].num))
	}
	// Runs of three or more consecutive port numbers also get _START and
	// _END variables (dockerd's nextContiguous).
	for i := 0; i < len(ports); {
		j := i // the last of the run
		for j+1 < len(ports) && ports[j+1].num == ports[j].num+1 {
			j++
		}
		if j > i+1 {
			p, q := ports[i], ports[j]
			up := strings.ToUpper(p.proto)
			env = append(env,
				fmt.Sprintf("%s_PORT_%d_%s_START=%s://%s:%d", prefix, p.num, up, p.proto, ip, p.num),
				fmt.Sprintf("%s_PORT_%d_%s_ADDR=%s", prefix, p.num, up, ip),
				fmt.Sprintf("%s_PORT_%d_%s_PROTO=%s", prefix, p.num, up, p.proto),
				fmt.Sprintf("%s_PORT_%d_%s_PORT_START=%d", prefix, p.num, up, p.num),
				fmt.Sprintf("%s_PORT_%d_%s_END=%s://%s:%d", prefix, p.num, strings.ToUpper(q.proto), q.proto, ip, q.num),
				fmt.Sprintf("%s_PORT_%d_%s_PORT_END=%d", prefix, p.num, strings.ToUpper(q.proto), q.num))
			i = j + 1
			continue
		}
		i++
	}
	for _, p := range ports {
		up := strings.ToUpper(p.proto)
		env = append(env,
			fmt.Sprintf("%s_PORT_%d_%s=%s://%s:%d", prefix, p.num, up, p.proto, ip, p.num),
			fmt.Sprintf("%s_PORT_%d_%s_ADDR=%s", prefix, p.num, up, ip),
			fmt.Sprintf("%s_PORT_%d_%s_PORT=%d", prefix, p.num, up, p.num),
			fmt.Sprintf("%s_PORT_%d_%s_PROTO=%s", prefix, p.num, up, p.proto))
	}
	env = append(env, fmt.Sprintf("%s_NAME=%s", prefix, name))
	for _, kv := range cfg.Env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "HOME" || k == "PATH" {
			continue
		}
		env = append(env, fmt.Sprintf("%s_ENV_%s=%s", prefix, k, v))
	}
	return env
}

func (e *Engine) linked(l string) (*Container, string, error) {
	name, alias := splitLink(l)
	if name == "" {
		return nil, "", errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid link %q", l))
	}
	c, err := e.Get(name)
	if err != nil {
		return nil, "", errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("could not get container for %s: No such container: %s", name, name))
	}
	return c, alias, nil
}

// linkedRunning refuses, as dockerd at start, a legacy link on the default
// bridge to a container that does not run (the link's address and
// variables would have nothing behind them); c.mu held.
func (e *Engine) linkedRunning(ctx context.Context, c *Container) error {
	if len(c.HostConfig.Links) == 0 || isUserNetwork(e.netName(ctx, primaryNetwork(c.HostConfig))) {
		return nil
	}
	for _, l := range c.HostConfig.Links {
		other, alias, err := e.linked(l)
		if err != nil {
			return err
		}
		if other == c {
			continue
		}
		other.mu.Lock()
		running := other.State.Running
		other.mu.Unlock()
		if !running {
			return fmt.Errorf("Cannot link to a non running container: %s AS %s/%s", other.Name, c.Name, alias)
		}
	}
	return nil
}
