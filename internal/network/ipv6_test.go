package network

import (
	"context"
	"net/netip"
	"os/exec"
	"strings"
	"testing"

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
	if _, err := m.Create(ctx, NetworkConfig{Name: "clash", IPv6: true, Subnet6: netip.MustParsePrefix("fd00:b7:1::/80")}); !errdefs.IsConflict(err) {
		t.Fatalf("overlapping IPv6 subnet: err = %v, want conflict", err)
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
