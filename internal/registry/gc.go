package registry

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// GCOptions configures a garbage collection.
type GCOptions struct {
	// DryRun reports what would be deleted and deletes nothing.
	DryRun bool
	// Grace protects blobs linked, uploaded or checked by a client within
	// this long before the collection started: a push may have checked a
	// blob (HEAD) and be about to PUT the manifest that references it.
	Grace time.Duration
	// UploadTTL removes uploads started longer ago than this (0 keeps all).
	UploadTTL time.Duration
}

// GCResult is what a collection found and did.
type GCResult struct {
	Manifests     int      // manifests marked (roots)
	Marked        int      // blobs referenced by them
	Deleted       []string // digests of the blobs deleted (or, dry, to delete)
	BytesFreed    int64
	LinksDeleted  int
	UploadsPurged int
}

// GC deletes blobs no manifest references, while the registry keeps
// serving. Mark: every manifest revision of every repository is a root; it
// marks itself, its config and layers. Sweep: a blob not marked is deleted,
// under its digest's write lock, only if it was not refreshed since
// start-Grace; every write that links a blob refreshes it under the read
// lock of the same digest first, so a push racing the sweep either keeps
// its blob alive or fails cleanly with BLOB_UNKNOWN, never links a deleted
// blob.
func (s *Store) GC(ctx context.Context, opts GCOptions) (GCResult, error) {
	var res GCResult
	// The start is read from the storage's own clock (the modification
	// time of a marker file), which may be coarser than time.Now: a blob
	// written after this point never looks older than it.
	start := time.Now()
	if err := s.d.PutContent(ctx, "gc/started", []byte(start.UTC().Format(time.RFC3339Nano))); err != nil {
		return res, fmt.Errorf("gc: %w", err)
	}
	if fi, err := s.d.Stat(ctx, "gc/started"); err == nil && fi.ModTime.Before(start) {
		start = fi.ModTime
	}
	cutoff := start.Add(-opts.Grace)
	// Let manifest pushes in flight finish: their links are then seen by
	// the mark phase below.
	s.gcBarrier.Lock()
	s.gcBarrier.Unlock()
	marked := map[Digest]bool{}
	links := map[Digest][]string{}
	repos, err := s.Catalog(ctx)
	if err != nil {
		return res, fmt.Errorf("gc: list repositories: %w", err)
	}
	for _, repo := range repos {
		revs, err := s.listDigests(ctx, repoPath(repo)+"/_manifests/revisions")
		if err != nil {
			return res, fmt.Errorf("gc: list manifests of %s: %w", repo, err)
		}
		for _, dg := range revs {
			_, mediaType, err := s.readLink(ctx, revisionDir(repo, dg)+"/link")
			if err != nil {
				continue // deleted meanwhile
			}
			body, err := s.d.GetContent(ctx, blobPath(dg))
			if err != nil {
				continue
			}
			res.Manifests++
			marked[dg] = true
			m, err := ParseManifest(mediaType, body)
			if err != nil {
				continue
			}
			var refs []Descriptor
			if m.Config != nil {
				refs = append(refs, *m.Config)
			}
			refs = append(refs, m.Layers...)
			refs = append(refs, m.Manifests...)
			for _, d := range refs {
				if rd, err := ParseDigest(d.Digest); err == nil {
					marked[rd] = true
				}
			}
		}
		layers, err := s.listDigests(ctx, repoPath(repo)+"/_layers")
		if err != nil {
			return res, fmt.Errorf("gc: list layers of %s: %w", repo, err)
		}
		for _, dg := range layers {
			links[dg] = append(links[dg], layerLink(repo, dg))
		}
	}
	res.Marked = len(marked)

	blobs, err := s.listBlobs(ctx)
	if err != nil {
		return res, fmt.Errorf("gc: list blobs: %w", err)
	}
	for _, dg := range blobs {
		if marked[dg] {
			continue
		}
		if err := ctx.Err(); err != nil {
			return res, err
		}
		l := s.lock(dg)
		l.Lock()
		fi, err := s.d.Stat(ctx, blobPath(dg))
		if err != nil || !fi.ModTime.Before(cutoff) {
			l.Unlock()
			continue
		}
		res.Deleted = append(res.Deleted, dg.String())
		res.BytesFreed += fi.Size
		if !opts.DryRun {
			if err := s.d.Delete(ctx, blobDir(dg)); err != nil && !isNotFound(err) {
				l.Unlock()
				return res, fmt.Errorf("gc: delete blob %s: %w", dg, err)
			}
			for _, link := range links[dg] {
				lfi, err := s.d.Stat(ctx, link)
				if err != nil || !lfi.ModTime.Before(cutoff) {
					continue
				}
				if err := s.d.Delete(ctx, strings.TrimSuffix(link, "/link")); err == nil {
					res.LinksDeleted++
				}
			}
			s.cache.drop(dg)
		}
		l.Unlock()
	}
	if opts.UploadTTL > 0 && !opts.DryRun {
		n, err := s.PurgeUploads(ctx, start.Add(-opts.UploadTTL))
		res.UploadsPurged = n
		if err != nil {
			return res, fmt.Errorf("gc: purge uploads: %w", err)
		}
	}
	return res, nil
}

// listDigests lists dir/<algorithm>/<hex> entries as digests.
func (s *Store) listDigests(ctx context.Context, dir string) ([]Digest, error) {
	algs, err := s.d.List(ctx, dir)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Digest
	for _, a := range algs {
		entries, err := s.d.List(ctx, a)
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		alg := a[strings.LastIndexByte(a, '/')+1:]
		for _, e := range entries {
			if dg, err := ParseDigest(alg + ":" + e[strings.LastIndexByte(e, '/')+1:]); err == nil {
				out = append(out, dg)
			}
		}
	}
	return out, nil
}

// listBlobs lists every blob of the shared store.
func (s *Store) listBlobs(ctx context.Context) ([]Digest, error) {
	algs, err := s.d.List(ctx, "blobs")
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Digest
	for _, a := range algs {
		prefixes, err := s.d.List(ctx, a)
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		alg := a[strings.LastIndexByte(a, '/')+1:]
		for _, p := range prefixes {
			entries, err := s.d.List(ctx, p)
			if isNotFound(err) {
				continue
			}
			if err != nil {
				return nil, err
			}
			for _, e := range entries {
				if dg, err := ParseDigest(alg + ":" + e[strings.LastIndexByte(e, '/')+1:]); err == nil {
					out = append(out, dg)
				}
			}
		}
	}
	return out, nil
}
