package apiimages

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/docker/go-units"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth/berth/internal/archive"
)

// layoutUnpackedSize is docker's size of the (one) image in an OCI layout:
// the unpacked size of its layers.
func layoutUnpackedSize(t *testing.T, dir string) int64 {
	t.Helper()
	blob := func(d ocispec.Descriptor) string {
		return filepath.Join(dir, "blobs", d.Digest.Algorithm().String(), d.Digest.Encoded())
	}
	var idx ocispec.Index
	var m ocispec.Manifest
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err == nil {
		err = json.Unmarshal(b, &idx)
	}
	if err == nil && len(idx.Manifests) == 1 {
		if b, err = os.ReadFile(blob(idx.Manifests[0])); err == nil {
			err = json.Unmarshal(b, &m)
		}
	}
	if err != nil || len(m.Layers) == 0 {
		t.Fatalf("read the OCI layout %s: %v (%d manifests)", dir, err, len(idx.Manifests))
	}
	var total int64
	for _, l := range m.Layers {
		f, err := os.Open(blob(l))
		if err != nil {
			t.Fatal(err)
		}
		n, err := archive.LayerSize(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		total += n
	}
	return total
}

// inspectJSON runs `docker image inspect` and decodes its one object.
func inspectJSON(t *testing.T, c *cli, ref string) map[string]any {
	t.Helper()
	r := c.ok("image", "inspect", ref)
	var out []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out) != 1 {
		t.Fatalf("docker image inspect %s: %v\n%s", ref, err, r.stdout)
	}
	return out[0]
}

// TestPullListInspectTagPush pulls busybox from a local registry with the
// docker CLI, lists, inspects and tags it, shows its history, pushes it to
// another repository (read back by skopeo), and removes it again.
func TestPullListInspectTagPush(t *testing.T) {
	host := startRegistry(t, "", "")
	pushBusybox(t, host, "busybox:latest")
	d := startDaemon(t, `{"insecure-registries":["registry.invalid:5000"]}`)
	c := newCLI(t, d)
	since := time.Now().Add(-time.Second).Unix()

	r := c.ok("pull", host+"/busybox")
	for _, want := range []string{
		"Using default tag: latest",
		"latest: Pulling from busybox\n",
		": Pull complete",
		"Digest: sha256:",
		"Status: Downloaded newer image for " + host + "/busybox:latest",
		host + "/busybox:latest",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("docker pull output lacks %q:\n%s", want, r.stdout)
		}
	}
	r = c.ok("pull", host+"/busybox:latest")
	if !strings.Contains(r.stdout, "Status: Image is up to date for "+host+"/busybox:latest") {
		t.Errorf("second docker pull:\n%s", r.stdout)
	}

	r = c.ok("images")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "REPOSITORY") {
		t.Fatalf("docker images: want a header and one image:\n%s", r.stdout)
	}
	if f := strings.Fields(lines[1]); len(f) < 3 || f[0] != host+"/busybox" || f[1] != "latest" {
		t.Errorf("docker images line = %q", lines[1])
	}
	r = c.ok("images", "--digests", "--no-trunc", "--format", "{{.Repository}} {{.Tag}} {{.Digest}} {{.ID}}")
	if !regexp.MustCompile(`^` + regexp.QuoteMeta(host) + `/busybox latest sha256:[0-9a-f]{64} sha256:[0-9a-f]{64}\n$`).MatchString(r.stdout) {
		t.Errorf("docker images --digests: %q", r.stdout)
	}
	manifestDigest := strings.Fields(r.stdout)[2]
	imageID := strings.Fields(r.stdout)[3]

	// GET /distribution/{name}/json: the registry's descriptor and the
	// platforms, without a pull (Compose asks it).
	for _, ref := range []string{host + "/busybox", host + "/busybox:latest", host + "/busybox@" + manifestDigest} {
		resp, err := d.httpClient().Get("http://berth/v1.51/distribution/" + ref + "/json")
		if err != nil {
			t.Fatal(err)
		}
		var di struct {
			Descriptor struct {
				MediaType, Digest string
				Size              int64
			}
			Platforms []struct{ Architecture, OS string }
		}
		err = json.NewDecoder(resp.Body).Decode(&di)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || di.Descriptor.Digest != manifestDigest || di.Descriptor.Size <= 0 || di.Descriptor.MediaType == "" ||
			len(di.Platforms) != 1 || di.Platforms[0].OS != "linux" || di.Platforms[0].Architecture != "amd64" {
			t.Errorf("distribution inspect of %s: %d %+v %v; want manifest %s, linux/amd64", ref, resp.StatusCode, di, err, manifestDigest)
		}
	}
	if resp, err := d.httpClient().Get("http://berth/v1.51/distribution/" + host + "/nosuch/json"); err != nil || resp.StatusCode != 404 {
		t.Errorf("distribution inspect of a missing repository: %v %v, want 404", resp, err)
	} else {
		resp.Body.Close()
	}

	info := inspectJSON(t, c, host+"/busybox")
	if info["Id"] != imageID || info["Os"] != "linux" || info["Architecture"] != "amd64" {
		t.Errorf("inspect Id/Os/Architecture = %v %v %v", info["Id"], info["Os"], info["Architecture"])
	}
	if tags, _ := info["RepoTags"].([]any); len(tags) != 1 || tags[0] != host+"/busybox:latest" {
		t.Errorf("inspect RepoTags = %v", info["RepoTags"])
	}
	if digs, _ := info["RepoDigests"].([]any); len(digs) != 1 || digs[0] != host+"/busybox@"+manifestDigest {
		t.Errorf("inspect RepoDigests = %v, want [%s/busybox@%s]", info["RepoDigests"], host, manifestDigest)
	}
	cfg, _ := info["Config"].(map[string]any)
	if cmd, _ := cfg["Cmd"].([]any); len(cmd) != 1 || cmd[0] != "sh" {
		t.Errorf("inspect Config.Cmd = %v", cfg["Cmd"])
	}
	rootfs, _ := info["RootFS"].(map[string]any)
	if layers, _ := rootfs["Layers"].([]any); rootfs["Type"] != "layers" || len(layers) != 1 {
		t.Errorf("inspect RootFS = %v", info["RootFS"])
	}
	// docker's Size: the unpacked size of the layers, not the compressed
	// bytes of the blobs.
	wantSize := layoutUnpackedSize(t, busyboxDir)
	if size, _ := info["Size"].(float64); int64(size) != wantSize {
		t.Errorf("inspect Size = %v, want the unpacked size %d", info["Size"], wantSize)
	}
	r = c.ok("images", "--format", "{{.Size}}", host+"/busybox")
	if got, want := strings.TrimSpace(r.stdout), units.HumanSizeWithPrecision(float64(wantSize), 3); got != want {
		t.Errorf("docker images SIZE = %q, want %q", got, want)
	}
	if _, err := time.Parse(time.RFC3339Nano, fmt.Sprint(info["Created"])); err != nil {
		t.Errorf("inspect Created = %v: %v", info["Created"], err)
	}
	r = c.ok("image", "inspect", "--format", "{{.Id}}", imageID[7:19])
	if strings.TrimSpace(r.stdout) != imageID {
		t.Errorf("inspect by short ID: %q", r.stdout)
	}

	r = c.ok("history", "--no-trunc", "--format", "{{.ID}}|{{.CreatedBy}}|{{.Size}}", host+"/busybox")
	if !strings.HasPrefix(r.stdout, imageID+"|") || strings.Count(r.stdout, "\n") < 1 {
		t.Errorf("docker history: %q", r.stdout)
	}

	c.ok("tag", host+"/busybox", host+"/copy:v1")
	c.ok("tag", imageID, "local/busybox:mine")
	r = c.ok("images", "--format", "{{.Repository}}:{{.Tag}}", "--filter", "reference="+host+"/copy")
	if strings.TrimSpace(r.stdout) != host+"/copy:v1" {
		t.Errorf("docker images --filter reference=: %q", r.stdout)
	}

	r = c.ok("push", host+"/copy:v1")
	for _, want := range []string{
		"The push refers to repository [" + host + "/copy]",
		"v1: digest: " + manifestDigest + " size: ",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("docker push output lacks %q:\n%s", want, r.stdout)
		}
	}
	var sk struct {
		Digest string
		Layers []string
		Os     string
	}
	out := skopeo(t, "inspect", "--tls-verify=false", "docker://"+host+"/copy:v1")
	if err := json.Unmarshal([]byte(out), &sk); err != nil {
		t.Fatalf("skopeo inspect: %v\n%s", err, out)
	}
	if sk.Digest != manifestDigest || len(sk.Layers) != 1 || sk.Os != "linux" {
		t.Errorf("skopeo inspect of the pushed image: %+v", sk)
	}

	// Every tag of a repository at once.
	c.ok("tag", host+"/busybox", host+"/copy:v2")
	r = c.ok("push", "--all-tags", host+"/copy")
	if !strings.Contains(r.stdout, "v1: digest: "+manifestDigest) || !strings.Contains(r.stdout, "v2: digest: "+manifestDigest) {
		t.Errorf("docker push --all-tags:\n%s", r.stdout)
	}
	if n := strings.Count(r.stdout, "The push refers to repository"); n != 1 {
		t.Errorf("docker push --all-tags names the repository %d times, want once as dockerd:\n%s", n, r.stdout)
	}
	// The last tag of a repository goes with its digest reference, as
	// dockerd untags it.
	r = c.ok("rmi", host+"/copy:v2")
	if strings.TrimSpace(r.stdout) != "Untagged: "+host+"/copy:v2" {
		t.Errorf("docker rmi copy:v2: %q", r.stdout)
	}
	r = c.ok("rmi", host+"/copy:v1")
	if want := "Untagged: " + host + "/copy:v1\nUntagged: " + host + "/copy@" + manifestDigest + "\n"; r.stdout != want {
		t.Errorf("docker rmi of the last tag of a repository: %q, want %q", r.stdout, want)
	}
	c.ok("tag", host+"/busybox", host+"/copy:v1")
	// By digest.
	r = c.ok("pull", host+"/busybox@"+manifestDigest)
	if !strings.Contains(r.stdout, "Status: Image is up to date for "+host+"/busybox@"+manifestDigest) {
		t.Errorf("docker pull by digest:\n%s", r.stdout)
	}

	// rmi of one of several tags only untags.
	r = c.ok("rmi", "local/busybox:mine")
	if strings.TrimSpace(r.stdout) != "Untagged: local/busybox:mine" {
		t.Errorf("docker rmi of a second tag: %q", r.stdout)
	}
	// By ID while tags remain: dockerd's conflict.
	r = c.run("rmi", imageID[7:19])
	if r.code != 1 || !strings.Contains(r.stderr, "Error response from daemon: conflict: unable to delete "+imageID[7:19]+" (must be forced) - image is referenced in multiple repositories") {
		t.Errorf("docker rmi ID with two repositories: exit %d, stderr %q", r.code, r.stderr)
	}
	r = c.ok("rmi", "-f", imageID)
	for _, want := range []string{"Untagged: " + host + "/busybox:latest", "Untagged: " + host + "/copy:v1", "Deleted: " + imageID} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("docker rmi -f lacks %q:\n%s", want, r.stdout)
		}
	}
	r = c.ok("images", "-q")
	if r.stdout != "" {
		t.Errorf("images left after rmi: %q", r.stdout)
	}
	r = c.run("rmi", "nosuch")
	if r.code != 1 || !strings.Contains(r.stderr, "Error response from daemon: No such image: nosuch:latest") {
		t.Errorf("docker rmi nosuch: exit %d, stderr %q", r.code, r.stderr)
	}
	r = c.run("image", "inspect", "nosuch:1")
	if r.code != 1 || !strings.Contains(r.stderr, "No such image: nosuch:1") {
		t.Errorf("docker image inspect nosuch:1: exit %d, stderr %q", r.code, r.stderr)
	}
	// Pulled again after the removal, from the blobs the registry has.
	c.ok("pull", host+"/busybox")
	r = c.ok("info", "--format", "{{.Images}}")
	if strings.TrimSpace(r.stdout) != "1" {
		t.Errorf("docker info Images = %q", r.stdout)
	}

	// The image events of all that, as dockerd publishes them.
	until := time.Now().Add(time.Second).Unix()
	r = c.ok("events", "--since", fmt.Sprint(since), "--until", fmt.Sprint(until), "--filter", "type=image", "--format", "{{.Action}} {{.Actor.Attributes.name}}")
	for _, want := range []string{
		// pull and push: the reference as ID, the repository as name
		"pull " + host + "/busybox\n",
		"tag " + host + "/copy:v1\n",
		"push " + host + "/copy\n",
		"untag local/busybox:mine\n",
		"delete " + imageID + "\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("docker events lacks %q:\n%s", want, r.stdout)
		}
	}
}

// docker pull --all-tags pulls every tag of the repository; a plain pull
// of it still means :latest.
func TestPullAllTags(t *testing.T) {
	host := startRegistry(t, "", "")
	pushBusybox(t, host, "alltags/c:b")
	pushBusybox(t, host, "alltags/c:r")
	d := startDaemon(t, "")
	c := newCLI(t, d)
	if r := c.run("pull", host+"/alltags/c"); r.code == 0 || !strings.Contains(r.stderr, "alltags/c:latest not found") {
		t.Errorf("pull without a tag: %+v; want :latest not found", r)
	}
	pulled := c.ok("pull", "-a", host+"/alltags/c").stdout
	if n := strings.Count(pulled, "Status: "); n != 1 || !strings.Contains(pulled, "Status: Downloaded newer image for "+host+"/alltags/c\n") {
		t.Errorf("pull -a: %d status lines, want one for the repository as dockerd:\n%s", n, pulled)
	}
	out := c.ok("images", "--format", "{{.Repository}}:{{.Tag}}", host+"/alltags/c").stdout
	for _, tag := range []string{"b", "r"} {
		if !strings.Contains(out, host+"/alltags/c:"+tag+"\n") {
			t.Errorf("after pull -a: images %q lack tag %s", out, tag)
		}
	}
}
