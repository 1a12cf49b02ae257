package metadata

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/containerd/errdefs"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

var (
	bucketV1     = []byte("v1")
	bucketImages = []byte("images")
	bucketTarget = []byte("target")
	bucketLabels = []byte("labels")

	keyCreatedAt = []byte("createdat")
	keyUpdatedAt = []byte("updatedat")
	keyDigest    = []byte("digest")
	keyMediaType = []byte("mediatype")
	keySize      = []byte("size")
)

// DB is the metadata database. It is safe for concurrent use; one process
// opens it at a time (a second Open waits a second, then fails with
// errdefs.ErrUnavailable).
type DB struct {
	bdb *bolt.DB
}

// Open opens (creating if needed) the database at path.
func Open(path string) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open metadata %s: %w", path, err)
	}
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("open metadata %s: locked by another process: %w", path, errdefs.ErrUnavailable)
		}
		return nil, fmt.Errorf("open metadata %s: %w", path, err)
	}
	err = bdb.Update(func(tx *bolt.Tx) error {
		v1, err := tx.CreateBucketIfNotExists(bucketV1)
		if err != nil {
			return err
		}
		_, err = v1.CreateBucketIfNotExists(bucketImages)
		return err
	})
	if err != nil {
		bdb.Close()
		return nil, fmt.Errorf("open metadata %s: %w", path, err)
	}
	return &DB{bdb: bdb}, nil
}

// Close closes the database.
func (db *DB) Close() error {
	if err := db.bdb.Close(); err != nil {
		return fmt.Errorf("close metadata: %w", err)
	}
	return nil
}

// Tx is a transaction: every change made through it is applied together
// when the function given to DB.Update returns nil, or not at all.
type Tx struct {
	btx *bolt.Tx
}

// Images returns the image records as seen by this transaction.
func (tx *Tx) Images() *ImageTx { return &ImageTx{tx: tx} }

// View runs fn in a read-only transaction.
func (db *DB) View(ctx context.Context, fn func(*Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.bdb.View(func(btx *bolt.Tx) error { return fn(&Tx{btx: btx}) })
}

// Update runs fn in a read-write transaction, committed if fn returns nil
// and rolled back otherwise.
func (db *DB) Update(ctx context.Context, fn func(*Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.bdb.Update(func(btx *bolt.Tx) error { return fn(&Tx{btx: btx}) })
}
