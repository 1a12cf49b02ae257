package daemon

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/system"

	"github.com/berth/berth/internal/api"
	"github.com/berth/berth/internal/cli/version"
)

// builtinRuntimes are always available: berth's own runtime (the running
// binary's `runtime` command) and the peers driven through their CLI.
var builtinRuntimes = []string{"berth", "runc", "crun"}

var runtimeName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`) })

// runtimeSet resolves the runtimes of cfg: the built-in ones, then
// daemon.json's "runtimes", then --add-runtime NAME=PATH, and checks that
// the default runtime is among them.
func runtimeSet(cfg Config) (api.Runtimes, error) {
	self, err := os.Executable()
	if err != nil {
		self = "berth"
	}
	all := map[string]system.RuntimeWithStatus{
		"berth": {Runtime: system.Runtime{Path: self, Args: []string{"runtime"}}},
		"runc":  {Runtime: system.Runtime{Path: "runc"}},
		"crun":  {Runtime: system.Runtime{Path: "crun"}},
	}
	add := func(name string, rt system.Runtime, from string) error {
		if !runtimeName().MatchString(name) {
			return fmt.Errorf("%s: runtime name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", from, name)
		}
		for _, b := range builtinRuntimes {
			if name == b {
				return fmt.Errorf("%s: runtime name %q is reserved", from, name)
			}
		}
		if rt.Path == "" {
			return fmt.Errorf("%s: runtime %q: path is required", from, name)
		}
		all[name] = system.RuntimeWithStatus{Runtime: rt}
		return nil
	}
	names := make([]string, 0, len(cfg.Runtimes))
	for n := range cfg.Runtimes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := add(n, cfg.Runtimes[n], "runtimes"); err != nil {
			return api.Runtimes{}, err
		}
	}
	for _, a := range cfg.AddRuntimes {
		name, path, ok := strings.Cut(a, "=")
		if !ok {
			return api.Runtimes{}, fmt.Errorf("--add-runtime %q: want NAME=PATH", a)
		}
		if err := add(name, system.Runtime{Path: path}, "--add-runtime"); err != nil {
			return api.Runtimes{}, err
		}
	}
	def := cfg.DefaultRuntime
	if def == "" {
		def = DefaultRuntime
	}
	if _, ok := all[def]; !ok {
		known := make([]string, 0, len(all))
		for n := range all {
			known = append(known, n)
		}
		sort.Strings(known)
		return api.Runtimes{}, fmt.Errorf("default-runtime %q: no such runtime (known: %s)", def, strings.Join(known, ", "))
	}
	return api.Runtimes{Default: def, All: all, Versions: map[string]string{}}, nil
}

// withVersions fills in each runtime's version and marks runtimes whose
// binary cannot be found, so `info` and `version` tell the truth.
func withVersions(ctx context.Context, rts api.Runtimes) api.Runtimes {
	for name, rt := range rts.All {
		if name == "berth" {
			rts.Versions[name] = version.Version
			continue
		}
		path, err := exec.LookPath(rt.Path)
		if err != nil {
			rt.Status = map[string]string{"error": fmt.Sprintf("%s: not found", rt.Path)}
			rts.All[name] = rt
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		out, err := exec.CommandContext(cctx, path, "--version").Output()
		cancel()
		if err != nil {
			continue
		}
		// "runc version 1.1.5", "crun version 1.8.1"
		first, _, _ := strings.Cut(string(out), "\n")
		if f := strings.Fields(first); len(f) >= 3 && f[1] == "version" {
			rts.Versions[name] = f[2]
		}
	}
	return rts
}
