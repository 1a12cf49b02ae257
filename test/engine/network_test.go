package engine

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// newNetDaemon starts a daemon with networking on its own default bridge
// and iptables chains. Cleanup removes its containers and networks, stops
// it, and asserts that no link, alias or rule of it is left on the host.
func newNetDaemon(t *testing.T) (*daemon, string, string) {
	t.Helper()
	var b [3]byte
	_, _ = rand.Read(b[:])
	suffix := hex.EncodeToString(b[:])
	bridge, prefix := "bt"+suffix, "BT"+strings.ToUpper(suffix)
	t.Cleanup(func() { assertNoNetworkLeft(t, bridge, prefix) })
	d := newDaemonWith(t, []string{"--bridge", bridge, "--iptables-chain-prefix", prefix})
	t.Cleanup(func() {
		select {
		case <-d.Done():
			return
		default:
		}
		if ids, _, _ := d.docker(t, "ps", "-aq"); strings.TrimSpace(ids) != "" {
			d.docker(t, append([]string{"rm", "-f"}, strings.Fields(ids)...)...)
		}
		if _, errOut, err := d.docker(t, "network", "prune", "-f"); err != nil {
			t.Errorf("cleanup: network prune: %v: %s", err, errOut)
		}
	})
	return d, bridge, prefix
}

// assertNoNetworkLeft checks (after the daemon stopped) that ip link and
// iptables-save hold nothing of the daemon, and removes what they do.
func assertNoNetworkLeft(t *testing.T, bridge, prefix string) {
	tag := "berth:" + prefix + ":"
	out, _ := exec.Command("ip", "-d", "link").CombinedOutput()
	if strings.Contains(string(out), bridge) || strings.Contains(string(out), tag) {
		t.Errorf("links of the daemon left:\n%s", out)
		_ = exec.Command("ip", "link", "del", bridge).Run()
	}
	for _, tool := range []string{"iptables-save", "ip6tables-save"} {
		out, _ = exec.Command(tool).CombinedOutput()
		if strings.Contains(string(out), prefix+"-") {
			t.Errorf("%s: rules of the daemon left:\n%s", tool, grepLines(string(out), prefix))
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

// ipOf returns the container's address on network name.
func (d *daemon) ipOf(t *testing.T, ctr, name string) string {
	t.Helper()
	return strings.TrimSpace(d.mustDocker(t, "inspect", "-f", fmt.Sprintf("{{(index .NetworkSettings.Networks %q).IPAddress}}", name), ctr))
}

// server runs a detached busybox answering every TCP connection on port
// 80 with "hello from NAME".
func (d *daemon) server(t *testing.T, name string, args ...string) {
	t.Helper()
	run := append([]string{"run", "-d", "--name", name}, args...)
	run = append(run, "busybox", "nc", "-ll", "-p", "80", "-e", "echo", "hello from "+name)
	d.mustDocker(t, run...)
}

// clientScript connects to host:port from a container, waiting up to 5 s
// for the server to listen.
func clientScript(host, port string) string {
	return fmt.Sprintf("for i in $(seq 50); do if out=$(nc -w 2 %s %s </dev/null) && [ -n \"$out\" ]; then echo \"$out\"; exit 0; fi; sleep 0.1; done; exit 1", host, port)
}

func TestNetworkContainersReachEachOtherByName(t *testing.T) {
	d, _, _ := newNetDaemon(t)
	d.mustDocker(t, "network", "create", "front")
	d.mustDocker(t, "network", "create", "back")
	d.server(t, "web", "--network", "front")
	got := d.mustDocker(t, "run", "--rm", "--network", "front", "busybox", "sh", "-c", clientScript("web", "80"))
	if strings.TrimSpace(got) != "hello from web" {
		t.Fatalf("client on front got %q, want %q", got, "hello from web")
	}
	// /etc/resolv.conf points at the embedded DNS on a user network.
	if rc := d.mustDocker(t, "run", "--rm", "--network", "front", "busybox", "cat", "/etc/resolv.conf"); !strings.Contains(rc, "nameserver 127.0.0.11") {
		t.Errorf("resolv.conf on a user network:\n%s\nwant nameserver 127.0.0.11", rc)
	}
	// Another network neither resolves nor reaches it.
	ip := d.ipOf(t, "web", "front")
	if ip == "" || ip == "<no value>" {
		t.Fatalf("web has no address on front")
	}
	out, _, err := d.docker(t, "run", "--rm", "--network", "back", "busybox", "nslookup", "web")
	if err == nil {
		t.Errorf("nslookup web on network back succeeded:\n%s", out)
	}
	out, _, err = d.docker(t, "run", "--rm", "--network", "back", "busybox", "nc", "-w", "2", ip, "80")
	if err == nil || strings.Contains(out, "hello") {
		t.Errorf("a container on back reached web at %s: %q (err %v)", ip, out, err)
	}
	// The short ID resolves too.
	id := strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{.Id}}", "web"))
	if got := d.mustDocker(t, "run", "--rm", "--network", "front", "busybox", "sh", "-c", clientScript(id[:12], "80")); strings.TrimSpace(got) != "hello from web" {
		t.Errorf("client by short ID got %q", got)
	}
	// network connect makes web reachable from back at once; disconnect
	// takes it away.
	d.mustDocker(t, "network", "connect", "back", "web")
	if got := d.mustDocker(t, "run", "--rm", "--network", "back", "busybox", "sh", "-c", clientScript("web", "80")); strings.TrimSpace(got) != "hello from web" {
		t.Errorf("client on back after network connect got %q", got)
	}
	if _, errOut, err := d.docker(t, "network", "connect", "back", "web"); err == nil || !strings.Contains(errOut, "already exists") {
		t.Errorf("second network connect: err %v, stderr %q; want already exists", err, errOut)
	}
	d.mustDocker(t, "network", "disconnect", "back", "web")
	if out, _, err := d.docker(t, "run", "--rm", "--network", "back", "busybox", "nslookup", "web"); err == nil {
		t.Errorf("web resolves on back after disconnect:\n%s", out)
	}
	// Starting web on front was announced as a network connect event.
	ev := d.mustDocker(t, "events", "--since", "0", "--until", "0s", "--filter", "type=network", "--filter", "event=connect", "--format", "{{.Actor.Attributes.container}} {{.Actor.Attributes.name}}")
	if !strings.Contains(ev, id+" front") {
		t.Errorf("network connect events:\n%s\nwant %s front", ev, id)
	}
	// inspect shows the attachment.
	var nets map[string]struct{ IPAddress, Gateway string }
	if err := json.Unmarshal([]byte(d.mustDocker(t, "inspect", "-f", "{{json .NetworkSettings.Networks}}", "web")), &nets); err != nil {
		t.Fatal(err)
	}
	if n, ok := nets["front"]; !ok || n.IPAddress != ip || n.Gateway == "" {
		t.Errorf("inspect networks = %+v, want front with %s and a gateway", nets, ip)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
}

func dialRead(addr string) (string, error) {
	c, err := net.DialTimeout("tcp4", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	b, err := io.ReadAll(c)
	return string(b), err
}

func TestNetworkPublishedPort(t *testing.T) {
	d, _, prefix := newNetDaemon(t)
	port := freePort(t)
	d.server(t, "pub", "-p", "127.0.0.1:"+port+":80")
	addr := "127.0.0.1:" + port
	var got string
	var err error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if got, err = dialRead(addr); err == nil && got != "" {
			break
		}
	}
	if strings.TrimSpace(got) != "hello from pub" {
		t.Fatalf("%s from the host: %q (%v), want hello from pub", addr, got, err)
	}
	if out := d.mustDocker(t, "port", "pub"); !strings.Contains(out, "80/tcp -> "+addr) {
		t.Errorf("docker port pub = %q, want 80/tcp -> %s", out, addr)
	}
	if out := d.mustDocker(t, "ps", "--format", "{{.Ports}}", "-f", "name=pub"); !strings.Contains(out, addr+"->80/tcp") {
		t.Errorf("ps Ports = %q, want %s->80/tcp", out, addr)
	}

	// Hairpin: another container reaches a port published on all
	// addresses through the bridge's gateway address.
	port2 := freePort(t)
	d.server(t, "pub2", "-p", port2+":80")
	gw := strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{.NetworkSettings.Networks.bridge.Gateway}}", "pub2"))
	got = d.mustDocker(t, "run", "--rm", "busybox", "sh", "-c", clientScript(gw, port2))
	if strings.TrimSpace(got) != "hello from pub2" {
		t.Errorf("hairpin %s:%s from a container: %q, want hello from pub2", gw, port2, got)
	}
	// A port on all addresses is served on IPv6 too, though the container
	// has no IPv6 (docker-proxy's job): [::1] is what "localhost" often
	// resolves to first. docker port lists both, as with dockerd.
	c6, err := net.DialTimeout("tcp6", "[::1]:"+port2, 2*time.Second)
	if err != nil {
		t.Errorf("[::1]:%s: %v", port2, err)
	} else {
		_ = c6.SetDeadline(time.Now().Add(3 * time.Second))
		b, _ := io.ReadAll(c6)
		c6.Close()
		if strings.TrimSpace(string(b)) != "hello from pub2" {
			t.Errorf("[::1]:%s: %q, want hello from pub2", port2, b)
		}
	}
	if out := d.mustDocker(t, "port", "pub2"); !strings.Contains(out, "80/tcp -> 0.0.0.0:"+port2) || !strings.Contains(out, "80/tcp -> [::]:"+port2) {
		t.Errorf("docker port pub2 = %q, want it on 0.0.0.0 and [::]", out)
	}

	// The same port again: as with dockerd, the container is created and
	// its start fails (exit 125), leaving it created and nothing else.
	rulesBefore, _ := exec.Command("iptables-save").Output()
	_, errOut, err := d.docker(t, "run", "-d", "--name", "dup", "-p", "127.0.0.1:"+port+":80", "busybox", "sleep", "60")
	if code := exitCode(err); code != 125 {
		t.Fatalf("second container on %s: exit %d (%v), want 125", addr, code, err)
	}
	if want := "driver failed programming external connectivity on endpoint dup ("; !strings.Contains(errOut, want) {
		t.Errorf("error = %q, want it to contain %q", errOut, want)
	}
	if want := "Bind for " + addr + " failed: port is already allocated"; !strings.Contains(errOut, want) {
		t.Errorf("error = %q, want it to contain %q", errOut, want)
	}
	if st := strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{.State.Status}}", "dup")); st != "created" {
		t.Errorf("dup after its failed start: %s, want created", st)
	}
	rulesAfter, _ := exec.Command("iptables-save").Output()
	if a, b := grepLines(string(rulesAfter), prefix), grepLines(string(rulesBefore), prefix); a != b {
		t.Errorf("rules changed by the failed run:\n%s\nbefore:\n%s", a, b)
	}
	// A port another program holds fails the start with docker-proxy's
	// words; once it is free, the same container starts.
	d.mustDocker(t, "rm", "dup")
	held, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	heldAddr := held.Addr().String()
	_, hp, _ := net.SplitHostPort(heldAddr)
	d.mustDocker(t, "create", "--name", "later", "-p", "127.0.0.1:"+hp+":80", "busybox", "sleep", "60")
	_, errOut, err = d.docker(t, "start", "later")
	if want := "Error starting userland proxy: listen tcp4 " + heldAddr + ": bind: address already in use"; err == nil || !strings.Contains(errOut, want) {
		t.Errorf("start with %s held: %v %q, want an error containing %q", heldAddr, err, errOut, want)
	}
	held.Close()
	d.mustDocker(t, "start", "later")
	d.mustDocker(t, "rm", "-f", "later")

	// -P publishes EXPOSE'd ports on ephemeral host ports.
	d.server(t, "auto", "-P", "--expose", "80")
	mapped := strings.TrimSpace(d.mustDocker(t, "port", "auto", "80/tcp"))
	_, hp, ok := strings.Cut(strings.Split(mapped, "\n")[0], "0.0.0.0:")
	if !ok || hp == "" || hp == "0" {
		t.Fatalf("docker port auto 80/tcp = %q, want 0.0.0.0:PORT", mapped)
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if got, err = dialRead("127.0.0.1:" + hp); err == nil && got != "" {
			break
		}
	}
	if strings.TrimSpace(got) != "hello from auto" {
		t.Errorf("-P port 127.0.0.1:%s: %q (%v), want hello from auto", hp, got, err)
	}

	// rm -f frees the port.
	d.mustDocker(t, "rm", "-f", "pub")
	l, err := net.Listen("tcp4", addr)
	if err != nil {
		t.Fatalf("port %s not free after rm -f: %v", addr, err)
	}
	l.Close()
}

func TestNetworkDaemonCrashKeepsAddresses(t *testing.T) {
	d, _, _ := newNetDaemon(t)
	d.mustDocker(t, "network", "create", "app")
	ips := map[string]string{}
	for _, n := range []string{"c1", "c2", "c3"} {
		d.server(t, n, "--network", "app")
		ips[n] = d.ipOf(t, n, "app")
	}
	d.Kill(t)
	d.Start(t)
	for n, ip := range ips {
		if got := d.ipOf(t, n, "app"); got != ip {
			t.Errorf("%s: address %s after the restart, was %s", n, got, ip)
		}
	}
	for _, n := range []string{"c1", "c3"} {
		got := d.mustDocker(t, "run", "--rm", "--network", "app", "busybox", "sh", "-c", clientScript(n, "80"))
		if strings.TrimSpace(got) != "hello from "+n {
			t.Errorf("%s by name after the restart: %q", n, got)
		}
	}
	d.mustDocker(t, "run", "-d", "--name", "c4", "--network", "app", "busybox", "sleep", "60")
	ip4 := d.ipOf(t, "c4", "app")
	for n, ip := range ips {
		if ip == ip4 {
			t.Errorf("c4 got %s, the address of %s", ip4, n)
		}
	}
}

func TestNetworkNoneAndHostModes(t *testing.T) {
	d, _, _ := newNetDaemon(t)
	out := d.mustDocker(t, "run", "--rm", "--network", "none", "busybox", "ip", "-o", "link")
	if strings.Contains(out, "eth0") || !strings.Contains(out, "lo") {
		t.Errorf("--network none links:\n%s", out)
	}
	d.mustDocker(t, "run", "-d", "--name", "owner", "--hostname", "ahost", "--domainname", "example.test", "busybox", "sleep", "60")
	ip := d.ipOf(t, "owner", "bridge")
	out = d.mustDocker(t, "run", "--rm", "--network", "container:owner", "busybox", "ip", "-o", "-4", "addr")
	if !strings.Contains(out, ip+"/") {
		t.Errorf("--network container:owner addresses:\n%s\nwant %s", out, ip)
	}
	// It takes the owner's hostname and domain name too, as dockerd's.
	d.mustDocker(t, "run", "-d", "--name", "joiner", "--network", "container:owner", "busybox", "sleep", "60")
	if out := d.mustDocker(t, "exec", "joiner", "sh", "-c", "hostname; cat /etc/hostname; dnsdomainname 2>/dev/null || cat /proc/sys/kernel/domainname"); out != "ahost\nahost\nexample.test\n" {
		t.Errorf("--network container:owner hostname, /etc/hostname, domain: %q", out)
	}
	if got := d.mustDocker(t, "inspect", "-f", "{{.Config.Hostname}} {{.Config.Domainname}}", "joiner"); got != "ahost example.test\n" {
		t.Errorf("inspect of the joiner: %q", got)
	}
	// Network connect of a container without its own network namespace
	// is refused in dockerd's words.
	d.mustDocker(t, "network", "create", "cx")
	d.mustDocker(t, "create", "--name", "nonet", "--network", "none", "busybox")
	if _, errOut, err := d.docker(t, "network", "connect", "cx", "nonet"); err == nil || !strings.Contains(errOut, "container cannot be connected to multiple networks with one of the networks in private (none) mode") {
		t.Errorf("connect of a --network none container: %v %q", err, errOut)
	}
	if _, errOut, err := d.docker(t, "network", "connect", "cx", "joiner"); err == nil || !strings.Contains(errOut, "container sharing network namespace with another container or host cannot be connected to any other network") {
		t.Errorf("connect of a --network container: one: %v %q", err, errOut)
	}
	d.mustDocker(t, "rm", "nonet")
	d.mustDocker(t, "create", "--name", "hostnet", "--network", "host", "busybox")
	// What a shared or the host's namespace cannot have is refused, in
	// dockerd's words (it was ignored).
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--network", "container:owner", "--dns", "192.0.2.1"}, "conflicting options: dns and the network mode"},
		{[]string{"--network", "container:owner", "--add-host", "h:192.0.2.1"}, "conflicting options: custom host-to-IP mapping and the network mode"},
		{[]string{"--network", "container:owner", "-h", "other"}, "conflicting options: hostname and the network mode"},
		{[]string{"--network", "container:owner", "--expose", "80"}, "conflicting options: port exposing and the container type network mode"},
		{[]string{"--network", "container:owner", "--link", "owner:o"}, "conflicting options: container type network can't be used with links"},
		{[]string{"--network", "container:owner", "--mac-address", "02:42:ac:11:00:99"}, "conflicting options: mac-address and the network mode"},
		{[]string{"--network", "host", "--link", "owner:o"}, "conflicting options: host type networking can't be used with links"},
		{[]string{"--network", "host", "--mac-address", "02:42:ac:11:00:99"}, "conflicting options: mac-address and the network mode"},
		{[]string{"--network", "container"}, "invalid container format container:<name|id>"},
		{[]string{"--link", "hostnet:h"}, "conflicting options: host type networking can't be used with links"},
	} {
		_, errOut, err := d.docker(t, append(append([]string{"run", "--rm"}, tc.args...), "busybox", "true")...)
		if exitCode(err) != 125 || !strings.Contains(errOut, tc.want) {
			t.Errorf("run %v: exit %d %q, want 125 and %q", tc.args, exitCode(err), errOut, tc.want)
		}
	}
	out = d.mustDocker(t, "run", "--rm", "--add-host", "gw:host-gateway", "--dns", "192.0.2.53", "--dns-search", "example.test", "busybox", "sh", "-c", "cat /etc/hosts /etc/resolv.conf")
	for _, want := range []string{"\tgw\n", "nameserver 192.0.2.53", "search example.test"} {
		if !strings.Contains(out, want) {
			t.Errorf("etc files lack %q:\n%s", want, out)
		}
	}
}

func TestNetworkRenameAndRestart(t *testing.T) {
	d, _, _ := newNetDaemon(t)
	d.mustDocker(t, "network", "create", "app")
	d.server(t, "old", "--network", "app", "--network-alias", "svc")
	d.mustDocker(t, "rename", "old", "new")
	if got := d.mustDocker(t, "run", "--rm", "--network", "app", "busybox", "sh", "-c", clientScript("new", "80")); strings.TrimSpace(got) != "hello from old" {
		t.Errorf("client by the new name got %q", got)
	}
	if out, _, err := d.docker(t, "run", "--rm", "--network", "app", "busybox", "nslookup", "old"); err == nil {
		t.Errorf("the old name still resolves:\n%s", out)
	}
	// stop releases the endpoint; start connects again.
	d.mustDocker(t, "stop", "-t", "1", "new")
	if ip := d.ipOf(t, "new", "app"); ip != "" && ip != "invalid IP" && ip != "<no value>" {
		t.Errorf("stopped container still shows address %q", ip)
	}
	d.mustDocker(t, "start", "new")
	if got := d.mustDocker(t, "run", "--rm", "--network", "app", "busybox", "sh", "-c", clientScript("new", "80")); strings.TrimSpace(got) != "hello from old" {
		t.Errorf("client after stop and start got %q", got)
	}
}

// TestStaticAddressChecked: as dockerd does at create, a static address on
// a predefined network or outside the network's subnet is refused before a
// container exists; one inside the subnet is the container's.
func TestStaticAddressChecked(t *testing.T) {
	d, _, _ := newNetDaemon(t)
	d.mustDocker(t, "network", "create", "--subnet", "10.213.77.0/24", "fixed")
	_, errOut, err := d.docker(t, "run", "--rm", "--name", "ipbad", "--ip", "10.213.78.5", "busybox", "true")
	if exitCode(err) != 125 || !strings.Contains(errOut, "user specified IP address is supported on user defined networks only") {
		t.Errorf("--ip on the default bridge: exit %d %q", exitCode(err), errOut)
	}
	_, errOut, err = d.docker(t, "create", "--name", "ipout", "--network", "fixed", "--ip", "10.213.78.5", "busybox", "true")
	if err == nil || !strings.Contains(errOut, "invalid config for network fixed: invalid endpoint settings:\nno configured subnet or ip-range contain the IP address 10.213.78.5") {
		t.Errorf("--ip outside the subnet: %v %q", err, errOut)
	}
	d.mustDocker(t, "network", "create", "nosub")
	_, errOut, err = d.docker(t, "create", "--name", "ipnosub", "--network", "nosub", "--ip", "10.213.78.5", "busybox", "true")
	if err == nil || !strings.Contains(errOut, "user specified IP address is supported only when connecting to networks with user configured subnets") {
		t.Errorf("--ip on a network without a subnet of the user's: %v %q", err, errOut)
	}
	if out := d.mustDocker(t, "ps", "-aq"); out != "" {
		t.Errorf("refused creates left containers:\n%s", out)
	}
	d.mustDocker(t, "run", "-d", "--name", "late", "busybox", "sleep", "300")
	if _, errOut, err := d.docker(t, "network", "connect", "--ip", "10.213.78.5", "nosub", "late"); err == nil || !strings.Contains(errOut, "user configured subnets") {
		t.Errorf("network connect --ip to a network without a subnet of the user's: %v %q", err, errOut)
	}
	d.mustDocker(t, "rm", "-f", "late")
	got := d.mustDocker(t, "run", "--rm", "--network", "fixed", "--ip", "10.213.77.9", "busybox", "sh", "-c", "ip -4 -o addr show eth0")
	if !strings.Contains(got, "inet 10.213.77.9/24") {
		t.Errorf("--ip 10.213.77.9 on fixed: %q", got)
	}
}

// TestDieBeforeDisconnect: a container's "die" comes before its networks'
// "disconnect", as dockerd sends them.
func TestDieBeforeDisconnect(t *testing.T) {
	d, _, _ := newNetDaemon(t)
	d.mustDocker(t, "network", "create", "evnet")
	since := time.Now().Unix()
	d.mustDocker(t, "run", "--rm", "--network", "evnet", "busybox", "true")
	out := d.eventsSince(t, since, "{{.Type}} {{.Action}}", "event=die", "event=disconnect")
	if out != "container die\nnetwork disconnect\n" {
		t.Errorf("events:\n%s\nwant container die, then network disconnect", out)
	}
	// rm -f of a running container: kill, die, disconnect, destroy.
	d.mustDocker(t, "run", "-d", "--name", "rmf", "--network", "evnet", "busybox", "sleep", "300")
	since = time.Now().Unix()
	d.mustDocker(t, "rm", "-f", "rmf")
	out = d.eventsSince(t, since, "{{.Type}} {{.Action}}", "event=kill", "event=die", "event=disconnect", "event=destroy")
	if out != "container kill\ncontainer die\nnetwork disconnect\ncontainer destroy\n" {
		t.Errorf("events of rm -f:\n%s\nwant kill, die, disconnect, destroy", out)
	}
}

// TestEndpointsConfigOnly: a create through the API with the default
// network mode and endpoint settings for a user network (the SDKs' and
// testcontainers' way) joins that network only, as dockerd does; without
// endpoint settings, the default bridge.
func TestEndpointsConfigOnly(t *testing.T) {
	d, _, _ := newNetDaemon(t)
	d.mustDocker(t, "network", "create", "only")
	status, body := rawRequest(t, d, "POST", "/v1.56/containers/create?name=epc", "application/json",
		`{"Image":"busybox","Cmd":["sleep","300"],"NetworkingConfig":{"EndpointsConfig":{"only":{"Aliases":["web"]}}}}`)
	if status != 201 {
		t.Fatalf("create: %d %s", status, body)
	}
	d.mustDocker(t, "start", "epc")
	if got := d.mustDocker(t, "inspect", "-f", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}", "epc"); got != "only \n" {
		t.Errorf("networks of epc: %q, want only", got)
	}
	if got := d.mustDocker(t, "run", "--rm", "--network", "only", "busybox", "nslookup", "web"); !strings.Contains(got, "Name:") {
		t.Errorf("the alias on only does not resolve:\n%s", got)
	}
	d.mustDocker(t, "run", "-d", "--name", "plain", "busybox", "sleep", "300")
	if got := d.mustDocker(t, "inspect", "-f", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}", "plain"); got != "bridge \n" {
		t.Errorf("networks of a plain run: %q, want bridge", got)
	}
}

// TestNetworkModeByIDAndContainerWideMAC: Watchtower's re-create (API
// 1.25: NetworkMode names the network by ID, EndpointsConfig by name, the
// MAC address container-wide) gives one endpoint with the address and the
// MAC, as dockerd migrates them; an old client's container-wide MAC on
// the default bridge is the container's; from API 1.44 it comes with
// dockerd's deprecation warning and must agree with the endpoint's.
func TestNetworkModeByIDAndContainerWideMAC(t *testing.T) {
	d, _, _ := newNetDaemon(t)
	netID := strings.TrimSpace(d.mustDocker(t, "network", "create", "--subnet", "10.213.79.0/24", "wt"))
	status, body := rawRequest(t, d, "POST", "/v1.25/containers/create?name=wt1", "application/json",
		`{"Image":"busybox","Cmd":["sleep","300"],"MacAddress":"02:42:ac:11:00:42","HostConfig":{"NetworkMode":"`+netID+`"},`+
			`"NetworkingConfig":{"EndpointsConfig":{"wt":{"IPAMConfig":{"IPv4Address":"10.213.79.9"}}}}}`)
	if status != 201 {
		t.Fatalf("create: %d %s", status, body)
	}
	if _, errOut, err := d.docker(t, "start", "wt1"); err != nil {
		t.Fatalf("start: %v %s", err, errOut)
	}
	if got := d.mustDocker(t, "inspect", "-f", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{$v.IPAddress}} {{$v.MacAddress}};{{end}}", "wt1"); got != "wt 10.213.79.9 02:42:ac:11:00:42;\n" {
		t.Errorf("networks of wt1: %q, want wt with 10.213.79.9 and 02:42:ac:11:00:42", got)
	}
	if got := d.mustDocker(t, "exec", "wt1", "cat", "/sys/class/net/eth0/address"); got != "02:42:ac:11:00:42\n" {
		t.Errorf("eth0 of wt1: %q", got)
	}
	status, body = rawRequest(t, d, "POST", "/v1.41/containers/create?name=wt2", "application/json",
		`{"Image":"busybox","Cmd":["cat","/sys/class/net/eth0/address"],"MacAddress":"02:42:ac:11:00:43"}`)
	if status != 201 {
		t.Fatalf("create on the default bridge: %d %s", status, body)
	}
	if out, errOut, err := d.docker(t, "start", "-a", "wt2"); err != nil || out != "02:42:ac:11:00:43\n" {
		t.Errorf("container-wide MAC on the default bridge: %q %v %s", out, err, errOut)
	}
	status, body = rawRequest(t, d, "POST", "/v1.44/containers/create?name=wt3", "application/json",
		`{"Image":"busybox","MacAddress":"02:42:ac:11:00:44","HostConfig":{"NetworkMode":"wt"}}`)
	if status != 201 || !strings.Contains(body, "The container-wide MacAddress field is now deprecated") {
		t.Errorf("API 1.44 create with a container-wide MAC: %d %s, want dockerd's warning", status, body)
	}
	status, body = rawRequest(t, d, "POST", "/v1.44/containers/create?name=wt4", "application/json",
		`{"Image":"busybox","MacAddress":"02:42:ac:11:00:45","HostConfig":{"NetworkMode":"wt"},"NetworkingConfig":{"EndpointsConfig":{"wt":{"MacAddress":"02:42:ac:11:00:46"}}}}`)
	if status != 400 || !strings.Contains(body, "the container-wide MAC address must match the endpoint-specific MAC address") {
		t.Errorf("disagreeing MAC addresses: %d %s, want 400", status, body)
	}
	d.mustDocker(t, "rm", "-f", "wt1", "wt2", "wt3")
}

// TestConnectEventsOnce: connecting a created container sends "connect"
// once, when it starts, as dockerd does; a running one's, at the connect.
func TestConnectEventsOnce(t *testing.T) {
	d, _, _ := newNetDaemon(t)
	d.mustDocker(t, "network", "create", "late")
	since := time.Now().Unix()
	d.mustDocker(t, "create", "--name", "ce", "busybox", "sleep", "300")
	d.mustDocker(t, "network", "connect", "late", "ce")
	d.mustDocker(t, "start", "ce")
	d.mustDocker(t, "run", "-d", "--name", "ce2", "busybox", "sleep", "300")
	d.mustDocker(t, "network", "connect", "late", "ce2")
	out := d.eventsSince(t, since, "{{.Actor.Attributes.container}}", "event=connect", "network=late")
	ids := strings.Fields(out)
	ce := strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{.Id}}", "ce"))
	ce2 := strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{.Id}}", "ce2"))
	if len(ids) != 2 || ids[0] != ce || ids[1] != ce2 {
		t.Errorf("connect events on late: %q, want one for ce (%s), then one for ce2 (%s)", ids, ce[:12], ce2[:12])
	}
}

// eventsSince is docker events from since (Unix seconds) to now, with the
// filters, in format.
func (d *daemon) eventsSince(t *testing.T, since int64, format string, filters ...string) string {
	t.Helper()
	args := []string{"events", "--since", fmt.Sprint(since), "--until", fmt.Sprint(time.Now().Unix() + 1), "--format", format}
	for _, f := range filters {
		args = append(args, "--filter", f)
	}
	return d.mustDocker(t, args...)
}

// TestLinksOnUserNetwork: --link on a user-defined network, and network
// connect --link, make the embedded DNS answer the alias for the linking
// container alone, as dockerd's does.
func TestLinksOnUserNetwork(t *testing.T) {
	d, _, _ := newNetDaemon(t)
	d.mustDocker(t, "network", "create", "ln")
	d.mustDocker(t, "run", "-d", "--name", "srv", "--network", "ln", "busybox", "sleep", "300")
	ip := d.ipOf(t, "srv", "ln")
	if got := d.mustDocker(t, "run", "--rm", "--network", "ln", "--link", "srv:lk", "busybox", "nslookup", "lk"); !strings.Contains(got, ip) {
		t.Errorf("nslookup lk with --link srv:lk: %q, want %s", got, ip)
	}
	// /etc/hosts has no entry for it (an address there would go stale
	// when srv is recreated), as with dockerd.
	if got := d.mustDocker(t, "run", "--rm", "--network", "ln", "--link", "srv:lk", "busybox", "cat", "/etc/hosts"); strings.Contains(got, ip) || strings.Contains(got, "lk") {
		t.Errorf("/etc/hosts with --link srv:lk on a user network:\n%s", got)
	}
	if _, _, err := d.docker(t, "run", "--rm", "--network", "ln", "busybox", "nslookup", "lk"); err == nil {
		t.Errorf("lk resolves for a container without the link")
	}
	d.mustDocker(t, "run", "-d", "--name", "cli", "busybox", "sleep", "300")
	d.mustDocker(t, "network", "connect", "--link", "srv:lk2", "ln", "cli")
	if got := d.mustDocker(t, "exec", "cli", "nslookup", "lk2"); !strings.Contains(got, ip) {
		t.Errorf("nslookup lk2 after network connect --link: %q, want %s", got, ip)
	}
}

// TestRestartKeepsAddress: docker restart keeps a container's address, a
// static one (--ip: it failed, "already in use", while the old pair was
// being deleted) and a dynamic one, as with dockerd.
func TestRestartKeepsAddress(t *testing.T) {
	d, _, _ := newNetDaemon(t)
	d.mustDocker(t, "network", "create", "--subnet", "10.213.79.0/24", "sticky")
	d.mustDocker(t, "run", "-d", "--name", "st", "--network", "sticky", "--ip", "10.213.79.10", "busybox", "sleep", "300")
	d.mustDocker(t, "run", "-d", "--name", "dy", "--network", "sticky", "busybox", "sleep", "300")
	dyIP := d.ipOf(t, "dy", "sticky")
	for i := 0; i < 4; i++ {
		for _, name := range []string{"st", "dy"} {
			if _, errOut, err := d.docker(t, "restart", "-t", "0", name); err != nil {
				t.Fatalf("restart %d of %s: %v %s", i, name, err, errOut)
			}
		}
		if ip := d.ipOf(t, "st", "sticky"); ip != "10.213.79.10" {
			t.Errorf("restart %d: st has %s, want its --ip 10.213.79.10", i, ip)
		}
		if ip := d.ipOf(t, "dy", "sticky"); ip != dyIP {
			t.Errorf("restart %d: dy has %s, had %s", i, ip, dyIP)
		}
	}
}

// TestHostnameResolves: on a user network a container's --hostname is a
// DNS name too (DNSNames lists it; Aliases do not), as dockerd answers it.
func TestHostnameResolves(t *testing.T) {
	d, _, _ := newNetDaemon(t)
	d.mustDocker(t, "network", "create", "hn")
	d.mustDocker(t, "run", "-d", "--name", "hnc", "--hostname", "h1", "--network", "hn", "busybox", "sleep", "300")
	if got := d.mustDocker(t, "run", "--rm", "--network", "hn", "busybox", "nslookup", "h1"); !strings.Contains(got, "Name:") {
		t.Errorf("nslookup h1 (hnc's hostname):\n%s", got)
	}
	got := d.mustDocker(t, "inspect", "-f", "{{json .NetworkSettings.Networks.hn.DNSNames}} {{json .NetworkSettings.Networks.hn.Aliases}}", "hnc")
	if !strings.Contains(got, `"h1"`) || strings.Contains(strings.Fields(got)[1], "h1") {
		t.Errorf("DNSNames and Aliases of hnc: %s, want h1 among the DNS names only", got)
	}
}

// TestLegacyLinkEnv: --link on the default bridge gives the linking
// container docker's variables of the linked one (and /etc/hosts names);
// on a user network only the name.
func TestLegacyLinkEnv(t *testing.T) {
	d, _, _ := newNetDaemon(t)
	d.mustDocker(t, "run", "-d", "--name", "db", "-e", "PASSWORD=secret", "--expose", "5432", "busybox", "sleep", "300")
	ip := d.ipOf(t, "db", "bridge")
	got := d.mustDocker(t, "run", "--rm", "--name", "app", "--link", "db:store", "busybox", "sh", "-c", "env | grep ^STORE_ | sort; grep -w store /etc/hosts")
	for _, want := range []string{
		"STORE_NAME=/app/store\n", "STORE_PORT=tcp://" + ip + ":5432\n", "STORE_PORT_5432_TCP_ADDR=" + ip + "\n",
		"STORE_ENV_PASSWORD=secret\n", ip + "\tstore",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("linked container's view lacks %q:\n%s", want, got)
		}
	}
	// The link as dockerd records it: HostConfig.Links "/db:/app2/store",
	// db also listed as /app2/store, and found by that name; a rename of
	// the linking container keeps the link's name current.
	d.mustDocker(t, "run", "-d", "--name", "app2", "--link", "db:store", "busybox", "sleep", "300")
	if got := strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{json .HostConfig.Links}}", "app2")); got != `["/db:/app2/store"]` {
		t.Errorf("HostConfig.Links: %s", got)
	}
	if got := strings.TrimSpace(d.mustDocker(t, "ps", "--no-trunc", "--filter", "name=^/db$", "--format", "{{.Names}}")); got != "db,app2/store" {
		t.Errorf("ps names of the linked container: %q, want db,app2/store", got)
	}
	dbID := strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{.Id}}", "db"))
	d.mustDocker(t, "rename", "app2", "app3")
	if got := strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{.Id}}", "app3/store")); got != dbID {
		t.Errorf("inspect app3/store: %q, want db's ID", got)
	}
	// Renames of either side show in HostConfig.Links, and the link still
	// works at the next start.
	d.mustDocker(t, "rename", "db", "db2")
	if got := strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{json .HostConfig.Links}}", "app3")); got != `["/db2:/app3/store"]` {
		t.Errorf("HostConfig.Links after the renames: %s, want [\"/db2:/app3/store\"]", got)
	}
	d.mustDocker(t, "restart", "-t", "0", "app3")
	if got := d.mustDocker(t, "exec", "app3", "grep", "-w", "store", "/etc/hosts"); !strings.Contains(got, ip+"\tstore") {
		t.Errorf("/etc/hosts of app3 after the renames and a restart: %q", got)
	}
	d.mustDocker(t, "rename", "db2", "db")
	// docker exec has the link's variables too; /etc/hosts names the
	// linked container by alias, hostname (-h) and name, as dockerd's.
	if got := d.mustDocker(t, "exec", "app3", "sh", "-c", "echo $STORE_NAME"); got != "/app3/store\n" {
		t.Errorf("exec in the linking container: STORE_NAME=%q, want /app3/store", got)
	}
	d.mustDocker(t, "run", "-d", "--name", "fredbox", "-h", "fred", "busybox", "sleep", "300")
	if got := d.mustDocker(t, "run", "--rm", "--link", "fredbox:fb", "busybox", "sh", "-c", "grep -c -w -e fb -e fred -e fredbox /etc/hosts"); got != "3\n" {
		t.Errorf("/etc/hosts names of a linked container with -h fred: %q lines, want alias, hostname and name", got)
	}
	// A link to a container that does not run fails the start, as
	// dockerd's ("Cannot link to a non running container").
	d.mustDocker(t, "create", "--name", "stoppedtarget", "busybox", "true")
	if _, errOut, err := d.docker(t, "run", "--rm", "--link", "stoppedtarget:st", "busybox", "true"); err == nil || !strings.Contains(errOut, "Cannot link to a non running container: /stoppedtarget AS") {
		t.Errorf("link to a created container: %v %s", err, errOut)
	}
	// On a user network a link may name a container that comes later.
	d.mustDocker(t, "network", "create", "fwd")
	d.mustDocker(t, "run", "-d", "--name", "early", "--network", "fwd", "--link", "later:lt", "busybox", "sleep", "300")
	d.mustDocker(t, "run", "-d", "--name", "later", "--network", "fwd", "busybox", "sleep", "300")
	if got := d.mustDocker(t, "exec", "early", "nslookup", "lt"); !strings.Contains(got, d.ipOf(t, "later", "fwd")) {
		t.Errorf("a forward link on a user network does not resolve:\n%s", got)
	}
	// docker rm --link takes the link away and leaves both containers:
	// no alias in the linker's /etc/hosts or HostConfig.Links, no name
	// for db, and the same after a restart of the linker.
	if out, errOut, err := d.docker(t, "rm", "--link", "/app3/store"); err != nil || out != "/app3/store\n" {
		t.Fatalf("rm --link /app3/store: %q %v %s", out, err, errOut)
	}
	if got := d.mustDocker(t, "exec", "app3", "cat", "/etc/hosts"); strings.Contains(got, "store") {
		t.Errorf("/etc/hosts of app3 after rm --link:\n%s", got)
	}
	if got := strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{json .HostConfig.Links}}", "app3")); got != "null" {
		t.Errorf("HostConfig.Links after rm --link: %s", got)
	}
	if _, _, err := d.docker(t, "inspect", "app3/store"); err == nil {
		t.Errorf("app3/store still names a container after rm --link")
	}
	d.mustDocker(t, "restart", "-t", "0", "app3")
	if got := d.mustDocker(t, "exec", "app3", "cat", "/etc/hosts"); strings.Contains(got, "store") {
		t.Errorf("/etc/hosts of app3 after rm --link and a restart:\n%s", got)
	}
	if got := strings.TrimSpace(d.mustDocker(t, "ps", "--format", "{{.Names}}", "--filter", "name=^/(db|app3)$")); got != "app3\ndb" && got != "db\napp3" {
		t.Errorf("containers after rm --link: %q, want db and app3 still running", got)
	}
	if _, errOut, err := d.docker(t, "rm", "--link", "/app3/nosuch"); exitCode(err) != 1 || !strings.Contains(errOut, "No such container: /app3/nosuch") {
		t.Errorf("rm --link of an unknown link: exit %d %s", exitCode(err), errOut)
	}
	if _, errOut, err := d.docker(t, "rm", "--link", "db"); exitCode(err) != 1 || !strings.Contains(errOut, "Conflict, cannot remove the default link name of the container") {
		t.Errorf("rm --link of a container's own name: exit %d %s", exitCode(err), errOut)
	}
}

// TestGatewayPriority: the default route goes via the network with the
// highest --gw-priority (docker 28's), and moves back when that network
// is disconnected; disconnecting the network that has it gives it to the
// next one, as dockerd does.
func TestGatewayPriority(t *testing.T) {
	d, _, _ := newNetDaemon(t)
	d.mustDocker(t, "network", "create", "--subnet", "10.213.81.0/24", "gwa")
	d.mustDocker(t, "network", "create", "--subnet", "10.213.82.0/24", "gwb")
	d.mustDocker(t, "run", "-d", "--name", "gw", "--network", "gwa", "busybox", "sleep", "300")
	route := func() string {
		t.Helper()
		out := d.mustDocker(t, "exec", "gw", "ip", "route", "show", "default")
		return strings.Join(strings.Fields(out), " ")
	}
	if got := route(); !strings.Contains(got, "via 10.213.81.1 dev eth0") {
		t.Fatalf("default route on gwa alone: %q", got)
	}
	d.mustDocker(t, "network", "connect", "--gw-priority", "100", "gwb", "gw")
	if got := route(); !strings.Contains(got, "via 10.213.82.1 dev eth1") {
		t.Errorf("after connect --gw-priority 100 gwb: %q, want via 10.213.82.1 dev eth1", got)
	}
	if got := strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{.NetworkSettings.Networks.gwb.GwPriority}}", "gw")); got != "100" {
		t.Errorf("inspect GwPriority: %q", got)
	}
	d.mustDocker(t, "network", "disconnect", "gwb", "gw")
	if got := route(); !strings.Contains(got, "via 10.213.81.1 dev eth0") {
		t.Errorf("after disconnect of gwb: %q, want via 10.213.81.1 dev eth0", got)
	}
	// Without priorities the route stays where it is on connect, and
	// moves when its network goes.
	d.mustDocker(t, "network", "connect", "gwb", "gw")
	if got := route(); !strings.Contains(got, "dev eth0") {
		t.Errorf("after a plain connect: %q, want it still on eth0", got)
	}
	d.mustDocker(t, "network", "disconnect", "gwa", "gw")
	if got := route(); !strings.Contains(got, "via 10.213.82.1") {
		t.Errorf("after disconnect of gwa: %q, want via 10.213.82.1", got)
	}
	// The interface's name, as asked (Compose's interface_name).
	d.mustDocker(t, "network", "connect", "--driver-opt", "com.docker.network.endpoint.ifname=front0", "gwa", "gw")
	if out, _, err := d.docker(t, "exec", "gw", "ip", "-4", "-o", "addr", "show", "dev", "front0"); err != nil || !strings.Contains(out, "10.213.81.") {
		t.Errorf("interface front0 on gwa: %v %q", err, out)
	}
	if _, errOut, err := d.docker(t, "run", "--rm", "--network", "name=gwa,driver-opt=com.docker.network.endpoint.ifname=a/b", "busybox", "true"); err == nil || !strings.Contains(errOut, "invalid interface name") {
		t.Errorf("an invalid interface name: %v %s", err, errOut)
	}
}
