package image

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth/berth/internal/content"
	"github.com/berth/berth/internal/testutil"
)

func TestChainIDs(t *testing.T) {
	a := digest.FromString("a")
	b := digest.FromString("b")
	got := ChainIDs([]digest.Digest{a, b})
	want := digest.FromString(a.String() + " " + b.String())
	if got[0] != a || got[1] != want {
		t.Errorf("ChainIDs = %v, want [%s %s]", got, a, want)
	}
}

// An index (manifest list) gives the manifest of the requested platform,
// linux/amd64 by default; RepoDigests name the index, as docker's do.
func TestPullIndexSelectsPlatform(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	f, host := newFakeRegistry(t)
	amd := newTestImage(t, makeTar(t, tarEntry{name: "arch", body: "amd64"}))
	arm := newTestImage(t, makeTar(t, tarEntry{name: "arch", body: "arm64"}))
	var armCfg ocispec.Image
	json.Unmarshal(arm.config, &armCfg)
	armCfg.Architecture = "arm64"
	arm.config, _ = json.Marshal(armCfg)
	arm = rebuild(t, arm)
	f.addImage("amd", amd)
	f.addImage("arm", arm)
	idx := ocispec.Index{MediaType: content.MediaTypeDockerManifestList, Manifests: []ocispec.Descriptor{
		{MediaType: arm.mdesc.MediaType, Digest: arm.mdesc.Digest, Size: arm.mdesc.Size, Platform: &ocispec.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}},
		{MediaType: amd.mdesc.MediaType, Digest: amd.mdesc.Digest, Size: amd.mdesc.Size, Platform: &ocispec.Platform{OS: "linux", Architecture: "amd64"}},
	}}
	idx.SchemaVersion = 2
	ib, _ := json.Marshal(idx)
	f.mu.Lock()
	f.manifests["multi"] = ib
	f.mtypes["multi"] = content.MediaTypeDockerManifestList
	f.mu.Unlock()
	idxDigest := digest.FromBytes(ib)

	s := newTestService(t, "")
	img, err := s.Pull(ctx, host+"/multi/img:multi", PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if img.Target.Digest != amd.mdesc.Digest || img.Config.Architecture != "amd64" {
		t.Errorf("default platform gave %s (%s), want the amd64 manifest %s", img.Target.Digest, img.Config.Architecture, amd.mdesc.Digest)
	}
	if len(img.RepoDigests) != 1 || img.RepoDigests[0] != host+"/multi/img@"+idxDigest.String() {
		t.Errorf("RepoDigests %v, want the index digest %s", img.RepoDigests, idxDigest)
	}
	img, err = s.Pull(ctx, host+"/multi/img:multi", PullOptions{Platform: "linux/arm64"})
	if err != nil {
		t.Fatal(err)
	}
	if img.Config.Architecture != "arm64" {
		t.Errorf("--platform linux/arm64 gave %s", img.Config.Architecture)
	}
	// The tag and the index digest moved to the arm64 image; the amd64 one
	// dangles, as docker's "<none>:<none>".
	d, err := s.List(ctx, ListOptions{Filters: map[string][]string{"dangling": {"true"}}})
	if err != nil || len(d) != 1 || d[0].Target.Digest != amd.mdesc.Digest {
		t.Errorf("dangling after the tag moved: %v %v", names(d), err)
	}
	if _, err := s.Pull(ctx, host+"/multi/img:multi", PullOptions{Platform: "linux/s390x"}); err == nil {
		t.Error("pull for a platform the index lacks succeeded")
	}
}

// A single big layer is unpacked while it downloads: Extracting progress
// is reported before the download is complete.
func TestPullOverlapsDownloadAndUnpack(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	f, host := newFakeRegistry(t)
	ti := newTestImage(t, makeTar(t, tarEntry{name: "big", body: string(randomBytes(t, 8<<20))}))
	f.addImage("v1", ti)
	s := newTestService(t, "")
	id := shortID(ti.layerDigest(0))
	var mu sync.Mutex
	var order []string
	_, err := s.Pull(ctx, host+"/big/img:v1", PullOptions{Progress: func(e ProgressEvent) {
		if e.ID != id {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if len(order) == 0 || order[len(order)-1] != e.Status {
			order = append(order, e.Status)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	firstExtract, complete := -1, -1
	for i, st := range order {
		if st == "Extracting" && firstExtract < 0 {
			firstExtract = i
		}
		if st == "Download complete" {
			complete = i
		}
	}
	if firstExtract < 0 || complete < 0 || firstExtract > complete {
		t.Errorf("unpack did not overlap the download: %v", order)
	}
}

// Two pulls of one image at once share the blobs and unpack each layer
// once; both succeed.
func TestConcurrentPullsShare(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	f, host := newFakeRegistry(t)
	ti := newTestImage(t, makeTar(t, tarEntry{name: "a", body: string(randomBytes(t, 2<<20))}), makeTar(t, tarEntry{name: "b", body: "b"}))
	f.addImage("v1", ti)
	s := newTestService(t, "")
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.Pull(ctx, host+"/shared/img:v1", PullOptions{})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := len(committedSnapshots(t, s)); n != 2 {
		t.Errorf("%d committed snapshots, want 2", n)
	}
}

// Credentials come from a docker credential helper named in config.json.
func TestPullWithCredentialHelper(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	host := testutil.StartDockerRegistry(t, "helperuser", "helperpass")
	src := newTestService(t, "")
	twoLayers(t).store(t, src, host+"/cred/app:1")
	if err := src.Push(ctx, host+"/cred/app:1", PushOptions{Auth: &AuthConfig{Username: "helperuser", Password: "helperpass"}}); err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	helper := "#!/bin/sh\nread server\necho '{\"ServerURL\":\"'$server'\",\"Username\":\"helperuser\",\"Secret\":\"helperpass\"}'\n"
	if err := os.WriteFile(filepath.Join(bin, "docker-credential-berthtest"), []byte(helper), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	cfgDir := t.TempDir()
	cfg, _ := json.Marshal(map[string]any{"credHelpers": map[string]string{host: "berthtest"}})
	os.WriteFile(filepath.Join(cfgDir, "config.json"), cfg, 0o600)
	dst := newTestService(t, "")
	dst.reg.AuthConfigDir = cfgDir
	if _, err := dst.Pull(ctx, host+"/cred/app:1", PullOptions{}); err != nil {
		t.Fatal(err)
	}
}

// References are resolved as docker does: Docker Hub names over HTTPS,
// loopback registries and listed ones over plain HTTP, private addresses
// over HTTPS unless listed.
func TestParseRemote(t *testing.T) {
	s := &Service{reg: RegistryConfig{Insecure: []string{"10.0.0.9:5000"}}}
	for ref, want := range map[string]string{
		"busybox":                      "https://index.docker.io/v2/library/busybox manifests/latest",
		"user/app:v1":                  "https://index.docker.io/v2/user/app manifests/v1",
		"localhost:5000/app":           "http://localhost:5000/v2/app manifests/latest",
		"127.0.0.1:5000/a/b:c":         "http://127.0.0.1:5000/v2/a/b manifests/c",
		"[::1]:5000/app":               "http://[::1]:5000/v2/app manifests/latest",
		"10.0.0.9:5000/app":            "http://10.0.0.9:5000/v2/app manifests/latest",
		"10.0.0.8:5000/app":            "https://10.0.0.8:5000/v2/app manifests/latest",
		"ghcr.io/o/r@sha256:" + hex64a: "https://ghcr.io/v2/o/r manifests/sha256:" + hex64a,
	} {
		r, err := s.parseRemote(ref)
		if err != nil {
			t.Errorf("%s: %v", ref, err)
			continue
		}
		scheme := "https"
		if s.insecure(r.Context().RegistryStr()) {
			scheme = "http"
		}
		got := scheme + "://" + r.Context().RegistryStr() + "/v2/" + r.Context().RepositoryStr() + " manifests/" + r.Identifier()
		if got != want {
			t.Errorf("%s: %s, want %s", ref, got, want)
		}
	}
	for _, bad := range []string{"UPPER/case", "a b", ""} {
		if _, err := s.parseRemote(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

var hex64a = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

// A pull by digest records only repo@digest: the image has no tag.
func TestPullByDigest(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	f, host := newFakeRegistry(t)
	ti := twoLayers(t)
	f.addImage("v1", ti)
	s := newTestService(t, "")
	img, err := s.Pull(ctx, host+"/bydigest/img@"+ti.mdesc.Digest.String(), PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(img.RepoTags) != 0 || len(img.RepoDigests) != 1 || img.RepoDigests[0] != host+"/bydigest/img@"+ti.mdesc.Digest.String() {
		t.Errorf("RepoTags %v RepoDigests %v", img.RepoTags, img.RepoDigests)
	}
	// A digest the registry answers with other bytes is refused.
	other := newTestImage(t, makeTar(t, tarEntry{name: "x", body: "x"}))
	f.mu.Lock()
	f.manifests[other.mdesc.Digest.String()] = ti.manifest
	f.mtypes[other.mdesc.Digest.String()] = ti.mdesc.MediaType
	f.mu.Unlock()
	if _, err := s.Pull(ctx, host+"/bydigest/img@"+other.mdesc.Digest.String(), PullOptions{}); err == nil || !strings.Contains(err.Error(), "content has digest") {
		t.Errorf("manifest with the wrong digest: %v", err)
	}
}

// DistributionInspect gives the registry's descriptor and the platforms
// of an index (attestations left out) or of a single manifest (from its
// config), and stores nothing.
func TestDistributionInspect(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	f, host := newFakeRegistry(t)
	amd := newTestImage(t, makeTar(t, tarEntry{name: "arch", body: "amd64"}))
	f.addImage("amd", amd)
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{
		{MediaType: amd.mdesc.MediaType, Digest: amd.mdesc.Digest, Size: amd.mdesc.Size, Platform: &ocispec.Platform{OS: "linux", Architecture: "amd64"}},
		{MediaType: amd.mdesc.MediaType, Digest: amd.mdesc.Digest, Size: amd.mdesc.Size, Platform: &ocispec.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}},
		{MediaType: amd.mdesc.MediaType, Digest: amd.mdesc.Digest, Size: amd.mdesc.Size, Platform: &ocispec.Platform{OS: "unknown", Architecture: "unknown"}},
	}}
	idx.SchemaVersion = 2
	ib, _ := json.Marshal(idx)
	f.mu.Lock()
	f.manifests["multi"] = ib
	f.mtypes["multi"] = ocispec.MediaTypeImageIndex
	f.mu.Unlock()

	s := newTestService(t, "")
	d, err := s.DistributionInspect(ctx, host+"/multi/img:multi", nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.Descriptor.Digest != digest.FromBytes(ib) || d.Descriptor.MediaType != ocispec.MediaTypeImageIndex || d.Descriptor.Size != int64(len(ib)) {
		t.Errorf("index descriptor %+v", d.Descriptor)
	}
	if got := platformsOf(d.Platforms); got != "linux/amd64 linux/arm64/v8" {
		t.Errorf("index platforms %q, want linux/amd64 linux/arm64/v8", got)
	}
	d, err = s.DistributionInspect(ctx, host+"/amd/img@"+amd.mdesc.Digest.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.Descriptor.Digest != amd.mdesc.Digest || platformsOf(d.Platforms) != "linux/amd64" {
		t.Errorf("manifest: %+v %q", d.Descriptor, platformsOf(d.Platforms))
	}
	if imgs, _ := s.List(ctx, ListOptions{}); len(imgs) != 0 {
		t.Errorf("images after DistributionInspect: %v", names(imgs))
	}
	if _, err := s.DistributionInspect(ctx, host+"/none/img:x", nil); !errdefs.IsNotFound(err) {
		t.Errorf("missing manifest: %v, want not found", err)
	}
}

func platformsOf(ps []ocispec.Platform) string {
	var out []string
	for _, p := range ps {
		out = append(out, content.FormatPlatform(p))
	}
	return strings.Join(out, " ")
}
