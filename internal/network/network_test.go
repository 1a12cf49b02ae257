package network

import (
	"context"
	"net"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/miekg/dns"
)

func TestCreateListRemove(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	cfg := newTestConfig(t)
	m := newTestManager(t, cfg)

	def, err := m.Get(ctx, DefaultNetworkName)
	if err != nil {
		t.Fatalf("default network: %v", err)
	}
	if def.Bridge != cfg.DefaultBridge || def.Gateway.String() != "10.246.0.1" || def.Subnet.String() != "10.246.0.0/24" {
		t.Fatalf("default network = %+v, want bridge %s gateway 10.246.0.1 subnet 10.246.0.0/24", def, cfg.DefaultBridge)
	}
	out, _ := exec.Command("ip", "-4", "addr", "show", cfg.DefaultBridge).CombinedOutput()
	if !strings.Contains(string(out), "10.246.0.1/24") {
		t.Fatalf("ip addr show %s: want 10.246.0.1/24:\n%s", cfg.DefaultBridge, out)
	}

	n, err := m.Create(ctx, NetworkConfig{
		Name: "front", Subnet: netip.MustParsePrefix("10.246.10.0/24"), Gateway: netip.MustParseAddr("10.246.10.254"),
		IPRange: netip.MustParsePrefix("10.246.10.128/25"), Labels: map[string]string{"a": "b"},
		Options: map[string]string{"com.docker.network.bridge.name": "bt" + strings.ToLower(cfg.ChainPrefix[2:]) + "f"},
		Aux:     map[string]netip.Addr{"router": netip.MustParseAddr("10.246.10.128")}, // reserved: never given out
	})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if !linkExists(n.Bridge) {
		t.Fatalf("bridge %s of network front missing", n.Bridge)
	}
	if _, err := m.Create(ctx, NetworkConfig{Name: "front"}); !errdefs.IsConflict(err) {
		t.Fatalf("Create with a used name: err = %v, want conflict", err)
	}
	if _, err := m.Create(ctx, NetworkConfig{Name: "other", Subnet: netip.MustParsePrefix("10.246.10.0/25")}); !errdefs.IsPermissionDenied(err) || !strings.Contains(err.Error(), "Pool overlaps with other one on this address space") {
		t.Fatalf("Create with an overlapping subnet: err = %v, want dockerd's 403", err)
	}
	if _, err := m.Create(ctx, NetworkConfig{Name: "bad", Subnet: netip.MustParsePrefix("10.246.11.0/24"), Gateway: netip.MustParseAddr("10.246.12.1")}); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("Create with a gateway outside the subnet: err = %v, want invalid argument", err)
	}
	if got, err := m.Get(ctx, n.ID[:8]); err != nil || got.Name != "front" || got.Labels["a"] != "b" {
		t.Fatalf("Get by ID prefix = %+v, %v", got, err)
	}
	names := []string{}
	for _, n := range m.List(ctx) {
		names = append(names, n.Name)
	}
	if strings.Join(names, ",") != "bridge,front" {
		t.Fatalf("List = %v, want [bridge front]", names)
	}
	ns := newNetns(t)
	ep, err := m.Connect(ctx, "front", "c1", ns, EndpointConfig{Name: "one"})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	if len(ep.ID) != 64 {
		t.Fatalf("endpoint id %q, want 64 hex digits", ep.ID)
	}
	if ep.IP.String() != "10.246.10.129" || ep.Gateway.String() != "10.246.10.254" || ep.Prefix != 24 || ep.MAC != "02:42:0a:f6:0a:81" {
		t.Fatalf("endpoint = %+v, want 10.246.10.129/24 (past the aux address) via 10.246.10.254, mac 02:42:0a:f6:0a:81", ep)
	}
	if _, err := m.Connect(ctx, "front", "c2", newNetns(t), EndpointConfig{Name: "two", IP: netip.MustParseAddr("10.246.10.128")}); !errdefs.IsConflict(err) {
		t.Fatalf("Connect with the aux address as --ip: err = %v, want conflict", err)
	}
	if _, err := m.Create(ctx, NetworkConfig{Name: "auxout", Subnet: netip.MustParsePrefix("10.246.13.0/24"), Aux: map[string]netip.Addr{"x": netip.MustParseAddr("10.246.14.1")}}); !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), "no matching subnet for aux-address 10.246.14.1") {
		t.Fatalf("Create with an aux address outside the subnet: err = %v", err)
	}
	if err := m.Remove(ctx, "front"); !errdefs.IsConflict(err) {
		t.Fatalf("Remove with an endpoint: err = %v, want conflict", err)
	}
	if err := m.Remove(ctx, DefaultNetworkName); err == nil {
		t.Fatal("Remove of the default network succeeded")
	}
	if err := m.Disconnect(ctx, "front", "c1"); err != nil {
		t.Fatalf("Disconnect: %v", err)
	}
	if linkExists(ep.HostVeth) {
		t.Fatalf("veth %s still there after Disconnect", ep.HostVeth)
	}
	pruned, err := m.Prune(ctx, nil)
	if err != nil || strings.Join(pruned, ",") != "front" {
		t.Fatalf("Prune = %v, %v; want [front]", pruned, err)
	}
	if linkExists(n.Bridge) {
		t.Fatalf("bridge %s still there after prune", n.Bridge)
	}
	if rules := strings.TrimSpace(iptablesSave(t, "berth:"+n.ID)); rules != "" {
		t.Fatalf("rules of the pruned network left:\n%s", rules)
	}
	if _, err := m.Get(ctx, "front"); !errdefs.IsNotFound(err) {
		t.Fatalf("Get after prune: err = %v, want not found", err)
	}
}

func TestReachabilityAndIsolation(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	cfg := newTestConfig(t)
	m := newTestManager(t, cfg)
	a, err := m.Create(ctx, NetworkConfig{Name: "a", Subnet: netip.MustParsePrefix("10.246.21.0/24")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Create(ctx, NetworkConfig{Name: "b", Subnet: netip.MustParsePrefix("10.246.22.0/24")}); err != nil {
		t.Fatal(err)
	}
	ns1, ns2, ns3 := newNetns(t), newNetns(t), newNetns(t)
	ep1, err := m.Connect(ctx, "a", "c1", ns1, EndpointConfig{Name: "one"})
	if err != nil {
		t.Fatal(err)
	}
	ep2, err := m.Connect(ctx, "a", "c2", ns2, EndpointConfig{Name: "two", IP: netip.MustParseAddr("10.246.21.50")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Connect(ctx, "b", "c3", ns3, EndpointConfig{Name: "three"}); err != nil {
		t.Fatal(err)
	}
	if ep1.IP.String() != "10.246.21.2" || ep2.IP.String() != "10.246.21.50" {
		t.Fatalf("addresses %s, %s; want 10.246.21.2 and the requested 10.246.21.50", ep1.IP, ep2.IP)
	}
	if _, err := m.Connect(ctx, "a", "c4", newNetns(t), EndpointConfig{IP: netip.MustParseAddr("10.246.21.50")}); !errdefs.IsConflict(err) {
		t.Fatalf("Connect with a held address: err = %v, want conflict", err)
	}
	out, _ := exec.Command("ip", "-n", nsName(ns1), "-4", "addr", "show", "eth0").CombinedOutput()
	if !strings.Contains(string(out), "10.246.21.2/24") {
		t.Fatalf("eth0 in the first namespace: want 10.246.21.2/24:\n%s", out)
	}
	out, _ = exec.Command("ip", "-n", nsName(ns1), "route").CombinedOutput()
	if !strings.Contains(string(out), "default via "+a.Gateway.String()+" dev eth0") {
		t.Fatalf("routes in the first namespace: want default via %s:\n%s", a.Gateway, out)
	}

	// Outbound masquerade is configured (never exercised here) for the
	// networks, not for the internal one of another test.
	rules := iptablesSave(t, cfg.ChainPrefix)
	for _, sub := range []string{"10.246.21.0/24", "10.246.22.0/24"} {
		if line := grepLines(rules, "-s "+sub+" ! -o "); !strings.Contains(line, "-j MASQUERADE") {
			t.Errorf("no masquerade rule for %s:\n%s", sub, rules)
		}
	}

	serveHello(t, ns1, ":8080", "one")
	if got, err := dialHello(ns2, "10.246.21.2:8080"); err != nil || got != "hello from one" {
		t.Fatalf("same network: dial = %q, %v; want hello from one", got, err)
	}
	if out, err := exec.Command("ip", "netns", "exec", nsName(ns2), "busybox", "ping", "-c", "1", "-W", "2", "10.246.21.2").CombinedOutput(); err != nil {
		t.Fatalf("ping on the same network: %v: %s", err, out)
	}
	if got, err := dialHello(ns3, "10.246.21.2:8080"); err == nil {
		t.Fatalf("another network reached the first: %q", got)
	}
	if out, err := exec.Command("ip", "netns", "exec", nsName(ns3), "busybox", "ping", "-c", "1", "-W", "1", "10.246.21.2").CombinedOutput(); err == nil {
		t.Fatalf("ping across networks succeeded: %s", out)
	}
}

func TestInternalNetworkHasNoRouteOut(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	cfg := newTestConfig(t)
	m := newTestManager(t, cfg)
	if _, err := m.Create(ctx, NetworkConfig{Name: "in", Internal: true, Subnet: netip.MustParsePrefix("10.246.31.0/24")}); err != nil {
		t.Fatal(err)
	}
	ns := newNetns(t)
	ep, err := m.Connect(ctx, "in", "c1", ns, EndpointConfig{Name: "one"})
	if err != nil {
		t.Fatal(err)
	}
	if ep.Gateway.IsValid() {
		t.Fatalf("internal endpoint has gateway %s", ep.Gateway)
	}
	if rules := iptablesSave(t, cfg.ChainPrefix); strings.Contains(rules, "-s 10.246.31.0/24 ! -o") {
		t.Fatalf("internal network is masqueraded:\n%s", rules)
	}
	out, _ := exec.Command("ip", "-n", nsName(ns), "route").CombinedOutput()
	if strings.Contains(string(out), "default") {
		t.Fatalf("internal network has a default route:\n%s", out)
	}
	out, err = exec.Command("ip", "netns", "exec", nsName(ns), "busybox", "ping", "-c", "1", "-W", "1", "10.246.0.1").CombinedOutput()
	if err == nil {
		t.Fatalf("internal network reached the default bridge's gateway: %s", out)
	}
}

func TestEmbeddedDNS(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	m := newTestManager(t, newTestConfig(t))
	for i, name := range []string{"a", "b"} {
		if _, err := m.Create(ctx, NetworkConfig{Name: name, Subnet: netip.MustParsePrefix("10.246.4" + strconv.Itoa(i) + ".0/24")}); err != nil {
			t.Fatal(err)
		}
	}
	ns1, ns2, ns3 := newNetns(t), newNetns(t), newNetns(t)
	ep1, err := m.Connect(ctx, "a", "c1aaaaaaaaaaaaaaaa", ns1, EndpointConfig{Name: "web", Aliases: []string{"api"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Connect(ctx, "a", "c2", ns2, EndpointConfig{Name: "client"}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Connect(ctx, "b", "c3", ns3, EndpointConfig{Name: "other"}); err != nil {
		t.Fatal(err)
	}
	// A container without a name gives the root name no address.
	if _, err := m.Connect(ctx, "a", "c4", newNetns(t), EndpointConfig{}); err != nil {
		t.Fatal(err)
	}
	want := ep1.IP.String()
	for _, tc := range []struct {
		ns, proto, name string
		rcode           int
		ip              string
	}{
		{ns2, "udp", "web", dns.RcodeSuccess, want},
		{ns2, "tcp", "web", dns.RcodeSuccess, want},
		{ns2, "udp", "API", dns.RcodeSuccess, want},
		{ns2, "udp", "web.a", dns.RcodeSuccess, want},
		{ns2, "udp", "c1aaaaaaaaaa", dns.RcodeSuccess, want},
		{ns1, "udp", "web", dns.RcodeSuccess, want},
		{ns2, "udp", "other", dns.RcodeNameError, ""},
		{ns3, "udp", "web", dns.RcodeNameError, ""},
		{ns3, "tcp", "api", dns.RcodeNameError, ""},
		{ns2, "udp", "upstream.test", dns.RcodeSuccess, "127.0.0.77"},
		{ns2, "udp", ".", dns.RcodeNameError, ""},
		{ns2, "tcp", "upstream.test", dns.RcodeSuccess, "127.0.0.77"},
	} {
		rcode, ips := query(t, tc.ns, tc.proto, tc.name)
		if rcode != tc.rcode || strings.Join(ips, ",") != tc.ip {
			t.Errorf("from %s over %s: %s = %s %v; want %s [%s]", nsName(tc.ns), tc.proto, tc.name, dns.RcodeToString[rcode], ips, dns.RcodeToString[tc.rcode], tc.ip)
		}
	}
	// Reverse lookups of addresses on the same network.
	if rcode, names := queryType(t, ns2, "udp", reverseName(ep1.IP), dns.TypePTR); rcode != dns.RcodeSuccess || strings.Join(names, ",") != "web.a." {
		t.Errorf("PTR %s = %s %v, want web.a.", ep1.IP, dns.RcodeToString[rcode], names)
	}
	// A container's own forwarders (--dns) replace the default ones.
	if err := m.SetForwarders(ctx, "c2", []string{"127.0.0.1:1"}); err != nil {
		t.Fatal(err)
	}
	if rcode, _ := query(t, ns2, "udp", "upstream.test"); rcode != dns.RcodeServerFailure {
		t.Errorf("with a dead forwarder: upstream.test = %s, want SERVFAIL", dns.RcodeToString[rcode])
	}
	if rcode, ips := query(t, ns2, "udp", "web"); rcode != dns.RcodeSuccess || len(ips) != 1 {
		t.Errorf("with a dead forwarder: web = %s %v; container names need no forwarder", dns.RcodeToString[rcode], ips)
	}
	if err := m.SetForwarders(ctx, "c2", nil); err != nil {
		t.Fatal(err)
	}
	if err := m.SetForwarders(ctx, "c2", []string{"dns.example"}); err == nil {
		t.Error("SetForwarders accepted a name instead of an address")
	}
	// busybox's resolver, as a program in a container would use it.
	out, err := exec.Command("ip", "netns", "exec", nsName(ns2), "busybox", "nslookup", "web", "127.0.0.11").CombinedOutput()
	if err != nil || !strings.Contains(string(out), want) {
		t.Errorf("busybox nslookup web: %v:\n%s", err, out)
	}

	if err := m.Rename(ctx, "c1aaaaaaaaaaaaaaaa", "/web2"); err != nil {
		t.Fatal(err)
	}
	if rcode, ips := query(t, ns2, "udp", "web2"); rcode != dns.RcodeSuccess || len(ips) != 1 || ips[0] != want {
		t.Errorf("after rename: web2 = %s %v, want %s", dns.RcodeToString[rcode], ips, want)
	}
	if rcode, _ := query(t, ns2, "udp", "web"); rcode != dns.RcodeNameError {
		t.Errorf("after rename: web = %s, want NXDOMAIN", dns.RcodeToString[rcode])
	}
	// Connecting the third container to network a makes the names visible to it.
	if _, err := m.Connect(ctx, "a", "c3", ns3, EndpointConfig{Name: "other"}); err != nil {
		t.Fatal(err)
	}
	if rcode, ips := query(t, ns3, "udp", "web2"); rcode != dns.RcodeSuccess || len(ips) != 1 {
		t.Errorf("after connect: web2 from the third = %s %v", dns.RcodeToString[rcode], ips)
	}
	// A name on two of the asker's networks: the address on the first it
	// joined (c3: b, then a), as dockerd's resolver answers.
	ep2b, err := m.Connect(ctx, "b", "c2", ns2, EndpointConfig{Name: "client"})
	if err != nil {
		t.Fatal(err)
	}
	if rcode, ips := query(t, ns3, "udp", "client"); rcode != dns.RcodeSuccess || strings.Join(ips, ",") != ep2b.IP.String() {
		t.Errorf("client (on a and b) from c3 (b first) = %s %v, want only %s", dns.RcodeToString[rcode], ips, ep2b.IP)
	}
	if err := m.Disconnect(ctx, "b", "c2"); err != nil {
		t.Fatal(err)
	}
	if err := m.Disconnect(ctx, "a", "c1aaaaaaaaaaaaaaaa"); err != nil {
		t.Fatal(err)
	}
	if rcode, _ := query(t, ns2, "udp", "web2"); rcode != dns.RcodeNameError {
		t.Errorf("after disconnect: web2 = %s, want NXDOMAIN", dns.RcodeToString[rcode])
	}
	// The disconnected container has no user network left: its DNS is gone.
	var c net.Conn
	inNetns(ns1, func() (err error) { c, err = net.Dial("tcp4", "127.0.0.11:53"); return err })
	if c != nil {
		c.Close()
		t.Error("embedded dns still listens in a container on no user network")
	}
}

// TestConnectFailureLeavesNothing: a connect that fails releases its
// address and leaves no veth.
func TestConnectFailureLeavesNothing(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	m := newTestManager(t, newTestConfig(t))
	if _, err := m.Create(ctx, NetworkConfig{Name: "a", Subnet: netip.MustParsePrefix("10.246.81.0/24")}); err != nil {
		t.Fatal(err)
	}
	_, err := m.Connect(ctx, "a", "c1", "/run/netns/bt-does-not-exist", EndpointConfig{Name: "one", IP: netip.MustParseAddr("10.246.81.9")})
	if err == nil || !strings.Contains(err.Error(), "/run/netns/bt-does-not-exist") {
		t.Fatalf("connect to a missing namespace: err = %v, want an error naming it", err)
	}
	if linkExists(vethName(mustGet(t, m, "a").ID, "c1")) {
		t.Fatal("veth left after a failed connect")
	}
	if eps, _ := m.Endpoints(ctx, "a"); len(eps) != 0 {
		t.Fatalf("endpoints after a failed connect: %+v", eps)
	}
	ep, err := m.Connect(ctx, "a", "c2", newNetns(t), EndpointConfig{Name: "two", IP: netip.MustParseAddr("10.246.81.9")})
	if err != nil || ep.IP.String() != "10.246.81.9" {
		t.Fatalf("the address of a failed connect is not free again: %+v, %v", ep, err)
	}
}

// TestConcurrentConnects: connects racing on one network get distinct
// addresses.
func TestConcurrentConnects(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	m := newTestManager(t, newTestConfig(t))
	if _, err := m.Create(ctx, NetworkConfig{Name: "a", Subnet: netip.MustParsePrefix("10.246.91.0/24")}); err != nil {
		t.Fatal(err)
	}
	const n = 8
	paths := make([]string, n)
	for i := range paths {
		paths[i] = newNetns(t)
	}
	ips := make([]string, n)
	errs := make(chan error, n)
	for i := range n {
		go func() {
			ep, err := m.Connect(ctx, "a", "c"+strconv.Itoa(i), paths[i], EndpointConfig{Name: "c" + strconv.Itoa(i)})
			if err == nil {
				ips[i] = ep.IP.String()
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	for _, ip := range ips {
		if seen[ip] {
			t.Fatalf("address %s handed out twice: %v", ip, ips)
		}
		seen[ip] = true
	}
}
