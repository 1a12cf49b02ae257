package metadata

import (
	"context"
	"encoding/binary"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"
)

// Image is an image record: a name pointing at a manifest or index.
type Image struct {
	// Name is the normalised reference (see NormalizeName). Create and
	// Get accept any form and normalise it.
	Name string
	// Target is the image's manifest or index; only its Digest,
	// MediaType and Size are stored.
	Target    ocispec.Descriptor
	CreatedAt time.Time
	UpdatedAt time.Time
	Labels    map[string]string
}

// maxLabelSize bounds one label's key plus value, as containerd does.
const maxLabelSize = 4096

func validateImage(img *Image) error {
	name, err := NormalizeName(img.Name)
	if err != nil {
		return err
	}
	img.Name = name
	return validateTargetAndLabels(*img)
}

func validateTargetAndLabels(img Image) error {
	t := img.Target
	if err := t.Digest.Validate(); err != nil {
		return fmt.Errorf("image %s: target digest %q: %v: %w", img.Name, t.Digest, err, errdefs.ErrInvalidArgument)
	}
	if t.MediaType == "" {
		return fmt.Errorf("image %s: target media type is empty: %w", img.Name, errdefs.ErrInvalidArgument)
	}
	if t.Size <= 0 {
		return fmt.Errorf("image %s: target size %d must be positive: %w", img.Name, t.Size, errdefs.ErrInvalidArgument)
	}
	for k, v := range img.Labels {
		if k == "" {
			return fmt.Errorf("image %s: empty label key: %w", img.Name, errdefs.ErrInvalidArgument)
		}
		if len(k)+len(v) > maxLabelSize {
			return fmt.Errorf("image %s: label %q: key and value exceed %d bytes: %w", img.Name, k, maxLabelSize, errdefs.ErrInvalidArgument)
		}
	}
	return nil
}

// ImageTx reads and changes image records within one transaction.
type ImageTx struct {
	tx *Tx
}

func (it *ImageTx) bucket() *bolt.Bucket {
	return it.tx.btx.Bucket(bucketV1).Bucket(bucketImages)
}

// Create stores img under its normalised name, setting CreatedAt and
// UpdatedAt, and returns the stored record. errdefs.ErrAlreadyExists if
// the name is taken; errdefs.ErrInvalidArgument for a bad name, target or
// label.
func (it *ImageTx) Create(img Image) (Image, error) {
	if err := validateImage(&img); err != nil {
		return Image{}, fmt.Errorf("create image: %w", err)
	}
	b := it.bucket()
	if b.Bucket([]byte(img.Name)) != nil {
		return Image{}, fmt.Errorf("create image %s: %w", img.Name, errdefs.ErrAlreadyExists)
	}
	now := time.Now().UTC()
	img.CreatedAt, img.UpdatedAt = now, now
	ib, err := b.CreateBucket([]byte(img.Name))
	if err != nil {
		return Image{}, fmt.Errorf("create image %s: %w", img.Name, err)
	}
	if err := writeImage(ib, img); err != nil {
		return Image{}, fmt.Errorf("create image %s: %w", img.Name, err)
	}
	return img, nil
}

func writeImage(ib *bolt.Bucket, img Image) error {
	for k, t := range map[string]time.Time{string(keyCreatedAt): img.CreatedAt, string(keyUpdatedAt): img.UpdatedAt} {
		v, err := t.MarshalBinary()
		if err != nil {
			return err
		}
		if err := ib.Put([]byte(k), v); err != nil {
			return err
		}
	}
	if ib.Bucket(bucketTarget) != nil {
		if err := ib.DeleteBucket(bucketTarget); err != nil {
			return err
		}
	}
	tb, err := ib.CreateBucket(bucketTarget)
	if err != nil {
		return err
	}
	size := binary.AppendUvarint(nil, uint64(img.Target.Size))
	if err := tb.Put(keyDigest, []byte(img.Target.Digest)); err != nil {
		return err
	}
	if err := tb.Put(keyMediaType, []byte(img.Target.MediaType)); err != nil {
		return err
	}
	if err := tb.Put(keySize, size); err != nil {
		return err
	}
	if ib.Bucket(bucketLabels) != nil {
		if err := ib.DeleteBucket(bucketLabels); err != nil {
			return err
		}
	}
	if len(img.Labels) > 0 {
		lb, err := ib.CreateBucket(bucketLabels)
		if err != nil {
			return err
		}
		for k, v := range img.Labels {
			if err := lb.Put([]byte(k), []byte(v)); err != nil {
				return err
			}
		}
	}
	return nil
}

func readImage(name string, ib *bolt.Bucket) (Image, error) {
	img := Image{Name: name}
	if err := img.CreatedAt.UnmarshalBinary(ib.Get(keyCreatedAt)); err != nil {
		return img, fmt.Errorf("image %s: createdat: %w", name, err)
	}
	if err := img.UpdatedAt.UnmarshalBinary(ib.Get(keyUpdatedAt)); err != nil {
		return img, fmt.Errorf("image %s: updatedat: %w", name, err)
	}
	tb := ib.Bucket(bucketTarget)
	if tb == nil {
		return img, fmt.Errorf("image %s: no target bucket", name)
	}
	img.Target.Digest = digest.Digest(tb.Get(keyDigest))
	img.Target.MediaType = string(tb.Get(keyMediaType))
	size, n := binary.Uvarint(tb.Get(keySize))
	if n <= 0 {
		return img, fmt.Errorf("image %s: bad target size", name)
	}
	img.Target.Size = int64(size)
	if lb := ib.Bucket(bucketLabels); lb != nil {
		img.Labels = map[string]string{}
		err := lb.ForEach(func(k, v []byte) error {
			img.Labels[string(k)] = string(v)
			return nil
		})
		if err != nil {
			return img, err
		}
	}
	return img, nil
}

// Get returns the record for name (any form; it is normalised), or
// errdefs.ErrNotFound.
func (it *ImageTx) Get(name string) (Image, error) {
	n, err := NormalizeName(name)
	if err != nil {
		return Image{}, fmt.Errorf("get image: %w", err)
	}
	ib := it.bucket().Bucket([]byte(n))
	if ib == nil {
		return Image{}, fmt.Errorf("image %s: %w", n, errdefs.ErrNotFound)
	}
	return readImage(n, ib)
}

// List returns the records that match any of filters (all when none is
// given), sorted by name. See ParseFilter for the syntax.
func (it *ImageTx) List(filters ...string) ([]Image, error) {
	match, err := matchAny(filters...)
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	var out []Image
	err = it.bucket().ForEachBucket(func(k []byte) error {
		img, err := readImage(string(k), it.bucket().Bucket(k))
		if err != nil {
			return err
		}
		if match(img) {
			out = append(out, img)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Update changes the record img.Name and returns it. fieldpaths choose what
// changes: "target", "labels" (all labels replaced by img.Labels) or
// "labels.KEY" (KEY set from img.Labels, or removed when absent there);
// none means target and labels. UpdatedAt is set; CreatedAt is kept.
// errdefs.ErrNotFound if there is no such record.
func (it *ImageTx) Update(img Image, fieldpaths ...string) (Image, error) {
	cur, err := it.Get(img.Name)
	if err != nil {
		return Image{}, fmt.Errorf("update: %w", err)
	}
	if len(fieldpaths) == 0 {
		fieldpaths = []string{"target", "labels"}
	}
	next := cur
	next.Labels = map[string]string{}
	for k, v := range cur.Labels {
		next.Labels[k] = v
	}
	for _, fp := range fieldpaths {
		switch {
		case fp == "target":
			next.Target = ocispec.Descriptor{Digest: img.Target.Digest, MediaType: img.Target.MediaType, Size: img.Target.Size}
		case fp == "labels":
			next.Labels = map[string]string{}
			for k, v := range img.Labels {
				next.Labels[k] = v
			}
		case strings.HasPrefix(fp, "labels.") && len(fp) > len("labels."):
			key := strings.TrimPrefix(fp, "labels.")
			if v, ok := img.Labels[key]; ok {
				next.Labels[key] = v
			} else {
				delete(next.Labels, key)
			}
		default:
			return Image{}, fmt.Errorf("update image %s: field %q cannot be updated (want target, labels or labels.KEY): %w", cur.Name, fp, errdefs.ErrInvalidArgument)
		}
	}
	if err := validateTargetAndLabels(next); err != nil {
		return Image{}, fmt.Errorf("update: %w", err)
	}
	if len(next.Labels) == 0 {
		next.Labels = nil
	}
	next.UpdatedAt = time.Now().UTC()
	if err := writeImage(it.bucket().Bucket([]byte(cur.Name)), next); err != nil {
		return Image{}, fmt.Errorf("update image %s: %w", cur.Name, err)
	}
	return next, nil
}

// Delete removes the record name, or returns errdefs.ErrNotFound.
func (it *ImageTx) Delete(name string) error {
	n, err := NormalizeName(name)
	if err != nil {
		return fmt.Errorf("delete image: %w", err)
	}
	if it.bucket().Bucket([]byte(n)) == nil {
		return fmt.Errorf("delete image %s: %w", n, errdefs.ErrNotFound)
	}
	if err := it.bucket().DeleteBucket([]byte(n)); err != nil {
		return fmt.Errorf("delete image %s: %w", n, err)
	}
	return nil
}

// ImageStore is ImageTx with one transaction per call.
type ImageStore struct {
	db *DB
}

// Images returns the image records, each call in its own transaction.
func (db *DB) Images() *ImageStore { return &ImageStore{db: db} }

// Create is ImageTx.Create in its own transaction.
func (s *ImageStore) Create(ctx context.Context, img Image) (out Image, err error) {
	err = s.db.Update(ctx, func(tx *Tx) error { out, err = tx.Images().Create(img); return err })
	return out, err
}

// Get is ImageTx.Get in its own transaction.
func (s *ImageStore) Get(ctx context.Context, name string) (out Image, err error) {
	err = s.db.View(ctx, func(tx *Tx) error { out, err = tx.Images().Get(name); return err })
	return out, err
}

// List is ImageTx.List in its own transaction.
func (s *ImageStore) List(ctx context.Context, filters ...string) (out []Image, err error) {
	err = s.db.View(ctx, func(tx *Tx) error { out, err = tx.Images().List(filters...); return err })
	return out, err
}

// Update is ImageTx.Update in its own transaction.
func (s *ImageStore) Update(ctx context.Context, img Image, fieldpaths ...string) (out Image, err error) {
	err = s.db.Update(ctx, func(tx *Tx) error { out, err = tx.Images().Update(img, fieldpaths...); return err })
	return out, err
}

// Delete is ImageTx.Delete in its own transaction.
func (s *ImageStore) Delete(ctx context.Context, name string) error {
	return s.db.Update(ctx, func(tx *Tx) error { return tx.Images().Delete(name) })
}
