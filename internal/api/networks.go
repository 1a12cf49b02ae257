package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	mevents "github.com/moby/moby/api/types/events"
	mnetwork "github.com/moby/moby/api/types/network"

	"github.com/berth/berth/internal/network"
)

// NetworkAttacher connects containers to networks and disconnects them
// (POST /networks/{id}/connect and /disconnect). The engine implements it:
// it resolves containerRef (ID, ID prefix or name), and for a container
// with a network namespace calls network.Manager.Connect or Disconnect,
// rewrites its /etc/hosts and records the endpoint in its settings; for a
// created container it only records the wish. netID is the manager's full
// network ID for bridge networks, or "host" or "none" for those
// predefined networks. Errors carry their errdefs class (NotFound for an
// unknown container, Conflict for "already connected", InvalidArgument,
// Forbidden for host/none changes), which becomes the HTTP status.
type NetworkAttacher interface {
	ConnectContainer(ctx context.Context, netID, containerRef string, settings *mnetwork.EndpointSettings) error
	DisconnectContainer(ctx context.Context, netID, containerRef string, force bool) error
}

// predefined are the networks dockerd always lists besides user-defined
// ones: the default bridge (kept by the network manager) and these two,
// which exist only here; their driver is the map value.
var predefined = map[string]string{"host": "host", "none": "null"}

// isPredefined tells whether name is one of dockerd's predefined networks.
func isPredefined(name string) bool {
	return name == network.DefaultNetworkName || predefined[name] != ""
}

// routeNetworks serves /networks/... from cfg.Networks; nil leaves the
// routes out.
func (s *Server) routeNetworks(mux *http.ServeMux) {
	if s.cfg.Networks == nil {
		return
	}
	mux.HandleFunc("GET /networks", s.networkList)
	mux.HandleFunc("GET /networks/{$}", s.networkList) // dockerd's router answers the trailing slash too
	mux.HandleFunc("POST /networks/create", s.networkCreate)
	mux.HandleFunc("POST /networks/prune", s.networkPrune)
	mux.HandleFunc("GET /networks/{id}", s.networkInspect)
	mux.HandleFunc("DELETE /networks/{id}", s.networkRemove)
	mux.HandleFunc("POST /networks/{id}/connect", s.networkConnect)
	mux.HandleFunc("POST /networks/{id}/disconnect", s.networkDisconnect)
}

// attachableOption is the driver option that records Attachable: the
// manager keeps options, and the API hides this one again.
const attachableOption = "io.berth.network.attachable"

// predefinedID is the stable ID of the host or none network of this
// daemon.
func (s *Server) predefinedID(name string) string {
	sum := sha256.Sum256([]byte("berth-network:" + s.cfg.ID + ":" + name))
	return hex.EncodeToString(sum[:])
}

// apiNetwork is a network in the Engine API's shape, with the endpoints
// as its Containers (keyed by container ID).
func apiNetwork(n *network.Network, eps []network.Endpoint) mnetwork.Inspect {
	out := mnetwork.Inspect{
		Network: mnetwork.Network{
			Name: n.Name, ID: n.ID, Created: n.Created.Local(), Scope: "local", Driver: n.Driver,
			EnableIPv4: true, EnableIPv6: n.IPv6, Internal: n.Internal,
			IPAM:    mnetwork.IPAM{Driver: "default", Options: map[string]string{}},
			Options: map[string]string{}, Labels: map[string]string{},
		},
		Containers: map[string]mnetwork.EndpointResource{},
	}
	out.IPAM.Config = []mnetwork.IPAMConfig{{Subnet: n.Subnet, Gateway: n.Gateway, IPRange: n.IPRange}}
	if n.IPv6 {
		out.IPAM.Config = append(out.IPAM.Config, mnetwork.IPAMConfig{Subnet: n.Subnet6, Gateway: n.Gateway6})
	}
	for name, a := range n.Aux {
		i := 0
		if a.Is6() && len(out.IPAM.Config) > 1 {
			i = 1
		}
		if out.IPAM.Config[i].AuxAddress == nil {
			out.IPAM.Config[i].AuxAddress = map[string]netip.Addr{}
		}
		out.IPAM.Config[i].AuxAddress[name] = a
	}
	for k, v := range n.Options {
		if k == attachableOption {
			out.Attachable = v == "true"
			continue
		}
		out.Options[k] = v
	}
	for k, v := range n.Labels {
		out.Labels[k] = v
	}
	if n.Default {
		out.IPAM.Options = nil
		out.Options["com.docker.network.bridge.default_bridge"] = "true"
		out.Options["com.docker.network.bridge.enable_icc"] = "true"
		out.Options["com.docker.network.bridge.enable_ip_masquerade"] = "true"
		out.Options["com.docker.network.bridge.host_binding_ipv4"] = "0.0.0.0"
		out.Options["com.docker.network.driver.mtu"] = strconv.Itoa(n.MTU)
	}
	for _, ep := range eps {
		r := mnetwork.EndpointResource{Name: ep.Name, EndpointID: ep.ID}
		if mac, err := net.ParseMAC(ep.MAC); err == nil {
			r.MacAddress = mnetwork.HardwareAddr(mac)
		}
		if ep.IP.IsValid() {
			r.IPv4Address = netip.PrefixFrom(ep.IP, ep.Prefix)
		}
		if ep.IPv6.IsValid() {
			r.IPv6Address = netip.PrefixFrom(ep.IPv6, ep.Prefix6)
		}
		out.Containers[ep.ContainerID] = r
	}
	return out
}

// predefinedNetwork is the host or none network as dockerd shows it,
// created when the default bridge was.
func (s *Server) predefinedNetwork(ctx context.Context, name string) mnetwork.Inspect {
	var created time.Time
	if b, err := s.cfg.Networks.Get(ctx, network.DefaultNetworkName); err == nil {
		created = b.Created
	}
	return mnetwork.Inspect{
		Network: mnetwork.Network{
			Name: name, ID: s.predefinedID(name), Created: created.Local(), Scope: "local", Driver: predefined[name],
			EnableIPv4: true, IPAM: mnetwork.IPAM{Driver: "default", Config: []mnetwork.IPAMConfig{}},
			Options: map[string]string{}, Labels: map[string]string{},
		},
		Containers: map[string]mnetwork.EndpointResource{},
	}
}

// allNetworks returns every network with its endpoints, sorted by name.
func (s *Server) allNetworks(ctx context.Context) []mnetwork.Inspect {
	var out []mnetwork.Inspect
	for _, n := range s.cfg.Networks.List(ctx) {
		eps, err := s.cfg.Networks.Endpoints(ctx, n.ID)
		if err != nil { // removed meanwhile
			continue
		}
		out = append(out, apiNetwork(n, eps))
	}
	for name := range predefined {
		out = append(out, s.predefinedNetwork(ctx, name))
	}
	slices.SortFunc(out, func(a, b mnetwork.Inspect) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// findNetwork resolves ref as dockerd: full ID, then name, then a unique
// ID prefix, over the manager's networks and the host and none networks.
func (s *Server) findNetwork(ctx context.Context, ref string) (mnetwork.Inspect, error) {
	for name := range predefined {
		if ref == name || ref == s.predefinedID(name) {
			return s.predefinedNetwork(ctx, name), nil
		}
	}
	n, err := s.cfg.Networks.Get(ctx, ref)
	if err == nil {
		eps, err := s.cfg.Networks.Endpoints(ctx, n.ID)
		if err != nil {
			return mnetwork.Inspect{}, err
		}
		return apiNetwork(n, eps), nil
	}
	if !errdefs.IsNotFound(err) {
		return mnetwork.Inspect{}, err
	}
	for name := range predefined {
		if strings.HasPrefix(s.predefinedID(name), ref) {
			return s.predefinedNetwork(ctx, name), nil
		}
	}
	return mnetwork.Inspect{}, err
}

func (s *Server) networkList(w http.ResponseWriter, r *http.Request) {
	f, err := imageFilters(r.URL.Query(), "dangling", "driver", "id", "label", "name", "scope", "type")
	if err != nil {
		writeError(w, r, err)
		return
	}
	nets, err := filterNetworks(s.allNetworks(r.Context()), f)
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := make([]mnetwork.Summary, 0, len(nets))
	for _, n := range nets {
		out = append(out, mnetwork.Summary{Network: n.Network})
	}
	writeJSON(w, http.StatusOK, out)
}

// filterNetworks applies dockerd's network filters: driver and scope match
// exactly, name and id as unanchored regular expressions, label as key or
// key=value (all must match), dangling=true|false on use, type=custom|builtin.
func filterNetworks(nets []mnetwork.Inspect, f map[string][]string) ([]mnetwork.Inspect, error) {
	var dangling *bool
	if v := f["dangling"]; len(v) > 0 {
		if len(v) > 1 {
			return nil, errdefs.ErrInvalidArgument.WithMessage(`got more than one value for filter key "dangling"`)
		}
		switch strings.ToLower(v[0]) {
		case "0", "false":
			dangling = new(bool)
		case "1", "true":
			t := true
			dangling = &t
		default:
			return nil, errdefs.ErrInvalidArgument.WithMessage(`invalid value for filter 'dangling', must be "true" (or "1"), or "false" (or "0")`)
		}
	}
	custom, builtin := len(f["type"]) == 0, len(f["type"]) == 0
	for _, t := range f["type"] {
		switch t {
		case "custom":
			custom = true
		case "builtin":
			builtin = true
		default:
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter: 'type'='%s'", t))
		}
	}
	var out []mnetwork.Inspect
	for _, n := range nets {
		pre := isPredefined(n.Name)
		switch {
		case !exactMatch(f["driver"], n.Driver), !exactMatch(f["scope"], n.Scope),
			!regexpMatch(f["name"], n.Name), !regexpMatch(f["id"], n.ID),
			!labelsMatch(f["label"], n.Labels),
			dangling != nil && *dangling != (!pre && len(n.Containers) == 0),
			pre && !builtin, !pre && !custom:
			continue
		}
		out = append(out, n)
	}
	return out, nil
}

func exactMatch(want []string, v string) bool {
	return len(want) == 0 || slices.Contains(want, v)
}

// regexpMatch is docker's filters.Args.Match: a value equal to v, or an
// unanchored regular expression that matches it.
func regexpMatch(want []string, v string) bool {
	if len(want) == 0 {
		return true
	}
	for _, w := range want {
		if w == v {
			return true
		}
		if re, err := regexp.Compile(w); err == nil && re.MatchString(v) {
			return true
		}
	}
	return false
}

// labelsMatch is docker's MatchKVList: every "key" must be present and
// every "key=value" equal.
func labelsMatch(want []string, labels map[string]string) bool {
	for _, w := range want {
		k, v, hasValue := strings.Cut(w, "=")
		got, ok := labels[k]
		if !ok || (hasValue && got != v) {
			return false
		}
	}
	return true
}

func (s *Server) networkInspect(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("id")
	n, err := s.findNetwork(r.Context(), ref)
	if err == nil {
		if sc := r.URL.Query().Get("scope"); sc != "" && sc != n.Scope {
			err = errdefs.ErrNotFound.WithMessage(fmt.Sprintf("network %s not found", ref))
		}
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, n)
}

// networkConfig turns a create request into the manager's terms, with
// dockerd's errors for what a local bridge cannot be.
func networkConfig(req mnetwork.CreateRequest) (network.NetworkConfig, error) {
	c := network.NetworkConfig{Name: req.Name, Driver: req.Driver, Internal: req.Internal, Labels: req.Labels, Options: map[string]string{}}
	if req.Name == "" {
		return c, errdefs.ErrInvalidArgument.WithMessage("network name cannot be empty")
	}
	if isPredefined(req.Name) {
		return c, errdefs.ErrPermissionDenied.WithMessage(fmt.Sprintf("operation is not permitted on predefined %s network ", req.Name))
	}
	switch req.Driver {
	case "", "bridge":
		c.Driver = "bridge"
	case "host", "null":
		return c, errdefs.ErrPermissionDenied.WithMessage(fmt.Sprintf("only one instance of \"%s\" network is allowed", req.Driver))
	case "overlay":
		return c, swarmError
	case "macvlan", "ipvlan":
		return c, errdefs.ErrNotImplemented.WithMessage(fmt.Sprintf("network %s: driver %q is not supported by berth (only bridge)", req.Name, req.Driver))
	default:
		return c, errdefs.ErrNotFound.WithMessage(fmt.Sprintf("plugin %q not found", req.Driver))
	}
	switch {
	case req.Scope != "" && req.Scope != "local", req.Ingress:
		return c, swarmError
	case req.ConfigOnly || (req.ConfigFrom != nil && req.ConfigFrom.Network != ""):
		return c, errdefs.ErrNotImplemented.WithMessage(fmt.Sprintf("network %s: config-only networks are not supported", req.Name))
	case req.EnableIPv4 != nil && !*req.EnableIPv4:
		return c, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("network %s: IPv4 cannot be disabled on a bridge network", req.Name))
	}
	for k, v := range req.Options {
		if k == attachableOption {
			continue
		}
		c.Options[k] = v
	}
	if req.Attachable {
		c.Options[attachableOption] = "true"
	}
	c.IPv6 = req.EnableIPv6 != nil && *req.EnableIPv6
	if req.IPAM != nil {
		if d := req.IPAM.Driver; d != "" && d != "default" {
			return c, errdefs.ErrNotFound.WithMessage(fmt.Sprintf("plugin %q not found", d))
		}
		var have4, have6 bool
		for _, ic := range req.IPAM.Config {
			for name, a := range ic.AuxAddress {
				if !a.IsValid() || a.Is4() != ic.Subnet.Addr().Is4() || ic.Subnet.IsValid() && !ic.Subnet.Contains(a) {
					return c, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("network %s: no matching subnet for aux-address %s (%s)", req.Name, a, name))
				}
				if c.Aux == nil {
					c.Aux = map[string]netip.Addr{}
				}
				c.Aux[name] = a
			}
			if !ic.Subnet.IsValid() {
				return c, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("network %s: IPAM config without a subnet", req.Name))
			}
			if ic.Subnet.Addr().Is6() {
				if have6 {
					return c, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("network %s: only one IPv6 subnet is supported", req.Name))
				}
				if ic.IPRange.IsValid() {
					return c, errdefs.ErrNotImplemented.WithMessage(fmt.Sprintf("network %s: ip-range %s: IPv6 ranges are not supported", req.Name, ic.IPRange))
				}
				have6, c.Subnet6, c.Gateway6 = true, ic.Subnet, ic.Gateway
				continue
			}
			if have4 {
				return c, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("network %s: only one IPv4 subnet is supported", req.Name))
			}
			have4, c.Subnet, c.Gateway, c.IPRange = true, ic.Subnet, ic.Gateway, ic.IPRange
		}
		if have6 && !c.IPv6 {
			return c, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("network %s: an IPv6 subnet needs EnableIPv6", req.Name))
		}
	}
	return c, nil
}

func (s *Server) networkCreate(w http.ResponseWriter, r *http.Request) {
	var req mnetwork.CreateRequest
	if err := decodeJSON(r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	c, err := networkConfig(req)
	if err != nil {
		writeError(w, r, err)
		return
	}
	n, err := s.cfg.Networks.Create(r.Context(), c)
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.networkEvent(mevents.ActionCreate, n.ID, map[string]string{"name": n.Name, "type": n.Driver})
	writeJSON(w, http.StatusCreated, mnetwork.CreateResponse{ID: n.ID})
}

func (s *Server) networkRemove(w http.ResponseWriter, r *http.Request) {
	n, err := s.findNetwork(r.Context(), r.PathValue("id"))
	switch {
	case err != nil:
	case isPredefined(n.Name):
		err = errdefs.ErrPermissionDenied.WithMessage(fmt.Sprintf("%s is a pre-defined network and cannot be removed", n.Name))
	case len(n.Containers) > 0:
		// dockerd answers 403 here (libnetwork's ActiveEndpointsError).
		err = errdefs.ErrPermissionDenied.WithMessage(fmt.Sprintf("error while removing network: network %s id %s has active endpoints", n.Name, n.ID))
	default:
		err = s.cfg.Networks.Remove(r.Context(), n.ID)
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.networkEvent(mevents.ActionDestroy, n.ID, map[string]string{"name": n.Name, "type": n.Driver})
	w.WriteHeader(http.StatusNoContent)
}

// networkPrune removes user-defined networks without endpoints that match
// the filters until, label and label!.
func (s *Server) networkPrune(w http.ResponseWriter, r *http.Request) {
	f, err := imageFilters(r.URL.Query(), "until", "label", "label!")
	if err != nil {
		writeError(w, r, err)
		return
	}
	var until time.Time
	if v := f["until"]; len(v) > 0 {
		if len(v) > 1 {
			writeError(w, r, errdefs.ErrInvalidArgument.WithMessage(`more than one until filter specified`))
			return
		}
		if until, err = parseUntil(v[0], time.Now()); err != nil {
			writeError(w, r, err)
			return
		}
	}
	ids := map[string]string{}
	keep := func(n *network.Network) bool {
		if !until.IsZero() && !n.Created.Before(until) {
			return true
		}
		if len(f["label"]) > 0 && !labelsMatch(f["label"], n.Labels) {
			return true
		}
		for _, l := range f["label!"] {
			if labelsMatch([]string{l}, n.Labels) {
				return true
			}
		}
		ids[n.Name] = n.ID
		return false
	}
	removed, err := s.cfg.Networks.Prune(r.Context(), keep)
	for _, name := range removed {
		s.networkEvent(mevents.ActionDestroy, ids[name], map[string]string{"name": name, "type": "bridge"})
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.networkEvent(mevents.ActionPrune, "", map[string]string{})
	writeJSON(w, http.StatusOK, mnetwork.PruneReport{NetworksDeleted: removed})
}

// parseUntil reads docker's until filter: a Go duration before now, an
// RFC 3339 time or date, or Unix seconds with optional fraction.
func parseUntil(v string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, time.Local); err == nil {
			return t, nil
		}
	}
	if t, err := parseTimestamp("until", v); err == nil { // to the nanosecond, as dockerd
		return t, nil
	}
	return time.Time{}, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter 'until=%s': not a duration, time or timestamp", v))
}

// attachTarget resolves the network of a connect or disconnect request to
// the ID the attacher expects.
func (s *Server) attachTarget(r *http.Request) (string, mnetwork.Inspect, error) {
	n, err := s.findNetwork(r.Context(), r.PathValue("id"))
	if err != nil {
		return "", n, err
	}
	if predefined[n.Name] != "" {
		return n.Name, n, nil
	}
	return n.ID, n, nil
}

// errHostNetwork is dockerd's answer to a connect to or disconnect from
// the host network.
var errHostNetwork = errdefs.ErrPermissionDenied.WithMessage("container cannot be disconnected from host network or connected to host network")

// errNoAttacher is the answer to connect and disconnect until the engine
// provides a NetworkAttacher.
var errNoAttacher = errdefs.ErrNotImplemented.WithMessage("network connect and disconnect are not available: this daemon's container engine does not attach containers to networks yet")

func (s *Server) networkConnect(w http.ResponseWriter, r *http.Request) {
	var req mnetwork.ConnectRequest
	if err := decodeJSON(r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	id, _, err := s.attachTarget(r)
	switch {
	case err != nil:
	case id == "host":
		err = errHostNetwork
	case req.Container == "":
		err = errdefs.ErrInvalidArgument.WithMessage("network connect: container name or id is empty")
	case s.cfg.NetworkAttacher == nil:
		err = errNoAttacher
	default:
		err = s.cfg.NetworkAttacher.ConnectContainer(r.Context(), id, req.Container, req.EndpointConfig)
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	// The attacher sends "connect" when the container is attached (now,
	// if it runs; else when it starts), as dockerd does.
	w.WriteHeader(http.StatusOK)
}

func (s *Server) networkDisconnect(w http.ResponseWriter, r *http.Request) {
	var req mnetwork.DisconnectRequest
	if err := decodeJSON(r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	id, n, err := s.attachTarget(r)
	switch {
	case err != nil:
	case id == "host":
		err = errHostNetwork
	case req.Container == "":
		err = errdefs.ErrInvalidArgument.WithMessage("network disconnect: container name or id is empty")
	case s.cfg.NetworkAttacher == nil:
		err = errNoAttacher
	default:
		err = s.cfg.NetworkAttacher.DisconnectContainer(r.Context(), id, req.Container, req.Force)
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.networkEvent(mevents.ActionDisconnect, n.ID, map[string]string{"container": req.Container, "name": n.Name, "type": n.Driver})
	w.WriteHeader(http.StatusOK)
}

func (s *Server) networkEvent(action mevents.Action, id string, attrs map[string]string) {
	s.cfg.Events.Publish(mevents.Message{Type: mevents.NetworkEventType, Action: action, Actor: mevents.Actor{ID: id, Attributes: attrs}})
}
