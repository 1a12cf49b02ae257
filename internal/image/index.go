package image

import (
	"context"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth/berth/internal/metadata"
)

// recordIndex is the image records grouped into images, indexed by name
// and by ID, so that Get by name is a map lookup and Get by ID prefix a
// binary search instead of a scan of every record. It is built from the
// database when first needed (after New, after every change of the
// records) and never changed: a change drops it and the next read builds
// a new one, so readers share it without locks.
type recordIndex struct {
	byID   map[digest.Digest]*Image
	byName map[string]digest.Digest // normalised record name -> image ID
	ids    []string                 // encoded IDs, sorted, for prefixes
	list   []*Image                 // newest Created first
}

// records returns the current index, building it if a change dropped it.
func (s *Service) records(ctx context.Context) (*recordIndex, error) {
	if ix := s.index.Load(); ix != nil {
		return ix, nil
	}
	s.indexMu.Lock()
	defer s.indexMu.Unlock()
	if ix := s.index.Load(); ix != nil {
		return ix, nil
	}
	ix, err := s.buildIndex(ctx)
	if err != nil {
		return nil, err
	}
	s.index.Store(ix)
	return ix, nil
}

// recordsChanged drops the index after a change of the records was
// committed. A build running meanwhile finishes first (it holds indexMu),
// so what it stored is dropped too.
func (s *Service) recordsChanged() {
	s.indexMu.Lock()
	s.index.Store(nil)
	s.indexMu.Unlock()
}

func (s *Service) buildIndex(ctx context.Context) (*recordIndex, error) {
	recs, err := s.db.Images().List(ctx)
	if err != nil {
		return nil, err
	}
	ix := &recordIndex{byID: map[digest.Digest]*Image{}, byName: map[string]digest.Digest{}}
	for _, rec := range recs { // sorted by name
		t, err := s.loadTarget(ctx, rec.Target)
		if err != nil {
			slog.WarnContext(ctx, "image record with unreadable target", "name", rec.Name, "target", rec.Target.Digest, "err", err)
			continue
		}
		img, ok := ix.byID[t.id()]
		if !ok {
			i := s.imageFromTarget(t, rec.CreatedAt)
			img = &i
			ix.byID[t.id()] = img
			ix.list = append(ix.list, img)
			ix.ids = append(ix.ids, t.id().Encoded())
		}
		ix.byName[rec.Name] = t.id()
		img.names = append(img.names, rec.Name)
		switch {
		case isDanglingName(rec.Name), isIntermediateName(rec.Name):
		case strings.Contains(rec.Name, "@"):
			img.RepoDigests = append(img.RepoDigests, metadata.FamiliarName(rec.Name))
		default:
			img.RepoTags = append(img.RepoTags, metadata.FamiliarName(rec.Name))
			if t, err := time.Parse(time.RFC3339Nano, rec.Labels[tagTimeLabel]); err == nil && t.After(img.LastTagTime) {
				img.LastTagTime = t
			}
		}
	}
	for _, img := range ix.list {
		img.Dangling = len(img.RepoTags) == 0 && !onlyIntermediate(img.names)
	}
	sort.SliceStable(ix.list, func(i, j int) bool { return ix.list[i].Created.After(ix.list[j].Created) })
	sort.Strings(ix.ids)
	return ix, nil
}

// byName returns the image a normalised record name points at.
func (ix *recordIndex) lookupName(name string) (Image, bool) {
	id, ok := ix.byName[name]
	if !ok {
		return Image{}, false
	}
	return ix.byID[id].clone(), true
}

// withPrefix returns up to max images whose encoded ID starts with prefix
// (lower-case hex).
func (ix *recordIndex) withPrefix(prefix string, max int) []Image {
	var out []Image
	for i := sort.SearchStrings(ix.ids, prefix); i < len(ix.ids) && strings.HasPrefix(ix.ids[i], prefix) && len(out) < max; i++ {
		out = append(out, ix.byID[digest.NewDigestFromEncoded(digest.SHA256, ix.ids[i])].clone())
	}
	return out
}

// all returns every image, newest first.
func (ix *recordIndex) all() []Image {
	out := make([]Image, len(ix.list))
	for i, img := range ix.list {
		out[i] = img.clone()
	}
	return out
}

// clone copies the slices callers may change.
func (img *Image) clone() Image {
	c := *img
	c.RepoTags = slices.Clone(img.RepoTags)
	c.RepoDigests = slices.Clone(img.RepoDigests)
	c.names = slices.Clone(img.names)
	return c
}
