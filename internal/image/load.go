package image

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth/berth/internal/archive"
	"github.com/berth/berth/internal/content"
	"github.com/berth/berth/internal/metadata"
)

// loadDir is a tar spooled to a temp directory: regular files only, with
// the archive's symbolic links kept as a map and resolved inside it.
type loadDir struct {
	dir   string
	links map[string]string
}

// DefaultMaxLoadSize is the bound on what Load reads from an archive when
// Config.MaxLoadSize is 0: 64 GiB of file contents.
const DefaultMaxLoadSize = 64 << 30

// maxLoadEntries bounds the entries of a load archive (docker's and OCI
// archives have a handful per image).
const maxLoadEntries = 100000

// errTooLarge is wrapped by the errors of archives over a bound.
func errTooLarge(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), errdefs.ErrInvalidArgument)
}

// spool extracts r's regular files into a temp dir; names are cleaned and
// must stay inside it. The files' contents may add up to max bytes; more
// is refused, and nothing is left behind.
func spool(r io.Reader, max int64) (*loadDir, error) {
	dir, err := os.MkdirTemp("", "berth-load-")
	if err != nil {
		return nil, err
	}
	ld := &loadDir{dir: dir, links: map[string]string{}}
	tr := tar.NewReader(r)
	var total int64
	for entries := 0; ; entries++ {
		if entries >= maxLoadEntries {
			ld.close()
			return nil, errTooLarge("archive has more than %d entries, the limit of a load archive", maxLoadEntries)
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return ld, nil
		}
		if err != nil {
			ld.close()
			return nil, fmt.Errorf("read archive: %w: %w", err, errdefs.ErrInvalidArgument)
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		if !filepath.IsLocal(name) {
			ld.close()
			return nil, fmt.Errorf("archive entry %q: not a local name: %w", h.Name, errdefs.ErrInvalidArgument)
		}
		switch h.Typeflag {
		case tar.TypeReg:
			if h.Size < 0 || h.Size > max-total {
				ld.close()
				return nil, errTooLarge("archive entry %q: the archive's files exceed the load size limit of %d bytes", h.Name, max)
			}
			total += h.Size
			p := filepath.Join(dir, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				ld.close()
				return nil, err
			}
			f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
			if err != nil {
				ld.close()
				return nil, fmt.Errorf("archive entry %q: %w", h.Name, err)
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				ld.close()
				return nil, fmt.Errorf("archive entry %q: %w", h.Name, err)
			}
		case tar.TypeSymlink:
			ld.links[name] = path.Join(path.Dir(name), h.Linkname)
		}
	}
}

func (ld *loadDir) close() { os.RemoveAll(ld.dir) }

// open opens name, following the archive's symlinks inside it.
func (ld *loadDir) open(name string) (*os.File, error) {
	name = path.Clean(name)
	for i := 0; i < 16; i++ {
		t, ok := ld.links[name]
		if !ok {
			break
		}
		name = path.Clean(t)
	}
	if !filepath.IsLocal(name) {
		return nil, fmt.Errorf("archive file %q: not a local name: %w", name, errdefs.ErrInvalidArgument)
	}
	f, err := os.Open(filepath.Join(ld.dir, name))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("archive file %q: missing: %w", name, errdefs.ErrInvalidArgument)
		}
		return nil, err
	}
	return f, nil
}

func (ld *loadDir) exists(name string) bool {
	f, err := ld.open(name)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

func (ld *loadDir) readSmall(name string) ([]byte, error) {
	f, err := ld.open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, content.MaxManifestSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > content.MaxManifestSize {
		return nil, fmt.Errorf("archive file %q: more than %d bytes: %w", name, content.MaxManifestSize, errdefs.ErrInvalidArgument)
	}
	return b, nil
}

// Load reads a docker-archive (docker save, skopeo docker-archive) or an
// OCI image layout tar (found by manifest.json or index.json), stores and
// unpacks its images and names them. It returns docker's lines: "Loaded
// image: NAME" or, for an untagged image, "Loaded image ID: sha256:...".
func (s *Service) Load(ctx context.Context, r io.Reader) ([]string, error) {
	out, err := s.load(ctx, r)
	if err != nil {
		return out, fmt.Errorf("load: %w", err)
	}
	return out, nil
}

func (s *Service) load(ctx context.Context, r io.Reader) ([]string, error) {
	max := s.maxLoadSize
	if max <= 0 {
		max = DefaultMaxLoadSize
	}
	// A gzip or zstd archive (docker load takes them) is decompressed.
	dr, _, err := archive.DecompressStream(r)
	if err != nil {
		return nil, fmt.Errorf("read archive: %w: %w", err, errdefs.ErrInvalidArgument)
	}
	defer dr.Close()
	ld, err := spool(dr, max)
	if err != nil {
		return nil, err
	}
	defer ld.close()
	s.gcMu.RLock()
	defer s.gcMu.RUnlock()
	leaseID := "load-" + randomID()
	if _, err := s.content.CreateLease(ctx, leaseID, time.Hour); err != nil {
		return nil, err
	}
	defer s.content.DeleteLease(context.WithoutCancel(ctx), leaseID)
	lctx := content.WithLease(ctx, leaseID)
	switch {
	case ld.exists("manifest.json"):
		return s.loadDocker(lctx, ld)
	case ld.exists(ocispec.ImageIndexFile):
		return s.loadOCI(lctx, ld)
	}
	return nil, fmt.Errorf("neither manifest.json nor index.json in the archive: %w", errdefs.ErrInvalidArgument)
}

func (s *Service) loadDocker(ctx context.Context, ld *loadDir) ([]string, error) {
	mb, err := ld.readSmall("manifest.json")
	if err != nil {
		return nil, err
	}
	var entries []dockerManifestEntry
	if err := json.Unmarshal(mb, &entries); err != nil {
		return nil, fmt.Errorf("manifest.json: %w: %w", err, errdefs.ErrInvalidArgument)
	}
	var out []string
	for _, e := range entries {
		cb, err := ld.readSmall(e.Config)
		if err != nil {
			return out, err
		}
		cfg, err := content.ParseConfig(cb)
		if err != nil {
			return out, fmt.Errorf("%s: %w", e.Config, err)
		}
		if len(cfg.RootFS.DiffIDs) != len(e.Layers) {
			return out, fmt.Errorf("%s: %d diff_ids for %d layers: %w", e.Config, len(cfg.RootFS.DiffIDs), len(e.Layers), errdefs.ErrInvalidArgument)
		}
		var layers []ocispec.Descriptor
		for i, lp := range e.Layers {
			d, err := s.loadLayerFile(ctx, ld, lp, cfg.RootFS.DiffIDs[i])
			if err != nil {
				return out, err
			}
			layers = append(layers, d)
		}
		cdesc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromBytes(cb), Size: int64(len(cb))}
		if err := content.WriteBlob(ctx, s.content, "load-"+cdesc.Digest.String(), strings.NewReader(string(cb)), cdesc); err != nil {
			return out, err
		}
		m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cdesc, Layers: layers}
		m.SchemaVersion = 2
		if m.Layers == nil {
			m.Layers = []ocispec.Descriptor{}
		}
		mbytes, _ := json.Marshal(m)
		mdesc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(mbytes), Size: int64(len(mbytes))}
		if err := content.WriteBlob(ctx, s.content, "load-"+mdesc.Digest.String(), strings.NewReader(string(mbytes)), mdesc); err != nil {
			return out, err
		}
		lines, err := s.finishLoad(ctx, mdesc, m, cfg, e.RepoTags)
		out = append(out, lines...)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// loadLayerFile stores a layer of a docker-archive as it is (plain tars
// stay plain) and checks its diff ID.
func (s *Service) loadLayerFile(ctx context.Context, ld *loadDir, name string, diffID digest.Digest) (ocispec.Descriptor, error) {
	f, err := ld.open(name)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	defer f.Close()
	magic := make([]byte, 4)
	n, _ := io.ReadFull(f, magic)
	comp := archive.DetectCompression(magic[:n])
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return ocispec.Descriptor{}, err
	}
	fi, err := f.Stat()
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return ocispec.Descriptor{}, err
	}
	desc := ocispec.Descriptor{Digest: digest.NewDigest(digest.SHA256, h), Size: fi.Size()}
	switch comp {
	case archive.Uncompressed:
		desc.MediaType = ocispec.MediaTypeImageLayer
		if desc.Digest != diffID {
			return desc, fmt.Errorf("layer %s: digest %s, the config says %s: %w", name, desc.Digest, diffID, errdefs.ErrInvalidArgument)
		}
	case archive.Gzip:
		desc.MediaType = ocispec.MediaTypeImageLayerGzip
	case archive.Zstd:
		desc.MediaType = ocispec.MediaTypeImageLayerZstd
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return desc, err
	}
	if err := content.WriteBlob(ctx, s.content, "load-"+desc.Digest.String(), f, desc); err != nil {
		return desc, err
	}
	return desc, s.addToLease(ctx, desc.Digest)
}

func (s *Service) loadOCI(ctx context.Context, ld *loadDir) ([]string, error) {
	ib, err := ld.readSmall(ocispec.ImageIndexFile)
	if err != nil {
		return nil, err
	}
	idx, err := content.ParseIndex(ib)
	if err != nil {
		return nil, err
	}
	var out []string
	copyBlob := func(d ocispec.Descriptor) error {
		if err := d.Digest.Validate(); err != nil {
			return fmt.Errorf("descriptor digest %q: %w: %w", d.Digest, err, errdefs.ErrInvalidArgument)
		}
		f, err := ld.open("blobs/" + d.Digest.Algorithm().String() + "/" + d.Digest.Encoded())
		if err != nil {
			return err
		}
		defer f.Close()
		if err := content.WriteBlob(ctx, s.content, "load-"+d.Digest.String(), f, d); err != nil {
			return err
		}
		return s.addToLease(ctx, d.Digest)
	}
	for _, d := range idx.Manifests {
		if err := copyBlob(d); err != nil {
			return out, err
		}
		mdesc := d
		if content.IsIndexType(d.MediaType) {
			sub, err := content.ReadIndex(ctx, s.content, d)
			if err != nil {
				return out, err
			}
			sel, err := content.SelectManifest(sub, s.platform)
			if err != nil {
				return out, err
			}
			if err := copyBlob(sel); err != nil {
				return out, err
			}
			mdesc = sel
		}
		m, err := content.ReadManifest(ctx, s.content, mdesc)
		if err != nil {
			return out, err
		}
		if err := copyBlob(m.Config); err != nil {
			return out, err
		}
		for _, l := range m.Layers {
			if err := copyBlob(l); err != nil {
				return out, err
			}
		}
		cfg, err := content.ReadConfig(ctx, s.content, m.Config)
		if err != nil {
			return out, err
		}
		var names []string
		if n := d.Annotations["io.containerd.image.name"]; n != "" {
			names = append(names, n)
		} else if n := d.Annotations[ocispec.AnnotationRefName]; n != "" && strings.ContainsAny(n, "/:") {
			names = append(names, n)
		}
		md := ocispec.Descriptor{MediaType: mdesc.MediaType, Digest: mdesc.Digest, Size: mdesc.Size}
		lines, err := s.finishLoad(ctx, md, m, cfg, names)
		out = append(out, lines...)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// finishLoad unpacks and names one loaded image.
func (s *Service) finishLoad(ctx context.Context, mdesc ocispec.Descriptor, m ocispec.Manifest, cfg ocispec.Image, names []string) ([]string, error) {
	if err := checkLayers(m, cfg); err != nil {
		return nil, err
	}
	if err := s.unpackLayers(ctx, m.Layers, cfg.RootFS.DiffIDs); err != nil {
		return nil, err
	}
	var norm []string
	for _, n := range names {
		nn, err := metadata.NormalizeName(n)
		if err != nil {
			return nil, err
		}
		norm = append(norm, nn)
	}
	if len(norm) == 0 {
		if _, err := s.setNames(ctx, []string{danglingName(mdesc.Digest)}, mdesc); err != nil {
			return nil, err
		}
		return []string{"Loaded image ID: " + m.Config.Digest.String()}, nil
	}
	// As dockerd: a name that moves from another image to this one is
	// announced before it moves.
	var out []string
	for _, n := range norm {
		if prev, err := s.Get(ctx, n); err == nil && prev.ID != m.Config.Digest {
			out = append(out, fmt.Sprintf("The image %s already exists, renaming the old one with ID %s to empty string", metadata.FamiliarName(n), prev.ID))
		}
	}
	if _, err := s.setNames(ctx, norm, mdesc); err != nil {
		return nil, err
	}
	for _, n := range norm {
		out = append(out, "Loaded image: "+metadata.FamiliarName(n))
	}
	return out, nil
}
