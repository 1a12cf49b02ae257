package engine

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// commitConfig merges as dockerd's commit does: the request's fields win,
// what it leaves empty is the container's, Env/Labels/ExposedPorts/Volumes
// are joined, and an Entrypoint in the request keeps the container's Cmd
// out.
func TestCommitConfig(t *testing.T) {
	ctr := &container.Config{
		User: "app", Env: []string{"PATH=/bin", "A=ctr"}, Cmd: []string{"sleep", "1"},
		WorkingDir: "/srv", Labels: map[string]string{"l": "ctr", "k": "ctr"},
		ExposedPorts: network.PortSet{network.MustParsePort("80/tcp"): {}},
		Volumes:      map[string]struct{}{"/data": {}}, StopSignal: "SIGUSR1",
		Hostname: "abc", Tty: true,
	}
	for _, tc := range []struct {
		name string
		req  *container.Config
		want ocispec.ImageConfig
	}{
		{"nil request: the container's", nil, ocispec.ImageConfig{
			User: "app", Env: []string{"PATH=/bin", "A=ctr"}, Cmd: []string{"sleep", "1"}, WorkingDir: "/srv",
			Labels: map[string]string{"l": "ctr", "k": "ctr"}, ExposedPorts: map[string]struct{}{"80/tcp": {}},
			Volumes: map[string]struct{}{"/data": {}}, StopSignal: "SIGUSR1",
		}},
		{"request fields win, lists joined", &container.Config{
			User: "root", Env: []string{"A=req"}, Cmd: []string{"true"}, Labels: map[string]string{"l": "req"},
			ExposedPorts: network.PortSet{network.MustParsePort("53/udp"): {}}, Volumes: map[string]struct{}{"/v": {}},
		}, ocispec.ImageConfig{
			User: "root", Env: []string{"A=req", "PATH=/bin"}, Cmd: []string{"true"}, WorkingDir: "/srv",
			Labels: map[string]string{"l": "req", "k": "ctr"}, ExposedPorts: map[string]struct{}{"80/tcp": {}, "53/udp": {}},
			Volumes: map[string]struct{}{"/data": {}, "/v": {}}, StopSignal: "SIGUSR1",
		}},
		{"an entrypoint drops the container's cmd", &container.Config{Entrypoint: []string{"/bin/x"}}, ocispec.ImageConfig{
			User: "app", Env: []string{"PATH=/bin", "A=ctr"}, Entrypoint: []string{"/bin/x"}, WorkingDir: "/srv",
			Labels: map[string]string{"l": "ctr", "k": "ctr"}, ExposedPorts: map[string]struct{}{"80/tcp": {}},
			Volumes: map[string]struct{}{"/data": {}}, StopSignal: "SIGUSR1",
		}},
	} {
		got := commitConfig(tc.req, ctr)
		if !reflect.DeepEqual(*got, tc.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.name, *got, tc.want)
		}
	}
	if len(ctr.Env) != 2 || ctr.Labels["l"] != "ctr" {
		t.Errorf("the container's config was changed: %+v", ctr)
	}
}

// Only empty regular files at the engine's mount targets are left out.
func TestIsMountTarget(t *testing.T) {
	upper := t.TempDir()
	if err := os.MkdirAll(filepath.Join(upper, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"hostname": "", "hosts": "127.0.0.1 x\n", "passwd": ""} {
		if err := os.WriteFile(filepath.Join(upper, "etc", name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for rel, want := range map[string]bool{"etc/hostname": true, "etc/hosts": false, "etc/passwd": false, "etc/resolv.conf": false} {
		if got := isMountTarget(upper, rel); got != want {
			t.Errorf("isMountTarget(%s) = %v, want %v", rel, got, want)
		}
	}
}

// ensureMtab links /etc/mtab to /proc/mounts where the image has none,
// keeps an image's own, does not follow an /etc that is a symbolic link,
// and isMountTarget knows only its own link.
func TestEnsureMtab(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := ensureMtab(root); err != nil {
		t.Fatal(err)
	}
	if target, err := os.Readlink(filepath.Join(root, "etc/mtab")); err != nil || target != "/proc/mounts" {
		t.Fatalf("etc/mtab: %q, %v", target, err)
	}
	if !isMountTarget(root, "etc/mtab") {
		t.Error("isMountTarget(etc/mtab) = false for the engine's link")
	}
	if err := ensureMtab(root); err != nil {
		t.Errorf("ensureMtab again: %v", err)
	}

	own := t.TempDir()
	if err := os.MkdirAll(filepath.Join(own, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/proc/self/mounts", filepath.Join(own, "etc/mtab")); err != nil {
		t.Fatal(err)
	}
	if err := ensureMtab(own); err != nil {
		t.Fatal(err)
	}
	if target, _ := os.Readlink(filepath.Join(own, "etc/mtab")); target != "/proc/self/mounts" {
		t.Errorf("the image's own etc/mtab became %q", target)
	}
	if isMountTarget(own, "etc/mtab") {
		t.Error("isMountTarget(etc/mtab) = true for the image's own link")
	}

	outside := t.TempDir()
	hostile := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(hostile, "etc")); err != nil {
		t.Fatal(err)
	}
	if err := ensureMtab(hostile); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(outside, "mtab")); err == nil {
		t.Error("ensureMtab followed the image's /etc link out of the rootfs")
	}
}
