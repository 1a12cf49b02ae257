package engine

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
	mnetwork "github.com/moby/moby/api/types/network"

	"github.com/berth/berth/internal/network"
)

func TestPortBindings(t *testing.T) {
	c := &Container{
		Config: &container.Config{ExposedPorts: mnetwork.PortSet{
			mnetwork.MustParsePort("80/tcp"): {}, mnetwork.MustParsePort("53/udp"): {}, mnetwork.MustParsePort("443/tcp"): {},
		}},
		HostConfig: &container.HostConfig{
			PortBindings: mnetwork.PortMap{
				mnetwork.MustParsePort("80/tcp"):   {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: "8080"}},
				mnetwork.MustParsePort("9000/tcp"): {{HostPort: "9000-9010"}},
			},
			PublishAllPorts: true,
		},
	}
	got, err := portBindings(c)
	if err != nil {
		t.Fatal(err)
	}
	want := []network.PortBinding{
		{HostIP: "127.0.0.1", HostPort: 8080, ContainerPort: 80, Proto: "tcp"},
		{HostPort: 9000, HostPortEnd: 9010, ContainerPort: 9000, Proto: "tcp"},
		{ContainerPort: 443, Proto: "tcp"}, // -P: ephemeral ports for the rest of EXPOSE
		{ContainerPort: 53, Proto: "udp"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("portBindings =\n%+v\nwant\n%+v", got, want)
	}
	c.HostConfig.PortBindings[mnetwork.MustParsePort("81/tcp")] = []mnetwork.PortBinding{{HostPort: "x"}}
	if _, err := portBindings(c); err == nil {
		t.Errorf("host port %q accepted", "x")
	}
}

func TestWantedNetworksPrimaryFirst(t *testing.T) {
	c := &Container{HostConfig: &container.HostConfig{NetworkMode: "default"}, Networks: map[string]*mnetwork.EndpointSettings{
		"zeta": {}, "alpha": {}, "bridge": {},
	}}
	if got, want := wantedNetworks(c), []string{"bridge", "alpha", "zeta"}; !reflect.DeepEqual(got, want) {
		t.Errorf("wantedNetworks = %v, want %v", got, want)
	}
	c.HostConfig.NetworkMode = "front"
	if got, want := wantedNetworks(c), []string{"front", "alpha", "bridge", "zeta"}; !reflect.DeepEqual(got, want) {
		t.Errorf("wantedNetworks = %v, want %v", got, want)
	}
}

func TestSecurePathStaysInRoot(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"real/dir", "etc"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{"abs": "/real", "rel": "real/dir", "up": "../../../../etc", "loop": "loop"} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	for in, want := range map[string]string{
		"/real/dir":   "real/dir",
		"/abs/dir":    "real/dir",
		"/rel":        "real/dir",
		"/up":         "etc",
		"/../../etc":  "etc",
		"/missing/x":  "missing/x",
		"/real/../up": "etc",
	} {
		got, err := securePath(root, in)
		if err != nil || got != filepath.Join(root, want) {
			t.Errorf("securePath(%q) = %q, %v; want %q", in, got, err, filepath.Join(root, want))
		}
	}
	if _, err := securePath(root, "/loop/x"); err == nil {
		t.Errorf("a symlink loop resolved")
	}
}

// A container taken off its NetworkMode's network by network disconnect
// keeps its NetworkMode (dockerd does; Compose v1 disconnects and
// reconnects right after create) and no longer joins that network.
func TestWantedNetworksPrimaryDisconnected(t *testing.T) {
	c := &Container{Config: &container.Config{}, HostConfig: &container.HostConfig{NetworkMode: "front"}, Networks: map[string]*mnetwork.EndpointSettings{"alpha": {}}}
	c.PrimaryDisconnected = true
	if got, want := wantedNetworks(c), []string{"alpha"}; !reflect.DeepEqual(got, want) {
		t.Errorf("wantedNetworks = %v, want %v", got, want)
	}
	nets, _ := networkSettings(c)
	if _, ok := nets["front"]; ok || len(nets) != 1 {
		t.Errorf("inspect Networks = %v, want only alpha", nets)
	}
	// connect again: the settings are in Networks and the flag is clear.
	c.PrimaryDisconnected = false
	c.Networks["front"] = &mnetwork.EndpointSettings{Aliases: []string{"web"}}
	if got, want := wantedNetworks(c), []string{"front", "alpha"}; !reflect.DeepEqual(got, want) {
		t.Errorf("wantedNetworks = %v, want %v", got, want)
	}
}

// Exposed ports are in NetworkSettings.Ports (and ps) only while the
// container runs on a network, as dockerd shows them.
func TestExposedPortsOnlyWhileRunningOnANetwork(t *testing.T) {
	c := &Container{
		ID:         "0123456789abcdef",
		Config:     &container.Config{ExposedPorts: mnetwork.PortSet{mnetwork.MustParsePort("80/tcp"): {}}},
		HostConfig: &container.HostConfig{NetworkMode: "front"},
	}
	if _, ports := networkSettings(c); len(ports) != 0 {
		t.Errorf("created container: Ports = %v, want none", ports)
	}
	c.State.Running = true
	c.endpoints = map[string]network.Endpoint{"front": {Name: "c", IP: netip.MustParseAddr("10.0.0.2")}}
	if _, ports := networkSettings(c); len(ports) != 1 {
		t.Errorf("running container: Ports = %v, want 80/tcp", ports)
	}
	c.HostConfig.NetworkMode = "none"
	if _, ports := networkSettings(c); len(ports) != 0 {
		t.Errorf("running with network none: Ports = %v, want none", ports)
	}
}

// legacyLinkEnv gives docker's variables of a legacy link.
func TestLegacyLinkEnv(t *testing.T) {
	ports := mnetwork.PortSet{}
	for _, p := range []string{"80/tcp", "53/udp", "8000/tcp", "8001/tcp", "8002/tcp"} {
		pp, _ := mnetwork.ParsePort(p)
		ports[pp] = struct{}{}
	}
	env := legacyLinkEnv("/web/db-1", "172.17.0.5", &container.Config{ExposedPorts: ports, Env: []string{"PATH=/bin", "HOME=/root", "PASSWORD=x"}})
	got := strings.Join(env, "\n")
	for _, want := range []string{
		"DB_1_PORT=udp://172.17.0.5:53",
		"DB_1_PORT_80_TCP=tcp://172.17.0.5:80", "DB_1_PORT_80_TCP_ADDR=172.17.0.5", "DB_1_PORT_80_TCP_PORT=80", "DB_1_PORT_80_TCP_PROTO=tcp",
		"DB_1_PORT_53_UDP=udp://172.17.0.5:53",
		"DB_1_PORT_8000_TCP_START=tcp://172.17.0.5:8000", "DB_1_PORT_8000_TCP_END=tcp://172.17.0.5:8002", "DB_1_PORT_8000_TCP_PORT_END=8002",
		"DB_1_NAME=/web/db-1", "DB_1_ENV_PASSWORD=x",
	} {
		if !strings.Contains(got, want+"\n") && !strings.HasSuffix(got, want) {
			t.Errorf("link env lacks %s:\n%s", want, got)
		}
	}
	if strings.Contains(got, "_ENV_PATH") || strings.Contains(got, "_ENV_HOME") {
		t.Errorf("PATH or HOME passed on:\n%s", got)
	}
}

func TestLinkedFirst(t *testing.T) {
	a := &Container{ID: "a", LinkIDs: map[string]string{"b": "b"}}
	b := &Container{ID: "b", LinkIDs: map[string]string{"c": "c"}}
	c := &Container{ID: "c"}
	d := &Container{ID: "d", LinkIDs: map[string]string{"x": "gone"}}
	var ids []string
	for _, x := range linkedFirst([]*Container{a, b, c, d}) {
		ids = append(ids, x.ID)
	}
	if got := strings.Join(ids, ""); got != "cdba" {
		t.Errorf("linkedFirst = %s, want c and d first, then b, then a", got)
	}
	x := &Container{ID: "x", LinkIDs: map[string]string{"y": "y"}}
	y := &Container{ID: "y", LinkIDs: map[string]string{"x": "x"}}
	if got := linkedFirst([]*Container{x, y}); len(got) != 2 {
		t.Errorf("a cycle: %d containers, want both", len(got))
	}
}
