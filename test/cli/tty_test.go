package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// ptySession runs a CLI on a new pseudo-terminal of rows x cols, as a
// user's shell would.
type ptySession struct {
	master *os.File
	cmd    *exec.Cmd
	mu     sync.Mutex
	out    bytes.Buffer
	done   chan struct{}
}

func openPty(t *testing.T, rows, cols uint16) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetWinsize(int(s.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
		t.Fatal(err)
	}
	return m, s
}

func startPty(t *testing.T, bin string, args ...string) *ptySession {
	t.Helper()
	m, s := openPty(t, 40, 100)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+env.host, "DOCKER_CONFIG="+configDir(bin), "BERTH_HOST=", "DOCKER_CLI_HINTS=false")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = s, s, s
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	p := &ptySession{master: m, cmd: cmd, done: make(chan struct{})}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := m.Read(buf)
			p.mu.Lock()
			p.out.Write(buf[:n])
			p.mu.Unlock()
			if err != nil {
				close(p.done)
				return
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		m.Close()
	})
	return p
}

func (p *ptySession) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// waitFor waits until the terminal shows s.
func (p *ptySession) waitFor(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(p.output(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("terminal never showed %q; it shows %q", s, p.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// exit waits for the CLI to end and returns its exit code.
func (p *ptySession) exit(t *testing.T) int {
	t.Helper()
	ch := make(chan error, 1)
	go func() { ch <- p.cmd.Wait() }()
	select {
	case err := <-ch:
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(30 * time.Second):
		t.Fatalf("CLI did not exit; terminal shows %q", p.output())
		return -1
	}
}

// TestRunInteractiveTTY: `run -it` on a real terminal with both CLIs: the
// container sees the terminal's size, keystrokes reach the shell, and the
// CLI exits with the shell's code; resizing the terminal resizes the
// container's.
func TestRunInteractiveTTY(t *testing.T) { forEachTarget(t, testRunInteractiveTTY) }

func testRunInteractiveTTY(t *testing.T) {
	needEnv(t)
	for _, tool := range []struct{ name, bin string }{{"docker", dockerCLI}, {"berth", env.berth}} {
		t.Run(tool.name, func(t *testing.T) {
			p := startPty(t, tool.bin, "run", "-it", "--rm", "--network", "none", "busybox", "sh")
			p.waitFor(t, "/ # ")
			if _, err := p.master.WriteString("stty size; echo tty-$((40+2))\r"); err != nil {
				t.Fatal(err)
			}
			p.waitFor(t, "tty-42")
			// A new size reaches the container through SIGWINCH and resize.
			if err := unix.IoctlSetWinsize(int(p.master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 30, Col: 90}); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(10 * time.Second)
			for !strings.Contains(p.output(), "30 90") && time.Now().Before(deadline) {
				if _, err := p.master.WriteString("stty size\r"); err != nil {
					t.Fatal(err)
				}
				time.Sleep(200 * time.Millisecond)
			}
			if _, err := p.master.WriteString("exit 5\r"); err != nil {
				t.Fatal(err)
			}
			if code := p.exit(t); code != 5 {
				t.Errorf("exit %d, want 5; terminal: %q", code, p.output())
			}
			out := p.output()
			if !strings.Contains(out, "40 100") || !strings.Contains(out, "tty-42") || !strings.Contains(out, "30 90") {
				t.Errorf("terminal lacks the size 40 100, the echo or the new size 30 90: %q", out)
			}
		})
	}
}

// TestDetachKeys: ctrl-p ctrl-q leaves `run -it` (exit 0) with the
// container still running, and `attach` then reaches the same shell.
func TestDetachKeys(t *testing.T) { forEachTarget(t, testDetachKeys) }

func testDetachKeys(t *testing.T) {
	needEnv(t)
	cleanupContainers(t)
	for _, tool := range []struct{ name, bin, prefix string }{{"docker", dockerCLI, dockerPrefix}, {"berth", env.berth, berthPrefix}} {
		t.Run(tool.name, func(t *testing.T) {
			name := tool.prefix + "tty"
			p := startPty(t, tool.bin, "run", "-it", "--name", name, "--network", "none", "busybox", "sh")
			p.waitFor(t, "/ # ")
			if _, err := p.master.WriteString("\x10\x11"); err != nil {
				t.Fatal(err)
			}
			if code := p.exit(t); code != 0 {
				t.Errorf("run -it after the detach keys: exit %d, want 0; terminal %q", code, p.output())
			}
			r := runCLI(t, tool.bin, "", "inspect", "-f", "{{.State.Running}}", name)
			if strings.TrimSpace(r.stdout) != "true" {
				t.Fatalf("container not running after detach: %q %q", r.stdout, r.stderr)
			}
			a := startPty(t, tool.bin, "attach", name)
			time.Sleep(300 * time.Millisecond)
			if _, err := a.master.WriteString("echo back-$((1+1)); exit 3\r"); err != nil {
				t.Fatal(err)
			}
			if code := a.exit(t); code != 3 {
				t.Errorf("attach: exit %d, want 3; terminal %q", code, a.output())
			}
			if !strings.Contains(a.output(), "back-2") {
				t.Errorf("attach terminal lacks the echo: %q", a.output())
			}
		})
	}
}

// TestStartAttachInteractive: `start -ai` of a stopped `run -it`
// container gives the new run the terminal again: keystrokes reach the
// shell and the CLI exits with its code.
func TestStartAttachInteractive(t *testing.T) { forEachTarget(t, testStartAttachInteractive) }

func testStartAttachInteractive(t *testing.T) {
	needEnv(t)
	cleanupContainers(t)
	for _, tool := range []struct{ name, bin, prefix string }{{"docker", dockerCLI, dockerPrefix}, {"berth", env.berth, berthPrefix}} {
		t.Run(tool.name, func(t *testing.T) {
			name := tool.prefix + "sai"
			p := startPty(t, tool.bin, "run", "-it", "--name", name, "--network", "none", "busybox", "sh")
			p.waitFor(t, "/ # ")
			if _, err := p.master.WriteString("exit 3\r"); err != nil {
				t.Fatal(err)
			}
			if code := p.exit(t); code != 3 {
				t.Fatalf("run -it: exit %d, want 3; terminal %q", code, p.output())
			}
			a := startPty(t, tool.bin, "start", "-ai", name)
			a.waitFor(t, "/ # ")
			if _, err := a.master.WriteString("echo again-$((1+1)); exit 4\r"); err != nil {
				t.Fatal(err)
			}
			if code := a.exit(t); code != 4 {
				t.Errorf("start -ai: exit %d, want 4; terminal %q", code, a.output())
			}
			if !strings.Contains(a.output(), "again-2") {
				t.Errorf("start -ai terminal lacks the echo: %q", a.output())
			}
		})
	}
}

var _ = context.Background
