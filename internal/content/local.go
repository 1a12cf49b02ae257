package content

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	// sha512 must be linked in for go-digest to offer it.
	_ "crypto/sha256"
	_ "crypto/sha512"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// algorithms are the digest algorithms the local store accepts.
var algorithms = []digest.Algorithm{digest.SHA256, digest.SHA512}

// LocalStore is the Store on a local filesystem, laid out as the package
// documentation draws. One LocalStore per root per process: ref locks live
// in memory, and Open cleans ingests it did not start.
type LocalStore struct {
	root string

	mu     sync.Mutex          // guards locked
	locked map[string]struct{} // "ref:"+ref and "digest:"+digest held by open Writers

	gcMu    sync.RWMutex // Commit holds it shared, GC exclusively
	labelMu sync.Mutex   // serialises label read-modify-write
	leaseMu sync.Mutex   // serialises lease read-modify-write
}

// Option configures Open.
type Option func(*options)

type options struct {
	ingestMaxAge time.Duration
}

// WithIngestMaxAge makes Open keep ingests updated less than d ago, so they
// can be resumed; older ones are removed. Without it Open removes every
// ingest, since whatever wrote them is gone.
func WithIngestMaxAge(d time.Duration) Option {
	return func(o *options) { o.ingestMaxAge = d }
}

// Open opens (creating if needed) the local store at root and removes the
// ingests a crashed process left behind (all of them, unless
// WithIngestMaxAge says otherwise) and stray temporary files.
func Open(root string, opts ...Option) (*LocalStore, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if root == "" {
		return nil, fmt.Errorf("open content store: empty root: %w", errdefs.ErrInvalidArgument)
	}
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("open content store %s: %w", root, err)
	}
	for _, d := range []string{"ingest", "leases", filepath.Join("blobs", "sha256"), filepath.Join("blobs", "sha512"), filepath.Join("labels", "sha256"), filepath.Join("labels", "sha512")} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			return nil, fmt.Errorf("open content store: %w", err)
		}
	}
	s := &LocalStore{root: root, locked: map[string]struct{}{}}
	if err := s.cleanIngests(o.ingestMaxAge); err != nil {
		return nil, err
	}
	for _, d := range []string{"leases", filepath.Join("labels", "sha256"), filepath.Join("labels", "sha512")} {
		if err := removeTemps(filepath.Join(root, d)); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Root returns the store's root directory.
func (s *LocalStore) Root() string { return s.root }

func (s *LocalStore) cleanIngests(maxAge time.Duration) error {
	dir := filepath.Join(s.root, "ingest")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("clean ingests: %w", err)
	}
	now := time.Now()
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if maxAge > 0 {
			if fi, err := os.Stat(filepath.Join(p, "data")); err == nil && now.Sub(fi.ModTime()) < maxAge {
				continue
			}
		}
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("clean ingest %s: %w", p, err)
		}
		slog.Debug("content: removed stale ingest", "dir", p)
	}
	return nil
}

func removeTemps(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("clean %s: %w", dir, err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("clean %s: %w", dir, err)
			}
		}
	}
	return nil
}

// checkDigest validates dgst and that its algorithm is one the store keeps.
func checkDigest(dgst digest.Digest) error {
	if err := dgst.Validate(); err != nil {
		return fmt.Errorf("digest %q: %v: %w", dgst, err, errdefs.ErrInvalidArgument)
	}
	for _, a := range algorithms {
		if dgst.Algorithm() == a {
			return nil
		}
	}
	return fmt.Errorf("digest %q: algorithm %s not supported (want sha256 or sha512): %w", dgst, dgst.Algorithm(), errdefs.ErrInvalidArgument)
}

func (s *LocalStore) blobPath(dgst digest.Digest) string {
	return filepath.Join(s.root, "blobs", string(dgst.Algorithm()), dgst.Encoded())
}

func (s *LocalStore) labelPath(dgst digest.Digest) string {
	return filepath.Join(s.root, "labels", string(dgst.Algorithm()), dgst.Encoded())
}

func (s *LocalStore) ingestDir(ref string) string {
	return filepath.Join(s.root, "ingest", digest.FromString(ref).Encoded())
}

// labelFile is the JSON kept in labels/<alg>/<hex>.
type labelFile struct {
	Labels    map[string]string `json:"labels"`
	UpdatedAt time.Time         `json:"updatedAt"`
}

// Info implements InfoProvider.
func (s *LocalStore) Info(ctx context.Context, dgst digest.Digest) (Info, error) {
	if err := checkDigest(dgst); err != nil {
		return Info{}, fmt.Errorf("info: %w", err)
	}
	return s.info(dgst)
}

func (s *LocalStore) info(dgst digest.Digest) (Info, error) {
	fi, err := os.Stat(s.blobPath(dgst))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Info{}, fmt.Errorf("blob %s: %w", dgst, errdefs.ErrNotFound)
		}
		return Info{}, fmt.Errorf("blob %s: %w", dgst, err)
	}
	info := Info{Digest: dgst, Size: fi.Size(), CreatedAt: fi.ModTime(), UpdatedAt: fi.ModTime()}
	lf, err := s.readLabels(dgst)
	if err != nil {
		return Info{}, err
	}
	if lf != nil {
		info.Labels = lf.Labels
		info.UpdatedAt = lf.UpdatedAt
	}
	return info, nil
}

func (s *LocalStore) readLabels(dgst digest.Digest) (*labelFile, error) {
	b, err := os.ReadFile(s.labelPath(dgst))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("labels of %s: %w", dgst, err)
	}
	var lf labelFile
	if err := json.Unmarshal(b, &lf); err != nil {
		return nil, fmt.Errorf("labels of %s: %s: %w", dgst, s.labelPath(dgst), err)
	}
	return &lf, nil
}

func (s *LocalStore) writeLabels(dgst digest.Digest, labels map[string]string, now time.Time) error {
	p := s.labelPath(dgst)
	if len(labels) == 0 {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("labels of %s: %w", dgst, err)
		}
		return nil
	}
	b, err := json.Marshal(labelFile{Labels: labels, UpdatedAt: now})
	if err != nil {
		return fmt.Errorf("labels of %s: %w", dgst, err)
	}
	return writeFileAtomic(p, b)
}

// writeFileRename writes b to p through p.tmp and a rename, without fsync:
// a process crash leaves the old file or the new one, never a torn one. It
// is for files that matter only while the process runs or that are
// rebuilt or discarded after a power loss (ingest metadata, leases).
func writeFileRename(p string, b []byte) error {
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", p, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", p, err)
	}
	return nil
}

// writeFileAtomic writes b to p through p.tmp, fsync and rename.
func writeFileAtomic(p string, b []byte) error {
	tmp := p + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", p, err)
	}
	return syncDir(filepath.Dir(p))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

type fileReaderAt struct {
	*os.File
	size int64
}

func (r fileReaderAt) Size() int64 { return r.size }

// ReaderAt implements Provider.
func (s *LocalStore) ReaderAt(ctx context.Context, desc ocispec.Descriptor) (ReaderAt, error) {
	if err := checkDigest(desc.Digest); err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	f, err := os.Open(s.blobPath(desc.Digest))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("blob %s: %w", desc.Digest, errdefs.ErrNotFound)
		}
		return nil, fmt.Errorf("blob %s: %w", desc.Digest, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("blob %s: %w", desc.Digest, err)
	}
	if desc.Size != 0 && desc.Size != fi.Size() {
		f.Close()
		return nil, fmt.Errorf("blob %s: size is %d, descriptor says %d: %w", desc.Digest, fi.Size(), desc.Size, errdefs.ErrFailedPrecondition)
	}
	return fileReaderAt{File: f, size: fi.Size()}, nil
}

// Walk implements Manager. Blobs are visited sorted by digest.
func (s *LocalStore) Walk(ctx context.Context, fn WalkFunc, filters ...string) error {
	match, err := MatchAny(filters...)
	if err != nil {
		return fmt.Errorf("walk: %w", err)
	}
	dgsts, err := s.list()
	if err != nil {
		return err
	}
	for _, dgst := range dgsts {
		if err := ctx.Err(); err != nil {
			return err
		}
		info, err := s.info(dgst)
		if errdefs.IsNotFound(err) {
			continue // deleted meanwhile
		}
		if err != nil {
			return err
		}
		if !match(info) {
			continue
		}
		if err := fn(info); err != nil {
			return err
		}
	}
	return nil
}

// list returns the digests of all committed blobs, sorted.
func (s *LocalStore) list() ([]digest.Digest, error) {
	var out []digest.Digest
	for _, a := range algorithms {
		dir := filepath.Join(s.root, "blobs", string(a))
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("list blobs: %w", err)
		}
		for _, e := range entries {
			dgst := digest.NewDigestFromEncoded(a, e.Name())
			if !e.Type().IsRegular() || dgst.Validate() != nil {
				continue
			}
			out = append(out, dgst)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

// Delete implements Manager.
func (s *LocalStore) Delete(ctx context.Context, dgst digest.Digest) error {
	if err := checkDigest(dgst); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	return s.delete(dgst)
}

func (s *LocalStore) delete(dgst digest.Digest) error {
	if err := os.Remove(s.blobPath(dgst)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("delete blob %s: %w", dgst, errdefs.ErrNotFound)
		}
		return fmt.Errorf("delete blob %s: %w", dgst, err)
	}
	if err := os.Remove(s.labelPath(dgst)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete labels of %s: %w", dgst, err)
	}
	return nil
}

// Update implements Manager.
func (s *LocalStore) Update(ctx context.Context, info Info, fieldpaths ...string) (Info, error) {
	if err := checkDigest(info.Digest); err != nil {
		return Info{}, fmt.Errorf("update: %w", err)
	}
	s.labelMu.Lock()
	defer s.labelMu.Unlock()
	cur, err := s.info(info.Digest)
	if err != nil {
		return Info{}, fmt.Errorf("update: %w", err)
	}
	labels := map[string]string{}
	if len(fieldpaths) == 0 {
		fieldpaths = []string{"labels"}
	}
	for k, v := range cur.Labels {
		labels[k] = v
	}
	for _, fp := range fieldpaths {
		switch {
		case fp == "labels":
			labels = map[string]string{}
			for k, v := range info.Labels {
				labels[k] = v
			}
		case strings.HasPrefix(fp, "labels.") && len(fp) > len("labels."):
			key := strings.TrimPrefix(fp, "labels.")
			if v, ok := info.Labels[key]; ok {
				labels[key] = v
			} else {
				delete(labels, key)
			}
		default:
			return Info{}, fmt.Errorf("update blob %s: field %q cannot be updated (want labels or labels.KEY): %w", info.Digest, fp, errdefs.ErrInvalidArgument)
		}
	}
	if err := s.writeLabels(info.Digest, labels, time.Now()); err != nil {
		return Info{}, fmt.Errorf("update: %w", err)
	}
	return s.info(info.Digest)
}

// lock takes all keys or none; false if any is held.
func (s *LocalStore) lock(keys ...string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range keys {
		if _, ok := s.locked[k]; ok {
			return false
		}
	}
	for _, k := range keys {
		s.locked[k] = struct{}{}
	}
	return true
}

func (s *LocalStore) unlock(keys ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range keys {
		delete(s.locked, k)
	}
}
