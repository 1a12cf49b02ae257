package image

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/containerd/errdefs"

	"github.com/berth/berth/internal/archive"
	"github.com/berth/berth/internal/content"
	"github.com/berth/berth/internal/snapshot"
	"github.com/berth/berth/internal/testutil"
)

// assertNothingKept fails if the service's stores hold any blob, image or
// snapshot, an ingest (when ingests is set), or a spool directory is left
// in dir.
func assertNothingKept(t *testing.T, s *Service, spoolDir string, ingests bool) {
	t.Helper()
	ctx := context.Background()
	var blobs []string
	s.content.Walk(ctx, func(i content.Info) error { blobs = append(blobs, i.Digest.String()); return nil })
	if len(blobs) > 0 {
		t.Errorf("blobs kept: %v", blobs)
	}
	if st, _ := s.content.ListStatuses(ctx); ingests && len(st) > 0 {
		t.Errorf("ingests kept: %v", st)
	}
	if imgs, _ := s.List(ctx, ListOptions{}); len(imgs) > 0 {
		t.Errorf("images recorded: %v", names(imgs))
	}
	var snaps []string
	s.snap.Walk(ctx, func(_ context.Context, i snapshot.Info) error { snaps = append(snaps, i.Name); return nil })
	if len(snaps) > 0 {
		t.Errorf("snapshots kept: %v", snaps)
	}
	if ents, _ := os.ReadDir(spoolDir); len(ents) > 0 {
		t.Errorf("spool left in %s: %d entries", spoolDir, len(ents))
	}
}

// A load archive over Config.MaxLoadSize, one declaring a huge entry, or
// one of too many entries is refused with an error naming the limit, and
// nothing of it is kept.
func TestLoadBounded(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	spoolDir := t.TempDir()
	t.Setenv("TMPDIR", spoolDir)

	// A real docker-archive of 2 MiB of layer, saved by another service.
	src := newTestService(t, "")
	newTestImage(t, makeTar(t, tarEntry{name: "big", body: string(randomBytes(t, 2<<20))})).store(t, src, "big:1")
	var archive bytes.Buffer
	if err := src.Save(ctx, []string{"big:1"}, &archive, FormatDockerArchive); err != nil {
		t.Fatal(err)
	}

	s := newTestService(t, "")
	s.maxLoadSize = 1 << 20
	_, err := s.Load(ctx, bytes.NewReader(archive.Bytes()))
	if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), "exceed the load size limit of 1048576 bytes") {
		t.Fatalf("load of a 2 MiB archive with a 1 MiB limit: %v", err)
	}
	assertNothingKept(t, s, spoolDir, true)

	// Within the limit it loads.
	s.maxLoadSize = 4 << 20
	if _, err := s.Load(ctx, bytes.NewReader(archive.Bytes())); err != nil {
		t.Fatalf("load within the limit: %v", err)
	}

	// A header that declares more than the limit is refused before its
	// body is read (there is none).
	fresh := newTestService(t, "")
	var huge bytes.Buffer
	tw := tar.NewWriter(&huge)
	tw.WriteHeader(&tar.Header{Name: "manifest.json", Typeflag: tar.TypeReg, Size: 1 << 50, Mode: 0o644})
	tw.Flush()
	_, err = fresh.Load(ctx, bytes.NewReader(huge.Bytes()))
	if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), `"manifest.json"`) || !strings.Contains(err.Error(), fmt.Sprint(int64(DefaultMaxLoadSize))) {
		t.Fatalf("load of an entry declaring 1 PiB: %v", err)
	}
	assertNothingKept(t, fresh, spoolDir, true)

	// Endless entries: refused at the entry limit.
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		for i := 0; i <= maxLoadEntries; i++ {
			if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("d%d/", i), Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		pw.CloseWithError(tw.Close())
	}()
	_, err = fresh.Load(ctx, pr)
	pr.CloseWithError(io.ErrClosedPipe)
	if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), fmt.Sprintf("more than %d entries", maxLoadEntries)) {
		t.Fatalf("load of %d entries: %v", maxLoadEntries+1, err)
	}
	assertNothingKept(t, fresh, spoolDir, true)
}

// endlessTar is a tar stream of one file that never ends.
type endlessTar struct{ hdr []byte }

func newEndlessTar() *endlessTar {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	tw.WriteHeader(&tar.Header{Name: "endless", Typeflag: tar.TypeReg, Size: 1 << 50, Mode: 0o644})
	tw.Flush()
	return &endlessTar{hdr: b.Bytes()}
}

func (e *endlessTar) Read(p []byte) (int, error) {
	if len(e.hdr) > 0 {
		n := copy(p, e.hdr)
		e.hdr = e.hdr[n:]
		return n, nil
	}
	clear(p)
	return len(p), nil
}

// An import that expands past archive.MaxLayerSize (a gzip bomb, an endless
// body, an endless URL) is refused with an error naming the limit, and
// nothing of it is kept.
func TestImportBounded(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	old := archive.MaxLayerSize
	t.Cleanup(func() { archive.MaxLayerSize = old })
	archive.MaxLayerSize = 1 << 20
	const want = "the uncompressed layer exceeds the limit of 1048576 bytes"

	bomb := gz(t, makeTar(t, tarEntry{name: "zeros", body: string(make([]byte, 8<<20))}))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(w, newEndlessTar())
	}))
	t.Cleanup(srv.Close)
	for name, imp := range map[string]func(s *Service) error{
		"gzip bomb": func(s *Service) error {
			_, err := s.Import(ctx, bytes.NewReader(bomb), ImportOptions{Ref: "bomb:1"})
			return err
		},
		"endless body": func(s *Service) error {
			_, err := s.Import(ctx, newEndlessTar(), ImportOptions{Ref: "endless:1"})
			return err
		},
		"endless url": func(s *Service) error {
			_, err := s.Import(ctx, nil, ImportOptions{Ref: "url:1", URL: srv.URL + "/rootfs.tar"})
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			s := newTestService(t, "")
			err := imp(s)
			if !errors.Is(err, archive.ErrLayerTooLarge) || !strings.Contains(err.Error(), want) {
				t.Fatalf("import: %v, want %q", err, want)
			}
			// No blob, image, snapshot or ingest is left.
			assertNothingKept(t, s, t.TempDir(), true)
		})
	}
	// Within the bound an import works.
	archive.MaxLayerSize = 16 << 20
	s := newTestService(t, "")
	if _, err := s.Import(ctx, bytes.NewReader(bomb), ImportOptions{Ref: "fits:1"}); err != nil {
		t.Fatalf("import within the bound: %v", err)
	}
}
