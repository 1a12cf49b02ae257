package snapshot

import (
	"context"
	"fmt"
	"time"

	"github.com/berth/berth/internal/snapshot/mount"
)

// Kind is the state of a snapshot.
type Kind int

const (
	KindUnknown Kind = iota
	KindView
	KindActive
	KindCommitted
)

func (k Kind) String() string {
	switch k {
	case KindView:
		return "View"
	case KindActive:
		return "Active"
	case KindCommitted:
		return "Committed"
	}
	return "Unknown"
}

// MarshalText writes the kind by name in metadata.json.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText reads a kind written by MarshalText.
func (k *Kind) UnmarshalText(b []byte) error {
	for _, c := range []Kind{KindView, KindActive, KindCommitted} {
		if c.String() == string(b) {
			*k = c
			return nil
		}
	}
	return fmt.Errorf("unknown snapshot kind %q", b)
}

// Info describes a snapshot.
type Info struct {
	Kind    Kind
	Name    string // the key of an active snapshot or view, the name of a committed one
	Parent  string // the name of the committed parent, "" for none
	Labels  map[string]string
	Created time.Time
	Updated time.Time

	ephemeral bool // set by Ephemeral, for Prepare
}

// Usage is the disk space a snapshot's own files take: for an overlay
// layer its changes only, for a native one the whole copy. Hard-linked
// files count once; Size is in bytes of allocated blocks.
type Usage struct {
	Size   int64
	Inodes int64
}

// Opt sets optional properties of a snapshot being made.
type Opt func(*Info)

// WithLabels adds labels to the snapshot.
func WithLabels(labels map[string]string) Opt {
	return func(i *Info) {
		if i.Labels == nil {
			i.Labels = map[string]string{}
		}
		for k, v := range labels {
			i.Labels[k] = v
		}
	}
}

// Ephemeral makes Prepare keep the new active snapshot in memory only until
// it is committed: after a crash it is gone (its directory is removed when
// the snapshotter is opened). For snapshots that are worthless unfinished,
// as a layer being unpacked; it saves a metadata write.
func Ephemeral() Opt {
	return func(i *Info) { i.ephemeral = true }
}

// Rebaser is implemented by snapshotters whose committed layers do not
// depend on the layers below them (overlay, where a layer is an upper
// directory): an active snapshot prepared without a parent can be
// committed onto any committed parent. The image service uses it to unpack
// the layers of an image in parallel.
type Rebaser interface {
	// CommitOnto is Commit that makes parent (a committed snapshot) the
	// parent of the committed snapshot name. key must have been prepared
	// without a parent.
	CommitOnto(ctx context.Context, name, key, parent string, opts ...Opt) error
}

// Snapshotter makes, describes and removes snapshots. Errors are classified
// with github.com/containerd/errdefs: NotFound for an unknown key or parent,
// AlreadyExists for a key or name in use, FailedPrecondition for a wrong
// kind (committing a view, a parent that is not committed, removing a
// snapshot with children), InvalidArgument for an empty key.
//
// Methods are safe for concurrent use. Mounts returned stay valid until the
// snapshot is removed; the caller unmounts before Remove.
type Snapshotter interface {
	// Stat returns the snapshot key (a key or a committed name) describes.
	Stat(ctx context.Context, key string) (Info, error)
	// Usage returns the disk space of the snapshot's own files; computed
	// once for committed snapshots, on each call for active ones.
	Usage(ctx context.Context, key string) (Usage, error)
	// Mounts returns the mounts of an active snapshot or view again.
	Mounts(ctx context.Context, key string) ([]mount.Mount, error)
	// Prepare makes a writable snapshot key on the committed parent ("" for
	// an empty one) and returns its mounts.
	Prepare(ctx context.Context, key, parent string, opts ...Opt) ([]mount.Mount, error)
	// View makes a read-only snapshot key of the committed parent and
	// returns its mounts. A view cannot be committed.
	View(ctx context.Context, key, parent string, opts ...Opt) ([]mount.Mount, error)
	// Commit turns the active snapshot key into the committed snapshot name,
	// which then can be a parent. The key is gone afterwards. The caller must
	// have unmounted it.
	Commit(ctx context.Context, name, key string, opts ...Opt) error
	// Remove removes a snapshot and its files; a committed snapshot with
	// children is refused.
	Remove(ctx context.Context, key string) error
	// Walk calls fn for every snapshot, in name order, stopping at the first
	// error, which it returns.
	Walk(ctx context.Context, fn func(context.Context, Info) error) error
	// Close releases the snapshotter's lock; it does not unmount anything.
	Close() error
}
