package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestRuntimeParityDockerUser holds what a Docker user hit first on the
// built-in runtime while runc did it: a working directory missing from the
// image (WORKDIR, run -w) and the size of an -it terminal.
func TestRuntimeParityDockerUser(t *testing.T) {
	runParity(t, []parityCase{
		{"CwdCreated", caseCwdCreated},
		{"CwdThroughSymlinkStaysInRoot", caseCwdSymlinkInRoot},
		{"ConsoleSize", caseConsoleSize},
	})
}

// caseCwdCreated: a process.cwd missing from the rootfs is made (0755,
// parents too) before the process starts in it.
func caseCwdCreated(t *testing.T, r *runtimeCLI) any {
	c := busyboxContainer(t, r, func(s *specs.Spec) { s.Process.Cwd = "/app/sub" },
		"sh", "-c", "pwd; stat -c '%a %u' /app /app/sub")
	res := runContainer(t, r, c)
	want := "/app/sub\n755 0\n755 0\n"
	if res.Code != 0 || res.Stdout != want {
		t.Fatalf("%s run with cwd /app/sub: %s, want stdout %q", r.name, res, want)
	}
	return res.Stdout
}

// caseCwdSymlinkInRoot: a cwd through a symbolic link that climbs out of
// the rootfs is made inside the rootfs (the link resolved as if chrooted),
// never on the host.
func caseCwdSymlinkInRoot(t *testing.T, r *runtimeCLI) any {
	host := t.TempDir()
	c := busyboxContainer(t, r, func(s *specs.Spec) { s.Process.Cwd = "/esc/made" },
		"sh", "-c", "pwd; test -d "+host+"/made && echo inside")
	rootfs := filepath.Join(c.bundle, "rootfs")
	// The link's target exists in the rootfs too: runc 1.1 refuses a cwd
	// through a dangling link ("mkdir /esc: file exists").
	if err := os.MkdirAll(filepath.Join(rootfs, host), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../../../../../.."+host, filepath.Join(rootfs, "esc")); err != nil {
		t.Fatal(err)
	}
	res := runContainer(t, r, c)
	if _, err := os.Lstat(filepath.Join(host, "made")); err == nil {
		t.Fatalf("%s made %s/made on the host (cwd through /esc -> ../..%s)", r.name, host, host)
	}
	if res.Code != 0 || res.Stdout != host+"/made\ninside\n" {
		t.Fatalf("%s run with cwd /esc/made: %s, want %s/made made inside the rootfs", r.name, res, host)
	}
	if _, err := os.Stat(filepath.Join(rootfs, host, "made")); err != nil {
		t.Errorf("%s: cwd not made inside the rootfs: %v", r.name, err)
	}
	return strings.ReplaceAll(res.Stdout, host, "HOST")
}

// caseConsoleSize: the terminal has process.consoleSize before the process
// starts; nothing resizes it afterwards.
func caseConsoleSize(t *testing.T, r *runtimeCLI) any {
	c := busyboxContainer(t, r, func(s *specs.Spec) {
		s.Process.Terminal = true
		s.Process.ConsoleSize = &specs.Box{Height: 30, Width: 100}
	}, "stty", "size")
	sock := newConsoleSocket(t)
	r.mustRun(t, "create", "--bundle", c.bundle, "--console-socket", sock.path, c.id)
	master := sock.receive(t, 10*time.Second)
	r.mustRun(t, "start", c.id)
	out := strings.TrimSpace(readUntilClosed(t, master, 10*time.Second))
	if out != "30 100" {
		t.Errorf("%s: stty size on the terminal printed %q, want \"30 100\"", r.name, out)
	}
	r.waitStatus(t, c.id, "stopped", 10*time.Second)
	return out
}
