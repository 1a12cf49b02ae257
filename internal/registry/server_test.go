package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPing(t *testing.T) {
	tr := newTestRegistry(t, nil, ServerOptions{})
	r := tr.do("GET", "/v2/", nil)
	tr.expect(r, 200, "")
	if r.header.Get("Docker-Distribution-API-Version") != "registry/2.0" {
		t.Errorf("Docker-Distribution-API-Version = %q", r.header.Get("Docker-Distribution-API-Version"))
	}
}

func TestBlobPushPullAndRange(t *testing.T) {
	tr := newFSRegistry(t)
	b, dg := randomBlob(t, 3000)
	// POST then PUT.
	tr.pushBlob("a/b", b)
	r := tr.do("HEAD", "/v2/a/b/blobs/"+dg, nil)
	tr.expect(r, 200, "")
	if r.header.Get("Content-Length") != "3000" || r.header.Get("Docker-Content-Digest") != dg {
		t.Errorf("HEAD headers: %v", r.header)
	}
	r = tr.do("GET", "/v2/a/b/blobs/"+dg, nil)
	if r.status != 200 || !bytes.Equal(r.body, b) {
		t.Fatalf("GET blob: %d, %d bytes", r.status, len(r.body))
	}
	r = tr.do("GET", "/v2/a/b/blobs/"+dg, nil, "Range", "bytes=100-199")
	if r.status != 206 || !bytes.Equal(r.body, b[100:200]) || r.header.Get("Content-Range") != "bytes 100-199/3000" {
		t.Fatalf("range GET: %d %q %d bytes", r.status, r.header.Get("Content-Range"), len(r.body))
	}
	r = tr.do("GET", "/v2/a/b/blobs/"+dg, nil, "Range", "bytes=5000-6000")
	tr.expect(r, 416, "")
	// Single POST with digest.
	b2, dg2 := randomBlob(t, 10)
	r = tr.do("POST", "/v2/a/b/blobs/uploads/?digest="+dg2, b2)
	tr.expect(r, 201, "")
	if r.header.Get("Location") != "/v2/a/b/blobs/"+dg2 {
		t.Errorf("Location = %q", r.header.Get("Location"))
	}
	// Another repository does not see the blob.
	tr.expect(tr.do("HEAD", "/v2/other/blobs/"+dg, nil), 404, "")
	tr.expect(tr.do("GET", "/v2/other/blobs/"+dg, nil), 404, "BLOB_UNKNOWN")
	// Delete.
	tr.expect(tr.do("DELETE", "/v2/a/b/blobs/"+dg, nil), 202, "")
	tr.expect(tr.do("GET", "/v2/a/b/blobs/"+dg, nil), 404, "BLOB_UNKNOWN")
}

func TestUploadDigestMismatchLeavesNoBlob(t *testing.T) {
	tr := newFSRegistry(t)
	b, _ := randomBlob(t, 100)
	_, other := randomBlob(t, 100)
	r := tr.do("POST", "/v2/r/blobs/uploads/", nil)
	r = tr.do("PUT", r.header.Get("Location")+"?digest="+other, b)
	tr.expect(r, 400, "DIGEST_INVALID")
	tr.expect(tr.do("HEAD", "/v2/r/blobs/"+other, nil), 404, "")
	tr.expect(tr.do("HEAD", "/v2/r/blobs/"+sha(b), nil), 404, "")
	r = tr.do("POST", "/v2/r/blobs/uploads/?digest="+other, b)
	tr.expect(r, 400, "DIGEST_INVALID")
	tr.expect(tr.do("POST", "/v2/r/blobs/uploads/?digest=sha256:xyz", b), 400, "DIGEST_INVALID")
	tr.expect(tr.do("POST", "/v2/r/blobs/uploads/?digest=md5:"+strings.Repeat("a", 32), b), 400, "DIGEST_INVALID")
	if n := len(tr.uploads("r")); n != 0 {
		t.Errorf("%d uploads left behind after failed pushes", n)
	}
}

func (tr *testRegistry) uploads(repo string) []string {
	ups, _ := tr.store.d.List(tr.t.Context(), repoPath(repo)+"/_uploads")
	return ups
}

// failingReader returns its data, then an error, like a dropped connection.
type failingReader struct {
	data []byte
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, io.ErrUnexpectedEOF
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestChunkedUploadResumesAfterDroppedConnection(t *testing.T) {
	tr := newFSRegistry(t)
	b, dg := randomBlob(t, 1<<20)
	r := tr.do("POST", "/v2/r/blobs/uploads/", nil)
	tr.expect(r, 202, "")
	loc := r.header.Get("Location")
	if r.header.Get("Docker-Upload-UUID") == "" {
		t.Error("no Docker-Upload-UUID")
	}
	// First chunk.
	r = tr.do("PATCH", loc, b[:1000], "Content-Range", "0-999", "Content-Type", "application/octet-stream")
	tr.expect(r, 202, "")
	if r.header.Get("Range") != "0-999" {
		t.Errorf("Range after first chunk = %q", r.header.Get("Range"))
	}
	loc = r.header.Get("Location")
	// A chunk that does not continue the upload is refused with 416
	// and the range to resume from.
	r = tr.do("PATCH", loc, b[2000:3000], "Content-Range", "2000-2999")
	tr.expect(r, 416, "")
	if r.header.Get("Range") != "0-999" || r.header.Get("Location") == "" {
		t.Errorf("416 headers: Range %q Location %q", r.header.Get("Range"), r.header.Get("Location"))
	}
	// A streamed chunk whose connection drops half way.
	req, _ := http.NewRequest("PATCH", tr.ts.URL+loc, &failingReader{data: b[1000 : 1000+300000]})
	req.ContentLength = -1
	before := tr.handled.Load()
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 202 {
			t.Fatalf("PATCH with a broken body succeeded")
		}
	}
	// The client gives up before the server has seen the connection
	// drop; a real client resumes later, so wait for the server to
	// finish the broken request (it keeps what arrived).
	for deadline := time.Now().Add(5 * time.Second); tr.handled.Load() == before && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	// The client asks where to resume.
	r = tr.do("GET", loc, nil)
	tr.expect(r, 204, "")
	var end int
	if _, err := fmt.Sscanf(r.header.Get("Range"), "0-%d", &end); err != nil {
		t.Fatalf("Range %q: %v", r.header.Get("Range"), err)
	}
	if end < 999 || end >= 1000+300000 {
		t.Fatalf("resume point %d outside what was sent", end)
	}
	// Resume with the rest, final chunk on the PUT.
	mid := (end + 1 + len(b)) / 2
	r = tr.do("PATCH", loc, b[end+1:mid], "Content-Range", fmt.Sprintf("%d-%d", end+1, mid-1))
	tr.expect(r, 202, "")
	r = tr.do("PUT", r.header.Get("Location")+"?digest="+dg, b[mid:], "Content-Range", fmt.Sprintf("%d-%d", mid, len(b)-1))
	tr.expect(r, 201, "")
	if r.header.Get("Docker-Content-Digest") != dg {
		t.Errorf("Docker-Content-Digest = %q", r.header.Get("Docker-Content-Digest"))
	}
	got := tr.do("GET", "/v2/r/blobs/"+dg, nil)
	if !bytes.Equal(got.body, b) {
		t.Fatal("resumed blob differs from what was sent")
	}
	tr.expect(tr.do("GET", loc, nil), 404, "BLOB_UPLOAD_UNKNOWN")
}

func TestUploadCancel(t *testing.T) {
	tr := newFSRegistry(t)
	r := tr.do("POST", "/v2/r/blobs/uploads/", nil)
	loc := r.header.Get("Location")
	tr.expect(tr.do("PATCH", loc, []byte("abc")), 202, "")
	tr.expect(tr.do("DELETE", loc, nil), 204, "")
	tr.expect(tr.do("GET", loc, nil), 404, "BLOB_UPLOAD_UNKNOWN")
	tr.expect(tr.do("PATCH", loc, []byte("abc")), 404, "BLOB_UPLOAD_UNKNOWN")
	tr.expect(tr.do("GET", "/v2/r/blobs/uploads/not-an-id", nil), 404, "BLOB_UPLOAD_UNKNOWN")
}

func TestCrossRepositoryMount(t *testing.T) {
	tr := newFSRegistry(t)
	b, dg := randomBlob(t, 100)
	tr.pushBlob("src", b)
	r := tr.do("POST", "/v2/dst/blobs/uploads/?mount="+dg+"&from=src", nil)
	tr.expect(r, 201, "")
	if r.header.Get("Location") != "/v2/dst/blobs/"+dg {
		t.Errorf("Location = %q", r.header.Get("Location"))
	}
	tr.expect(tr.do("HEAD", "/v2/dst/blobs/"+dg, nil), 200, "")
	// A blob the source does not have: an ordinary upload starts.
	_, missing := randomBlob(t, 10)
	r = tr.do("POST", "/v2/dst/blobs/uploads/?mount="+missing+"&from=src", nil)
	tr.expect(r, 202, "")
	if !strings.Contains(r.header.Get("Location"), "/blobs/uploads/") {
		t.Errorf("Location = %q, want an upload", r.header.Get("Location"))
	}
}

func TestManifestPushPullDelete(t *testing.T) {
	tr := newFSRegistry(t)
	img := makeImage(t, 2, 100)
	r := tr.pushImage("app", "v1", img)
	tr.expect(r, 201, "")
	if r.header.Get("Docker-Content-Digest") != img.digest || r.header.Get("Location") != "/v2/app/manifests/"+img.digest {
		t.Errorf("PUT headers: %v", r.header)
	}
	for _, ref := range []string{"v1", img.digest} {
		r := tr.do("GET", "/v2/app/manifests/"+ref, nil)
		if r.status != 200 || !bytes.Equal(r.body, img.manifest) || r.header.Get("Content-Type") != MediaTypeOCIManifest || r.header.Get("Docker-Content-Digest") != img.digest {
			t.Fatalf("GET %s: %d %v", ref, r.status, r.header)
		}
		r = tr.do("HEAD", "/v2/app/manifests/"+ref, nil)
		if r.status != 200 || len(r.body) != 0 || r.header.Get("Content-Length") != fmt.Sprint(len(img.manifest)) {
			t.Fatalf("HEAD %s: %d %v", ref, r.status, r.header)
		}
	}
	if err := tr.pullImage("app", "v1", img); err != nil {
		t.Fatal(err)
	}
	// Tag delete keeps the manifest.
	tr.expect(tr.do("PUT", "/v2/app/manifests/v2", img.manifest, "Content-Type", MediaTypeOCIManifest), 201, "")
	tr.expect(tr.do("DELETE", "/v2/app/manifests/v2", nil), 202, "")
	tr.expect(tr.do("GET", "/v2/app/manifests/v2", nil), 404, "MANIFEST_UNKNOWN")
	tr.expect(tr.do("GET", "/v2/app/manifests/"+img.digest, nil), 200, "")
	// Manifest delete removes its tags.
	tr.expect(tr.do("DELETE", "/v2/app/manifests/"+img.digest, nil), 202, "")
	tr.expect(tr.do("GET", "/v2/app/manifests/"+img.digest, nil), 404, "MANIFEST_UNKNOWN")
	tr.expect(tr.do("GET", "/v2/app/manifests/v1", nil), 404, "MANIFEST_UNKNOWN")
	tr.expect(tr.do("DELETE", "/v2/app/manifests/"+img.digest, nil), 404, "MANIFEST_UNKNOWN")
}

func TestDockerManifestList(t *testing.T) {
	tr := newFSRegistry(t)
	img := makeImage(t, 1, 10)
	var m map[string]any
	json.Unmarshal(img.manifest, &m)
	m["mediaType"] = MediaTypeDockerManifest
	img.manifest, _ = json.Marshal(m)
	for _, b := range append([][]byte{img.config}, img.layers...) {
		tr.pushBlob("d", b)
	}
	r := tr.do("PUT", "/v2/d/manifests/amd64", img.manifest, "Content-Type", MediaTypeDockerManifest)
	tr.expect(r, 201, "")
	list, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": MediaTypeDockerList, "manifests": []map[string]any{
		{"mediaType": MediaTypeDockerManifest, "digest": sha(img.manifest), "size": len(img.manifest), "platform": map[string]string{"architecture": "amd64", "os": "linux"}},
	}})
	tr.expect(tr.do("PUT", "/v2/d/manifests/latest", list, "Content-Type", MediaTypeDockerList), 201, "")
	r = tr.do("GET", "/v2/d/manifests/latest", nil)
	if r.header.Get("Content-Type") != MediaTypeDockerList || !bytes.Equal(r.body, list) {
		t.Fatalf("GET list: %v", r.header)
	}
	// An index whose child is not in the repository is refused.
	_, missing := randomBlob(t, 5)
	bad, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": MediaTypeOCIIndex, "manifests": []map[string]any{
		{"mediaType": MediaTypeOCIManifest, "digest": missing, "size": 5},
	}})
	tr.expect(tr.do("PUT", "/v2/d/manifests/bad", bad, "Content-Type", MediaTypeOCIIndex), 400, "MANIFEST_BLOB_UNKNOWN")
}

func TestManifestErrors(t *testing.T) {
	tr := newFSRegistry(t)
	img := makeImage(t, 1, 10)
	ct := []string{"Content-Type", MediaTypeOCIManifest}
	// Missing blobs.
	tr.expect(tr.do("PUT", "/v2/r/manifests/t", img.manifest, ct...), 400, "MANIFEST_BLOB_UNKNOWN")
	tr.pushBlob("r", img.config)
	tr.expect(tr.do("PUT", "/v2/r/manifests/t", img.manifest, ct...), 400, "MANIFEST_BLOB_UNKNOWN")
	tr.pushBlob("r", img.layers[0])
	tr.expect(tr.do("PUT", "/v2/r/manifests/t", img.manifest, ct...), 201, "")
	// Bad input.
	tr.expect(tr.do("PUT", "/v2/r/manifests/t", []byte("{not json"), ct...), 400, "MANIFEST_INVALID")
	tr.expect(tr.do("PUT", "/v2/r/manifests/t", []byte(`{"schemaVersion":1}`), ct...), 400, "MANIFEST_INVALID")
	tr.expect(tr.do("PUT", "/v2/r/manifests/t", img.manifest, "Content-Type", MediaTypeOCIIndex), 400, "MANIFEST_INVALID")
	tr.expect(tr.do("PUT", "/v2/r/manifests/t", img.manifest, "Content-Type", "text/plain"), 400, "MANIFEST_INVALID")
	big := bytes.Repeat([]byte(" "), MaxManifestSize+1)
	copy(big, img.manifest)
	r := tr.do("PUT", "/v2/r/manifests/big", big, ct...)
	if r.status != 400 || (r.code() != "SIZE_INVALID" && r.code() != "MANIFEST_INVALID") {
		t.Errorf("manifest over 4 MiB: %d %s", r.status, r.code())
	}
	tr.expect(tr.do("PUT", "/v2/r/manifests/-bad", img.manifest, ct...), 400, "TAG_INVALID")
	tr.expect(tr.do("PUT", "/v2/r/manifests/"+strings.Repeat("t", 129), img.manifest, ct...), 400, "TAG_INVALID")
	tr.expect(tr.do("PUT", "/v2/r/manifests/t?tag=bad!tag", img.manifest, ct...), 400, "TAG_INVALID")
	tr.expect(tr.do("GET", "/v2/r/manifests/sha256:abc", nil), 400, "DIGEST_INVALID")
	_, other := randomBlob(t, 3)
	tr.expect(tr.do("PUT", "/v2/r/manifests/"+other, img.manifest, ct...), 400, "DIGEST_INVALID")
	for _, name := range []string{"UPPER/case", "a//b", "-a", "a/", "a..b", strings.Repeat("a", 256)} {
		tr.expect(tr.do("GET", "/v2/"+name+"/manifests/latest", nil), 400, "NAME_INVALID")
	}
	tr.expect(tr.do("GET", "/v2/r/manifests/nope", nil), 404, "MANIFEST_UNKNOWN")
	tr.expect(tr.do("GET", "/v2/unknown/tags/list", nil), 404, "NAME_UNKNOWN")
}

func TestTagsAndCatalogPagination(t *testing.T) {
	tr := newFSRegistry(t)
	img := makeImage(t, 1, 10)
	tags := []string{"a", "b", "c", "d", "e"}
	for _, tag := range tags {
		tr.expect(tr.pushImage("p", tag, img), 201, "")
	}
	for _, repo := range []string{"x/one", "x/two", "y"} {
		tr.expect(tr.pushImage(repo, "latest", img), 201, "")
	}
	var tl struct {
		Name string
		Tags []string
	}
	r := tr.do("GET", "/v2/p/tags/list", nil)
	json.Unmarshal(r.body, &tl)
	if tl.Name != "p" || !slices.Equal(tl.Tags, tags) {
		t.Fatalf("tags = %+v", tl)
	}
	r = tr.do("GET", "/v2/p/tags/list?n=2", nil)
	json.Unmarshal(r.body, &tl)
	if !slices.Equal(tl.Tags, []string{"a", "b"}) || !strings.Contains(r.header.Get("Link"), "last=b") {
		t.Fatalf("n=2: %v Link %q", tl.Tags, r.header.Get("Link"))
	}
	r = tr.do("GET", "/v2/p/tags/list?n=2&last=b", nil)
	json.Unmarshal(r.body, &tl)
	if !slices.Equal(tl.Tags, []string{"c", "d"}) {
		t.Fatalf("n=2&last=b: %v", tl.Tags)
	}
	r = tr.do("GET", "/v2/p/tags/list?last=d", nil)
	json.Unmarshal(r.body, &tl)
	if !slices.Equal(tl.Tags, []string{"e"}) || r.header.Get("Link") != "" {
		t.Fatalf("last=d: %v Link %q", tl.Tags, r.header.Get("Link"))
	}
	var cat struct{ Repositories []string }
	r = tr.do("GET", "/v2/_catalog", nil)
	json.Unmarshal(r.body, &cat)
	if !slices.Equal(cat.Repositories, []string{"p", "x/one", "x/two", "y"}) {
		t.Fatalf("catalog = %v", cat.Repositories)
	}
	r = tr.do("GET", "/v2/_catalog?n=1&last=p", nil)
	json.Unmarshal(r.body, &cat)
	if !slices.Equal(cat.Repositories, []string{"x/one"}) || !strings.Contains(r.header.Get("Link"), "rel=\"next\"") {
		t.Fatalf("catalog page = %v, Link %q", cat.Repositories, r.header.Get("Link"))
	}
}

func TestReferrers(t *testing.T) {
	tr := newFSRegistry(t)
	img := makeImage(t, 1, 10)
	tr.expect(tr.pushImage("r", "v1", img), 201, "")
	empty := []byte("{}")
	tr.pushBlob("r", empty)
	mk := func(artifactType string) []byte {
		b, _ := json.Marshal(map[string]any{
			"schemaVersion": 2, "mediaType": MediaTypeOCIManifest, "artifactType": artifactType,
			"config":      map[string]any{"mediaType": "application/vnd.oci.empty.v1+json", "digest": sha(empty), "size": 2},
			"layers":      []map[string]any{{"mediaType": "application/vnd.oci.empty.v1+json", "digest": sha(empty), "size": 2}},
			"subject":     map[string]any{"mediaType": MediaTypeOCIManifest, "digest": img.digest, "size": len(img.manifest)},
			"annotations": map[string]string{"org.example": artifactType},
		})
		return b
	}
	sig, sbom := mk("application/example.sig"), mk("application/example.sbom")
	for _, m := range [][]byte{sig, sbom} {
		r := tr.do("PUT", "/v2/r/manifests/"+sha(m), m, "Content-Type", MediaTypeOCIManifest)
		tr.expect(r, 201, "")
		if r.header.Get("OCI-Subject") != img.digest {
			t.Errorf("OCI-Subject = %q", r.header.Get("OCI-Subject"))
		}
	}
	var idx Manifest
	r := tr.do("GET", "/v2/r/referrers/"+img.digest, nil)
	json.Unmarshal(r.body, &idx)
	if r.status != 200 || r.header.Get("Content-Type") != MediaTypeOCIIndex || len(idx.Manifests) != 2 {
		t.Fatalf("referrers: %d %s", r.status, r.body)
	}
	r = tr.do("GET", "/v2/r/referrers/"+img.digest+"?artifactType=application/example.sbom", nil)
	json.Unmarshal(r.body, &idx)
	if len(idx.Manifests) != 1 || idx.Manifests[0].Digest != sha(sbom) || idx.Manifests[0].ArtifactType != "application/example.sbom" ||
		idx.Manifests[0].Annotations["org.example"] != "application/example.sbom" || r.header.Get("OCI-Filters-Applied") != "artifactType" {
		t.Fatalf("filtered referrers: %s %v", r.body, r.header)
	}
	tr.expect(tr.do("DELETE", "/v2/r/manifests/"+sha(sig), nil), 202, "")
	r = tr.do("GET", "/v2/r/referrers/"+img.digest, nil)
	json.Unmarshal(r.body, &idx)
	if len(idx.Manifests) != 1 {
		t.Fatalf("after delete: %s", r.body)
	}
	_, none := randomBlob(t, 1)
	r = tr.do("GET", "/v2/r/referrers/"+none, nil)
	tr.expect(r, 200, "")
	tr.expect(tr.do("GET", "/v2/r/referrers/sha256:zz", nil), 400, "DIGEST_INVALID")
}

func TestConcurrentPushesOfOneImage(t *testing.T) {
	tr := newFSRegistry(t)
	img := makeImage(t, 3, 50000)
	errs := make(chan error, 8)
	for range 8 {
		go func() { errs <- tr.tryPushImage("same", "latest", img) }()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if err := tr.pullImage("same", "latest", img); err != nil {
		t.Fatal(err)
	}
	if n := len(tr.uploads("same")); n != 0 {
		t.Errorf("%d uploads left behind", n)
	}
}

func TestMetrics(t *testing.T) {
	tr := newTestRegistry(t, nil, ServerOptions{})
	tr.do("GET", "/v2/", nil)
	tr.do("GET", "/v2/x/manifests/nope", nil)
	tr.do("POST", "/v2/x/blobs/uploads/?digest="+sha([]byte("12345")), []byte("12345"))
	time.Sleep(50 * time.Millisecond) // past the filesystem's timestamp granularity
	res, err := tr.store.GC(t.Context(), GCOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tr.srv.Metrics().ObserveGC(res)
	r := tr.do("GET", "/metrics", nil)
	for _, want := range []string{`berth_registry_requests_total{method="GET",status="200"} 1`, `berth_registry_requests_total{method="GET",status="404"} 1`,
		`berth_registry_requests_total{method="POST",status="201"} 1`, "berth_registry_bytes_received_total 5\n",
		"berth_registry_gc_runs_total 1\n", "berth_registry_gc_blobs_deleted_total 1\n", "berth_registry_gc_bytes_freed_total 5\n"} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("metrics lack %q:\n%s", want, r.body)
		}
	}
}

// Repository names may contain components that look like endpoints.
func TestRoutingNamesWithEndpointWords(t *testing.T) {
	tr := newTestRegistry(t, nil, ServerOptions{})
	for _, repo := range []string{"x/manifests/y", "x/blobs/y", "tags/list", "a/referrers/b", "blobs/uploads"} {
		img := makeImage(t, 1, 10)
		tr.expect(tr.pushImage(repo, "v1", img), 201, "")
		if err := tr.pullImage(repo, "v1", img); err != nil {
			t.Fatalf("%s: %v", repo, err)
		}
		r := tr.do("GET", "/v2/"+repo+"/tags/list", nil)
		if r.status != 200 || !strings.Contains(string(r.body), `"name":"`+repo+`"`) {
			t.Fatalf("tags of %s: %d %s", repo, r.status, r.body)
		}
	}
}
