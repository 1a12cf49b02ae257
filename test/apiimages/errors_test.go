package apiimages

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoginAndAuthenticatedPullPush logs in to a registry with htpasswd
// auth (a wrong password first), then pulls and pushes with the
// credentials the CLI sends in X-Registry-Auth.
func TestLoginAndAuthenticatedPullPush(t *testing.T) {
	host := startRegistry(t, "alice", "s3cret")
	pushBusybox(t, host, "busybox:auth", "alice", "s3cret")
	d := startDaemon(t, "")
	c := newCLI(t, d)
	// The daemon's own config.json has the credentials: as with dockerd,
	// a client that sends none does not get them.
	own := fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, host, base64.StdEncoding.EncodeToString([]byte("alice:s3cret")))
	if err := os.WriteFile(filepath.Join(d.Dir, "home", "config.json"), []byte(own), 0o600); err != nil {
		t.Fatal(err)
	}

	r := c.run("pull", host+"/busybox:auth")
	// A 500, as dockerd's: a 401 would make the CLI prompt for a login.
	if r.code != 1 || !strings.Contains(r.stderr, "Error response from daemon: ") || !strings.Contains(r.stderr, "UNAUTHORIZED: authentication required") {
		t.Errorf("pull without login: exit %d, stderr %q", r.code, r.stderr)
	}

	r = c.runIn([]byte("wrong\n"), "login", "-u", "alice", "--password-stdin", host)
	want := "Error response from daemon: login attempt to http://" + host + "/v2/ failed with status: 401 Unauthorized"
	if r.code != 1 || !strings.Contains(r.stderr, want) {
		t.Errorf("login with a wrong password: exit %d, stderr %q, want %q", r.code, r.stderr, want)
	}
	r = c.runIn([]byte("s3cret\n"), "login", "-u", "alice", "--password-stdin", host)
	if r.code != 0 || !strings.Contains(r.stdout, "Login Succeeded") {
		t.Fatalf("login: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}

	r = c.ok("pull", host+"/busybox:auth")
	if !strings.Contains(r.stdout, "Status: Downloaded newer image for "+host+"/busybox:auth") {
		t.Errorf("pull after login:\n%s", r.stdout)
	}
	c.ok("tag", host+"/busybox:auth", host+"/pushed:2")
	r = c.ok("push", host+"/pushed:2")
	if !strings.Contains(r.stdout, "2: digest: sha256:") {
		t.Errorf("push after login:\n%s", r.stdout)
	}
	out := skopeo(t, "inspect", "--tls-verify=false", "--creds", "alice:s3cret", "docker://"+host+"/pushed:2")
	if !strings.Contains(out, `"Os": "linux"`) {
		t.Errorf("skopeo inspect of the pushed image: %s", out)
	}

	// The Engine API directly: 200 {"IdentityToken":"","Status":"Login Succeeded"}.
	hc := d.httpClient()
	body := fmt.Sprintf(`{"username":"alice","password":"s3cret","serveraddress":%q}`, host)
	resp, err := hc.Post("http://berth/v1.50/auth", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.TrimSpace(string(b)) != `{"IdentityToken":"","Status":"Login Succeeded"}` {
		t.Errorf("POST /auth: %d %s", resp.StatusCode, b)
	}
	body = fmt.Sprintf(`{"username":"alice","password":"nope","serveraddress":"http://%s/"}`, host)
	resp, err = hc.Post("http://berth/v1.50/auth", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.Contains(string(b), "failed with status: 401 Unauthorized") {
		t.Errorf("POST /auth with a wrong password: %d %s", resp.StatusCode, b)
	}
}

// apiError does one request and returns status and {"message"}.
func apiError(t *testing.T, d *daemon, method, path string, hdr http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://berth"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := d.httpClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e struct{ Message string }
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &e); err != nil {
		t.Errorf("%s %s: body %q is not an error object", method, path, b)
	}
	return resp.StatusCode, e.Message
}

// TestErrors checks dockerd's statuses and messages through the docker
// CLI and raw requests.
func TestErrors(t *testing.T) {
	host := startRegistry(t, "", "")
	pushBusybox(t, host, "busybox:latest")
	d := startDaemon(t, "")
	c := newCLI(t, d)

	r := c.run("pull", host+"/busybox:nope")
	want := "Error response from daemon: manifest for " + host + "/busybox:nope not found: manifest unknown: manifest unknown"
	if r.code != 1 || strings.TrimSpace(r.stderr) != want {
		t.Errorf("pull of a missing tag: exit %d, stderr %q, want %q", r.code, r.stderr, want)
	}
	r = c.run("pull", host+"/nosuchrepo")
	if r.code != 1 || !strings.Contains(r.stderr, "manifest for "+host+"/nosuchrepo:latest not found") {
		t.Errorf("pull of a missing repository: exit %d, stderr %q", r.code, r.stderr)
	}
	r = c.run("push", host+"/nosuch:1")
	if r.code != 1 || !strings.Contains(r.stderr, "An image does not exist locally with the tag: "+host+"/nosuch") {
		t.Errorf("push of a missing image: exit %d, stderr %q", r.code, r.stderr)
	}
	// A missing tag of a repository that has images fails in the stream.
	c.ok("pull", "-q", host+"/busybox")
	r = c.run("push", host+"/busybox:nosuch")
	if r.code != 1 || !strings.Contains(r.stderr, "tag does not exist: "+host+"/busybox:nosuch") {
		t.Errorf("push of a missing tag: exit %d, stderr %q", r.code, r.stderr)
	}
	r = c.run("tag", "nosuch", "x:1")
	if r.code != 1 || !strings.Contains(r.stderr, "Error response from daemon: No such image: nosuch:latest") {
		t.Errorf("tag of a missing image: exit %d, stderr %q", r.code, r.stderr)
	}
	r = c.run("history", "nosuch:2")
	if r.code != 1 || !strings.Contains(r.stderr, "No such image: nosuch:2") {
		t.Errorf("history of a missing image: exit %d, stderr %q", r.code, r.stderr)
	}

	for _, tc := range []struct {
		method, path string
		status       int
		message      string
	}{
		{"POST", "/v1.50/images/create?fromImage=UPPER&tag=1", 400, "invalid reference format: repository name (library/UPPER) must be lowercase"},
		{"POST", "/v1.50/images/create?fromImage=busybox&tag=a%20b", 400, "invalid tag format"},
		{"POST", "/v1.50/images/create", 400, "either fromImage or fromSrc is required"},
		{"GET", "/v1.50/images/nosuch/json", 404, "No such image: nosuch:latest"},
		{"GET", "/v1.50/images/sha256:0123456789ab/json", 404, "No such image: sha256:0123456789ab"},
		{"GET", "/v1.50/images/busybox/bogus", 404, "page not found"},
		{"DELETE", "/v1.50/images/nosuch", 404, "No such image: nosuch:latest"},
		{"POST", "/v1.50/images/nosuch/tag?repo=x&tag=1", 404, "No such image: nosuch:latest"},
		{"POST", "/v1.50/images/nosuch/tag?repo=UPPER", 400, "invalid reference format: repository name (library/UPPER) must be lowercase"},
		{"GET", "/v1.50/images/json?filters=%7B%22bogus%22%3A%7B%22x%22%3Atrue%7D%7D", 400, "invalid filter 'bogus'"},
		{"POST", "/v1.50/images/prune?filters=%7B%22reference%22%3A%7B%22x%22%3Atrue%7D%7D", 400, "invalid filter 'reference'"},
		{"GET", "/v1.50/images/get?names=nosuch:3", 404, "No such image: nosuch:3"},
	} {
		status, msg := apiError(t, d, tc.method, tc.path, nil)
		if status != tc.status || !strings.HasPrefix(msg, tc.message) {
			t.Errorf("%s %s: %d %q, want %d %q", tc.method, tc.path, status, msg, tc.status, tc.message)
		}
	}
}

// fakeRegistry serves one image whose layer does not match its digest,
// so a pull fails after its stream has started.
func fakeRegistry(t *testing.T) string {
	t.Helper()
	var lb bytes.Buffer
	zw := gzip.NewWriter(&lb)
	zw.Write(rootfsTar(t))
	zw.Close()
	layer := lb.Bytes()
	diffID := fmt.Sprintf("sha256:%x", sha256.Sum256(rootfsTar(t)))
	cfg := []byte(`{"architecture":"amd64","os":"linux","config":{"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["` + diffID + `"]}}`)
	dig := func(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }
	manifest := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",`+
		`"config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":%q,"size":%d},`+
		`"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","digest":%q,"size":%d}]}`,
		dig(cfg), len(cfg), dig(layer), len(layer)))
	tampered := append([]byte{}, layer...)
	tampered[len(tampered)/2] ^= 0xff
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/v2/":
			w.WriteHeader(200)
		case strings.HasPrefix(r.URL.Path, "/v2/bad/manifests/"):
			w.Header().Set("Content-Type", "application/vnd.docker.distribution.manifest.v2+json")
			w.Header().Set("Docker-Content-Digest", dig(manifest))
			w.Header().Set("Content-Length", fmt.Sprint(len(manifest)))
			if r.Method != http.MethodHead {
				w.Write(manifest)
			}
		case r.URL.Path == "/v2/bad/blobs/"+dig(cfg):
			w.Write(cfg)
		case r.URL.Path == "/v2/bad/blobs/"+dig(layer):
			w.Header().Set("Content-Length", fmt.Sprint(len(tampered)))
			w.Write(tampered)
		default:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`)
		}
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// TestPullStreamError reads the raw progress stream of a pull that fails
// mid-way: 200, JSON lines, the last one dockerd's error object; the
// docker CLI prints that error and exits 1. A pull also takes
// X-Registry-Auth and ignores one that does not decode, as dockerd.
func TestPullStreamError(t *testing.T) {
	host := fakeRegistry(t)
	d := startDaemon(t, "")
	auth := base64.URLEncoding.EncodeToString([]byte(`{"username":"u","password":"p","serveraddress":"` + host + `"}`))
	req, _ := http.NewRequest("POST", "http://berth/v1.50/images/create?fromImage="+host+"/bad&tag=1", nil)
	req.Header.Set("X-Registry-Auth", auth)
	resp, err := d.httpClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("pull: status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var lines []map[string]any
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("stream line %q: %v", sc.Text(), err)
		}
		lines = append(lines, m)
	}
	if len(lines) < 2 {
		t.Fatalf("stream: %v", lines)
	}
	if lines[0]["status"] != "Pulling from bad" || lines[0]["id"] != "1" {
		t.Errorf("first line = %v", lines[0])
	}
	last := lines[len(lines)-1]
	detail, _ := last["errorDetail"].(map[string]any)
	if detail == nil || last["error"] == nil || detail["message"] != last["error"] || !strings.Contains(fmt.Sprint(last["error"]), "sha256:") {
		t.Errorf("last line = %v, want errorDetail.message = error naming the digest", last)
	}

	c := newCLI(t, d)
	r := c.run("pull", host+"/bad:1")
	if r.code != 1 || !strings.Contains(r.stdout, "1: Pulling from bad\n") || !strings.Contains(r.stderr, fmt.Sprint(last["error"])) {
		t.Errorf("docker pull of a tampered image: exit %d\nstdout %q\nstderr %q", r.code, r.stdout, r.stderr)
	}

	// An undecodable X-Registry-Auth is ignored by a pull; the missing tag
	// is what fails.
	req, _ = http.NewRequest("POST", "http://berth/v1.50/images/create?fromImage="+host+"/missing&tag=2", nil)
	req.Header.Set("X-Registry-Auth", "%%%not-base64")
	resp2, err := d.httpClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp2.Body)
	resp2.Body.Close()
	if resp2.StatusCode != 404 || strings.TrimSpace(string(b)) != `{"message":"manifest for `+host+`/missing:2 not found: manifest unknown: manifest unknown"}` {
		t.Errorf("pull with a bad X-Registry-Auth: %d %s", resp2.StatusCode, b)
	}
}
