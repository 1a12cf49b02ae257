package image

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"

	"github.com/berth/berth/internal/snapshot"
	"github.com/berth/berth/internal/testutil"
)

// TestCrashPuller is the puller TestKillDuringPull re-executes; it does
// nothing in a normal run.
func TestCrashPuller(t *testing.T) {
	root, ref := os.Getenv("BERTH_IMAGE_CRASH_ROOT"), os.Getenv("BERTH_IMAGE_CRASH_REF")
	if root == "" {
		t.Skip("only run by TestKillDuringPull")
	}
	s := newTestService(t, root)
	_, err := s.Pull(context.Background(), ref, PullOptions{})
	t.Fatalf("the puller should have been killed, pull returned %v", err)
}

// slowHandler serves the fake registry, big blobs at about 8 MB/s.
type slowHandler struct{ f *fakeRegistry }

func (h slowHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.Contains(r.URL.Path, "/blobs/") && r.Method == http.MethodGet {
		d := digest.Digest(r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:])
		h.f.mu.Lock()
		b := h.f.blobs[d]
		h.f.mu.Unlock()
		if len(b) > 1<<20 {
			w.Header().Set("Content-Length", itoa(len(b)))
			for off := 0; off < len(b); off += 64 << 10 {
				end := min(off+64<<10, len(b))
				if _, err := w.Write(b[off:end]); err != nil {
					return
				}
				time.Sleep(8 * time.Millisecond)
			}
			return
		}
	}
	h.f.ServeHTTP(w, r)
}

// kill -9 of a puller in the middle of a big layer, then a new service on
// the same root: no partial blob is visible, the pull completes when
// repeated, and GC leaves the store consistent.
func TestKillDuringPull(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	f := &fakeRegistry{manifests: map[string][]byte{}, mtypes: map[string]string{}, blobs: map[digest.Digest][]byte{}}
	srv := httptest.NewServer(slowHandler{f})
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	big := randomBytes(t, 16<<20)
	ti := newTestImage(t, makeTar(t, tarEntry{name: "small", body: "s"}), makeTar(t, tarEntry{name: "big", body: string(big)}))
	f.addImage("v1", ti)
	ref := host + "/crash/img:v1"

	root := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashPuller$", "-test.count=1")
	cmd.Env = append(os.Environ(), "BERTH_IMAGE_CRASH_ROOT="+root, "BERTH_IMAGE_CRASH_REF="+ref)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	t.Cleanup(func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		var partial int64
		files, _ := filepath.Glob(filepath.Join(root, "content", "ingest", "*", "data"))
		for _, p := range files {
			if fi, err := os.Stat(p); err == nil && fi.Size() > partial {
				partial = fi.Size()
			}
		}
		if partial > 2<<20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the puller wrote no ingest in time:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	killed = true

	s := newTestService(t, root)
	bigLayer := ti.layerDigest(1)
	if _, err := s.content.Info(ctx, bigLayer); !errdefs.IsNotFound(err) {
		t.Errorf("the big layer is visible after the crash: %v", err)
	}
	if st, _ := s.content.ListStatuses(ctx); len(st) != 0 {
		t.Errorf("ingests left after reopening: %+v", st)
	}
	if imgs, _ := s.List(ctx, ListOptions{}); len(imgs) != 0 {
		t.Errorf("an image was recorded by the killed pull: %v", imgs)
	}
	img, err := s.Pull(ctx, ref, PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := viewImage(t, s, img)
	if b, err := readFile(dir, "big"); err != nil || !bytes.Equal(b, big) {
		t.Errorf("big after the repeated pull: %d bytes, %v", len(b), err)
	}
	if _, err := s.GC(ctx); err != nil {
		t.Fatal(err)
	}
	// Consistent: every blob of the image is there, no extraction
	// snapshot is left, every committed snapshot is a layer of the image.
	for _, l := range img.Manifest.Layers {
		if _, err := s.content.Info(ctx, l.Digest); err != nil {
			t.Errorf("layer %s after GC: %v", l.Digest, err)
		}
	}
	chains := map[string]bool{}
	for _, c := range ChainIDs(img.Config.RootFS.DiffIDs) {
		chains[c.String()] = true
	}
	s.snap.Walk(ctx, func(_ context.Context, in snapshot.Info) error {
		if in.Kind == snapshot.KindCommitted && !chains[in.Name] || strings.HasPrefix(in.Name, "extract-") {
			t.Errorf("snapshot %s (%v) left after GC", in.Name, in.Kind)
		}
		return nil
	})
}
