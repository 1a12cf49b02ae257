package registry

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/berth/berth/internal/registry/storage"
)

// Store keeps repositories in a storage.Driver with the layout drawn in the
// package documentation. It is safe for concurrent use, also while GC runs.
type Store struct {
	d storage.Driver

	// locks serialise, per digest (striped), linking a blob against the
	// garbage collector deleting it: linkers hold a read lock while they
	// check the blob and refresh its modification time, GC holds the write
	// lock while it re-checks and deletes.
	locks [256]sync.RWMutex
	// gcBarrier is held (read) by a manifest push from its first check of
	// a referenced blob until its revision link is written; GC takes it
	// (write) once when it starts, so every push is either visible to
	// its mark phase or refreshes its blobs after GC's start.
	gcBarrier sync.RWMutex

	mu      sync.Mutex
	uploads map[string]*upload

	cache manifestCache

	// touchAfter is how old a link may be before a read of it refreshes
	// its modification time (which protects it from GC for the grace
	// period).
	touchAfter time.Duration
}

// NewStore returns a Store over d.
func NewStore(d storage.Driver) *Store {
	return &Store{d: d, uploads: map[string]*upload{}, cache: manifestCache{max: 32 << 20}, touchAfter: time.Minute}
}

// SetRefreshInterval sets how often at most a read of a blob refreshes its
// modification time for GC (default one minute); keep it well below the GC
// grace period.
func (s *Store) SetRefreshInterval(d time.Duration) { s.touchAfter = d }

// Driver returns the store's storage driver.
func (s *Store) Driver() storage.Driver { return s.d }

func (s *Store) lock(dg Digest) *sync.RWMutex {
	b, _ := hex.DecodeString(dg.Hex[:2])
	return &s.locks[b[0]]
}

func blobDir(dg Digest) string {
	return "blobs/" + dg.Algorithm + "/" + dg.Hex[:2] + "/" + dg.Hex
}
func blobPath(dg Digest) string   { return blobDir(dg) + "/data" }
func repoPath(name string) string { return "repositories/" + name }
func layerLink(name string, dg Digest) string {
	return repoPath(name) + "/_layers/" + dg.Algorithm + "/" + dg.Hex + "/link"
}
func revisionDir(name string, dg Digest) string {
	return repoPath(name) + "/_manifests/revisions/" + dg.Algorithm + "/" + dg.Hex
}
func tagsDir(name string) string { return repoPath(name) + "/_manifests/tags" }
func tagLink(name, tag string) string {
	return tagsDir(name) + "/" + tag + "/current/link"
}
func referrersDir(name string, subject Digest) string {
	return repoPath(name) + "/_referrers/" + subject.Algorithm + "/" + subject.Hex
}
func uploadDir(name, id string) string { return repoPath(name) + "/_uploads/" + id }

func isNotFound(err error) bool { return errors.Is(err, storage.ErrNotFound) }

// readLink reads a link file: a digest, optionally followed by a newline
// and a media type.
func (s *Store) readLink(ctx context.Context, path string) (Digest, string, error) {
	b, err := s.d.GetContent(ctx, path)
	if err != nil {
		return Digest{}, "", err
	}
	first, rest, _ := strings.Cut(string(b), "\n")
	dg, err := ParseDigest(strings.TrimSpace(first))
	if err != nil {
		return Digest{}, "", fmt.Errorf("corrupt link %s: %w", path, err)
	}
	return dg, strings.TrimSpace(rest), nil
}

// refresh sets the modification time of the blob (and link) to now if it is
// older than touchAfter, so a GC that starts now keeps it.
func (s *Store) refresh(ctx context.Context, fi storage.FileInfo, paths ...string) {
	if time.Since(fi.ModTime) < s.touchAfter {
		return
	}
	for _, p := range paths {
		s.d.Touch(ctx, p)
	}
}

// StatBlob returns the size of blob dg in repository name.
func (s *Store) StatBlob(ctx context.Context, name string, dg Digest) (int64, error) {
	link := layerLink(name, dg)
	lfi, err := s.d.Stat(ctx, link)
	if err != nil {
		if isNotFound(err) {
			return 0, errorf(ErrBlobUnknown, "blob %s unknown to repository %s", dg, name)
		}
		return 0, err
	}
	fi, err := s.d.Stat(ctx, blobPath(dg))
	if err != nil {
		if isNotFound(err) {
			return 0, errorf(ErrBlobUnknown, "blob %s unknown to registry", dg)
		}
		return 0, err
	}
	if time.Since(lfi.ModTime) >= s.touchAfter {
		l := s.lock(dg)
		l.RLock()
		s.refresh(ctx, lfi, link, blobPath(dg))
		l.RUnlock()
	}
	return fi.Size, nil
}

// OpenBlob opens blob dg of repository name.
func (s *Store) OpenBlob(ctx context.Context, name string, dg Digest) (io.ReadCloser, int64, error) {
	size, err := s.StatBlob(ctx, name, dg)
	if err != nil {
		return nil, 0, err
	}
	r, err := s.d.Reader(ctx, blobPath(dg), 0)
	if err != nil {
		if isNotFound(err) {
			return nil, 0, errorf(ErrBlobUnknown, "blob %s unknown to registry", dg)
		}
		return nil, 0, err
	}
	return r, size, nil
}

// DeleteBlob unlinks blob dg from repository name; GC frees its storage
// once nothing references it.
func (s *Store) DeleteBlob(ctx context.Context, name string, dg Digest) error {
	if err := s.d.Delete(ctx, repoPath(name)+"/_layers/"+dg.Algorithm+"/"+dg.Hex); err != nil {
		if isNotFound(err) {
			return errorf(ErrBlobUnknown, "blob %s unknown to repository %s", dg, name)
		}
		return err
	}
	return nil
}

// linkBlob links the existing blob dg into repository name. The caller
// does not hold the digest lock.
func (s *Store) linkBlob(ctx context.Context, name string, dg Digest) error {
	l := s.lock(dg)
	l.RLock()
	defer l.RUnlock()
	if err := s.d.Touch(ctx, blobPath(dg)); err != nil {
		if isNotFound(err) {
			return errorf(ErrBlobUnknown, "blob %s unknown to registry", dg)
		}
		return err
	}
	return s.d.PutContent(ctx, layerLink(name, dg), []byte(dg.String()))
}

// MountBlob links blob dg from repository from (or, with from empty, from
// anywhere in the registry) into repository name.
func (s *Store) MountBlob(ctx context.Context, name, from string, dg Digest) error {
	if from != "" {
		if _, err := s.d.Stat(ctx, layerLink(from, dg)); err != nil {
			if isNotFound(err) {
				return errorf(ErrBlobUnknown, "blob %s unknown to repository %s", dg, from)
			}
			return err
		}
	}
	return s.linkBlob(ctx, name, dg)
}

// Manifest reads manifest ref (a tag or a digest) of repository name.
func (s *Store) Manifest(ctx context.Context, name, ref string) ([]byte, string, Digest, error) {
	dg, err := s.resolve(ctx, name, ref)
	if err != nil {
		return nil, "", Digest{}, err
	}
	_, mediaType, err := s.readLink(ctx, revisionDir(name, dg)+"/link")
	if err != nil {
		if isNotFound(err) {
			return nil, "", Digest{}, errorf(ErrManifestUnknown, "manifest %s unknown to repository %s", ref, name)
		}
		return nil, "", Digest{}, err
	}
	if b, ok := s.cache.get(dg); ok {
		return b, mediaType, dg, nil
	}
	b, err := s.d.GetContent(ctx, blobPath(dg))
	if err != nil {
		if isNotFound(err) {
			return nil, "", Digest{}, errorf(ErrManifestUnknown, "manifest %s has no content", dg)
		}
		return nil, "", Digest{}, err
	}
	s.cache.put(dg, b)
	return b, mediaType, dg, nil
}

func (s *Store) resolve(ctx context.Context, name, ref string) (Digest, error) {
	if strings.Contains(ref, ":") {
		dg, err := ParseDigest(ref)
		if err != nil {
			return Digest{}, err
		}
		return dg, nil
	}
	dg, _, err := s.readLink(ctx, tagLink(name, ref))
	if err != nil {
		if isNotFound(err) {
			return Digest{}, errorf(ErrManifestUnknown, "tag %s unknown to repository %s", ref, name)
		}
		return Digest{}, err
	}
	return dg, nil
}

// PutManifest stores a manifest under ref (a tag or its digest) and the
// extra tags, after checking that everything it references is in the
// repository.
func (s *Store) PutManifest(ctx context.Context, name, ref, contentType string, body []byte, tags []string) (Digest, *Manifest, error) {
	m, err := ParseManifest(contentType, body)
	if err != nil {
		return Digest{}, nil, err
	}
	var dg Digest
	if strings.Contains(ref, ":") {
		want, err := ParseDigest(ref)
		if err != nil {
			return Digest{}, nil, err
		}
		dg = digestOf(want.Algorithm, body)
		if dg != want {
			return Digest{}, nil, errorf(ErrDigestInvalid, "manifest content has digest %s, not %s", dg, want)
		}
	} else {
		tags = append([]string{ref}, tags...)
		dg = digestOf("sha256", body)
	}
	// Everything referenced must be present; refreshing each blob under
	// its lock keeps a concurrent GC from deleting it before our link is
	// written.
	s.gcBarrier.RLock()
	defer s.gcBarrier.RUnlock()
	var refs []Descriptor
	if m.Config != nil {
		refs = append(refs, *m.Config)
	}
	for _, l := range m.Layers {
		if distributable(&l) {
			refs = append(refs, l)
		}
	}
	for _, d := range refs {
		rd, _ := ParseDigest(d.Digest)
		if err := s.refreshLinked(ctx, layerLink(name, rd), rd); err != nil {
			if isNotFound(err) {
				return Digest{}, nil, errorf(ErrManifestBlobUnknown, "blob %s is not in repository %s", rd, name)
			}
			return Digest{}, nil, err
		}
	}
	for _, d := range m.Manifests {
		cd, _ := ParseDigest(d.Digest)
		if err := s.refreshLinked(ctx, revisionDir(name, cd)+"/link", cd); err != nil {
			if isNotFound(err) {
				return Digest{}, nil, errorf(ErrManifestBlobUnknown, "manifest %s is not in repository %s", cd, name)
			}
			return Digest{}, nil, err
		}
	}
	l := s.lock(dg)
	l.RLock()
	err = s.d.Touch(ctx, blobPath(dg))
	if isNotFound(err) {
		err = s.d.PutContent(ctx, blobPath(dg), body)
	}
	if err == nil {
		err = s.d.PutContent(ctx, revisionDir(name, dg)+"/link", []byte(dg.String()+"\n"+m.Type))
	}
	l.RUnlock()
	if err != nil {
		return Digest{}, nil, fmt.Errorf("store manifest %s: %w", dg, err)
	}
	if m.Subject != nil {
		sd, _ := ParseDigest(m.Subject.Digest)
		desc, _ := json.Marshal(referrerDescriptor(m, dg, int64(len(body))))
		if err := s.d.PutContent(ctx, referrersDir(name, sd)+"/"+dg.Algorithm+"/"+dg.Hex+"/link", desc); err != nil {
			return Digest{}, nil, fmt.Errorf("store referrer %s of %s: %w", dg, sd, err)
		}
	}
	for _, t := range tags {
		if err := s.d.PutContent(ctx, tagLink(name, t), []byte(dg.String())); err != nil {
			return Digest{}, nil, fmt.Errorf("tag %s: %w", t, err)
		}
	}
	return dg, m, nil
}

// refreshLinked checks that link and the blob of dg exist and refreshes
// the blob's modification time, under the digest lock.
func (s *Store) refreshLinked(ctx context.Context, link string, dg Digest) error {
	l := s.lock(dg)
	l.RLock()
	defer l.RUnlock()
	if _, err := s.d.Stat(ctx, link); err != nil {
		return err
	}
	if err := s.d.Touch(ctx, blobPath(dg)); err != nil {
		return err
	}
	return s.d.Touch(ctx, link)
}

// DeleteManifest deletes a tag, or a manifest by digest together with the
// tags pointing at it and its entry in its subject's referrers.
func (s *Store) DeleteManifest(ctx context.Context, name, ref string) error {
	if !strings.Contains(ref, ":") {
		if err := s.d.Delete(ctx, tagsDir(name)+"/"+ref); err != nil {
			if isNotFound(err) {
				return errorf(ErrManifestUnknown, "tag %s unknown to repository %s", ref, name)
			}
			return err
		}
		return nil
	}
	dg, err := ParseDigest(ref)
	if err != nil {
		return err
	}
	body, mediaType, _, err := s.Manifest(ctx, name, ref)
	if err != nil {
		return err
	}
	if m, err := ParseManifest(mediaType, body); err == nil && m.Subject != nil {
		if sd, err := ParseDigest(m.Subject.Digest); err == nil {
			if err := s.d.Delete(ctx, referrersDir(name, sd)+"/"+dg.Algorithm+"/"+dg.Hex); err != nil && !isNotFound(err) {
				return err
			}
		}
	}
	if err := s.d.Delete(ctx, revisionDir(name, dg)); err != nil && !isNotFound(err) {
		return err
	}
	tags, err := s.d.List(ctx, tagsDir(name))
	if err != nil && !isNotFound(err) {
		return err
	}
	for _, t := range tags {
		td, _, err := s.readLink(ctx, t+"/current/link")
		if err == nil && td == dg {
			if err := s.d.Delete(ctx, t); err != nil && !isNotFound(err) {
				return err
			}
		}
	}
	return nil
}

// RepositoryExists reports whether repository name holds anything.
func (s *Store) RepositoryExists(ctx context.Context, name string) (bool, error) {
	_, err := s.d.Stat(ctx, repoPath(name))
	if isNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

// Tags lists the tags of repository name in lexical order.
func (s *Store) Tags(ctx context.Context, name string) ([]string, error) {
	ok, err := s.RepositoryExists(ctx, name)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errorf(ErrNameUnknown, "repository %s unknown", name)
	}
	paths, err := s.d.List(ctx, tagsDir(name))
	if err != nil && !isNotFound(err) {
		return nil, err
	}
	tags := make([]string, 0, len(paths))
	for _, p := range paths {
		tags = append(tags, p[strings.LastIndexByte(p, '/')+1:])
	}
	slices.Sort(tags)
	return tags, nil
}

// Referrers lists the manifests of repository name whose subject is
// subject, filtered by artifactType when it is not empty.
func (s *Store) Referrers(ctx context.Context, name string, subject Digest, artifactType string) ([]Descriptor, error) {
	out := []Descriptor{}
	algs, err := s.d.List(ctx, referrersDir(name, subject))
	if isNotFound(err) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	for _, a := range algs {
		entries, err := s.d.List(ctx, a)
		if err != nil && !isNotFound(err) {
			return nil, err
		}
		for _, e := range entries {
			b, err := s.d.GetContent(ctx, e+"/link")
			if err != nil {
				if isNotFound(err) {
					continue
				}
				return nil, err
			}
			var d Descriptor
			if err := json.Unmarshal(b, &d); err != nil {
				return nil, fmt.Errorf("corrupt referrer %s: %w", e, err)
			}
			if artifactType == "" || d.ArtifactType == artifactType {
				out = append(out, d)
			}
		}
	}
	return out, nil
}

// Catalog lists all repositories in lexical order.
func (s *Store) Catalog(ctx context.Context) ([]string, error) {
	var out []string
	var walk func(dir, name string) error
	walk = func(dir, name string) error {
		entries, err := s.d.List(ctx, dir)
		if err != nil {
			if isNotFound(err) {
				return nil
			}
			return err
		}
		isRepo := false
		for _, e := range entries {
			base := e[strings.LastIndexByte(e, '/')+1:]
			if strings.HasPrefix(base, "_") {
				isRepo = true
				continue
			}
			child := base
			if name != "" {
				child = name + "/" + base
			}
			if err := walk(e, child); err != nil {
				return err
			}
		}
		if isRepo && name != "" {
			out = append(out, name)
		}
		return nil
	}
	if err := walk("repositories", ""); err != nil {
		return nil, err
	}
	slices.Sort(out)
	return out, nil
}

// upload is the in-memory state of an upload in progress: a running hash
// of its first hashed bytes (sha256), valid while hashed equals the size of
// the upload's data.
type upload struct {
	mu     sync.Mutex
	h      hash.Hash
	hashed int64
}

func newUploadID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// ValidUploadID reports whether id has the form newUploadID makes.
func ValidUploadID(id string) bool {
	if len(id) != 32 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil
}

func (s *Store) uploadState(id string) *upload {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.uploads[id]
	if !ok {
		u = &upload{h: sha256.New()}
		s.uploads[id] = u
	}
	return u
}

func (s *Store) dropUploadState(id string) {
	s.mu.Lock()
	delete(s.uploads, id)
	s.mu.Unlock()
}

// StartUpload begins an upload into repository name and returns its id.
func (s *Store) StartUpload(ctx context.Context, name string) (string, error) {
	id := newUploadID()
	dir := uploadDir(name, id)
	if err := s.d.PutContent(ctx, dir+"/startedat", []byte(time.Now().UTC().Format(time.RFC3339Nano))); err != nil {
		return "", fmt.Errorf("start upload: %w", err)
	}
	w, err := s.d.Writer(ctx, dir+"/data", false)
	if err != nil {
		return "", fmt.Errorf("start upload: %w", err)
	}
	w.Close()
	s.uploadState(id)
	return id, nil
}

// UploadSize returns how many bytes upload id of repository name holds,
// after any append in progress has finished.
func (s *Store) UploadSize(ctx context.Context, name, id string) (int64, error) {
	u := s.uploadState(id)
	u.mu.Lock()
	defer u.mu.Unlock()
	return s.uploadSizeLocked(ctx, name, id)
}

func (s *Store) uploadSizeLocked(ctx context.Context, name, id string) (int64, error) {
	fi, err := s.d.Stat(ctx, uploadDir(name, id)+"/data")
	if err != nil {
		if isNotFound(err) {
			s.dropUploadState(id)
			return 0, errorf(ErrBlobUploadUnknown, "upload %s unknown to repository %s", id, name)
		}
		return 0, err
	}
	return fi.Size, nil
}

// AppendUpload appends r to upload id. With start >= 0 the chunk must
// begin at the upload's current size (RANGE_INVALID otherwise). It returns
// the new size; on a broken connection whatever arrived is kept, so the
// client can ask for the size and resume.
func (s *Store) AppendUpload(ctx context.Context, name, id string, start int64, r io.Reader) (int64, error) {
	u := s.uploadState(id)
	u.mu.Lock()
	defer u.mu.Unlock()
	path := uploadDir(name, id) + "/data"
	if _, err := s.d.Stat(ctx, path); err != nil {
		s.dropUploadState(id)
		if isNotFound(err) {
			return 0, errorf(ErrBlobUploadUnknown, "upload %s unknown to repository %s", id, name)
		}
		return 0, err
	}
	w, err := s.d.Writer(ctx, path, true)
	if err != nil {
		return 0, err
	}
	defer w.Close()
	size := w.Size()
	if start >= 0 && start != size {
		return size, errorf(ErrRangeInvalid, "chunk starts at %d but the upload holds %d bytes", start, size)
	}
	var src io.Reader = r
	hashing := u.h != nil && u.hashed == size
	if hashing {
		src = io.TeeReader(r, u.h)
	}
	n, err := io.Copy(w, src)
	if hashing {
		// The hash saw what was read; if the write failed part way,
		// the hash no longer matches the data and is dropped.
		if w.Size() == size+n {
			u.hashed += n
		} else {
			u.h = nil
		}
	}
	if err != nil {
		return w.Size(), fmt.Errorf("append to upload %s: %w", id, err)
	}
	return w.Size(), nil
}

// CommitUpload verifies that upload id has digest dg and makes it blob dg
// of repository name.
func (s *Store) CommitUpload(ctx context.Context, name, id string, dg Digest) error {
	u := s.uploadState(id)
	u.mu.Lock()
	defer u.mu.Unlock()
	dir := uploadDir(name, id)
	fi, err := s.d.Stat(ctx, dir+"/data")
	if err != nil {
		s.dropUploadState(id)
		if isNotFound(err) {
			return errorf(ErrBlobUploadUnknown, "upload %s unknown to repository %s", id, name)
		}
		return err
	}
	var sum []byte
	if dg.Algorithm == "sha256" && u.h != nil && u.hashed == fi.Size {
		sum = u.h.Sum(nil)
	} else {
		h := dg.newHash()
		r, err := s.d.Reader(ctx, dir+"/data", 0)
		if err != nil {
			return err
		}
		_, err = io.Copy(h, r)
		r.Close()
		if err != nil {
			return fmt.Errorf("hash upload %s: %w", id, err)
		}
		sum = h.Sum(nil)
	}
	if got := hex.EncodeToString(sum); got != dg.Hex {
		s.cancelUploadLocked(ctx, name, id)
		return errorf(ErrDigestInvalid, "uploaded content has digest %s:%s, not %s", dg.Algorithm, got, dg)
	}
	l := s.lock(dg)
	l.RLock()
	err = s.d.Move(ctx, dir+"/data", blobPath(dg))
	if err == nil {
		err = s.d.Touch(ctx, blobPath(dg))
	}
	if err == nil {
		err = s.d.PutContent(ctx, layerLink(name, dg), []byte(dg.String()))
	}
	l.RUnlock()
	if err != nil {
		return fmt.Errorf("commit upload %s as %s: %w", id, dg, err)
	}
	s.cancelUploadLocked(ctx, name, id)
	return nil
}

func (s *Store) cancelUploadLocked(ctx context.Context, name, id string) error {
	s.dropUploadState(id)
	if err := s.d.Delete(ctx, uploadDir(name, id)); err != nil {
		if isNotFound(err) {
			return errorf(ErrBlobUploadUnknown, "upload %s unknown to repository %s", id, name)
		}
		return err
	}
	return nil
}

// CancelUpload abandons upload id and removes its data.
func (s *Store) CancelUpload(ctx context.Context, name, id string) error {
	u := s.uploadState(id)
	u.mu.Lock()
	defer u.mu.Unlock()
	return s.cancelUploadLocked(ctx, name, id)
}

// PutBlob stores r as blob dg of repository name in one go.
func (s *Store) PutBlob(ctx context.Context, name string, dg Digest, r io.Reader) error {
	id, err := s.StartUpload(ctx, name)
	if err != nil {
		return err
	}
	if _, err := s.AppendUpload(ctx, name, id, -1, r); err != nil {
		s.CancelUpload(ctx, name, id)
		return err
	}
	return s.CommitUpload(ctx, name, id, dg)
}

// PurgeUploads removes uploads started before olderThan (those a client
// abandoned or a crash interrupted) and returns how many it removed.
func (s *Store) PurgeUploads(ctx context.Context, olderThan time.Time) (int, error) {
	repos, err := s.Catalog(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, repo := range repos {
		ups, err := s.d.List(ctx, repoPath(repo)+"/_uploads")
		if err != nil {
			if isNotFound(err) {
				continue
			}
			return n, err
		}
		for _, up := range ups {
			started := time.Time{}
			if b, err := s.d.GetContent(ctx, up+"/startedat"); err == nil {
				started, _ = time.Parse(time.RFC3339Nano, string(b))
			} else if fi, err := s.d.Stat(ctx, up); err == nil {
				started = fi.ModTime
			}
			if started.Before(olderThan) {
				id := up[strings.LastIndexByte(up, '/')+1:]
				u := s.uploadState(id)
				u.mu.Lock()
				err := s.d.Delete(ctx, up)
				s.dropUploadState(id)
				u.mu.Unlock()
				if err != nil && !isNotFound(err) {
					return n, err
				}
				n++
			}
		}
	}
	return n, nil
}

// manifestCache keeps manifest bodies by digest; they never change.
type manifestCache struct {
	mu    sync.Mutex
	max   int
	size  int
	items map[Digest][]byte
}

func (c *manifestCache) get(dg Digest) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.items[dg]
	return b, ok
}

func (c *manifestCache) put(dg Digest, b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.items == nil || c.size+len(b) > c.max {
		c.items = map[Digest][]byte{}
		c.size = 0
	}
	c.items[dg] = bytes.Clone(b)
	c.size += len(b)
}

func (c *manifestCache) drop(dg Digest) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b, ok := c.items[dg]; ok {
		c.size -= len(b)
		delete(c.items, dg)
	}
}
