package snapshot_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/containerd/errdefs"

	"github.com/berth/berth/internal/snapshot"
	"github.com/berth/berth/internal/snapshot/mount"
)

// Changes are appended to metadata.log and replayed at open, also when the
// snapshotter was not closed; a torn last entry is ignored and the
// directory it described removed as an orphan; the log is compacted into
// metadata.json once it is long.
func TestMetadataLog(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	sn, err := snapshot.NewNative(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sn.Prepare(ctx, "k0", ""); err != nil {
		t.Fatal(err)
	}
	if err := sn.Commit(ctx, "l0", "k0", snapshot.WithLabels(map[string]string{"a": "b"})); err != nil {
		t.Fatal(err)
	}
	if _, err := sn.Prepare(ctx, "gone", "l0"); err != nil {
		t.Fatal(err)
	}
	if err := sn.Remove(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	m, err := sn.Prepare(ctx, "active", "l0")
	if err != nil {
		t.Fatal(err)
	}
	activeDir, _, _ := mount.WritableDir(m)
	log, err := os.ReadFile(filepath.Join(root, "metadata.log"))
	if err != nil || len(log) == 0 {
		t.Fatalf("metadata.log after changes: %d bytes, %v", len(log), err)
	}
	sn.Close()

	// A power loss tore the entry of "active": keep all but its last bytes.
	if err := os.WriteFile(filepath.Join(root, "metadata.log"), log[:len(log)-5], 0o600); err != nil {
		t.Fatal(err)
	}
	sn, err = snapshot.NewNative(root)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := sn.Stat(ctx, "l0"); err != nil || info.Kind != snapshot.KindCommitted || info.Labels["a"] != "b" {
		t.Errorf("l0 after replay: %+v %v", info, err)
	}
	for _, k := range []string{"k0", "gone", "active"} {
		if _, err := sn.Stat(ctx, k); !errdefs.IsNotFound(err) {
			t.Errorf("%s after replay: %v, want not found", k, err)
		}
	}
	if _, err := os.Stat(activeDir); !os.IsNotExist(err) {
		t.Errorf("the directory of the torn entry %s: %v, want removed", activeDir, err)
	}

	// Many changes: the log is compacted, and everything survives.
	for i := range 900 {
		k := "c" + strconv.Itoa(i)
		if _, err := sn.Prepare(ctx, k, ""); err != nil {
			t.Fatal(err)
		}
		if i%10 != 9 {
			if err := sn.Remove(ctx, k); err != nil {
				t.Fatal(err)
			}
		}
	}
	if b, err := os.ReadFile(filepath.Join(root, "metadata.log")); err != nil || bytes.Count(b, []byte("\n")) >= 1000 {
		t.Errorf("metadata.log after 1710 changes: %d entries, %v; want it compacted on the way", bytes.Count(b, []byte("\n")), err)
	}
	sn.Close()
	sn, err = snapshot.NewNative(root)
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	n := 0
	sn.Walk(ctx, func(context.Context, snapshot.Info) error { n++; return nil })
	if n != 1+90 {
		t.Errorf("%d snapshots after compaction and reopen, want %d", n, 1+90)
	}
	if _, err := sn.Stat(ctx, "c899"); err != nil {
		t.Errorf("c899: %v", err)
	}
	if _, err := sn.Stat(ctx, "c898"); !errdefs.IsNotFound(err) {
		t.Errorf("c898 (removed): %v", err)
	}
}
