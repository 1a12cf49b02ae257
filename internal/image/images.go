package image

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth/berth/internal/content"
	"github.com/berth/berth/internal/metadata"
	"github.com/berth/berth/internal/snapshot"
)

// danglingRepo names the records of images that lost their last tag.
const danglingRepo = "docker.io/library/berth-dangling"

func danglingName(d digest.Digest) string { return danglingRepo + "@" + d.String() }

func isDanglingName(n string) bool { return strings.HasPrefix(n, danglingRepo+"@") }

// target is a parsed manifest with its config.
type target struct {
	desc      ocispec.Descriptor // the manifest
	manifest  ocispec.Manifest
	configRaw []byte
	config    ocispec.Image
	// layerSizes are the layers' unpacked sizes, size their sum.
	layerSizes []int64
	size       int64
}

// loadTarget reads a record's target (a manifest, or an index resolved for
// the service's platform) and its config from the content store.
func (s *Service) loadTarget(ctx context.Context, desc ocispec.Descriptor) (*target, error) {
	s.targetMu.Lock()
	t, ok := s.targets[desc.Digest]
	s.targetMu.Unlock()
	if ok {
		return t, nil
	}
	mdesc := desc
	if content.IsIndexType(desc.MediaType) {
		idx, err := content.ReadIndex(ctx, s.content, desc)
		if err != nil {
			return nil, err
		}
		sel, err := content.SelectManifest(idx, s.platform)
		if err != nil {
			return nil, err
		}
		mdesc = sel
	}
	m, err := content.ReadManifest(ctx, s.content, mdesc)
	if err != nil {
		return nil, err
	}
	raw, err := content.ReadBlob(ctx, s.content, m.Config, content.MaxManifestSize)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", m.Config.Digest, err)
	}
	cfg, err := content.ParseConfig(raw)
	if err != nil {
		return nil, err
	}
	t = &target{desc: mdesc, manifest: m, configRaw: raw, config: cfg}
	if len(cfg.RootFS.DiffIDs) == len(m.Layers) {
		for i, c := range ChainIDs(cfg.RootFS.DiffIDs) {
			n := s.layerSize(ctx, c, m.Layers[i])
			t.layerSizes = append(t.layerSizes, n)
			t.size += n
		}
	}
	s.targetMu.Lock()
	s.targets[desc.Digest] = t
	s.targetMu.Unlock()
	return t, nil
}

func (t *target) id() digest.Digest { return t.manifest.Config.Digest }

// CloneConfig returns c with maps and slices of its own.
func CloneConfig(c ocispec.ImageConfig) ocispec.ImageConfig {
	c.Env = slices.Clone(c.Env)
	c.Entrypoint = slices.Clone(c.Entrypoint)
	c.Cmd = slices.Clone(c.Cmd)
	c.Labels = maps.Clone(c.Labels)
	c.ExposedPorts = maps.Clone(c.ExposedPorts)
	c.Volumes = maps.Clone(c.Volumes)
	return c
}

func (s *Service) imageFromTarget(t *target, createdAt time.Time) Image {
	// The config's maps and slices are the caller's own: t is shared by
	// every Get, and a caller that changed a label in place would change
	// the image for all the others.
	cfg := t.config
	cfg.Config = CloneConfig(cfg.Config)
	cfg.RootFS.DiffIDs = slices.Clone(cfg.RootFS.DiffIDs)
	cfg.History = slices.Clone(cfg.History)
	img := Image{
		ID:         t.id(),
		Target:     t.desc,
		Manifest:   t.manifest,
		Config:     cfg,
		ConfigRaw:  t.configRaw,
		Labels:     cfg.Config.Labels,
		Size:       t.size,
		LayerSizes: t.layerSizes,
		Created:    createdAt,
	}
	if t.config.Created != nil {
		img.Created = *t.config.Created
	}
	if ch := ChainIDs(t.config.RootFS.DiffIDs); len(ch) > 0 {
		img.ChainID = ch[len(ch)-1]
	}
	return img
}

// images returns every image, grouping the records by config digest, in
// the order of their newest Created first.
func (s *Service) images(ctx context.Context) ([]Image, error) {
	ix, err := s.records(ctx)
	if err != nil {
		return nil, err
	}
	return ix.all(), nil
}

// IsIDRef reports whether ref can name an image by ID: hex digits (a full
// ID or a prefix), with or without "sha256:".
func IsIDRef(ref string) bool {
	id := strings.TrimPrefix(ref, "sha256:")
	return isHex(id) && len(id) <= 64
}

func isHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return s != ""
}

// Get returns the image named by ref: a name ("busybox", "repo:tag",
// "repo@sha256:..."), a full ID ("sha256:...") or an unambiguous ID
// prefix. errdefs.ErrNotFound if there is none.
func (s *Service) Get(ctx context.Context, ref string) (Image, error) {
	img, err := s.get(ctx, ref)
	if err != nil {
		return Image{}, err
	}
	return img, nil
}

func (s *Service) get(ctx context.Context, ref string) (Image, error) {
	ix, err := s.records(ctx)
	if err != nil {
		return Image{}, err
	}
	if name, err := metadata.NormalizeName(ref); err == nil {
		if img, ok := ix.lookupName(name); ok {
			return img, nil
		}
	}
	if IsIDRef(ref) {
		id := strings.TrimPrefix(ref, "sha256:")
		found := ix.withPrefix(id, 2)
		if len(found) == 1 {
			return found[0], nil
		}
		if len(found) > 1 {
			n := len(ix.withPrefix(id, len(ix.ids)))
			return Image{}, fmt.Errorf("image ID prefix %q is ambiguous (%d images): %w", ref, n, errdefs.ErrInvalidArgument)
		}
	}
	return Image{}, fmt.Errorf("no such image: %s: %w", ref, errdefs.ErrNotFound)
}

// setNames points each name at target, creating records as needed, and
// keeps an image that loses its last name as a dangling record. It
// reports whether any name changed.
func (s *Service) setNames(ctx context.Context, names []string, target ocispec.Descriptor) (bool, error) {
	return s.nameImage(ctx, names, target, false)
}

// tagNames is setNames for a tag (docker tag, commit or import with a
// name): the names, but the builder's intermediate ones, also record when
// they were tagged (LastTagTime), in the same transaction.
func (s *Service) tagNames(ctx context.Context, names []string, target ocispec.Descriptor) error {
	_, err := s.nameImage(ctx, names, target, true)
	return err
}

func (s *Service) nameImage(ctx context.Context, names []string, target ocispec.Descriptor, tagged bool) (bool, error) {
	s.recordMu.Lock()
	defer s.recordMu.Unlock()
	defer s.recordsChanged()
	changed, now := false, time.Now().UTC()
	err := s.db.Update(ctx, func(tx *metadata.Tx) error {
		it := tx.Images()
		var displaced []ocispec.Descriptor
		if len(names) == 1 && isDanglingName(names[0]) {
			recs, err := it.List()
			if err != nil {
				return err
			}
			for _, r := range recs {
				if r.Target.Digest == target.Digest {
					return nil // named already: not dangling
				}
			}
		}
		for _, n := range names {
			cur, err := it.Get(n)
			switch {
			case err == nil && cur.Target.Digest == target.Digest:
			case err == nil:
				displaced = append(displaced, cur.Target)
				cur.Target = target
				if _, err := it.Update(cur, "target"); err != nil {
					return err
				}
				changed = true
			case errdefs.IsNotFound(err):
				if _, err := it.Create(metadata.Image{Name: n, Target: target}); err != nil {
					return err
				}
				changed = true
			default:
				return err
			}
			if tagged && !isIntermediateName(n) {
				if err := stampTagTime(it, n, now); err != nil {
					return err
				}
			}
		}
		// A named image is not dangling any more; a dangling name set
		// here is the record just made.
		if len(names) != 1 || !isDanglingName(names[0]) {
			if err := it.Delete(danglingName(target.Digest)); err != nil && !errdefs.IsNotFound(err) {
				return err
			}
		}
		return keepDangling(it, displaced)
	})
	return changed, err
}

// keepDangling records each displaced target no name points at any more
// but the builder's intermediate records: a rebuilt image's old result,
// which keeps its cache record, is dangling then, listed as <none> and
// pruned, as dockerd's.
func keepDangling(it *metadata.ImageTx, displaced []ocispec.Descriptor) error {
	if len(displaced) == 0 {
		return nil
	}
	recs, err := it.List()
	if err != nil {
		return err
	}
	for _, d := range displaced {
		used := false
		for _, r := range recs {
			if r.Target.Digest == d.Digest && !isIntermediateName(r.Name) {
				used = true
				break
			}
		}
		if !used {
			if _, err := it.Create(metadata.Image{Name: danglingName(d.Digest), Target: d}); err != nil && !errdefs.IsAlreadyExists(err) {
				return err
			}
		}
	}
	return nil
}

// Tag gives the image source (any form Get takes) the name target.
func (s *Service) Tag(ctx context.Context, source, targetName string) error {
	img, err := s.Get(ctx, source)
	if err != nil {
		return fmt.Errorf("tag %s: %w", source, err)
	}
	named, err := metadata.ParseReference(targetName)
	if err != nil {
		return fmt.Errorf("tag %s: %w", source, err)
	}
	if _, ok := named.(reference.Digested); ok {
		return fmt.Errorf("tag %s as %s: refusing to create a tag with a digest reference: %w", source, targetName, errdefs.ErrInvalidArgument)
	}
	if err := s.tagNames(ctx, []string{named.String()}, img.Target); err != nil {
		return fmt.Errorf("tag %s as %s: %w", source, targetName, err)
	}
	return nil
}

// tagTimeLabel is the record label that holds when the name was put on an
// image by a tag (Image.LastTagTime).
const tagTimeLabel = "berth.tag-time"

// stampTagTime records t as the time name was tagged.
func stampTagTime(it *metadata.ImageTx, name string, t time.Time) error {
	rec, err := it.Get(name)
	if err != nil {
		return err
	}
	rec.Labels = map[string]string{tagTimeLabel: t.Format(time.RFC3339Nano)}
	_, err = it.Update(rec, "labels."+tagTimeLabel)
	return err
}

// InUseFunc tells whether a container uses the image id: the ID of one
// that does ("" for none), and whether it runs.
type InUseFunc func(ctx context.Context, id digest.Digest) (container string, running bool)

// RemoveOptions tune Remove.
type RemoveOptions struct {
	// Force removes an image that several tags name when it is given by
	// ID, and one containers use (untagging it; it stays until unused).
	Force bool
	// NoPrune keeps the image's unreferenced blobs and snapshots.
	NoPrune bool
	// InUse, when set, tells whether containers use an image.
	InUse InUseFunc
}

// DeleteResponse is one line of docker rmi's answer.
type DeleteResponse struct {
	Untagged string `json:",omitempty"`
	Deleted  string `json:",omitempty"`
}

// Remove removes the name ref, or the whole image when ref is its ID or
// its last name, as docker rmi does. A conflict (errdefs.ErrConflict) is
// reported when containers use the image, or when an ID names an image
// with several repositories, unless opts.Force.
func (s *Service) Remove(ctx context.Context, ref string, opts RemoveOptions) ([]DeleteResponse, error) {
	out, err := s.remove(ctx, ref, opts)
	if err != nil {
		return out, fmt.Errorf("remove image %s: %w", ref, err)
	}
	if !opts.NoPrune && len(out) > 0 && out[len(out)-1].Deleted != "" {
		if _, err := s.GC(ctx); err != nil {
			return out, err
		}
	}
	return out, nil
}

func (s *Service) remove(ctx context.Context, ref string, opts RemoveOptions) ([]DeleteResponse, error) {
	s.recordMu.Lock()
	defer s.recordMu.Unlock()
	img, err := s.get(ctx, ref)
	if err != nil {
		return nil, err
	}
	var user string
	var running bool
	if opts.InUse != nil {
		user, running = opts.InUse(ctx, img.ID)
	}
	inUse := user != ""
	byName := ""
	if n, err := metadata.NormalizeName(ref); err == nil {
		for _, x := range img.names {
			if x == n {
				byName = n
			}
		}
	}
	var out []DeleteResponse
	defer s.recordsChanged()
	err = s.db.Update(ctx, func(tx *metadata.Tx) error {
		it := tx.Images()
		tagged := 0
		for _, n := range img.names {
			if !strings.Contains(n, "@") && !isIntermediateName(n) {
				tagged++
			}
		}
		if byName != "" && (tagged > 1 || (strings.Contains(byName, "@") && tagged > 0) || (isIntermediateName(byName) && len(img.names) > 1)) {
			// Another name remains: only untag.
			out = append(out, DeleteResponse{Untagged: metadata.FamiliarName(byName)})
			return it.Delete(byName)
		}
		// dockerd's order: a running container's use first (not even -f
		// deletes that), then several names.
		if inUse && byName == "" && running {
			return fmt.Errorf("conflict: unable to delete %s (cannot be forced) - image is being used by running container %s: %w", shortID(img.ID), shortHexID(user), errdefs.ErrConflict)
		}
		if byName == "" && tagged > 1 && !opts.Force {
			return fmt.Errorf("conflict: unable to delete %s (must be forced) - image is referenced in multiple repositories: %w", shortID(img.ID), errdefs.ErrConflict)
		}
		if inUse && !opts.Force {
			// -f does remove it (its names; the image stays, nameless,
			// for the container): "must be forced", as dockerd says.
			if byName != "" {
				return fmt.Errorf("conflict: unable to remove repository reference %q (must force) - container %s is using its referenced image %s: %w", metadata.FamiliarName(byName), shortHexID(user), shortID(img.ID), errdefs.ErrConflict)
			}
			return fmt.Errorf("conflict: unable to delete %s (must be forced) - image is being used by stopped container %s: %w", shortID(img.ID), shortHexID(user), errdefs.ErrConflict)
		}
		for _, n := range img.names {
			if err := it.Delete(n); err != nil {
				return err
			}
			if !isDanglingName(n) && !isIntermediateName(n) {
				out = append(out, DeleteResponse{Untagged: metadata.FamiliarName(n)})
			}
		}
		if inUse && running {
			// Untagged by force while a running container uses it: it
			// stays, nameless, as with dockerd.
			_, err := it.Create(metadata.Image{Name: danglingName(img.Target.Digest), Target: img.Target})
			return err
		}
		// Forced while only stopped containers use it, it is deleted, as
		// dockerd's: their snapshots keep the layers they need.
		out = append(out, DeleteResponse{Deleted: img.ID.String()})
		return nil
	})
	return out, err
}

// ListOptions tune List.
type ListOptions struct {
	// Filters as docker's: dangling=true|false, reference=PATTERN,
	// label=KEY or KEY=VALUE, before=IMAGE, since=IMAGE, until=TIMESTAMP.
	Filters map[string][]string
	// All lists the builder's intermediate images too (docker images -a).
	All bool
}

// List returns the images that match every filter (any one of the
// reference filters), newest first.
func (s *Service) List(ctx context.Context, opts ListOptions) ([]Image, error) {
	all, err := s.images(ctx)
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	match, err := s.filter(ctx, all, opts.Filters)
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	var out []Image
	for _, img := range all {
		if match(img) && (opts.All || !onlyIntermediate(img.names)) {
			out = append(out, img)
		}
	}
	return out, nil
}

func (s *Service) filter(ctx context.Context, all []Image, filters map[string][]string) (func(Image) bool, error) {
	var preds []func(Image) bool
	for key, values := range filters {
		for _, v := range values {
			switch key {
			case "dangling":
				want := v == "true" || v == "1"
				if !want && v != "false" && v != "0" {
					return nil, fmt.Errorf("filter dangling: invalid value %q (want true or false): %w", v, errdefs.ErrInvalidArgument)
				}
				preds = append(preds, func(img Image) bool { return img.Dangling == want })
			case "reference":
				// Checked here; matched below, any of them (dockerd ORs
				// the reference filters, and ANDs the others).
				if _, err := path.Match(v, ""); err != nil {
					return nil, fmt.Errorf("filter reference: invalid pattern %q: %w", v, errdefs.ErrInvalidArgument)
				}
			case "label", "label!":
				k, val, hasVal := strings.Cut(v, "=")
				not := key == "label!"
				preds = append(preds, func(img Image) bool {
					got, ok := img.Labels[k]
					return (ok && (!hasVal || got == val)) != not
				})
			case "before", "since":
				ref, err := s.findIn(all, v)
				if err != nil {
					return nil, fmt.Errorf("filter %s: %w", key, err)
				}
				t := ref.Created
				if key == "before" {
					preds = append(preds, func(img Image) bool { return img.Created.Before(t) })
				} else {
					preds = append(preds, func(img Image) bool { return img.Created.After(t) })
				}
			case "until":
				t, err := parseTimestamp(v)
				if err != nil {
					return nil, fmt.Errorf("filter until: %w", err)
				}
				preds = append(preds, func(img Image) bool { return img.Created.Before(t) })
			default:
				return nil, fmt.Errorf("invalid filter %q: %w", key, errdefs.ErrInvalidArgument)
			}
		}
	}
	if pats := filters["reference"]; len(pats) > 0 {
		preds = append(preds, func(img Image) bool {
			for _, pat := range pats {
				if matchReference(img, pat) {
					return true
				}
			}
			return false
		})
	}
	return func(img Image) bool {
		for _, p := range preds {
			if !p(img) {
				return false
			}
		}
		return true
	}, nil
}

func (s *Service) findIn(all []Image, ref string) (Image, error) {
	name, _ := metadata.NormalizeName(ref)
	id := strings.TrimPrefix(ref, "sha256:")
	for _, img := range all {
		for _, n := range img.names {
			if n == name {
				return img, nil
			}
		}
	}
	for _, img := range all {
		if isHex(id) && strings.HasPrefix(img.ID.Encoded(), id) {
			return img, nil
		}
	}
	return Image{}, fmt.Errorf("no such image: %s: %w", ref, errdefs.ErrNotFound)
}

// matchReference matches docker's reference filter: the pattern is matched
// against the familiar "repo:tag" and "repo" of every tag.
func matchReference(img Image, pat string) bool {
	for _, t := range append(append([]string{}, img.RepoTags...), img.RepoDigests...) {
		repo := t
		if i := strings.LastIndexAny(t, ":@"); i > strings.LastIndex(t, "/") {
			repo = t[:i]
		}
		if ok, _ := path.Match(pat, t); ok {
			return true
		}
		if ok, _ := path.Match(pat, repo); ok {
			return true
		}
	}
	return false
}

// parseTimestamp takes RFC 3339 times, Unix seconds or a Go duration
// before now ("24h").
func parseTimestamp(v string) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil {
		return time.Now().Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	var sec int64
	if _, err := fmt.Sscanf(v, "%d", &sec); err == nil {
		return time.Unix(sec, 0), nil
	}
	return time.Time{}, fmt.Errorf("invalid timestamp %q: %w", v, errdefs.ErrInvalidArgument)
}

// HistoryEntry is one line of docker history.
type HistoryEntry struct {
	ID        string // the image ID on the top line, "<missing>" below
	Created   time.Time
	CreatedBy string
	Tags      []string
	Size      int64 // the layer's unpacked size (docker's), 0 for empty layers
	Comment   string
}

// History returns the image's history from its config, newest first.
func (s *Service) History(ctx context.Context, ref string) ([]HistoryEntry, error) {
	img, err := s.Get(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("history %s: %w", ref, err)
	}
	var out []HistoryEntry
	layer := 0
	for _, h := range img.Config.History {
		e := HistoryEntry{ID: "<missing>", CreatedBy: h.CreatedBy, Comment: h.Comment}
		if h.Created != nil {
			e.Created = *h.Created
		}
		if !h.EmptyLayer && layer < len(img.LayerSizes) {
			e.Size = img.LayerSizes[layer]
			layer++
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		out = append(out, HistoryEntry{Created: img.Created})
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	out[0].ID = img.ID.String()
	out[0].Tags = img.RepoTags
	return out, nil
}

// PruneOptions tune Prune.
type PruneOptions struct {
	// All removes every image no container uses, not only dangling ones.
	All bool
	// Filters: until=TIMESTAMP, label=KEY[=VALUE].
	Filters map[string][]string
	InUse   InUseFunc
}

// PruneReport is what Prune removed.
type PruneReport struct {
	Deleted        []DeleteResponse
	SpaceReclaimed int64
}

// Prune removes dangling images (all unused ones with opts.All) and
// collects what they leave.
func (s *Service) Prune(ctx context.Context, opts PruneOptions) (PruneReport, error) {
	var rep PruneReport
	all, err := s.images(ctx)
	if err != nil {
		return rep, fmt.Errorf("prune images: %w", err)
	}
	for k := range opts.Filters {
		if k != "until" && k != "label" && k != "label!" {
			return rep, fmt.Errorf("prune images: invalid filter %q: %w", k, errdefs.ErrInvalidArgument)
		}
	}
	match, err := s.filter(ctx, all, opts.Filters)
	if err != nil {
		return rep, fmt.Errorf("prune images: %w", err)
	}
	for _, img := range all {
		if !match(img) || (!opts.All && !img.Dangling) {
			continue
		}
		if opts.InUse != nil {
			if user, _ := opts.InUse(ctx, img.ID); user != "" {
				continue
			}
		}
		del, err := s.remove(ctx, img.ID.String(), RemoveOptions{Force: true, NoPrune: true, InUse: opts.InUse})
		if err != nil {
			return rep, fmt.Errorf("prune images: %w", err)
		}
		rep.Deleted = append(rep.Deleted, del...)
	}
	st, err := s.GC(ctx)
	if err != nil {
		return rep, err
	}
	rep.SpaceReclaimed = st.RemovedBytes
	return rep, nil
}

// GCReport is what GC removed.
type GCReport struct {
	RemovedBlobs     int
	RemovedBytes     int64
	RemovedSnapshots []string
}

// GC removes blobs no image record or live lease reaches, layer snapshots
// no image uses, and extraction snapshots a crash left behind. Snapshots
// of containers (any other active snapshot) are kept.
func (s *Service) GC(ctx context.Context) (GCReport, error) {
	s.gcMu.Lock()
	defer s.gcMu.Unlock()
	var rep GCReport
	recs, err := s.db.Images().List(ctx)
	if err != nil {
		return rep, fmt.Errorf("gc: %w", err)
	}
	keepChains := map[string]bool{}
	var roots []digest.Digest
	recorded := map[digest.Digest]bool{}
	for _, r := range recs {
		recorded[r.Target.Digest] = true
	}
	s.targetMu.Lock()
	for d := range s.targets {
		if !recorded[d] {
			delete(s.targets, d)
		}
	}
	s.targetMu.Unlock()
	for _, r := range recs {
		roots = append(roots, r.Target.Digest)
		if t, err := s.loadTarget(ctx, r.Target); err == nil {
			for _, c := range ChainIDs(t.config.RootFS.DiffIDs) {
				keepChains[c.String()] = true
			}
		}
	}
	st, err := s.content.GC(ctx, func() []digest.Digest { return roots })
	if err != nil {
		return rep, fmt.Errorf("gc: %w", err)
	}
	rep.RemovedBlobs, rep.RemovedBytes = len(st.Removed), st.RemovedBytes
	// Remove unused snapshots leaves first, until nothing more goes.
	for {
		var infos []snapshot.Info
		err := s.snap.Walk(ctx, func(_ context.Context, info snapshot.Info) error {
			infos = append(infos, info)
			return nil
		})
		if err != nil {
			return rep, fmt.Errorf("gc: walk snapshots: %w", err)
		}
		parents := map[string]bool{}
		for _, in := range infos {
			if in.Parent != "" {
				parents[in.Parent] = true
			}
		}
		removed := 0
		for _, in := range infos {
			stale := in.Kind == snapshot.KindActive && strings.HasPrefix(in.Name, "extract-")
			unused := in.Kind == snapshot.KindCommitted && !keepChains[in.Name] && !parents[in.Name]
			if !stale && !unused {
				continue
			}
			if err := s.snap.Remove(ctx, in.Name); err != nil {
				slog.WarnContext(ctx, "gc: remove snapshot", "name", in.Name, "err", err)
				continue
			}
			rep.RemovedSnapshots = append(rep.RemovedSnapshots, in.Name)
			removed++
		}
		if removed == 0 {
			break
		}
	}
	return rep, nil
}

// InspectJSON returns the image config as stored, for callers that need
// docker's fields OCI's type lacks.
func (img Image) InspectJSON() (map[string]any, error) {
	var m map[string]any
	if err := json.Unmarshal(img.ConfigRaw, &m); err != nil {
		return nil, fmt.Errorf("image %s config: %w", img.ID, err)
	}
	return m, nil
}

// DiskUsage is what docker's system df reports about images.
type DiskUsage struct {
	// LayersSize is the unpacked size of every layer of every image, each
	// layer counted once however many images share it (docker's
	// LayersSize, the images' TotalSize).
	LayersSize int64
	// Images are all images, newest first, as List returns them.
	Images []Image
	// SharedSize is, by image ID, the part of the image's Size in layers
	// that other images use too.
	SharedSize map[digest.Digest]int64
}

// DiskUsage returns the images with the space their layers take. Layers
// are identified by chain ID, as docker's layer store does.
func (s *Service) DiskUsage(ctx context.Context) (DiskUsage, error) {
	all, err := s.images(ctx)
	if err != nil {
		return DiskUsage{}, fmt.Errorf("disk usage of images: %w", err)
	}
	du := DiskUsage{Images: all, SharedSize: map[digest.Digest]int64{}}
	users := map[digest.Digest]int{}
	size := map[digest.Digest]int64{}
	for _, img := range all {
		for i, c := range ChainIDs(img.Config.RootFS.DiffIDs) {
			users[c]++
			if i < len(img.LayerSizes) {
				size[c] = img.LayerSizes[i]
			}
		}
	}
	for _, n := range size {
		du.LayersSize += n
	}
	for _, img := range all {
		var shared int64
		for i, c := range ChainIDs(img.Config.RootFS.DiffIDs) {
			if users[c] > 1 && i < len(img.LayerSizes) {
				shared += img.LayerSizes[i]
			}
		}
		du.SharedSize[img.ID] = shared
	}
	return du, nil
}

// shortHexID is the first 12 characters of a container ID.
func shortHexID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
