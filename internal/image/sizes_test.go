package image

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth/berth/internal/archive"
	"github.com/berth/berth/internal/content"
	"github.com/berth/berth/internal/metadata"
	"github.com/berth/berth/internal/snapshot"
	"github.com/berth/berth/internal/testutil"
)

// openService opens a service on the stores under root and returns it with
// a function that closes them, so that the same root can be opened again
// (a daemon restart).
func openService(t testing.TB, root string) (*Service, func()) {
	t.Helper()
	cs, err := content.Open(filepath.Join(root, "content"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := metadata.Open(filepath.Join(root, "metadata.db"))
	if err != nil {
		t.Fatal(err)
	}
	sn, err := snapshot.NewOverlay(filepath.Join(root, "snapshots", "overlay"))
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	s, err := New(Config{Content: cs, Metadata: db, Snapshotter: sn})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	closeFn := func() {
		if !closed {
			closed = true
			sn.Close()
			db.Close()
		}
	}
	t.Cleanup(closeFn)
	return s, closeFn
}

// sizedLayers are two layers whose unpacked sizes, as docker counts them
// (file contents, symlink targets, hard links once, whiteouts nothing),
// are sizedWant; compressed they are much smaller.
func sizedLayers(t *testing.T) ([][]byte, []int64) {
	zeros := strings.Repeat("\x00", 300000)
	l0 := makeTar(t,
		tarEntry{name: "bin/", typ: '5'},
		tarEntry{name: "bin/busybox", body: zeros, mode: 0o755},
		tarEntry{name: "bin/sh", typ: '2', link: "busybox"},
		tarEntry{name: "bin/ash", typ: '1', link: "bin/busybox"},
		tarEntry{name: "gone", body: "12345"},
	)
	l1 := makeTar(t,
		tarEntry{name: "etc/", typ: '5'},
		tarEntry{name: "etc/passwd", body: "root:x:0:0::/root:/bin/sh\n"},
		tarEntry{name: ".wh.gone"},
	)
	return [][]byte{l0, l1}, []int64{300000 + int64(len("busybox")) + 5, int64(len("root:x:0:0::/root:/bin/sh\n"))}
}

func sum(xs []int64) int64 {
	var n int64
	for _, x := range xs {
		n += x
	}
	return n
}

func checkSize(t *testing.T, what string, img Image, want []int64) {
	t.Helper()
	if img.Size != sum(want) || !slices.Equal(img.LayerSizes, want) {
		t.Errorf("%s: Size %d, LayerSizes %v; want docker's unpacked %d, %v", what, img.Size, img.LayerSizes, sum(want), want)
	}
	var stored int64
	for _, l := range img.Manifest.Layers {
		stored += l.Size
	}
	if img.Size == stored {
		t.Errorf("%s: Size %d is the compressed size", what, img.Size)
	}
}

// Image sizes are docker's (the unpacked size of the layers) for images
// pulled, loaded, imported and made by CreateFromDiff, in Get, List,
// History and DiskUsage, and the same after a restart.
func TestImageSizesAreUnpacked(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	tars, want := sizedLayers(t)
	ti := newTestImage(t, tars...)
	f, host := newFakeRegistry(t)
	f.addImage("v1", ti)

	root := t.TempDir()
	s, closeS := openService(t, root)
	pulled, err := s.Pull(ctx, host+"/sized/img:v1", PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkSize(t, "pulled", pulled, want)
	hist, err := s.History(ctx, pulled.ID.String())
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 2 || hist[0].Size != want[1] || hist[1].Size != want[0] {
		t.Errorf("history sizes: %+v, want %d then %d", hist, want[1], want[0])
	}

	imported, err := s.Import(ctx, bytes.NewReader(gz(t, tars[0])), ImportOptions{Ref: "imported:1"})
	if err != nil {
		t.Fatal(err)
	}
	checkSize(t, "imported", imported, want[:1])
	built, err := s.CreateFromDiff(ctx, imported, bytes.NewReader(tars[1]), CommitOptions{Ref: "built:1"})
	if err != nil {
		t.Fatal(err)
	}
	checkSize(t, "built", built, want)

	var archive bytes.Buffer
	if err := s.Save(ctx, []string{host + "/sized/img:v1"}, &archive, FormatDockerArchive); err != nil {
		t.Fatal(err)
	}
	other := newTestService(t, "")
	if _, err := other.Load(ctx, bytes.NewReader(archive.Bytes())); err != nil {
		t.Fatal(err)
	}
	loaded, err := other.Get(ctx, host+"/sized/img:v1")
	if err != nil {
		t.Fatal(err)
	}
	checkSize(t, "loaded", loaded, want)

	du, err := s.DiskUsage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The same diff IDs give the same chain IDs: all three images share
	// layer 0, pulled and built share layer 1 too.
	if du.LayersSize != sum(want) {
		t.Errorf("DiskUsage.LayersSize = %d, want %d (each layer once)", du.LayersSize, sum(want))
	}
	if got := du.SharedSize[imported.ID]; got != want[0] {
		t.Errorf("SharedSize of imported = %d, want %d", got, want[0])
	}

	closeS()
	s2, _ := openService(t, root)
	list, err := s2.List(ctx, ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, img := range list {
		switch img.ID {
		case pulled.ID:
			checkSize(t, "pulled after restart", img, want)
		case imported.ID:
			checkSize(t, "imported after restart", img, want[:1])
		case built.ID:
			checkSize(t, "built after restart", img, want)
		}
	}
}

// A layer unpacked before sizes were recorded (its snapshot has no size
// label) gets the same figure, counted from its blob.
func TestImageSizeOfUnlabelledLayer(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	tars, want := sizedLayers(t)
	ti := newTestImage(t, tars...)
	s := newTestService(t, "")
	var m ocispec.Manifest
	if err := json.Unmarshal(ti.manifest, &m); err != nil {
		t.Fatal(err)
	}
	for i, l := range ti.layers {
		if err := content.WriteBlob(ctx, s.content, "t", bytes.NewReader(l), m.Layers[i]); err != nil {
			t.Fatal(err)
		}
	}
	for _, b := range []struct {
		d ocispec.Descriptor
		b []byte
	}{{m.Config, ti.config}, {ti.mdesc, ti.manifest}} {
		if err := content.WriteBlob(ctx, s.content, "t", bytes.NewReader(b.b), b.d); err != nil {
			t.Fatal(err)
		}
	}
	// Unpack as the service did before it labelled sizes.
	var parent digest.Digest
	for i, c := range ChainIDs([]digest.Digest{digest.FromBytes(tars[0]), digest.FromBytes(tars[1])}) {
		key := "old-" + c.Encoded()
		mounts, err := s.snap.Prepare(ctx, key, parent.String())
		if err != nil {
			t.Fatal(err)
		}
		dir, format, err := applyTarget(mounts)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := archive.Apply(ctx, dir, bytes.NewReader(ti.layers[i]), archive.ApplyOptions{Format: format}); err != nil {
			t.Fatal(err)
		}
		if err := s.snap.Commit(ctx, c.String(), key); err != nil {
			t.Fatal(err)
		}
		parent = c
	}
	if _, err := s.setNames(ctx, []string{"docker.io/library/old:1"}, ti.mdesc); err != nil {
		t.Fatal(err)
	}
	img, err := s.Get(ctx, "old:1")
	if err != nil {
		t.Fatal(err)
	}
	checkSize(t, "unlabelled", img, want)
}
