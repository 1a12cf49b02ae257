package networkapi

import (
	"regexp"
	"strings"
	"testing"
)

// step is one command of the parity script; stdin feeds prompts.
type step struct {
	args  []string
	stdin string
	code  int // the exit code both CLIs must give
}

func cmd(code int, args ...string) step { return step{args: args, code: code} }

var (
	fullID    = regexp.MustCompile(`\b[0-9a-f]{64}\b`)
	shortID   = regexp.MustCompile(`\b[0-9a-f]{12}\b`)
	timestamp = regexp.MustCompile(`\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?( [+-]\d{4} \w+)?`)
)

// normalize makes two runs of the script comparable: network IDs and
// creation times differ between them, and the binary names its usage.
func normalize(s string) string {
	s = fullID.ReplaceAllString(s, "<ID>")
	s = shortID.ReplaceAllString(s, "<ID12>")
	s = timestamp.ReplaceAllString(s, "<TIME>")
	return strings.ReplaceAll(s, "docker", "berth")
}

// TestNetworkCLIParity runs one script of network commands twice on the
// same daemon, once with the docker CLI and once with `berth`, removing
// what the first run made in between, and wants the same output and exit
// code from every step.
func TestNetworkCLIParity(t *testing.T) {
	d := newDaemon(t)
	brName := "ptbr" + strings.ToLower(d.chainPrefix[3:])
	script := []step{
		cmd(0, "network", "ls"),
		cmd(0, "network", "create", "ptnet1"),
		cmd(0, "network", "create", "--subnet", "10.213.50.0/24", "--gateway", "10.213.50.254", "--ip-range", "10.213.50.128/25",
			"--label", "tier=db", "--label", "env=test", "--internal", "--attachable", "ptnet2"),
		cmd(0, "network", "create", "-d", "bridge", "--label", "tier=web", "-o", "com.docker.network.bridge.name="+brName,
			"-o", "com.docker.network.driver.mtu=1400", "ptnet10"),
		cmd(0, "network", "create", "--ipv6", "--subnet", "fd12:3456:789a:1::/64", "ptv6"),
		cmd(1, "network", "create", "ptnet1"),
		cmd(1, "network", "create", "--driver", "nosuchdriver", "ptx"),
		cmd(1, "network", "create", "-d", "host", "ptx"),
		cmd(1, "network", "create", "bridge"),
		cmd(1, "network", "create", "none"),
		cmd(1, "network", "create", "--subnet", "10.213.50.0/25", "ptover"),
		cmd(1, "network", "create", "--gateway", "10.0.0.1", "ptx"),
		cmd(1, "network", "create", "--subnet", "10.213.60.0/24", "--gateway", "10.213.61.1", "ptx"),
		cmd(1, "network", "create", "--ipam-driver", "nosuchipam", "ptx"),
		cmd(0, "network", "ls"),
		cmd(0, "network", "list", "-q"),
		cmd(0, "network", "ls", "--no-trunc"),
		// docker 28 joins Labels in map order: only one label where shown.
		cmd(0, "network", "ls", "--format", "{{.Name}} {{.Driver}} {{.Scope}} {{.Internal}} {{.IPv6}} {{.Label \"tier\"}}"),
		cmd(0, "network", "ls", "--format", "table {{.Name}}\t{{.Internal}}\t{{.IPv4}}\t{{.CreatedAt}}"),
		cmd(0, "network", "ls", "-f", "name=ptnet10", "--format", "table {{.ID}}\t{{.Labels}}"),
		cmd(0, "network", "ls", "-f", "name=ptnet10", "--format", "json"),
		cmd(0, "network", "ls", "--format", "raw"),
		cmd(0, "network", "ls", "--filter", "driver=bridge"),
		cmd(0, "network", "ls", "--filter", "driver=null"),
		cmd(0, "network", "ls", "-f", "label=tier=db"),
		cmd(0, "network", "ls", "-f", "label=tier"),
		cmd(0, "network", "ls", "-f", "name=ptnet1"),
		cmd(0, "network", "ls", "-f", "type=custom", "--format", "{{.Name}}"),
		cmd(0, "network", "ls", "-f", "type=builtin", "--format", "{{.Name}}"),
		cmd(0, "network", "ls", "-f", "dangling=true", "--format", "{{.Name}}"),
		cmd(0, "network", "ls", "-f", "scope=local", "-q"),
		cmd(1, "network", "ls", "-f", "type=bogus"),
		cmd(1, "network", "ls", "-f", "bogus=1"),
		cmd(0, "network", "inspect", "ptnet2"),
		cmd(0, "network", "inspect", "ptnet10", "bridge"),
		cmd(0, "network", "inspect", "host", "none"),
		cmd(0, "network", "inspect", "ptv6"),
		cmd(0, "network", "inspect", "--format", `{{.Name}} {{range .IPAM.Config}}{{.Subnet}} {{.Gateway}} {{.IPRange}}{{end}} {{.Internal}} {{.Attachable}} {{index .Labels "tier"}}`, "ptnet2"),
		cmd(0, "network", "inspect", "-v", "--format", "{{json .Options}} {{len .Containers}}", "ptnet10"),
		cmd(1, "network", "inspect", "nosuch"),
		cmd(1, "network", "inspect", "ptnet1", "nosuch"),
		cmd(1, "network", "rm", "nosuch"),
		cmd(1, "network", "rm", "bridge"),
		cmd(1, "network", "rm", "host", "none"),
		cmd(0, "network", "rm", "-f", "nosuch"),
		cmd(1, "network", "connect", "nosuch", "c1"),
		cmd(1, "network", "disconnect", "nosuch", "c1"),
		cmd(0, "network", "rm", "ptnet10"),
		cmd(0, "network", "prune", "-f", "--filter", "label=tier=db"),
		{args: []string{"network", "prune"}, stdin: "n\n"},
		{args: []string{"network", "prune"}, stdin: "y\n"},
		cmd(0, "network", "prune", "-f"),
		cmd(0, "network", "ls"),
	}
	runScript := func(bin string) []result {
		var out []result
		for _, s := range script {
			out = append(out, run(t, d, bin, s.stdin, s.args...))
		}
		// Undo what the script left (it ends with nothing but the
		// predefined networks; make sure).
		run(t, d, env.berth, "", "network", "prune", "-f")
		return out
	}
	docker := runScript(dockerCLI)
	berth := runScript(env.berth)
	for i, s := range script {
		dr, br := docker[i], berth[i]
		if dr.code != s.code {
			t.Errorf("docker %s: exit %d, want %d\n%s", strings.Join(s.args, " "), dr.code, s.code, dr)
		}
		if normalize(dr.stdout) != normalize(br.stdout) || normalize(dr.stderr) != normalize(br.stderr) || dr.code != br.code {
			t.Errorf("%s differs:\n--- docker:\n%s\n--- berth:\n%s", strings.Join(s.args, " "), dr, br)
		}
	}
	if t.Failed() {
		t.Logf("daemon log:\n%s", readFile(d.LogFile))
	}
}
