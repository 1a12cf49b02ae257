package contenttest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth/berth/internal/content"
)

// Run runs the conformance suite against stores made by newStore, which
// must return a new, empty store that the test owns (cleaned up through
// t.Cleanup).
func Run(t *testing.T, newStore func(t *testing.T) content.Store) {
	cases := []struct {
		name string
		fn   func(t *testing.T, s content.Store)
	}{
		{"WriteCommitRead", testWriteCommitRead},
		{"CommitWithoutExpected", testCommitWithoutExpected},
		{"SHA512", testSHA512},
		{"DigestMismatch", testDigestMismatch},
		{"SizeMismatch", testSizeMismatch},
		{"SizeOverflow", testSizeOverflow},
		{"AlreadyExists", testAlreadyExists},
		{"ResumeAfterClose", testResumeAfterClose},
		{"Truncate", testTruncate},
		{"Abort", testAbort},
		{"ConcurrentWritersOneRef", testConcurrentWriters},
		{"ConcurrentWriteBlob", testConcurrentWriteBlob},
		{"Walk", testWalk},
		{"Delete", testDelete},
		{"Labels", testLabels},
		{"InvalidArguments", testInvalidArguments},
		{"ReaderAtSize", testReaderAtSize},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.fn(t, newStore(t))
		})
	}
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func desc(b []byte) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: "application/octet-stream", Digest: digest.FromBytes(b), Size: int64(len(b))}
}

// commit writes b as a blob and fails the test on error.
func commit(t *testing.T, s content.Store, ref string, b []byte, opts ...content.CommitOpt) digest.Digest {
	t.Helper()
	d := desc(b)
	if err := content.WriteBlob(context.Background(), s, ref, bytes.NewReader(b), d, opts...); err != nil {
		t.Fatalf("write blob %s: %v", ref, err)
	}
	return d.Digest
}

// readAll reads dgst back and fails the test on error.
func readAll(t *testing.T, s content.Store, dgst digest.Digest) []byte {
	t.Helper()
	b, err := content.ReadBlob(context.Background(), s, ocispec.Descriptor{Digest: dgst}, 0)
	if err != nil {
		t.Fatalf("read %s: %v", dgst, err)
	}
	return b
}

func assertVisible(t *testing.T, s content.Store, dgst digest.Digest, want bool) {
	t.Helper()
	_, err := s.Info(context.Background(), dgst)
	switch {
	case want && err != nil:
		t.Fatalf("blob %s should be visible: %v", dgst, err)
	case !want && err == nil:
		t.Fatalf("blob %s should not be visible", dgst)
	case !want && !errdefs.IsNotFound(err):
		t.Fatalf("Info(%s) = %v, want not found", dgst, err)
	}
}

func testWriteCommitRead(t *testing.T, s content.Store) {
	ctx := context.Background()
	b := randomBytes(t, 100<<10)
	d := desc(b)
	before := time.Now().Add(-time.Second)
	w, err := s.Writer(ctx, "ref-1", d.Size, d.Digest)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Write(b[:1000]); err != nil {
		t.Fatal(err)
	}
	assertVisible(t, s, d.Digest, false) // in progress: invisible
	if _, err := w.Write(b[1000:]); err != nil {
		t.Fatal(err)
	}
	st, err := w.Status()
	if err != nil || st.Offset != d.Size || st.Total != d.Size || st.Expected != d.Digest || st.Ref != "ref-1" {
		t.Fatalf("Status = %+v, %v; want offset and total %d, expected %s", st, err, d.Size, d.Digest)
	}
	if w.Digest() != d.Digest {
		t.Fatalf("Digest() = %s, want %s", w.Digest(), d.Digest)
	}
	if err := w.Commit(ctx, d.Size, d.Digest); err != nil {
		t.Fatalf("commit: %v", err)
	}
	info, err := s.Info(ctx, d.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if info.Digest != d.Digest || info.Size != d.Size || info.CreatedAt.Before(before) {
		t.Fatalf("Info = %+v, want digest %s size %d created after %v", info, d.Digest, d.Size, before)
	}
	if got := readAll(t, s, d.Digest); !bytes.Equal(got, b) {
		t.Fatal("blob read back differs from what was written")
	}
	ra, err := s.ReaderAt(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	defer ra.Close()
	part := make([]byte, 10)
	if _, err := ra.ReadAt(part, 500); err != nil || !bytes.Equal(part, b[500:510]) || ra.Size() != d.Size {
		t.Fatalf("ReadAt(500) = %x, %v, size %d; want %x, size %d", part, err, ra.Size(), b[500:510], d.Size)
	}
	if _, err := s.Status(ctx, "ref-1"); !errdefs.IsNotFound(err) {
		t.Fatalf("Status of a committed ingest = %v, want not found", err)
	}
}

func testCommitWithoutExpected(t *testing.T, s content.Store) {
	ctx := context.Background()
	b := []byte("no digest known in advance")
	w, err := s.Writer(ctx, "unknown", 0, "")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx, 0, ""); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, s, digest.FromBytes(b)); !bytes.Equal(got, b) {
		t.Fatalf("read back %q, want %q", got, b)
	}
}

func testSHA512(t *testing.T, s content.Store) {
	ctx := context.Background()
	b := randomBytes(t, 4096)
	d := ocispec.Descriptor{Digest: digest.SHA512.FromBytes(b), Size: int64(len(b))}
	if err := content.WriteBlob(ctx, s, "sha512", bytes.NewReader(b), d); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, s, d.Digest); !bytes.Equal(got, b) {
		t.Fatal("sha512 blob read back differs")
	}
	// Unknown in advance, verified at commit with sha512.
	b2 := randomBytes(t, 100)
	d2 := digest.SHA512.FromBytes(b2)
	w, err := s.Writer(ctx, "sha512-late", 0, "")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.Write(b2)
	if err := w.Commit(ctx, int64(len(b2)), d2); err != nil {
		t.Fatalf("commit with sha512 digest given late: %v", err)
	}
	assertVisible(t, s, d2, true)
}

func testDigestMismatch(t *testing.T, s content.Store) {
	ctx := context.Background()
	b := []byte("the real content")
	wrong := digest.FromString("something else")
	w, err := s.Writer(ctx, "mismatch", int64(len(b)), wrong)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	err = w.Commit(ctx, int64(len(b)), wrong)
	if !errdefs.IsFailedPrecondition(err) {
		t.Fatalf("commit with wrong digest = %v, want failed precondition", err)
	}
	actual := digest.FromBytes(b)
	for _, want := range []string{wrong.String(), actual.String(), "16"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	assertVisible(t, s, wrong, false)
	assertVisible(t, s, actual, false)
}

func testSizeMismatch(t *testing.T, s content.Store) {
	ctx := context.Background()
	b := []byte("short")
	d := digest.FromBytes(b)
	w, err := s.Writer(ctx, "short", 0, "")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.Write(b)
	err = w.Commit(ctx, 10, d)
	if !errdefs.IsFailedPrecondition(err) || !strings.Contains(err.Error(), "10") || !strings.Contains(err.Error(), "5") {
		t.Fatalf("commit of 5 bytes declared as 10 = %v, want failed precondition naming both sizes", err)
	}
	assertVisible(t, s, d, false)
}

func testSizeOverflow(t *testing.T, s content.Store) {
	ctx := context.Background()
	b := []byte("0123456789")
	d := digest.FromBytes(b[:8])
	w, err := s.Writer(ctx, "overflow", 8, d)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Write(b[:6]); err != nil {
		t.Fatal(err)
	}
	n, err := w.Write(b[6:])
	if !errdefs.IsFailedPrecondition(err) || n != 0 {
		t.Fatalf("write past the declared size = %d, %v; want 0, failed precondition", n, err)
	}
	if st, _ := w.Status(); st.Offset != 6 {
		t.Fatalf("offset after the refused write = %d, want 6", st.Offset)
	}
	if err := w.Commit(ctx, 8, d); err == nil {
		t.Fatal("commit of a short ingest succeeded")
	}
	assertVisible(t, s, d, false)
	assertVisible(t, s, digest.FromBytes(b), false)
}

func testAlreadyExists(t *testing.T, s content.Store) {
	ctx := context.Background()
	b := []byte("exists")
	d := commit(t, s, "first", b)
	if _, err := s.Writer(ctx, "second", int64(len(b)), d); !errdefs.IsAlreadyExists(err) {
		t.Fatalf("Writer for a committed digest = %v, want already exists", err)
	}
	// An ingest without expected digest that turns out to be present.
	w, err := s.Writer(ctx, "third", 0, "")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.Write(b)
	if err := w.Commit(ctx, 0, ""); !errdefs.IsAlreadyExists(err) {
		t.Fatalf("commit of a present blob = %v, want already exists", err)
	}
	if _, err := s.Status(ctx, "third"); !errdefs.IsNotFound(err) {
		t.Fatalf("ingest after an already-exists commit: %v, want removed", err)
	}
}

func testResumeAfterClose(t *testing.T, s content.Store) {
	ctx := context.Background()
	b := randomBytes(t, 64<<10)
	d := desc(b)
	w, err := s.Writer(ctx, "resume", d.Size, d.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(b[:20000]); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := s.Status(ctx, "resume")
	if err != nil || st.Offset != 20000 || st.Total != d.Size || st.Expected != d.Digest {
		t.Fatalf("Status after Close = %+v, %v; want offset 20000", st, err)
	}
	assertVisible(t, s, d.Digest, false)
	w, err = s.Writer(ctx, "resume", d.Size, d.Digest)
	if err != nil {
		t.Fatalf("resume: %v", err)
	}
	defer w.Close()
	if st, _ := w.Status(); st.Offset != 20000 {
		t.Fatalf("resumed writer at %d, want 20000", st.Offset)
	}
	if _, err := w.Write(b[20000:]); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx, d.Size, d.Digest); err != nil {
		t.Fatalf("commit of resumed ingest: %v", err)
	}
	if !bytes.Equal(readAll(t, s, d.Digest), b) {
		t.Fatal("resumed blob differs")
	}
	// WriteBlob resumes too, seeking its reader.
	b2 := randomBytes(t, 5000)
	d2 := desc(b2)
	w, err = s.Writer(ctx, "resume-2", d2.Size, d2.Digest)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(b2[:3000])
	w.Close()
	if err := content.WriteBlob(ctx, s, "resume-2", bytes.NewReader(b2), d2); err != nil {
		t.Fatalf("WriteBlob resume: %v", err)
	}
	if !bytes.Equal(readAll(t, s, d2.Digest), b2) {
		t.Fatal("blob resumed by WriteBlob differs")
	}
}

func testTruncate(t *testing.T, s content.Store) {
	ctx := context.Background()
	b := []byte("good content")
	d := desc(b)
	w, err := s.Writer(ctx, "truncate", d.Size, d.Digest)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.Write([]byte("bad "))
	if err := w.Truncate(5); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("Truncate beyond offset = %v, want invalid argument", err)
	}
	if err := w.Truncate(0); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx, d.Size, d.Digest); err != nil {
		t.Fatalf("commit after Truncate(0): %v", err)
	}
	if got := readAll(t, s, d.Digest); !bytes.Equal(got, b) {
		t.Fatalf("read %q, want %q", got, b)
	}
}

func testAbort(t *testing.T, s content.Store) {
	ctx := context.Background()
	w, err := s.Writer(ctx, "abort", 0, "")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("partial"))
	if err := s.Abort(ctx, "abort"); !errdefs.IsUnavailable(err) {
		t.Fatalf("Abort of a held ingest = %v, want unavailable", err)
	}
	w.Close()
	sts, err := s.ListStatuses(ctx)
	if err != nil || len(sts) != 1 || sts[0].Ref != "abort" || sts[0].Offset != 7 {
		t.Fatalf("ListStatuses = %+v, %v; want one ingest abort at 7", sts, err)
	}
	if err := s.Abort(ctx, "abort"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Status(ctx, "abort"); !errdefs.IsNotFound(err) {
		t.Fatalf("Status after Abort = %v, want not found", err)
	}
	if err := s.Abort(ctx, "abort"); !errdefs.IsNotFound(err) {
		t.Fatalf("second Abort = %v, want not found", err)
	}
}

func testConcurrentWriters(t *testing.T, s content.Store) {
	ctx := context.Background()
	b := randomBytes(t, 10000)
	d := desc(b)
	w, err := s.Writer(ctx, "shared", d.Size, d.Digest)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := s.Writer(ctx, "shared", d.Size, d.Digest); !errdefs.IsUnavailable(err) {
		t.Fatalf("second Writer for a locked ref = %v, want unavailable", err)
	}
	if _, err := s.Writer(ctx, "other-ref-same-digest", d.Size, d.Digest); !errdefs.IsUnavailable(err) {
		t.Fatalf("Writer for a digest being written under another ref = %v, want unavailable", err)
	}
	// A waiter joins: it must see the blob committed by the first writer.
	result := make(chan error, 1)
	go func() {
		wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		w2, err := content.OpenWriter(wctx, s, "shared", d.Size, d.Digest)
		if err == nil {
			w2.Close()
			err = errors.New("waiter got a writer instead of the committed blob")
		}
		result <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx, d.Size, d.Digest); err != nil {
		t.Fatal(err)
	}
	if err := <-result; !errdefs.IsAlreadyExists(err) {
		t.Fatalf("waiter = %v, want already exists", err)
	}
	// Once closed, the ref is free again.
	w3, err := s.Writer(ctx, "shared", 0, "")
	if err != nil {
		t.Fatalf("Writer after the holder committed: %v", err)
	}
	w3.Close()
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r  io.Reader
	mu *sync.Mutex
	n  *int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.mu.Lock()
	*c.n += int64(n)
	c.mu.Unlock()
	return n, err
}

func testConcurrentWriteBlob(t *testing.T, s content.Store) {
	ctx := context.Background()
	b := randomBytes(t, 1<<20)
	d := desc(b)
	var mu sync.Mutex
	var read int64
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := countingReader{r: bytes.NewReader(b), mu: &mu, n: &read}
			errs <- content.WriteBlob(ctx, s, "pull-"+d.Digest.String(), r, d)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent WriteBlob: %v", err)
		}
	}
	if !bytes.Equal(readAll(t, s, d.Digest), b) {
		t.Fatal("blob written concurrently differs")
	}
	// One download: the later writers found the blob and read nothing
	// (or resumed the same ingest), so the source was read about once.
	if read > 2*d.Size {
		t.Fatalf("source read %d bytes for a %d byte blob: downloads were not shared", read, d.Size)
	}
}

func testWalk(t *testing.T, s content.Store) {
	ctx := context.Background()
	d1 := commit(t, s, "w1", []byte("one"), content.WithLabels(map[string]string{"kind": "layer", "io.berth/x.y": "1"}))
	d2 := commit(t, s, "w2", []byte("two"), content.WithLabels(map[string]string{"kind": "config"}))
	d3 := commit(t, s, "w3", []byte("three"))
	walk := func(filters ...string) map[digest.Digest]bool {
		t.Helper()
		got := map[digest.Digest]bool{}
		if err := s.Walk(ctx, func(i content.Info) error { got[i.Digest] = true; return nil }, filters...); err != nil {
			t.Fatalf("Walk(%q): %v", filters, err)
		}
		return got
	}
	if got := walk(); len(got) != 3 || !got[d1] || !got[d2] || !got[d3] {
		t.Fatalf("Walk() = %v, want all three", got)
	}
	if got := walk("labels.kind==layer"); len(got) != 1 || !got[d1] {
		t.Fatalf("Walk(kind==layer) = %v, want %s", got, d1)
	}
	if got := walk("labels.kind"); len(got) != 2 || got[d3] {
		t.Fatalf("Walk(labels.kind) = %v, want the two labelled", got)
	}
	if got := walk(`labels."io.berth/x.y"==1`, "labels.kind==config"); len(got) != 2 || !got[d1] || !got[d2] {
		t.Fatalf("Walk(OR of two filters) = %v, want %s and %s", got, d1, d2)
	}
	if got := walk("labels.kind!=layer"); len(got) != 2 || got[d1] {
		t.Fatalf("Walk(kind!=layer) = %v, want the other two", got)
	}
	if got := walk("digest==" + d3.String()); len(got) != 1 || !got[d3] {
		t.Fatalf("Walk(digest==) = %v, want %s", got, d3)
	}
	if err := s.Walk(ctx, func(content.Info) error { return nil }, "bogus==1"); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("Walk with a bad filter = %v, want invalid argument", err)
	}
	stop := errors.New("stop")
	n := 0
	if err := s.Walk(ctx, func(content.Info) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Fatalf("Walk whose fn fails = %v after %d calls, want stop after 1", err, n)
	}
}

func testDelete(t *testing.T, s content.Store) {
	ctx := context.Background()
	d := commit(t, s, "del", []byte("to delete"), content.WithLabels(map[string]string{"a": "b"}))
	if err := s.Delete(ctx, d); err != nil {
		t.Fatal(err)
	}
	assertVisible(t, s, d, false)
	if _, err := s.ReaderAt(ctx, ocispec.Descriptor{Digest: d}); !errdefs.IsNotFound(err) {
		t.Fatalf("ReaderAt after Delete = %v, want not found", err)
	}
	if err := s.Delete(ctx, d); !errdefs.IsNotFound(err) {
		t.Fatalf("second Delete = %v, want not found", err)
	}
	// Written again, it comes back without the old labels.
	commit(t, s, "del", []byte("to delete"))
	if info, err := s.Info(ctx, d); err != nil || len(info.Labels) != 0 {
		t.Fatalf("Info after rewrite = %+v, %v; want no labels", info, err)
	}
}

func testLabels(t *testing.T, s content.Store) {
	ctx := context.Background()
	d := commit(t, s, "lab", []byte("labelled"), content.WithLabels(map[string]string{"a": "1", "b": "2"}))
	info, err := s.Info(ctx, d)
	if err != nil || info.Labels["a"] != "1" || info.Labels["b"] != "2" {
		t.Fatalf("Info = %+v, %v; want labels from commit", info, err)
	}
	info, err = s.Update(ctx, content.Info{Digest: d, Labels: map[string]string{"a": "9", "c": "3"}}, "labels.a", "labels.b")
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"a": "9"}; len(info.Labels) != 1 || info.Labels["a"] != "9" {
		t.Fatalf("after Update(labels.a, labels.b) labels = %v, want %v", info.Labels, want)
	}
	info, err = s.Update(ctx, content.Info{Digest: d, Labels: map[string]string{"x": "y"}})
	if err != nil || len(info.Labels) != 1 || info.Labels["x"] != "y" {
		t.Fatalf("after Update() labels = %v, %v; want only x=y", info.Labels, err)
	}
	got, err := s.Info(ctx, d)
	if err != nil || got.Labels["x"] != "y" || got.UpdatedAt.Before(got.CreatedAt) {
		t.Fatalf("Info after Update = %+v, %v", got, err)
	}
	if _, err := s.Update(ctx, content.Info{Digest: d}, "size"); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("Update(size) = %v, want invalid argument", err)
	}
	if _, err := s.Update(ctx, content.Info{Digest: digest.FromString("absent")}); !errdefs.IsNotFound(err) {
		t.Fatalf("Update of an absent blob = %v, want not found", err)
	}
}

func testInvalidArguments(t *testing.T, s content.Store) {
	ctx := context.Background()
	if _, err := s.Info(ctx, "sha256:nothex"); !errdefs.IsInvalidArgument(err) {
		t.Errorf("Info(bad digest) = %v, want invalid argument", err)
	}
	if _, err := s.Info(ctx, digest.FromString("absent")); !errdefs.IsNotFound(err) {
		t.Errorf("Info(absent) = %v, want not found", err)
	}
	if _, err := s.Writer(ctx, "", 0, ""); !errdefs.IsInvalidArgument(err) {
		t.Errorf("Writer(empty ref) = %v, want invalid argument", err)
	}
	if _, err := s.Writer(ctx, "x", 0, "md5:d41d8cd98f00b204e9800998ecf8427e"); !errdefs.IsInvalidArgument(err) {
		t.Errorf("Writer(md5 digest) = %v, want invalid argument", err)
	}
	if err := s.Delete(ctx, "sha256:../../etc"); !errdefs.IsInvalidArgument(err) {
		t.Errorf("Delete(path-like digest) = %v, want invalid argument", err)
	}
}

func testReaderAtSize(t *testing.T, s content.Store) {
	ctx := context.Background()
	b := []byte("sized")
	d := commit(t, s, "sized", b)
	if _, err := s.ReaderAt(ctx, ocispec.Descriptor{Digest: d, Size: 99}); !errdefs.IsFailedPrecondition(err) {
		t.Fatalf("ReaderAt with a wrong size = %v, want failed precondition", err)
	}
}
