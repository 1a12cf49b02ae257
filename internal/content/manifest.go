package content

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/containerd/errdefs"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// MaxManifestSize bounds manifests, indexes and image configs: a larger one
// is refused before it is read or parsed.
const MaxManifestSize = 4 << 20

// Docker schema 2 media types (OCI's are in image-spec's v1 package).
const (
	MediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	MediaTypeDockerConfig       = "application/vnd.docker.container.image.v1+json"
	MediaTypeDockerLayer        = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	MediaTypeDockerForeignLayer = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
)

// IsManifestType reports whether mt is an OCI or Docker schema 2 manifest.
func IsManifestType(mt string) bool {
	return mt == ocispec.MediaTypeImageManifest || mt == MediaTypeDockerManifest
}

// IsIndexType reports whether mt is an OCI index or a Docker manifest list.
func IsIndexType(mt string) bool {
	return mt == ocispec.MediaTypeImageIndex || mt == MediaTypeDockerManifestList
}

func invalid(what string, format string, args ...any) error {
	return fmt.Errorf("%s: %s: %w", what, fmt.Sprintf(format, args...), errdefs.ErrInvalidArgument)
}

// unmarshalBounded decodes one JSON object of at most MaxManifestSize bytes.
func unmarshalBounded(what string, b []byte, v any) error {
	if len(b) > MaxManifestSize {
		return invalid(what, "%d bytes exceed the limit of %d", len(b), MaxManifestSize)
	}
	if t := bytes.TrimLeft(b, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return invalid(what, "not a JSON object")
	}
	if err := json.Unmarshal(b, v); err != nil {
		return invalid(what, "%v", err)
	}
	return nil
}

func checkDescriptor(what string, d ocispec.Descriptor) error {
	if err := d.Digest.Validate(); err != nil {
		return invalid(what, "digest %q: %v", d.Digest, err)
	}
	if d.Size < 0 {
		return invalid(what, "negative size %d", d.Size)
	}
	if d.MediaType == "" {
		return invalid(what, "no mediaType")
	}
	return nil
}

// ParseManifest parses and checks an OCI image manifest or a Docker schema
// 2 manifest (which has the same shape): schemaVersion 2, a media type (if
// given) of a manifest, and a config and layers with valid descriptors.
func ParseManifest(b []byte) (ocispec.Manifest, error) {
	var m ocispec.Manifest
	if err := unmarshalBounded("manifest", b, &m); err != nil {
		return m, err
	}
	if m.SchemaVersion != 2 {
		return m, invalid("manifest", "schemaVersion %d, want 2", m.SchemaVersion)
	}
	if m.MediaType != "" && !IsManifestType(m.MediaType) {
		return m, invalid("manifest", "mediaType %q is not a manifest", m.MediaType)
	}
	if err := checkDescriptor("manifest config", m.Config); err != nil {
		return m, err
	}
	for i, l := range m.Layers {
		if err := checkDescriptor(fmt.Sprintf("manifest layer %d", i), l); err != nil {
			return m, err
		}
	}
	return m, nil
}

// ParseIndex parses and checks an OCI index or a Docker manifest list.
func ParseIndex(b []byte) (ocispec.Index, error) {
	var idx ocispec.Index
	if err := unmarshalBounded("index", b, &idx); err != nil {
		return idx, err
	}
	if idx.SchemaVersion != 2 {
		return idx, invalid("index", "schemaVersion %d, want 2", idx.SchemaVersion)
	}
	if idx.MediaType != "" && !IsIndexType(idx.MediaType) {
		return idx, invalid("index", "mediaType %q is not an index", idx.MediaType)
	}
	for i, m := range idx.Manifests {
		if err := checkDescriptor(fmt.Sprintf("index manifest %d", i), m); err != nil {
			return idx, err
		}
	}
	return idx, nil
}

// ParseConfig parses and checks an image config (OCI or Docker, which
// share this shape): a JSON object whose rootfs, if present, is of type
// "layers" with valid diff IDs.
func ParseConfig(b []byte) (ocispec.Image, error) {
	var img ocispec.Image
	if err := unmarshalBounded("image config", b, &img); err != nil {
		return img, err
	}
	if img.RootFS.Type != "" && img.RootFS.Type != "layers" {
		return img, invalid("image config", "rootfs type %q, want layers", img.RootFS.Type)
	}
	for i, d := range img.RootFS.DiffIDs {
		if err := d.Validate(); err != nil {
			return img, invalid("image config", "rootfs diff_ids[%d] %q: %v", i, d, err)
		}
	}
	return img, nil
}

// Children returns the descriptors that blob b refers to when it is an
// index (its manifests) or a manifest (its config, then its layers), and
// nil for anything else (layers, configs, blobs that are not JSON, blobs
// over MaxManifestSize). It is what GC follows.
func Children(b []byte) []ocispec.Descriptor {
	var v struct {
		MediaType string               `json:"mediaType"`
		Manifests []ocispec.Descriptor `json:"manifests"`
		Config    *ocispec.Descriptor  `json:"config"`
		Layers    []ocispec.Descriptor `json:"layers"`
	}
	if unmarshalBounded("blob", b, &v) != nil {
		return nil
	}
	if v.MediaType != "" && !IsIndexType(v.MediaType) && !IsManifestType(v.MediaType) {
		return nil
	}
	var out []ocispec.Descriptor
	add := func(d ocispec.Descriptor) {
		if d.Digest.Validate() == nil {
			out = append(out, d)
		}
	}
	for _, d := range v.Manifests {
		add(d)
	}
	if v.Layers != nil && v.Config != nil {
		add(*v.Config)
		for _, d := range v.Layers {
			add(d)
		}
	}
	return out
}

// readBounded reads desc, refusing one over MaxManifestSize by its
// descriptor before opening it and by its stored size after, and checks
// that the bytes have the descriptor's digest.
func readBounded(ctx context.Context, p Provider, desc ocispec.Descriptor, what string) ([]byte, error) {
	if desc.Size > MaxManifestSize {
		return nil, invalid(what+" "+desc.Digest.String(), "size %d exceeds the limit of %d", desc.Size, MaxManifestSize)
	}
	b, err := ReadBlob(ctx, p, desc, MaxManifestSize)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if a := desc.Digest.Algorithm(); a.Available() {
		if got := a.FromBytes(b); got != desc.Digest {
			return nil, fmt.Errorf("%s %s: content has digest %s: %w", what, desc.Digest, got, errdefs.ErrFailedPrecondition)
		}
	}
	return b, nil
}

// ReadManifest reads and parses the manifest desc from p.
func ReadManifest(ctx context.Context, p Provider, desc ocispec.Descriptor) (ocispec.Manifest, error) {
	b, err := readBounded(ctx, p, desc, "manifest")
	if err != nil {
		return ocispec.Manifest{}, err
	}
	m, err := ParseManifest(b)
	if err != nil {
		return m, fmt.Errorf("%s: %w", desc.Digest, err)
	}
	return m, nil
}

// ReadIndex reads and parses the index desc from p.
func ReadIndex(ctx context.Context, p Provider, desc ocispec.Descriptor) (ocispec.Index, error) {
	b, err := readBounded(ctx, p, desc, "index")
	if err != nil {
		return ocispec.Index{}, err
	}
	idx, err := ParseIndex(b)
	if err != nil {
		return idx, fmt.Errorf("%s: %w", desc.Digest, err)
	}
	return idx, nil
}

// ReadConfig reads and parses the image config desc from p.
func ReadConfig(ctx context.Context, p Provider, desc ocispec.Descriptor) (ocispec.Image, error) {
	b, err := readBounded(ctx, p, desc, "image config")
	if err != nil {
		return ocispec.Image{}, err
	}
	img, err := ParseConfig(b)
	if err != nil {
		return img, fmt.Errorf("%s: %w", desc.Digest, err)
	}
	return img, nil
}
