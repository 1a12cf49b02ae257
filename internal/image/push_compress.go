package image

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth/berth/internal/content"
	"github.com/berth/berth/internal/metadata"
)

// compressedMediaType is the gzip media type of an uncompressed layer
// media type, or "" when mt is not one.
func compressedMediaType(mt string) string {
	switch mt {
	case mediaTypeDockerLayerPlain:
		return content.MediaTypeDockerLayer
	case ocispec.MediaTypeImageLayer:
		return ocispec.MediaTypeImageLayerGzip
	}
	return ""
}

// compressForPush makes img distributable as dockerd pushes it: layers
// stored uncompressed (an image from docker load) are gzipped, and the
// image is recorded with a manifest that names the compressed layers. The
// image ID (its config) and its layers' content do not change; its
// manifest digest does, as with dockerd, which pushes gzipped layers too.
// An image whose layers are all compressed is returned as it is.
func (s *Service) compressForPush(ctx context.Context, img Image) (Image, error) {
	need := false
	for _, l := range img.Manifest.Layers {
		need = need || compressedMediaType(l.MediaType) != ""
	}
	if !need {
		return img, nil
	}
	leaseID := "push-compress-" + img.Target.Digest.Encoded()
	if _, err := s.content.CreateLease(ctx, leaseID, time.Hour); err != nil {
		return img, err
	}
	defer s.content.DeleteLease(context.WithoutCancel(ctx), leaseID)
	lctx := content.WithLease(ctx, leaseID)
	var raw map[string]json.RawMessage
	mb, err := content.ReadBlob(ctx, s.content, img.Target, content.MaxManifestSize)
	if err != nil {
		return img, err
	}
	if err := json.Unmarshal(mb, &raw); err != nil {
		return img, fmt.Errorf("manifest %s: %w", img.Target.Digest, err)
	}
	layers := append([]ocispec.Descriptor(nil), img.Manifest.Layers...)
	for i, l := range layers {
		mt := compressedMediaType(l.MediaType)
		if mt == "" {
			continue
		}
		d, err := s.gzipBlob(lctx, l)
		if err != nil {
			return img, fmt.Errorf("compress layer %s: %w", l.Digest, err)
		}
		d.MediaType = mt
		layers[i] = d
	}
	// The manifest as stored, but for its layers: unknown fields stay.
	lb, err := json.Marshal(layers)
	if err != nil {
		return img, err
	}
	raw["layers"] = lb
	nb, err := json.MarshalIndent(raw, "", "   ")
	if err != nil {
		return img, err
	}
	target := ocispec.Descriptor{MediaType: img.Target.MediaType, Digest: digest.FromBytes(nb), Size: int64(len(nb)), Platform: img.Target.Platform}
	if err := content.WriteBlob(lctx, s.content, "push-manifest-"+target.Digest.String(), strings.NewReader(string(nb)), target); err != nil {
		return img, err
	}
	if err := s.retarget(ctx, img.Target.Digest, target); err != nil {
		return img, err
	}
	return s.Get(ctx, img.ID.String())
}

// gzipBlob stores the gzip of blob l and returns its descriptor.
func (s *Service) gzipBlob(ctx context.Context, l ocispec.Descriptor) (ocispec.Descriptor, error) {
	ra, err := s.content.ReaderAt(ctx, l)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	defer ra.Close()
	w, err := content.OpenWriter(ctx, s.content, "push-gzip-"+l.Digest.String(), 0, "")
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	defer w.Close()
	if err := w.Truncate(0); err != nil {
		return ocispec.Descriptor{}, err
	}
	cw := &countWriter{w: w}
	zw := gzip.NewWriter(cw)
	if _, err := io.Copy(zw, io.NewSectionReader(ra, 0, l.Size)); err != nil {
		return ocispec.Descriptor{}, err
	}
	if err := zw.Close(); err != nil {
		return ocispec.Descriptor{}, err
	}
	d := ocispec.Descriptor{Digest: w.Digest(), Size: cw.n}
	if err := w.Commit(ctx, d.Size, d.Digest); err != nil && !errdefs.IsAlreadyExists(err) {
		return ocispec.Descriptor{}, err
	}
	return d, nil
}

// retarget points every record of the manifest old at target.
func (s *Service) retarget(ctx context.Context, old digest.Digest, target ocispec.Descriptor) error {
	s.recordMu.Lock()
	defer s.recordMu.Unlock()
	defer s.recordsChanged()
	return s.db.Update(ctx, func(tx *metadata.Tx) error {
		it := tx.Images()
		recs, err := it.List()
		if err != nil {
			return err
		}
		n := 0
		for _, r := range recs {
			if r.Target.Digest != old {
				continue
			}
			r.Target = target
			if _, err := it.Update(r, "target"); err != nil {
				return err
			}
			n++
		}
		if n == 0 {
			return errors.New("image changed while its layers were compressed")
		}
		return nil
	})
}
