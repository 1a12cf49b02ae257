package api

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/opencontainers/go-digest"

	"github.com/berth/berth/internal/api/events"
	"github.com/berth/berth/internal/content"
	"github.com/berth/berth/internal/image"
	"github.com/berth/berth/internal/metadata"
	"github.com/berth/berth/internal/snapshot"
)

// newImageServer serves the API over an image service on stores under a
// temp root (native snapshots: no mounts, no root needed).
func newImageServer(t *testing.T, inUse image.InUseFunc) (*image.Service, *httptest.Server) {
	t.Helper()
	root := t.TempDir()
	cs, err := content.Open(filepath.Join(root, "content"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := metadata.Open(filepath.Join(root, "metadata.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	sn, err := snapshot.NewNative(filepath.Join(root, "snapshots", "native"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sn.Close() })
	svc, err := image.New(image.Config{Content: cs, Metadata: db, Snapshotter: sn})
	if err != nil {
		t.Fatal(err)
	}
	s := New(Config{Version: "0.1.0-test", Events: events.NewBus(0), Images: svc, ImageInUse: inUse})
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return svc, ts
}

func rootfs(t *testing.T, body string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "f.txt", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))}); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte(body))
	tw.Close()
	return buf.Bytes()
}

func request(t *testing.T, method, url string, body io.Reader) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// TestImportListInspectShapes imports an image through POST
// /images/create?fromSrc=- and reads it back in the shapes the API
// versions define.
func TestImportListInspectShapes(t *testing.T) {
	_, ts := newImageServer(t, nil)
	status, hdr, body := request(t, "POST", ts.URL+"/v1.50/images/create?fromSrc=-&repo=rectest/imp:1&message=hi&changes=ENV+A%3D1&changes=CMD+%5B%22sh%22%5D", bytes.NewReader(rootfs(t, "x")))
	if status != 200 || hdr.Get("Content-Type") != "application/json" || !strings.HasPrefix(body, `{"status":"sha256:`) {
		t.Fatalf("import: %d %q %s", status, hdr.Get("Content-Type"), body)
	}
	var st struct{ Status string }
	json.Unmarshal([]byte(body), &st)
	id := st.Status
	for q, want := range map[string]string{"macos/arm64": "operating system is not supported", "windows": "operating system is not supported", "linux/": "invalid platform"} {
		status, _, body := request(t, "POST", ts.URL+"/v1.50/images/create?fromSrc=-&repo=rectest/bad&platform="+url.QueryEscape(q), bytes.NewReader(rootfs(t, "x")))
		if status != 400 || !strings.Contains(body, want) {
			t.Errorf("import with platform %s: %d %s, want 400 %q", q, status, body, want)
		}
	}

	_, _, body = request(t, "GET", ts.URL+"/v1.50/images/json", nil)
	var list []map[string]any
	if err := json.Unmarshal([]byte(body), &list); err != nil || len(list) != 1 {
		t.Fatalf("list: %v %s", err, body)
	}
	if list[0]["Id"] != id || list[0]["Containers"] != float64(-1) || list[0]["SharedSize"] != float64(-1) || list[0]["ParentId"] != "" {
		t.Errorf("list item = %v", list[0])
	}
	if _, ok := list[0]["VirtualSize"]; ok {
		t.Errorf("list item at 1.50 has VirtualSize: %v", list[0])
	}
	if tags, _ := list[0]["RepoTags"].([]any); len(tags) != 1 || tags[0] != "rectest/imp:1" {
		t.Errorf("RepoTags = %v", list[0]["RepoTags"])
	}
	if d, ok := list[0]["RepoDigests"].([]any); !ok || len(d) != 0 {
		t.Errorf("RepoDigests = %v, want []", list[0]["RepoDigests"])
	}
	_, _, body = request(t, "GET", ts.URL+"/v1.41/images/json?shared-size=1", nil)
	if !strings.Contains(body, `"VirtualSize":`) || !strings.Contains(body, `"SharedSize":-1`) {
		t.Errorf("list at 1.41: %s", body)
	}
	_, _, body = request(t, "GET", ts.URL+"/v1.50/images/json?shared-size=1", nil)
	if !strings.Contains(body, `"SharedSize":0`) {
		t.Errorf("list with shared-size: %s", body)
	}
	// A filter in the older list encoding.
	_, _, body = request(t, "GET", ts.URL+`/v1.50/images/json?filters={"reference":["rectest/*"]}`, nil)
	if !strings.Contains(body, id) {
		t.Errorf("reference filter (list form): %s", body)
	}
	_, _, body = request(t, "GET", ts.URL+`/v1.50/images/json?filters={"dangling":{"true":true}}`, nil)
	if strings.TrimSpace(body) != "[]" {
		t.Errorf("dangling=true: %s", body)
	}

	_, _, body = request(t, "GET", ts.URL+"/v1.50/images/rectest/imp:1/json", nil)
	var in map[string]any
	if err := json.Unmarshal([]byte(body), &in); err != nil {
		t.Fatal(err)
	}
	cfg, _ := in["Config"].(map[string]any)
	if in["Id"] != id || in["Os"] != "linux" || !strings.Contains(jsonText(cfg["Env"]), "A=1") || jsonText(cfg["Cmd"]) != `["sh"]` {
		t.Errorf("inspect = %s", body)
	}
	// Before API 1.52 dockerd sends Parent, Comment, DockerVersion and
	// Author, and the Config fields Cmd ... WorkingDir, even when empty.
	if in["Parent"] != "" || in["Comment"] != "hi" || in["DockerVersion"] != "" || in["Author"] != "" {
		t.Errorf("inspect at 1.50 lacks the empty legacy fields: %s", body)
	}
	if _, ok := cfg["Entrypoint"]; !ok || cfg["WorkingDir"] != "" {
		t.Errorf("inspect at 1.50: Config lacks Entrypoint or WorkingDir: %s", body)
	}
	if _, ok := cfg["Hostname"]; ok {
		t.Errorf("inspect at 1.50: Config has Hostname (gone in 1.50): %s", body)
	}
	_, _, body = request(t, "GET", ts.URL+"/v1.52/images/rectest/imp:1/json", nil)
	if strings.Contains(body, `"Parent"`) || strings.Contains(body, `"Author"`) || strings.Contains(body, `"Entrypoint"`) || !strings.Contains(body, `"Comment":"hi"`) {
		t.Errorf("inspect at 1.52 must omit the empty ones: %s", body)
	}
	_, _, body = request(t, "GET", ts.URL+"/v1.49/images/rectest/imp:1/json", nil)
	if !strings.Contains(body, `"Hostname":""`) || !strings.Contains(body, `"Tty":false`) {
		t.Errorf("inspect at 1.49: Config lacks the container fields: %s", body)
	}
	_, _, body = request(t, "GET", ts.URL+"/v1.41/images/"+id+"/json", nil)
	if !strings.Contains(body, `"Parent":""`) || !strings.Contains(body, `"VirtualSize":`) {
		t.Errorf("inspect at 1.41: %s", body)
	}

	_, _, body = request(t, "GET", ts.URL+"/v1.50/images/rectest/imp:1/history", nil)
	var hist []map[string]any
	if err := json.Unmarshal([]byte(body), &hist); err != nil || len(hist) != 1 || hist[0]["Id"] != id || hist[0]["Comment"] != "hi" || jsonText(hist[0]["Tags"]) != `["rectest/imp:1"]` {
		t.Errorf("history = %v %s", err, body)
	}

	status, _, body = request(t, "POST", ts.URL+"/v1.50/images/rectest/imp:1/tag?repo=other/name&tag=2", nil)
	if status != 201 || body != "" {
		t.Errorf("tag: %d %q", status, body)
	}
	status, _, body = request(t, "POST", ts.URL+"/v1.50/images/rectest/imp:1/tag?repo=other/name@sha256:"+strings.Repeat("a", 64), nil)
	if status != 400 || !strings.Contains(body, "refusing to create a tag with a digest reference") {
		t.Errorf("tag with a digest: %d %s", status, body)
	}
	status, _, body = request(t, "POST", ts.URL+"/v1.50/images/rectest/imp:1/tag?repo=sha256&tag=abc", nil)
	if status != 400 || !strings.Contains(body, "refusing to create an ambiguous tag using digest algorithm as name") {
		t.Errorf("tag named sha256: %d %s", status, body)
	}
	status, _, body = request(t, "DELETE", ts.URL+"/v1.50/images/other/name:2", nil)
	if status != 200 || strings.TrimSpace(body) != `[{"Untagged":"other/name:2"}]` {
		t.Errorf("rmi of a second tag: %d %s", status, body)
	}
	status, _, body = request(t, "DELETE", ts.URL+"/v1.50/images/rectest/imp:1", nil)
	if status != 200 || strings.TrimSpace(body) != `[{"Untagged":"rectest/imp:1"},{"Deleted":"`+id+`"}]` {
		t.Errorf("rmi of the last tag: %d %s", status, body)
	}
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestImageInUse checks that Config.ImageInUse makes rmi a 409 with
// dockerd's text unless forced, and keeps the image out of prune.
func TestImageInUse(t *testing.T) {
	var used digest.Digest
	svc, ts := newImageServer(t, func(_ context.Context, id digest.Digest) (string, bool) {
		if id == used {
			return strings.Repeat("c", 64), false
		}
		return "", false
	})
	img, err := svc.Import(context.Background(), bytes.NewReader(rootfs(t, "y")), image.ImportOptions{Ref: "inuse:1"})
	if err != nil {
		t.Fatal(err)
	}
	used = img.ID
	status, _, body := request(t, "DELETE", ts.URL+"/v1.50/images/inuse:1", nil)
	want := `conflict: unable to remove repository reference \"inuse:1\" (must force) - container cccccccccccc is using its referenced image ` + img.ID.Encoded()[:12]
	if status != 409 || !strings.Contains(body, `"message":"`+want) || strings.Contains(body, ": conflict") {
		t.Errorf("rmi of an image in use: %d %s, want 409 %q", status, body, want)
	}
	status, _, body = request(t, "POST", ts.URL+`/v1.50/images/prune?filters={"dangling":{"false":true}}`, nil)
	if status != 200 || !strings.Contains(body, `"ImagesDeleted":null`) || !strings.Contains(body, `"SpaceReclaimed":0`) {
		t.Errorf("prune -a with the image in use: %d %s", status, body)
	}
	used = ""
	status, _, body = request(t, "POST", ts.URL+`/v1.50/images/prune?filters={"dangling":{"false":true}}`, nil)
	if status != 200 || !strings.Contains(body, `{"Deleted":"`+img.ID.String()+`"}`) {
		t.Errorf("prune -a: %d %s", status, body)
	}
}

// TestSaveAndLoadStream saves an image through GET /images/get and loads
// it back through POST /images/load.
func TestSaveAndLoadStream(t *testing.T) {
	svc, ts := newImageServer(t, nil)
	if _, err := svc.Import(context.Background(), bytes.NewReader(rootfs(t, "z")), image.ImportOptions{Ref: "saved:1"}); err != nil {
		t.Fatal(err)
	}
	status, hdr, tarball := request(t, "GET", ts.URL+"/v1.50/images/get?names=saved:1", nil)
	if status != 200 || hdr.Get("Content-Type") != "application/x-tar" || len(tarball) < 1024 {
		t.Fatalf("save: %d %q %d bytes", status, hdr.Get("Content-Type"), len(tarball))
	}
	status, _, body := request(t, "GET", ts.URL+"/v1.50/images/saved:1/get", nil)
	if status != 200 || body != tarball {
		t.Errorf("GET /images/saved:1/get differs from /images/get?names=saved:1 (%d)", status)
	}
	status, _, body = request(t, "POST", ts.URL+"/v1.50/images/load?quiet=1", strings.NewReader(tarball))
	if status != 200 || strings.TrimSpace(body) != `{"stream":"Loaded image: saved:1\n"}` {
		t.Errorf("load: %d %q", status, body)
	}
	status, _, body = request(t, "POST", ts.URL+"/v1.50/images/load", strings.NewReader("junk"))
	if status != 200 || !strings.Contains(body, `"errorDetail":{"message":`) || !strings.Contains(body, `"error":`) {
		t.Errorf("load of junk: %d %q", status, body)
	}
}

func TestProgressStreamHoldsAndFails(t *testing.T) {
	hold := func(m streamMessage) bool { return strings.HasPrefix(m.Status, "Pulling from ") }
	// An error while only held lines exist is an HTTP error.
	rec := httptest.NewRecorder()
	ps := newProgressStream(rec, httptest.NewRequest("POST", "/images/create", nil), hold)
	ps.event(image.ProgressEvent{ID: "1", Status: "Pulling from x"})
	ps.fail(fmt.Errorf("pull x: %w", errdefs.ErrNotFound), "manifest for x:1 not found: manifest unknown: manifest unknown")
	if rec.Code != 404 || strings.TrimSpace(rec.Body.String()) != `{"message":"manifest for x:1 not found: manifest unknown: manifest unknown"}` {
		t.Errorf("held then failed: %d %s", rec.Code, rec.Body.String())
	}
	// Unauthorized becomes 500 (a 401 would make the CLI prompt).
	rec = httptest.NewRecorder()
	ps = newProgressStream(rec, httptest.NewRequest("POST", "/images/create", nil), hold)
	ps.fail(fmt.Errorf("x: %w", errdefs.ErrUnauthenticated), "denied")
	if rec.Code != 500 {
		t.Errorf("unauthorized pull: %d", rec.Code)
	}
	// After a real line, the error is the stream's last line.
	rec = httptest.NewRecorder()
	ps = newProgressStream(rec, httptest.NewRequest("POST", "/images/create", nil), hold)
	ps.event(image.ProgressEvent{ID: "1", Status: "Pulling from x"})
	ps.event(image.ProgressEvent{ID: "0123456789ab", Status: "Downloading", ProgressDetail: &image.ProgressDetail{Current: 50, Total: 100}})
	ps.fail(errors.New("boom"), "boom")
	want := `{"status":"Pulling from x","id":"1"}` + "\r\n" +
		`{"status":"Downloading","progressDetail":{"current":50,"total":100},"progress":"[=========================\u003e                         ]      50B/100B","id":"0123456789ab"}` + "\r\n" +
		`{"errorDetail":{"message":"boom"},"error":"boom"}` + "\r\n"
	if rec.Code != 200 || rec.Body.String() != want {
		t.Errorf("stream:\n%s\nwant:\n%s", rec.Body.String(), want)
	}
	if m := progressMessage(image.ProgressEvent{ID: "0123456789ab", Status: "Pull complete"}); m.ProgressDetail == nil || m.Progress != "" {
		t.Errorf("layer status without bytes: %+v", m)
	}
}

func TestRegistryAuthHeader(t *testing.T) {
	js := `{"username":"u","password":"p?>","serveraddress":"h"}`
	for _, enc := range []*base64.Encoding{base64.URLEncoding, base64.RawURLEncoding, base64.StdEncoding} {
		r := httptest.NewRequest("POST", "/", nil)
		r.Header.Set("X-Registry-Auth", enc.EncodeToString([]byte(js)))
		ac, err := registryAuth(r)
		if err != nil || ac == nil || ac.Username != "u" || ac.Password != "p?>" {
			t.Errorf("decode %q: %+v %v", r.Header.Get("X-Registry-Auth"), ac, err)
		}
	}
	r := httptest.NewRequest("POST", "/", nil)
	r.Header.Set("X-Registry-Auth", base64.URLEncoding.EncodeToString([]byte("{}")))
	if ac, err := registryAuth(r); ac != nil || err != nil {
		t.Errorf("{}: %+v %v, want nil credentials", ac, err)
	}
	r.Header.Set("X-Registry-Auth", "!!!")
	if _, err := registryAuth(r); !errdefs.IsInvalidArgument(err) {
		t.Errorf("undecodable header: %v", err)
	}
}

func TestPullReferenceAndNames(t *testing.T) {
	for _, c := range []struct{ from, tag, want string }{
		{"busybox", "", "docker.io/library/busybox:latest"},
		{"busybox:", "", "docker.io/library/busybox:latest"},
		{"127.0.0.1:5000/busybox", "1", "127.0.0.1:5000/busybox:1"},
		{"busybox", "sha256:" + strings.Repeat("0", 64), "docker.io/library/busybox@sha256:" + strings.Repeat("0", 64)},
	} {
		ref, err := pullReference(c.from, c.tag)
		if err != nil || ref.String() != c.want {
			t.Errorf("pullReference(%q, %q) = %v, %v; want %s", c.from, c.tag, ref, err, c.want)
		}
	}
	if _, err := pullReference("UPPER", ""); !errdefs.IsInvalidArgument(err) || err.Error() != "invalid reference format: repository name (library/UPPER) must be lowercase" {
		t.Errorf("pullReference(UPPER): %v", err)
	}
	for ref, want := range map[string]string{
		"nosuch": "No such image: nosuch:latest", "a/b:1": "No such image: a/b:1",
		"sha256:abc": "No such image: sha256:abc", strings.Repeat("e", 64): "No such image: " + strings.Repeat("e", 64),
	} {
		if err := noSuchImage(ref); err.Error() != want || !errdefs.IsNotFound(err) {
			t.Errorf("noSuchImage(%q) = %v", ref, err)
		}
	}
	for rest, want := range map[string]string{
		"127.0.0.1:5000/busybox:1/json": "127.0.0.1:5000/busybox:1 json", "json/json": "json json",
		"busybox/history": "busybox history", "/json": "", "busybox": "", "busybox/bogus": "",
	} {
		n, v, ok := splitVerb(rest, "json", "history", "get")
		got := ""
		if ok {
			got = n + " " + v
		}
		if got != want {
			t.Errorf("splitVerb(%q) = %q, want %q", rest, got, want)
		}
	}
	if got := innerMessage(fmt.Errorf("remove image x: %w", fmt.Errorf("conflict: unable: %w", errdefs.ErrConflict))); got != "conflict: unable" {
		t.Errorf("innerMessage = %q", got)
	}
}

func TestRegistryHost(t *testing.T) {
	for in, want := range map[string]string{
		"": "index.docker.io", "https://index.docker.io/v1/": "index.docker.io", "127.0.0.1:5000": "127.0.0.1:5000",
		"http://127.0.0.1:5000/": "127.0.0.1:5000", "ghcr.io": "ghcr.io",
	} {
		if got := registryHost(in); got != want {
			t.Errorf("registryHost(%q) = %q, want %q", in, got, want)
		}
	}
	if !loopbackHost("localhost:5000") || !loopbackHost("127.0.0.2") || !loopbackHost("[::1]:80") || loopbackHost("example.com:5000") {
		t.Error("loopbackHost")
	}
}

func TestPullMessage(t *testing.T) {
	ref, _ := pullReference("127.0.0.1:5000/busybox", "1")
	wrap := func(code transport.ErrorCode, msg string) error {
		te := &transport.Error{StatusCode: 404, Errors: []transport.Diagnostic{{Code: code, Message: msg}}}
		return fmt.Errorf("pull x: %w", fmt.Errorf("manifest 1: %w: %w", te, errdefs.ErrNotFound))
	}
	for _, c := range []struct {
		err  error
		want string
	}{
		{wrap(transport.ManifestUnknownErrorCode, "manifest unknown"), "manifest for 127.0.0.1:5000/busybox:1 not found: manifest unknown: manifest unknown"},
		{wrap(transport.NameUnknownErrorCode, "repository name not known to registry"), "repository 127.0.0.1:5000/busybox not found: name unknown: repository name not known to registry"},
		{wrap(transport.DeniedErrorCode, "requested access to the resource is denied"), "pull access denied for 127.0.0.1:5000/busybox, repository does not exist or may require 'docker login': denied: requested access to the resource is denied"},
		{fmt.Errorf("pull x: %w", fmt.Errorf("image is linux/arm64, not the requested platform linux/amd64: %w", errdefs.ErrNotFound)), "image is linux/arm64, not the requested platform linux/amd64"},
	} {
		if got := pullMessage(ref, c.err); got != c.want {
			t.Errorf("pullMessage(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

// Before API 1.45 image inspect carries Container and ContainerConfig
// (Compose v1 reads ContainerConfig.Volumes when it recreates a
// container); from 1.45 on neither is sent.
func TestImageInspectContainerConfigBefore145(t *testing.T) {
	_, ts := newImageServer(t, nil)
	status, _, body := request(t, "POST", ts.URL+"/v1.50/images/create?fromSrc=-&repo=rectest/cc:1", bytes.NewReader(rootfs(t, "x")))
	if status != 200 {
		t.Fatalf("import: %d %s", status, body)
	}
	_, _, body = request(t, "GET", ts.URL+"/v1.41/images/rectest/cc:1/json", nil)
	var in map[string]any
	if err := json.Unmarshal([]byte(body), &in); err != nil {
		t.Fatal(err)
	}
	cc, ok := in["ContainerConfig"].(map[string]any)
	if _, hasVolumes := cc["Volumes"]; !ok || !hasVolumes || in["Container"] != "" {
		t.Errorf("inspect at 1.41: ContainerConfig %v Container %v, want a container config and \"\"", in["ContainerConfig"], in["Container"])
	}
	_, _, body = request(t, "GET", ts.URL+"/v1.45/images/rectest/cc:1/json", nil)
	if strings.Contains(body, `"ContainerConfig"`) || strings.Contains(body, `"Container"`) {
		t.Errorf("inspect at 1.45 has ContainerConfig or Container: %s", body)
	}
	// docker-compose 1.x asks at the server's highest version and reads
	// ContainerConfig all the same: it is answered at 1.44 at most.
	for ua, want := range map[string]bool{
		"docker-compose/1.29.2 docker-py/5.0.3 Linux/6.18.44": true,
		"docker-sdk-python/5.0.3":                             false,
		"Docker-Client/28.5.1 (linux)":                        false,
	} {
		req, _ := http.NewRequest("GET", ts.URL+"/v"+APIVersion+"/images/rectest/cc:1/json", nil)
		req.Header.Set("User-Agent", ua)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if got := strings.Contains(string(b), `"ContainerConfig"`); got != want {
			t.Errorf("inspect at %s by %q: ContainerConfig shown %v, want %v", APIVersion, ua, got, want)
		}
	}
}

// TestImagesSearch: GET /images/search asks the registry the term names
// (here a fake v1 search on 127.0.0.1, over plain HTTP as a loopback
// registry) and filters the answer by stars and is-official.
func TestImagesSearch(t *testing.T) {
	var asked string
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/search" {
			http.NotFound(w, r)
			return
		}
		asked = r.URL.RawQuery
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"query":"busy","num_results":3,"results":[` +
			`{"name":"busybox","description":"the box","star_count":9,"is_official":true},` +
			`{"name":"someone/busybox","description":"a copy","star_count":2},` +
			`{"name":"other/busy","description":"","star_count":5}]}`))
	}))
	defer reg.Close()
	_, ts := newImageServer(t, nil)
	host := strings.TrimPrefix(reg.URL, "http://")
	status, _, body := request(t, "GET", ts.URL+"/v1.50/images/search?term="+host+"/busy&limit=10&filters="+url.QueryEscape(`{"stars":{"3":true}}`), nil)
	if status != 200 || asked != "n=10&q=busy" {
		t.Fatalf("search: %d %s (registry asked %q)", status, body, asked)
	}
	var got []map[string]any
	if err := json.Unmarshal([]byte(body), &got); err != nil || len(got) != 2 || got[0]["name"] != "busybox" || got[1]["name"] != "other/busy" {
		t.Errorf("search with stars>=3: %v %s", err, body)
	}
	_, _, body = request(t, "GET", ts.URL+"/v1.50/images/search?term="+host+"/busy&filters="+url.QueryEscape(`{"is-official":{"true":true}}`), nil)
	if err := json.Unmarshal([]byte(body), &got); err != nil || len(got) != 1 || got[0]["is_official"] != true {
		t.Errorf("search is-official: %v %s", err, body)
	}
	if status, _, body := request(t, "GET", ts.URL+"/v1.50/images/search", nil); status != 400 {
		t.Errorf("search without a term: %d %s", status, body)
	}
}

// TestSavePlatformParameters: several platform parameters are a 400, as
// dockerd answers them.
func TestSavePlatformParameters(t *testing.T) {
	_, ts := newImageServer(t, nil)
	status, _, body := request(t, "GET", ts.URL+"/v1.50/images/get?names=x&platform=linux/amd64&platform=linux/arm64", nil)
	if status != 400 || !strings.Contains(body, "multiple platform parameters not supported") {
		t.Errorf("save with two platforms: %d %s", status, body)
	}
}
