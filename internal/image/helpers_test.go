package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	cryptorand "crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth/berth/internal/content"
	"github.com/berth/berth/internal/metadata"
	"github.com/berth/berth/internal/snapshot"
	"github.com/berth/berth/internal/testutil"
)

// newTestService opens a service on stores under a fresh temp root, with
// the overlay snapshotter (root) or the native one.
func newTestService(t *testing.T, root string) *Service {
	t.Helper()
	if root == "" {
		root = t.TempDir()
	}
	cs, err := content.Open(filepath.Join(root, "content"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := metadata.Open(filepath.Join(root, "metadata.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var sn snapshot.Snapshotter
	if os.Geteuid() == 0 {
		sn, err = snapshot.NewOverlay(filepath.Join(root, "snapshots", "overlay"))
	} else {
		sn, err = snapshot.NewNative(filepath.Join(root, "snapshots", "native"))
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sn.Close() })
	s, err := New(Config{Content: cs, Metadata: db, Snapshotter: sn})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type tarEntry struct {
	name, body, link string
	typ              byte
	mode             int64
}

func makeTar(t testing.TB, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: e.mode, Typeflag: e.typ, Linkname: e.link, ModTime: time.Unix(1700000000, 0)}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// testImage is an image as blobs, before any store has it.
type testImage struct {
	manifest, config []byte
	layers           [][]byte // compressed
	mdesc            ocispec.Descriptor
}

// newTestImage builds a Docker schema 2 image of the given uncompressed
// layer tars (gzipped).
func newTestImage(t testing.TB, tars ...[]byte) testImage {
	t.Helper()
	var ti testImage
	var diffIDs []digest.Digest
	var ldescs []ocispec.Descriptor
	var hist []ocispec.History
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i, tb := range tars {
		c := gz(t, tb)
		ti.layers = append(ti.layers, c)
		diffIDs = append(diffIDs, digest.FromBytes(tb))
		ldescs = append(ldescs, ocispec.Descriptor{MediaType: content.MediaTypeDockerLayer, Digest: digest.FromBytes(c), Size: int64(len(c))})
		hist = append(hist, ocispec.History{Created: &created, CreatedBy: fmt.Sprintf("layer %d", i)})
	}
	cfg := ocispec.Image{Created: &created, Platform: ocispec.Platform{OS: "linux", Architecture: "amd64"},
		Config: ocispec.ImageConfig{Cmd: []string{"sh"}, Labels: map[string]string{"test": "yes"}},
		RootFS: ocispec.RootFS{Type: "layers", DiffIDs: diffIDs}, History: hist}
	ti.config, _ = json.Marshal(cfg)
	m := ocispec.Manifest{MediaType: content.MediaTypeDockerManifest,
		Config: ocispec.Descriptor{MediaType: content.MediaTypeDockerConfig, Digest: digest.FromBytes(ti.config), Size: int64(len(ti.config))},
		Layers: ldescs}
	m.SchemaVersion = 2
	ti.manifest, _ = json.Marshal(m)
	ti.mdesc = ocispec.Descriptor{MediaType: content.MediaTypeDockerManifest, Digest: digest.FromBytes(ti.manifest), Size: int64(len(ti.manifest))}
	return ti
}

// store writes the image's blobs into s, unpacks and names it.
func (ti testImage) store(t testing.TB, s *Service, name string) Image {
	t.Helper()
	ctx := context.Background()
	var m ocispec.Manifest
	json.Unmarshal(ti.manifest, &m)
	write := func(d ocispec.Descriptor, b []byte) {
		if err := content.WriteBlob(ctx, s.content, "test-"+d.Digest.String(), bytes.NewReader(b), d); err != nil {
			t.Fatal(err)
		}
	}
	for i, l := range ti.layers {
		write(m.Layers[i], l)
	}
	write(m.Config, ti.config)
	write(ti.mdesc, ti.manifest)
	var cfg ocispec.Image
	json.Unmarshal(ti.config, &cfg)
	if err := s.unpackLayers(ctx, m.Layers, cfg.RootFS.DiffIDs); err != nil {
		t.Fatal(err)
	}
	n, _ := metadata.NormalizeName(name)
	if _, err := s.setNames(ctx, []string{n}, ti.mdesc); err != nil {
		t.Fatal(err)
	}
	img, err := s.Get(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// skopeo runs skopeo with args and fails the test on error.
func skopeo(t testing.TB, args ...string) []byte {
	t.Helper()
	bin, err := exec.LookPath("skopeo")
	if err != nil {
		t.Skip("skopeo not installed (hack/install-deps.sh)")
	}
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("skopeo %v: %v\n%s", args, err, out)
	}
	return out
}

// mountedFiles mounts the image's layers read-only (a view) in a temp dir
// and returns the root.
func viewImage(t *testing.T, s *Service, img Image) string {
	t.Helper()
	testutil.RequireRoot(t)
	ctx := context.Background()
	key := "view-" + randomID()
	mounts, err := s.snap.View(ctx, key, img.ChainID.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.snap.Remove(context.Background(), key) })
	dir := t.TempDir()
	if err := mountAll(mounts, dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unmountAll(dir) })
	return dir
}

func runCmd(name string, args ...string) ([]byte, error) {
	return exec.Command(name, args...).CombinedOutput()
}

var timeZero time.Time

func itoa(n int) string { return fmt.Sprint(n) }

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := cryptorand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func readFile(dir, name string) ([]byte, error) { return os.ReadFile(filepath.Join(dir, name)) }

func (ti testImage) layerDigest(i int) digest.Digest { return digest.FromBytes(ti.layers[i]) }
