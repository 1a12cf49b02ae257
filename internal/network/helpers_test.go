package network

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// netnsMade maps the namespaces tests made to the test's name.
var netnsMade sync.Map

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if _, err := exec.LookPath("iptables"); err != nil {
		t.Skip("needs iptables")
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

type testEnv struct {
	cfg      Config
	upstream string
}

// newTestConfig returns a Config whose chains, bridge and links are the
// test's own, with a 127.0.0.1 upstream DNS server that knows
// "upstream.test." (127.0.0.77) and answers NXDOMAIN to everything else.
// Cleanup asserts that nothing of the config's is left on the host.
func newTestConfig(t *testing.T) Config {
	t.Helper()
	id := strings.ToUpper(randHex(3))
	cfg := Config{
		Root:          t.TempDir(),
		DefaultBridge: "bt" + strings.ToLower(id),
		BIP:           netip.MustParsePrefix("10.246.0.1/24"),
		ChainPrefix:   "BT" + id,
		DNSUpstreams:  []string{startUpstream(t)},
	}
	t.Cleanup(func() { assertNothingLeft(t, cfg) })
	return cfg
}

func newTestManager(t *testing.T, cfg Config) *Manager {
	t.Helper()
	m, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Uninstall(context.Background()); err != nil {
			t.Errorf("Uninstall: %v", err)
		}
	})
	return m
}

// assertNothingLeft checks with ip and iptables-save that no link, chain or
// rule of cfg remains.
func assertNothingLeft(t *testing.T, cfg Config) {
	t.Helper()
	out, err := exec.Command("ip", "-d", "-o", "link", "show").CombinedOutput()
	if err != nil {
		t.Errorf("ip link: %v: %s", err, out)
	}
	tag := "berth:" + cfg.ChainPrefix + ":"
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, tag) || strings.Contains(line, ": "+cfg.DefaultBridge+":") {
			t.Errorf("link left behind: %s", line)
		}
	}
	out, err = exec.Command("ip", "netns", "list").CombinedOutput()
	if err != nil {
		t.Errorf("ip netns list: %v: %s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			if owner, ok := netnsMade.Load(f[0]); ok && owner == t.Name() {
				t.Errorf("network namespace left behind: %s", f[0])
			}
		}
	}
	for _, cmd := range [][]string{{"iptables-save", "-t", "filter"}, {"iptables-save", "-t", "nat"}, {"ip6tables-save", "-t", "filter"}, {"ip6tables-save", "-t", "nat"}} {
		table := strings.Join(cmd, " ")
		out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput()
		if err != nil {
			t.Errorf("%s: %v: %s", table, err, out)
		}
		if strings.Contains(string(out), cfg.ChainPrefix+"-") {
			t.Errorf("iptables %s: rules of %s left behind:\n%s", table, cfg.ChainPrefix, grepLines(string(out), cfg.ChainPrefix))
		}
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// newNetns makes a named network namespace (ip netns add) and removes it
// at cleanup; it returns its path.
func newNetns(t *testing.T) string {
	t.Helper()
	name := "bt-" + randHex(4)
	netnsMade.Store(name, t.Name())
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	return "/run/netns/" + name
}

func nsName(path string) string { return strings.TrimPrefix(path, "/run/netns/") }

// serveHello listens on addr inside the namespace and answers every
// connection with "hello from <tag>\n".
func serveHello(t *testing.T, nsPath, addr, tag string) {
	t.Helper()
	var ln net.Listener
	if err := inNetns(nsPath, func() (err error) {
		network := "tcp4"
		if strings.HasPrefix(addr, "[") {
			network = "tcp"
		}
		ln, err = net.Listen(network, addr)
		return err
	}); err != nil {
		t.Fatalf("listen in %s: %v", nsPath, err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "hello from %s\n", tag)
			c.Close()
		}
	}()
}

// dialHello connects to addr from the namespace (the host's when nsPath is
// empty) and returns the greeting.
func dialHello(nsPath, addr string) (string, error) {
	return dialHelloNet(nsPath, "tcp4", addr)
}

func dialHelloNet(nsPath, network, addr string) (string, error) {
	var c net.Conn
	dial := func() (err error) {
		c, err = net.DialTimeout(network, addr, 1500*time.Millisecond)
		return err
	}
	var err error
	if nsPath == "" {
		err = dial()
	} else {
		err = inNetns(nsPath, dial)
	}
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", err
	}
	return strings.TrimSpace(line), nil
}

// startUpstream runs a DNS server on 127.0.0.1 standing for the host's
// resolvers.
func startUpstream(t *testing.T) string {
	t.Helper()
	// One port number for UDP and TCP: a free UDP port may be taken for
	// TCP by someone else on a shared machine, so try a few.
	var pc net.PacketConn
	var ln net.Listener
	var addr string
	for i := 0; ; i++ {
		var err error
		if pc, err = net.ListenPacket("udp4", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		addr = pc.LocalAddr().String()
		if ln, err = net.Listen("tcp4", addr); err == nil {
			break
		}
		pc.Close()
		if i == 20 {
			t.Fatalf("no port free for both udp and tcp: %v", err)
		}
	}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		if r.Question[0].Name == "upstream.test." && r.Question[0].Qtype == dns.TypeA {
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: "upstream.test.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 5}, A: net.IPv4(127, 0, 0, 77)})
		} else {
			m.Rcode = dns.RcodeNameError
		}
		w.WriteMsg(m)
	})
	us, ts := &dns.Server{PacketConn: pc, Handler: h}, &dns.Server{Listener: ln, Handler: h}
	go us.ActivateAndServe()
	go ts.ActivateAndServe()
	t.Cleanup(func() { us.Shutdown(); ts.Shutdown() })
	return addr
}

// query asks the embedded DNS inside the namespace for name's A records.
func query(t *testing.T, nsPath, proto, name string) (int, []string) {
	t.Helper()
	return queryType(t, nsPath, proto, name, dns.TypeA)
}

func reverseName(a netip.Addr) string {
	b := a.As4()
	return fmt.Sprintf("%d.%d.%d.%d.in-addr.arpa.", b[3], b[2], b[1], b[0])
}

// queryType asks the embedded DNS inside the namespace; it returns the
// rcode and the A addresses or PTR names of the answer.
func queryType(t *testing.T, nsPath, proto, name string, qtype uint16) (int, []string) {
	t.Helper()
	var conn net.Conn
	if err := inNetns(nsPath, func() (err error) {
		conn, err = net.DialTimeout(proto, "127.0.0.11:53", 2*time.Second)
		return err
	}); err != nil {
		t.Fatalf("dial embedded dns in %s: %v", nsPath, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	dc := &dns.Conn{Conn: conn}
	req := new(dns.Msg)
	req.SetQuestion(dns.Fqdn(name), qtype)
	if err := dc.WriteMsg(req); err != nil {
		t.Fatalf("dns query %s: %v", name, err)
	}
	resp, err := dc.ReadMsg()
	if err != nil {
		t.Fatalf("dns answer %s: %v", name, err)
	}
	var ips []string
	for _, rr := range resp.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			ips = append(ips, rr.A.String())
		case *dns.AAAA:
			ips = append(ips, rr.AAAA.String())
		case *dns.PTR:
			ips = append(ips, rr.Ptr)
		}
	}
	return resp.Rcode, ips
}

func iptablesSave(t *testing.T, prefix string) string {
	t.Helper()
	var all []string
	for _, cmd := range [][]string{{"iptables-save", "-t", "filter"}, {"iptables-save", "-t", "nat"}, {"ip6tables-save", "-t", "filter"}, {"ip6tables-save", "-t", "nat"}} {
		out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v: %s", cmd[0], err, out)
		}
		all = append(all, grepLines(string(out), prefix))
	}
	return strings.Join(all, "\n")
}

func linkExists(name string) bool {
	return exec.Command("ip", "link", "show", name).Run() == nil
}
