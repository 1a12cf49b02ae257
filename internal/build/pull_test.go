package build

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth/berth/internal/image"
	"github.com/berth/berth/internal/registry"
	"github.com/berth/berth/internal/registry/storage"
)

// FROM and COPY --from an image that is not in the store pull it, and
// the pull's progress reaches the build's events.
func TestBuildPullsBaseImages(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(registry.NewServer(registry.NewStore(storage.NewMemory()), registry.ServerOptions{}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	ctx := context.Background()
	ref := host + "/lib/bb:1"
	if err := e.images.Tag(ctx, "busybox", ref); err != nil {
		t.Fatal(err)
	}
	if err := e.images.Push(ctx, ref, image.PushOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.images.Remove(ctx, ref, image.RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM " + ref + "\nCOPY --from=" + host + "/lib/bb:1 /bin/busybox /copied\nRUN test -x /copied\n"})
	var pulls int
	var out strings.Builder
	id, err := e.b.Build(ctx, BuildOptions{ContextDir: dir, Pull: true}, func(ev Event) {
		out.WriteString(ev.Stream)
		if ev.Pull != nil {
			pulls++
		}
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if pulls == 0 {
		t.Errorf("no pull progress events")
	}
	if _, err := e.images.Get(ctx, ref); err != nil {
		t.Errorf("base image not pulled: %v", err)
	}
	root := e.export(t, id.String())
	if readFile(t, filepath.Join(root, "copied")) != readFile(t, filepath.Join(root, "bin/busybox")) {
		t.Errorf("COPY --from=image copied something else")
	}
}
