package image

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"

	"github.com/berth/berth/internal/snapshot"
	"github.com/berth/berth/internal/testutil"
)

func names(imgs []Image) []string {
	var out []string
	for _, i := range imgs {
		if len(i.RepoTags) == 0 {
			out = append(out, "<none>")
		}
		out = append(out, i.RepoTags...)
	}
	sort.Strings(out)
	return out
}

func committedSnapshots(t *testing.T, s *Service) []string {
	var out []string
	s.snap.Walk(context.Background(), func(_ context.Context, in snapshot.Info) error {
		if in.Kind == snapshot.KindCommitted {
			out = append(out, in.Name)
		}
		return nil
	})
	return out
}

// Tags, moved tags (the old image dangles), list filters, removal with
// docker's conflicts, prune and GC of blobs and snapshots.
func TestRecordsTagRemovePrune(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	s := newTestService(t, "")
	a := twoLayers(t).store(t, s, "app:1")
	if err := s.Tag(ctx, "app:1", "app:latest"); err != nil {
		t.Fatal(err)
	}
	if err := s.Tag(ctx, a.ID.String()[:19], "registry.local:5000/team/app:1"); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, a.ID.Encoded()[:12])
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got.RepoTags, ",") != "app:1,app:latest,registry.local:5000/team/app:1" {
		t.Errorf("RepoTags %v", got.RepoTags)
	}
	// A tag put here is docker's LastTagTime; an image stored otherwise
	// (a pull, here store's records) has none.
	if !a.LastTagTime.IsZero() || got.LastTagTime.IsZero() || time.Since(got.LastTagTime) > time.Minute {
		t.Errorf("LastTagTime before the tags %v, after %v", a.LastTagTime, got.LastTagTime)
	}
	if err := s.Tag(ctx, "app:1", "app@sha256:"+strings.Repeat("a", 64)); !errdefs.IsInvalidArgument(err) {
		t.Errorf("tag as a digest: %v", err)
	}
	// Moving app:latest to a new image leaves a with its other tags; moving
	// all of them leaves a dangling.
	bi := newTestImage(t, makeTar(t, tarEntry{name: "b", body: "b"}))
	b := bi.store(t, s, "app:latest")
	if imgs, _ := s.List(ctx, ListOptions{}); strings.Join(names(imgs), ",") != "app:1,app:latest,registry.local:5000/team/app:1" {
		t.Errorf("after the tag moved: %v", names(imgs))
	}
	if _, err := s.Remove(ctx, "registry.local:5000/team/app:1", RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	bi.store(t, s, "app:1")
	imgs, err := s.List(ctx, ListOptions{Filters: map[string][]string{"dangling": {"true"}}})
	if err != nil || len(imgs) != 1 || imgs[0].ID != a.ID {
		t.Fatalf("dangling: %v %v", names(imgs), err)
	}
	if imgs, _ := s.List(ctx, ListOptions{Filters: map[string][]string{"reference": {"app:*"}}}); strings.Join(names(imgs), ",") != "app:1,app:latest" {
		t.Errorf("reference=app:*: %v", names(imgs))
	}
	// Two reference filters match either (dockerd ORs them).
	if imgs, _ := s.List(ctx, ListOptions{Filters: map[string][]string{"reference": {"nothing:here", "app:latest"}}}); len(imgs) != 1 || imgs[0].ID != b.ID {
		t.Errorf("reference=nothing:here and reference=app:latest: %v", names(imgs))
	}
	if imgs, _ := s.List(ctx, ListOptions{Filters: map[string][]string{"label": {"test=yes"}, "dangling": {"false"}}}); len(imgs) != 1 || imgs[0].ID != b.ID {
		t.Errorf("label=test=yes,dangling=false: %v", names(imgs))
	}
	if _, err := s.List(ctx, ListOptions{Filters: map[string][]string{"colour": {"red"}}}); !errdefs.IsInvalidArgument(err) {
		t.Errorf("unknown filter: %v", err)
	}

	// Remove by ID of an image with two tags is a conflict unless forced;
	// one a container uses is a conflict even then... unless forced.
	inUse := func(_ context.Context, id digest.Digest) (string, bool) {
		if id == b.ID {
			return strings.Repeat("c", 64), false
		}
		return "", false
	}
	if _, err := s.Remove(ctx, b.ID.String(), RemoveOptions{}); !errdefs.IsConflict(err) {
		t.Errorf("remove by ID with two tags: %v", err)
	}
	resp, err := s.Remove(ctx, "app:latest", RemoveOptions{InUse: inUse})
	if err != nil || len(resp) != 1 || resp[0].Untagged != "app:latest" {
		t.Errorf("untag app:latest: %+v %v", resp, err)
	}
	if _, err := s.Remove(ctx, "app:1", RemoveOptions{InUse: inUse}); !errdefs.IsConflict(err) {
		t.Errorf("remove an image in use: %v", err)
	}

	// Prune removes the dangling a, its blobs and its snapshots (the
	// layers b does not share).
	// label! keeps what has the label (a has test=yes).
	if rep, err := s.Prune(ctx, PruneOptions{Filters: map[string][]string{"label!": {"test=yes"}}, InUse: inUse}); err != nil || len(rep.Deleted) != 0 {
		t.Errorf("prune label!=test=yes: %+v %v", rep, err)
	}
	before := committedSnapshots(t, s)
	rep, err := s.Prune(ctx, PruneOptions{Filters: map[string][]string{"label!": {"test=no"}}, InUse: inUse})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Deleted) != 1 || rep.Deleted[0].Deleted != a.ID.String() || rep.SpaceReclaimed <= 0 {
		t.Errorf("prune: %+v", rep)
	}
	after := committedSnapshots(t, s)
	if len(after) != len(before)-2 {
		t.Errorf("snapshots before prune %v, after %v", before, after)
	}
	if _, err := s.content.Info(ctx, a.Manifest.Layers[1].Digest); !errdefs.IsNotFound(err) {
		t.Errorf("a's layer blob after prune: %v", err)
	}
	// prune -a keeps what containers use.
	if rep, err := s.Prune(ctx, PruneOptions{All: true, InUse: inUse}); err != nil || len(rep.Deleted) != 0 {
		t.Errorf("prune -a with b in use: %+v %v", rep, err)
	}
	resp, err = s.Remove(ctx, "app:1", RemoveOptions{})
	if err != nil || len(resp) != 2 || resp[1].Deleted != b.ID.String() {
		t.Errorf("remove b: %+v %v", resp, err)
	}
	if left := committedSnapshots(t, s); len(left) != 0 {
		t.Errorf("snapshots left after removing every image: %v", left)
	}
}

// A container's rootfs is a writable snapshot on the image's top layer.
func TestPrepareContainerRootfs(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	s := newTestService(t, "")
	img := twoLayers(t).store(t, s, "app:1")
	mounts, err := s.Prepare(ctx, "c1", img)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.RemoveRootfs(context.Background(), "c1") })
	dir := t.TempDir()
	if err := mountAll(mounts, dir); err != nil {
		t.Fatal(err)
	}
	defer unmountAll(dir)
	if b, err := readFile(dir, "etc/hello"); err != nil || string(b) != "hello\n" {
		t.Errorf("etc/hello: %q %v", b, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "written"), []byte("w"), 0o644); err != nil {
		t.Errorf("rootfs not writable: %v", err)
	}
	if _, err := s.Prepare(ctx, "c1", img); !errdefs.IsAlreadyExists(err) {
		t.Errorf("second Prepare: %v", err)
	}
	// GC keeps the container's layers even after the image is removed.
	unmountAll(dir)
	if _, err := s.Remove(ctx, "app:1", RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.snap.Stat(ctx, img.ChainID.String()); err != nil {
		t.Errorf("the container's parent snapshot was collected: %v", err)
	}
	if err := s.RemoveRootfs(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GC(ctx); err != nil {
		t.Fatal(err)
	}
	if left := committedSnapshots(t, s); len(left) != 0 {
		t.Errorf("snapshots left: %v", left)
	}
}
