package image

import (
	"context"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth/berth/internal/content"
)

// Distribution is what a registry offers under a reference, without
// pulling it (GET /distribution/{name}/json).
type Distribution struct {
	// Descriptor is the manifest's or index's as the registry serves it.
	Descriptor ocispec.Descriptor
	// Platforms are the index's platforms (attestations left out), or
	// the single manifest's, from its config.
	Platforms []ocispec.Platform
}

// DistributionInspect asks ref's registry for its manifest (a tag, or
// "latest" when there is none, or a digest) and the platforms it offers,
// storing nothing. Only the manifest and, for a single manifest, its
// config are read, both bounded by content.MaxManifestSize.
func (s *Service) DistributionInspect(ctx context.Context, ref string, ac *AuthConfig) (Distribution, error) {
	r, err := s.parseRemote(ref)
	if err != nil {
		return Distribution{}, err
	}
	rr, err := s.openRemote(ctx, r, ac, transport.PullScope)
	if err != nil {
		return Distribution{}, err
	}
	top, err := rr.fetchManifest(ctx, s, r.Identifier(), nil)
	if err != nil {
		return Distribution{}, err
	}
	out := Distribution{Descriptor: top.desc, Platforms: []ocispec.Platform{}}
	if content.IsIndexType(top.desc.MediaType) {
		idx, err := content.ParseIndex(top.data)
		if err != nil {
			return Distribution{}, err
		}
		for _, m := range idx.Manifests {
			if m.Platform != nil && m.Platform.OS != "unknown" {
				out.Platforms = append(out.Platforms, *m.Platform)
			}
		}
		return out, nil
	}
	m, err := content.ParseManifest(top.data)
	if err != nil {
		return Distribution{}, err
	}
	b, err := rr.fetchSmallBlob(ctx, s, m.Config, "config", nil)
	if err != nil {
		return Distribution{}, err
	}
	cfg, err := content.ParseConfig(b)
	if err != nil {
		return Distribution{}, err
	}
	out.Platforms = append(out.Platforms, ocispec.Platform{
		Architecture: cfg.Architecture, OS: cfg.OS, OSVersion: cfg.OSVersion, OSFeatures: cfg.OSFeatures, Variant: cfg.Variant,
	})
	return out, nil
}
