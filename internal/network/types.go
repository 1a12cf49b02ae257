package network

import (
	"net/netip"
	"time"
)

// Config configures a Manager.
type Config struct {
	// Root is the directory of the manager's state file (created if missing).
	Root string
	// DefaultBridge is the Linux bridge of the default network; "berth0"
	// when empty; NoDefaultBridge for none (dockerd's --bridge=none).
	DefaultBridge string
	// BIP is the default bridge's address with its prefix (--bip, e.g.
	// 172.17.0.1/16); when invalid (zero), a subnet is chosen from
	// DefaultAddressPools at first start and kept.
	BIP netip.Prefix
	// DefaultAddressPools are the subnets networks without --subnet are
	// carved from (--default-address-pool); docker's pools when empty.
	DefaultAddressPools []AddressPool
	// MTU of veth pairs and bridges; 1500 when zero.
	MTU int
	// ChainPrefix names the iptables chains; "BERTH" when empty.
	ChainPrefix string
	// DNSUpstreams are the servers (host:port or IP) the embedded DNS
	// forwards names it does not know to; the nameservers of the host's
	// /etc/resolv.conf when nil.
	DNSUpstreams []string
	// DNSAddr is the address the embedded DNS listens on inside each
	// container's network namespace; 127.0.0.11:53 when empty.
	DNSAddr string
}

// NoDefaultBridge as Config.DefaultBridge runs without the default
// network: user-defined networks still work, and containers that ask for
// the default network get no network (dockerd's --bridge=none).
const NoDefaultBridge = "none"

// AddressPool is a range subnets are carved from: Base split into
// subnets of Size bits (docker's --default-address-pool base=,size=).
type AddressPool struct {
	Base netip.Prefix
	Size int
}

// NetworkConfig is what Create makes a network from; it mirrors the
// options of `docker network create`.
type NetworkConfig struct {
	Name string
	// Driver is "bridge" (the default when empty).
	Driver string
	// Subnet, Gateway and IPRange are optional; a free subnet is chosen, the
	// gateway is the subnet's first address and addresses come from the
	// whole subnet when they are zero.
	Subnet   netip.Prefix
	Gateway  netip.Addr
	IPRange  netip.Prefix
	Internal bool
	Labels   map[string]string
	// Options are driver options; com.docker.network.bridge.name and
	// com.docker.network.driver.mtu are understood.
	Options map[string]string
	// IPv6 gives the network an IPv6 subnet too (--ipv6): Subnet6, or a
	// random unique local /64 (fdxx:xxxx:xxxx::/64) when zero, with
	// Gateway6 (the subnet's first address when zero) on the bridge.
	// Containers get an address of it and, unless Internal, a default
	// route via the gateway. Ports published on all addresses are
	// published on IPv6 too (see PublishPorts).
	IPv6     bool
	Subnet6  netip.Prefix
	Gateway6 netip.Addr
	// Aux are --aux-address entries (name to address, IPv4 or IPv6):
	// addresses of the subnets that are never given to a container, as
	// dockerd's IPAM reserves them. Each must be in one of the subnets.
	Aux map[string]netip.Addr
}

// Network is a network as stored and shown by inspect.
type Network struct {
	ID       string            `json:"id"`
	Name     string            `json:"name"`
	Driver   string            `json:"driver"`
	Subnet   netip.Prefix      `json:"subnet"`
	Gateway  netip.Addr        `json:"gateway"`
	IPRange  netip.Prefix      `json:"ipRange,omitzero"`
	Internal bool              `json:"internal,omitempty"`
	IPv6     bool              `json:"ipv6,omitempty"`
	Subnet6  netip.Prefix      `json:"subnet6,omitzero"`
	Gateway6 netip.Addr        `json:"gateway6,omitzero"`
	Labels   map[string]string `json:"labels,omitempty"`
	Options  map[string]string `json:"options,omitempty"`
	// Aux are the reserved --aux-address entries (NetworkConfig.Aux).
	Aux     map[string]netip.Addr `json:"aux,omitempty"`
	Bridge  string                `json:"bridge"`
	MTU     int                   `json:"mtu"`
	Created time.Time             `json:"created"`
	// Default marks the default "bridge" network: no embedded DNS, cannot
	// be removed.
	Default bool `json:"default,omitempty"`
	// AutoSubnet and AutoSubnet6 mark subnets the manager picked (no
	// --subnet): dockerd takes a static address (--ip) only on a network
	// with a subnet of the user's.
	AutoSubnet  bool `json:"autoSubnet,omitempty"`
	AutoSubnet6 bool `json:"autoSubnet6,omitempty"`
}

// UserSubnets reports whether the network has a subnet the user gave,
// which static addresses need.
func (n *Network) UserSubnets() bool { return !n.AutoSubnet || n.IPv6 && !n.AutoSubnet6 }

// Bridge driver options of docker's that the manager reads besides
// com.docker.network.bridge.name.
const (
	// OptionEnableICC "false" drops traffic between the network's
	// containers (but replies and published ports).
	OptionEnableICC = "com.docker.network.bridge.enable_icc"
	// OptionHostBindingIPv4 is the host address ports published by the
	// network's containers bind when -p names none.
	OptionHostBindingIPv4 = "com.docker.network.bridge.host_binding_ipv4"
)

// EndpointConfig is a container's wish for one network.
type EndpointConfig struct {
	// Name is the container's name (without a leading slash); the embedded
	// DNS answers it on user-defined networks.
	Name string
	// IP is a requested address (--ip); the next free one when zero.
	IP netip.Addr
	// IPv6 is a requested IPv6 address (--ip6) on an IPv6 network.
	IPv6 netip.Addr
	// PreferIP and PreferIPv6 are addresses to take when free and nothing
	// is requested: the container's addresses on the network before, so
	// that a restart keeps them, as with dockerd.
	PreferIP, PreferIPv6 netip.Addr
	Aliases              []string
	MacAddress           string
	// Links are --link's on a user-defined network: alias -> the linked
	// container's name, which the embedded DNS answers for this container
	// alone.
	Links map[string]string
	// GwPriority ranks the container's networks for its default route
	// (docker's --gw-priority, API 1.48): the highest wins.
	GwPriority int
	// IfName is the interface's name in the container (docker's
	// com.docker.network.endpoint.ifname driver option, Compose's
	// interface_name); the next free ethN when empty.
	IfName string
}

// Endpoint is a container's attachment to a network.
type Endpoint struct {
	// ID is the endpoint's own ID (docker's EndpointID).
	ID          string   `json:"id"`
	NetworkID   string   `json:"networkId"`
	ContainerID string   `json:"containerId"`
	Name        string   `json:"name"`
	Aliases     []string `json:"aliases,omitempty"`
	// Links and GwPriority: see EndpointConfig.
	Links      map[string]string `json:"links,omitempty"`
	GwPriority int               `json:"gwPriority,omitempty"`
	IP         netip.Addr        `json:"ip"`
	Prefix     int               `json:"prefix"`
	Gateway    netip.Addr        `json:"gateway"`
	MAC        string            `json:"mac"`
	// IPv6, Prefix6 and Gateway6 are set on IPv6 networks.
	IPv6     netip.Addr `json:"ipv6,omitzero"`
	Prefix6  int        `json:"prefix6,omitempty"`
	Gateway6 netip.Addr `json:"gateway6,omitzero"`
	// HostVeth is the host side of the veth pair, IfName the container side.
	HostVeth  string `json:"hostVeth"`
	IfName    string `json:"ifName"`
	NetnsPath string `json:"netnsPath"`
}

// PortBinding maps a host port to a container port. HostPort 0 asks for an
// ephemeral port; HostPortEnd > HostPort asks for the first free port of
// the range. Proto is "tcp" (default) or "udp"; HostIP empty means all
// addresses.
type PortBinding struct {
	HostIP        string `json:"hostIp,omitempty"`
	HostPort      int    `json:"hostPort"`
	HostPortEnd   int    `json:"hostPortEnd,omitempty"`
	ContainerPort int    `json:"containerPort"`
	Proto         string `json:"proto"`
}

// ContainerNetState is what Restore keeps: a running container and its
// network namespace.
type ContainerNetState struct {
	ContainerID string
	NetnsPath   string
}
