package image

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth/berth/internal/content"
	"github.com/berth/berth/internal/snapshot"
	"github.com/berth/berth/internal/testutil"
)

// fakeRegistry serves fixed manifests and blobs for one repository, and
// can misbehave on purpose. Tests change its fields under mu (the race
// detector sees no ordering through the TCP connection).
type fakeRegistry struct {
	mu        sync.Mutex
	manifests map[string][]byte // tag or digest -> body
	mtypes    map[string]string
	blobs     map[digest.Digest][]byte
	// fail503 answers the first n blob GETs with 503.
	fail503 int
	// cutAfter closes the connection after that many bytes of the first
	// blob GET of a big blob (once).
	cutAfter int
	gets     int
}

func (f *fakeRegistry) addImage(tag string, ti testImage) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var m ocispec.Manifest
	json.Unmarshal(ti.manifest, &m)
	f.manifests[tag] = ti.manifest
	f.mtypes[tag] = ti.mdesc.MediaType
	f.manifests[ti.mdesc.Digest.String()] = ti.manifest
	f.mtypes[ti.mdesc.Digest.String()] = ti.mdesc.MediaType
	f.blobs[m.Config.Digest] = ti.config
	for i, l := range ti.layers {
		f.blobs[m.Layers[i].Digest] = l
	}
}

func (f *fakeRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := r.URL.Path
	switch {
	case p == "/v2/":
		w.WriteHeader(200)
	case strings.Contains(p, "/manifests/"):
		ref := p[strings.LastIndex(p, "/")+1:]
		b, ok := f.manifests[ref]
		if !ok {
			http.Error(w, `{"errors":[{"code":"MANIFEST_UNKNOWN"}]}`, 404)
			return
		}
		w.Header().Set("Content-Type", f.mtypes[ref])
		w.Write(b)
	case strings.Contains(p, "/blobs/"):
		d := digest.Digest(p[strings.LastIndex(p, "/")+1:])
		b, ok := f.blobs[d]
		if !ok {
			http.Error(w, `{"errors":[{"code":"BLOB_UNKNOWN"}]}`, 404)
			return
		}
		f.gets++
		if f.fail503 > 0 {
			f.fail503--
			http.Error(w, "busy", 503)
			return
		}
		if f.cutAfter > 0 && len(b) > f.cutAfter && r.Header.Get("Range") == "" {
			n := f.cutAfter
			f.cutAfter = 0
			w.Header().Set("Content-Length", itoa(len(b)))
			w.WriteHeader(200)
			w.Write(b[:n])
			if fl, ok := w.(http.Flusher); ok {
				fl.Flush()
			}
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.(*net.TCPConn).SetLinger(0)
				conn.Close()
			}
			return
		}
		http.ServeContent(w, r, "", timeZero, bytes.NewReader(b))
	default:
		http.NotFound(w, r)
	}
}

func newFakeRegistry(t *testing.T) (*fakeRegistry, string) {
	f := &fakeRegistry{manifests: map[string][]byte{}, mtypes: map[string]string{}, blobs: map[digest.Digest][]byte{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, strings.TrimPrefix(srv.URL, "http://")
}

// assertNothingLeft checks that a failed pull left no image record, no
// committed snapshot of the image's layers, no extraction snapshot and no
// blob of the refused layer.
func assertNothingLeft(t *testing.T, s *Service, ti testImage, bad digest.Digest) {
	t.Helper()
	ctx := context.Background()
	imgs, err := s.List(ctx, ListOptions{})
	if err != nil || len(imgs) != 0 {
		t.Errorf("images after a refused pull: %v %v", imgs, err)
	}
	var cfg ocispec.Image
	json.Unmarshal(ti.config, &cfg)
	top := ""
	if ch := ChainIDs(cfg.RootFS.DiffIDs); len(ch) > 0 {
		top = ch[len(ch)-1].String()
	}
	s.snap.Walk(ctx, func(_ context.Context, in snapshot.Info) error {
		if strings.HasPrefix(in.Name, "extract-") {
			t.Errorf("extraction snapshot left: %s", in.Name)
		}
		if in.Kind == snapshot.KindCommitted && in.Name == top {
			t.Errorf("snapshot of the refused layer committed: %s", in.Name)
		}
		return nil
	})
	if bad != "" {
		if _, err := s.content.Info(ctx, bad); !errdefs.IsNotFound(err) {
			t.Errorf("refused blob %s visible in the store: %v", bad, err)
		}
	}
}

func TestPullRefusesHostileInput(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	good := makeTar(t, tarEntry{name: "ok", body: "fine"})
	cases := []struct {
		name   string
		make   func(t *testing.T, f *fakeRegistry) (testImage, digest.Digest)
		expect string
	}{
		{"digest mismatch", func(t *testing.T, f *fakeRegistry) (testImage, digest.Digest) {
			ti := newTestImage(t, good)
			f.addImage("v1", ti)
			var m ocispec.Manifest
			json.Unmarshal(ti.manifest, &m)
			bad := append([]byte{}, ti.layers[0]...)
			bad[len(bad)-9] ^= 0xff // corrupt the gzip CRC: same size
			f.mu.Lock()
			f.blobs[m.Layers[0].Digest] = bad
			f.mu.Unlock()
			return ti, m.Layers[0].Digest
		}, ""},
		{"blob longer than declared", func(t *testing.T, f *fakeRegistry) (testImage, digest.Digest) {
			ti := newTestImage(t, good)
			f.addImage("v1", ti)
			var m ocispec.Manifest
			json.Unmarshal(ti.manifest, &m)
			f.mu.Lock()
			f.blobs[m.Layers[0].Digest] = append(append([]byte{}, ti.layers[0]...), make([]byte, 100)...)
			f.mu.Unlock()
			return ti, m.Layers[0].Digest
		}, "more than"},
		{"truncated gzip", func(t *testing.T, f *fakeRegistry) (testImage, digest.Digest) {
			ti := newTestImage(t, good)
			// Rebuild the manifest around a truncated layer whose digest
			// matches, so only decompression can catch it.
			trunc := ti.layers[0][:len(ti.layers[0])-12]
			ti.layers[0] = trunc
			ti = rebuild(t, ti)
			f.addImage("v1", ti)
			return ti, ""
		}, "unexpected EOF"},
		{"manifest over 4 MiB", func(t *testing.T, f *fakeRegistry) (testImage, digest.Digest) {
			ti := newTestImage(t, good)
			f.addImage("v1", ti)
			f.mu.Lock()
			defer f.mu.Unlock()
			f.manifests["v1"] = append([]byte(`{"schemaVersion":2,"x":"`), append(bytes.Repeat([]byte("a"), content.MaxManifestSize), []byte(`"}`)...)...)
			return ti, ""
		}, "limit"},
		{"config not JSON", func(t *testing.T, f *fakeRegistry) (testImage, digest.Digest) {
			ti := newTestImage(t, good)
			ti.config = []byte("this is not json")
			ti = rebuild(t, ti)
			f.addImage("v1", ti)
			return ti, ""
		}, "not a JSON object"},
		{"path traversal", func(t *testing.T, f *fakeRegistry) (testImage, digest.Digest) {
			ti := newTestImage(t, makeTar(t, tarEntry{name: "../../escape", body: "x"}))
			f.addImage("v1", ti)
			return ti, ""
		}, "escape"},
		{"symlink escape", func(t *testing.T, f *fakeRegistry) (testImage, digest.Digest) {
			ti := newTestImage(t, makeTar(t, tarEntry{name: "evil", typ: '2', link: "/etc"}, tarEntry{name: "evil/passwd-berth", body: "x"}))
			f.addImage("v1", ti)
			return ti, ""
		}, "evil/passwd-berth"},
		{"hardlink escape", func(t *testing.T, f *fakeRegistry) (testImage, digest.Digest) {
			ti := newTestImage(t, makeTar(t, tarEntry{name: "pw", typ: '1', link: "../../../../etc/passwd"}))
			f.addImage("v1", ti)
			return ti, ""
		}, "pw"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, host := newFakeRegistry(t)
			ti, bad := tc.make(t, f)
			s := newTestService(t, "")
			_, err := s.Pull(ctx, host+"/hostile/img:v1", PullOptions{})
			if err == nil {
				t.Fatal("pull succeeded")
			}
			if tc.expect != "" && !strings.Contains(err.Error(), tc.expect) {
				t.Errorf("error %q does not mention %q", err, tc.expect)
			}
			t.Logf("refused: %v", err)
			assertNothingLeft(t, s, ti, bad)
			if _, err := s.GC(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// rebuild recomputes the config digest, diff IDs (from the compressed
// layers as they are now) and manifest of ti.
func rebuild(t *testing.T, ti testImage) testImage {
	var m ocispec.Manifest
	json.Unmarshal(ti.manifest, &m)
	for i, l := range ti.layers {
		m.Layers[i].Digest = digest.FromBytes(l)
		m.Layers[i].Size = int64(len(l))
	}
	m.Config.Digest = digest.FromBytes(ti.config)
	m.Config.Size = int64(len(ti.config))
	ti.manifest, _ = json.Marshal(m)
	ti.mdesc = ocispec.Descriptor{MediaType: m.MediaType, Digest: digest.FromBytes(ti.manifest), Size: int64(len(ti.manifest))}
	return ti
}

// Transient errors are retried: 503 answers and a connection cut in the
// middle of a layer (resumed with a Range request) still give the image.
func TestPullRetriesTransientErrors(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	retryBase = 1
	t.Cleanup(func() { retryBase = 200_000_000 })
	f, host := newFakeRegistry(t)
	big := randomBytes(t, 3<<20)
	ti := newTestImage(t, makeTar(t, tarEntry{name: "big", body: string(big)}))
	f.addImage("v1", ti)
	f.mu.Lock()
	f.fail503 = 2
	f.cutAfter = len(ti.layers[0]) / 2
	f.mu.Unlock()
	s := newTestService(t, "")
	img, err := s.Pull(ctx, host+"/flaky/img:v1", PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	if f.cutAfter != 0 {
		t.Error("the connection was never cut")
	}
	f.mu.Unlock()
	dir := viewImage(t, s, img)
	if b, err := readFile(dir, "big"); err != nil || !bytes.Equal(b, big) {
		t.Errorf("big: %d bytes, %v", len(b), err)
	}
}
