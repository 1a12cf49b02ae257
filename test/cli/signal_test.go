package cli

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestSignalProxy(t *testing.T) { forEachTarget(t, testSignalProxy) }

// testSignalProxy: SIGTERM to a foreground `run` (no TTY) reaches the
// container, whose trap decides the exit code both CLIs then exit with.
func testSignalProxy(t *testing.T) {
	cleanupContainers(t)
	for _, tool := range []struct{ name, bin, prefix string }{{"docker", dockerCLI, dockerPrefix}, {"berth", env.berth, berthPrefix}} {
		t.Run(tool.name, func(t *testing.T) {
			cmd := exec.Command(tool.bin, "run", "--name", tool.prefix+"sig", "--network", "none", "busybox",
				"sh", "-c", "trap 'echo got-term; exit 9' TERM; echo ready; while :; do sleep 0.1; done")
			cmd.Env = append(os.Environ(), "DOCKER_HOST="+env.host, "DOCKER_CONFIG="+configDir(tool.bin), "BERTH_HOST=")
			var out syncBuffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var waitErr error
			done := make(chan struct{})
			go func() { waitErr = cmd.Wait(); close(done) }()
			t.Cleanup(func() {
				_ = cmd.Process.Kill()
				<-done
			})
			deadline := time.Now().Add(20 * time.Second)
			for !strings.Contains(out.String(), "ready") {
				if time.Now().After(deadline) {
					t.Fatalf("container never printed ready: %q", out.String())
				}
				time.Sleep(20 * time.Millisecond)
			}
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			select {
			case <-done:
				code := 0
				if ee, ok := waitErr.(*exec.ExitError); ok {
					code = ee.ExitCode()
				}
				if code != 9 || !strings.Contains(out.String(), "got-term") {
					t.Errorf("after SIGTERM: exit %d (want 9), output %q", code, out.String())
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("CLI did not exit after SIGTERM; output %q", out.String())
			}
		})
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
