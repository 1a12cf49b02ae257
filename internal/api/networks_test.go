package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	mnetwork "github.com/moby/moby/api/types/network"

	"github.com/berth/berth/internal/api/events"
	"github.com/berth/berth/internal/network"
)

type fakeAttacher struct {
	calls []string
	err   error
}

func (f *fakeAttacher) ConnectContainer(ctx context.Context, netID, ref string, s *mnetwork.EndpointSettings) error {
	alias := ""
	if s != nil && len(s.Aliases) > 0 {
		alias = s.Aliases[0]
	}
	f.calls = append(f.calls, "connect "+netID+" "+ref+" "+alias)
	return f.err
}

func (f *fakeAttacher) DisconnectContainer(ctx context.Context, netID, ref string, force bool) error {
	f.calls = append(f.calls, "disconnect "+netID+" "+ref+" "+map[bool]string{true: "force", false: "noforce"}[force])
	return f.err
}

// newNetworkServer serves a network manager with its own bridge, chains
// and subnet pool; cleanup removes them from the host.
func newNetworkServer(t *testing.T, att NetworkAttacher) (*network.Manager, *httptest.Server, *events.Bus) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if _, err := exec.LookPath("iptables"); err != nil {
		t.Skip("needs iptables")
	}
	b := make([]byte, 3)
	rand.Read(b)
	id := hex.EncodeToString(b)
	m, err := network.New(context.Background(), network.Config{
		Root:                t.TempDir(),
		DefaultBridge:       "bta" + id,
		ChainPrefix:         "BTA" + strings.ToUpper(id),
		BIP:                 netip.MustParsePrefix("10.247.0.1/24"),
		DefaultAddressPools: []network.AddressPool{{Base: netip.MustParsePrefix("10.247.0.0/16"), Size: 24}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Uninstall(context.Background()); err != nil {
			t.Errorf("uninstall: %v", err)
		}
	})
	bus := events.NewBus(0)
	s := New(Config{Version: "0.1.0-test", ID: "test-daemon", Events: bus, Networks: m, NetworkAttacher: att})
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return m, ts, bus
}

func listNames(t *testing.T, ts *httptest.Server, filters string) []string {
	t.Helper()
	u := ts.URL + "/v1.50/networks"
	if filters != "" {
		u += "?" + url.Values{"filters": {filters}}.Encode()
	}
	status, _, body := request(t, "GET", u, nil)
	if status != 200 {
		t.Fatalf("list %s = %d %s", filters, status, body)
	}
	var list []mnetwork.Summary
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatal(err)
	}
	names := []string{}
	for _, n := range list {
		names = append(names, n.Name)
	}
	return names
}

func TestNetworkEndpoints(t *testing.T) {
	att := &fakeAttacher{}
	_, ts, bus := newNetworkServer(t, att)

	if got := listNames(t, ts, ""); !reflect.DeepEqual(got, []string{"bridge", "host", "none"}) {
		t.Fatalf("predefined networks = %v", got)
	}
	if status, _, body := request(t, "GET", ts.URL+"/v1.50/networks/", nil); status != 200 || !strings.Contains(body, `"Name":"host"`) {
		t.Errorf("GET /networks/ (trailing slash) = %d %s, want the list", status, body)
	}
	status, _, body := request(t, "POST", ts.URL+"/v1.50/networks/create", strings.NewReader(
		`{"Name":"apinet","Driver":"bridge","Internal":true,"Attachable":true,"Labels":{"tier":"db","x":"1"},"Options":{},`+
			`"IPAM":{"Driver":"default","Config":[{"Subnet":"10.247.9.0/24","Gateway":"10.247.9.254","IPRange":"10.247.9.128/25","AuxiliaryAddresses":{"router":"10.247.9.200"}}]}}`))
	if status != 201 {
		t.Fatalf("create = %d %s", status, body)
	}
	var cr mnetwork.CreateResponse
	if json.Unmarshal([]byte(body), &cr); len(cr.ID) != 64 || !strings.Contains(body, `"Warning":""`) {
		t.Errorf("create answer %s", body)
	}
	status, _, body = request(t, "POST", ts.URL+"/networks/create", strings.NewReader(`{"Name":"apinet"}`))
	if status != 409 || !strings.Contains(body, "network with name apinet already exists") {
		t.Errorf("duplicate create = %d %s", status, body)
	}
	for in, want := range map[string]string{
		`{"Name":"bridge"}`:                   `403 operation is not permitted on predefined bridge network `,
		`{"Name":"x","Driver":"host"}`:        `403 only one instance of \"host\" network is allowed`,
		`{"Name":"x","Driver":"nosuchdrv"}`:   `404 plugin \"nosuchdrv\" not found`,
		`{"Name":"x","Driver":"overlay"}`:     `503 This node is not a swarm manager.`,
		`{"Name":""}`:                         `400 network name cannot be empty`,
		`{"Name":"x","IPAM":{"Driver":"zz"}}`: `404 plugin \"zz\" not found`,
		`{"Name":"x","IPAM":{"Config":[{"Subnet":"10.247.10.0/24","AuxiliaryAddresses":{"a":"10.247.11.1"}}]}}`: `400 no matching subnet for aux-address 10.247.11.1`,
	} {
		status, _, body := request(t, "POST", ts.URL+"/networks/create", strings.NewReader(in))
		code, msg, _ := strings.Cut(want, " ")
		if code != strings.TrimSpace(itoa(status)) || !strings.Contains(body, msg) {
			t.Errorf("create %s = %d %s, want %s", in, status, body, want)
		}
	}

	status, _, body = request(t, "GET", ts.URL+"/v1.50/networks/apinet", nil)
	var n mnetwork.Inspect
	json.Unmarshal([]byte(body), &n)
	wantIPAM := []mnetwork.IPAMConfig{{Subnet: netip.MustParsePrefix("10.247.9.0/24"), Gateway: netip.MustParseAddr("10.247.9.254"), IPRange: netip.MustParsePrefix("10.247.9.128/25"),
		AuxAddress: map[string]netip.Addr{"router": netip.MustParseAddr("10.247.9.200")}}}
	if status != 200 || n.ID != cr.ID || n.Driver != "bridge" || n.Scope != "local" || !n.Internal || !n.Attachable ||
		!reflect.DeepEqual(n.IPAM.Config, wantIPAM) || n.Labels["tier"] != "db" || len(n.Options) != 0 ||
		!strings.Contains(body, `"Containers":{}`) {
		t.Errorf("inspect = %d %s", status, body)
	}
	for _, ref := range []string{cr.ID, cr.ID[:12]} {
		if status, _, body := request(t, "GET", ts.URL+"/networks/"+ref, nil); status != 200 || !strings.Contains(body, `"Name":"apinet"`) {
			t.Errorf("inspect by %s = %d %s", ref, status, body)
		}
	}
	status, _, body = request(t, "GET", ts.URL+"/networks/apinet?scope=swarm", nil)
	if status != 404 || !strings.Contains(body, `"network apinet not found"`) {
		t.Errorf("inspect scope=swarm = %d %s", status, body)
	}
	status, _, body = request(t, "GET", ts.URL+"/networks/nosuch", nil)
	if status != 404 || body != `{"message":"network nosuch not found"}`+"\n" {
		t.Errorf("inspect nosuch = %d %q", status, body)
	}
	status, _, body = request(t, "GET", ts.URL+"/networks/bridge", nil)
	if status != 200 || !strings.Contains(body, `"com.docker.network.bridge.default_bridge":"true"`) || !strings.Contains(body, `"Subnet":"10.247.0.0/24"`) {
		t.Errorf("inspect bridge = %d %s", status, body)
	}
	status, _, body = request(t, "GET", ts.URL+"/networks/none", nil)
	if status != 200 || !strings.Contains(body, `"Driver":"null"`) || !strings.Contains(body, `"Config":[]`) {
		t.Errorf("inspect none = %d %s", status, body)
	}

	for filters, want := range map[string][]string{
		`{"driver":{"bridge":true}}`:        {"apinet", "bridge"},
		`{"type":{"custom":true}}`:          {"apinet"},
		`{"type":{"builtin":true}}`:         {"bridge", "host", "none"},
		`{"name":{"^ap":true}}`:             {"apinet"},
		`{"name":{"o":true}}`:               {"host", "none"},
		`{"label":{"tier=db":true}}`:        {"apinet"},
		`{"label":{"tier=web":true}}`:       {},
		`{"label":{"x":true}}`:              {"apinet"},
		`{"dangling":{"true":true}}`:        {"apinet"},
		`{"dangling":{"false":true}}`:       {"bridge", "host", "none"},
		`{"scope":{"swarm":true}}`:          {},
		`{"id":{"` + cr.ID[:6] + `":true}}`: {"apinet"},
	} {
		if got := listNames(t, ts, filters); !reflect.DeepEqual(got, want) {
			t.Errorf("list %s = %v, want %v", filters, got, want)
		}
	}
	for filters, want := range map[string]string{
		`{"type":{"x":true}}`:     `invalid filter: 'type'='x'`,
		`{"dangling":{"x":true}}`: `invalid filter 'dangling=x'`,
		`{"nosuch":{"x":true}}`:   `invalid filter 'nosuch'`,
	} {
		status, _, body := request(t, "GET", ts.URL+"/networks?"+url.Values{"filters": {filters}}.Encode(), nil)
		if status != 400 || !strings.Contains(body, want) {
			t.Errorf("list %s = %d %s", filters, status, body)
		}
	}

	status, _, body = request(t, "POST", ts.URL+"/networks/apinet/connect", strings.NewReader(`{"Container":"c1","EndpointConfig":{"Aliases":["db"]}}`))
	if status != 200 {
		t.Errorf("connect = %d %s", status, body)
	}
	status, _, body = request(t, "POST", ts.URL+"/networks/apinet/disconnect", strings.NewReader(`{"Container":"c1","Force":true}`))
	if status != 200 {
		t.Errorf("disconnect = %d %s", status, body)
	}
	if want := []string{"connect " + cr.ID + " c1 db", "disconnect " + cr.ID + " c1 force"}; !reflect.DeepEqual(att.calls, want) {
		t.Errorf("attacher calls = %q, want %q", att.calls, want)
	}
	// The host network takes no connect or disconnect (dockerd's 403).
	for _, op := range []string{"connect", "disconnect"} {
		status, _, body = request(t, "POST", ts.URL+"/networks/host/"+op, strings.NewReader(`{"Container":"c1"}`))
		if status != 403 || !strings.Contains(body, "container cannot be disconnected from host network or connected to host network") {
			t.Errorf("%s host = %d %s", op, status, body)
		}
	}
	status, _, body = request(t, "POST", ts.URL+"/networks/nosuch/connect", strings.NewReader(`{"Container":"c1"}`))
	if status != 404 || !strings.Contains(body, "network nosuch not found") {
		t.Errorf("connect nosuch = %d %s", status, body)
	}

	for _, name := range []string{"bridge", "host", "none"} {
		status, _, body := request(t, "DELETE", ts.URL+"/networks/"+name, nil)
		if status != 403 || !strings.Contains(body, name+" is a pre-defined network and cannot be removed") {
			t.Errorf("rm %s = %d %s", name, status, body)
		}
	}
	status, _, body = request(t, "DELETE", ts.URL+"/networks/nosuch", nil)
	if status != 404 || !strings.Contains(body, "network nosuch not found") {
		t.Errorf("rm nosuch = %d %s", status, body)
	}
	status, _, _ = request(t, "DELETE", ts.URL+"/networks/apinet", nil)
	if status != 204 {
		t.Errorf("rm apinet = %d", status)
	}
	if got := listNames(t, ts, ""); !reflect.DeepEqual(got, []string{"bridge", "host", "none"}) {
		t.Errorf("after rm: %v", got)
	}

	for _, name := range []string{"keep1", "gone1", "gone2"} {
		in := `{"Name":"` + name + `","Labels":{"keep":"` + map[bool]string{true: "yes", false: "no"}[strings.HasPrefix(name, "keep")] + `"}}`
		if status, _, body := request(t, "POST", ts.URL+"/networks/create", strings.NewReader(in)); status != 201 {
			t.Fatalf("create %s = %d %s", name, status, body)
		}
	}
	status, _, body = request(t, "POST", ts.URL+"/networks/prune?"+url.Values{"filters": {`{"label!":{"keep=yes":true}}`}}.Encode(), nil)
	if status != 200 || body != `{"NetworksDeleted":["gone1","gone2"]}`+"\n" {
		t.Errorf("prune = %d %s", status, body)
	}
	status, _, body = request(t, "POST", ts.URL+"/networks/prune", nil)
	if status != 200 || body != `{"NetworksDeleted":["keep1"]}`+"\n" {
		t.Errorf("prune all = %d %s", status, body)
	}

	past, sub := bus.Subscribe(events.Filter{"type": {"network": true}})
	sub.Cancel()
	var got []string
	for _, m := range past {
		got = append(got, string(m.Action)+" "+m.Actor.Attributes["name"])
		if m.Action == "create" && m.Actor.Attributes["name"] == "apinet" && (m.Actor.ID != cr.ID || m.Actor.Attributes["type"] != "bridge") {
			t.Errorf("create event = %+v", m)
		}
	}
	// "connect" is the attacher's to send (when the container is attached).
	want := []string{"create apinet", "disconnect apinet", "destroy apinet", "create keep1", "create gone1", "create gone2",
		"destroy gone1", "destroy gone2", "prune ", "destroy keep1", "prune "}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("network events = %q\nwant %q", got, want)
	}
}

func TestNetworkConnectWithoutAttacher(t *testing.T) {
	_, ts, _ := newNetworkServer(t, nil)
	for _, op := range []string{"connect", "disconnect"} {
		status, _, body := request(t, "POST", ts.URL+"/networks/bridge/"+op, strings.NewReader(`{"Container":"c1"}`))
		if status != 501 || !strings.Contains(body, "not available") {
			t.Errorf("%s = %d %s", op, status, body)
		}
	}
}

func TestFilterNetworksDangling(t *testing.T) {
	nets := []mnetwork.Inspect{
		{Network: mnetwork.Network{Name: "bridge"}},
		{Network: mnetwork.Network{Name: "used"}, Containers: map[string]mnetwork.EndpointResource{"c": {}}},
		{Network: mnetwork.Network{Name: "idle"}},
	}
	for v, want := range map[string][]string{"true": {"idle"}, "0": {"bridge", "used"}} {
		got, err := filterNetworks(nets, map[string][]string{"dangling": {v}})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, n := range got {
			names = append(names, n.Name)
		}
		if !reflect.DeepEqual(names, want) {
			t.Errorf("dangling=%s: %v, want %v", v, names, want)
		}
	}
	if _, err := filterNetworks(nets, map[string][]string{"dangling": {"true", "false"}}); err == nil {
		t.Error("two dangling values accepted")
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// TestNetworkWithEndpoint: a container attached through the manager shows
// in the network's Containers, keeps the network from rm (403, dockerd's
// text) and prune, and is not dangling.
func TestNetworkWithEndpoint(t *testing.T) {
	m, ts, _ := newNetworkServer(t, nil)
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs ip")
	}
	ns := "btans" + hex.EncodeToString([]byte(t.Name()))[:8]
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	status, _, body := request(t, "POST", ts.URL+"/networks/create", strings.NewReader(`{"Name":"epnet","IPAM":{"Config":[{"Subnet":"10.247.20.0/24"}]}}`))
	if status != 201 {
		t.Fatalf("create = %d %s", status, body)
	}
	var cr mnetwork.CreateResponse
	json.Unmarshal([]byte(body), &cr)
	cid := strings.Repeat("c", 64)
	ep, err := m.Connect(context.Background(), "epnet", cid, "/run/netns/"+ns, network.EndpointConfig{Name: "web1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Disconnect(context.Background(), "epnet", cid) })

	status, _, body = request(t, "GET", ts.URL+"/networks/epnet", nil)
	var n mnetwork.Inspect
	json.Unmarshal([]byte(body), &n)
	got, ok := n.Containers[cid]
	if status != 200 || !ok || got.Name != "web1" || got.EndpointID != ep.ID || got.IPv4Address.String() != ep.IP.String()+"/24" ||
		got.MacAddress.String() != ep.MAC {
		t.Errorf("inspect with endpoint = %d %s (endpoint %+v)", status, body, ep)
	}
	status, _, body = request(t, "DELETE", ts.URL+"/networks/epnet", nil)
	if want := "error while removing network: network epnet id " + cr.ID + " has active endpoints"; status != 403 || !strings.Contains(body, want) {
		t.Errorf("rm in use = %d %s, want 403 %q", status, body, want)
	}
	if got := listNames(t, ts, `{"dangling":{"true":true}}`); len(got) != 0 {
		t.Errorf("dangling with an endpoint: %v", got)
	}
	status, _, body = request(t, "POST", ts.URL+"/networks/prune", nil)
	if status != 200 || body != `{"NetworksDeleted":null}`+"\n" {
		t.Errorf("prune in use = %d %s", status, body)
	}
	if err := m.Disconnect(context.Background(), "epnet", cid); err != nil {
		t.Fatal(err)
	}
	if status, _, body := request(t, "DELETE", ts.URL+"/networks/epnet", nil); status != 204 {
		t.Errorf("rm after disconnect = %d %s", status, body)
	}
}
