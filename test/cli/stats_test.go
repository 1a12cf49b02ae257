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
			ctx, cancel := context.WithTimeout(context.Background(), 3500*time.Millisecond)
			defer cancel()
			cmd := exec.CommandContext(ctx, tool.bin, "stats", "--format", "table {{.Name}}\t{{.PIDs}}", name)
			cmd.Env = append(os.Environ(), "DOCKER_HOST="+env.host, "DOCKER_CONFIG="+configDir(tool.bin), "BERTH_HOST=")
			out, _ := cmd.Output()
			frames := strings.Count(string(out), "\x1b[H")
			if frames < 2 || !strings.Contains(string(out), "NAME") || !strings.Contains(string(out), name) {
				t.Errorf("stats stream: %d frames in %q; want at least 2 with the header and %s", frames, out, name)
			}
		})
	}
}
