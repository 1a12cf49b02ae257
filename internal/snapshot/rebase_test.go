package snapshot_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/containerd/errdefs"

	"github.com/berth/berth/internal/snapshot"
	"github.com/berth/berth/internal/snapshot/mount"
	"github.com/berth/berth/internal/testutil"
)

func writeInto(t *testing.T, mounts []mount.Mount, name, body string) {
	t.Helper()
	dir, _, err := mount.WritableDir(mounts)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A layer prepared without a parent and committed onto one (CommitOnto)
// shows above it; what CommitOnto refuses; the native snapshotter is no
// Rebaser.
func TestOverlayCommitOnto(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	root := t.TempDir()
	sn, err := snapshot.NewOverlay(root)
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	rb, ok := sn.(snapshot.Rebaser)
	if !ok {
		t.Fatal("the overlay snapshotter is not a Rebaser")
	}
	m, err := sn.Prepare(ctx, "k0", "")
	if err != nil {
		t.Fatal(err)
	}
	writeInto(t, m, "bottom", "0")
	if err := sn.Commit(ctx, "l0", "k0"); err != nil {
		t.Fatal(err)
	}
	// Unpacked before its parent exists, as a parallel pull does.
	m, err = sn.Prepare(ctx, "k1", "", snapshot.Ephemeral())
	if err != nil {
		t.Fatal(err)
	}
	writeInto(t, m, "top", "1")
	if err := rb.CommitOnto(ctx, "l1", "k1", "missing"); !errdefs.IsNotFound(err) {
		t.Errorf("CommitOnto a missing parent: %v, want not found", err)
	}
	if _, err := sn.Prepare(ctx, "on-l0", "l0"); err != nil {
		t.Fatal(err)
	}
	if err := rb.CommitOnto(ctx, "x", "on-l0", "l0"); !errdefs.IsFailedPrecondition(err) {
		t.Errorf("CommitOnto of a snapshot prepared on a parent: %v, want failed precondition", err)
	}
	if err := rb.CommitOnto(ctx, "l1", "k1", "l0"); err != nil {
		t.Fatal(err)
	}
	info, err := sn.Stat(ctx, "l1")
	if err != nil || info.Parent != "l0" || info.Kind != snapshot.KindCommitted {
		t.Fatalf("Stat l1 = %+v, %v; want committed on l0", info, err)
	}
	view, err := sn.View(ctx, "v", "l1")
	if err != nil {
		t.Fatal(err)
	}
	target := t.TempDir()
	if err := mount.All(view, target); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mount.UnmountAll(target) })
	for name, want := range map[string]string{"bottom": "0", "top": "1"} {
		if b, err := os.ReadFile(filepath.Join(target, name)); err != nil || string(b) != want {
			t.Errorf("%s through the view of l1: %q %v, want %q", name, b, err, want)
		}
	}

	nat, err := snapshot.NewNative(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer nat.Close()
	if _, ok := nat.(snapshot.Rebaser); ok {
		t.Error("the native snapshotter claims to be a Rebaser: its layers are full copies of their parents")
	}
}

// An ephemeral active snapshot is not recorded: after a reopen (a crash) it
// is gone with its directory; once committed it is recorded.
func TestEphemeralPrepare(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	sn, err := snapshot.NewNative(root)
	if err != nil {
		t.Fatal(err)
	}
	m, err := sn.Prepare(ctx, "lost", "", snapshot.Ephemeral())
	if err != nil {
		t.Fatal(err)
	}
	writeInto(t, m, "f", "x")
	lostDir, _, _ := mount.WritableDir(m)
	if _, err := sn.Prepare(ctx, "kept", "", snapshot.Ephemeral()); err != nil {
		t.Fatal(err)
	}
	if err := sn.Commit(ctx, "done", "kept"); err != nil {
		t.Fatal(err)
	}
	if _, err := sn.Stat(ctx, "lost"); err != nil {
		t.Fatalf("Stat of an ephemeral snapshot before the crash: %v", err)
	}
	sn.Close()
	sn, err = snapshot.NewNative(root)
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	if _, err := sn.Stat(ctx, "lost"); !errdefs.IsNotFound(err) {
		t.Errorf("Stat of an uncommitted ephemeral snapshot after a reopen: %v, want not found", err)
	}
	if _, err := os.Stat(lostDir); !os.IsNotExist(err) {
		t.Errorf("its directory %s after a reopen: %v, want removed", lostDir, err)
	}
	if info, err := sn.Stat(ctx, "done"); err != nil || info.Kind != snapshot.KindCommitted {
		t.Errorf("Stat of the committed one after a reopen: %+v %v", info, err)
	}
}
