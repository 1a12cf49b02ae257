package cli

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestStatsStream(t *testing.T) { forEachTarget(t, testStatsStream) }

// testStatsStream: without --no-stream, both CLIs keep redrawing the
// table in place (cursor home) with the container's row.
func testStatsStream(t *testing.T) {
	cleanupContainers(t)
	for _, tool := range []struct{ name, bin, prefix string }{{"docker", dockerCLI, dockerPrefix}, {"berth", env.berth, berthPrefix}} {
		t.Run(tool.name, func(t *testing.T) {
			name := tool.prefix + "stats"
			if r := runCLI(t, tool.bin, "", "run", "-d", "--name", name, "--network", "none", "busybox", "sleep", "60"); r.code != 0 {
				t.Fatalf("run: %d %s", r.code, r.stderr)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			cmd := exec.CommandContext(ctx, tool.bin, "stats", "--format", "table {{.Name}}\t{{.PIDs}}", name)
			cmd.Env = append(os.Environ(), "DOCKER_HOST="+env.host, "DOCKER_CONFIG="+configDir(tool.bin), "BERTH_HOST=")
			var out syncBuffer
			cmd.Stdout = &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { cancel(); _ = cmd.Wait() }()
			// Two frames (the stream goes on), however slow the machine.
			deadline := time.Now().Add(30 * time.Second)
			for strings.Count(out.String(), "\x1b[H") < 2 && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			got := out.String()
			frames := strings.Count(got, "\x1b[H")
			if frames < 2 || !strings.Contains(got, "NAME") || !strings.Contains(got, name) {
				t.Errorf("stats stream: %d frames in %q; want at least 2 with the header and %s", frames, got, name)
			}
		})
	}
}
