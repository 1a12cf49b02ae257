package engine

import (
	"strings"
	"testing"
	"time"
)

func TestStartAttachRestartPruneInfo(t *testing.T) {
	d := newDaemon(t)
	d.mustDocker(t, "create", "--name", "sa", "--label", "prune=1", "busybox", "sh", "-c", "echo started; exit 2")
	out, _, err := d.docker(t, "start", "-a", "sa")
	if exitCode(err) != 2 || out != "started\n" {
		t.Fatalf("start -a: exit %d, output %q; want 2 and the output", exitCode(err), out)
	}
	d.mustDocker(t, "run", "-d", "--name", "rs", "busybox", "sh", "-c", "trap 'exit 0' TERM; echo ready; while true; do sleep 0.1; done")
	// Until the trap is set, SIGTERM to PID 1 is ignored.
	waitFor(t, "the trap", func() bool { out, _, _ := d.docker(t, "logs", "rs"); return out == "ready\n" })
	pid1 := strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{.State.Pid}}", "rs"))
	start := time.Now()
	d.mustDocker(t, "restart", "rs")
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("restart took %v", el)
	}
	pid2 := strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{.State.Pid}} {{.State.Running}}", "rs"))
	if pid2 == pid1+" true" || !strings.HasSuffix(pid2, " true") {
		t.Fatalf("restart: pid %s before, %q after", pid1, pid2)
	}
	d.mustDocker(t, "run", "--name", "keep", "busybox", "true")
	info := d.mustDocker(t, "info", "--format", "{{.Containers}} {{.ContainersRunning}} {{.ContainersStopped}} {{.ContainersPaused}}")
	if strings.TrimSpace(info) != "3 1 2 0" {
		t.Fatalf("info counts %q, want 3 1 2 0", info)
	}
	out = d.mustDocker(t, "container", "prune", "-f", "--filter", "label=prune=1")
	if !strings.Contains(out, "Deleted Containers:") || len(strings.Fields(d.mustDocker(t, "ps", "-aq"))) != 2 {
		t.Fatalf("prune by label: %q", out)
	}
	if ps := d.mustDocker(t, "ps", "-a", "--format", "{{.Names}}", "--last", "1"); strings.TrimSpace(ps) != "keep" {
		t.Fatalf("ps --last 1: %q", ps)
	}
}
