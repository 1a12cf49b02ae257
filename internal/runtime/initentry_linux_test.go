package runtime

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/berth/berth/internal/testutil"
)

// TestInitNeedsNoPackageNet guards what makes the container's init start
// early (initentry_linux.go): this package, and so the init, must not import
// package net, regexp, os/exec or path/filepath, which would make the init (and every CLI command
// that starts early) wait for them and everything initialised before them.
// Outside the standard library they may import only Berth's own packages,
// the runtime spec and golang.org/x/sys/unix: a module whose path sorts
// after golang.org/x/sys/unix (golang.org/x/term was one) lets every package
// that is ready by then and sorts before it be initialised first (bbolt,
// logrus and the seccomp profiles for x/term: 1 ms of each command here).
func TestInitNeedsNoPackageNet(t *testing.T) {
	root, err := testutil.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(testutil.GoTool(), "list", "-deps", "github.com/berth/berth/internal/runtime", "github.com/berth/berth/internal/cli/runtime/lifecycle")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if first, _, _ := strings.Cut(p, "/"); strings.Contains(first, ".") &&
			!strings.HasPrefix(p, "github.com/berth/berth/") &&
			!strings.HasPrefix(p, "github.com/opencontainers/runtime-spec/") &&
			p != "golang.org/x/sys/unix" {
			t.Errorf("internal/runtime or the CLI's early commands depend on %s: every package ready before it and sorting before it would be initialised first", p)
		}
		switch p {
		case "net", "net/http", "github.com/distribution/reference", "regexp", "os/exec", "path/filepath":
			t.Errorf("internal/runtime or the CLI's early commands depend on %s: the container's init would start only after it is initialised", p)
		}
	}
}
