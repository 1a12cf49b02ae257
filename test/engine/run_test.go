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
