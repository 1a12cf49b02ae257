package cli

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestVersionBuildStamp: a berth built by hack/build.sh reports its git
// commit and build time in `berth version` and the daemon's /version, and
// with SOURCE_DATE_EPOCH the build time is that instant (reproducible).
func TestVersionBuildStamp(t *testing.T) {
	if testing.Short() {
		t.Skip("builds berth with hack/build.sh (static link): not in -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("the daemon needs root")
	}
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	head, err := exec.Command("git", "-C", root, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	commit := strings.TrimSpace(string(head))
	dir := t.TempDir()
	bin := filepath.Join(dir, "berth")
	build := exec.Command("sh", filepath.Join(root, "hack", "build.sh"), bin)
	build.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1700000000")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("hack/build.sh: %v: %s", err, out)
	}

	sock := filepath.Join(dir, "d.sock")
	host := "unix://" + sock
	daemon := exec.Command(bin, "daemon", "--data-root", filepath.Join(dir, "data"), "--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "d.pid"), "-H", host, "--bridge", "none")
	logf, err := os.Create(filepath.Join(dir, "daemon.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	daemon.Stdout, daemon.Stderr = logf, logf
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = daemon.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = daemon.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = daemon.Process.Kill()
			<-exited
		}
		unmountUnder(dir)
	})
	ready := false
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && !ready; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			ready = true
		}
	}
	if !ready {
		b, _ := os.ReadFile(logf.Name())
		t.Fatalf("daemon not ready: %s", b)
	}

	out, err := exec.Command(bin, "-H", host, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("berth version: %v: %s", err, out)
	}
	for _, want := range []string{" Git commit:  " + commit + "\n", " Built:       Tue Nov 14 22:13:20 2023\n",
		"  Git commit:   " + commit + "\n", "  Built:        Tue Nov 14 22:13:20 2023\n", "  GitCommit: " + commit + "\n"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("berth version lacks %q:\n%s", want, out)
		}
	}
	got, err := exec.Command(dockerCLI, "-H", host, "version", "--format", "{{.Server.GitCommit}} {{.Server.BuildTime}}").Output()
	if err != nil {
		t.Fatalf("docker version: %v", err)
	}
	if want := commit + " 2023-11-14T22:13:20Z\n"; string(got) != want {
		t.Errorf("docker version (the daemon's /version): %q, want %q", got, want)
	}
}
