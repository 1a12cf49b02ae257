package build

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/berth/berth/internal/registry"
	"github.com/berth/berth/internal/registry/storage"
)

// TestDockerBuildPullsWithLogin: docker build (legacy API) FROM an image in
// a registry that wants a password pulls it with the credentials of the
// CLI's login, which the CLI sends in X-Registry-Config; after logout the
// pull is refused.
func TestDockerBuildPullsWithLogin(t *testing.T) {
	d := newDaemon(t)
	reg := registry.NewServer(registry.NewStore(storage.NewMemory()), registry.ServerOptions{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "builder" || p != "s3cret" {
			w.Header().Set("WWW-Authenticate", `Basic realm="berth-test"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	ref := host + "/lib/bb:1"
	for _, args := range [][]string{
		{"login", "-u", "builder", "--password-stdin", host},
		{"tag", "busybox", ref},
		{"push", ref},
		{"rmi", ref},
	} {
		stdin := ""
		if args[0] == "login" {
			stdin = "s3cret\n"
		}
		if out, errOut, err := d.docker(t, "", stdin, args...); err != nil {
			t.Fatalf("docker %v: %v\n%s\n%s", args, err, out, errOut)
		}
	}
	ctx := writeFiles(t, map[string]string{"Dockerfile": "FROM " + ref + "\nRUN echo pulled > /p\n"})
	out, errOut, err := d.docker(t, ctx, "", "build", "-t", "authed:1", ".")
	if err != nil {
		t.Fatalf("docker build FROM a registry that wants the login: %v\n%s\n%s", err, out, errOut)
	}
	if out, _, err := d.docker(t, "", "", "run", "--rm", "authed:1", "cat", "/p"); err != nil || out != "pulled\n" {
		t.Errorf("run authed:1: %v %q", err, out)
	}
	for _, args := range [][]string{{"logout", host}, {"rmi", ref}} {
		if out, errOut, err := d.docker(t, "", "", args...); err != nil {
			t.Fatalf("docker %v: %v\n%s\n%s", args, err, out, errOut)
		}
	}
	out, errOut, err = d.docker(t, ctx, "", "build", "--no-cache", ".")
	if err == nil || !strings.Contains(out+errOut, "401") && !strings.Contains(strings.ToLower(out+errOut), "unauthorized") {
		t.Errorf("docker build after logout: %v, want an unauthorized pull\n%s\n%s", err, out, errOut)
	}
}
