package registry

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth/berth/internal/registry/storage"
)

// An upload interrupted by a crash (the process dies with the upload half
// written) leaves no visible blob; after a restart the client can resume
// it, and an abandoned one is purged after the upload TTL.
func TestCrashSafeUploads(t *testing.T) {
	dir := t.TempDir()
	d, err := storage.NewFilesystem(dir)
	if err != nil {
		t.Fatal(err)
	}
	tr := newTestRegistry(t, d, ServerOptions{})
	b, dg := randomBlob(t, 100000)
	r := tr.do("POST", "/v2/r/blobs/uploads/", nil)
	loc := r.header.Get("Location")
	tr.expect(tr.do("PATCH", loc, b[:40000], "Content-Range", "0-39999"), 202, "")
	tr.expect(tr.do("HEAD", "/v2/r/blobs/"+dg, nil), 404, "")

	// "Restart": a new store and server over the same directory; the
	// in-memory hash state is gone.
	d2, _ := storage.NewFilesystem(dir)
	tr2 := newTestRegistry(t, d2, ServerOptions{})
	tr2.expect(tr2.do("HEAD", "/v2/r/blobs/"+dg, nil), 404, "")
	r = tr2.do("GET", loc, nil)
	tr2.expect(r, 204, "")
	if r.header.Get("Range") != "0-39999" {
		t.Fatalf("Range after restart = %q", r.header.Get("Range"))
	}
	tr2.expect(tr2.do("PUT", loc+"?digest="+dg, b[40000:], "Content-Range", "40000-99999"), 201, "")
	got := tr2.do("GET", "/v2/r/blobs/"+dg, nil)
	if string(got.body) != string(b) {
		t.Fatal("blob resumed after restart differs")
	}

	// An abandoned upload is purged once older than the TTL, not before.
	r = tr2.do("POST", "/v2/r/blobs/uploads/", nil)
	loc = r.header.Get("Location")
	tr2.expect(tr2.do("PATCH", loc, b[:10]), 202, "")
	if n, err := tr2.store.PurgeUploads(t.Context(), time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("purge of young uploads: %d, %v", n, err)
	}
	if n, err := tr2.store.PurgeUploads(t.Context(), time.Now().Add(time.Second)); err != nil || n != 1 {
		t.Fatalf("purge of old uploads: %d, %v", n, err)
	}
	tr2.expect(tr2.do("GET", loc, nil), 404, "BLOB_UPLOAD_UNKNOWN")
}

// fullDriver fails every write with ENOSPC once full is set.
type fullDriver struct {
	storage.Driver
	full bool
}

func (f *fullDriver) PutContent(ctx context.Context, path string, b []byte) error {
	if f.full && !strings.HasPrefix(path, "gc/") {
		return fmt.Errorf("put %s: %w", path, syscall.ENOSPC)
	}
	return f.Driver.PutContent(ctx, path, b)
}

type fullWriter struct{ storage.FileWriter }

func (fullWriter) Write([]byte) (int, error) { return 0, syscall.ENOSPC }

func (f *fullDriver) Writer(ctx context.Context, path string, appendMode bool) (storage.FileWriter, error) {
	w, err := f.Driver.Writer(ctx, path, appendMode)
	if err != nil || !f.full {
		return w, err
	}
	return fullWriter{w}, nil
}

func TestFullDiskFailsWritesAndKeepsServingReads(t *testing.T) {
	fd := &fullDriver{Driver: storage.NewMemory()}
	tr := newTestRegistry(t, fd, ServerOptions{})
	img := makeImage(t, 1, 1000)
	tr.expect(tr.pushImage("r", "v1", img), 201, "")
	fd.full = true
	b, dg := randomBlob(t, 1000)
	r := tr.do("POST", "/v2/r/blobs/uploads/", nil)
	if r.status != 507 {
		t.Fatalf("start upload on a full disk: %d %s", r.status, r.body)
	}
	r = tr.do("POST", "/v2/r/blobs/uploads/?digest="+dg, b)
	if r.status != 507 {
		t.Fatalf("monolithic upload on a full disk: %d %s", r.status, r.body)
	}
	tr.expect(tr.do("HEAD", "/v2/r/blobs/"+dg, nil), 404, "")
	img2 := makeImage(t, 0, 0)
	img2.config = img.config
	img2.manifest = []byte(strings.Replace(string(img.manifest), `"layers"`, `"annotations":{"a":"b"},"layers"`, 1))
	r = tr.do("PUT", "/v2/r/manifests/v2", img2.manifest, "Content-Type", MediaTypeOCIManifest)
	if r.status != 507 {
		t.Fatalf("manifest push on a full disk: %d %s", r.status, r.body)
	}
	if err := tr.pullImage("r", "v1", img); err != nil {
		t.Fatalf("read while the disk is full: %v", err)
	}
	fd.full = false
	tr.expect(tr.do("POST", "/v2/r/blobs/uploads/?digest="+dg, b), 201, "")
}
