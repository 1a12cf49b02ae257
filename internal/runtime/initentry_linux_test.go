package runtime

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/berth/berth/internal/testutil"
)

// TestInitNeedsNoPackageNet guards what makes the container's init start
// early (initentry_linux.go): this package, and so the init, must not import
// package net or regexp, which would make the init (and every CLI command
// that starts early) wait for them and everything initialised before them.
func TestInitNeedsNoPackageNet(t *testing.T) {
	root, err := testutil.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(testutil.GoTool(), "list", "-deps", "github.com/berth/berth/internal/runtime")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if p == "net" || p == "net/http" || p == "github.com/distribution/reference" || p == "regexp" {
			t.Errorf("internal/runtime depends on %s: the container's init would start only after it is initialised", p)
		}
	}
}
