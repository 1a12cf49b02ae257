package content_test

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth/berth/internal/content"
)

func put(t *testing.T, ctx context.Context, s *content.LocalStore, mediaType string, b []byte) ocispec.Descriptor {
	t.Helper()
	d := ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(b), Size: int64(len(b))}
	if err := content.WriteBlob(ctx, s, "put-"+d.Digest.String(), bytes.NewReader(b), d); err != nil {
		t.Fatal(err)
	}
	return d
}

func putJSON(t *testing.T, ctx context.Context, s *content.LocalStore, mediaType string, v any) ocispec.Descriptor {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return put(t, ctx, s, mediaType, b)
}

func manifest(mediaType string, config ocispec.Descriptor, layers ...ocispec.Descriptor) ocispec.Manifest {
	m := ocispec.Manifest{MediaType: mediaType, Config: config, Layers: layers}
	m.SchemaVersion = 2
	return m
}

func present(t *testing.T, s *content.LocalStore) map[digest.Digest]bool {
	t.Helper()
	got := map[digest.Digest]bool{}
	if err := s.Walk(context.Background(), func(i content.Info) error { got[i.Digest] = true; return nil }); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestGCKeepsReachableAndLeased(t *testing.T) {
	ctx := context.Background()
	s := newLocal(t)

	// An index (Docker manifest list) of an OCI manifest and a Docker one.
	l1 := put(t, ctx, s, ocispec.MediaTypeImageLayerGzip, []byte("layer one"))
	l2 := put(t, ctx, s, ocispec.MediaTypeImageLayer, []byte("layer two"))
	c1 := putJSON(t, ctx, s, ocispec.MediaTypeImageConfig, ocispec.Image{Platform: ocispec.Platform{OS: "linux", Architecture: "amd64"}})
	m1 := putJSON(t, ctx, s, ocispec.MediaTypeImageManifest, manifest(ocispec.MediaTypeImageManifest, c1, l1, l2))
	l3 := put(t, ctx, s, content.MediaTypeDockerLayer, []byte("layer three"))
	c2 := putJSON(t, ctx, s, content.MediaTypeDockerConfig, ocispec.Image{Platform: ocispec.Platform{OS: "linux", Architecture: "arm64"}})
	missing := ocispec.Descriptor{MediaType: content.MediaTypeDockerLayer, Digest: digest.FromString("never pulled"), Size: 12}
	m2 := putJSON(t, ctx, s, content.MediaTypeDockerManifest, manifest(content.MediaTypeDockerManifest, c2, l3, missing))
	idx := ocispec.Index{MediaType: content.MediaTypeDockerManifestList, Manifests: []ocispec.Descriptor{m1, m2}}
	idx.SchemaVersion = 2
	root := putJSON(t, ctx, s, content.MediaTypeDockerManifestList, idx)

	orphan := put(t, ctx, s, "x", []byte("orphan"))
	// A manifest over 4 MiB is not followed: its "layer" is not kept.
	bigChild := put(t, ctx, s, "x", []byte("child of an oversized manifest"))
	big := manifest(ocispec.MediaTypeImageManifest, c1, bigChild)
	big.Annotations = map[string]string{"pad": strings.Repeat("x", content.MaxManifestSize)}
	bigM := putJSON(t, ctx, s, ocispec.MediaTypeImageManifest, big)

	// A pull in progress: its blobs are under a lease.
	if _, err := s.CreateLease(ctx, "pull-1", time.Hour); err != nil {
		t.Fatal(err)
	}
	lctx := content.WithLease(ctx, "pull-1")
	leased := put(t, lctx, s, "x", []byte("pulled, image not yet recorded"))
	// Already present when the pull wants it: Writer adds it to the lease.
	preexisting := put(t, ctx, s, "x", []byte("present before the pull"))
	if _, err := s.Writer(lctx, "again", preexisting.Size, preexisting.Digest); !errdefs.IsAlreadyExists(err) {
		t.Fatalf("Writer for a present blob = %v, want already exists", err)
	}
	// An expired lease protects nothing.
	if _, err := s.CreateLease(ctx, "expired", time.Nanosecond); err != nil {
		t.Fatal(err)
	}
	expired := put(t, content.WithLease(ctx, "expired"), s, "x", []byte("expired lease"))
	time.Sleep(time.Millisecond)

	st, err := s.GC(ctx, func() []digest.Digest { return []digest.Digest{root.Digest, bigM.Digest} })
	if err != nil {
		t.Fatal(err)
	}
	got := present(t, s)
	for _, d := range []ocispec.Descriptor{root, m1, m2, c1, c2, l1, l2, l3, bigM, leased, preexisting} {
		if !got[d.Digest] {
			t.Errorf("GC removed %s (%s), which is reachable or leased", d.Digest, d.MediaType)
		}
	}
	for _, d := range []ocispec.Descriptor{orphan, bigChild, expired} {
		if got[d.Digest] {
			t.Errorf("GC kept %s, which nothing references", d.Digest)
		}
		if !slices.Contains(st.Removed, d.Digest) {
			t.Errorf("GCStats.Removed %v lacks %s", st.Removed, d.Digest)
		}
	}
	if st.Kept != 11 || len(st.Removed) != 3 || !slices.Equal(st.ExpiredLeases, []string{"expired"}) {
		t.Errorf("GCStats = kept %d, removed %d, expired leases %v; want 11, 3, [expired]", st.Kept, len(st.Removed), st.ExpiredLeases)
	}
	if _, err := s.Lease(ctx, "expired"); !errdefs.IsNotFound(err) {
		t.Errorf("expired lease after GC: %v, want removed", err)
	}

	// The pull records its image and drops the lease: with no roots, all goes.
	if err := s.DeleteLease(ctx, "pull-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GC(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if got := present(t, s); len(got) != 0 {
		t.Fatalf("after GC without roots or leases %d blobs remain", len(got))
	}
}

func TestLeaseErrors(t *testing.T) {
	ctx := context.Background()
	s := newLocal(t)
	if _, err := s.CreateLease(ctx, "", 0); !errdefs.IsInvalidArgument(err) {
		t.Errorf("CreateLease(\"\") = %v, want invalid argument", err)
	}
	l, err := s.CreateLease(ctx, "a", 0)
	if err != nil || !l.ExpiresAt.IsZero() {
		t.Fatalf("CreateLease = %+v, %v; want one that never expires", l, err)
	}
	if _, err := s.CreateLease(ctx, "a", 0); !errdefs.IsAlreadyExists(err) {
		t.Errorf("second CreateLease = %v, want already exists", err)
	}
	if err := s.AddLeaseResource(ctx, "b", digest.FromString("x")); !errdefs.IsNotFound(err) {
		t.Errorf("AddLeaseResource(absent lease) = %v, want not found", err)
	}
	// A commit under an absent lease fails rather than leave the blob unprotected.
	w, err := s.Writer(content.WithLease(ctx, "b"), "r", 0, "")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.Write([]byte("x"))
	if err := w.Commit(content.WithLease(ctx, "b"), 0, ""); !errdefs.IsNotFound(err) {
		t.Errorf("Commit under an absent lease = %v, want not found", err)
	}
	ls, err := s.ListLeases(ctx)
	if err != nil || len(ls) != 1 || ls[0].ID != "a" {
		t.Errorf("ListLeases = %+v, %v; want [a]", ls, err)
	}
	if err := s.DeleteLease(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteLease(ctx, "a"); !errdefs.IsNotFound(err) {
		t.Errorf("second DeleteLease = %v, want not found", err)
	}
}

// TestGCDuringPulls runs GC with no roots again and again while pulls
// commit under their leases: no leased blob may vanish.
func TestGCDuringPulls(t *testing.T) {
	ctx := context.Background()
	s := newLocal(t)
	stop := make(chan struct{})
	gcDone := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				gcDone <- nil
				return
			default:
			}
			if _, err := s.GC(ctx, func() []digest.Digest { return nil }); err != nil {
				gcDone <- err
				return
			}
		}
	}()
	var all []digest.Digest
	for p := 0; p < 20; p++ {
		id := "pull-" + string(rune('a'+p))
		if _, err := s.CreateLease(ctx, id, time.Hour); err != nil {
			t.Fatal(err)
		}
		lctx := content.WithLease(ctx, id)
		for i := 0; i < 5; i++ {
			b := []byte{byte(p), byte(i), 'x'}
			// Every other blob is shared with the previous pull.
			if i%2 == 1 && p > 0 {
				b[0] = byte(p - 1)
			}
			all = append(all, put(t, lctx, s, "x", b).Digest)
		}
	}
	close(stop)
	if err := <-gcDone; err != nil {
		t.Fatal(err)
	}
	got := present(t, s)
	for _, d := range all {
		if !got[d] {
			t.Fatalf("GC removed %s, written under a live lease", d)
		}
	}
}
