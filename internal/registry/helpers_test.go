package registry

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/berth/berth/internal/registry/storage"
)

// testRegistry is a registry behind httptest with a small client.
type testRegistry struct {
	t     *testing.T
	store *Store
	srv   *Server
	ts    *httptest.Server
	// handled counts requests whose handler has returned, so a test can
	// wait for the server to finish a request its client gave up on.
	handled atomic.Int64
}

func newTestRegistry(t *testing.T, d storage.Driver, opts ServerOptions) *testRegistry {
	t.Helper()
	if d == nil {
		d = storage.NewMemory()
	}
	store := NewStore(d)
	srv := NewServer(store, opts)
	tr := &testRegistry{t: t, store: store, srv: srv}
	tr.ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer tr.handled.Add(1)
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(tr.ts.Close)
	return tr
}

func newFSRegistry(t *testing.T) *testRegistry {
	d, err := storage.NewFilesystem(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return newTestRegistry(t, d, ServerOptions{})
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// code returns the first error code of an error body.
func (r response) code() string {
	var b errorBody
	json.Unmarshal(r.body, &b)
	if len(b.Errors) == 0 {
		return ""
	}
	return b.Errors[0].Code
}

func (tr *testRegistry) do(method, path string, body []byte, header ...string) response {
	tr.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	url := path
	if !strings.HasPrefix(path, "http") {
		url = tr.ts.URL + path
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return response{status: -1, body: []byte(err.Error())}
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return response{status: -1, body: []byte(err.Error())}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, b}
}

func (tr *testRegistry) expect(r response, status int, code string) {
	tr.t.Helper()
	if r.status != status || (code != "" && r.code() != code) {
		tr.t.Fatalf("got %d %s (%s), want %d %s", r.status, r.code(), r.body, status, code)
	}
}

func randomBlob(t *testing.T, n int) ([]byte, string) {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	return b, sha(b)
}

func sha(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }

// pushBlob pushes b monolithically (POST, then PUT with the body).
func (tr *testRegistry) pushBlob(repo string, b []byte) string {
	tr.t.Helper()
	dg := sha(b)
	r := tr.do("POST", "/v2/"+repo+"/blobs/uploads/", nil)
	tr.expect(r, 202, "")
	r = tr.do("PUT", r.header.Get("Location")+"?digest="+dg, b)
	tr.expect(r, 201, "")
	return dg
}

type testImage struct {
	config   []byte
	layers   [][]byte
	manifest []byte
	digest   string
}

func makeImage(t *testing.T, nlayers, size int) testImage {
	t.Helper()
	var img testImage
	img.config, _ = json.Marshal(map[string]any{"architecture": "amd64", "os": "linux", "nonce": rand.Text()})
	m := Manifest{SchemaVersion: 2, MediaType: MediaTypeOCIManifest,
		Config: &Descriptor{MediaType: "application/vnd.oci.image.config.v1+json", Digest: sha(img.config), Size: int64(len(img.config))}}
	for range nlayers {
		l, dg := randomBlob(t, size)
		img.layers = append(img.layers, l)
		m.Layers = append(m.Layers, Descriptor{MediaType: "application/vnd.oci.image.layer.v1.tar", Digest: dg, Size: int64(size)})
	}
	img.manifest, _ = json.Marshal(m)
	img.digest = sha(img.manifest)
	return img
}

// tryPushImage is pushImage for other goroutines: it reports instead of
// failing the test.
func (tr *testRegistry) tryPushImage(repo, tag string, img testImage) error {
	for _, b := range append([][]byte{img.config}, img.layers...) {
		if tr.do("HEAD", "/v2/"+repo+"/blobs/"+sha(b), nil).status == 200 {
			continue
		}
		r := tr.do("POST", "/v2/"+repo+"/blobs/uploads/", nil)
		if r.status != 202 {
			return fmt.Errorf("start upload: %d %s", r.status, r.body)
		}
		r = tr.do("PUT", r.header.Get("Location")+"?digest="+sha(b), b)
		if r.status != 201 {
			return fmt.Errorf("upload %s: %d %s", sha(b), r.status, r.body)
		}
	}
	r := tr.do("PUT", "/v2/"+repo+"/manifests/"+tag, img.manifest, "Content-Type", MediaTypeOCIManifest)
	if r.status != 201 {
		return fmt.Errorf("manifest %s:%s: %d %s: %w", repo, tag, r.status, r.body, errCode(r.code()))
	}
	return nil
}

type errCode string

func (e errCode) Error() string { return string(e) }

// pushImage pushes the blobs of img that the repository does not have,
// then its manifest under tag; it returns the manifest PUT's response.
func (tr *testRegistry) pushImage(repo, tag string, img testImage) response {
	tr.t.Helper()
	for _, b := range append([][]byte{img.config}, img.layers...) {
		if tr.do("HEAD", "/v2/"+repo+"/blobs/"+sha(b), nil).status == 200 {
			continue
		}
		tr.pushBlob(repo, b)
	}
	return tr.do("PUT", "/v2/"+repo+"/manifests/"+tag, img.manifest, "Content-Type", MediaTypeOCIManifest)
}

// pullImage pulls img by tag and checks every byte.
func (tr *testRegistry) pullImage(repo, tag string, img testImage) error {
	r := tr.do("GET", "/v2/"+repo+"/manifests/"+tag, nil)
	if r.status != 200 || !bytes.Equal(r.body, img.manifest) {
		return fmt.Errorf("manifest %s:%s: %d %s", repo, tag, r.status, r.body)
	}
	for _, b := range append([][]byte{img.config}, img.layers...) {
		r := tr.do("GET", "/v2/"+repo+"/blobs/"+sha(b), nil)
		if r.status != 200 || !bytes.Equal(r.body, b) {
			return fmt.Errorf("blob %s of %s:%s: %d %.200s", sha(b), repo, tag, r.status, r.body)
		}
	}
	return nil
}
