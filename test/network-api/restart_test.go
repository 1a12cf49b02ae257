package networkapi

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNetworksSurviveRestart: a stopped idle daemon leaves no bridge on
// the host, and the next start brings its networks back with their IDs,
// subnets and bridges.
func TestNetworksSurviveRestart(t *testing.T) {
	d := newDaemon(t)
	r := run(t, d, env.berth, "", "network", "create", "--subnet", "10.213.70.0/24", "--label", "k=v", "ptkeep")
	if r.code != 0 {
		t.Fatalf("create: %s", r)
	}
	id := strings.TrimSpace(r.stdout)
	bridge := "br-" + id[:12]
	if err := exec.Command("ip", "link", "show", bridge).Run(); err != nil {
		t.Fatalf("bridge %s of the new network: %v", bridge, err)
	}
	d.Stop(t)
	if left := d.leftovers(t); len(left) > 0 {
		t.Errorf("a stopped idle daemon left:\n%s", strings.Join(left, "\n"))
	}
	d.Start(t)
	r = run(t, d, dockerCLI, "", "network", "inspect", "--format", "{{.Id}} {{range .IPAM.Config}}{{.Subnet}}{{end}} {{.Labels}}", "ptkeep")
	if want := id + " 10.213.70.0/24 map[k:v]\n"; r.code != 0 || r.stdout != want {
		t.Errorf("after restart: %s, want %q", r, want)
	}
	out, err := exec.Command("ip", "-o", "addr", "show", bridge).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "10.213.70.1/24") {
		t.Errorf("bridge %s after restart: %v %s", bridge, err, out)
	}
	if r := run(t, d, dockerCLI, "", "network", "rm", "ptkeep"); r.code != 0 || r.stdout != "ptkeep\n" {
		t.Errorf("rm: %s", r)
	}
}
