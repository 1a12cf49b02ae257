package engine

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

func TestLogRotation(t *testing.T) {
	d := newDaemon(t)
	id := strings.TrimSpace(d.mustDocker(t, "run", "-d", "--log-opt", "max-size=2k", "--log-opt", "max-file=3", "busybox", "sh", "-c",
		"i=0; while [ $i -lt 300 ]; do echo line-$i; i=$((i+1)); done"))
	d.mustDocker(t, "wait", id)
	logs, _ := filepath.Glob(filepath.Join(d.DataRoot, "containers", id, id+"-json.log*"))
	if len(logs) != 3 {
		t.Fatalf("log files %v, want 3 (max-file=3)", logs)
	}
	for _, l := range logs {
		if st, err := os.Stat(l); err != nil || st.Size() > 2048+200 {
			t.Fatalf("%s: %v, size above max-size", l, err)
		}
	}
	// logs reads the rotated files in order, then the current one: the
	// kept lines are the last ones, contiguous.
	lines := strings.Fields(d.mustDocker(t, "logs", id))
	if len(lines) < 20 || lines[len(lines)-1] != "line-299" {
		t.Fatalf("logs after rotation: %d lines, last %q", len(lines), lines[len(lines)-1])
	}
	first, _ := strconv.Atoi(strings.TrimPrefix(lines[0], "line-"))
	for i, l := range lines {
		if l != "line-"+strconv.Itoa(first+i) {
			t.Fatalf("line %d is %q, want line-%d", i, l, first+i)
		}
	}
}

func TestStatsAndWaitThroughClient(t *testing.T) {
	d := newDaemon(t)
	c := d.client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cr, err := c.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config:     &container.Config{Image: "busybox", Cmd: []string{"sh", "-c", "while true; do :; done"}},
		HostConfig: &container.HostConfig{AutoRemove: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	removed := c.ContainerWait(ctx, cr.ID, client.ContainerWaitOptions{Condition: container.WaitConditionRemoved})
	if _, err := c.ContainerStart(ctx, cr.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	st, err := c.ContainerStats(ctx, cr.ID, client.ContainerStatsOptions{Stream: true})
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(st.Body)
	var prev uint64
	for i := range 3 {
		var s container.StatsResponse
		if err := dec.Decode(&s); err != nil {
			t.Fatalf("stats sample %d: %v", i, err)
		}
		if s.CPUStats.CPUUsage.TotalUsage <= prev || s.PreCPUStats.CPUUsage.TotalUsage == 0 || s.MemoryStats.Usage == 0 || s.PidsStats.Current == 0 {
			t.Fatalf("stats sample %d: cpu %d (prev %d, precpu %d), memory %d, pids %d", i, s.CPUStats.CPUUsage.TotalUsage, prev,
				s.PreCPUStats.CPUUsage.TotalUsage, s.MemoryStats.Usage, s.PidsStats.Current)
		}
		prev = s.CPUStats.CPUUsage.TotalUsage
	}
	st.Body.Close()
	if _, err := c.ContainerKill(ctx, cr.ID, client.ContainerKillOptions{Signal: "KILL"}); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-removed.Result:
		if r.StatusCode != 137 {
			t.Fatalf("wait removed: %+v", r)
		}
	case err := <-removed.Error:
		t.Fatal(err)
	case <-ctx.Done():
		t.Fatal("wait removed did not answer")
	}
	if _, err := c.ContainerInspect(ctx, cr.ID, client.ContainerInspectOptions{}); err == nil {
		t.Fatal("the AutoRemove container still exists after wait removed")
	}
}
