package registry

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func writeHtpasswd(t *testing.T, users map[string]string) string {
	t.Helper()
	var sb strings.Builder
	for u, p := range users {
		h, err := bcrypt.GenerateFromPassword([]byte(p), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		sb.WriteString(u + ":" + string(h) + "\n")
	}
	path := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(path, []byte(sb.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func basic(user, pass string) []string {
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth(user, pass)
	return []string{"Authorization", req.Header.Get("Authorization")}
}

func TestBasicAuth(t *testing.T) {
	a, err := NewAuth(AuthConfig{
		Htpasswd: writeHtpasswd(t, map[string]string{"alice": "secret", "bob": "reader"}),
		Access: map[string][]AccessRule{
			"alice": {{Repository: "*", Actions: []string{"*"}}},
			"bob":   {{Repository: "team/*", Actions: []string{"pull"}}},
		},
		Public: []string{"pub/*"},
	})
	if err != nil {
		t.Fatal(err)
	}
	tr := newTestRegistry(t, nil, ServerOptions{Auth: a})
	r := tr.do("GET", "/v2/", nil)
	tr.expect(r, 401, "UNAUTHORIZED")
	if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic realm=") {
		t.Errorf("challenge = %q", r.header.Get("WWW-Authenticate"))
	}
	tr.expect(tr.do("GET", "/v2/", nil, basic("alice", "secret")...), 200, "")
	tr.expect(tr.do("GET", "/v2/", nil, basic("alice", "wrong")...), 401, "UNAUTHORIZED")

	img := makeImage(t, 1, 10)
	for _, b := range append([][]byte{img.config}, img.layers...) {
		r := tr.do("POST", "/v2/team/app/blobs/uploads/?digest="+sha(b), b, basic("alice", "secret")...)
		tr.expect(r, 201, "")
		tr.expect(tr.do("POST", "/v2/pub/app/blobs/uploads/?digest="+sha(b), b, basic("alice", "secret")...), 201, "")
	}
	tr.expect(tr.do("PUT", "/v2/team/app/manifests/v1", img.manifest, append(basic("alice", "secret"), "Content-Type", MediaTypeOCIManifest)...), 201, "")
	tr.expect(tr.do("PUT", "/v2/pub/app/manifests/v1", img.manifest, append(basic("alice", "secret"), "Content-Type", MediaTypeOCIManifest)...), 201, "")

	// bob may pull team/* but not push or delete.
	tr.expect(tr.do("GET", "/v2/team/app/manifests/v1", nil, basic("bob", "reader")...), 200, "")
	tr.expect(tr.do("PUT", "/v2/team/app/manifests/v2", img.manifest, append(basic("bob", "reader"), "Content-Type", MediaTypeOCIManifest)...), 403, "DENIED")
	tr.expect(tr.do("POST", "/v2/team/app/blobs/uploads/", nil, basic("bob", "reader")...), 403, "DENIED")
	tr.expect(tr.do("DELETE", "/v2/team/app/manifests/v1", nil, basic("bob", "reader")...), 403, "DENIED")
	tr.expect(tr.do("GET", "/v2/other/manifests/v1", nil, basic("bob", "reader")...), 403, "DENIED")
	// Anonymous: public repositories only, and only pull.
	tr.expect(tr.do("GET", "/v2/pub/app/manifests/v1", nil), 200, "")
	tr.expect(tr.do("GET", "/v2/team/app/manifests/v1", nil), 401, "UNAUTHORIZED")
	tr.expect(tr.do("POST", "/v2/pub/app/blobs/uploads/", nil), 401, "UNAUTHORIZED")
}

func TestFailedLoginsAreRateLimited(t *testing.T) {
	a, err := NewAuth(AuthConfig{Htpasswd: writeHtpasswd(t, map[string]string{"alice": "secret"}), MaxFailures: 3})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	a.SetClock(func() time.Time { return now })
	tr := newTestRegistry(t, nil, ServerOptions{Auth: a})
	for range 3 {
		tr.expect(tr.do("GET", "/v2/", nil, basic("alice", "guess")...), 401, "UNAUTHORIZED")
	}
	// Even the right password is refused while limited.
	tr.expect(tr.do("GET", "/v2/", nil, basic("alice", "secret")...), 429, "TOOMANYREQUESTS")
	now = now.Add(61 * time.Second)
	tr.expect(tr.do("GET", "/v2/", nil, basic("alice", "secret")...), 200, "")
}

// token fetches a token from the registry's endpoint.
func (tr *testRegistry) token(user, pass string, scopes ...string) string {
	tr.t.Helper()
	q := url.Values{"service": {"berth-registry"}, "scope": scopes}
	var hdr []string
	if user != "" {
		hdr = basic(user, pass)
	}
	r := tr.do("GET", "/token?"+q.Encode(), nil, hdr...)
	tr.expect(r, 200, "")
	var body struct {
		Token string `json:"token"`
	}
	json.Unmarshal(r.body, &body)
	return body.Token
}

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

func TestTokenAuth(t *testing.T) {
	a, err := NewAuth(AuthConfig{
		Htpasswd: writeHtpasswd(t, map[string]string{"alice": "secret", "bob": "reader"}),
		Token:    &TokenConfig{Expiry: Duration(time.Minute)},
		Access: map[string][]AccessRule{
			"alice": {{Repository: "*", Actions: []string{"pull", "push", "delete"}}},
			"bob":   {{Repository: "team/app", Actions: []string{"pull"}}},
		},
		Public: []string{"pub"},
	})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	a.SetClock(func() time.Time { return now })
	tr := newTestRegistry(t, nil, ServerOptions{Auth: a})

	r := tr.do("GET", "/v2/team/app/manifests/v1", nil)
	tr.expect(r, 401, "UNAUTHORIZED")
	ch := r.header.Get("WWW-Authenticate")
	if !strings.HasPrefix(ch, `Bearer realm="http://`) || !strings.Contains(ch, `scope="repository:team/app:pull"`) {
		t.Fatalf("challenge = %q", ch)
	}

	alice := tr.token("alice", "secret", "repository:team/app:pull,push", "repository:pub:pull,push")
	img := makeImage(t, 1, 10)
	for _, repo := range []string{"team/app", "pub"} {
		for _, b := range append([][]byte{img.config}, img.layers...) {
			tr.expect(tr.do("POST", "/v2/"+repo+"/blobs/uploads/?digest="+sha(b), b, bearer(alice)...), 201, "")
		}
		tr.expect(tr.do("PUT", "/v2/"+repo+"/manifests/v1", img.manifest, append(bearer(alice), "Content-Type", MediaTypeOCIManifest)...), 201, "")
	}
	// A token for one repository does not open another.
	tr.expect(tr.do("GET", "/v2/other/manifests/v1", nil, bearer(alice)...), 401, "UNAUTHORIZED")

	// bob asks for pull and push and gets only pull.
	bob := tr.token("bob", "reader", "repository:team/app:pull,push")
	tr.expect(tr.do("GET", "/v2/team/app/manifests/v1", nil, bearer(bob)...), 200, "")
	r = tr.do("PUT", "/v2/team/app/manifests/v2", img.manifest, append(bearer(bob), "Content-Type", MediaTypeOCIManifest)...)
	tr.expect(r, 401, "UNAUTHORIZED")
	if !strings.Contains(r.header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
		t.Errorf("challenge = %q", r.header.Get("WWW-Authenticate"))
	}
	tr.expect(tr.do("POST", "/v2/team/app/blobs/uploads/", nil, bearer(bob)...), 401, "UNAUTHORIZED")

	// Anonymous: a token for a private repository grants nothing; the
	// public one is readable.
	anon := tr.token("", "", "repository:team/app:pull")
	tr.expect(tr.do("GET", "/v2/team/app/manifests/v1", nil, bearer(anon)...), 401, "UNAUTHORIZED")
	tr.expect(tr.do("GET", "/v2/pub/manifests/v1", nil), 200, "")
	tr.expect(tr.do("PUT", "/v2/pub/manifests/v2", img.manifest, "Content-Type", MediaTypeOCIManifest), 401, "UNAUTHORIZED")

	// Wrong password at the token endpoint.
	tr.expect(tr.do("GET", "/token?scope=repository:team/app:pull", nil, basic("bob", "nope")...), 401, "UNAUTHORIZED")

	// Expired and forged tokens are refused.
	now = now.Add(2 * time.Minute)
	tr.expect(tr.do("GET", "/v2/team/app/manifests/v1", nil, bearer(bob)...), 401, "UNAUTHORIZED")
	now = time.Now()
	parts := strings.Split(bob, ".")
	forgedClaims := strings.Replace(string(mustB64(t, parts[1])), `"pull"`, `"pull","push"`, 1)
	forged := parts[0] + "." + b64.EncodeToString([]byte(forgedClaims)) + "." + parts[2]
	tr.expect(tr.do("POST", "/v2/team/app/blobs/uploads/", nil, bearer(forged)...), 401, "UNAUTHORIZED")

	// The OAuth2 password grant works too.
	form := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"secret"}, "scope": {"repository:team/app:pull"}, "service": {"berth-registry"}}
	r = tr.do("POST", "/token", []byte(form.Encode()), "Content-Type", "application/x-www-form-urlencoded")
	tr.expect(r, 200, "")
	var body struct {
		AccessToken string `json:"access_token"`
	}
	json.Unmarshal(r.body, &body)
	tr.expect(tr.do("GET", "/v2/team/app/manifests/v1", nil, bearer(body.AccessToken)...), 200, "")
}

func mustB64(t *testing.T, s string) []byte {
	b, err := b64.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// With a key file, tokens survive a restart (a second Auth over the same
// file accepts them); without one they do not.
func TestTokenKeyFile(t *testing.T) {
	htpasswd := writeHtpasswd(t, map[string]string{"alice": "secret"})
	keyFile := filepath.Join(t.TempDir(), "token.pem")
	cfg := AuthConfig{Htpasswd: htpasswd, Token: &TokenConfig{Key: keyFile}}
	a1, err := NewAuth(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tr1 := newTestRegistry(t, nil, ServerOptions{Auth: a1})
	tok := tr1.token("alice", "secret", "repository:r:pull")
	a2, err := NewAuth(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tr2 := newTestRegistry(t, nil, ServerOptions{Auth: a2})
	tr2.expect(tr2.do("GET", "/v2/r/tags/list", nil, bearer(tok)...), 404, "NAME_UNKNOWN")
	a3, err := NewAuth(AuthConfig{Htpasswd: htpasswd, Token: &TokenConfig{}})
	if err != nil {
		t.Fatal(err)
	}
	tr3 := newTestRegistry(t, nil, ServerOptions{Auth: a3})
	tr3.expect(tr3.do("GET", "/v2/r/tags/list", nil, bearer(tok)...), 401, "UNAUTHORIZED")
	os.WriteFile(keyFile, []byte("garbage"), 0o600)
	if _, err := NewAuth(cfg); err == nil || !strings.Contains(err.Error(), keyFile) {
		t.Fatalf("a corrupt key file: %v", err)
	}
}
