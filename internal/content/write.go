package content

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// OpenWriter opens a Writer like Ingester.Writer, but while the ref (or the
// expected digest) is held by another Writer it waits, polling, until that
// one is closed or ctx ends. This is how two pulls of one blob share a
// single download: the second waits for the first and then gets
// errdefs.ErrAlreadyExists if the first committed, or resumes the ingest if
// the first gave up.
func OpenWriter(ctx context.Context, ing Ingester, ref string, size int64, expected digest.Digest) (Writer, error) {
	wait := 5 * time.Millisecond
	for {
		w, err := ing.Writer(ctx, ref, size, expected)
		if err == nil || !errdefs.IsUnavailable(err) {
			return w, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for ingest %q: %w", ref, ctx.Err())
		case <-time.After(wait):
		}
		if wait < 200*time.Millisecond {
			wait *= 2
		}
	}
}

// WriteBlob writes the blob desc from r through ing under ref, resuming a
// previous ingest of ref where it stopped (r is then expected to be an
// io.Seeker, or the bytes already written are read and discarded). A blob
// already present is success. desc.Size and desc.Digest are verified.
func WriteBlob(ctx context.Context, ing Ingester, ref string, r io.Reader, desc ocispec.Descriptor, opts ...CommitOpt) error {
	w, err := OpenWriter(ctx, ing, ref, desc.Size, desc.Digest)
	if err != nil {
		if errdefs.IsAlreadyExists(err) {
			return nil
		}
		return err
	}
	defer w.Close()
	st, err := w.Status()
	if err != nil {
		return err
	}
	if st.Offset > 0 {
		if s, ok := r.(io.Seeker); ok {
			if _, err := s.Seek(st.Offset, io.SeekStart); err != nil {
				return fmt.Errorf("resume ingest %q at %d: %w", ref, st.Offset, err)
			}
		} else if _, err := io.CopyN(io.Discard, r, st.Offset); err != nil {
			return fmt.Errorf("resume ingest %q at %d: %w", ref, st.Offset, err)
		}
	}
	if _, err := io.Copy(w, r); err != nil {
		return fmt.Errorf("write ingest %q: %w", ref, err)
	}
	if err := w.Commit(ctx, desc.Size, desc.Digest, opts...); err != nil && !errdefs.IsAlreadyExists(err) {
		return err
	}
	return nil
}

// ReadBlob reads a whole blob, refusing one larger than limit bytes with
// errdefs.ErrFailedPrecondition (limit <= 0 means no limit).
func ReadBlob(ctx context.Context, p Provider, desc ocispec.Descriptor, limit int64) ([]byte, error) {
	ra, err := p.ReaderAt(ctx, desc)
	if err != nil {
		return nil, err
	}
	defer ra.Close()
	size := ra.Size()
	if limit > 0 && size > limit {
		return nil, fmt.Errorf("blob %s: size %d exceeds limit %d: %w", desc.Digest, size, limit, errdefs.ErrFailedPrecondition)
	}
	b := make([]byte, size)
	n, err := ra.ReadAt(b, 0)
	if err != nil && !(errors.Is(err, io.EOF) && int64(n) == size) {
		return nil, fmt.Errorf("read blob %s: %w", desc.Digest, err)
	}
	if int64(n) != size {
		return nil, fmt.Errorf("read blob %s: short read %d of %d bytes", desc.Digest, n, size)
	}
	return b, nil
}
