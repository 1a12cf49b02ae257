package content

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"time"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// GCStats tells what a GC run did.
type GCStats struct {
	Removed       []digest.Digest // blobs deleted
	RemovedBytes  int64
	Kept          int      // blobs still present
	ExpiredLeases []string // leases that had expired and were removed
}

// GC removes every blob that is neither reachable from roots nor from a
// live lease, and removes expired leases.
//
// roots returns the digests the caller keeps (images' targets, build cache
// entries); it is called once, while GC holds the store's commit lock, so
// no Commit runs between reading the roots and sweeping. A blob is
// reachable when it is a root or a lease resource, or a child of a
// reachable blob. Children are found by parsing, never by labels: a
// reachable blob of at most MaxManifestSize bytes that parses as an OCI or
// Docker schema 2 index (its manifests) or manifest (its config and layers)
// has those descriptors as children; any other blob is a leaf. Children
// that are missing (a partial pull, a layer never fetched) are skipped.
// Ingests in progress are not blobs and are left alone.
func (s *LocalStore) GC(ctx context.Context, roots func() []digest.Digest) (GCStats, error) {
	var st GCStats
	s.gcMu.Lock()
	defer s.gcMu.Unlock()

	var queue []digest.Digest
	if roots != nil {
		queue = append(queue, roots()...)
	}
	s.leaseMu.Lock()
	leases, err := s.listLeases()
	if err == nil {
		now := time.Now()
		for _, l := range leases {
			if !l.ExpiresAt.IsZero() && now.After(l.ExpiresAt) {
				if err := os.Remove(s.leasePath(l.ID)); err != nil && !errors.Is(err, fs.ErrNotExist) {
					s.leaseMu.Unlock()
					return st, fmt.Errorf("gc: remove expired lease %q: %w", l.ID, err)
				}
				st.ExpiredLeases = append(st.ExpiredLeases, l.ID)
				continue
			}
			queue = append(queue, l.Resources...)
		}
	}
	s.leaseMu.Unlock()
	if err != nil {
		return st, fmt.Errorf("gc: %w", err)
	}

	marked := map[digest.Digest]bool{}
	for len(queue) > 0 {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		d := queue[0]
		queue = queue[1:]
		if marked[d] || checkDigest(d) != nil {
			continue
		}
		marked[d] = true
		children, err := s.children(ctx, d)
		if err != nil {
			return st, fmt.Errorf("gc: %w", err)
		}
		for _, c := range children {
			queue = append(queue, c.Digest)
		}
	}

	all, err := s.list()
	if err != nil {
		return st, fmt.Errorf("gc: %w", err)
	}
	for _, d := range all {
		if marked[d] {
			st.Kept++
			continue
		}
		fi, err := os.Stat(s.blobPath(d))
		if err == nil {
			st.RemovedBytes += fi.Size()
		}
		if err := s.delete(d); err != nil && !errdefs.IsNotFound(err) {
			return st, fmt.Errorf("gc: %w", err)
		}
		st.Removed = append(st.Removed, d)
		slog.DebugContext(ctx, "content gc: removed blob", "digest", d)
	}
	slog.DebugContext(ctx, "content gc: done", "removed", len(st.Removed), "bytes", st.RemovedBytes, "kept", st.Kept, "expiredLeases", len(st.ExpiredLeases))
	return st, nil
}

// children returns the descriptors blob d refers to, if it is a manifest or
// an index; nil for any other blob, or a missing one.
func (s *LocalStore) children(ctx context.Context, d digest.Digest) ([]ocispec.Descriptor, error) {
	fi, err := os.Stat(s.blobPath(d))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	if fi.Size() > MaxManifestSize || fi.Size() < 2 {
		return nil, nil
	}
	b, err := ReadBlob(ctx, s, ocispec.Descriptor{Digest: d}, MaxManifestSize)
	if err != nil {
		if errdefs.IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	return Children(b), nil
}
