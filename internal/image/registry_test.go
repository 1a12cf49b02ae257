package image

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/containerd/errdefs"

	"github.com/berth/berth/internal/testutil"
)

func twoLayers(t *testing.T) testImage {
	return newTestImage(t,
		makeTar(t, tarEntry{name: "etc/", typ: '5'}, tarEntry{name: "etc/hello", body: "hello\n"}, tarEntry{name: "gone", body: "x"}),
		makeTar(t, tarEntry{name: "etc/world", body: "world\n"}, tarEntry{name: ".wh.gone", body: ""}),
	)
}

// A pushed image pulled by a second service on its own root has the same
// ID, names and files; with htpasswd auth from a config.json and from
// explicit credentials; without credentials it is refused.
func TestPushPullRoundTrip(t *testing.T) {
	testutil.RequireRoot(t)
	for _, auth := range []bool{false, true} {
		t.Run(map[bool]string{false: "anonymous", true: "htpasswd"}[auth], func(t *testing.T) {
			ctx := context.Background()
			user, pass := "", ""
			if auth {
				user, pass = "berth", "s3cret"
			}
			host := testutil.StartDockerRegistry(t, user, pass)
			src := newTestService(t, "")
			ti := twoLayers(t)
			img := ti.store(t, src, host+"/test/app:v1")
			var creds *AuthConfig
			if auth {
				creds = &AuthConfig{Username: user, Password: pass}
				if err := src.Push(ctx, host+"/test/app:v1", PushOptions{}); !errdefs.IsUnauthorized(err) {
					t.Fatalf("push without credentials: got %v, want unauthenticated", err)
				}
			}
			var events []ProgressEvent
			if err := src.Push(ctx, host+"/test/app:v1", PushOptions{Auth: creds, Progress: func(e ProgressEvent) { events = append(events, e) }}); err != nil {
				t.Fatal(err)
			}
			if !hasStatus(events, shortID(img.Manifest.Layers[0].Digest), "Pushed") {
				t.Errorf("push events lack Pushed for the first layer: %+v", events)
			}
			// Pushing again: the registry has every blob.
			events = nil
			if err := src.Push(ctx, host+"/test/app:v1", PushOptions{Auth: creds, Progress: func(e ProgressEvent) { events = append(events, e) }}); err != nil {
				t.Fatal(err)
			}
			if !hasStatus(events, shortID(img.Manifest.Layers[1].Digest), "Layer already exists") {
				t.Errorf("second push events lack 'Layer already exists': %+v", events)
			}
			// Pushing under another repository of the same registry mounts.
			if err := src.Tag(ctx, host+"/test/app:v1", host+"/other/app:v2"); err != nil {
				t.Fatal(err)
			}
			events = nil
			if err := src.Push(ctx, host+"/other/app:v2", PushOptions{Auth: creds, Progress: func(e ProgressEvent) { events = append(events, e) }}); err != nil {
				t.Fatal(err)
			}
			if !hasStatus(events, shortID(img.Manifest.Layers[0].Digest), "Mounted from test/app") {
				t.Errorf("push to another repository did not mount: %+v", events)
			}

			root := t.TempDir()
			dst := newTestService(t, root)
			if auth {
				// Credentials from a docker config.json.
				dir := t.TempDir()
				cfg, _ := json.Marshal(map[string]any{"auths": map[string]any{host: map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))}}})
				os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o600)
				dst.reg.AuthConfigDir = dir
			}
			events = nil
			got, err := dst.Pull(ctx, host+"/test/app:v1", PullOptions{Progress: func(e ProgressEvent) { events = append(events, e) }})
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != img.ID {
				t.Errorf("pulled ID %s, pushed %s", got.ID, img.ID)
			}
			if len(got.RepoTags) != 1 || got.RepoTags[0] != host+"/test/app:v1" {
				t.Errorf("RepoTags %v", got.RepoTags)
			}
			if len(got.RepoDigests) != 1 || got.RepoDigests[0] != host+"/test/app@"+img.Target.Digest.String() {
				t.Errorf("RepoDigests %v, want %s", got.RepoDigests, host+"/test/app@"+img.Target.Digest.String())
			}
			for _, st := range []string{"Pulling fs layer", "Downloading", "Download complete", "Pull complete"} {
				if !hasStatus(events, shortID(img.Manifest.Layers[1].Digest), st) {
					t.Errorf("pull events lack %q: %+v", st, events)
				}
			}
			dir := viewImage(t, dst, got)
			for f, want := range map[string]string{"etc/hello": "hello\n", "etc/world": "world\n"} {
				b, err := os.ReadFile(filepath.Join(dir, f))
				if err != nil || string(b) != want {
					t.Errorf("%s: %q, %v; want %q", f, b, err, want)
				}
			}
			if _, err := os.Lstat(filepath.Join(dir, "gone")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("whiteout: gone still visible: %v", err)
			}
			// A second pull finds everything present.
			events = nil
			if _, err := dst.Pull(ctx, host+"/test/app:v1", PullOptions{Progress: func(e ProgressEvent) { events = append(events, e) }}); err != nil {
				t.Fatal(err)
			}
			if !hasStatus(events, shortID(img.Manifest.Layers[0].Digest), "Already exists") || !hasStatus(events, "", "Status: Image is up to date for "+host+"/test/app:v1") {
				t.Errorf("second pull events: %+v", events)
			}
		})
	}
}

func hasStatus(events []ProgressEvent, id, status string) bool {
	for _, e := range events {
		if (id == "" || e.ID == id) && e.Status == status {
			return true
		}
	}
	return false
}

// An image skopeo copies into the registry from hack/mkimage-busybox.sh's
// OCI layout is pulled and its files are right; an image the service
// pushes is read by skopeo inspect and copied by skopeo into an OCI layout.
func TestSkopeoInterop(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	host := testutil.StartDockerRegistry(t, "", "")
	modRoot, err := testutil.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	layout := t.TempDir()
	if out, err := runCmd(filepath.Join(modRoot, "hack/mkimage-busybox.sh"), layout); err != nil {
		t.Skipf("mkimage-busybox.sh: %v\n%s", err, out)
	}
	skopeo(t, "copy", "--dest-tls-verify=false", "oci:"+layout+":latest", "docker://"+host+"/library/busybox:latest")
	s := newTestService(t, "")
	img, err := s.Pull(ctx, host+"/library/busybox:latest", PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := viewImage(t, s, img)
	want, _ := os.ReadFile("/bin/busybox")
	got, err := os.ReadFile(filepath.Join(dir, "bin/busybox"))
	if err != nil || len(got) != len(want) || string(got) != string(want) {
		t.Fatalf("bin/busybox in the pulled image differs from /bin/busybox (%d vs %d bytes, %v)", len(got), len(want), err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "tmp")); err != nil || fi.Mode()&os.ModeSticky == 0 {
		t.Errorf("/tmp: %v %v, want sticky", fi, err)
	}
	if len(img.Config.Config.Cmd) != 1 || img.Config.Config.Cmd[0] != "sh" {
		t.Errorf("Cmd %v", img.Config.Config.Cmd)
	}

	// Push under a new name; skopeo reads it back.
	if err := s.Tag(ctx, img.ID.String(), host+"/berth/pushed:1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Push(ctx, host+"/berth/pushed:1", PushOptions{}); err != nil {
		t.Fatal(err)
	}
	var insp struct {
		Digest string
		Layers []string
	}
	if err := json.Unmarshal(skopeo(t, "inspect", "--tls-verify=false", "docker://"+host+"/berth/pushed:1"), &insp); err != nil {
		t.Fatal(err)
	}
	if insp.Digest != img.Target.Digest.String() || len(insp.Layers) != len(img.Manifest.Layers) {
		t.Errorf("skopeo inspect: digest %s layers %d; want %s %d", insp.Digest, len(insp.Layers), img.Target.Digest, len(img.Manifest.Layers))
	}
	out := t.TempDir()
	skopeo(t, "copy", "--src-tls-verify=false", "docker://"+host+"/berth/pushed:1", "oci:"+out+":copied")
	idx, err := os.ReadFile(filepath.Join(out, "index.json"))
	if err != nil || !strings.Contains(string(idx), "copied") {
		t.Errorf("skopeo's OCI layout index: %s %v", idx, err)
	}
}

// TestTemporaryErrors: what a pull retries. A refused connection is not
// retried (nothing listens: the pull fails at once, as dockerd's).
func TestTemporaryErrors(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	reset := &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
	for err, want := range map[error]bool{
		refused:                   false,
		reset:                     true,
		io.ErrUnexpectedEOF:       true,
		context.Canceled:          false,
		errors.New("bad request"): false,
	} {
		if got := temporary(fmt.Errorf("get blob: %w", err)); got != want {
			t.Errorf("temporary(%v) = %v, want %v", err, got, want)
		}
	}
}
