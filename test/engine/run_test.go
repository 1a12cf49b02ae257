package engine

import (
	"strings"
	"testing"
)

func TestRunRmEcho(t *testing.T) {
	d := newDaemon(t)
	out := d.mustDocker(t, "run", "--rm", "busybox", "echo", "hi")
	if out != "hi\n" {
		t.Fatalf("run --rm busybox echo hi printed %q, want %q", out, "hi\n")
	}
	if ps := d.mustDocker(t, "ps", "-aq"); strings.TrimSpace(ps) != "" {
		t.Fatalf("run --rm left containers: %q", ps)
	}
}
