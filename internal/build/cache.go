package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"

	"github.com/berth/berth/internal/image"
)

// cache maps step keys to the images the steps made, one small JSON file
// per key, written by rename so a crash leaves no torn entry.
type cache struct {
	dir string
}

type cacheEntry struct {
	Image    digest.Digest `json:"image"`
	Created  time.Time     `json:"created"`
	LastUsed time.Time     `json:"lastUsed"`
	// Replaced are images an uncached rebuild of the step displaced (now
	// dangling unless tagged); Prune removes them too.
	Replaced []digest.Digest `json:"replaced,omitempty"`
	// Description is the step's instruction; Uses counts the hits.
	Description string `json:"description,omitempty"`
	Uses        int    `json:"uses,omitempty"`
}

// stepKey is the cache key of a step: its parent, its instruction after
// expansion and the extra inputs (build args, content hashes).
func stepKey(parent digest.Digest, instruction string, extra ...string) string {
	h := sha256.New()
	fmt.Fprintf(h, "berth-build-step-v1\x00%s\x00%s", parent, instruction)
	for _, e := range extra {
		fmt.Fprintf(h, "\x00%s", e)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (c *cache) get(key string) (digest.Digest, bool) {
	b, err := os.ReadFile(filepath.Join(c.dir, key))
	if err != nil {
		return "", false
	}
	var e cacheEntry
	if json.Unmarshal(b, &e) != nil || e.Image.Validate() != nil {
		return "", false
	}
	e.LastUsed = time.Now().UTC()
	e.Uses++
	if nb, err := json.Marshal(e); err == nil {
		_ = writeFileAtomic(filepath.Join(c.dir, key), nb)
	}
	return e.Image, true
}

// put records id as the image of the step key and returns the image the
// entry named before, if another.
func (c *cache) put(key string, id digest.Digest, description string) (digest.Digest, error) {
	now := time.Now().UTC()
	e := cacheEntry{Image: id, Created: now, LastUsed: now, Description: description}
	var displaced digest.Digest
	if ob, err := os.ReadFile(filepath.Join(c.dir, key)); err == nil {
		var old cacheEntry
		if json.Unmarshal(ob, &old) == nil {
			e.Replaced = old.Replaced
			if old.Image != "" && old.Image != id {
				displaced = old.Image
				if len(e.Replaced) < 64 {
					e.Replaced = append(e.Replaced, old.Image)
				}
			}
		}
	}
	b, err := json.Marshal(e)
	if err != nil {
		return "", err
	}
	if err := writeFileAtomic(filepath.Join(c.dir, key), b); err != nil {
		return "", fmt.Errorf("build cache: %w", err)
	}
	return displaced, nil
}

func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp-" + randomHex(6)
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// PruneOptions select the cache entries Prune removes: every entry with
// All, else those not used within Until (every entry when Until is 0).
type PruneOptions struct {
	All   bool
	Until time.Duration
}

// PruneReport says what Prune removed.
type PruneReport struct {
	// Entries are the removed step keys; Images the step images they
	// named, which are removed unless a build tagged them.
	Entries []string
	Images  []digest.Digest
	// MountBytes is the size of the RUN cache mounts removed.
	MountBytes int64
}

// Prune removes build cache entries, and with All the RUN cache mounts.
func (b *Builder) Prune(ctx context.Context, opts PruneOptions) (PruneReport, error) {
	var rep PruneReport
	ents, err := os.ReadDir(b.cache.dir)
	if err != nil {
		return rep, fmt.Errorf("prune build cache: %w", err)
	}
	cutoff := time.Now().Add(-opts.Until)
	for _, de := range ents {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		p := filepath.Join(b.cache.dir, de.Name())
		if strings.Contains(de.Name(), ".tmp-") {
			os.Remove(p)
			continue
		}
		bts, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var e cacheEntry
		_ = json.Unmarshal(bts, &e)
		if !opts.All && opts.Until > 0 && e.LastUsed.After(cutoff) {
			continue
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return rep, fmt.Errorf("prune build cache: %w", err)
		}
		rep.Entries = append(rep.Entries, recordID(de.Name()))
		if e.Image != "" {
			rep.Images = append(rep.Images, e.Image)
		}
		// The step's image loses its cache name; an image no build tagged
		// is then removed.
		if _, err := b.images.Remove(ctx, cacheRef(de.Name()), image.RemoveOptions{NoPrune: true}); err != nil && !errdefs.IsNotFound(err) && !errdefs.IsConflict(err) {
			return rep, fmt.Errorf("prune build cache: %w", err)
		}
		for _, old := range e.Replaced {
			// Only an image nobody tagged since: never a user's.
			if img, err := b.images.Get(ctx, old.String()); err != nil || len(img.RepoTags) > 0 || len(img.RepoDigests) > 0 {
				continue
			}
			if _, err := b.images.Remove(ctx, old.String(), image.RemoveOptions{NoPrune: true}); err != nil && !errdefs.IsNotFound(err) && !errdefs.IsConflict(err) {
				return rep, fmt.Errorf("prune build cache: %w", err)
			}
		}
	}
	if len(rep.Entries) > 0 {
		if _, err := b.images.GC(ctx); err != nil {
			return rep, fmt.Errorf("prune build cache: %w", err)
		}
	}
	if opts.All || opts.Until == 0 {
		mdir := filepath.Join(b.root, "mounts")
		ms, _ := os.ReadDir(mdir)
		for _, m := range ms {
			p := filepath.Join(mdir, m.Name())
			rep.MountBytes += dirSize(p)
			if err := os.RemoveAll(p); err != nil {
				return rep, fmt.Errorf("prune build cache mount %s: %w", m.Name(), err)
			}
		}
	}
	return rep, nil
}

// CacheRecord is one build cache entry for system df, as docker's
// build.CacheRecord: a step (Type "regular"; Size the bytes of the layer
// it added, Shared when a tagged image holds them) or a RUN cache mount
// (Type "exec.cachemount").
type CacheRecord struct {
	ID          string
	Type        string
	Description string
	Shared      bool
	Size        int64
	CreatedAt   time.Time
	LastUsedAt  time.Time
	UsageCount  int
}

// CacheRecords lists the build cache: the steps whose images still exist
// and the RUN cache mounts.
func (b *Builder) CacheRecords(ctx context.Context) ([]CacheRecord, error) {
	ents, err := os.ReadDir(b.cache.dir)
	if err != nil {
		return nil, fmt.Errorf("build cache records: %w", err)
	}
	imgs, err := b.images.List(ctx, image.ListOptions{All: true})
	if err != nil {
		return nil, fmt.Errorf("build cache records: %w", err)
	}
	byID := make(map[digest.Digest]image.Image, len(imgs))
	for _, img := range imgs {
		byID[img.ID] = img
	}
	var out []CacheRecord
	for _, de := range ents {
		if strings.Contains(de.Name(), ".tmp-") {
			continue
		}
		bts, err := os.ReadFile(filepath.Join(b.cache.dir, de.Name()))
		if err != nil {
			continue
		}
		var e cacheEntry
		if json.Unmarshal(bts, &e) != nil {
			continue
		}
		img, ok := byID[e.Image]
		if !ok {
			continue // a miss: its image was removed
		}
		rec := CacheRecord{ID: recordID(de.Name()), Type: "regular", Description: e.Description, Shared: len(img.RepoTags) > 0,
			CreatedAt: e.Created, LastUsedAt: e.LastUsed, UsageCount: e.Uses}
		if h := img.Config.History; len(h) > 0 && !h[len(h)-1].EmptyLayer && len(img.Manifest.Layers) > 0 {
			rec.Size = img.Manifest.Layers[len(img.Manifest.Layers)-1].Size
			if n := len(img.LayerSizes); n == len(img.Manifest.Layers) {
				rec.Size = img.LayerSizes[n-1] // unpacked, as images and df count
			}
		}
		out = append(out, rec)
	}
	mdir := filepath.Join(b.root, "mounts")
	ms, _ := os.ReadDir(mdir)
	for _, m := range ms {
		rec := CacheRecord{ID: recordID(m.Name()), Type: "exec.cachemount", Description: "cached mount", Size: dirSize(filepath.Join(mdir, m.Name()))}
		if fi, err := m.Info(); err == nil {
			rec.CreatedAt, rec.LastUsedAt = fi.ModTime().UTC(), fi.ModTime().UTC()
		}
		out = append(out, rec)
	}
	return out, nil
}

// recordID is the ID system df and builder prune show for a cache key:
// 25 characters, as buildkit's.
func recordID(key string) string {
	if len(key) > 25 {
		return key[:25]
	}
	return key
}

// DiskUsage returns the number of cache entries and the bytes of the RUN
// cache mounts (for system df).
func (b *Builder) DiskUsage(ctx context.Context) (entries int, mountBytes int64, err error) {
	ents, err := os.ReadDir(b.cache.dir)
	if err != nil {
		return 0, 0, fmt.Errorf("build cache usage: %w", err)
	}
	for _, e := range ents {
		if !strings.Contains(e.Name(), ".tmp-") {
			entries++
		}
	}
	return entries, dirSize(filepath.Join(b.root, "mounts")), nil
}

func dirSize(p string) int64 {
	var n int64
	filepath.WalkDir(p, func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
