package network

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
)

// freePort returns a TCP port nothing listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestPublishPorts(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	cfg := newTestConfig(t)
	m := newTestManager(t, cfg)
	ns1, ns2 := newNetns(t), newNetns(t)
	ep1, err := m.Connect(ctx, DefaultNetworkName, "c1", ns1, EndpointConfig{Name: "web"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Connect(ctx, DefaultNetworkName, "c2", ns2, EndpointConfig{Name: "client"}); err != nil {
		t.Fatal(err)
	}
	serveHello(t, ns1, ":80", "web")

	hp := freePort(t)
	got, err := m.PublishPorts(ctx, "c1", ep1.IP, []PortBinding{
		{HostPort: hp, ContainerPort: 80},
		{HostIP: "127.0.0.1", HostPort: 0, ContainerPort: 80, Proto: "tcp"},
	})
	if err != nil {
		t.Fatalf("PublishPorts: %v", err)
	}
	if len(got) != 2 || got[0].HostPort != hp || got[0].Proto != "tcp" || got[1].HostPort == 0 || got[1].HostIP != "127.0.0.1" {
		t.Fatalf("PublishPorts = %+v; want %d and an ephemeral port on 127.0.0.1", got, hp)
	}
	eph := got[1].HostPort
	// The binding on all addresses is served on IPv6 too, by a proxy to
	// the container's IPv4 address (docker-proxy's job): listed on "::".
	if ps := m.Ports(ctx, "c1"); len(ps) != 3 || ps[0].HostPort != hp || ps[1].HostIP != "::" || ps[1].HostPort != hp || ps[2].HostPort != eph {
		t.Fatalf("Ports = %+v", ps)
	}
	if s, err := dialHelloNet("", "tcp6", "[::1]:"+strconv.Itoa(hp)); err != nil || s != "hello from web" {
		t.Fatalf("from the host to [::1]:%d: %q, %v; want hello from web", hp, s, err)
	}
	for _, addr := range []string{"127.0.0.1:" + strconv.Itoa(hp), "127.0.0.1:" + strconv.Itoa(eph)} {
		if s, err := dialHello("", addr); err != nil || s != "hello from web" {
			t.Fatalf("from the host to %s: %q, %v; want hello from web", addr, s, err)
		}
	}
	// Hairpin: another container reaches the port at the bridge's address.
	gw := netip.MustParseAddr("10.246.0.1")
	if s, err := dialHello(ns2, netip.AddrPortFrom(gw, uint16(hp)).String()); err != nil || s != "hello from web" {
		t.Fatalf("from another container to %s:%d: %q, %v; want hello from web", gw, hp, s, err)
	}
	// ... and the container itself through its own published port.
	if s, err := dialHello(ns1, netip.AddrPortFrom(gw, uint16(hp)).String()); err != nil || s != "hello from web" {
		t.Fatalf("from the container itself to %s:%d: %q, %v; want hello from web", gw, hp, s, err)
	}
	// ... and a container on another (user-defined) network, through its
	// own network's gateway.
	if _, err := m.Create(ctx, NetworkConfig{Name: "user", Subnet: netip.MustParsePrefix("10.246.71.0/24")}); err != nil {
		t.Fatal(err)
	}
	nsUser := newNetns(t)
	if _, err := m.Connect(ctx, "user", "cu", nsUser, EndpointConfig{Name: "u"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Disconnect(ctx, "user", "cu") })
	if s, err := dialHello(nsUser, "10.246.71.1:"+strconv.Itoa(hp)); err != nil || s != "hello from web" {
		t.Fatalf("from a container on another network to 10.246.71.1:%d: %q, %v; want hello from web", hp, s, err)
	}
	// Without the published port, that network cannot reach the container.
	if s, err := dialHello(nsUser, ep1.IP.String()+":80"); err == nil {
		t.Fatalf("a container on another network reached %s:80 directly: %q", ep1.IP, s)
	}
	// The port is reserved on the host while published.
	if ln, err := net.Listen("tcp4", ":"+strconv.Itoa(hp)); err == nil {
		ln.Close()
		t.Fatalf("a host program could bind published port %d", hp)
	}

	// A second container asking for the same port fails and leaves nothing.
	before := iptablesSave(t, cfg.ChainPrefix)
	ns3 := newNetns(t)
	ep3, err := m.Connect(ctx, DefaultNetworkName, "c3", ns3, EndpointConfig{Name: "third"})
	if err != nil {
		t.Fatal(err)
	}
	free := freePort(t)
	_, err = m.PublishPorts(ctx, "c3", ep3.IP, []PortBinding{{HostPort: free, ContainerPort: 80}, {HostPort: hp, ContainerPort: 80}})
	if !errdefs.IsConflict(err) || !strings.Contains(err.Error(), "0.0.0.0:"+strconv.Itoa(hp)) || !strings.Contains(err.Error(), "already allocated") {
		t.Fatalf("second publish of %d: err = %v; want a conflict naming 0.0.0.0:%d", hp, err, hp)
	}
	if after := iptablesSave(t, cfg.ChainPrefix); after != before {
		t.Fatalf("a failed publish changed the rules:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if ps := m.Ports(ctx, "c3"); len(ps) != 0 {
		t.Fatalf("failed publish recorded ports %+v", ps)
	}
	if ln, err := net.Listen("tcp4", ":"+strconv.Itoa(free)); err != nil {
		t.Fatalf("the first port of a failed publish stays held: %v", err)
	} else {
		ln.Close()
	}
	// A port a host program holds is a conflict too, before anything is set up.
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	taken := ln.Addr().(*net.TCPAddr).Port
	_, err = m.PublishPorts(ctx, "c3", ep3.IP, []PortBinding{{HostIP: "127.0.0.1", HostPort: taken, ContainerPort: 80}})
	ln.Close()
	if !errdefs.IsConflict(err) {
		t.Fatalf("publish of a port a host program holds: err = %v, want conflict", err)
	}
	// A range takes its first free port.
	got3, err := m.PublishPorts(ctx, "c3", ep3.IP, []PortBinding{{HostPort: hp, HostPortEnd: hp + 20, ContainerPort: 80}})
	if err != nil || len(got3) != 1 || got3[0].HostPort <= hp || got3[0].HostPort > hp+20 {
		t.Fatalf("publish of range %d-%d = %+v, %v; want one port after %d", hp, hp+20, got3, err, hp)
	}

	// Unpublishing frees the port and removes the rules.
	if err := m.UnpublishPorts(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(iptablesSave(t, cfg.ChainPrefix), `"berth:c1"`) { // quoted: a network id may begin with c1
		t.Fatalf("rules of c1 left after UnpublishPorts:\n%s", iptablesSave(t, cfg.ChainPrefix))
	}
	ln, err = net.Listen("tcp4", ":"+strconv.Itoa(hp))
	if err != nil {
		t.Fatalf("port %d not free after UnpublishPorts: %v", hp, err)
	}
	ln.Close()
	if _, err := dialHello("", "127.0.0.1:"+strconv.Itoa(hp)); err == nil {
		t.Fatalf("127.0.0.1:%d still reaches the container after UnpublishPorts", hp)
	}
	if err := m.UnpublishPorts(ctx, "c3"); err != nil {
		t.Fatal(err)
	}
}

func TestPublishPortsInvalid(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	m := newTestManager(t, newTestConfig(t))
	ip := netip.MustParseAddr("10.246.0.9")
	for _, b := range []PortBinding{
		{HostPort: 8080, ContainerPort: 0},
		{HostPort: 70000, ContainerPort: 80},
		{HostPort: 8080, ContainerPort: 80, Proto: "sctp"},
		{HostIP: "::1", HostPort: 8080, ContainerPort: 80},
		{HostPort: 9000, HostPortEnd: 8000, ContainerPort: 80},
	} {
		if _, err := m.PublishPorts(ctx, "c1", ip, []PortBinding{b}); !errdefs.IsInvalidArgument(err) {
			t.Errorf("PublishPorts(%+v): err = %v, want invalid argument", b, err)
		}
	}
	if ps := m.Ports(ctx, "c1"); len(ps) != 0 {
		t.Fatalf("invalid publishes recorded %+v", ps)
	}
}

func TestPublishUDP(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	m := newTestManager(t, newTestConfig(t))
	ns := newNetns(t)
	ep, err := m.Connect(ctx, DefaultNetworkName, "c1", ns, EndpointConfig{Name: "echo"})
	if err != nil {
		t.Fatal(err)
	}
	var pc net.PacketConn
	if err := inNetns(ns, func() (err error) { pc, err = net.ListenPacket("udp4", ":5000"); return err }); err != nil {
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
	got, err := m.PublishPorts(ctx, "c1", ep.IP, []PortBinding{{HostIP: "127.0.0.1", ContainerPort: 5000, Proto: "udp"}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("udp4", "127.0.0.1:"+strconv.Itoa(got[0].HostPort))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	c.Write([]byte("ping"))
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "echo ping" {
		t.Fatalf("udp through published port %d: %q, %v; want echo ping", got[0].HostPort, buf[:n], err)
	}
	if err := m.UnpublishPorts(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
}
