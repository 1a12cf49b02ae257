package testutil

import (
	"os"
	"testing"
)

// RequireRoot skips the test unless it runs as uid 0.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: this test needs root (run it with sudo or as uid 0)")
	}
}
