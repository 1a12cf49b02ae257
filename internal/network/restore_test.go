package network

import (
	"context"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/vishvananda/netlink"
)

// TestIPAMAcrossRestart: addresses held before a (simulated) daemon
// restart are never handed out again after it.
func TestIPAMAcrossRestart(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	cfg := newTestConfig(t)
	m1, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m1.Uninstall(ctx) })
	if _, err := m1.Create(ctx, NetworkConfig{Name: "a", Subnet: netip.MustParsePrefix("10.246.51.0/29")}); err != nil {
		t.Fatal(err)
	}
	var running []ContainerNetState
	held := map[netip.Addr]string{}
	for i := range 3 {
		id := "c" + strconv.Itoa(i)
		ns := newNetns(t)
		ep, err := m1.Connect(ctx, "a", id, ns, EndpointConfig{Name: id})
		if err != nil {
			t.Fatal(err)
		}
		held[ep.IP] = id
		running = append(running, ContainerNetState{ContainerID: id, NetnsPath: ns})
	}
	// Crash: the process's sockets go, the host state stays.
	m1.Close()

	m2 := newTestManager(t, cfg)
	if err := m2.Restore(ctx, running); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	for i := range 3 {
		id := "n" + strconv.Itoa(i)
		ep, err := m2.Connect(ctx, "a", id, newNetns(t), EndpointConfig{Name: id})
		if i == 2 {
			// A /29 has 5 host addresses besides the gateway: 3 held + 2 new.
			if !errdefs.IsUnavailable(err) {
				t.Fatalf("connect beyond the subnet's size: %+v, %v; want unavailable", ep, err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if owner, ok := held[ep.IP]; ok {
			t.Fatalf("address %s handed to %s after restart; %s holds it", ep.IP, id, owner)
		}
		held[ep.IP] = id
	}
	// The kept containers still reach each other.
	serveHello(t, running[0].NetnsPath, ":8080", "c0")
	var c0 netip.Addr
	for a, id := range held {
		if id == "c0" {
			c0 = a
		}
	}
	if s, err := dialHello(running[1].NetnsPath, netip.AddrPortFrom(c0, 8080).String()); err != nil || s != "hello from c0" {
		t.Fatalf("after restart c1 -> c0: %q, %v", s, err)
	}
}

// TestRestoreRemovesStale: after a crash, Restore keeps the networking of
// running containers and deletes what belongs to containers that are gone.
func TestRestoreRemovesStale(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	cfg := newTestConfig(t)
	m1, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m1.Uninstall(ctx) })
	if _, err := m1.Create(ctx, NetworkConfig{Name: "a", Subnet: netip.MustParsePrefix("10.246.61.0/24")}); err != nil {
		t.Fatal(err)
	}
	nsGone, nsKept, nsPeer := newNetns(t), newNetns(t), newNetns(t)
	epGone, err := m1.Connect(ctx, "a", "gone", nsGone, EndpointConfig{Name: "gone"})
	if err != nil {
		t.Fatal(err)
	}
	epKept, err := m1.Connect(ctx, "a", "kept", nsKept, EndpointConfig{Name: "kept"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m1.Connect(ctx, "a", "peer", nsPeer, EndpointConfig{Name: "peer"}); err != nil {
		t.Fatal(err)
	}
	if _, err := m1.PublishPorts(ctx, "gone", epGone.IP, []PortBinding{{HostPort: 0, ContainerPort: 80}}); err != nil {
		t.Fatal(err)
	}
	keptPorts, err := m1.PublishPorts(ctx, "kept", epKept.IP, []PortBinding{{HostIP: "127.0.0.1", HostPort: 0, ContainerPort: 80}})
	if err != nil {
		t.Fatal(err)
	}
	// A bridge left by a network the state no longer knows (a crash between
	// the two steps of a removal).
	la := netlink.NewLinkAttrs()
	la.Name = "bt" + strings.ToLower(cfg.ChainPrefix[2:]) + "x"
	if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: la}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteLink(la.Name) })
	br, _ := netlink.LinkByName(la.Name)
	netlink.LinkSetAlias(br, "berth:"+cfg.ChainPrefix+":deadbeef")
	m1.Close()

	m2 := newTestManager(t, cfg)
	serveHello(t, nsKept, ":80", "kept")
	if err := m2.Restore(ctx, []ContainerNetState{{ContainerID: "kept", NetnsPath: nsKept}, {ContainerID: "peer", NetnsPath: nsPeer}}); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if linkExists(epGone.HostVeth) {
		t.Errorf("veth %s of a gone container kept", epGone.HostVeth)
	}
	if linkExists(la.Name) {
		t.Errorf("stale bridge %s kept", la.Name)
	}
	if rules := iptablesSave(t, cfg.ChainPrefix); strings.Contains(rules, "berth:gone") {
		t.Errorf("rules of a gone container kept:\n%s", rules)
	}
	if eps := m2.ContainerEndpoints(ctx, "gone"); len(eps) != 0 {
		t.Errorf("endpoints of a gone container kept: %+v", eps)
	}
	// Its address is free again; the kept ones are not.
	ep, err := m2.Connect(ctx, "a", "new", newNetns(t), EndpointConfig{IP: epGone.IP})
	if err != nil {
		t.Fatalf("the gone container's address %s is not free: %v", epGone.IP, err)
	}
	if _, err := m2.Connect(ctx, "a", "new2", newNetns(t), EndpointConfig{IP: epKept.IP}); !errdefs.IsConflict(err) {
		t.Errorf("the kept container's address %s: err = %v, want conflict", epKept.IP, err)
	}
	_ = ep
	// The kept container: veth, published port, DNS.
	if !linkExists(epKept.HostVeth) {
		t.Fatalf("veth %s of a running container deleted", epKept.HostVeth)
	}
	addr := "127.0.0.1:" + strconv.Itoa(keptPorts[0].HostPort)
	if s, err := dialHello("", addr); err != nil || s != "hello from kept" {
		t.Fatalf("published port %s after restore: %q, %v", addr, s, err)
	}
	if rcode, ips := query(t, nsPeer, "udp", "kept"); rcode != 0 || len(ips) != 1 || ips[0] != epKept.IP.String() {
		t.Fatalf("dns after restore: kept = %d %v", rcode, ips)
	}
	out, _ := exec.Command("ip", "-o", "link", "show", "master", "br-"+mustGet(t, m2, "a").ID[:12]).CombinedOutput()
	if n := strings.Count(string(out), "\n"); n != 3 {
		t.Fatalf("ports of the bridge after restore: %d, want 3 (kept, peer, new):\n%s", n, out)
	}
}

func mustGet(t *testing.T, m *Manager, ref string) *Network {
	t.Helper()
	n, err := m.Get(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
