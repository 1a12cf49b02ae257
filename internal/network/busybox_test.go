package network

import (
	"context"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// withResolvConf gives the namespace its own /etc/resolv.conf for `ip
// netns exec` (which bind-mounts /etc/netns/NAME/* over /etc).
func withResolvConf(t *testing.T, nsPath string, data []byte) {
	t.Helper()
	dir := filepath.Join("/etc/netns", nsName(nsPath))
	_, err := os.Stat("/etc/netns")
	madeParent := os.IsNotExist(err)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.RemoveAll(dir)
		if madeParent {
			os.Remove("/etc/netns") // only if empty: other tests may use it too
		}
	})
	if err := os.WriteFile(filepath.Join(dir, "resolv.conf"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBusyboxByName: busybox nc in one namespace fetches from busybox
// httpd in another by container name (busybox-static's wget crashes on this
// machine, even with an IP address), through the resolv.conf ResolvConf
// writes and the embedded DNS; a namespace on another network cannot.
func TestBusyboxByName(t *testing.T) {
	requireRoot(t)
	if _, err := exec.LookPath("busybox"); err != nil {
		t.Skip("needs busybox")
	}
	ctx := context.Background()
	m := newTestManager(t, newTestConfig(t))
	for i, name := range []string{"app", "other"} {
		if _, err := m.Create(ctx, NetworkConfig{Name: name, Subnet: netip.MustParsePrefix([]string{"10.246.101.0/24", "10.246.102.0/24"}[i])}); err != nil {
			t.Fatal(err)
		}
	}
	web, client, outsider := newNetns(t), newNetns(t), newNetns(t)
	for _, c := range []struct{ net, id, ns, name string }{
		{"app", "web1", web, "web"}, {"app", "client1", client, "client"}, {"other", "out1", outsider, "outsider"},
	} {
		if _, err := m.Connect(ctx, c.net, c.id, c.ns, EndpointConfig{Name: c.name}); err != nil {
			t.Fatal(err)
		}
		withResolvConf(t, c.ns, ResolvConf([]byte("nameserver 127.0.0.53\n"), ResolvOptions{Embedded: true}))
	}
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "index.html"), []byte("served by web\n"), 0o644)
	httpd := exec.Command("ip", "netns", "exec", nsName(web), "busybox", "httpd", "-f", "-p", "8080", "-h", root)
	if err := httpd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { httpd.Process.Kill(); httpd.Wait() })

	// Wait until httpd listens (its start, not the network, is what takes time).
	webIP := m.ContainerEndpoints(ctx, "web1")[mustGet(t, m, "app").ID].IP
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var c net.Conn
		err := inNetns(web, func() (err error) { c, err = net.Dial("tcp4", webIP.String()+":8080"); return err })
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("busybox httpd does not listen: %v", err)
		}
	}
	out, err := httpGet(client, "web")
	if err != nil || !strings.HasSuffix(string(out), "\r\n\r\nserved by web\n") {
		t.Fatalf("GET http://web:8080/ from the same network: %v: %q", err, out)
	}
	out, err = httpGet(outsider, "web")
	if err == nil || strings.Contains(string(out), "served by web") {
		t.Fatalf("GET http://web:8080/ from another network: %v: %q; want a failure", err, out)
	}
	if !strings.Contains(string(out), "bad address") {
		t.Fatalf("GET from another network: want the name not to resolve (bad address), got %q", out)
	}
}

// httpGet asks host:8080 for / with busybox nc inside the namespace.
func httpGet(nsPath, host string) ([]byte, error) {
	cmd := exec.Command("ip", "netns", "exec", nsName(nsPath), "busybox", "nc", "-w", "2", host, "8080")
	cmd.Stdin = strings.NewReader("GET / HTTP/1.0\r\n\r\n")
	return cmd.CombinedOutput()
}
