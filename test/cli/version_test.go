package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth/berth/internal/testutil"
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
	root, err := testutil.ModuleRoot()
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

	d := testutil.StartDaemon(t, testutil.DaemonOptions{Binary: bin, DirPrefix: "berth-cli-v", NoConfigFile: true})
	host := d.Host

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
