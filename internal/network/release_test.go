package network

import (
	"context"
	"net/netip"
	"testing"
	"time"
)

// TestRelease: a released container leaves its network at once (state,
// DNS) while its veth pair is deleted in the background; the same
// container connects again right away (the new pair waits for the old
// one of the same name); an address whose pair is still being deleted is
// not handed out; once drained, the pair is gone and the address free.
func TestRelease(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	cfg := newTestConfig(t)
	m := newTestManager(t, cfg)
	n, err := m.Create(ctx, NetworkConfig{Name: "rel", Subnet: netip.MustParsePrefix("10.246.121.0/24")})
	if err != nil {
		t.Fatal(err)
	}
	nsPeer := newNetns(t)
	if _, err := m.Connect(ctx, "rel", "peer", nsPeer, EndpointConfig{Name: "peer"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Disconnect(ctx, "rel", "peer") })
	var veth string
	for i := 0; i < 5; i++ { // a container restarting: release, connect again
		ep, err := m.Connect(ctx, "rel", "c1", newNetns(t), EndpointConfig{Name: "one"})
		if err != nil {
			t.Fatalf("connect %d: %v", i, err)
		}
		veth = ep.HostVeth
		if v4, _ := m.lookup("peer", "one"); len(v4) != 1 {
			t.Fatalf("connect %d: one resolves to %v", i, v4)
		}
		if err := m.Release(ctx, "c1"); err != nil {
			t.Fatalf("release %d: %v", i, err)
		}
		if eps := m.ContainerEndpoints(ctx, "c1"); len(eps) != 0 {
			t.Fatalf("release %d: endpoints left %v", i, eps)
		}
		if v4, _ := m.lookup("peer", "one"); len(v4) != 0 {
			t.Fatalf("release %d: one still resolves to %v", i, v4)
		}
	}
	m.drain.wg.Wait()
	if linkExists(veth) {
		t.Fatalf("veth %s still there after the drain", veth)
	}
	// An address held by a pair being deleted is skipped by a container
	// that does not ask for it...
	held := netip.MustParseAddr("10.246.121.3")
	freed := make(chan struct{})
	m.drain.mu.Lock()
	m.drain.addrs = map[string]chan struct{}{n.ID + "/" + held.String(): freed}
	m.drain.mu.Unlock()
	ep, err := m.Connect(ctx, "rel", "c2", newNetns(t), EndpointConfig{Name: "two"})
	if err != nil {
		t.Fatal(err)
	}
	if ep.IP == held {
		t.Fatalf("c2 got %s, held by a pair being deleted", ep.IP)
	}
	// ... and waited for by one that asks for it (--ip, or its address
	// before a restart), which gets it once the pair is gone.
	got := make(chan *Endpoint, 1)
	ns3 := newNetns(t)
	go func() {
		ep3, err := m.Connect(ctx, "rel", "c3", ns3, EndpointConfig{IP: held})
		if err != nil {
			t.Errorf("c3 asking for %s: %v", held, err)
		}
		got <- ep3
	}()
	select {
	case <-got:
		t.Fatalf("c3 got %s while its old pair was being deleted", held)
	case <-time.After(100 * time.Millisecond):
	}
	m.drain.mu.Lock()
	delete(m.drain.addrs, n.ID+"/"+held.String())
	m.drain.mu.Unlock()
	close(freed)
	ep3 := <-got
	if ep3 == nil || ep3.IP != held {
		t.Fatalf("c3 got %v, want the requested %s once drained", ep3, held)
	}
	// A preferred address is taken when free, passed over when in use.
	ep4, err := m.Connect(ctx, "rel", "c4", newNetns(t), EndpointConfig{PreferIP: netip.MustParseAddr("10.246.121.9")})
	if err != nil || ep4.IP != netip.MustParseAddr("10.246.121.9") {
		t.Fatalf("c4 preferring .9: %v %v", ep4, err)
	}
	ep5, err := m.Connect(ctx, "rel", "c5", newNetns(t), EndpointConfig{PreferIP: held})
	if err != nil || ep5.IP == held {
		t.Fatalf("c5 preferring %s, c3's: %v %v", held, ep5, err)
	}
	for _, id := range []string{"c2", "c3", "c4", "c5"} {
		if err := m.Release(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	m.drain.wg.Wait()
	if linkExists(ep.HostVeth) || linkExists(ep3.HostVeth) || linkExists(ep4.HostVeth) {
		t.Fatalf("veths %s, %s, %s left after release and drain", ep.HostVeth, ep3.HostVeth, ep4.HostVeth)
	}
}
