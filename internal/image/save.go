package image

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth/berth/internal/archive"
	"github.com/berth/berth/internal/metadata"
)

// Archive formats of Save.
const (
	FormatDockerArchive = "docker-archive"
	FormatOCIArchive    = "oci"
)

// dockerManifestEntry is one image of a docker-archive's manifest.json.
type dockerManifestEntry struct {
	Config   string
	RepoTags []string
	Layers   []string
}

type saveItem struct {
	img  Image
	tags []string // normalised names
}

// Save writes the images refs name as one tar to w, in docker-archive
// form (manifest.json, repositories, <config hex>.json, <layer>/layer.tar
// uncompressed, as docker save writes them) or as an OCI image layout
// (oci-layout, index.json, blobs/, plus docker's manifest.json). A ref that
// is a name saves that tag, a repository without a tag every tag of it (as
// docker save), an ID the image without tags.
func (s *Service) Save(ctx context.Context, refs []string, w io.Writer, format string) error {
	if err := s.save(ctx, refs, w, format); err != nil {
		return fmt.Errorf("save %s: %w", strings.Join(refs, " "), err)
	}
	return nil
}

func (s *Service) save(ctx context.Context, refs []string, w io.Writer, format string) error {
	if format == "" {
		format = FormatDockerArchive
	}
	if format != FormatDockerArchive && format != FormatOCIArchive {
		return fmt.Errorf("format %q: want %s or %s: %w", format, FormatDockerArchive, FormatOCIArchive, errdefs.ErrInvalidArgument)
	}
	var items []*saveItem
	byID := map[digest.Digest]*saveItem{}
	var expanded []string
	for _, ref := range refs {
		if tags := s.repoTags(ctx, ref); len(tags) > 0 {
			expanded = append(expanded, tags...) // as docker: a repository saves all its tags
		} else {
			expanded = append(expanded, ref)
		}
	}
	for _, ref := range expanded {
		img, err := s.Get(ctx, ref)
		if err != nil {
			return err
		}
		it, ok := byID[img.ID]
		if !ok {
			it = &saveItem{img: img}
			byID[img.ID] = it
			items = append(items, it)
		}
		if n, err := metadata.ParseReference(ref); err == nil {
			if _, tagged := n.(reference.Tagged); tagged {
				for _, x := range img.names {
					if x == n.String() && !contains(it.tags, x) {
						it.tags = append(it.tags, x)
					}
				}
			}
		}
	}
	tw := tar.NewWriter(w)
	var err error
	if format == FormatDockerArchive {
		err = s.writeDockerArchive(ctx, tw, items)
	} else {
		err = s.writeOCIArchive(ctx, tw, items)
	}
	if err != nil {
		return err
	}
	return tw.Close()
}

// RepoTags returns the tags (normalised names) of repository ref, when ref
// names a repository without a tag or digest: what Save saves for it.
// Nil otherwise, or when the repository has no tag.
func (s *Service) RepoTags(ctx context.Context, ref string) []string { return s.repoTags(ctx, ref) }

// repoTags is RepoTags.
func (s *Service) repoTags(ctx context.Context, ref string) []string {
	n, err := reference.ParseNormalizedNamed(ref)
	if err != nil || !reference.IsNameOnly(n) {
		return nil
	}
	imgs, err := s.images(ctx)
	if err != nil {
		return nil
	}
	var out []string
	for _, img := range imgs {
		for _, x := range img.names {
			if strings.HasPrefix(x, n.Name()+":") && !strings.Contains(x, "@") {
				out = append(out, x)
			}
		}
	}
	sort.Strings(out)
	return out
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// archiveTime dates the archive's own files (manifest.json, index.json,
// repositories, oci-layout); an image's config and layers carry the
// image's created time, as dockerd's save writes them (imageTime).
var archiveTime = time.Unix(0, 0)

// imageTime is the modification time of img's files in a saved archive.
func imageTime(img Image) time.Time {
	if img.Config.Created != nil && !img.Config.Created.IsZero() {
		return *img.Config.Created
	}
	return archiveTime
}

func writeTarFile(tw *tar.Writer, name string, b []byte) error {
	return writeTarFileAt(tw, name, b, archiveTime)
}

func writeTarFileAt(tw *tar.Writer, name string, b []byte, mtime time.Time) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), ModTime: mtime, Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
		return err
	}
	_, err := tw.Write(b)
	return err
}

func writeTarDir(tw *tar.Writer, name string, mtime time.Time) error {
	return tw.WriteHeader(&tar.Header{Name: name + "/", Mode: 0o755, ModTime: mtime, Typeflag: tar.TypeDir, Format: tar.FormatPAX})
}

func (s *Service) writeDockerArchive(ctx context.Context, tw *tar.Writer, items []*saveItem) error {
	var manifest []dockerManifestEntry
	repos := map[string]map[string]string{}
	written := map[string]bool{}
	for _, it := range items {
		img := it.img
		chain := ChainIDs(img.Config.RootFS.DiffIDs)
		entry := dockerManifestEntry{Config: img.ID.Encoded() + ".json", RepoTags: []string{}}
		parent := ""
		for i, l := range img.Manifest.Layers {
			dir := chain[i].Encoded()
			entry.Layers = append(entry.Layers, dir+"/layer.tar")
			if !written[dir] {
				written[dir] = true
				if err := s.writeDockerLayer(ctx, tw, dir, parent, l, img.Config.RootFS.DiffIDs[i], imageTime(img)); err != nil {
					return err
				}
			}
			parent = dir
		}
		if !written[entry.Config] {
			written[entry.Config] = true
			if err := writeTarFileAt(tw, entry.Config, img.ConfigRaw, imageTime(img)); err != nil {
				return err
			}
		}
		for _, t := range it.tags {
			fam := metadata.FamiliarName(t)
			entry.RepoTags = append(entry.RepoTags, fam)
			i := strings.LastIndex(fam, ":")
			if repos[fam[:i]] == nil {
				repos[fam[:i]] = map[string]string{}
			}
			repos[fam[:i]][fam[i+1:]] = parent
		}
		manifest = append(manifest, entry)
	}
	mb, err := json.Marshal(manifest)
	if err != nil {
		return err
	}
	if err := writeTarFile(tw, "manifest.json", mb); err != nil {
		return err
	}
	if len(repos) > 0 {
		rb, err := json.Marshal(repos)
		if err != nil {
			return err
		}
		if err := writeTarFile(tw, "repositories", rb); err != nil {
			return err
		}
	}
	return nil
}

// writeDockerLayer writes dir/VERSION, dir/json and dir/layer.tar, the
// layer uncompressed (spooled to a temp file, since a tar header needs the
// size first) and checked against its diff ID; its files are dated mtime.
func (s *Service) writeDockerLayer(ctx context.Context, tw *tar.Writer, dir, parent string, l ocispec.Descriptor, diffID digest.Digest, mtime time.Time) error {
	ra, err := s.content.ReaderAt(ctx, l)
	if err != nil {
		return fmt.Errorf("layer %s: %w", l.Digest, err)
	}
	defer ra.Close()
	dr, _, err := archive.DecompressStream(io.NewSectionReader(ra, 0, ra.Size()))
	if err != nil {
		return fmt.Errorf("layer %s: %w", l.Digest, err)
	}
	defer dr.Close()
	tmp, err := os.CreateTemp("", "berth-save-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), dr)
	if err != nil {
		return fmt.Errorf("layer %s: %w", l.Digest, err)
	}
	if got := digest.NewDigest(digest.SHA256, h); got != diffID {
		return fmt.Errorf("layer %s: uncompressed digest %s, the config says %s: %w", l.Digest, got, diffID, errdefs.ErrDataLoss)
	}
	if err := writeTarDir(tw, dir, mtime); err != nil {
		return err
	}
	if err := writeTarFileAt(tw, dir+"/VERSION", []byte("1.0"), mtime); err != nil {
		return err
	}
	v1 := map[string]any{"id": dir, "created": archiveTime.UTC().Format(time.RFC3339)}
	if parent != "" {
		v1["parent"] = parent
	}
	jb, _ := json.Marshal(v1)
	if err := writeTarFileAt(tw, dir+"/json", jb, mtime); err != nil {
		return err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: dir + "/layer.tar", Mode: 0o644, Size: n, ModTime: mtime, Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
		return err
	}
	if _, err := io.Copy(tw, tmp); err != nil {
		return err
	}
	return nil
}

func (s *Service) writeOCIArchive(ctx context.Context, tw *tar.Writer, items []*saveItem) error {
	written := map[digest.Digest]bool{}
	if err := writeTarFile(tw, ocispec.ImageLayoutFile, []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return err
	}
	if err := writeTarDir(tw, "blobs", archiveTime); err != nil {
		return err
	}
	if err := writeTarDir(tw, "blobs/sha256", archiveTime); err != nil {
		return err
	}
	blob := func(d ocispec.Descriptor, mtime time.Time) error {
		if written[d.Digest] {
			return nil
		}
		written[d.Digest] = true
		ra, err := s.content.ReaderAt(ctx, d)
		if err != nil {
			return fmt.Errorf("blob %s: %w", d.Digest, err)
		}
		defer ra.Close()
		if err := tw.WriteHeader(&tar.Header{Name: "blobs/" + d.Digest.Algorithm().String() + "/" + d.Digest.Encoded(), Mode: 0o644, Size: ra.Size(), ModTime: mtime, Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err = io.Copy(tw, io.NewSectionReader(ra, 0, ra.Size()))
		return err
	}
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{}}
	idx.SchemaVersion = 2
	var manifest []dockerManifestEntry
	for _, it := range items {
		img := it.img
		for _, l := range img.Manifest.Layers {
			if err := blob(l, imageTime(img)); err != nil {
				return err
			}
		}
		if err := blob(img.Manifest.Config, imageTime(img)); err != nil {
			return err
		}
		if err := blob(img.Target, archiveTime); err != nil {
			return err
		}
		entry := dockerManifestEntry{Config: "blobs/sha256/" + img.ID.Encoded(), RepoTags: []string{}}
		for _, l := range img.Manifest.Layers {
			entry.Layers = append(entry.Layers, "blobs/"+l.Digest.Algorithm().String()+"/"+l.Digest.Encoded())
		}
		d := ocispec.Descriptor{MediaType: img.Target.MediaType, Digest: img.Target.Digest, Size: img.Target.Size}
		if len(it.tags) == 0 {
			idx.Manifests = append(idx.Manifests, d)
		}
		sort.Strings(it.tags)
		for _, t := range it.tags {
			dt := d
			tag := t[strings.LastIndex(t, ":")+1:]
			dt.Annotations = map[string]string{"io.containerd.image.name": t, ocispec.AnnotationRefName: tag}
			idx.Manifests = append(idx.Manifests, dt)
			entry.RepoTags = append(entry.RepoTags, metadata.FamiliarName(t))
		}
		manifest = append(manifest, entry)
	}
	ib, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	if err := writeTarFile(tw, ocispec.ImageIndexFile, ib); err != nil {
		return err
	}
	mb, err := json.Marshal(manifest)
	if err != nil {
		return err
	}
	return writeTarFile(tw, "manifest.json", mb)
}
