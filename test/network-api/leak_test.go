package networkapi

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// mountsUnder lists the mount points below dir.
func mountsUnder(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			out = append(out, f[4])
		}
	}
	return out
}

// TestNothingLeftAfterRemoval runs containers with everything that puts
// something on the host (a user network with IPv6, the default bridge,
// published ports on both families, a named and an anonymous volume, a
// tmpfs volume), removes them with rm -f -v, volume rm and network rm
// while the daemon runs, and finds nothing of them left: no link (within
// 5 s: veth pairs of stopped containers are deleted in the background), no
// iptables or ip6tables rule naming them, no mount or namespace file
// below the daemon's roots, an empty volumes directory. The daemon's
// cleanup then checks that the stopped daemon left no bridge or chain.
func TestNothingLeftAfterRemoval(t *testing.T) {
	d := newDaemon(t)
	d.withBusybox(t)
	netID := strings.TrimSpace(d.docker(t, "network", "create", "--ipv6", "--subnet", "10.213.85.0/24", "--subnet", "fd00:b7:85::/64", "ptleak"))
	d.docker(t, "volume", "create", "ptvol")
	d.docker(t, "volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=1m", "pttmp")
	var ids []string
	for _, args := range [][]string{
		{"--network", "ptleak", "-p", freePort(t) + ":80", "-p", "127.0.0.1::81/udp", "-v", "ptvol:/named", "-v", "/anon", "-v", "pttmp:/tmpfs"},
		{"-p", freePort(t) + ":80", "-v", "/anon2"},
	} {
		a := append([]string{"run", "-d"}, args...)
		ids = append(ids, strings.TrimSpace(d.docker(t, append(a, "busybox", "sleep", "300")...)))
	}
	if got := d.docker(t, "exec", ids[0], "sh", "-c", "echo x > /named/f && echo y > /tmpfs/f && cat /named/f /tmpfs/f"); got != "x\ny\n" {
		t.Fatalf("writing into the volumes: %q", got)
	}
	d.docker(t, append([]string{"rm", "-f", "-v"}, ids...)...)
	d.docker(t, "volume", "rm", "ptvol", "pttmp")
	d.docker(t, "network", "rm", "ptleak")

	// The veth pairs of stopped containers are deleted in the background
	// (the kernel takes 10 to 30 ms each): they must be gone within 5 s.
	var left []string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		left = nil
		out, _ := exec.Command("ip", "-o", "link", "show").CombinedOutput()
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, netID) || strings.Contains(line, "br-"+netID[:12]) {
				left = append(left, "ip link: "+line)
			}
			for _, id := range ids {
				if strings.Contains(line, id) {
					left = append(left, "ip link: "+line)
				}
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
	}
	for _, tool := range []string{"iptables-save", "ip6tables-save"} {
		out, _ := exec.Command(tool).CombinedOutput()
		for _, line := range strings.Split(string(out), "\n") {
			for _, owner := range append([]string{netID}, ids...) {
				if strings.Contains(line, "berth:"+owner) {
					left = append(left, tool+": "+line)
				}
			}
		}
	}
	for _, m := range mountsUnder(t, d.Dir) {
		// The data root's bind on itself (a host whose / is private) is
		// the daemon's while it runs; the cleanup checks it goes with it.
		if m != d.DataRoot {
			left = append(left, "mount: "+m)
		}
	}
	for _, dir := range []string{filepath.Join(d.DataRoot, "volumes"), filepath.Join(d.Dir, "exec", "netns")} {
		des, err := os.ReadDir(dir)
		if err != nil && !os.IsNotExist(err) {
			t.Errorf("%s: %v", dir, err)
		}
		for _, de := range des {
			left = append(left, filepath.Join(dir, de.Name()))
		}
	}
	if len(left) > 0 {
		t.Errorf("left after removing the containers, volumes and network:\n%s", strings.Join(left, "\n"))
	}
}
