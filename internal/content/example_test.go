package content_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth/berth/internal/content"
)

// A pull writes its blobs under a lease, records the image, drops the
// lease; GC then keeps what the recorded image reaches.
func Example_pull() {
	root, _ := os.MkdirTemp("", "content-example")
	defer os.RemoveAll(root)
	ctx := context.Background()
	store, err := content.Open(root)
	if err != nil {
		panic(err)
	}

	// 1. Lease, so that GC keeps what this pull writes until it is recorded.
	if _, err := store.CreateLease(ctx, "pull busybox", time.Hour); err != nil {
		panic(err)
	}
	lctx := content.WithLease(ctx, "pull busybox")

	// 2. Fetch blobs (from a registry; here from memory). The ref names the
	// digest, so a concurrent pull of the same blob waits and shares it.
	write := func(mediaType string, b []byte) ocispec.Descriptor {
		d := ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(b), Size: int64(len(b))}
		if err := content.WriteBlob(lctx, store, "fetch-"+d.Digest.String(), bytes.NewReader(b), d); err != nil {
			panic(err)
		}
		return d
	}
	layer := write(ocispec.MediaTypeImageLayerGzip, []byte("a layer"))
	config := write(ocispec.MediaTypeImageConfig, []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`))
	manifest := write(ocispec.MediaTypeImageManifest, []byte(fmt.Sprintf(
		`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":%q,"digest":%q,"size":%d},"layers":[{"mediaType":%q,"digest":%q,"size":%d}]}`,
		ocispec.MediaTypeImageManifest, config.MediaType, config.Digest, config.Size, layer.MediaType, layer.Digest, layer.Size)))
	m, err := content.ReadManifest(ctx, store, manifest)
	if err != nil {
		panic(err)
	}

	// 3. Record the image (package metadata), then drop the lease.
	images := []digest.Digest{manifest.Digest}
	if err := store.DeleteLease(ctx, "pull busybox"); err != nil {
		panic(err)
	}

	// 4. GC keeps the manifest and, by parsing it, its config and layer.
	st, err := store.GC(ctx, func() []digest.Digest { return images })
	if err != nil {
		panic(err)
	}
	fmt.Println("layers:", len(m.Layers), "kept:", st.Kept, "removed:", len(st.Removed))
	// Output: layers: 1 kept: 3 removed: 0
}
