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
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
)

// Lease protects blobs from GC while an operation (a pull, an import, a
// build step) has written them but not yet recorded the image that refers
// to them. Create a lease, put it in the context with WithLease: every blob
// committed (or found already present by Writer) under that context is added
// to the lease. Once the image record is stored, delete the lease. A lease
// with an expiry is ignored, and removed, by GC once it has expired, so a
// crashed operation cannot pin blobs forever.
type Lease struct {
	ID        string          `json:"id"`
	CreatedAt time.Time       `json:"createdAt"`
	ExpiresAt time.Time       `json:"expiresAt,omitzero"` // zero: never
	Resources []digest.Digest `json:"resources,omitempty"`
}

type leaseKey struct{}

// WithLease returns a context whose writes are added to lease id.
func WithLease(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, leaseKey{}, id)
}

// LeaseFromContext returns the lease set by WithLease.
func LeaseFromContext(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(leaseKey{}).(string)
	return id, ok && id != ""
}

func (s *LocalStore) leasePath(id string) string {
	return filepath.Join(s.root, "leases", digest.FromString(id).Encoded()+".json")
}

// CreateLease creates lease id, which expires after ttl (never if ttl is 0).
// errdefs.ErrAlreadyExists if it exists.
func (s *LocalStore) CreateLease(ctx context.Context, id string, ttl time.Duration) (Lease, error) {
	if id == "" || strings.ContainsAny(id, "\x00\n") {
		return Lease{}, fmt.Errorf("create lease %q: invalid id: %w", id, errdefs.ErrInvalidArgument)
	}
	s.leaseMu.Lock()
	defer s.leaseMu.Unlock()
	if _, err := os.Stat(s.leasePath(id)); err == nil {
		return Lease{}, fmt.Errorf("create lease %q: %w", id, errdefs.ErrAlreadyExists)
	}
	l := Lease{ID: id, CreatedAt: time.Now()}
	if ttl > 0 {
		l.ExpiresAt = l.CreatedAt.Add(ttl)
	}
	return l, s.writeLease(l)
}

func (s *LocalStore) writeLease(l Lease) error {
	b, err := json.Marshal(l)
	if err != nil {
		return fmt.Errorf("lease %q: %w", l.ID, err)
	}
	// Not fsynced: a lease protects blobs from the GC of this process; after
	// a power loss the operation that held it is gone and its blobs are
	// garbage anyway (the image is recorded only after they are synced).
	if err := writeFileRename(s.leasePath(l.ID), b); err != nil {
		return fmt.Errorf("lease %q: %w", l.ID, err)
	}
	return nil
}

func (s *LocalStore) readLease(path string) (Lease, error) {
	var l Lease
	b, err := os.ReadFile(path)
	if err != nil {
		return l, err
	}
	if err := json.Unmarshal(b, &l); err != nil {
		return l, fmt.Errorf("lease file %s: %w", path, err)
	}
	return l, nil
}

// Lease returns lease id (errdefs.ErrNotFound if absent).
func (s *LocalStore) Lease(ctx context.Context, id string) (Lease, error) {
	s.leaseMu.Lock()
	defer s.leaseMu.Unlock()
	l, err := s.readLease(s.leasePath(id))
	if errors.Is(err, fs.ErrNotExist) {
		return l, fmt.Errorf("lease %q: %w", id, errdefs.ErrNotFound)
	}
	return l, err
}

// AddLeaseResource adds dgst to lease id (errdefs.ErrNotFound if the lease
// does not exist).
func (s *LocalStore) AddLeaseResource(ctx context.Context, id string, dgst digest.Digest) error {
	if err := checkDigest(dgst); err != nil {
		return fmt.Errorf("lease %q: %w", id, err)
	}
	s.leaseMu.Lock()
	defer s.leaseMu.Unlock()
	l, err := s.readLease(s.leasePath(id))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("lease %q: %w", id, errdefs.ErrNotFound)
	}
	if err != nil {
		return err
	}
	if slices.Contains(l.Resources, dgst) {
		return nil
	}
	l.Resources = append(l.Resources, dgst)
	return s.writeLease(l)
}

// DeleteLease removes lease id; its blobs become collectable unless
// something else references them.
func (s *LocalStore) DeleteLease(ctx context.Context, id string) error {
	s.leaseMu.Lock()
	defer s.leaseMu.Unlock()
	if err := os.Remove(s.leasePath(id)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("delete lease %q: %w", id, errdefs.ErrNotFound)
		}
		return fmt.Errorf("delete lease %q: %w", id, err)
	}
	return nil
}

// ListLeases returns all leases, expired ones included, sorted by ID.
func (s *LocalStore) ListLeases(ctx context.Context) ([]Lease, error) {
	s.leaseMu.Lock()
	defer s.leaseMu.Unlock()
	return s.listLeases()
}

func (s *LocalStore) listLeases() ([]Lease, error) {
	dir := filepath.Join(s.root, "leases")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list leases: %w", err)
	}
	var out []Lease
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		l, err := s.readLease(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		var se *json.SyntaxError
		if errors.As(err, &se) || (err == nil && l.ID == "") {
			// Torn by a power loss (leases are not fsynced): whatever
			// held it died with the machine.
			slog.Warn("content: removing unreadable lease", "file", p, "err", err)
			os.Remove(p)
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}
