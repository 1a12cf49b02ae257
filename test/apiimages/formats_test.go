package apiimages

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// rootfsTar is a small root filesystem: /hello.txt and /bin/.
func rootfsTar(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range []*tar.Header{
		{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "hello.txt", Typeflag: tar.TypeReg, Mode: 0o644, Size: 6},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			tw.Write([]byte("hello\n"))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestSaveLoadImportPrune round-trips an image through docker save and
// docker load, imports root filesystem tars from stdin and from a URL with
// --change, and prunes dangling and unused images.
func TestSaveLoadImportPrune(t *testing.T) {
	host := startRegistry(t, "", "")
	pushBusybox(t, host, "busybox:latest")
	d := startDaemon(t, "")
	c := newCLI(t, d)
	c.ok("pull", "-q", host+"/busybox")
	c.ok("tag", host+"/busybox", "rectest/save:1")
	id := strings.TrimSpace(c.ok("image", "inspect", "--format", "{{.Id}}", "rectest/save:1").stdout)

	archive := filepath.Join(t.TempDir(), "save.tar")
	c.ok("save", "-o", archive, "rectest/save:1")
	// The archive is docker's: manifest.json naming the tag.
	tf, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer tf.Close()
	tr := tar.NewReader(tf)
	found := false
	names := map[string]bool{}
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		names[h.Name] = true
		if h.Name == "manifest.json" {
			var m []struct{ RepoTags []string }
			if err := json.NewDecoder(tr).Decode(&m); err != nil || len(m) != 1 || len(m[0].RepoTags) != 1 || m[0].RepoTags[0] != "rectest/save:1" {
				t.Errorf("save manifest.json: %v %+v", err, m)
			}
			found = true
		}
	}
	if !found {
		t.Errorf("docker save archive has no manifest.json")
	}
	// From API 1.44 (the docker CLI's here) it is an OCI image layout too,
	// as Docker 25's: tools read it as one.
	if !names["oci-layout"] || !names["index.json"] {
		t.Errorf("docker save archive is not an OCI layout: %v", names)
	}
	if out := skopeo(t, "inspect", "oci-archive:"+archive); !strings.Contains(out, `"Os": "linux"`) {
		t.Errorf("skopeo inspect oci-archive: %s", out)
	}
	// skopeo reads what we saved.
	out := skopeo(t, "inspect", "docker-archive:"+archive)
	if !strings.Contains(out, `"Os": "linux"`) {
		t.Errorf("skopeo inspect docker-archive: %s", out)
	}

	c.ok("rmi", "rectest/save:1", host+"/busybox")
	if r := c.ok("images", "-q"); r.stdout != "" {
		t.Fatalf("images left: %q", r.stdout)
	}
	r := c.ok("load", "-i", archive)
	if strings.TrimSpace(r.stdout) != "Loaded image: rectest/save:1" {
		t.Errorf("docker load: %q", r.stdout)
	}
	if got := strings.TrimSpace(c.ok("image", "inspect", "--format", "{{.Id}}", "rectest/save:1").stdout); got != id {
		t.Errorf("loaded image ID %s, saved %s", got, id)
	}
	// docker save to stdout piped into docker load.
	saved := c.ok("save", "rectest/save:1").stdout
	r = c.runIn([]byte(saved), "load", "-q")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "Loaded image: rectest/save:1" {
		t.Errorf("docker save | docker load: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	// Compressed archives load too, as with dockerd.
	for _, z := range []struct{ ext, cmd string }{{"gz", "gzip"}, {"bz2", "bzip2"}, {"xz", "xz"}, {"zst", "zstd"}} {
		if _, err := exec.LookPath(z.cmd); err != nil {
			continue
		}
		zp := archive + "." + z.ext
		if out, err := exec.Command("sh", "-c", z.cmd+" -c "+archive+" > "+zp).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v %s", z.cmd, err, out)
		}
		c.ok("rmi", "rectest/save:1")
		if r := c.ok("load", "-i", zp); strings.TrimSpace(r.stdout) != "Loaded image: rectest/save:1" {
			t.Errorf("docker load -i save.tar.%s: %q", z.ext, r.stdout)
		}
	}
	// A broken archive: the error arrives in the stream.
	r = c.runIn([]byte("not a tar"), "load")
	if r.code != 1 || r.stderr == "" {
		t.Errorf("docker load of garbage: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	// A repository without a tag saves every tag it has.
	c.ok("tag", "rectest/save:1", "rectest/save:2")
	repoArchive := filepath.Join(t.TempDir(), "repo.tar")
	c.ok("save", "-o", repoArchive, "rectest/save")
	if tags := archiveRepoTags(t, repoArchive); strings.Join(tags, " ") != "rectest/save:1 rectest/save:2" {
		t.Errorf("docker save of a repository: RepoTags %q, want both tags", tags)
	}
	c.ok("rmi", "rectest/save:2")
	r = c.run("save", "nosuch:1")
	if r.code != 1 || !strings.Contains(r.stderr, "No such image: nosuch:1") {
		t.Errorf("docker save nosuch:1: exit %d %q", r.code, r.stderr)
	}

	// Import from stdin with changes and a message.
	rootfs := rootfsTar(t)
	r = c.runIn(rootfs, "import", "--change", "CMD [\"/bin/sh\"]", "--change", "ENV FOO=bar", "-m", "my import", "-", "rectest/imported:1")
	if r.code != 0 || !strings.HasPrefix(strings.TrimSpace(r.stdout), "sha256:") {
		t.Fatalf("docker import -: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	impID := strings.TrimSpace(r.stdout)
	info := inspectJSON(t, c, "rectest/imported:1")
	cfg, _ := info["Config"].(map[string]any)
	if info["Id"] != impID {
		t.Errorf("imported image: Id %v, want %s", info["Id"], impID)
	}
	if cmd, _ := cfg["Cmd"].([]any); len(cmd) != 1 || cmd[0] != "/bin/sh" {
		t.Errorf("imported Config.Cmd = %v", cfg["Cmd"])
	}
	if env, _ := cfg["Env"].([]any); !strings.Contains(strings.Trim(strings.ReplaceAll(jsonString(env), `"`, ""), "[]"), "FOO=bar") {
		t.Errorf("imported Config.Env = %v", cfg["Env"])
	}
	r = c.ok("history", "--format", "{{.Comment}}", "rectest/imported:1")
	if strings.TrimSpace(r.stdout) != "my import" {
		t.Errorf("docker history of the import: %q", r.stdout)
	}

	// Import from a URL on loopback.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write(rootfs) }))
	defer srv.Close()
	r = c.run("import", srv.URL+"/rootfs.tar", "rectest/fromurl")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "Downloading from "+srv.URL+"/rootfs.tar\nsha256:") {
		t.Errorf("docker import URL: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	if got := c.ok("history", "--format", "{{.Comment}}", "rectest/fromurl").stdout; strings.TrimSpace(got) != "Imported from "+srv.URL+"/rootfs.tar" {
		t.Errorf("history comment of the URL import: %q", got)
	}
	r = c.runIn([]byte("garbage"), "import", "--change", "BOGUS x", "-", "rectest/bad")
	if r.code != 1 || !strings.Contains(r.stderr, "BOGUS") {
		t.Errorf("docker import with a bad change: exit %d %q %q", r.code, r.stdout, r.stderr)
	}

	// Prune: dangling images only, then every unused one.
	c.ok("tag", "rectest/fromurl", "rectest/imported:1") // the first import loses its tag
	r = c.ok("images", "--filter", "dangling=true", "-q", "--no-trunc")
	if strings.TrimSpace(r.stdout) != impID {
		t.Errorf("dangling images = %q, want %s", r.stdout, impID)
	}
	r = c.ok("image", "prune", "-f")
	if !strings.Contains(r.stdout, "deleted: "+impID) || !strings.Contains(r.stdout, "Total reclaimed space:") {
		t.Errorf("docker image prune:\n%s", r.stdout)
	}
	r = c.ok("image", "prune", "-a", "-f")
	if !strings.Contains(r.stdout, "untagged: rectest/save:1") || !strings.Contains(r.stdout, "deleted: "+id) {
		t.Errorf("docker image prune -a:\n%s", r.stdout)
	}
	if r := c.ok("images", "-q"); r.stdout != "" {
		t.Errorf("images left after prune -a: %q", r.stdout)
	}
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// archiveRepoTags returns the sorted RepoTags of a docker archive's
// manifest.json.
func archiveRepoTags(t *testing.T, file string) []string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s has no manifest.json: %v", file, err)
		}
		if h.Name != "manifest.json" {
			continue
		}
		var m []struct{ RepoTags []string }
		if err := json.NewDecoder(tr).Decode(&m); err != nil {
			t.Fatal(err)
		}
		var tags []string
		for _, e := range m {
			tags = append(tags, e.RepoTags...)
		}
		sort.Strings(tags)
		return tags
	}
}

// TestOldClientWithLoweredMinimum: Debian 12's skopeo speaks API 1.22 to
// a daemon (docker-daemon: transport); with DOCKER_MIN_API_VERSION=1.12,
// as with dockerd, it copies an image out of berth's store. Without it the
// version is refused with dockerd's message.
func TestOldClientWithLoweredMinimum(t *testing.T) {
	if _, err := exec.LookPath("skopeo"); err != nil {
		t.Skip("skopeo is not installed (hack/install-deps.sh)")
	}
	host := startRegistry(t, "", "")
	pushBusybox(t, host, "busybox:latest")
	d := startDaemon(t, "")
	c := newCLI(t, d)
	c.ok("pull", "-q", host+"/busybox")
	c.ok("tag", host+"/busybox", "oldclient:1")
	out, err := exec.Command("skopeo", "inspect", "--daemon-host", "unix://"+d.Sock, "docker-daemon:oldclient:1").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "Minimum supported API version is 1.24") {
		t.Errorf("skopeo against the default minimum: %v\n%s", err, out)
	}
	d.Stop(t)
	home := filepath.Join(d.Dir, "home")
	d.SetEnv([]string{"DOCKER_CONFIG=" + home, "HOME=" + home, "DOCKER_MIN_API_VERSION=1.12"})
	d.Start(t)
	dir := t.TempDir()
	skopeo(t, "copy", "--src-daemon-host", "unix://"+d.Sock, "docker-daemon:oldclient:1", "oci:"+dir+":copied")
	if _, err := os.Stat(filepath.Join(dir, "index.json")); err != nil {
		t.Errorf("skopeo copy docker-daemon: wrote no OCI layout: %v", err)
	}
}

// TestPushOfLoadedImageIsCompressed: an image loaded from a docker archive
// (layers stored uncompressed) is pushed with gzipped layers, as dockerd
// pushes it; the image ID stays, the pushed manifest is what RepoDigests
// names, and the image pulls back and runs.
func TestPushOfLoadedImageIsCompressed(t *testing.T) {
	if busyboxErr != nil {
		t.Fatal(busyboxErr)
	}
	host := startRegistry(t, "", "")
	archive := filepath.Join(t.TempDir(), "bb.tar")
	skopeo(t, "copy", "--quiet", "oci:"+busyboxDir+":latest", "docker-archive:"+archive+":loaded:1")
	d := startDaemon(t, "")
	c := newCLI(t, d)
	c.ok("load", "-i", archive)
	id := strings.TrimSpace(c.ok("image", "inspect", "-f", "{{.Id}}", "loaded:1").stdout)
	c.ok("tag", "loaded:1", host+"/loaded:1")
	out := c.ok("push", host+"/loaded:1").stdout
	raw := skopeo(t, "inspect", "--raw", "--tls-verify=false", "docker://"+host+"/loaded:1")
	var m struct {
		Layers []struct {
			MediaType string
			Size      int64
		}
	}
	if err := json.Unmarshal([]byte(raw), &m); err != nil || len(m.Layers) == 0 {
		t.Fatalf("pushed manifest: %v\n%s", err, raw)
	}
	fi, err := os.Stat(archive)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range m.Layers {
		if !strings.HasSuffix(l.MediaType, "gzip") || l.Size >= fi.Size()/2 {
			t.Errorf("pushed layer %s of %d bytes (archive %d): want gzip, compressed", l.MediaType, l.Size, fi.Size())
		}
	}
	if got := strings.TrimSpace(c.ok("image", "inspect", "-f", "{{.Id}}", "loaded:1").stdout); got != id {
		t.Errorf("image ID after the push %s, before %s", got, id)
	}
	digests := c.ok("image", "inspect", "-f", "{{json .RepoDigests}}", "loaded:1").stdout
	if !strings.Contains(out, "1: digest: sha256:") || !strings.Contains(digests, host+"/loaded@sha256:") {
		t.Errorf("push output %q, RepoDigests %s", out, digests)
	}
	c.ok("rmi", "loaded:1", host+"/loaded:1")
	c.ok("pull", "-q", host+"/loaded:1")
	if r := c.ok("run", "--rm", host+"/loaded:1", "echo", "pulled back"); r.stdout != "pulled back\n" {
		t.Errorf("run of the pulled-back image: %q", r.stdout)
	}
}
