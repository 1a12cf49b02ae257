package engine

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/berth/berth/internal/testutil"
)

// TestNewNetNSLeavesThreadsInPlace: making a container's namespace leaves
// every thread of the daemon in the namespace it started in. A thread left
// in the new one (the main thread, which Go never ends, is the one that
// shows) would put /proc/self and every command forked from it (iptables)
// in a container's namespace.
func TestNewNetNSLeavesThreadsInPlace(t *testing.T) {
	testutil.RequireRoot(t)
	want, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for i := range 64 {
		p := filepath.Join(dir, "ns")
		if err := newNetNS(p); err != nil {
			t.Fatalf("newNetNS #%d: %v", i, err)
		}
		got, err := os.Readlink(p)
		if err == nil && got == want {
			t.Fatalf("newNetNS #%d: %s is the caller's namespace", i, p)
		}
		removeNetNS(p)
		tasks, err := filepath.Glob("/proc/self/task/*/ns/net")
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range tasks {
			if got, err := os.Readlink(task); err == nil && got != want {
				t.Fatalf("after newNetNS #%d: %s is %s, want %s", i, task, got, want)
			}
		}
	}
}
