package image

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"time"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth/berth/internal/archive"
	"github.com/berth/berth/internal/content"
	"github.com/berth/berth/internal/snapshot"
)

func (s *Service) addToLease(ctx context.Context, d digest.Digest) error {
	if id, ok := content.LeaseFromContext(ctx); ok {
		if err := s.content.AddLeaseResource(ctx, id, d); err != nil {
			return fmt.Errorf("lease blob %s: %w", d, err)
		}
	}
	return nil
}

// countReader counts the bytes read through it.
type countReader struct {
	r  io.Reader
	n  int64
	fn func(int64)
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.fn != nil && n > 0 {
		c.fn(c.n)
	}
	return n, err
}

// applyLayer unpacks the (compressed or plain) layer read from r into a new
// snapshot on parent and commits it as chainID, once the uncompressed
// stream's digest equals diffID and verified (the blob's own verification)
// returns nil. A chainID committed meanwhile is success. Nothing is left
// behind on failure.
//
// With onto set, the layer is unpacked detached: into a snapshot without
// parent (in overlay form: the snapshotter is a snapshot.Rebaser), which is
// committed onto parent once onto returns nil (the parent is committed),
// so that layers unpack in parallel.
//
// A streamed layer (streamed true: r is fed by a running download) never
// waits for another pull's unpack of the same chain ID: that pull may be
// waiting, through the content store, for the very download that feeds r,
// which cannot progress until r is read. It returns errStreamBroken instead,
// and the caller applies the layer from the store once it is verified.
func (s *Service) applyLayer(ctx context.Context, chainID, parent, diffID digest.Digest, r io.Reader, streamed bool, verified func() error, progress func(int64), onto func() error) error {
	var rb snapshot.Rebaser
	if onto != nil {
		var ok bool
		if rb, ok = s.snap.(snapshot.Rebaser); !ok || parent == "" {
			return fmt.Errorf("unpack layer %s detached: the snapshotter cannot commit it onto %q: %w", diffID, parent, errdefs.ErrNotImplemented)
		}
	}
	var unlock func()
	if streamed {
		var ok bool
		if unlock, ok = s.tryUnpackLock(chainID); !ok {
			return errStreamBroken
		}
	} else {
		unlock = s.unpackLock(chainID)
	}
	defer unlock()
	if info, err := s.snap.Stat(ctx, chainID.String()); err == nil && info.Kind == snapshot.KindCommitted {
		return verified()
	}
	key := "extract-" + randomID() + "-" + chainID.Encoded()
	t0 := time.Now()
	prepareOn := parent.String()
	if rb != nil {
		prepareOn = ""
	}
	mounts, err := s.snap.Prepare(ctx, key, prepareOn, snapshot.Ephemeral())
	if err != nil {
		return fmt.Errorf("prepare snapshot for layer %s: %w", diffID, err)
	}
	committed := false
	defer func() {
		if !committed {
			if err := s.snap.Remove(context.WithoutCancel(ctx), key); err != nil {
				slog.WarnContext(ctx, "remove failed extraction snapshot", "key", key, "err", err)
			}
		}
	}()
	dir, format, err := applyTarget(mounts)
	if err != nil {
		return err
	}
	if rb != nil {
		format = archive.FormatOverlay // an upper layer, even if it is not mounted as one yet
	}
	cr := &countReader{r: r, fn: progress}
	dr, _, err := archive.DecompressStream(cr)
	if err != nil {
		return err
	}
	defer dr.Close()
	h := sha256.New()
	tr := io.TeeReader(dr, h)
	var stats archive.ApplyStats
	if _, err := archive.Apply(ctx, dir, tr, archive.ApplyOptions{Format: format, Stats: &stats}); err != nil {
		return fmt.Errorf("apply layer %s: %w", diffID, err)
	}
	if _, err := io.Copy(io.Discard, io.LimitReader(tr, 1<<20)); err != nil {
		return fmt.Errorf("apply layer %s: %w", diffID, err)
	}
	t1 := time.Now()
	if got := digest.NewDigest(digest.SHA256, h); got != diffID {
		return fmt.Errorf("layer has diff ID %s, the config says %s: %w", got, diffID, errdefs.ErrInvalidArgument)
	}
	if err := verified(); err != nil {
		return err
	}
	t2 := time.Now()
	defer func() {
		slog.DebugContext(ctx, "unpacked layer", "chainID", chainID, "apply", t1.Sub(t0), "waitVerified", t2.Sub(t1), "commit", time.Since(t2))
	}()
	size := snapshot.WithLabels(map[string]string{labelLayerSize: strconv.FormatInt(stats.Size, 10)})
	if rb != nil {
		if err := onto(); err != nil {
			return err
		}
		err = rb.CommitOnto(ctx, chainID.String(), key, parent.String(), size)
	} else {
		err = s.snap.Commit(ctx, chainID.String(), key, size)
	}
	if err != nil {
		if errdefs.IsAlreadyExists(err) {
			return nil
		}
		return fmt.Errorf("commit snapshot %s: %w", chainID, err)
	}
	committed = true
	s.sizeMu.Lock()
	s.sizes[chainID] = stats.Size
	s.sizeMu.Unlock()
	return nil
}

// labelLayerSize is the label of a layer's snapshot that records its
// unpacked size (archive.ApplyStats.Size: docker's figure), in decimal.
const labelLayerSize = "io.berth.layer.size"

// layerSize returns the unpacked size of the layer desc whose chain ID is
// chainID: recorded on its snapshot when it was unpacked, or, for a layer
// unpacked before sizes were recorded, counted from its blob (once per
// process; the figure is the same every time).
func (s *Service) layerSize(ctx context.Context, chainID digest.Digest, desc ocispec.Descriptor) int64 {
	s.sizeMu.Lock()
	n, ok := s.sizes[chainID]
	s.sizeMu.Unlock()
	if ok {
		return n
	}
	if info, err := s.snap.Stat(ctx, chainID.String()); err == nil {
		if v, err := strconv.ParseInt(info.Labels[labelLayerSize], 10, 64); err == nil && v >= 0 {
			n, ok = v, true
		}
	}
	if !ok {
		ra, err := s.content.ReaderAt(ctx, desc)
		if err != nil {
			slog.WarnContext(ctx, "layer size: no snapshot label and no blob", "chainID", chainID, "blob", desc.Digest, "err", err)
			return 0
		}
		n, err = archive.LayerSize(io.NewSectionReader(ra, 0, ra.Size()))
		ra.Close()
		if err != nil {
			slog.WarnContext(ctx, "layer size: read blob", "blob", desc.Digest, "err", err)
			return 0
		}
	}
	s.sizeMu.Lock()
	s.sizes[chainID] = n
	s.sizeMu.Unlock()
	return n
}

// applyFromStore unpacks a committed layer blob.
func (s *Service) applyFromStore(ctx context.Context, desc ocispec.Descriptor, chainID, parent, diffID digest.Digest, progress func(int64)) error {
	ra, err := s.content.ReaderAt(ctx, desc)
	if err != nil {
		return err
	}
	defer ra.Close()
	return s.applyLayer(ctx, chainID, parent, diffID, io.NewSectionReader(ra, 0, ra.Size()), false, func() error { return nil }, progress, nil)
}

// unpackLayers makes sure every layer of an image whose blobs are in the
// store is unpacked (load, import, commit).
func (s *Service) unpackLayers(ctx context.Context, layers []ocispec.Descriptor, diffIDs []digest.Digest) error {
	chain := ChainIDs(diffIDs)
	for i, l := range layers {
		if info, err := s.snap.Stat(ctx, chain[i].String()); err == nil && info.Kind == snapshot.KindCommitted {
			continue
		}
		var parent digest.Digest
		if i > 0 {
			parent = chain[i-1]
		}
		if err := s.applyFromStore(ctx, l, chain[i], parent, diffIDs[i], nil); err != nil {
			return fmt.Errorf("layer %s: %w", l.Digest, err)
		}
	}
	return nil
}
