package networkapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"
)

// apiGet sends GET path to d's socket and returns the response; the
// caller closes its body.
func (d *daemon) apiGet(t *testing.T, path string) *http.Response {
	t.Helper()
	sock := d.Sock
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://berth"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("GET %s: %s: %s", path, resp.Status, b)
	}
	return resp
}

// TestInspectTopLevelIPAddress: `docker inspect -f
// '{{.NetworkSettings.IPAddress}}'` (and IPPrefixLen, Gateway, MacAddress,
// EndpointID) of a container on the default bridge prints its address on
// that bridge, as dockerd does for the API versions the docker CLI 28
// speaks (before 1.52); empty for a container on another network; API
// 1.52 and later no longer have the fields.
func TestInspectTopLevelIPAddress(t *testing.T) {
	d := newDaemon(t)
	d.withBusybox(t)
	d.docker(t, "run", "-d", "--name", "top1", "busybox", "sleep", "300")
	const top = "{{.NetworkSettings.IPAddress}}|{{.NetworkSettings.IPPrefixLen}}|{{.NetworkSettings.Gateway}}|{{.NetworkSettings.MacAddress}}|{{.NetworkSettings.EndpointID}}"
	const ep = "{{.NetworkSettings.Networks.bridge.IPAddress}}|{{.NetworkSettings.Networks.bridge.IPPrefixLen}}|{{.NetworkSettings.Networks.bridge.Gateway}}|{{.NetworkSettings.Networks.bridge.MacAddress}}|{{.NetworkSettings.Networks.bridge.EndpointID}}"
	got := strings.TrimSpace(d.docker(t, "inspect", "-f", top, "top1"))
	want := strings.TrimSpace(d.docker(t, "inspect", "-f", ep, "top1"))
	if got != want {
		t.Errorf("top-level NetworkSettings %q, want the bridge endpoint's %q", got, want)
	}
	f := strings.Split(got, "|")
	if len(f) != 5 {
		t.Fatalf("inspect printed %q", got)
	}
	ip, err := netip.ParseAddr(f[0])
	if err != nil || !netip.MustParsePrefix(d.bip).Masked().Contains(ip) {
		t.Errorf("NetworkSettings.IPAddress = %q, want an address of %s", f[0], d.bip)
	}
	if f[1] != "24" || f[2] != strings.Split(d.bip, "/")[0] || !strings.HasPrefix(f[3], "02:42:") || len(f[4]) != 64 {
		t.Errorf("IPPrefixLen|Gateway|MacAddress|EndpointID = %q, want 24|%s|02:42:...|<64 hex>", strings.Join(f[1:], "|"), strings.Split(d.bip, "/")[0])
	}
	if inside := d.docker(t, "exec", "top1", "ip", "-4", "-o", "addr", "show", "eth0"); !strings.Contains(inside, " "+f[0]+"/24 ") {
		t.Errorf("eth0 in the container: %s; want %s/24", inside, f[0])
	}

	// On a user-defined network only: empty, as dockerd.
	d.docker(t, "network", "create", "topnet")
	d.docker(t, "run", "-d", "--name", "top2", "--network", "topnet", "busybox", "sleep", "300")
	if out := d.docker(t, "inspect", "-f", "[{{.NetworkSettings.IPAddress}}]", "top2"); strings.TrimSpace(out) != "[]" {
		t.Errorf("user network: NetworkSettings.IPAddress = %s, want empty", out)
	}

	// The wire: before 1.52 the fields are there, from 1.52 on they are not.
	for _, c := range []struct {
		version string
		has     bool
	}{{"1.41", true}, {"1.51", true}, {"1.52", false}, {"1.56", false}} {
		resp := d.apiGet(t, "/v"+c.version+"/containers/top1/json")
		var body struct{ NetworkSettings map[string]json.RawMessage }
		err := json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		raw, has := body.NetworkSettings["IPAddress"]
		if has != c.has || (has && string(raw) != `"`+f[0]+`"`) {
			t.Errorf("API %s: NetworkSettings.IPAddress = %s (present %v), want present %v", c.version, raw, has, c.has)
		}
	}
}

// TestStatsNetIO: after traffic `docker stats` shows NET I/O other than
// 0B / 0B, and the stats endpoint (one-shot and streaming) reports eth0's
// counters, without lo.
func TestStatsNetIO(t *testing.T) {
	d := newDaemon(t)
	d.withBusybox(t)
	d.docker(t, "run", "-d", "--name", "st1", "busybox", "sleep", "300")
	d.docker(t, "run", "-d", "--name", "st2", "busybox", "sleep", "300")
	peer := strings.TrimSpace(d.docker(t, "inspect", "-f", "{{.NetworkSettings.Networks.bridge.IPAddress}}", "st2"))
	d.docker(t, "exec", "st1", "ping", "-c", "5", "-s", "1000", "-W", "2", peer)

	netIO := regexp.MustCompile(`^([0-9.]+)([kMG]?B) / ([0-9.]+)([kMG]?B)$`)
	for _, bin := range []string{dockerCLI, env.berth} {
		r := run(t, d, bin, "", "stats", "--no-stream", "--format", "{{.NetIO}}", "st1")
		out := strings.TrimSpace(r.stdout)
		m := netIO.FindStringSubmatch(out)
		if r.code != 0 || m == nil || m[1] == "0" || m[3] == "0" || m[2] == "B" || m[4] == "B" {
			t.Errorf("%s stats NET I/O = %q (%s), want kilobytes both ways after 5 pings of 1000 bytes", bin, out, r)
		}
	}

	type sample struct {
		Networks map[string]struct {
			RxBytes   uint64 `json:"rx_bytes"`
			TxBytes   uint64 `json:"tx_bytes"`
			RxPackets uint64 `json:"rx_packets"`
			TxPackets uint64 `json:"tx_packets"`
		} `json:"networks"`
	}
	check := func(what string, s sample) {
		t.Helper()
		if _, ok := s.Networks["lo"]; ok {
			t.Errorf("%s: networks has lo: %+v", what, s.Networks)
		}
		eth0, ok := s.Networks["eth0"]
		if !ok || len(s.Networks) != 1 || eth0.RxBytes < 5000 || eth0.TxBytes < 5000 || eth0.RxPackets < 5 || eth0.TxPackets < 5 {
			t.Errorf("%s: networks = %+v, want eth0 only with at least 5 packets and 5000 bytes each way", what, s.Networks)
		}
	}
	resp := d.apiGet(t, "/v1.50/containers/st1/stats?stream=0&one-shot=1")
	var one sample
	err := json.NewDecoder(resp.Body).Decode(&one)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	check("one-shot", one)
	resp = d.apiGet(t, "/v1.50/containers/st1/stats?stream=1")
	dec := json.NewDecoder(resp.Body)
	for i := 0; i < 2; i++ {
		var s sample
		if err := dec.Decode(&s); err != nil {
			t.Fatalf("stream sample %d: %v", i, err)
		}
		check(fmt.Sprintf("stream sample %d", i), s)
	}
	resp.Body.Close()

	// Host network: dockerd reports no interfaces.
	d.docker(t, "run", "-d", "--name", "st3", "--network", "host", "busybox", "sleep", "300")
	resp = d.apiGet(t, "/v1.50/containers/st3/stats?stream=0&one-shot=1")
	var host sample
	err = json.NewDecoder(resp.Body).Decode(&host)
	resp.Body.Close()
	if err != nil || len(host.Networks) != 0 {
		t.Errorf("host network stats: %+v (%v), want no networks", host.Networks, err)
	}
}

// newBridgeNoneDaemon starts a berth daemon with --bridge none (its own
// chain prefix for the user networks it makes).
func newBridgeNoneDaemon(t *testing.T) *daemon {
	t.Helper()
	return startNetDaemon(t, "none")
}

// TestBridgeNone is dockerd --bridge=none: the network API is there
// (host and none listed, user networks work), a container asking for the
// default network runs with loopback only, and published ports that
// nothing publishes are warned about.
func TestBridgeNone(t *testing.T) {
	d := newBridgeNoneDaemon(t)
	d.withBusybox(t)
	if out := d.docker(t, "network", "ls", "--format", "{{.Name}} {{.Driver}} {{.Scope}}"); out != "host host local\nnone null local\n" {
		t.Errorf("docker network ls:\n%s\nwant host and none only", out)
	}
	if r := run(t, d, env.berth, "", "network", "ls"); r.code != 0 || !strings.Contains(r.stdout, "host") || !strings.Contains(r.stdout, "none") || strings.Contains(r.stdout, "bridge") {
		t.Errorf("berth network ls: %s", r)
	}
	if out := d.docker(t, "run", "--rm", "busybox", "ip", "-o", "link"); strings.Count(strings.TrimSpace(out), "\n") != 0 || !strings.Contains(out, "lo:") {
		t.Errorf("default network with --bridge none: links\n%s\nwant lo only", out)
	}
	for _, c := range []struct {
		args []string
		warn string
	}{
		{[]string{"-p", "127.0.0.1::80"}, "WARNING: Published ports are discarded: the default bridge network is disabled"},
		{[]string{"--network", "none", "-p", "127.0.0.1::80"}, "WARNING: Published ports are discarded when using network mode none"},
		{[]string{"--network", "host", "-p", "127.0.0.1::80"}, "WARNING: Published ports are discarded when using host network mode"},
	} {
		r := run(t, d, dockerCLI, "", append(append([]string{"run", "--rm"}, c.args...), "busybox", "true")...)
		if r.code != 0 || !strings.Contains(r.stderr, c.warn) {
			t.Errorf("docker run %v: %s\nwant exit 0 and %q", c.args, r, c.warn)
		}
	}

	d.docker(t, "network", "create", "nonet1")
	out := d.docker(t, "run", "--rm", "--network", "nonet1", "busybox", "ip", "-4", "-o", "addr", "show", "eth0")
	if !strings.Contains(out, " 10.213.") {
		t.Errorf("user network with --bridge none: eth0 %q, want an address of %s", out, d.pool)
	}
	if out := d.docker(t, "network", "ls", "--format", "{{.Name}}"); out != "host\nnone\nnonet1\n" {
		t.Errorf("docker network ls after create:\n%s", out)
	}
	// A default-network container joins a user network when connected.
	d.docker(t, "run", "-d", "--name", "nb1", "busybox", "sleep", "300")
	d.docker(t, "network", "connect", "nonet1", "nb1")
	if out := d.docker(t, "exec", "nb1", "ip", "-4", "-o", "addr", "show"); !strings.Contains(out, " 10.213.") {
		t.Errorf("after network connect: %s", out)
	}
	d.docker(t, "rm", "-f", "nb1")
	d.docker(t, "network", "rm", "nonet1")
}
