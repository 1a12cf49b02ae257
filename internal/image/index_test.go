package image

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth/berth/internal/content"
)

// addManyImages records n images without layers, each with its own config
// (so its own ID), named many/img<i>:latest, and returns their IDs.
func addManyImages(t testing.TB, s *Service, n int) []digest.Digest {
	t.Helper()
	ctx := context.Background()
	ids := make([]digest.Digest, n)
	for i := range n {
		created := time.Date(2026, 1, 1, 0, 0, i, 0, time.UTC)
		cfg, _ := json.Marshal(ocispec.Image{Created: &created, Platform: ocispec.Platform{OS: "linux", Architecture: "amd64"},
			Config: ocispec.ImageConfig{Labels: map[string]string{"i": fmt.Sprint(i)}}, RootFS: ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{}}})
		cdesc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromBytes(cfg), Size: int64(len(cfg))}
		m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cdesc, Layers: []ocispec.Descriptor{}}
		m.SchemaVersion = 2
		mb, _ := json.Marshal(m)
		mdesc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(mb), Size: int64(len(mb))}
		for _, b := range []struct {
			d ocispec.Descriptor
			b []byte
		}{{cdesc, cfg}, {mdesc, mb}} {
			if err := content.WriteBlob(ctx, s.content, "t-"+b.d.Digest.String(), bytes.NewReader(b.b), b.d); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.setNames(ctx, []string{fmt.Sprintf("docker.io/many/img%d:latest", i)}, mdesc); err != nil {
			t.Fatal(err)
		}
		ids[i] = cdesc.Digest
	}
	return ids
}

// With many images, Get finds each by name, full ID and unique ID prefix,
// refuses an ambiguous prefix, and follows tags and removals at once.
func TestGetManyImages(t *testing.T) {
	ctx := context.Background()
	s := newTestService(t, "")
	const n = 150
	ids := addManyImages(t, s, n)
	for i, id := range ids {
		for _, ref := range []string{fmt.Sprintf("many/img%d", i), id.String(), id.Encoded(), id.Encoded()[:12], "sha256:" + id.Encoded()[:10]} {
			img, err := s.Get(ctx, ref)
			if err != nil {
				t.Fatalf("Get(%q): %v", ref, err)
			}
			if img.ID != id || len(img.RepoTags) != 1 || img.RepoTags[0] != fmt.Sprintf("many/img%d:latest", i) {
				t.Fatalf("Get(%q) = %s %v, want %s many/img%d:latest", ref, img.ID, img.RepoTags, id, i)
			}
		}
	}
	// 150 IDs share some first hex digit.
	firsts := map[byte]int{}
	for _, id := range ids {
		firsts[id.Encoded()[0]]++
	}
	for c, k := range firsts {
		if k < 2 {
			continue
		}
		_, err := s.Get(ctx, string(c))
		if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), fmt.Sprintf("ambiguous (%d images)", k)) {
			t.Errorf("Get(%q) with %d matching IDs: %v, want ambiguous (%d images)", c, k, err, k)
		}
		break
	}
	if _, err := s.Get(ctx, "many/none"); !errdefs.IsNotFound(err) {
		t.Errorf("Get of an unknown name: %v, want not found", err)
	}
	if _, err := s.Get(ctx, strings.Repeat("0", 63)+"x"); !errdefs.IsNotFound(err) {
		t.Errorf("Get of a non-hex ID: %v, want not found", err)
	}

	// Changes show at once.
	if err := s.Tag(ctx, ids[7].String(), "other:v2"); err != nil {
		t.Fatal(err)
	}
	img, err := s.Get(ctx, "other:v2")
	if err != nil || img.ID != ids[7] || len(img.RepoTags) != 2 {
		t.Fatalf("Get after tag: %v %v %v", img.ID, img.RepoTags, err)
	}
	img.RepoTags[0] = "changed by the caller"
	if again, _ := s.Get(ctx, "other:v2"); again.RepoTags[0] == "changed by the caller" {
		t.Error("a caller's change of RepoTags shows in the next Get")
	}
	if _, err := s.Remove(ctx, "many/img7", RemoveOptions{NoPrune: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "many/img7"); !errdefs.IsNotFound(err) {
		t.Errorf("Get of a removed tag: %v", err)
	}
	if _, err := s.Remove(ctx, "other:v2", RemoveOptions{NoPrune: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, ids[7].String()); !errdefs.IsNotFound(err) {
		t.Errorf("Get of a removed image by ID: %v", err)
	}
	list, err := s.List(ctx, ListOptions{})
	if err != nil || len(list) != n-1 {
		t.Fatalf("List: %d images, %v; want %d", len(list), err, n-1)
	}
	for i := 1; i < len(list); i++ {
		if list[i].Created.After(list[i-1].Created) {
			t.Fatalf("List is not newest first at %d", i)
		}
	}
}

// BenchmarkGet looks images up among 300 by name, by ID prefix and by
// full ID, and lists them.
func BenchmarkGet(b *testing.B) {
	ctx := context.Background()
	s, _ := openService(b, b.TempDir())
	ids := addManyImages(b, s, 300)
	for _, c := range []struct{ name, ref string }{
		{"name", "many/img150"},
		{"prefix", ids[150].Encoded()[:12]},
		{"id", ids[150].String()},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := s.Get(ctx, c.ref); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("list", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.List(ctx, ListOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
