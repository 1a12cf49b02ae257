package registry

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// writeTarLayout writes an OCI layout whose one layer is a real tar (docker
// load needs that), tagged latest.
func writeTarLayout(t *testing.T, dir string) {
	t.Helper()
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	data := make([]byte, 100000)
	rand.Read(data)
	tw.WriteHeader(&tar.Header{Name: "data.bin", Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg})
	tw.Write(data)
	tw.Close()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(tb.Bytes())
	zw.Close()
	put := func(b []byte, mediaType string) map[string]any {
		d := fmt.Sprintf("%x", sha256.Sum256(b))
		p := filepath.Join(dir, "blobs", "sha256", d)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return map[string]any{"mediaType": mediaType, "digest": "sha256:" + d, "size": len(b)}
	}
	layer := put(gz.Bytes(), "application/vnd.oci.image.layer.v1.tar+gzip")
	cfg, _ := json.Marshal(map[string]any{"architecture": "amd64", "os": "linux", "config": map[string]any{},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{fmt.Sprintf("sha256:%x", sha256.Sum256(tb.Bytes()))}}})
	man, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": put(cfg, "application/vnd.oci.image.config.v1+json"), "layers": []any{layer}})
	md := put(man, "application/vnd.oci.image.manifest.v1+json")
	md["annotations"] = map[string]string{"org.opencontainers.image.ref.name": "latest"}
	idx, _ := json.Marshal(map[string]any{"schemaVersion": 2, "manifests": []any{md}})
	os.WriteFile(filepath.Join(dir, "index.json"), idx, 0o644)
	os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644)
}

// TestDockerLoginPushPull drives the real docker CLI and Debian's dockerd
// (its own socket, data root and vfs storage, no networking) against serve
// with token auth: docker login, push, pull, and pull refused after logout.
// Everything dockerd writes stays in the test directory, except the empty
// /run/docker/plugins it always creates.
func TestDockerLoginPushPull(t *testing.T) {
	dockerd, err1 := exec.LookPath("dockerd")
	docker, err2 := exec.LookPath("docker")
	skopeo, err3 := exec.LookPath("skopeo")
	if err1 != nil || err2 != nil || err3 != nil || os.Geteuid() != 0 {
		t.Skip("needs root, dockerd (docker.io), docker and skopeo")
	}
	dir := t.TempDir()
	h, _ := bcrypt.GenerateFromPassword([]byte("alicepw"), bcrypt.MinCost)
	os.WriteFile(filepath.Join(dir, "htpasswd"), []byte("alice:"+string(h)+"\n"), 0o600)
	cfg := fmt.Sprintf(`{"auth":{"htpasswd":%q,"token":{"expiry":"5m"}}}`, filepath.Join(dir, "htpasswd"))
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600)
	host := strings.TrimPrefix(serve(t, filepath.Join(dir, "root"), "--config", filepath.Join(dir, "config.json")), "http://")

	sock := filepath.Join(dir, "docker.sock")
	// The trust key would otherwise go to /etc/docker/key.json.
	daemonJSON := filepath.Join(dir, "daemon.json")
	os.WriteFile(daemonJSON, []byte(fmt.Sprintf(`{"deprecated-key-path":%q}`, filepath.Join(dir, "key.json"))), 0o600)
	d := exec.Command(dockerd, "--data-root", filepath.Join(dir, "docker"), "--exec-root", filepath.Join(dir, "exec"),
		"-H", "unix://"+sock, "--pidfile", filepath.Join(dir, "docker.pid"), "--storage-driver", "vfs",
		"--bridge", "none", "--iptables=false", "--ip6tables=false", "--config-file", daemonJSON)
	var dlog bytes.Buffer
	d.Stdout, d.Stderr = &dlog, &dlog
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { d.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			d.Process.Kill()
			<-done
		}
	})
	run := func(name string, stdin string, args ...string) (string, error) {
		cmd := exec.Command(name, args...)
		cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+filepath.Join(dir, "docker-config"), "HOME="+dir)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	dk := func(stdin string, args ...string) (string, error) {
		return run(docker, stdin, append([]string{"-H", "unix://" + sock}, args...)...)
	}
	up := false
	for range 100 {
		if _, err := dk("", "version"); err == nil {
			up = true
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !up {
		t.Fatalf("dockerd did not come up:\n%s", dlog.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "key.json")); err != nil {
		t.Errorf("dockerd did not keep its trust key in the test directory: %v", err)
	}
	layout := filepath.Join(dir, "layout")
	writeTarLayout(t, layout)
	archive := filepath.Join(dir, "img.tar")
	if out, err := run(skopeo, "", "--insecure-policy", "copy", "oci:"+layout+":latest", "docker-archive:"+archive+":berthtest/img:v1"); err != nil {
		t.Fatalf("skopeo: %v\n%s", err, out)
	}
	ref := host + "/team/img:v1"
	steps := [][]string{
		{"", "load", "-i", archive},
		{"", "tag", "berthtest/img:v1", ref},
		{"alicepw", "login", host, "-u", "alice", "--password-stdin"},
		{"", "push", ref},
		{"", "rmi", ref},
		{"", "pull", ref},
		{"", "logout", host},
	}
	for _, s := range steps {
		if out, err := dk(s[0], s[1:]...); err != nil {
			t.Fatalf("docker %v: %v\n%s", s[1:], err, out)
		}
	}
	if out, err := dk("wrong", "login", host, "-u", "alice", "--password-stdin"); err == nil {
		t.Fatalf("docker login with a wrong password succeeded:\n%s", out)
	}
	dk("", "rmi", ref)
	if out, err := dk("", "pull", ref); err == nil || !strings.Contains(out, "denied") {
		t.Fatalf("anonymous docker pull of a private repository: %v\n%s", err, out)
	}
}
