package content

import (
	"context"
	"io"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Info describes a committed blob.
type Info struct {
	Digest    digest.Digest
	Size      int64
	CreatedAt time.Time // when the blob was committed
	UpdatedAt time.Time // when its labels last changed (CreatedAt if never)
	Labels    map[string]string
}

// Status describes an ingest in progress.
type Status struct {
	Ref       string
	Offset    int64 // bytes written so far
	Total     int64 // expected size, 0 if unknown
	Expected  digest.Digest
	StartedAt time.Time
	UpdatedAt time.Time
}

// ReaderAt reads a committed blob. Close it when done.
type ReaderAt interface {
	io.ReaderAt
	io.Closer
	Size() int64
}

// InfoProvider returns what is known about one committed blob.
type InfoProvider interface {
	// Info returns the blob's Info, or an error wrapping errdefs.ErrNotFound.
	Info(ctx context.Context, dgst digest.Digest) (Info, error)
}

// Provider gives read access to committed blobs. Only committed blobs are
// ever readable: an ingest in progress is invisible to a Provider.
type Provider interface {
	InfoProvider
	// ReaderAt opens the blob desc.Digest. If desc.Size is not zero it
	// must match the stored size (errdefs.ErrFailedPrecondition otherwise).
	// A missing blob is errdefs.ErrNotFound.
	ReaderAt(ctx context.Context, desc ocispec.Descriptor) (ReaderAt, error)
}

// Ingester starts writes of new blobs.
//
// The lifecycle of an ingest:
//
//  1. Writer(ctx, ref, size, digest) opens (or resumes) the ingest named ref.
//     The ref is any non-empty string the caller chooses; by convention a
//     pull uses one derived from the digest so that two pulls of one blob
//     meet on the same ref. While a Writer is open its ref, and its
//     expected digest, are locked: a second Writer for either gets
//     errdefs.ErrUnavailable at once (OpenWriter waits instead). If the
//     expected digest is already committed, Writer returns
//     errdefs.ErrAlreadyExists and nothing needs writing.
//  2. Write appends. Status().Offset tells where a resumed ingest stands.
//     A Write that would take the ingest past its expected size fails
//     (errdefs.ErrFailedPrecondition) and writes nothing.
//  3. Commit verifies size and digest, and only then makes the blob visible
//     to Provider and Manager, atomically (fsync, rename, fsync of the
//     directory). A mismatch fails with errdefs.ErrFailedPrecondition and
//     leaves the ingest in place (Truncate(0) to start over, or
//     Manager.Abort). Committing a digest that another ingest committed
//     meanwhile returns errdefs.ErrAlreadyExists; the ingest is removed.
//  4. Close releases the lock. Closing without Commit keeps the ingest, so
//     a later Writer with the same ref resumes it (until Abort, or until
//     the store cleans stale ingests when it is opened).
type Ingester interface {
	Writer(ctx context.Context, ref string, expectedSize int64, expected digest.Digest) (Writer, error)
}

// Writer writes one ingest. It is not safe for concurrent use.
type Writer interface {
	// Write appends p to the ingest.
	io.Writer
	// Close releases the ingest's lock; an uncommitted ingest is kept.
	io.Closer
	// Digest returns the digest of the bytes written so far.
	Digest() digest.Digest
	// Commit verifies and publishes the blob. A zero size or empty digest
	// means the one given to Writer (if that was given; the other checks
	// still apply). Commit adds the blob to the lease found in ctx, if any.
	Commit(ctx context.Context, size int64, expected digest.Digest, opts ...CommitOpt) error
	// Status reports the ingest's progress.
	Status() (Status, error)
	// Truncate cuts the ingest back to size bytes (at most Offset).
	Truncate(size int64) error
}

// CommitOpt sets an option of Commit.
type CommitOpt func(*CommitOptions)

// CommitOptions are the options a Commit was given.
type CommitOptions struct {
	Labels map[string]string
}

// WithLabels sets labels on the committed blob.
func WithLabels(labels map[string]string) CommitOpt {
	return func(o *CommitOptions) { o.Labels = labels }
}

// WalkFunc is called once for each committed blob by Manager.Walk.
type WalkFunc func(Info) error

// Manager inspects and changes committed blobs.
type Manager interface {
	InfoProvider
	// Walk calls fn for each committed blob that matches one of filters
	// (all blobs when none is given). See ParseFilter for the syntax. An
	// error from fn stops the walk and is returned.
	Walk(ctx context.Context, fn WalkFunc, filters ...string) error
	// Delete removes a committed blob (errdefs.ErrNotFound if absent).
	Delete(ctx context.Context, dgst digest.Digest) error
	// Update changes a blob's labels and returns the new Info. With no
	// fieldpaths, info.Labels replaces all labels; with fieldpaths
	// "labels" does the same and "labels.KEY" sets (or, when absent from
	// info.Labels, removes) only KEY. Digest, size and times are ignored.
	Update(ctx context.Context, info Info, fieldpaths ...string) (Info, error)
}

// IngestManager inspects and aborts ingests in progress.
type IngestManager interface {
	// Status reports the ingest ref (errdefs.ErrNotFound if absent).
	Status(ctx context.Context, ref string) (Status, error)
	// ListStatuses reports all ingests.
	ListStatuses(ctx context.Context) ([]Status, error)
	// Abort removes the ingest ref; errdefs.ErrUnavailable if a Writer
	// holds it, errdefs.ErrNotFound if absent.
	Abort(ctx context.Context, ref string) error
}

// Store is a complete content store: blobs are written through an
// Ingester, become visible to Provider and Manager only once committed, and
// are removed by Manager.Delete (or by the implementation's garbage
// collection).
type Store interface {
	Provider
	Ingester
	Manager
	IngestManager
}
