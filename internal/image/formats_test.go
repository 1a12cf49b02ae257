package image

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth/berth/internal/testutil"
)

// Save writes several images into one tar in both formats; Load on a
// fresh service gives the same IDs, tags and files.
func TestSaveLoadRoundTrip(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	for _, format := range []string{FormatDockerArchive, FormatOCIArchive} {
		t.Run(format, func(t *testing.T) {
			src := newTestService(t, "")
			a := twoLayers(t).store(t, src, "example.com/a:1")
			b := newTestImage(t, makeTar(t, tarEntry{name: "b", body: "bee"})).store(t, src, "b:latest")
			// "b", a repository, saves every tag of it, as docker save does.
			if err := src.Tag(ctx, "b:latest", "b:two"); err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := src.Save(ctx, []string{"example.com/a:1", "b", a.ID.String()}, &buf, format); err != nil {
				t.Fatal(err)
			}
			dst := newTestService(t, "")
			lines, err := dst.Load(ctx, bytes.NewReader(buf.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			want := "Loaded image: example.com/a:1\nLoaded image: b:latest\nLoaded image: b:two"
			if got := strings.Join(lines, "\n"); got != want {
				t.Errorf("load lines:\n%s\nwant:\n%s", got, want)
			}
			for name, img := range map[string]Image{"example.com/a:1": a, "b:latest": b, "b:two": b} {
				got, err := dst.Get(ctx, name)
				if err != nil {
					t.Fatal(err)
				}
				if got.ID != img.ID {
					t.Errorf("%s: loaded ID %s, saved %s", name, got.ID, img.ID)
				}
			}
			// Loading another image under a name moves the name, with
			// dockerd's line about it first.
			var other bytes.Buffer
			if err := src.Tag(ctx, "b:latest", "example.com/a:1"); err != nil {
				t.Fatal(err)
			}
			if err := src.Save(ctx, []string{"example.com/a:1"}, &other, format); err != nil {
				t.Fatal(err)
			}
			lines, err = dst.Load(ctx, bytes.NewReader(other.Bytes()))
			want = "The image example.com/a:1 already exists, renaming the old one with ID " + a.ID.String() + " to empty string\nLoaded image: example.com/a:1"
			if got := strings.Join(lines, "\n"); err != nil || got != want {
				t.Errorf("load over a name: %v\n%s\nwant:\n%s", err, got, want)
			}
			if err := dst.Tag(ctx, a.ID.String(), "example.com/a:1"); err != nil {
				t.Fatal(err)
			}
			got, _ := dst.Get(ctx, "example.com/a:1")
			dir := viewImage(t, dst, got)
			if b, err := readFile(dir, "etc/world"); err != nil || string(b) != "world\n" {
				t.Errorf("etc/world after load: %q %v", b, err)
			}
		})
	}
}

// Save output is read by skopeo's docker-archive transport, and a
// docker-archive skopeo writes is loaded.
func TestSaveLoadSkopeoInterop(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	s := newTestService(t, "")
	twoLayers(t).store(t, s, "interop/app:v1")
	f := filepath.Join(t.TempDir(), "app.tar")
	out, err := os.Create(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Save(ctx, []string{"interop/app:v1"}, out, FormatDockerArchive); err != nil {
		t.Fatal(err)
	}
	out.Close()
	layout := t.TempDir()
	skopeo(t, "copy", "docker-archive:"+f, "oci:"+layout+":app")
	cfgOut := skopeo(t, "inspect", "--config", "oci:"+layout+":app")
	var cfg struct {
		Config struct{ Cmd []string }
	}
	if err := json.Unmarshal(cfgOut, &cfg); err != nil || len(cfg.Config.Cmd) != 1 || cfg.Config.Cmd[0] != "sh" {
		t.Errorf("skopeo's view of the saved config: %s (%v)", cfgOut, err)
	}

	// The reverse: skopeo writes a docker-archive of busybox, Load reads it.
	modRoot, err := testutil.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	bb := t.TempDir()
	if out, err := runCmd(filepath.Join(modRoot, "hack/mkimage-busybox.sh"), bb); err != nil {
		t.Skipf("mkimage-busybox.sh: %v\n%s", err, out)
	}
	arch := filepath.Join(t.TempDir(), "busybox.tar")
	skopeo(t, "copy", "oci:"+bb+":latest", "docker-archive:"+arch+":busybox:latest")
	af, err := os.Open(arch)
	if err != nil {
		t.Fatal(err)
	}
	defer af.Close()
	lines, err := s.Load(ctx, af)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 1 || lines[0] != "Loaded image: busybox:latest" {
		t.Errorf("load lines %q", lines)
	}
	got, err := s.Get(ctx, "busybox")
	if err != nil {
		t.Fatal(err)
	}
	dir := viewImage(t, s, got)
	if fi, err := os.Stat(filepath.Join(dir, "bin/busybox")); err != nil || fi.Size() == 0 {
		t.Errorf("bin/busybox after load: %v %v", fi, err)
	}
}

// Import makes a one-layer image of a rootfs tar (plain, gzip, from a URL)
// with docker's --change instructions; CreateFromDiff adds a layer.
func TestImportAndCreateFromDiff(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	s := newTestService(t, "")
	rootfs := makeTar(t, tarEntry{name: "bin/", typ: '5'}, tarEntry{name: "bin/tool", body: "#!/bin/sh\n", mode: 0o755})
	img, err := s.Import(ctx, bytes.NewReader(gz(t, rootfs)), ImportOptions{Ref: "imported:1", Changes: []string{
		`CMD ["/bin/tool","run"]`, "ENV A=1 B=\"two words\"", "WORKDIR /srv", "EXPOSE 80 53/udp", "LABEL x=y", "USER nobody", "VOLUME /data", "STOPSIGNAL SIGINT",
	}})
	if err != nil {
		t.Fatal(err)
	}
	c := img.Config.Config
	if strings.Join(c.Cmd, " ") != "/bin/tool run" || strings.Join(c.Env, ",") != "A=1,B=two words" || c.WorkingDir != "/srv" ||
		c.User != "nobody" || c.Labels["x"] != "y" || c.StopSignal != "SIGINT" {
		t.Errorf("config after changes: %+v", c)
	}
	if _, ok := c.ExposedPorts["53/udp"]; !ok {
		t.Errorf("ExposedPorts %v", c.ExposedPorts)
	}
	if _, ok := c.ExposedPorts["80/tcp"]; !ok {
		t.Errorf("ExposedPorts %v", c.ExposedPorts)
	}
	if _, ok := c.Volumes["/data"]; !ok {
		t.Errorf("Volumes %v", c.Volumes)
	}
	if img.Config.History[0].Comment != "Imported from -" {
		t.Errorf("history %+v", img.Config.History)
	}
	if _, err := s.Import(ctx, bytes.NewReader(rootfs), ImportOptions{Changes: []string{"RUN rm -rf /"}}); err == nil || !strings.Contains(err.Error(), "RUN") {
		t.Errorf("import with RUN change: %v", err)
	}
	// From a URL.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(rootfs) }))
	defer srv.Close()
	fromURL, err := s.Import(ctx, nil, ImportOptions{URL: srv.URL + "/rootfs.tar", Ref: "fromurl:1"})
	if err != nil {
		t.Fatal(err)
	}
	if fromURL.Config.RootFS.DiffIDs[0] != img.Config.RootFS.DiffIDs[0] {
		t.Errorf("the same rootfs gave diff IDs %s and %s", fromURL.Config.RootFS.DiffIDs[0], img.Config.RootFS.DiffIDs[0])
	}
	// Commit a layer on top.
	child, err := s.CreateFromDiff(ctx, img, bytes.NewReader(makeTar(t, tarEntry{name: "bin/.wh.tool"}, tarEntry{name: "new", body: "n"})),
		CommitOptions{Ref: "child:1", CreatedBy: "commit", Changes: []string{"CMD sh"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(child.Manifest.Layers) != 2 || strings.Join(child.Config.Config.Cmd, " ") != "/bin/sh -c sh" || child.Config.Config.User != "nobody" {
		t.Errorf("child: %d layers, config %+v", len(child.Manifest.Layers), child.Config.Config)
	}
	dir := viewImage(t, s, child)
	if _, err := os.Lstat(filepath.Join(dir, "bin/tool")); !os.IsNotExist(err) {
		t.Errorf("bin/tool deleted by the child layer: %v", err)
	}
	if b, err := readFile(dir, "new"); err != nil || string(b) != "n" {
		t.Errorf("new: %q %v", b, err)
	}
	h, err := s.History(ctx, "child:1")
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2 || h[0].CreatedBy != "commit" || h[0].ID != child.ID.String() || h[1].ID != "<missing>" || h[1].Comment != "Imported from -" {
		t.Errorf("history %+v", h)
	}
}

// An archive whose image has no name (saved by ID) loads as a dangling
// image that is listed and can be tagged, as docker does.
func TestLoadUnnamedIsDangling(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	for _, format := range []string{FormatDockerArchive, FormatOCIArchive} {
		t.Run(format, func(t *testing.T) {
			src := newTestService(t, "")
			a := newTestImage(t, makeTar(t, tarEntry{name: "x", body: "x"})).store(t, src, "a:1")
			var buf bytes.Buffer
			if err := src.Save(ctx, []string{a.ID.String()}, &buf, format); err != nil {
				t.Fatal(err)
			}
			dst := newTestService(t, "")
			lines, err := dst.Load(ctx, bytes.NewReader(buf.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			if want := "Loaded image ID: " + a.ID.String(); strings.Join(lines, "\n") != want {
				t.Errorf("load lines %q, want %q", lines, want)
			}
			all, err := dst.List(ctx, ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(all) != 1 || all[0].ID != a.ID || !all[0].Dangling || len(all[0].RepoTags) != 0 {
				t.Fatalf("after load, images = %+v; want one dangling image %s", all, a.ID)
			}
			if err := dst.Tag(ctx, a.ID.String(), "b:2"); err != nil {
				t.Fatal(err)
			}
			if got, err := dst.Get(ctx, "b:2"); err != nil || got.ID != a.ID {
				t.Errorf("tagged loaded image: %v %v", got.ID, err)
			}
		})
	}
}

// Saved configs and layers are dated the image's created time, the
// archive's own files 1970, as dockerd's save (a repeated save of the same
// images gives the same bytes).
func TestSaveDates(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	for _, format := range []string{FormatDockerArchive, FormatOCIArchive} {
		t.Run(format, func(t *testing.T) {
			src := newTestService(t, "")
			a := twoLayers(t).store(t, src, "example.com/a:1")
			created := a.Config.Created.UTC().Format(time.RFC3339)
			var buf bytes.Buffer
			if err := src.Save(ctx, []string{"example.com/a:1"}, &buf, format); err != nil {
				t.Fatal(err)
			}
			tr := tar.NewReader(&buf)
			var sawConfig, sawLayer bool
			for {
				h, err := tr.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				got := h.ModTime.UTC().Format(time.RFC3339)
				isConfig := strings.HasSuffix(h.Name, a.ID.Encoded()) || strings.HasSuffix(h.Name, a.ID.Encoded()+".json")
				isLayer := strings.HasSuffix(h.Name, "/layer.tar") || strings.HasSuffix(h.Name, a.Manifest.Layers[0].Digest.Encoded())
				switch {
				case isConfig || isLayer:
					sawConfig, sawLayer = sawConfig || isConfig, sawLayer || isLayer
					if got != created {
						t.Errorf("%s dated %s, want the image's created time %s", h.Name, got, created)
					}
				case h.Name == "manifest.json" || h.Name == "index.json" || h.Name == "repositories":
					if !h.ModTime.Equal(time.Unix(0, 0)) {
						t.Errorf("%s dated %s, want 1970", h.Name, got)
					}
				}
			}
			if !sawConfig || !sawLayer {
				t.Errorf("config seen %v, layer seen %v", sawConfig, sawLayer)
			}
		})
	}
}
