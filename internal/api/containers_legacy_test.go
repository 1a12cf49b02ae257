package api

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
)

func TestLegacyInspect(t *testing.T) {
	var mac network.HardwareAddr
	if err := mac.UnmarshalText([]byte("02:42:0a:00:00:02")); err != nil {
		t.Fatal(err)
	}
	resp := container.InspectResponse{ID: "abc", NetworkSettings: &container.NetworkSettings{
		SandboxKey: "/run/x",
		Networks: map[string]*network.EndpointSettings{
			"bridge": {EndpointID: "ep1", IPAddress: netip.MustParseAddr("10.0.0.2"), IPPrefixLen: 24,
				Gateway: netip.MustParseAddr("10.0.0.1"), MacAddress: mac,
				GlobalIPv6Address: netip.MustParseAddr("fd00::2"), GlobalIPv6PrefixLen: 64, IPv6Gateway: netip.MustParseAddr("fd00::1")},
			"user": {EndpointID: "ep2", IPAddress: netip.MustParseAddr("10.1.0.2")},
		},
	}}
	b, err := json.Marshal(legacyInspectOf(resp))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		ID              string `json:"Id"`
		NetworkSettings map[string]any
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	ns := got.NetworkSettings
	want := map[string]any{
		"IPAddress": "10.0.0.2", "IPPrefixLen": 24.0, "Gateway": "10.0.0.1", "MacAddress": "02:42:0a:00:00:02",
		"EndpointID": "ep1", "GlobalIPv6Address": "fd00::2", "GlobalIPv6PrefixLen": 64.0, "IPv6Gateway": "fd00::1",
		"SandboxKey": "/run/x", "Bridge": "", "HairpinMode": false,
	}
	for k, v := range want {
		if ns[k] != v {
			t.Errorf("NetworkSettings.%s = %#v, want %#v", k, ns[k], v)
		}
	}
	if got.ID != "abc" || ns["Networks"] == nil || !strings.Contains(string(b), `"Ports":{}`) {
		t.Errorf("legacy inspect lost fields: %s", b)
	}

	// Not on the default bridge: the top-level fields are empty.
	delete(resp.NetworkSettings.Networks, "bridge")
	b, _ = json.Marshal(legacyInspectOf(resp))
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.NetworkSettings["IPAddress"] != "" || got.NetworkSettings["MacAddress"] != "" {
		t.Errorf("user network only: top-level IPAddress %v MacAddress %v, want empty", got.NetworkSettings["IPAddress"], got.NetworkSettings["MacAddress"])
	}
}

func TestShortIDAliasesBefore145(t *testing.T) {
	id := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	front := &network.EndpointSettings{Aliases: []string{"web"}}
	resp := container.InspectResponse{ID: id, NetworkSettings: &container.NetworkSettings{
		Networks: map[string]*network.EndpointSettings{"bridge": {}, "front": front, "back": {Aliases: []string{"0123456789ab"}}},
	}}
	addShortIDAliases(&resp)
	nets := resp.NetworkSettings.Networks
	if got := nets["front"].Aliases; len(got) != 2 || got[0] != "web" || got[1] != "0123456789ab" {
		t.Errorf("front Aliases = %v, want [web 0123456789ab]", got)
	}
	if got := nets["back"].Aliases; len(got) != 1 {
		t.Errorf("back Aliases = %v, want the short ID once", got)
	}
	if got := nets["bridge"].Aliases; len(got) != 0 {
		t.Errorf("default bridge Aliases = %v, want none", got)
	}
	if len(front.Aliases) != 1 {
		t.Errorf("the engine's endpoint settings were changed: %v", front.Aliases)
	}
}

// GET /containers/json with several label filters returns the containers
// that carry all of them, as dockerd does (Compose v1 lists a service's
// containers by project, service and one-off labels together).
func TestContainerListLabelsAllMatch(t *testing.T) {
	f, err := parseListFilters(`{"label":["com.docker.compose.project=proj","com.docker.compose.service=client"]}`)
	if err != nil {
		t.Fatal(err)
	}
	web := container.Summary{ID: "w", Labels: map[string]string{"com.docker.compose.project": "proj", "com.docker.compose.service": "web"}}
	client := container.Summary{ID: "c", Labels: map[string]string{"com.docker.compose.project": "proj", "com.docker.compose.service": "client"}}
	s := &Server{}
	for _, tc := range []struct {
		c    container.Summary
		want bool
	}{{web, false}, {client, true}} {
		got, err := s.matchContainer(f, tc.c, nil)
		if err != nil || got != tc.want {
			t.Errorf("container %s: match = %v, %v; want %v", tc.c.ID, got, err, tc.want)
		}
	}
}
