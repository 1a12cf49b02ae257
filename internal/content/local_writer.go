package content

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
)

// ingestMeta is the JSON kept in ingest/<id>/meta.
type ingestMeta struct {
	Ref       string        `json:"ref"`
	Total     int64         `json:"total,omitempty"`
	Expected  digest.Digest `json:"expected,omitempty"`
	StartedAt time.Time     `json:"startedAt"`
}

// Writer implements Ingester; see Ingester for the lifecycle.
func (s *LocalStore) Writer(ctx context.Context, ref string, expectedSize int64, expected digest.Digest) (Writer, error) {
	if ref == "" {
		return nil, fmt.Errorf("writer: empty ref: %w", errdefs.ErrInvalidArgument)
	}
	if expectedSize < 0 {
		return nil, fmt.Errorf("writer %q: negative expected size %d: %w", ref, expectedSize, errdefs.ErrInvalidArgument)
	}
	keys := []string{"ref:" + ref}
	if expected != "" {
		if err := checkDigest(expected); err != nil {
			return nil, fmt.Errorf("writer %q: expected %w", ref, err)
		}
		if err := s.existing(ctx, expected); err != nil {
			return nil, fmt.Errorf("writer %q: %w", ref, err)
		}
		keys = append(keys, "digest:"+expected.String())
	}
	if !s.lock(keys...) {
		return nil, fmt.Errorf("writer %q (digest %q): locked by another writer: %w", ref, expected, errdefs.ErrUnavailable)
	}
	w, err := s.openWriter(ctx, ref, expectedSize, expected)
	if err != nil {
		s.unlock(keys...)
		return nil, err
	}
	w.locks = keys
	return w, nil
}

// existing returns errdefs.ErrAlreadyExists if dgst is committed, and then
// adds it to the lease in ctx so that it stays until the caller records it.
func (s *LocalStore) existing(ctx context.Context, dgst digest.Digest) error {
	s.gcMu.RLock() // no GC between seeing the blob and leasing it
	defer s.gcMu.RUnlock()
	if _, err := os.Stat(s.blobPath(dgst)); err != nil {
		return nil
	}
	if id, ok := LeaseFromContext(ctx); ok {
		if err := s.AddLeaseResource(ctx, id, dgst); err != nil {
			return err
		}
	}
	return fmt.Errorf("blob %s: %w", dgst, errdefs.ErrAlreadyExists)
}

func (s *LocalStore) openWriter(ctx context.Context, ref string, total int64, expected digest.Digest) (*localWriter, error) {
	// Checked again under the lock: a writer that held it may have committed.
	if expected != "" {
		if err := s.existing(ctx, expected); err != nil {
			return nil, fmt.Errorf("writer %q: %w", ref, err)
		}
	}
	dir := s.ingestDir(ref)
	meta, err := readIngestMeta(dir)
	if errors.Is(err, errBadIngestMeta) {
		// Torn by a power loss (meta is not fsynced): start over.
		if err := os.RemoveAll(dir); err != nil {
			return nil, fmt.Errorf("writer %q: %w", ref, err)
		}
		err = fs.ErrNotExist
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("writer %q: %w", ref, err)
		}
		meta = ingestMeta{Ref: ref, Total: total, Expected: expected, StartedAt: time.Now()}
		b, _ := json.Marshal(meta)
		// Not fsynced: an ingest is resumed only by this process or after a
		// restart with WithIngestMaxAge, and its data is verified on commit.
		if err := writeFileRename(filepath.Join(dir, "meta"), b); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("writer %q: %w", ref, err)
		}
	case err != nil:
		return nil, fmt.Errorf("writer %q: %w", ref, err)
	default:
		if (expected != "" && meta.Expected != "" && expected != meta.Expected) || (total != 0 && meta.Total != 0 && total != meta.Total) {
			return nil, fmt.Errorf("writer %q: ingest in progress expects %s (%d bytes), not %s (%d bytes); abort it first: %w",
				ref, meta.Expected, meta.Total, expected, total, errdefs.ErrFailedPrecondition)
		}
		if meta.Expected == "" {
			meta.Expected = expected
		}
		if meta.Total == 0 {
			meta.Total = total
		}
	}
	f, err := os.OpenFile(filepath.Join(dir, "data"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("writer %q: %w", ref, err)
	}
	w := &localWriter{s: s, ref: ref, dir: dir, f: f, total: meta.Total, expected: meta.Expected, startedAt: meta.StartedAt}
	alg := digest.Canonical
	if meta.Expected != "" {
		alg = meta.Expected.Algorithm()
	}
	w.digester = alg.Digester()
	n, err := io.Copy(w.digester.Hash(), f) // resume: hash what is there
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("writer %q: resume: %w", ref, err)
	}
	w.offset = n
	w.updatedAt = time.Now()
	if fi, err := f.Stat(); err == nil {
		w.updatedAt = fi.ModTime()
	}
	return w, nil
}

// errBadIngestMeta marks an ingest whose meta file cannot be parsed.
var errBadIngestMeta = errors.New("unreadable ingest metadata")

func readIngestMeta(dir string) (ingestMeta, error) {
	var meta ingestMeta
	b, err := os.ReadFile(filepath.Join(dir, "meta"))
	if err != nil {
		return meta, err
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		return meta, fmt.Errorf("ingest %s: meta: %w: %w", dir, errBadIngestMeta, err)
	}
	return meta, nil
}

type localWriter struct {
	s         *LocalStore
	ref, dir  string
	f         *os.File
	digester  digest.Digester
	offset    int64
	total     int64
	expected  digest.Digest
	startedAt time.Time
	updatedAt time.Time
	locks     []string
	done      bool // committed or closed
}

func (w *localWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, fmt.Errorf("write ingest %q: writer closed: %w", w.ref, errdefs.ErrFailedPrecondition)
	}
	if w.total > 0 && w.offset+int64(len(p)) > w.total {
		return 0, fmt.Errorf("write ingest %q: %d bytes at offset %d exceed the expected size %d of %s: %w",
			w.ref, len(p), w.offset, w.total, w.expected, errdefs.ErrFailedPrecondition)
	}
	n, err := w.f.Write(p)
	w.digester.Hash().Write(p[:n])
	w.offset += int64(n)
	w.updatedAt = time.Now()
	if err != nil {
		return n, fmt.Errorf("write ingest %q: %w", w.ref, err)
	}
	return n, nil
}

func (w *localWriter) Digest() digest.Digest { return w.digester.Digest() }

func (w *localWriter) Status() (Status, error) {
	return Status{Ref: w.ref, Offset: w.offset, Total: w.total, Expected: w.expected, StartedAt: w.startedAt, UpdatedAt: w.updatedAt}, nil
}

func (w *localWriter) Truncate(size int64) error {
	if w.done {
		return fmt.Errorf("truncate ingest %q: writer closed: %w", w.ref, errdefs.ErrFailedPrecondition)
	}
	if size < 0 || size > w.offset {
		return fmt.Errorf("truncate ingest %q to %d: size must be within 0..%d: %w", w.ref, size, w.offset, errdefs.ErrInvalidArgument)
	}
	if err := w.f.Truncate(size); err != nil {
		return fmt.Errorf("truncate ingest %q: %w", w.ref, err)
	}
	d, err := w.rehash(w.digester.Digest().Algorithm(), size)
	if err != nil {
		return err
	}
	if _, err := w.f.Seek(size, io.SeekStart); err != nil {
		return fmt.Errorf("truncate ingest %q: %w", w.ref, err)
	}
	w.digester, w.offset, w.updatedAt = d, size, time.Now()
	return nil
}

func (w *localWriter) Commit(ctx context.Context, size int64, expected digest.Digest, opts ...CommitOpt) error {
	if w.done {
		return fmt.Errorf("commit ingest %q: writer closed: %w", w.ref, errdefs.ErrFailedPrecondition)
	}
	var o CommitOptions
	for _, opt := range opts {
		opt(&o)
	}
	if size == 0 {
		size = w.total
	}
	if expected == "" {
		expected = w.expected
	} else if err := checkDigest(expected); err != nil {
		return fmt.Errorf("commit ingest %q: expected %w", w.ref, err)
	}
	actual := w.digester.Digest()
	if expected != "" && expected.Algorithm() != actual.Algorithm() {
		d, err := w.rehash(expected.Algorithm(), w.offset)
		if err != nil {
			return err
		}
		actual = d.Digest()
	}
	if (size > 0 && w.offset != size) || (expected != "" && actual != expected) {
		what := "digest"
		if size > 0 && w.offset != size {
			what = "size"
		}
		return fmt.Errorf("commit ingest %q: %s mismatch: expected %s (%d bytes), actual %s (%d bytes): %w",
			w.ref, what, expected, size, actual, w.offset, errdefs.ErrFailedPrecondition)
	}
	s := w.s
	s.gcMu.RLock() // GC waits until the blob is visible (and leased)
	defer s.gcMu.RUnlock()
	if id, ok := LeaseFromContext(ctx); ok {
		if err := s.AddLeaseResource(ctx, id, actual); err != nil {
			return fmt.Errorf("commit ingest %q: %w", w.ref, err)
		}
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("commit ingest %q: %w", w.ref, err)
	}
	w.done = true
	defer w.s.unlock(w.locks...)
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("commit ingest %q: %w", w.ref, err)
	}
	target := s.blobPath(actual)
	data := filepath.Join(w.dir, "data")
	if _, err := os.Stat(target); err == nil {
		os.RemoveAll(w.dir)
		return fmt.Errorf("commit ingest %q: blob %s: %w", w.ref, actual, errdefs.ErrAlreadyExists)
	}
	now := time.Now()
	if err := os.Chtimes(data, now, now); err != nil {
		return fmt.Errorf("commit ingest %q: %w", w.ref, err)
	}
	if err := os.Chmod(data, 0o444); err != nil {
		return fmt.Errorf("commit ingest %q: %w", w.ref, err)
	}
	if len(o.Labels) > 0 {
		if err := s.writeLabels(actual, o.Labels, now); err != nil {
			return fmt.Errorf("commit ingest %q: %w", w.ref, err)
		}
	}
	if err := os.Rename(data, target); err != nil {
		if len(o.Labels) > 0 {
			s.writeLabels(actual, nil, now)
		}
		return fmt.Errorf("commit ingest %q: %w", w.ref, err)
	}
	if err := syncDir(filepath.Dir(target)); err != nil {
		return fmt.Errorf("commit ingest %q: %w", w.ref, err)
	}
	if err := os.RemoveAll(w.dir); err != nil {
		return fmt.Errorf("commit ingest %q: remove ingest: %w", w.ref, err)
	}
	return nil
}

// IngestReader is implemented by the LocalStore's writers: ReaderAt opens
// the bytes written so far for reading. The reader holds the file open, so
// it stays valid after Commit (which renames the file into blobs/) or
// Abort; the caller closes it. A pull uses it to unpack a layer whose bytes
// are verified while the blob is still being synced.
type IngestReader interface {
	ReaderAt() (ReaderAt, error)
}

// ReaderAt implements IngestReader.
func (w *localWriter) ReaderAt() (ReaderAt, error) {
	if w.done {
		return nil, fmt.Errorf("read ingest %q: writer closed: %w", w.ref, errdefs.ErrFailedPrecondition)
	}
	f, err := os.Open(filepath.Join(w.dir, "data"))
	if err != nil {
		return nil, fmt.Errorf("read ingest %q: %w", w.ref, err)
	}
	return fileReaderAt{File: f, size: w.offset}, nil
}

// rehash hashes the first n bytes of the ingest with alg.
func (w *localWriter) rehash(alg digest.Algorithm, n int64) (digest.Digester, error) {
	d := alg.Digester()
	if _, err := io.Copy(d.Hash(), io.NewSectionReader(w.f, 0, n)); err != nil {
		return nil, fmt.Errorf("ingest %q: rehash: %w", w.ref, err)
	}
	return d, nil
}

func (w *localWriter) Close() error {
	if w.done {
		return nil
	}
	w.done = true
	defer w.s.unlock(w.locks...)
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("close ingest %q: %w", w.ref, err)
	}
	return nil
}

// Status implements IngestManager.
func (s *LocalStore) Status(ctx context.Context, ref string) (Status, error) {
	return s.status(s.ingestDir(ref), ref)
}

func (s *LocalStore) status(dir, ref string) (Status, error) {
	meta, err := readIngestMeta(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Status{}, fmt.Errorf("ingest %q: %w", ref, errdefs.ErrNotFound)
		}
		return Status{}, fmt.Errorf("ingest %q: %w", ref, err)
	}
	st := Status{Ref: meta.Ref, Total: meta.Total, Expected: meta.Expected, StartedAt: meta.StartedAt, UpdatedAt: meta.StartedAt}
	if fi, err := os.Stat(filepath.Join(dir, "data")); err == nil {
		st.Offset, st.UpdatedAt = fi.Size(), fi.ModTime()
	}
	return st, nil
}

// ListStatuses implements IngestManager.
func (s *LocalStore) ListStatuses(ctx context.Context) ([]Status, error) {
	dir := filepath.Join(s.root, "ingest")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list ingests: %w", err)
	}
	var out []Status
	for _, e := range entries {
		st, err := s.status(filepath.Join(dir, e.Name()), e.Name())
		if errdefs.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// Abort implements IngestManager.
func (s *LocalStore) Abort(ctx context.Context, ref string) error {
	key := "ref:" + ref
	if !s.lock(key) {
		return fmt.Errorf("abort ingest %q: held by a writer: %w", ref, errdefs.ErrUnavailable)
	}
	defer s.unlock(key)
	dir := s.ingestDir(ref)
	if _, err := os.Stat(dir); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("abort ingest %q: %w", ref, errdefs.ErrNotFound)
		}
		return fmt.Errorf("abort ingest %q: %w", ref, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("abort ingest %q: %w", ref, err)
	}
	return nil
}
