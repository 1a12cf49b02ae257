package testutil

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// BusyboxImage is busybox:latest made offline by hack/mkimage-busybox.sh:
// an OCI image layout, its one layer, and on demand a docker-archive.
type BusyboxImage struct {
	Layout string // OCI image layout, ref "latest"
	Layer  string // the layer blob (tar.gz) inside Layout

	dir     string
	once    sync.Once
	archive string
	err     error
}

// MakeBusyboxImage writes the busybox OCI layout into dir/busybox-oci.
func MakeBusyboxImage(dir string) (*BusyboxImage, error) {
	root, err := ModuleRoot()
	if err != nil {
		return nil, err
	}
	layout := filepath.Join(dir, "busybox-oci")
	if out, err := exec.Command("sh", filepath.Join(root, "hack", "mkimage-busybox.sh"), layout).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("hack/mkimage-busybox.sh %s: %v\n%s", layout, err, out)
	}
	var index struct{ Manifests []struct{ Digest string } }
	if err := readJSONFile(filepath.Join(layout, "index.json"), &index); err != nil {
		return nil, fmt.Errorf("busybox layout: %w", err)
	}
	if len(index.Manifests) == 0 {
		return nil, fmt.Errorf("busybox layout %s: index.json lists no manifest", layout)
	}
	var manifest struct{ Layers []struct{ Digest string } }
	if err := readJSONFile(layoutBlob(layout, index.Manifests[0].Digest), &manifest); err != nil {
		return nil, fmt.Errorf("busybox layout: %w", err)
	}
	if len(manifest.Layers) == 0 {
		return nil, fmt.Errorf("busybox layout %s: the manifest has no layer", layout)
	}
	return &BusyboxImage{Layout: layout, Layer: layoutBlob(layout, manifest.Layers[0].Digest), dir: dir}, nil
}

// DockerArchive copies the layout with skopeo into a docker-archive
// tagged busybox:latest (once) and returns its path.
func (b *BusyboxImage) DockerArchive() (string, error) {
	b.once.Do(func() {
		p := filepath.Join(b.dir, "busybox.tar")
		out, err := exec.Command("skopeo", "copy", "-q", "oci:"+b.Layout+":latest", "docker-archive:"+p+":busybox:latest").CombinedOutput()
		if err != nil {
			b.err = fmt.Errorf("skopeo copy %s to a docker-archive: %v\n%s", b.Layout, err, out)
			return
		}
		b.archive = p
	})
	return b.archive, b.err
}

func layoutBlob(layout, digest string) string {
	return filepath.Join(layout, "blobs", "sha256", strings.TrimPrefix(digest, "sha256:"))
}

func readJSONFile(p string, v any) error {
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	return nil
}
