package daemon

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/berth/berth/internal/image"
)

// TestOpenImages opens the image service on a fresh data root, with
// daemon.json's insecure-registries: the stores land where the layout
// says and an imported image is counted. As in the daemon, the stores stay
// open until the process exits.
func TestOpenImages(t *testing.T) {
	root := t.TempDir()
	cfg, err := parse(t, "--config-file", writeFile(t, `{"insecure-registries":["myregistry:5000"]}`), "--data-root", root)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.InsecureRegistries) != 1 || cfg.InsecureRegistries[0] != "myregistry:5000" {
		t.Errorf("insecure-registries = %v", cfg.InsecureRegistries)
	}
	svc, err := openImages(cfg)
	if err != nil {
		t.Fatal(err)
	}
	kind := "native"
	if useOverlay(filepath.Join(root, "snapshots")) {
		kind = "overlay"
	}
	for _, p := range []string{"content/blobs/sha256", "metadata.db", "snapshots/" + kind} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Errorf("data root lacks %s: %v", p, err)
		}
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "a", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1})
	tw.Write([]byte("a"))
	tw.Close()
	if _, err := svc.Import(context.Background(), &buf, image.ImportOptions{Ref: "counted:1"}); err != nil {
		t.Fatal(err)
	}
	n, err := imageCounts(svc)(context.Background())
	if err != nil || n.Images != 1 {
		t.Errorf("image count = %+v, %v; want 1", n, err)
	}
	// A data root that holds native snapshots keeps them.
	other := t.TempDir()
	if err := os.MkdirAll(filepath.Join(other, "snapshots", "native"), 0o700); err != nil {
		t.Fatal(err)
	}
	if useOverlay(filepath.Join(other, "snapshots")) {
		t.Error("useOverlay with an existing native snapshot root")
	}
}
