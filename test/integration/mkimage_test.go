package integration

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/berth/berth/internal/testutil"
)

// mkimage runs hack/<script> DIR and returns the manifest digest it prints.
func mkimage(t *testing.T, script, dir string, env ...string) string {
	t.Helper()
	root, err := testutil.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(root, "hack", script), dir)
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v: %s", script, err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// skopeoInspect runs `skopeo inspect [--config] oci:DIR:latest`.
func skopeoInspect(t *testing.T, dir string, config bool, v any) {
	t.Helper()
	skopeo, err := exec.LookPath("skopeo")
	if err != nil {
		t.Skip("skipping: skopeo not installed (hack/install-deps.sh)")
	}
	args := []string{"inspect"}
	if config {
		args = append(args, "--config")
	}
	args = append(args, "oci:"+dir+":latest")
	cmd := exec.Command(skopeo, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("skopeo %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("skopeo %s: %v", strings.Join(args, " "), err)
	}
}

// imageConfig is the part of an image config the tests read.
type imageConfig struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Config       struct {
		Cmd []string `json:"Cmd"`
		Env []string `json:"Env"`
	} `json:"config"`
	RootFS struct {
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
}

// checkLayout verifies an image layout with skopeo and returns its config
// and the path of its single layer blob.
func checkLayout(t *testing.T, dir string, wantCmd []string) (imageConfig, string) {
	t.Helper()
	var inspect struct {
		Digest       string
		Architecture string
		Os           string
		Layers       []string
		Env          []string
	}
	skopeoInspect(t, dir, false, &inspect)
	if inspect.Architecture != "amd64" || inspect.Os != "linux" || len(inspect.Layers) != 1 {
		t.Errorf("skopeo inspect: %+v, want amd64/linux with one layer", inspect)
	}
	var cfg imageConfig
	skopeoInspect(t, dir, true, &cfg)
	if !reflect.DeepEqual(cfg.Config.Cmd, wantCmd) {
		t.Errorf("config Cmd %q, want %q", cfg.Config.Cmd, wantCmd)
	}
	if len(cfg.Config.Env) != 1 || !strings.HasPrefix(cfg.Config.Env[0], "PATH=") {
		t.Errorf("config Env %q, want one PATH", cfg.Config.Env)
	}
	var index struct {
		Manifests []struct {
			Digest      string
			Annotations map[string]string
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &index); err != nil {
		t.Fatalf("index.json: %v", err)
	}
	if len(index.Manifests) != 1 || index.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "latest" ||
		index.Manifests[0].Digest != inspect.Digest {
		t.Errorf("index.json %s, want one manifest %s named latest", data, inspect.Digest)
	}
	if len(inspect.Layers) == 0 {
		t.FailNow()
	}
	return cfg, filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(inspect.Layers[0], "sha256:"))
}

type tarEntry struct {
	typ      byte
	mode     int64
	uid, gid int
	link     string
}

func readLayer(t *testing.T, blob string) map[string]tarEntry {
	t.Helper()
	f, err := os.Open(blob)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("layer %s: %v", blob, err)
	}
	tr := tar.NewReader(zr)
	entries := map[string]tarEntry{}
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("layer %s: %v", blob, err)
		}
		name := strings.TrimSuffix(h.Name, "/")
		entries[name] = tarEntry{typ: h.Typeflag, mode: h.Mode, uid: h.Uid, gid: h.Gid, link: h.Linkname}
		names = append(names, h.Name)
	}
	// GNU tar --sort=name orders each directory's entries by name, depth
	// first: compare paths component by component.
	if !sort.SliceIsSorted(names, func(i, j int) bool {
		return slices.Compare(strings.Split(strings.TrimSuffix(names[i], "/"), "/"),
			strings.Split(strings.TrimSuffix(names[j], "/"), "/")) < 0
	}) {
		t.Errorf("layer %s: entries are not sorted", blob)
	}
	return entries
}

// TestMkimageBusybox: the busybox image is a valid OCI layout (skopeo reads
// it), is reproducible, holds busybox with every applet, and runs.
func TestMkimageBusybox(t *testing.T) {
	if _, err := os.Stat(testutil.HostBusybox); err != nil {
		t.Skipf("skipping: %s missing (install busybox-static)", testutil.HostBusybox)
	}
	dir1, dir2 := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	d1 := mkimage(t, "mkimage-busybox.sh", dir1)
	d2 := mkimage(t, "mkimage-busybox.sh", dir2)
	if d1 != d2 || !strings.HasPrefix(d1, "sha256:") {
		t.Errorf("two builds gave manifests %q and %q, want the same digest", d1, d2)
	}
	if d3 := mkimage(t, "mkimage-busybox.sh", filepath.Join(t.TempDir(), "c"), "SOURCE_DATE_EPOCH=86400"); d3 == d1 {
		t.Errorf("SOURCE_DATE_EPOCH did not change the digest %s", d1)
	}
	_, blob := checkLayout(t, dir1, []string{"sh"})
	entries := readLayer(t, blob)

	bb, ok := entries["bin/busybox"]
	if !ok {
		t.Fatal("layer has no bin/busybox")
	}
	applets, err := testutil.BusyboxApplets()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range append(applets, "bin/sh") {
		e, ok := entries[a]
		if !ok {
			t.Errorf("layer lacks applet %s", a)
			continue
		}
		// One member holds the data; the others are hard links to it.
		if e.typ != tar.TypeLink && e.typ != tar.TypeReg {
			t.Errorf("applet %s has tar type %q, want a hard link", a, e.typ)
		}
	}
	if bb.typ != tar.TypeLink && bb.typ != tar.TypeReg {
		t.Errorf("bin/busybox has tar type %q", bb.typ)
	}
	for name, e := range entries {
		if e.uid != 0 || e.gid != 0 {
			t.Errorf("%s owned by %d:%d, want 0:0", name, e.uid, e.gid)
		}
	}
	for name, mode := range map[string]int64{"tmp": 0o1777, "root": 0o700, "etc/passwd": 0o644, "etc/group": 0o644} {
		if e, ok := entries[name]; !ok || e.mode&0o7777 != mode {
			t.Errorf("%s: mode %o (present %v), want %o", name, e.mode&0o7777, ok, mode)
		}
	}
	for _, d := range []string{"proc", "sys", "dev", "home", "var", "etc/hosts"} {
		if _, ok := entries[d]; !ok {
			t.Errorf("layer lacks %s", d)
		}
	}

	// The unpacked layer is a working root under each runtime.
	runUnpacked(t, blob, "root:x:0:0:root:/root:/bin/sh\nroot\n", "sh", "-c", "head -n1 /etc/passwd; id -un")
}

// runUnpacked unpacks a layer blob into a bundle's rootfs and runs args in
// it under each selected runtime, expecting exit 0 and stdout want.
func runUnpacked(t *testing.T, blob, want string, args ...string) {
	for _, name := range selectedRuntimes() {
		t.Run(name, func(t *testing.T) {
			r := newRuntime(t, name)
			bundle := t.TempDir()
			rootfs := filepath.Join(bundle, "rootfs")
			if err := os.Mkdir(rootfs, 0o755); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command("tar", "-xzf", blob, "-C", rootfs).CombinedOutput(); err != nil {
				t.Fatalf("unpack layer: %v: %s", err, out)
			}
			testutil.WriteSpec(t, bundle, testutil.DefaultSpec(args...))
			c := newContainer(t, r, bundle)
			res := runContainer(t, r, c)
			if res.Code != 0 || res.Stdout != want {
				t.Errorf("run %q in the unpacked image: %s, want stdout %q", args, res, want)
			}
		})
	}
}

// TestMkimageDebian builds debian:bookworm with debootstrap; slow and needs
// the Debian mirror, so only with BERTH_TEST_DEBIAN=1.
func TestMkimageDebian(t *testing.T) {
	if os.Getenv("BERTH_TEST_DEBIAN") != "1" {
		t.Skip("skipping: set BERTH_TEST_DEBIAN=1 to build debian:bookworm with debootstrap (slow, uses the Debian mirror)")
	}
	testutil.RequireRoot(t)
	dir := filepath.Join(t.TempDir(), "debian")
	mkimage(t, "mkimage-debian.sh", dir)
	_, blob := checkLayout(t, dir, []string{"bash"})
	entries := readLayer(t, blob)
	for _, p := range []string{"usr/bin/bash", "usr/bin/apt-get", "etc/debian_version", "etc/os-release", "bin"} {
		if _, ok := entries[p]; !ok {
			t.Errorf("layer lacks %s", p)
		}
	}
	for name := range entries {
		if strings.HasPrefix(name, "var/cache/apt/archives/") && strings.HasSuffix(name, ".deb") {
			t.Errorf("layer ships a package cache file %s", name)
		}
	}
	runUnpacked(t, blob, "12\n", "bash", "-c", "cut -d. -f1 /etc/debian_version")
}
