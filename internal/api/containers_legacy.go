package api

import (
	"slices"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
)

// legacyInspect is GET /containers/{id}/json before API 1.52: the same
// body with the NetworkSettings fields that 1.52 removed.
type legacyInspect struct {
	container.InspectResponse
	NetworkSettings *legacyNetworkSettings
}

// legacyNetworkSettings is NetworkSettings as API 1.21 to 1.51 show it
// (swagger v1.51 NetworkSettings, in dockerd's field order): the fields
// of the default bridge's endpoint repeated at the top (empty for other
// networks), and fields dockerd always left empty.
type legacyNetworkSettings struct {
	Bridge                 string
	SandboxID              string
	SandboxKey             string
	Ports                  network.PortMap
	HairpinMode            bool
	LinkLocalIPv6Address   string
	LinkLocalIPv6PrefixLen int
	SecondaryIPAddresses   []legacyAddress
	SecondaryIPv6Addresses []legacyAddress
	EndpointID             string
	Gateway                string
	GlobalIPv6Address      string
	GlobalIPv6PrefixLen    int
	IPAddress              string
	IPPrefixLen            int
	IPv6Gateway            string
	MacAddress             string
	Networks               map[string]*network.EndpointSettings
}

// legacyInspectOf converts resp for clients before API 1.52, which read
// .NetworkSettings.IPAddress and friends (docker inspect -f templates,
// compose v1, CI scripts).
func legacyInspectOf(resp container.InspectResponse) legacyInspect {
	out := legacyInspect{InspectResponse: resp}
	ns := resp.NetworkSettings
	if ns == nil {
		return out
	}
	l := &legacyNetworkSettings{SandboxID: ns.SandboxID, SandboxKey: ns.SandboxKey, Ports: ns.Ports, Networks: ns.Networks}
	if l.Ports == nil {
		l.Ports = network.PortMap{}
	}
	if ep := ns.Networks["bridge"]; ep != nil && ep.EndpointID != "" {
		l.EndpointID = ep.EndpointID
		l.Gateway = addrString(ep.Gateway.IsValid(), ep.Gateway.String())
		l.IPAddress = addrString(ep.IPAddress.IsValid(), ep.IPAddress.String())
		l.IPPrefixLen = ep.IPPrefixLen
		l.GlobalIPv6Address = addrString(ep.GlobalIPv6Address.IsValid(), ep.GlobalIPv6Address.String())
		l.GlobalIPv6PrefixLen = ep.GlobalIPv6PrefixLen
		l.IPv6Gateway = addrString(ep.IPv6Gateway.IsValid(), ep.IPv6Gateway.String())
		if len(ep.MacAddress) > 0 {
			l.MacAddress = ep.MacAddress.String()
		}
	}
	out.NetworkSettings = l
	return out
}

// legacyAddress is an entry of the (always null) Secondary*Addresses.
type legacyAddress struct {
	Addr      string
	PrefixLen int
}

func addrString(valid bool, s string) string {
	if !valid {
		return ""
	}
	return s
}

// addShortIDAliases puts the container's short ID into the Aliases of
// every user-defined network, as dockerd did before API 1.45 (1.45 moved
// it to DNSNames). Compose v1 looks for it there: without it, every
// "up" disconnects and reconnects the container.
func addShortIDAliases(resp *container.InspectResponse) {
	if resp.NetworkSettings == nil || len(resp.ID) < 12 {
		return
	}
	short := resp.ID[:12]
	nets := make(map[string]*network.EndpointSettings, len(resp.NetworkSettings.Networks))
	for name, ep := range resp.NetworkSettings.Networks {
		switch {
		case ep == nil, name == "bridge", name == "host", name == "none", name == "default":
		case !slices.Contains(ep.Aliases, short):
			ep = ep.Copy()
			ep.Aliases = append(ep.Aliases, short)
		}
		nets[name] = ep
	}
	ns := *resp.NetworkSettings
	ns.Networks = nets
	resp.NetworkSettings = &ns
}
