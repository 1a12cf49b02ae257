package image

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth/berth/internal/content"
	"github.com/berth/berth/internal/metadata"
	"github.com/berth/berth/internal/snapshot"
)

// PullOptions tune Pull.
type PullOptions struct {
	// Platform is "os/arch[/variant]"; the service's platform when empty.
	Platform string
	// Auth are the credentials to use; nil means the config.json keychain.
	Auth *AuthConfig
	// Progress, when set, receives docker-style progress events. It is
	// called from one goroutine at a time.
	Progress func(ProgressEvent)
}

var manifestAccept = strings.Join([]string{
	ocispec.MediaTypeImageManifest, content.MediaTypeDockerManifest,
	ocispec.MediaTypeImageIndex, content.MediaTypeDockerManifestList,
}, ", ")

func randomID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Pull fetches ref (docker's forms: "busybox", "host:port/repo:tag",
// "repo@sha256:...") from its registry, unpacks its layers, records it and
// returns it. An index or manifest list gives the manifest of the
// requested platform.
func (s *Service) Pull(ctx context.Context, ref string, opts PullOptions) (Image, error) {
	img, err := s.pull(ctx, ref, opts)
	if err != nil {
		return Image{}, fmt.Errorf("pull %s: %w", ref, err)
	}
	return img, nil
}

func (s *Service) pull(ctx context.Context, ref string, opts PullOptions) (Image, error) {
	platform := s.platform
	if opts.Platform != "" {
		p, err := content.ParsePlatform(opts.Platform)
		if err != nil {
			return Image{}, err
		}
		platform = p
	}
	r, err := s.parseRemote(ref)
	if err != nil {
		return Image{}, err
	}
	pr := newProgress(opts.Progress)
	pr.send(r.Identifier(), "Pulling from "+familiarRepo(r.Context()))
	t0 := time.Now()
	rr, err := s.openRemote(ctx, r, opts.Auth, transport.PullScope)
	if err != nil {
		return Image{}, err
	}

	// Keep GC from taking the snapshots this pull commits before its
	// record exists, and the blobs (by a lease).
	s.gcMu.RLock()
	defer s.gcMu.RUnlock()
	leaseID := "pull-" + randomID()
	if _, err := s.content.CreateLease(ctx, leaseID, time.Hour); err != nil {
		return Image{}, err
	}
	defer s.content.DeleteLease(context.WithoutCancel(ctx), leaseID)
	lctx := content.WithLease(ctx, leaseID)

	// Manifests and the config are written to the store (synced) while
	// the layers download; the record waits for them.
	var bg blobWrites
	defer bg.wait()
	top, err := rr.fetchManifest(lctx, s, r.Identifier(), &bg)
	if err != nil {
		return Image{}, err
	}
	mdesc := top.desc
	mbytes := top.data
	if content.IsIndexType(top.desc.MediaType) {
		idx, err := content.ParseIndex(top.data)
		if err != nil {
			return Image{}, err
		}
		sel, err := content.SelectManifest(idx, platform)
		if err != nil {
			return Image{}, err
		}
		m, err := rr.fetchManifest(lctx, s, sel.Digest.String(), &bg)
		if err != nil {
			return Image{}, err
		}
		if m.desc.Digest != sel.Digest || !content.IsManifestType(m.desc.MediaType) {
			return Image{}, fmt.Errorf("manifest %s of index %s: got %s %s: %w", sel.Digest, top.desc.Digest, m.desc.MediaType, m.desc.Digest, errdefs.ErrInvalidArgument)
		}
		mdesc, mbytes = m.desc, m.data
	}
	manifest, err := content.ParseManifest(mbytes)
	if err != nil {
		return Image{}, err
	}
	cfgBytes, err := rr.fetchSmallBlob(lctx, s, manifest.Config, "config", &bg)
	if err != nil {
		return Image{}, err
	}
	cfg, err := content.ParseConfig(cfgBytes)
	if err != nil {
		return Image{}, err
	}
	if opts.Platform != "" && !content.IsIndexType(top.desc.MediaType) &&
		!content.MatchPlatform(platform, ocispec.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}) {
		return Image{}, fmt.Errorf("image is %s/%s, not the requested platform %s: %w", cfg.OS, cfg.Architecture, content.FormatPlatform(platform), errdefs.ErrNotFound)
	}
	if err := checkLayers(manifest, cfg); err != nil {
		return Image{}, err
	}

	slog.DebugContext(ctx, "pull: manifest and config", "ref", ref, "t", time.Since(t0))
	if err := s.fetchAndUnpack(lctx, rr, manifest.Layers, cfg.RootFS.DiffIDs, pr, opts.Progress != nil); err != nil {
		return Image{}, err
	}
	slog.DebugContext(ctx, "pull: layers", "ref", ref, "t", time.Since(t0))
	if err := bg.wait(); err != nil {
		return Image{}, err
	}

	names := []string{}
	if _, ok := r.(name.Tag); ok {
		names = append(names, r.Name())
	}
	names = append(names, r.Context().Name()+"@"+top.desc.Digest.String())
	updated, err := s.setNames(ctx, names, mdesc)
	slog.DebugContext(ctx, "pull: recorded", "ref", ref, "t", time.Since(t0))
	if err != nil {
		return Image{}, err
	}
	pr.send("", "Digest: "+top.desc.Digest.String())
	if updated {
		pr.send("", "Status: Downloaded newer image for "+metadata.FamiliarName(names[0]))
	} else {
		pr.send("", "Status: Image is up to date for "+metadata.FamiliarName(names[0]))
	}
	return s.Get(ctx, names[0])
}

func familiarRepo(r name.Repository) string {
	if r.RegistryStr() == name.DefaultRegistry {
		return r.RepositoryStr()
	}
	return r.Name()
}

// checkLayers checks that the manifest's layers are ones we can unpack and
// match the config's diff IDs.
func checkLayers(m ocispec.Manifest, cfg ocispec.Image) error {
	if len(m.Layers) != len(cfg.RootFS.DiffIDs) {
		return fmt.Errorf("manifest has %d layers but config has %d diff_ids: %w", len(m.Layers), len(cfg.RootFS.DiffIDs), errdefs.ErrInvalidArgument)
	}
	for i, l := range m.Layers {
		if !isLayerType(l.MediaType) {
			return fmt.Errorf("layer %d (%s): media type %q is not a layer this service unpacks: %w", i, l.Digest, l.MediaType, errdefs.ErrNotImplemented)
		}
		if err := cfg.RootFS.DiffIDs[i].Validate(); err != nil {
			return fmt.Errorf("config rootfs.diff_ids[%d] %q: %v: %w", i, cfg.RootFS.DiffIDs[i], err, errdefs.ErrInvalidArgument)
		}
	}
	return nil
}

// mediaTypeDockerLayerPlain is the uncompressed Docker layer type some
// tools write (containerd, buildah).
const mediaTypeDockerLayerPlain = "application/vnd.docker.image.rootfs.diff.tar"

func isLayerType(mt string) bool {
	switch mt {
	case ocispec.MediaTypeImageLayer, ocispec.MediaTypeImageLayerGzip, ocispec.MediaTypeImageLayerZstd,
		ocispec.MediaTypeImageLayerNonDistributable, ocispec.MediaTypeImageLayerNonDistributableGzip, //nolint:staticcheck // still found in old images
		ocispec.MediaTypeImageLayerNonDistributableZstd, //nolint:staticcheck
		content.MediaTypeDockerLayer, content.MediaTypeDockerForeignLayer, mediaTypeDockerLayerPlain:
		return true
	}
	return false
}

type fetched struct {
	desc ocispec.Descriptor
	data []byte
}

// blobWrites are small blobs being written to the content store in the
// background.
type blobWrites struct {
	wg   sync.WaitGroup
	mu   sync.Mutex
	errs []error
}

// store writes b as desc in the background; a nil bw stores nothing.
func (bw *blobWrites) store(ctx context.Context, s *Service, desc ocispec.Descriptor, b []byte) {
	if bw == nil {
		return
	}
	bw.wg.Add(1)
	go func() {
		defer bw.wg.Done()
		if err := content.WriteBlob(ctx, s.content, "pull-"+desc.Digest.String(), bytes.NewReader(b), desc); err != nil {
			bw.mu.Lock()
			bw.errs = append(bw.errs, fmt.Errorf("store %s: %w", desc.Digest, err))
			bw.mu.Unlock()
		}
	}()
}

// wait waits for every write and returns the first error.
func (bw *blobWrites) wait() error {
	bw.wg.Wait()
	bw.mu.Lock()
	defer bw.mu.Unlock()
	if len(bw.errs) > 0 {
		return bw.errs[0]
	}
	return nil
}

// fetchManifest gets a manifest or index by tag or digest, bounded by
// content.MaxManifestSize, checks its digest and stores it (in the
// background, through bw).
func (r *remoteRepo) fetchManifest(ctx context.Context, s *Service, ref string, bw *blobWrites) (fetched, error) {
	var out fetched
	err := retry(ctx, func() error {
		resp, err := r.do(ctx, http.MethodGet, r.base+"/manifests/"+ref, http.Header{"Accept": {manifestAccept}}, nil, 0, http.StatusOK)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.ContentLength > content.MaxManifestSize {
			return fmt.Errorf("%d bytes exceed the limit of %d: %w", resp.ContentLength, content.MaxManifestSize, errdefs.ErrInvalidArgument)
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, content.MaxManifestSize+1))
		if err != nil {
			return err
		}
		if len(b) > content.MaxManifestSize {
			return fmt.Errorf("more than the limit of %d bytes: %w", content.MaxManifestSize, errdefs.ErrInvalidArgument)
		}
		mt := manifestMediaType(resp.Header.Get("Content-Type"), b)
		out = fetched{desc: ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(b), Size: int64(len(b))}, data: b}
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("manifest %s: %w", ref, classify(err))
	}
	if d, err := digest.Parse(ref); err == nil && d != out.desc.Digest {
		if d.Algorithm() != digest.SHA256 {
			if d.Algorithm().Available() && d.Algorithm().FromBytes(out.data) == d {
				out.desc.Digest = d
			}
		}
		if out.desc.Digest != d {
			return out, fmt.Errorf("manifest %s: content has digest %s: %w", ref, out.desc.Digest, errdefs.ErrInvalidArgument)
		}
	}
	if !content.IsManifestType(out.desc.MediaType) && !content.IsIndexType(out.desc.MediaType) {
		return out, fmt.Errorf("manifest %s: unsupported media type %q (schema 1 and artifacts are not images): %w", ref, out.desc.MediaType, errdefs.ErrNotImplemented)
	}
	bw.store(ctx, s, out.desc, out.data)
	return out, nil
}

// manifestMediaType takes the media type from the body's mediaType field,
// else from the Content-Type header, else guesses from the shape.
func manifestMediaType(header string, b []byte) string {
	var probe struct {
		MediaType string            `json:"mediaType"`
		Manifests []json.RawMessage `json:"manifests"`
		Config    json.RawMessage   `json:"config"`
	}
	_ = json.Unmarshal(b, &probe)
	if probe.MediaType != "" {
		return probe.MediaType
	}
	if mt, _, _ := strings.Cut(header, ";"); content.IsManifestType(strings.TrimSpace(mt)) || content.IsIndexType(strings.TrimSpace(mt)) {
		return strings.TrimSpace(mt)
	}
	if probe.Manifests != nil {
		return ocispec.MediaTypeImageIndex
	}
	if probe.Config != nil {
		return ocispec.MediaTypeImageManifest
	}
	return strings.TrimSpace(header)
}

// fetchSmallBlob gets a config (bounded by content.MaxManifestSize) from the
// store, or else from the registry into memory, verified, and stores it (in
// the background, through bw). It returns its bytes.
func (r *remoteRepo) fetchSmallBlob(ctx context.Context, s *Service, desc ocispec.Descriptor, what string, bw *blobWrites) ([]byte, error) {
	if desc.Size > content.MaxManifestSize {
		return nil, fmt.Errorf("%s %s: size %d exceeds the limit of %d: %w", what, desc.Digest, desc.Size, content.MaxManifestSize, errdefs.ErrInvalidArgument)
	}
	if err := desc.Digest.Validate(); err != nil {
		return nil, fmt.Errorf("%s digest %q: %v: %w", what, desc.Digest, err, errdefs.ErrInvalidArgument)
	}
	if b, err := content.ReadBlob(ctx, s.content, desc, content.MaxManifestSize); err == nil {
		if err := s.addToLease(ctx, desc.Digest); err != nil {
			return nil, err
		}
		return b, nil
	}
	var b []byte
	err := retry(ctx, func() error {
		resp, err := r.do(ctx, http.MethodGet, r.base+"/blobs/"+desc.Digest.String(), nil, nil, 0, http.StatusOK)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.ContentLength > desc.Size {
			return fmt.Errorf("registry sends %d bytes, more than the %d the manifest declares: %w", resp.ContentLength, desc.Size, errdefs.ErrInvalidArgument)
		}
		b, err = io.ReadAll(io.LimitReader(resp.Body, desc.Size+1))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, desc.Digest, classify(err))
	}
	if int64(len(b)) != desc.Size {
		return nil, fmt.Errorf("%s %s: got %d bytes, the manifest declares %d: %w", what, desc.Digest, len(b), desc.Size, errdefs.ErrInvalidArgument)
	}
	if got := desc.Digest.Algorithm().FromBytes(b); got != desc.Digest {
		return nil, fmt.Errorf("%s %s: content has digest %s: %w", what, desc.Digest, got, errdefs.ErrInvalidArgument)
	}
	bw.store(ctx, s, desc, b)
	return b, nil
}

// errStreamBroken closes a layer's stream to the unpacker when the
// download had to start over: the unpacker then reads the blob from the
// store.
var errStreamBroken = errors.New("layer stream restarted")

// fetchBlob downloads desc into the content store (verified), resuming a
// previous ingest and retrying transient errors with Range requests. Every
// byte appended to the ingest is also written to tee (if not nil) until a
// write to it fails. progress, if set, is called with the bytes so far.
// verified, if set, is called once every byte is in and the digest and
// size match, before the blob is synced and made visible: the unpacker may
// commit its snapshot from then on, and another download may start. It is
// given a reader of the verified bytes (nil if the store cannot give one),
// which it must close.
func (r *remoteRepo) fetchBlob(ctx context.Context, s *Service, desc ocispec.Descriptor, tee io.Writer, teeBroken func(error), progress func(int64), verified func(content.ReaderAt)) error {
	ref := "pull-" + desc.Digest.String()
	w, err := content.OpenWriter(ctx, s.content, ref, desc.Size, desc.Digest)
	if err != nil {
		if errdefs.IsAlreadyExists(err) {
			if teeBroken != nil {
				teeBroken(errStreamBroken)
			}
			return s.addToLease(ctx, desc.Digest)
		}
		return fmt.Errorf("blob %s: %w", desc.Digest, err)
	}
	defer w.Close()
	st, err := w.Status()
	if err != nil {
		return err
	}
	offset := st.Offset
	if offset > desc.Size {
		if err := w.Truncate(0); err != nil {
			return err
		}
		offset = 0
	}
	if offset > 0 && teeBroken != nil {
		teeBroken(errStreamBroken)
		teeBroken, tee = nil, nil
	}
	sent := offset // bytes given to tee
	buf := make([]byte, 256<<10)
	err = retry(ctx, func() error {
		if offset == desc.Size && desc.Size > 0 {
			return nil
		}
		hdr := http.Header{}
		if offset > 0 {
			hdr.Set("Range", fmt.Sprintf("bytes=%d-", offset))
		}
		resp, err := r.do(ctx, http.MethodGet, r.base+"/blobs/"+desc.Digest.String(), hdr, nil, 0, http.StatusOK, http.StatusPartialContent)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if offset > 0 && resp.StatusCode != http.StatusPartialContent {
			// The registry ignored the Range: start over.
			if err := w.Truncate(0); err != nil {
				return err
			}
			offset = 0
			if teeBroken != nil && sent > 0 {
				teeBroken(errStreamBroken)
				teeBroken, tee = nil, nil
			}
		}
		if resp.ContentLength >= 0 && offset+resp.ContentLength > desc.Size {
			return fmt.Errorf("blob %s: registry sends %d bytes, more than the %d the manifest declares: %w", desc.Digest, offset+resp.ContentLength, desc.Size, errdefs.ErrInvalidArgument)
		}
		for {
			n, rerr := resp.Body.Read(buf)
			if n > 0 {
				if offset+int64(n) > desc.Size {
					return fmt.Errorf("blob %s: longer than the %d bytes the manifest declares: %w", desc.Digest, desc.Size, errdefs.ErrInvalidArgument)
				}
				if _, err := w.Write(buf[:n]); err != nil {
					return fmt.Errorf("blob %s: %w", desc.Digest, err)
				}
				offset += int64(n)
				if tee != nil && offset > sent {
					if _, err := tee.Write(buf[:n]); err != nil {
						tee, teeBroken = nil, nil
					}
					sent = offset
				}
				if progress != nil {
					progress(offset)
				}
			}
			if errors.Is(rerr, io.EOF) {
				if offset < desc.Size {
					return fmt.Errorf("blob %s: ended after %d of %d bytes: %w", desc.Digest, offset, desc.Size, io.ErrUnexpectedEOF)
				}
				return nil
			}
			if rerr != nil {
				return rerr
			}
		}
	})
	if err != nil {
		if teeBroken != nil {
			teeBroken(err)
		}
		if errdefs.IsInvalidArgument(err) {
			w.Close()
			_ = s.content.Abort(context.WithoutCancel(ctx), ref)
		}
		return fmt.Errorf("blob %s: %w", desc.Digest, classify(err))
	}
	if offset == desc.Size && w.Digest() == desc.Digest {
		if teeBroken != nil {
			teeBroken(nil)
			teeBroken = nil
		}
		if verified != nil {
			var ra content.ReaderAt
			if ir, ok := w.(content.IngestReader); ok {
				if ra, err = ir.ReaderAt(); err != nil {
					ra = nil
				}
			}
			verified(ra)
		}
	}
	if err := w.Commit(ctx, desc.Size, desc.Digest); err != nil && !errdefs.IsAlreadyExists(err) {
		if teeBroken != nil {
			teeBroken(err)
		}
		w.Close()
		_ = s.content.Abort(context.WithoutCancel(ctx), ref)
		return fmt.Errorf("blob %s: %w", desc.Digest, err)
	}
	if teeBroken != nil {
		teeBroken(nil)
	}
	return nil
}

// layerJob is one layer of a pull, shared by its downloader and the
// unpacker.
type layerJob struct {
	i       int
	desc    ocispec.Descriptor
	diffID  digest.Digest
	chainID digest.Digest
	parent  digest.Digest
	id      string

	download bool // blob missing from the store
	unpack   bool // snapshot missing

	started    bool           // guarded by layerSet.mu
	wantStream bool           // guarded by layerSet.mu: its unpack waits for the download
	stream     *io.PipeReader // set by the downloader if the unpack waited for it
	// ok is closed when the blob's bytes are in and verified, before they
	// are synced, with data a reader of them (or nil); done when the
	// download has ended, with err.
	ok   chan struct{}
	data content.ReaderAt
	done chan struct{}
	err  error

	// committed is closed when the layer's snapshot exists (or its unpack
	// failed, with uerr).
	committed chan struct{}
	uerr      error
}

// okData returns the verified bytes the download handed over, or nil if
// it has not (yet) verified them or the store gave no reader.
func (j *layerJob) okData() content.ReaderAt {
	select {
	case <-j.ok:
		return j.data
	default:
		return nil
	}
}

type layerSet struct {
	mu   sync.Mutex
	cond *sync.Cond
}

func (s *Service) fetchAndUnpack(ctx context.Context, rr *remoteRepo, layers []ocispec.Descriptor, diffIDs []digest.Digest, pr *progress, verbose bool) error {
	chain := ChainIDs(diffIDs)
	jobs := make([]*layerJob, len(layers))
	for i, l := range layers {
		j := &layerJob{i: i, desc: l, diffID: diffIDs[i], chainID: chain[i], id: shortID(l.Digest),
			ok: make(chan struct{}), done: make(chan struct{}), committed: make(chan struct{})}
		if i > 0 {
			j.parent = chain[i-1]
		}
		if _, err := s.content.Info(ctx, l.Digest); err != nil {
			j.download = true
		} else if err := s.addToLease(ctx, l.Digest); err != nil {
			return err
		}
		if info, err := s.snap.Stat(ctx, j.chainID.String()); err != nil || info.Kind != snapshot.KindCommitted {
			j.unpack = true
		}
		jobs[i] = j
	}
	// Layers below a missing snapshot must exist as snapshots too; a
	// present snapshot above a missing one cannot happen (chain IDs
	// include the parents), so only the skipped ones are reported.
	for _, j := range jobs {
		if !j.download && !j.unpack {
			pr.send(j.id, "Already exists")
		} else {
			pr.send(j.id, "Pulling fs layer")
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// A layer's download streams to its unpack when the unpack waits for
	// it; the first layer unpacked always does, even if its download
	// starts first.
	ls := &layerSet{}
	for _, j := range jobs {
		if j.unpack {
			j.wantStream = true
			break
		}
	}
	ls.cond = sync.NewCond(&ls.mu)
	// Downloads start in layer order (the unpacker needs them in that
	// order), at most MaxConcurrentDownloads at a time. A job's done is
	// closed as soon as its blob is committed.
	sem := make(chan struct{}, s.reg.MaxConcurrentDownloads)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for _, j := range jobs {
			if !j.download {
				ls.mu.Lock()
				j.started = true
				ls.cond.Broadcast()
				ls.mu.Unlock()
				close(j.done)
				continue
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
			}
			if ctx.Err() != nil {
				ls.mu.Lock()
				j.started = true
				j.err = ctx.Err()
				ls.cond.Broadcast()
				ls.mu.Unlock()
				close(j.done)
				continue
			}
			var pw *io.PipeWriter
			ls.mu.Lock()
			if j.wantStream && j.unpack {
				var prd *io.PipeReader
				prd, pw = io.Pipe()
				j.stream = prd
			}
			j.started = true
			ls.cond.Broadcast()
			ls.mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				var tee io.Writer
				var broken func(error)
				if pw != nil {
					tee = pw
					broken = func(err error) { pw.CloseWithError(err) }
				}
				// The slot is free once the bytes are in: syncing the
				// blob need not hold back the next download.
				var release sync.Once
				free := func() { release.Do(func() { <-sem }) }
				err := rr.fetchBlob(ctx, s, j.desc, tee, broken, func(n int64) { pr.bytes(j.id, "Downloading", n, j.desc.Size) },
					func(ra content.ReaderAt) { free(); j.data = ra; close(j.ok) })
				free()
				if err != nil {
					j.err = err
					close(j.done)
					cancel()
					return
				}
				pr.send(j.id, "Verifying Checksum")
				pr.send(j.id, "Download complete")
				close(j.done)
			}()
		}
	}()
	err := s.unpackAll(ctx, cancel, jobs, ls, pr)
	if err != nil {
		cancel()
	}
	wg.Wait()
	for _, j := range jobs {
		if j.data != nil {
			j.data.Close()
		}
	}
	errs := []error{}
	for _, j := range jobs {
		errs = append(errs, j.err)
	}
	if cause := firstCause(errs); cause != nil && (err == nil || errors.Is(err, context.Canceled)) {
		return cause
	}
	return err
}

// firstCause returns the first error that is not a cancellation caused by
// another one failing, else the first error.
func firstCause(errs []error) error {
	var first error
	for _, err := range errs {
		if err == nil {
			continue
		}
		if !errors.Is(err, context.Canceled) {
			return err
		}
		if first == nil {
			first = err
		}
	}
	return first
}

// unpackParallel bounds the layers a pull unpacks at once when the
// snapshotter is a Rebaser.
const unpackParallel = 3

// unpackAll unpacks the layers that need it, each in a task of its own,
// started in layer order. With a snapshotter.Rebaser (overlay) up to
// unpackParallel tasks run at once: a layer whose parent is not committed
// yet is unpacked into a snapshot without parent and committed onto its
// parent once that is. Otherwise they run one after the other, each on its
// committed parent.
func (s *Service) unpackAll(ctx context.Context, cancel func(), jobs []*layerJob, ls *layerSet, pr *progress) error {
	_, rebase := s.snap.(snapshot.Rebaser)
	slots := make(chan struct{}, 1)
	if rebase {
		slots = make(chan struct{}, unpackParallel)
	}
	var wg sync.WaitGroup
	var prev *layerJob
	for _, j := range jobs {
		parent := prev
		prev = j
		if !j.unpack {
			// Its snapshot exists; the download, if any, must succeed.
			close(j.committed)
			if j.download {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-j.done
					if j.err == nil {
						pr.send(j.id, "Pull complete")
					}
				}()
			}
			continue
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if err := ctx.Err(); err != nil {
			j.uerr = err
			close(j.committed)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.unpackJob(ctx, j, parent, ls, pr, rebase)
			<-slots
			if err != nil {
				j.uerr = fmt.Errorf("layer %s: %w", j.desc.Digest, err)
				cancel()
			}
			close(j.committed)
		}()
	}
	wg.Wait()
	var errs []error
	for _, j := range jobs {
		errs = append(errs, j.uerr)
	}
	return firstCause(errs)
}

// closed reports whether ch is closed.
func closed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// unpackJob unpacks one layer: from its download as it streams when the
// download had not started, else from the verified bytes of its ingest or
// from the store; detached from its parent (rebase) when that is not
// committed yet.
func (s *Service) unpackJob(ctx context.Context, j, parent *layerJob, ls *layerSet, pr *progress, rebase bool) error {
	parentReady := func() error {
		if parent == nil {
			return nil
		}
		select {
		case <-parent.committed:
		case <-ctx.Done():
			return ctx.Err()
		}
		return parent.uerr
	}
	var onto func() error
	if rebase && parent != nil && !closed(parent.committed) {
		onto = parentReady
	} else if err := parentReady(); err != nil {
		return err
	}
	ls.mu.Lock()
	j.wantStream = true
	for !j.started {
		ls.cond.Wait()
	}
	stream := j.stream
	ls.mu.Unlock()
	verified := func() error {
		select {
		case <-j.ok:
			return nil
		case <-j.done:
		case <-ctx.Done():
			<-j.done
		}
		return j.err
	}
	extracting := func(n int64) { pr.bytes(j.id, "Extracting", n, j.desc.Size) }
	if stream != nil {
		err := s.applyLayer(ctx, j.chainID, j.parent, j.diffID, stream, true, verified, extracting, onto)
		stream.CloseWithError(errStreamBroken)
		if err == nil {
			pr.send(j.id, "Pull complete")
			return nil
		}
		// The stream broke or the layer was refused: apply it again from
		// its verified bytes (a refused layer is refused again, with the
		// same error).
	}
	// From the verified bytes of the ingest, while the blob is being
	// synced, or else from the store once it is committed.
	select {
	case <-j.ok:
	case <-j.done:
	case <-ctx.Done():
		<-j.done
	}
	if data := j.okData(); data != nil {
		if err := s.applyLayer(ctx, j.chainID, j.parent, j.diffID, io.NewSectionReader(data, 0, data.Size()), false, func() error { return nil }, extracting, onto); err != nil {
			return err
		}
		pr.send(j.id, "Pull complete")
		return nil
	}
	<-j.done
	if j.err != nil {
		return j.err
	}
	ra, err := s.content.ReaderAt(ctx, j.desc)
	if err != nil {
		return err
	}
	defer ra.Close()
	if err := s.applyLayer(ctx, j.chainID, j.parent, j.diffID, io.NewSectionReader(ra, 0, ra.Size()), false, func() error { return nil }, extracting, onto); err != nil {
		return err
	}
	pr.send(j.id, "Pull complete")
	return nil
}
