package shim

import (
	"slices"
	"strings"
	"testing"
)

// TestShimEnv: a shim lives as long as its container, so it starts without
// internal/prefault's populated heap (which would stay in it); the runtime
// commands it runs are short and start with it, like its other Go runtime
// settings left out.
func TestShimEnv(t *testing.T) {
	if env := shimEnv(); !slices.Contains(env, "BERTH_PREFAULT=0") {
		t.Errorf("shimEnv() = %q, want BERTH_PREFAULT=0 in it", env)
	}
	t.Setenv("BERTH_PREFAULT", "0")
	t.Setenv("GOGC", "off")
	t.Setenv("GOMAXPROCS", "1")
	for _, kv := range runtimeEnv() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "BERTH_PREFAULT", "GOGC", "GOMAXPROCS":
			t.Errorf("runtimeEnv() passes %s on to the runtime commands", kv)
		}
	}
}
