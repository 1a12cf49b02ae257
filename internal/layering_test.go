// Package internal_test enforces the import direction of ARCHITECTURE.md:
// imports only point down the layers.
package internal_test

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/berth/berth/"

// allowed lists, for each package (prefix, under internal/), the internal
// packages it may import (prefixes). A package not listed may import
// nothing internal. Sub-packages of a package are always allowed.
var allowed = map[string][]string{
	"cli":    {"client", "runtime", "registry", "api", "engine", "image", "network", "volume", "build", "metadata", "content", "snapshot", "archive", "shim", "cli"},
	"client": {},
	"api":    {"engine", "build", "image", "network", "volume", "metadata", "content"},
	// engine implements build.Executor, so it names build's request types;
	// build itself never imports engine.
	"engine":   {"image", "network", "volume", "metadata", "shim", "snapshot", "content", "archive", "runtime", "build"},
	"shim":     {"runtime"},
	"build":    {"image", "snapshot", "content", "archive", "metadata"},
	"image":    {"content", "snapshot", "metadata", "archive"},
	"registry": {},
	"runtime":  {},
	"content":  {},
	"snapshot": {},
	"archive":  {},
	"metadata": {},
	"network":  {},
	"volume":   {},
	"prefault": {},
	"testutil": {"runtime", "content", "snapshot", "archive", "image", "metadata", "registry", "network"},
}

// cliDockerGroups talk to the daemon only through client/.
var cliDockerGroups = []string{"cli/container", "cli/image", "cli/network", "cli/volume", "cli/system", "cli/build", "cli/compose"}

type pkg struct {
	ImportPath string
	Imports    []string
}

func TestLayering(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", "github.com/berth/berth/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	n := 0
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		n++
		from, ok := strings.CutPrefix(p.ImportPath, module+"internal/")
		if !ok {
			continue
		}
		for _, imp := range p.Imports {
			to, ok := strings.CutPrefix(imp, module+"internal/")
			if !ok {
				continue
			}
			if err := check(from, to); err != "" {
				t.Errorf("%s imports %s: %s", p.ImportPath, imp, err)
			}
		}
	}
	if n < 3 {
		t.Fatalf("go list found only %d packages", n)
	}
}

func top(p string) string {
	top, _, _ := strings.Cut(p, "/")
	return top
}

func check(from, to string) string {
	for _, g := range cliDockerGroups {
		if from == g || strings.HasPrefix(from, g+"/") {
			if top(to) != "client" && !strings.HasPrefix(to, "cli") {
				return "docker-compatible commands talk to the daemon only through internal/client"
			}
			return ""
		}
	}
	if top(from) == top(to) {
		return ""
	}
	rules, ok := allowed[top(from)]
	if !ok {
		return "package " + top(from) + " is not in the layering allow-list (add it to internal/layering_test.go and ARCHITECTURE.md)"
	}
	for _, r := range rules {
		if top(to) == r {
			return ""
		}
	}
	return "imports must point down the layers (ARCHITECTURE.md)"
}

func TestLayeringRules(t *testing.T) {
	for _, c := range []struct {
		from, to string
		ok       bool
	}{
		{"runtime", "runtime/cgroups", true},
		{"runtime", "engine", false},
		{"content", "image", false},
		{"image", "content", true},
		{"cli/container", "engine", false},
		{"cli/container", "client", true},
		{"cli/runtime", "runtime", true},
		{"registry", "content", false},
		{"engine", "build", true},
		{"build", "engine", false},
	} {
		if got := check(c.from, c.to) == ""; got != c.ok {
			t.Errorf("check(%s -> %s) = %v, want %v", c.from, c.to, got, c.ok)
		}
	}
}
