package engine

import (
	"strings"
	"testing"
)

func TestRunRmEcho(t *testing.T) {
	d := newDaemon(t)
	// Repeated: the attach must be connected before the process runs, or
	// a fast process's output is lost.
	for i := range 15 {
		out := d.mustDocker(t, "run", "--rm", "busybox", "echo", "hi")
		if out != "hi\n" {
			t.Fatalf("run %d: run --rm busybox echo hi printed %q, want %q", i, out, "hi\n")
		}
	}
	if ps := d.mustDocker(t, "ps", "-aq"); strings.TrimSpace(ps) != "" {
		t.Fatalf("run --rm left containers: %q", ps)
	}
}

// TestEnvOrder: the variables given to run come first in Config.Env, then
// the image's they do not set, as dockerd merges them.
func TestEnvOrder(t *testing.T) {
	d := newDaemon(t)
	d.mustDocker(t, "create", "--name", "envs", "-e", "B=2", "-e", "A=1", "busybox")
	// (The docker CLI may reorder the -e values among themselves.)
	got := strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{json .Config.Env}}", "envs"))
	if !strings.HasPrefix(got, `["B=2","A=1","PATH=`) && !strings.HasPrefix(got, `["A=1","B=2","PATH=`) {
		t.Errorf("Config.Env %s, want the given variables, then the image's PATH", got)
	}
}

// TestTmpfsMounts: --tmpfs shows in HostConfig.Tmpfs only, a --mount
// type=tmpfs among the Mounts, as dockerd's inspect has them.
func TestTmpfsMounts(t *testing.T) {
	d := newDaemon(t)
	d.mustDocker(t, "create", "--name", "tm", "--tmpfs", "/flag", "--mount", "type=tmpfs,dst=/mnt", "busybox")
	got := d.mustDocker(t, "inspect", "-f", "{{range .Mounts}}{{.Type}}:{{.Destination}} {{end}}| {{range $k, $v := .HostConfig.Tmpfs}}{{$k}} {{end}}", "tm")
	if got != "tmpfs:/mnt | /flag \n" {
		t.Errorf("Mounts | HostConfig.Tmpfs: %q, want tmpfs:/mnt | /flag", got)
	}
}

// TestInspectUnescapedAndEmptyHome: JSON answers are not HTML-escaped, as
// dockerd's (inspect shows "a&b<c>"), and an empty HOME is set from
// /etc/passwd under the berth runtime as under runc.
func TestInspectUnescapedAndEmptyHome(t *testing.T) {
	d := newDaemon(t)
	d.mustDocker(t, "create", "--name", "amp", "-e", "A=a&b<c>", "busybox")
	if raw := d.mustDocker(t, "inspect", "amp"); !strings.Contains(raw, `"A=a&b<c>"`) {
		t.Errorf("inspect escapes the environment: %s", raw)
	}
	for _, rt := range []string{"berth", "runc"} {
		if got := d.mustDocker(t, "run", "--rm", "--runtime", rt, "-e", "HOME=", "busybox", "sh", "-c", "echo HOME=$HOME"); got != "HOME=/root\n" {
			t.Errorf("-e HOME= under %s: %q, want HOME=/root", rt, got)
		}
	}
}
