package networkapi

import (
	"crypto/rand"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berth/berth/internal/testutil"
)

var busybox struct {
	once    sync.Once
	archive string // docker-archive of busybox:latest
	err     error
}

// withBusybox loads busybox:latest into d (made once per test binary from
// Debian's busybox-static) and registers a cleanup, run before the
// daemon's own, that removes every container and network of d.
func (d *daemon) withBusybox(t *testing.T) {
	t.Helper()
	busybox.once.Do(func() {
		img, err := testutil.MakeBusyboxImage(env.tmp)
		if err != nil {
			busybox.err = err
			return
		}
		busybox.archive, busybox.err = img.DockerArchive()
	})
	if busybox.err != nil {
		t.Skipf("no busybox image: %v", busybox.err)
	}
	if r := run(t, d, dockerCLI, "", "load", "-q", "-i", busybox.archive); r.code != 0 {
		t.Fatalf("load busybox: %s", r)
	}
	t.Cleanup(func() {
		if r := run(t, d, dockerCLI, "", "ps", "-aq"); strings.TrimSpace(r.stdout) != "" {
			if r := run(t, d, dockerCLI, "", append([]string{"rm", "-f"}, strings.Fields(r.stdout)...)...); r.code != 0 {
				t.Errorf("cleanup: rm -f: %s", r)
			}
		}
		if r := run(t, d, dockerCLI, "", "network", "prune", "-f"); r.code != 0 {
			t.Errorf("cleanup: network prune: %s", r)
		}
	})
}

// docker runs the docker CLI against d and fails t unless it exits 0.
func (d *daemon) docker(t *testing.T, args ...string) string {
	t.Helper()
	r := run(t, d, dockerCLI, "", args...)
	if r.code != 0 {
		t.Fatalf("docker %s: %s\ndaemon log:\n%s", strings.Join(args, " "), r, readFile(d.LogFile))
	}
	return r.stdout
}

// server runs a detached busybox answering every TCP connection on port
// 80 (IPv4 and IPv6) with "hello from NAME".
func (d *daemon) server(t *testing.T, name string, args ...string) {
	t.Helper()
	a := append([]string{"run", "-d", "--name", name}, args...)
	d.docker(t, append(a, "busybox", "nc", "-ll", "-p", "80", "-e", "echo", "hello from "+name)...)
}

// clientScript connects to host:port from a container, waiting up to 5 s
// for the server to listen, and prints what the server said.
func clientScript(host, port string) string {
	return fmt.Sprintf("for i in $(seq 50); do if out=$(nc -w 2 %s %s </dev/null) && [ -n \"$out\" ]; then echo \"$out\"; exit 0; fi; sleep 0.1; done; exit 1", host, port)
}

// outsideNamespace makes a network namespace joined to the host by a
// veth pair on a /30 of 10.215.0.0/16 that no host route uses, with a
// busybox nc answering "outside" on port 8080 inside it, and returns the
// address inside. Cleanup removes the process, the pair and the namespace.
func outsideNamespace(t *testing.T) netip.Addr {
	t.Helper()
	routes, err := exec.Command("ip", "-4", "route").CombinedOutput()
	if err != nil {
		t.Fatalf("ip route: %v: %s", err, routes)
	}
	var base string
	for try := 0; try < 50 && base == ""; try++ {
		n, _ := rand.Int(rand.Reader, big.NewInt(250))
		b := fmt.Sprintf("10.215.%d.", n.Int64()+1)
		if !strings.Contains(string(routes), b) && !strings.Contains(string(routes), "10.215.0.0") {
			base = b
		}
	}
	if base == "" {
		t.Skip("no free 10.215.x.0/30 for the outside namespace")
	}
	var id [3]byte
	rand.Read(id[:])
	ns, host := fmt.Sprintf("bto%x", id), fmt.Sprintf("vto%x", id)
	ipc := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	ipc("netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	ipc("link", "add", host, "type", "veth", "peer", "name", "eth0", "netns", ns)
	t.Cleanup(func() { exec.Command("ip", "link", "del", host).Run() })
	ipc("addr", "add", base+"1/30", "dev", host)
	ipc("link", "set", host, "up")
	ipc("-n", ns, "addr", "add", base+"2/30", "dev", "eth0")
	ipc("-n", ns, "link", "set", "eth0", "up")
	ipc("-n", ns, "link", "set", "lo", "up")
	srv := exec.Command("ip", "netns", "exec", ns, "busybox", "nc", "-ll", "-p", "8080", "-e", "echo", "outside")
	srv.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-srv.Process.Pid, syscall.SIGKILL)
		srv.Wait()
	})
	addr := netip.MustParseAddr(base + "2")
	for i := 0; ; i++ { // the listener is up when the host reaches it
		out, _ := exec.Command("busybox", "nc", "-w", "1", addr.String(), "8080").Output()
		if strings.TrimSpace(string(out)) == "outside" {
			break
		}
		if i == 50 {
			t.Fatalf("the listener in %s does not answer at %s:8080", ns, addr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return addr
}

// TestInternalNetworkHasNoRouteOut: a container on an --internal network
// has no default route and cannot reach an address outside the network's
// subnet (a namespace this test made, which a container on a normal
// network does reach), while two containers on it reach each other by
// name through the embedded DNS.
func TestInternalNetworkHasNoRouteOut(t *testing.T) {
	d := newDaemon(t)
	d.withBusybox(t)
	outside := outsideNamespace(t)
	d.docker(t, "network", "create", "--internal", "--subnet", "10.213.80.0/24", "ptint")
	d.docker(t, "network", "create", "--subnet", "10.213.81.0/24", "ptext")

	routes := d.docker(t, "run", "--rm", "--network", "ptint", "busybox", "ip", "route")
	if strings.Contains(routes, "default") || !strings.Contains(routes, "10.213.80.0/24 dev eth0") {
		t.Errorf("routes in a container on the internal network:\n%s\nwant only 10.213.80.0/24 dev eth0", routes)
	}
	// The same client on a normal network reaches the outside namespace:
	// what fails below fails because the network is internal.
	target := []string{"nc", "-w", "2", outside.String(), "8080"}
	if got := d.docker(t, append([]string{"run", "--rm", "--network", "ptext", "busybox"}, target...)...); strings.TrimSpace(got) != "outside" {
		t.Fatalf("a container on a normal network got %q from %s:8080, want \"outside\"", got, outside)
	}
	r := run(t, d, dockerCLI, "", append([]string{"run", "--rm", "--network", "ptint", "busybox"}, target...)...)
	if r.code == 0 || strings.Contains(r.stdout, "outside") || !strings.Contains(r.stderr, "unreachable") {
		t.Errorf("a container on the internal network connecting to %s:8080: %s\nwant a failure, network unreachable", outside, r)
	}

	// -p on an internal network publishes nothing, as with dockerd: the
	// host cannot reach the container through the port.
	hp := freePort(t)
	d.server(t, "isrv", "--network", "ptint", "-p", "127.0.0.1:"+hp+":80")
	if got := d.docker(t, "run", "--rm", "--network", "ptint", "busybox", "sh", "-c", clientScript("isrv", "80")); strings.TrimSpace(got) != "hello from isrv" {
		t.Errorf("client on the internal network got %q from isrv, want \"hello from isrv\"", got)
	}
	if conn, err := net.DialTimeout("tcp", "127.0.0.1:"+hp, time.Second); err == nil {
		b, _ := io.ReadAll(io.LimitReader(conn, 100))
		conn.Close()
		if len(b) > 0 {
			t.Errorf("-p on an internal network: the host reached the container through 127.0.0.1:%s (%q)", hp, b)
		}
	}
	if got := strings.TrimSpace(d.docker(t, "port", "isrv")); got != "" {
		t.Errorf("docker port of a container on an internal network: %q, want nothing", got)
	}
	// Connected to a normal network, it gets its ports there, as with
	// dockerd.
	d.docker(t, "network", "connect", "ptext", "isrv")
	if got := strings.TrimSpace(d.docker(t, "port", "isrv")); !strings.Contains(got, "127.0.0.1:"+hp) {
		t.Errorf("docker port after connecting a normal network: %q, want 127.0.0.1:%s", got, hp)
	}
	var hello []byte
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && len(hello) == 0; time.Sleep(100 * time.Millisecond) {
		if conn, err := net.DialTimeout("tcp", "127.0.0.1:"+hp, time.Second); err == nil {
			hello, _ = io.ReadAll(io.LimitReader(conn, 100))
			conn.Close()
		}
	}
	if !strings.Contains(string(hello), "hello from isrv") {
		t.Errorf("the host through 127.0.0.1:%s after the connect: %q", hp, hello)
	}
	if got := d.docker(t, "inspect", "-f", "{{.NetworkSettings.Networks.ptint.Gateway}}", "isrv"); strings.TrimSpace(got) != "" {
		t.Errorf("gateway of a container on the internal network = %q, want none", got)
	}
}

// TestIPv6NetworkByName: on a network made with --ipv6 and an IPv6
// --subnet, containers get an address of that subnet, the embedded DNS
// answers AAAA with it, and containers reach each other over IPv6 by name.
func TestIPv6NetworkByName(t *testing.T) {
	d := newDaemon(t)
	d.withBusybox(t)
	d.docker(t, "network", "create", "--ipv6", "--subnet", "10.213.83.0/24", "--subnet", "fd00:b7:83::/64", "ptsix")
	hp := freePort(t)
	d.server(t, "six1", "--network", "ptsix", "-p", hp+":80")
	addr := strings.TrimSpace(d.docker(t, "inspect", "-f", "{{.NetworkSettings.Networks.ptsix.GlobalIPv6Address}}", "six1"))
	a, err := netip.ParseAddr(addr)
	if err != nil || !netip.MustParsePrefix("fd00:b7:83::/64").Contains(a) {
		t.Fatalf("six1's IPv6 address %q (%v), want one of fd00:b7:83::/64", addr, err)
	}
	got := d.docker(t, "run", "--rm", "--network", "ptsix", "busybox", "nslookup", "-type=aaaa", "six1")
	if !strings.Contains(got, "Address: "+addr) {
		t.Errorf("nslookup -type=aaaa six1:\n%s\nwant Address: %s", got, addr)
	}
	got = d.docker(t, "run", "--rm", "--network", "ptsix", "busybox", "ping", "-6", "-c", "1", "-W", "2", "six1")
	if !strings.Contains(got, "PING six1 ("+addr+")") || !strings.Contains(got, "1 packets received") {
		t.Errorf("ping -6 six1:\n%s\nwant a reply from %s", got, addr)
	}
	if got := d.docker(t, "run", "--rm", "--network", "ptsix", "busybox", "sh", "-c", clientScript(addr, "80")); strings.TrimSpace(got) != "hello from six1" {
		t.Errorf("client over IPv6 got %q, want \"hello from six1\"", got)
	}
	// Each container's eth0 holds its own address of the subnet.
	got = d.docker(t, "run", "--rm", "--network", "ptsix", "busybox", "ip", "-6", "addr", "show", "eth0")
	if !strings.Contains(got, "inet6 fd00:b7:83::") {
		t.Errorf("eth0 of a container on the IPv6 network:\n%s\nwant an address of fd00:b7:83::/64", got)
	}
	// On a network without IPv6 the interface has IPv6 off (no link-local
	// address, nothing sent), as dockerd's.
	got = d.docker(t, "run", "--rm", "busybox", "sh", "-c", "cat /proc/sys/net/ipv6/conf/eth0/disable_ipv6; ip -6 addr show eth0 | grep -c inet6; true")
	if strings.Fields(got)[0] != "1" || strings.Fields(got)[len(strings.Fields(got))-1] != "0" {
		t.Errorf("eth0 on the default bridge: disable_ipv6 and inet6 count %q, want 1 and 0", got)
	}
	// The published port answers on IPv4 and IPv6 loopback, and docker
	// shows both bindings.
	if got, want := d.docker(t, "port", "six1"), "80/tcp -> 0.0.0.0:"+hp+"\n80/tcp -> [::]:"+hp+"\n"; got != want {
		t.Errorf("docker port six1 = %q, want %q", got, want)
	}
	for _, addr := range []string{"127.0.0.1:" + hp, "[::1]:" + hp} {
		if got := dialRead(t, addr); got != "hello from six1" {
			t.Errorf("from the host to %s: %q, want \"hello from six1\"", addr, got)
		}
	}
	// -p [::1]:H:C publishes on IPv6 loopback only.
	hpLo := freePort(t)
	d.server(t, "six2", "--network", "ptsix", "-p", "[::1]:"+hpLo+":80")
	if got, want := d.docker(t, "port", "six2"), "80/tcp -> [::1]:"+hpLo+"\n"; got != want {
		t.Errorf("docker port six2 = %q, want %q", got, want)
	}
	if got := dialRead(t, "[::1]:"+hpLo); got != "hello from six2" {
		t.Errorf("from the host to [::1]:%s: %q, want \"hello from six2\"", hpLo, got)
	}
	if c, err := net.DialTimeout("tcp", "127.0.0.1:"+hpLo, time.Second); err == nil {
		c.Close()
		t.Errorf("a port published on [::1] only accepted a connection on 127.0.0.1:%s", hpLo)
	}
	d.docker(t, "rm", "-f", "six1", "six2")
	for _, n := range []string{"tcp4", "tcp6"} {
		ln, err := net.Listen(n, ":"+hp)
		if err != nil {
			t.Errorf("port %s (%s) not free after rm -f: %v", hp, n, err)
			continue
		}
		ln.Close()
	}
}

// freePort returns a TCP port free on IPv4 and IPv6 right now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// dialRead connects to addr from the host, retrying for up to 5 s, and
// returns the first line the server sends.
func dialRead(t *testing.T, addr string) string {
	t.Helper()
	var last string
	for i := 0; i < 50; i++ {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.SetDeadline(time.Now().Add(3 * time.Second))
			b, _ := io.ReadAll(c)
			c.Close()
			if last = strings.TrimSpace(string(b)); last != "" {
				return last
			}
		} else {
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	return last
}

// TestBridgeOptions: a network's com.docker.network.bridge.enable_icc=false
// drops traffic between its containers (a published port still answers),
// and host_binding_ipv4 is the address its containers' ports bind when -p
// names none, as with dockerd.
func TestBridgeOptions(t *testing.T) {
	d := newDaemon(t)
	d.withBusybox(t)
	d.docker(t, "network", "create", "--subnet", "10.213.86.0/24",
		"-o", "com.docker.network.bridge.enable_icc=false", "-o", "com.docker.network.bridge.host_binding_ipv4=127.0.0.1", "ptopts")
	d.server(t, "iso1", "--network", "ptopts", "-p", "80")
	if got := d.docker(t, "port", "iso1", "80"); !strings.HasPrefix(got, "127.0.0.1:") {
		t.Errorf("docker port iso1 80 = %q, want the network's host_binding_ipv4 127.0.0.1", got)
	}
	port := strings.TrimPrefix(strings.TrimSpace(strings.Split(d.docker(t, "port", "iso1", "80"), "\n")[0]), "127.0.0.1:")
	if got := dialRead(t, "127.0.0.1:"+port); got != "hello from iso1" {
		t.Errorf("the published port: %q", got)
	}
	r := run(t, d, dockerCLI, "", "run", "--rm", "--network", "ptopts", "busybox", "nc", "-w", "2", "iso1", "80")
	if r.code == 0 && strings.Contains(r.stdout, "hello") {
		t.Errorf("a container reached another on a network with enable_icc=false: %s", r)
	}
}
