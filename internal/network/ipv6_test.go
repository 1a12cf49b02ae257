package network

import (
	"context"
	"net"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/miekg/dns"
)

func TestIPv6Network(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	cfg := newTestConfig(t)
	m := newTestManager(t, cfg)
	n, err := m.Create(ctx, NetworkConfig{Name: "six", IPv6: true, Subnet: netip.MustParsePrefix("10.246.111.0/24"), Subnet6: netip.MustParsePrefix("fd00:b7:1::/64")})
	if err != nil {
		t.Fatal(err)
	}
	if n.Gateway6.String() != "fd00:b7:1::1" {
		t.Fatalf("gateway6 = %s, want fd00:b7:1::1", n.Gateway6)
	}
	auto, err := m.Create(ctx, NetworkConfig{Name: "auto6", IPv6: true, Subnet: netip.MustParsePrefix("10.246.112.0/24")})
	if err != nil {
		t.Fatal(err)
	}
	if b := auto.Subnet6.Addr().As16(); b[0] != 0xfd || auto.Subnet6.Bits() != 64 {
		t.Fatalf("automatic IPv6 subnet %s, want a unique local /64", auto.Subnet6)
	}
	if _, err := m.Create(ctx, NetworkConfig{Name: "clash", IPv6: true, Subnet6: netip.MustParsePrefix("fd00:b7:1::/80")}); !errdefs.IsPermissionDenied(err) {
		t.Fatalf("overlapping IPv6 subnet: err = %v, want dockerd's 403", err)
	}
	ns1, ns2 := newNetns(t), newNetns(t)
	ep1, err := m.Connect(ctx, "six", "c1", ns1, EndpointConfig{Name: "one"})
	if err != nil {
		t.Fatal(err)
	}
	ep2, err := m.Connect(ctx, "six", "c2", ns2, EndpointConfig{Name: "two", IPv6: netip.MustParseAddr("fd00:b7:1::99")})
	if err != nil {
		t.Fatal(err)
	}
	if ep1.IPv6.String() != "fd00:b7:1::2" || ep1.Prefix6 != 64 || ep1.Gateway6 != n.Gateway6 || ep2.IPv6.String() != "fd00:b7:1::99" {
		t.Fatalf("endpoints %+v, %+v; want fd00:b7:1::2/64 and the requested fd00:b7:1::99", ep1, ep2)
	}
	out, _ := exec.Command("ip", "-n", nsName(ns1), "-6", "route").CombinedOutput()
	if !strings.Contains(string(out), "default via fd00:b7:1::1") {
		t.Fatalf("IPv6 routes in the namespace: want default via fd00:b7:1::1:\n%s", out)
	}
	if rules := iptablesSave(t, cfg.ChainPrefix); !strings.Contains(rules, "-A "+cfg.ChainPrefix+"-IN -i "+n.Bridge+" -o "+n.Bridge) {
		t.Fatalf("no ip6tables rules for the network:\n%s", rules)
	}
	serveHello(t, ns1, "[::]:8080", "one")
	if s, err := dialHelloNet(ns2, "tcp6", "[fd00:b7:1::2]:8080"); err != nil || s != "hello from one" {
		t.Fatalf("over IPv6 on the same network: %q, %v", s, err)
	}
	rcode, ips := queryType(t, ns2, "udp", "one", dns.TypeAAAA)
	if rcode != dns.RcodeSuccess || strings.Join(ips, ",") != "fd00:b7:1::2" {
		t.Fatalf("AAAA one = %s %v, want fd00:b7:1::2", dns.RcodeToString[rcode], ips)
	}
	if rcode, ips := query(t, ns2, "udp", "one"); rcode != dns.RcodeSuccess || strings.Join(ips, ",") != ep1.IP.String() {
		t.Fatalf("A one = %s %v, want %s", dns.RcodeToString[rcode], ips, ep1.IP)
	}
	if _, err := m.Connect(ctx, DefaultNetworkName, "c3", newNetns(t), EndpointConfig{IPv6: netip.MustParseAddr("fd00::5")}); err == nil {
		t.Fatal("an IPv6 address was accepted on a network without IPv6")
	}
}

// TestIPv6PublishedPorts: on an IPv6 network a port published on all
// addresses is reachable over IPv4 (127.0.0.1) and IPv6: at the host's
// IPv6 addresses through ip6tables DNAT (the gateway's, from the host and
// from another container), and at [::1] through the holding socket; a
// port published on [::1] only is not reachable over IPv4. Unpublish
// removes the ip6tables rules and frees the port on both families.
func TestIPv6PublishedPorts(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	cfg := newTestConfig(t)
	m := newTestManager(t, cfg)
	if _, err := m.Create(ctx, NetworkConfig{Name: "six", IPv6: true, Subnet: netip.MustParsePrefix("10.246.113.0/24"), Subnet6: netip.MustParsePrefix("fd00:b7:113::/64")}); err != nil {
		t.Fatal(err)
	}
	ns1, ns2 := newNetns(t), newNetns(t)
	ep1, err := m.Connect(ctx, "six", "c1", ns1, EndpointConfig{Name: "web"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Disconnect(ctx, "six", "c1") })
	if _, err := m.Connect(ctx, "six", "c2", ns2, EndpointConfig{Name: "client"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Disconnect(ctx, "six", "c2") })
	serveHello(t, ns1, "[::]:80", "web")

	hp, hpLo := freePort(t), freePort(t)
	got, err := m.PublishPorts(ctx, "c1", ep1.IP, []PortBinding{
		{HostPort: hp, ContainerPort: 80},
		{HostIP: "::1", HostPort: hpLo, ContainerPort: 80},
	})
	if err != nil {
		t.Fatalf("PublishPorts: %v", err)
	}
	if len(got) != 2 || got[1].HostIP != "::1" {
		t.Fatalf("PublishPorts = %+v", got)
	}
	t.Cleanup(func() { m.UnpublishPorts(ctx, "c1") })
	shown := m.Ports(ctx, "c1")
	if len(shown) != 3 || shown[0].HostIP != "" || shown[1].HostIP != "::" || shown[1].HostPort != hp || shown[2].HostIP != "::1" {
		t.Fatalf("Ports = %+v, want %d on 0.0.0.0 and ::, %d on ::1", shown, hp, hpLo)
	}
	p := strconv.Itoa(hp)
	for _, c := range []struct{ ns, network, addr string }{
		{"", "tcp4", "127.0.0.1:" + p},
		{"", "tcp6", "[::1]:" + p},
		{"", "tcp6", "[fd00:b7:113::1]:" + p},
		{ns2, "tcp6", "[fd00:b7:113::1]:" + p},
		{ns1, "tcp6", "[fd00:b7:113::1]:" + p},
		{"", "tcp6", "[::1]:" + strconv.Itoa(hpLo)},
	} {
		if s, err := dialHelloNet(c.ns, c.network, c.addr); err != nil || s != "hello from web" {
			t.Errorf("from %q to %s: %q, %v; want hello from web", c.ns, c.addr, s, err)
		}
	}
	if s, err := dialHello("", "127.0.0.1:"+strconv.Itoa(hpLo)); err == nil {
		t.Errorf("a port published on [::1] only answered on 127.0.0.1: %q", s)
	}
	// A second container cannot take the port on IPv6 either.
	ns3 := newNetns(t)
	ep3, err := m.Connect(ctx, "six", "c3", ns3, EndpointConfig{Name: "other"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Disconnect(ctx, "six", "c3") })
	if _, err := m.PublishPorts(ctx, "c3", ep3.IP, []PortBinding{{HostIP: "::", HostPort: hp, ContainerPort: 80}}); !errdefs.IsConflict(err) {
		t.Fatalf("publishing [::]:%d again: err = %v, want conflict", hp, err)
	}
	if _, err := m.PublishPorts(ctx, "c3", ep3.IP, []PortBinding{{HostIP: "::1", HostPort: hpLo, ContainerPort: 80}}); !errdefs.IsConflict(err) {
		t.Fatalf("publishing [::1]:%d again: err = %v, want conflict", hpLo, err)
	}
	rules, _ := exec.Command("ip6tables-save", "-t", "nat").CombinedOutput()
	if !strings.Contains(string(rules), "--dport "+p+` -m comment --comment "berth:c1" -j DNAT --to-destination [fd00:b7:113::2]:80`) {
		t.Fatalf("no ip6tables DNAT rule for %d:\n%s", hp, grepLines(string(rules), cfg.ChainPrefix))
	}
	if err := m.UnpublishPorts(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	rules, _ = exec.Command("ip6tables-save", "-t", "nat").CombinedOutput()
	if strings.Contains(string(rules), `"berth:c1"`) { // quoted: a network id may begin with c1
		t.Fatalf("ip6tables rules of c1 left after unpublish:\n%s", grepLines(string(rules), "berth:c1"))
	}
	for _, n := range []string{"tcp4", "tcp6"} {
		ln, err := net.Listen(n, ":"+p)
		if err != nil {
			t.Fatalf("port %d (%s) not free after unpublish: %v", hp, n, err)
		}
		ln.Close()
	}
	// A container without IPv6 cannot publish on an IPv6 host address.
	nsV4 := newNetns(t)
	ep4, err := m.Connect(ctx, DefaultNetworkName, "c4", nsV4, EndpointConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Disconnect(ctx, DefaultNetworkName, "c4") })
	if _, err := m.PublishPorts(ctx, "c4", ep4.IP, []PortBinding{{HostIP: "::1", HostPort: hp, ContainerPort: 80}}); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("publishing on ::1 for a container without IPv6: err = %v, want invalid argument", err)
	}
}

// TestIPv6PublishedUDP: a UDP port published on an IPv6 network answers
// at 127.0.0.1, at the gateway's IPv6 address (ip6tables DNAT) and at
// [::1] (the holding socket relays), each client its own flow.
func TestIPv6PublishedUDP(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	m := newTestManager(t, newTestConfig(t))
	if _, err := m.Create(ctx, NetworkConfig{Name: "six", IPv6: true, Subnet: netip.MustParsePrefix("10.246.114.0/24"), Subnet6: netip.MustParsePrefix("fd00:b7:114::/64")}); err != nil {
		t.Fatal(err)
	}
	ns := newNetns(t)
	ep, err := m.Connect(ctx, "six", "c1", ns, EndpointConfig{Name: "echo"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Disconnect(ctx, "six", "c1") })
	var pc net.PacketConn
	if err := inNetns(ns, func() (err error) { pc, err = net.ListenPacket("udp", ":5000"); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(append([]byte("echo "), buf[:n]...), from)
		}
	}()
	got, err := m.PublishPorts(ctx, "c1", ep.IP, []PortBinding{{ContainerPort: 5000, Proto: "udp"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.UnpublishPorts(ctx, "c1") })
	p := strconv.Itoa(got[0].HostPort)
	for _, addr := range []string{"127.0.0.1:" + p, "[fd00:b7:114::1]:" + p, "[::1]:" + p, "[::1]:" + p} {
		c, err := net.Dial("udp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(3 * time.Second))
		c.Write([]byte("ping " + addr))
		buf := make([]byte, 128)
		n, err := c.Read(buf)
		c.Close()
		if want := "echo ping " + addr; err != nil || string(buf[:n]) != want {
			t.Errorf("udp to %s: %q, %v; want %q", addr, buf[:n], err, want)
		}
	}
}
