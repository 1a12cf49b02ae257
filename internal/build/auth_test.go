package build

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/berth/berth/internal/image"
	"github.com/berth/berth/internal/registry"
	"github.com/berth/berth/internal/registry/storage"
)

func TestRegistryAuthFor(t *testing.T) {
	auths := map[string]image.AuthConfig{
		"https://index.docker.io/v1/": {Username: "hub"},
		"127.0.0.1:5000":              {Username: "local"},
		"https://reg.example:8443/":   {Username: "scheme"},
	}
	for ref, want := range map[string]string{
		"busybox":                  "hub",
		"docker.io/library/alpine": "hub",
		"127.0.0.1:5000/a/b:1":     "local",
		"reg.example:8443/x":       "scheme",
		"127.0.0.1:5001/a":         "",
		"quay.io/x":                "",
	} {
		got := ""
		if a := registryAuthFor(auths, ref); a != nil {
			got = a.Username
		}
		if got != want {
			t.Errorf("%s: credentials of %q, want %q", ref, got, want)
		}
	}
	if registryAuthFor(nil, "busybox") != nil {
		t.Errorf("no registry config gave credentials")
	}
}

// A base image and a COPY --from image behind a registry that wants a
// password are pulled with the build's RegistryAuth (POST /build's
// X-Registry-Config); without it the pull is refused.
func TestBuildPullsWithRegistryAuth(t *testing.T) {
	e := newEnv(t)
	store := registry.NewStore(storage.NewMemory())
	open := httptest.NewServer(registry.NewServer(store, registry.ServerOptions{}))
	t.Cleanup(open.Close)
	reg := registry.NewServer(store, registry.ServerOptions{})
	guarded := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "builder" || p != "s3cret" {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(guarded.Close)
	ctx := context.Background()
	pushRef := strings.TrimPrefix(open.URL, "http://") + "/lib/bb:1"
	if err := e.images.Tag(ctx, "busybox", pushRef); err != nil {
		t.Fatal(err)
	}
	if err := e.images.Push(ctx, pushRef, image.PushOptions{}); err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(guarded.URL, "http://")
	ref := host + "/lib/bb:1"
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM " + ref + "\nCOPY --from=" + ref + " /bin/busybox /copied\n"})
	if _, out, err := e.build(t, dir, BuildOptions{Pull: true}); err == nil {
		t.Fatalf("pull without credentials succeeded:\n%s", out)
	}
	auth := map[string]image.AuthConfig{"http://" + host: {Username: "builder", Password: "s3cret"}}
	if _, out, err := e.build(t, dir, BuildOptions{Pull: true, RegistryAuth: auth}); err != nil {
		t.Fatalf("build with X-Registry-Config credentials: %v\n%s", err, out)
	}
	if _, err := e.images.Get(ctx, ref); err != nil {
		t.Errorf("base image not pulled: %v", err)
	}
}
