package snapshot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/snapshot/mount"
)

// record is one snapshot in metadata.json.
type record struct {
	ID      string            `json:"id"`
	Kind    Kind              `json:"kind"`
	Parent  string            `json:"parent,omitempty"`
	Labels  map[string]string `json:"labels,omitempty"`
	Created time.Time         `json:"created"`
	Updated time.Time         `json:"updated"`
	Usage   *Usage            `json:"usage,omitempty"` // committed only

	// pending: being made (a native copy in progress); in memory only,
	// invisible but for holding its key and its parent.
	pending bool
	// ephemeral: active, kept in memory only until committed (Ephemeral).
	ephemeral bool
}

type metadata struct {
	NextID    uint64             `json:"next_id"`
	Snapshots map[string]*record `json:"snapshots"`
}

// fsSnapshotter is both implementations; native says which.
type fsSnapshotter struct {
	root   string
	native bool

	mu   sync.Mutex
	meta metadata
	lock *os.File
	// log is metadata.log, open for appending; logEntries counts its
	// entries since the last compaction.
	log        *os.File
	logEntries int
}

// NewOverlay opens (creating it if needed) an overlay snapshotter rooted at
// root, e.g. /var/lib/berth/snapshots/overlay. It is a Rebaser.
func NewOverlay(root string) (Snapshotter, error) {
	s, err := open(root, false)
	if err != nil {
		return nil, err
	}
	return overlaySnapshotter{s}, nil
}

// overlaySnapshotter is the overlay form of fsSnapshotter, which can commit
// a layer onto a parent it was not prepared on.
type overlaySnapshotter struct{ *fsSnapshotter }

func (s overlaySnapshotter) CommitOnto(ctx context.Context, name, key, parent string, opts ...Opt) error {
	if parent == "" {
		return fmt.Errorf("commit %q onto a parent: empty parent: %w", key, errdefs.ErrInvalidArgument)
	}
	return s.commit(ctx, name, key, parent, opts)
}

// NewNative opens (creating it if needed) a native snapshotter rooted at
// root, e.g. /var/lib/berth/snapshots/native: every snapshot is a full copy,
// for filesystems overlayfs cannot stack on.
func NewNative(root string) (Snapshotter, error) {
	return open(root, true)
}

func open(root string, native bool) (*fsSnapshotter, error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("snapshotter root %s: %w", root, err)
	}
	lock, err := os.OpenFile(filepath.Join(root, "metadata.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("snapshotter lock: %w", err)
	}
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("snapshotter %s is in use by another process: %w", root, err)
	}
	s := &fsSnapshotter{root: root, native: native, lock: lock, meta: metadata{NextID: 1, Snapshots: map[string]*record{}}}
	b, err := os.ReadFile(s.metaPath())
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		lock.Close()
		return nil, fmt.Errorf("read snapshot metadata: %w", err)
	default:
		if err := json.Unmarshal(b, &s.meta); err != nil {
			lock.Close()
			return nil, fmt.Errorf("parse snapshot metadata %s: %w", s.metaPath(), err)
		}
		if s.meta.Snapshots == nil {
			s.meta.Snapshots = map[string]*record{}
		}
	}
	if err := s.replayLog(); err != nil {
		lock.Close()
		return nil, err
	}
	if err := s.removeOrphans(); err != nil {
		lock.Close()
		return nil, err
	}
	// Start from a compact state: metadata.json written, the log empty.
	if err := s.save(); err != nil {
		lock.Close()
		return nil, err
	}
	s.log, err = os.OpenFile(s.logPath(), os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("snapshot metadata log: %w", err)
	}
	return s, nil
}

func (s *fsSnapshotter) logPath() string { return filepath.Join(s.root, "metadata.log") }

// logEntry is one line of metadata.log: a record put under a key (with the
// next id), or a key deleted. A change of several keys (a commit) is one
// write of several lines.
type logEntry struct {
	Op   string  `json:"op"` // "put" or "del"
	Key  string  `json:"key"`
	Rec  *record `json:"rec,omitempty"`
	Next uint64  `json:"next,omitempty"`
}

// replayLog applies metadata.log to what metadata.json gave. A line that
// does not parse ends the replay: only the last one can be torn (by a
// power loss), and what it lost is an orphan directory, removed next.
func (s *fsSnapshotter) replayLog() error {
	b, err := os.ReadFile(s.logPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read snapshot metadata log: %w", err)
	}
	for len(b) > 0 {
		line, rest, ok := bytes.Cut(b, []byte("\n"))
		if !ok {
			break // torn
		}
		b = rest
		var e logEntry
		if err := json.Unmarshal(line, &e); err != nil || e.Key == "" {
			slog.Warn("snapshot: metadata log ends in an unreadable entry", "log", s.logPath(), "err", err)
			break
		}
		switch {
		case e.Op == "put" && e.Rec != nil:
			s.meta.Snapshots[e.Key] = e.Rec
		case e.Op == "del":
			delete(s.meta.Snapshots, e.Key)
		}
		if e.Next > s.meta.NextID {
			s.meta.NextID = e.Next
		}
	}
	return nil
}

// maxLogEntries is the log length that makes a change rewrite
// metadata.json and start the log over (plus one entry per snapshot, so
// the rewrites cost O(1) per change).
const maxLogEntries = 1000

// journal appends the entries to metadata.log in one write; called with mu
// held. Like metadata.json, the log is not fsynced (see save).
func (s *fsSnapshotter) journal(entries ...logEntry) error {
	if s.log == nil {
		return fmt.Errorf("snapshot metadata log: snapshotter closed: %w", errdefs.ErrFailedPrecondition)
	}
	var buf bytes.Buffer
	for _, e := range entries {
		if e.Op == "put" {
			e.Next = s.meta.NextID
		}
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	if _, err := s.log.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write snapshot metadata log: %w", err)
	}
	s.logEntries += len(entries)
	if s.logEntries > maxLogEntries+len(s.meta.Snapshots) {
		// Compact: a failure leaves the log, which still holds it all.
		if err := s.save(); err != nil {
			slog.Warn("snapshot: compact metadata", "err", err)
			return nil
		}
		if err := s.log.Truncate(0); err != nil {
			slog.Warn("snapshot: truncate metadata log", "err", err)
			return nil
		}
		s.logEntries = 0
	}
	return nil
}

func put(key string, r *record) logEntry { return logEntry{Op: "put", Key: key, Rec: r} }
func del(key string) logEntry            { return logEntry{Op: "del", Key: key} }

func (s *fsSnapshotter) metaPath() string { return filepath.Join(s.root, "metadata.json") }

func (s *fsSnapshotter) dir(id string) string   { return filepath.Join(s.root, id) }
func (s *fsSnapshotter) fsDir(id string) string { return filepath.Join(s.root, id, "fs") }
func (s *fsSnapshotter) workDir(id string) string {
	return filepath.Join(s.root, id, "work")
}

// removeOrphans removes snapshot directories a crash left unrecorded.
func (s *fsSnapshotter) removeOrphans() error {
	known := map[string]bool{}
	for _, r := range s.meta.Snapshots {
		known[r.ID] = true
	}
	ents, err := os.ReadDir(s.root)
	if err != nil {
		return fmt.Errorf("read snapshotter root: %w", err)
	}
	for _, e := range ents {
		if _, err := strconv.ParseUint(e.Name(), 10, 64); err != nil || known[e.Name()] {
			continue
		}
		slog.Debug("snapshot: removing orphan directory", "dir", s.dir(e.Name()))
		if err := os.RemoveAll(s.dir(e.Name())); err != nil {
			return fmt.Errorf("remove orphan snapshot dir: %w", err)
		}
	}
	return nil
}

// save writes metadata.json atomically (temp file, rename) from the state
// in memory; called with mu held, at open and when the log is compacted
// (every other change is an entry appended to metadata.log). It does not
// fsync: a layer's files are not synced either (as with
// docker's overlay2 and containerd), so syncing only the metadata would cost
// two disk flushes per commit (most of a many-layer pull) without making a
// power loss safe. A process crash cannot tear the file; after a power loss
// a snapshot missing from it is an orphan removed at open, and the image
// service unpacks that layer again from its verified blob.
func (s *fsSnapshotter) save() error {
	out := metadata{NextID: s.meta.NextID, Snapshots: map[string]*record{}}
	for k, r := range s.meta.Snapshots {
		if !r.pending && !r.ephemeral {
			out.Snapshots[k] = r
		}
	}
	b, err := json.Marshal(&out)
	if err != nil {
		return err
	}
	tmp := s.metaPath() + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write snapshot metadata: %w", err)
	}
	if err := os.Rename(tmp, s.metaPath()); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write snapshot metadata: %w", err)
	}
	return nil
}

func (s *fsSnapshotter) get(key string) (*record, error) {
	if key == "" {
		return nil, fmt.Errorf("snapshot key: empty: %w", errdefs.ErrInvalidArgument)
	}
	r, ok := s.meta.Snapshots[key]
	if !ok {
		return nil, fmt.Errorf("snapshot %q: %w", key, errdefs.ErrNotFound)
	}
	if r.pending {
		return nil, fmt.Errorf("snapshot %q is still being prepared: %w", key, errdefs.ErrNotFound)
	}
	return r, nil
}

func info(key string, r *record) Info {
	return Info{Kind: r.Kind, Name: key, Parent: r.Parent, Labels: maps.Clone(r.Labels), Created: r.Created, Updated: r.Updated}
}

func (s *fsSnapshotter) Stat(ctx context.Context, key string) (Info, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.get(key)
	if err != nil {
		return Info{}, err
	}
	return info(key, r), nil
}

func (s *fsSnapshotter) Usage(ctx context.Context, key string) (Usage, error) {
	s.mu.Lock()
	r, err := s.get(key)
	if err != nil {
		s.mu.Unlock()
		return Usage{}, err
	}
	if r.Usage != nil {
		u := *r.Usage
		s.mu.Unlock()
		return u, nil
	}
	id, kind := r.ID, r.Kind
	s.mu.Unlock()
	if kind == KindView {
		return Usage{}, nil // a view has no files of its own
	}
	u, err := diskUsage(ctx, s.fsDir(id))
	if err != nil {
		return Usage{}, fmt.Errorf("usage of snapshot %q: %w", key, err)
	}
	if kind == KindCommitted {
		// Immutable: keep it.
		s.mu.Lock()
		if cur, ok := s.meta.Snapshots[key]; ok && cur.ID == id && cur.Kind == KindCommitted {
			cur.Usage = &u
			if err := s.journal(put(key, cur)); err != nil {
				slog.Debug("snapshot: record usage", "key", key, "err", err)
			}
		}
		s.mu.Unlock()
	}
	return u, nil
}

func (s *fsSnapshotter) Mounts(ctx context.Context, key string) ([]mount.Mount, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.get(key)
	if err != nil {
		return nil, err
	}
	if r.Kind == KindCommitted {
		return nil, fmt.Errorf("mounts of %q: a committed snapshot has no mounts, make a view: %w", key, errdefs.ErrFailedPrecondition)
	}
	return s.mounts(r)
}

func (s *fsSnapshotter) Prepare(ctx context.Context, key, parent string, opts ...Opt) ([]mount.Mount, error) {
	return s.create(ctx, KindActive, key, parent, opts)
}

func (s *fsSnapshotter) View(ctx context.Context, key, parent string, opts ...Opt) ([]mount.Mount, error) {
	return s.create(ctx, KindView, key, parent, opts)
}

func (s *fsSnapshotter) create(ctx context.Context, kind Kind, key, parent string, opts []Opt) ([]mount.Mount, error) {
	if key == "" {
		return nil, fmt.Errorf("snapshot key: empty: %w", errdefs.ErrInvalidArgument)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.meta.Snapshots[key]; ok {
		return nil, fmt.Errorf("snapshot %q: %w", key, errdefs.ErrAlreadyExists)
	}
	var pr *record
	if parent != "" {
		var ok bool
		if pr, ok = s.meta.Snapshots[parent]; !ok || pr.pending {
			return nil, fmt.Errorf("parent snapshot %q: %w", parent, errdefs.ErrNotFound)
		}
		if pr.Kind != KindCommitted {
			return nil, fmt.Errorf("parent snapshot %q is %s, not committed: %w", parent, pr.Kind, errdefs.ErrFailedPrecondition)
		}
	}
	in := Info{}
	for _, o := range opts {
		o(&in)
	}
	now := time.Now().UTC()
	r := &record{ID: strconv.FormatUint(s.meta.NextID, 10), Kind: kind, Parent: parent, Labels: in.Labels, Created: now, Updated: now, pending: true}
	s.meta.NextID++
	// The key and the parent are held by the pending record while the
	// directories are made without the lock (a native copy takes long).
	s.meta.Snapshots[key] = r
	s.mu.Unlock()
	err := s.makeDirs(ctx, r, pr)
	s.mu.Lock()
	if err != nil {
		delete(s.meta.Snapshots, key)
		os.RemoveAll(s.dir(r.ID))
		return nil, fmt.Errorf("prepare snapshot %q: %w", key, err)
	}
	r.pending = false
	if kind == KindActive && in.ephemeral {
		r.ephemeral = true
		return s.mounts(r)
	}
	if err := s.journal(put(key, r)); err != nil {
		delete(s.meta.Snapshots, key)
		os.RemoveAll(s.dir(r.ID))
		return nil, err
	}
	return s.mounts(r)
}

// makeDirs lays out a new snapshot's directories (native: copying the
// parent for an active one).
func (s *fsSnapshotter) makeDirs(ctx context.Context, r, parent *record) error {
	if err := os.Mkdir(s.dir(r.ID), 0o700); err != nil {
		return err
	}
	switch {
	case s.native && r.Kind == KindActive && parent != nil:
		return CopyTree(ctx, s.fsDir(parent.ID), s.fsDir(r.ID))
	case s.native && r.Kind == KindView && parent != nil:
		return nil // binds the parent's copy
	case !s.native && r.Kind == KindView && parent != nil:
		return nil // mounts the parent chain
	}
	if err := os.Mkdir(s.fsDir(r.ID), 0o755); err != nil {
		return err
	}
	if !s.native && r.Kind == KindActive && parent != nil {
		return os.Mkdir(s.workDir(r.ID), 0o700)
	}
	return nil
}

// lowers returns the fs dirs of the committed chain from name down, nearest
// first; called with mu held.
func (s *fsSnapshotter) lowers(name string) ([]string, error) {
	var out []string
	for name != "" {
		r, ok := s.meta.Snapshots[name]
		if !ok {
			return nil, fmt.Errorf("snapshot chain: %q: %w", name, errdefs.ErrNotFound)
		}
		out = append(out, s.fsDir(r.ID))
		name = r.Parent
		if len(out) > 10000 {
			return nil, fmt.Errorf("snapshot chain: loop at %q", name)
		}
	}
	return out, nil
}

// mounts describes how to mount r; called with mu held.
func (s *fsSnapshotter) mounts(r *record) ([]mount.Mount, error) {
	bind := func(src string, ro bool) []mount.Mount {
		opt := []string{"rbind", "rw"}
		if ro {
			opt = []string{"rbind", "ro"}
		}
		return []mount.Mount{{Type: "bind", Source: src, Options: opt}}
	}
	if r.Parent == "" {
		return bind(s.fsDir(r.ID), r.Kind == KindView), nil
	}
	pr := s.meta.Snapshots[r.Parent]
	if s.native {
		if r.Kind == KindView {
			return bind(s.fsDir(pr.ID), true), nil
		}
		return bind(s.fsDir(r.ID), false), nil
	}
	lowers, err := s.lowers(r.Parent)
	if err != nil {
		return nil, err
	}
	if r.Kind == KindView {
		if len(lowers) == 1 {
			return bind(lowers[0], true), nil
		}
		return []mount.Mount{{Type: "overlay", Source: "overlay", Options: []string{"lowerdir=" + strings.Join(lowers, ":")}}}, nil
	}
	return []mount.Mount{{Type: "overlay", Source: "overlay", Options: []string{
		"lowerdir=" + strings.Join(lowers, ":"),
		"upperdir=" + s.fsDir(r.ID),
		"workdir=" + s.workDir(r.ID),
		// Renaming a lower directory must copy it (EXDEV to the caller), not
		// leave a redirect xattr: a layer diff of the upper dir could not
		// express it. Most kernels default to this; some are built otherwise.
		"redirect_dir=off",
	}}}, nil
}

func (s *fsSnapshotter) Commit(ctx context.Context, name, key string, opts ...Opt) error {
	return s.commit(ctx, name, key, "", opts)
}

// commit commits key as name; onto, when set, becomes its parent (key must
// have none).
func (s *fsSnapshotter) commit(ctx context.Context, name, key, onto string, opts []Opt) error {
	if name == "" {
		return fmt.Errorf("commit %q: empty name: %w", key, errdefs.ErrInvalidArgument)
	}
	s.mu.Lock()
	r, err := s.get(key)
	if err != nil {
		s.mu.Unlock()
		return fmt.Errorf("commit: %w", err)
	}
	if r.Kind != KindActive {
		s.mu.Unlock()
		return fmt.Errorf("commit %q: a %s snapshot cannot be committed: %w", key, r.Kind, errdefs.ErrFailedPrecondition)
	}
	if _, ok := s.meta.Snapshots[name]; ok {
		s.mu.Unlock()
		return fmt.Errorf("commit %q as %q: %w", key, name, errdefs.ErrAlreadyExists)
	}
	if onto != "" {
		if r.Parent != "" {
			s.mu.Unlock()
			return fmt.Errorf("commit %q onto %q: it was prepared on %q: %w", key, onto, r.Parent, errdefs.ErrFailedPrecondition)
		}
		pr, ok := s.meta.Snapshots[onto]
		if !ok || pr.pending {
			s.mu.Unlock()
			return fmt.Errorf("commit %q: parent snapshot %q: %w", key, onto, errdefs.ErrNotFound)
		}
		if pr.Kind != KindCommitted {
			s.mu.Unlock()
			return fmt.Errorf("commit %q: parent snapshot %q is %s, not committed: %w", key, onto, pr.Kind, errdefs.ErrFailedPrecondition)
		}
	}
	id := r.ID
	defer s.mu.Unlock()
	// The usage of an immutable layer is computed once, by the first Usage
	// call, not here: a pull commits many layers one after the other.
	in := Info{Labels: maps.Clone(r.Labels)}
	for _, o := range opts {
		o(&in)
	}
	c := *r
	c.Kind, c.Labels, c.Updated, c.Usage, c.ephemeral = KindCommitted, in.Labels, time.Now().UTC(), nil, false
	if onto != "" {
		c.Parent = onto
	}
	delete(s.meta.Snapshots, key)
	s.meta.Snapshots[name] = &c
	if err := s.journal(del(key), put(name, &c)); err != nil {
		delete(s.meta.Snapshots, name)
		s.meta.Snapshots[key] = r
		return fmt.Errorf("commit %q: %w", key, err)
	}
	if !s.native {
		if err := os.RemoveAll(s.workDir(id)); err != nil {
			slog.Debug("snapshot: remove work dir", "dir", s.workDir(id), "err", err)
		}
	}
	return nil
}

func (s *fsSnapshotter) Remove(ctx context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.get(key)
	if err != nil {
		return fmt.Errorf("remove: %w", err)
	}
	var children []string
	for k, c := range s.meta.Snapshots {
		if c.Parent == key {
			children = append(children, k)
		}
	}
	if len(children) > 0 {
		slices.Sort(children)
		return fmt.Errorf("remove %q: it is the parent of %q: %w", key, children, errdefs.ErrFailedPrecondition)
	}
	delete(s.meta.Snapshots, key)
	if !r.ephemeral {
		if err := s.journal(del(key)); err != nil {
			s.meta.Snapshots[key] = r
			return fmt.Errorf("remove %q: %w", key, err)
		}
	}
	// A failure here leaves an orphan directory, removed at the next open.
	if err := os.RemoveAll(s.dir(r.ID)); err != nil {
		return fmt.Errorf("remove %q: files: %w", key, err)
	}
	return nil
}

func (s *fsSnapshotter) Walk(ctx context.Context, fn func(context.Context, Info) error) error {
	s.mu.Lock()
	infos := make([]Info, 0, len(s.meta.Snapshots))
	for k, r := range s.meta.Snapshots {
		if !r.pending {
			infos = append(infos, info(k, r))
		}
	}
	s.mu.Unlock()
	slices.SortFunc(infos, func(a, b Info) int { return strings.Compare(a.Name, b.Name) })
	for _, in := range infos {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(ctx, in); err != nil {
			return err
		}
	}
	return nil
}

func (s *fsSnapshotter) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lock == nil {
		return nil
	}
	if s.log != nil {
		s.log.Close()
		s.log = nil
	}
	err := s.lock.Close()
	s.lock = nil
	return err
}
