package metadata_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth/berth/internal/metadata"
)

func openDB(t *testing.T, path string) *metadata.DB {
	t.Helper()
	db, err := metadata.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func target(s string) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString(s), Size: int64(len(s)) + 100}
}

func TestImageCreateGet(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "metadata.db")
	db := openDB(t, path)
	before := time.Now().Add(-time.Second)
	img, err := db.Images().Create(ctx, metadata.Image{Name: "busybox", Target: target("bb"), Labels: map[string]string{"a": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	if img.Name != "docker.io/library/busybox:latest" || img.CreatedAt.Before(before) || !img.UpdatedAt.Equal(img.CreatedAt) {
		t.Fatalf("Create = %+v; want the normalised name and times set", img)
	}
	if _, err := db.Images().Create(ctx, metadata.Image{Name: "docker.io/library/busybox:latest", Target: target("x")}); !errdefs.IsAlreadyExists(err) {
		t.Fatalf("second Create of the same name = %v, want already exists", err)
	}
	for _, name := range []string{"busybox", "busybox:latest", "docker.io/library/busybox"} {
		got, err := db.Images().Get(ctx, name)
		if err != nil || got.Target.Digest != digest.FromString("bb") || got.Target.Size != 102 || got.Target.MediaType != ocispec.MediaTypeImageManifest || got.Labels["a"] != "1" {
			t.Fatalf("Get(%q) = %+v, %v", name, got, err)
		}
	}
	if _, err := db.Images().Get(ctx, "busybox:1"); !errdefs.IsNotFound(err) {
		t.Fatalf("Get of an absent tag = %v, want not found", err)
	}
	if _, err := db.Images().Get(ctx, "BusyBox"); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("Get of an invalid name = %v, want invalid argument", err)
	}

	// Persisted across reopen, with times intact.
	db.Close()
	db = openDB(t, path)
	got, err := db.Images().Get(ctx, "busybox")
	if err != nil || !got.CreatedAt.Equal(img.CreatedAt) || got.Labels["a"] != "1" {
		t.Fatalf("Get after reopen = %+v, %v; want %+v", got, err, img)
	}
}

func TestImageCreateInvalid(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, filepath.Join(t.TempDir(), "metadata.db"))
	for name, img := range map[string]metadata.Image{
		"bad name":      {Name: "UPPER", Target: target("x")},
		"no digest":     {Name: "a", Target: ocispec.Descriptor{MediaType: "m", Size: 1}},
		"bad digest":    {Name: "a", Target: ocispec.Descriptor{MediaType: "m", Size: 1, Digest: "sha256:zz"}},
		"no media type": {Name: "a", Target: ocispec.Descriptor{Digest: digest.FromString("x"), Size: 1}},
		"zero size":     {Name: "a", Target: ocispec.Descriptor{MediaType: "m", Digest: digest.FromString("x")}},
		"empty label":   {Name: "a", Target: target("x"), Labels: map[string]string{"": "v"}},
		"huge label":    {Name: "a", Target: target("x"), Labels: map[string]string{"k": strings.Repeat("v", 5000)}},
	} {
		if _, err := db.Images().Create(ctx, img); !errdefs.IsInvalidArgument(err) {
			t.Errorf("Create(%s) = %v, want invalid argument", name, err)
		}
	}
	if imgs, _ := db.Images().List(ctx); len(imgs) != 0 {
		t.Fatalf("invalid creates left %d records", len(imgs))
	}
}

func TestImageUpdateDelete(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, filepath.Join(t.TempDir(), "metadata.db"))
	img, err := db.Images().Create(ctx, metadata.Image{Name: "repo:1", Target: target("one"), Labels: map[string]string{"a": "1", "b": "2"}})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond)
	up, err := db.Images().Update(ctx, metadata.Image{Name: "repo:1", Target: target("two"), Labels: map[string]string{"a": "9"}}, "labels.a", "labels.b")
	if err != nil {
		t.Fatal(err)
	}
	if up.Target.Digest != digest.FromString("one") || len(up.Labels) != 1 || up.Labels["a"] != "9" {
		t.Fatalf("Update(labels.a, labels.b) = %+v; want target kept and labels {a:9}", up)
	}
	if !up.UpdatedAt.After(img.UpdatedAt) || !up.CreatedAt.Equal(img.CreatedAt) {
		t.Fatalf("Update times = created %v updated %v; want created kept, updated later than %v", up.CreatedAt, up.UpdatedAt, img.UpdatedAt)
	}
	up, err = db.Images().Update(ctx, metadata.Image{Name: "docker.io/library/repo:1", Target: target("two")})
	if err != nil || up.Target.Digest != digest.FromString("two") || up.Labels != nil {
		t.Fatalf("Update() = %+v, %v; want new target and no labels", up, err)
	}
	if _, err := db.Images().Update(ctx, metadata.Image{Name: "repo:1"}, "name"); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("Update(name) = %v, want invalid argument", err)
	}
	if _, err := db.Images().Update(ctx, metadata.Image{Name: "repo:1"}, "target"); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("Update to an empty target = %v, want invalid argument", err)
	}
	if _, err := db.Images().Update(ctx, metadata.Image{Name: "repo:2", Target: target("x")}); !errdefs.IsNotFound(err) {
		t.Fatalf("Update of an absent image = %v, want not found", err)
	}
	if err := db.Images().Delete(ctx, "repo:1"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Images().Get(ctx, "repo:1"); !errdefs.IsNotFound(err) {
		t.Fatalf("Get after Delete = %v, want not found", err)
	}
	if err := db.Images().Delete(ctx, "repo:1"); !errdefs.IsNotFound(err) {
		t.Fatalf("second Delete = %v, want not found", err)
	}
}

func TestImageList(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, filepath.Join(t.TempDir(), "metadata.db"))
	for _, img := range []metadata.Image{
		{Name: "busybox", Target: target("bb"), Labels: map[string]string{"io.berth/kind": "base"}},
		{Name: "busybox:1.36", Target: target("bb")},
		{Name: "localhost:5000/app:v1", Target: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: digest.FromString("app"), Size: 9}, Labels: map[string]string{"env": "prod"}},
		{Name: "user/tool@sha256:" + hex64, Target: target("tool"), Labels: map[string]string{"env": "dev"}},
	} {
		if _, err := db.Images().Create(ctx, img); err != nil {
			t.Fatal(err)
		}
	}
	// Sorted by normalised name: docker.io/... before localhost:5000/...
	names := func(filters ...string) string {
		t.Helper()
		imgs, err := db.Images().List(ctx, filters...)
		if err != nil {
			t.Fatalf("List(%q): %v", filters, err)
		}
		var out []string
		for _, i := range imgs {
			out = append(out, metadata.FamiliarName(i.Name))
		}
		return strings.Join(out, " ")
	}
	for _, c := range []struct {
		want    string
		filters []string
	}{
		{"busybox:1.36 busybox:latest user/tool@sha256:" + hex64 + " localhost:5000/app:v1", nil},
		{"busybox:1.36 busybox:latest", []string{"target.digest==" + digest.FromString("bb").String()}},
		{"localhost:5000/app:v1", []string{"target.mediatype==" + ocispec.MediaTypeImageIndex}},
		{"busybox:latest localhost:5000/app:v1", []string{`labels."io.berth/kind"==base`, "labels.env==prod"}},
		{"user/tool@sha256:" + hex64 + " localhost:5000/app:v1", []string{"labels.env"}},
		{"busybox:1.36 busybox:latest user/tool@sha256:" + hex64, []string{"labels.env!=prod"}},
		{"busybox:1.36 busybox:latest", []string{`name~=^docker\.io/library/`}},
		{"busybox:latest", []string{`name~=^docker\.io/library/,labels.io.berth/kind`}},
		{"", []string{"name==nothing"}},
	} {
		if got := names(c.filters...); got != c.want {
			t.Errorf("List(%q) = %q, want %q", c.filters, got, c.want)
		}
	}
	for _, bad := range []string{"size==1", "name~=(", "labels.==x", ",", `name=="unterminated`} {
		if _, err := db.Images().List(ctx, bad); !errdefs.IsInvalidArgument(err) {
			t.Errorf("List(%q) = %v, want invalid argument", bad, err)
		}
	}
}

func TestTransactionRollsBack(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, filepath.Join(t.TempDir(), "metadata.db"))
	if _, err := db.Images().Create(ctx, metadata.Image{Name: "old", Target: target("old")}); err != nil {
		t.Fatal(err)
	}
	// A retag in one transaction: create new, delete old; then fail.
	boom := errors.New("boom")
	err := db.Update(ctx, func(tx *metadata.Tx) error {
		if _, err := tx.Images().Create(metadata.Image{Name: "new", Target: target("old")}); err != nil {
			return err
		}
		if err := tx.Images().Delete("old"); err != nil {
			return err
		}
		if imgs, err := tx.Images().List(); err != nil || len(imgs) != 1 || imgs[0].Name != "docker.io/library/new:latest" {
			t.Errorf("inside the transaction List = %+v, %v; want only new", imgs, err)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want boom", err)
	}
	if _, err := db.Images().Get(ctx, "old"); err != nil {
		t.Fatalf("old after rollback: %v", err)
	}
	if _, err := db.Images().Get(ctx, "new"); !errdefs.IsNotFound(err) {
		t.Fatalf("new after rollback = %v, want not found", err)
	}
	// And committed when fn succeeds.
	err = db.Update(ctx, func(tx *metadata.Tx) error {
		if _, err := tx.Images().Create(metadata.Image{Name: "new", Target: target("old")}); err != nil {
			return err
		}
		return tx.Images().Delete("old")
	})
	if err != nil {
		t.Fatal(err)
	}
	if imgs, _ := db.Images().List(ctx); len(imgs) != 1 || imgs[0].Name != "docker.io/library/new:latest" {
		t.Fatalf("after the committed retag List = %+v", imgs)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := db.View(cctx, func(*metadata.Tx) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("View with a cancelled context = %v", err)
	}
}

func TestOpenLockedByAnother(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metadata.db")
	openDB(t, path)
	if db, err := metadata.Open(path); !errdefs.IsUnavailable(err) {
		if db != nil {
			db.Close()
		}
		t.Fatalf("second Open of a held database = %v, want unavailable", err)
	}
}
