package registry

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// serve runs `berth registry serve` in-process on 127.0.0.1:0 and returns
// its base URL; the server stops when the test ends.
func serve(t *testing.T, root string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	cmd := NewCommand()
	cmd.SetArgs(append([]string{"serve", "--addr", "127.0.0.1:0", "--root", root}, args...))
	cmd.SetErr(pw)
	cmd.SetOut(io.Discard)
	done := make(chan error, 1)
	go func() {
		done <- cmd.ExecuteContext(ctx)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	sc := bufio.NewScanner(pr)
	re := regexp.MustCompile(`listening on (\S+)`)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			go io.Copy(io.Discard, pr)
			return m[1]
		}
	}
	t.Fatal("serve did not report its address")
	return ""
}

func TestServeAndGC(t *testing.T) {
	root := t.TempDir()
	base := serve(t, root)
	resp, err := http.Get(base + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /v2/: %d", resp.StatusCode)
	}
	// An unreferenced blob, pushed now: gc --dry-run with no grace lists
	// it, gc with the default grace keeps it.
	blob := []byte("orphan")
	dg := fmt.Sprintf("sha256:%x", sha256.Sum256(blob))
	resp, err = http.Post(base+"/v2/r/blobs/uploads/?digest="+dg, "application/octet-stream", bytes.NewReader(blob))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("push: %d", resp.StatusCode)
	}
	time.Sleep(50 * time.Millisecond) // past the filesystem's timestamp granularity
	out := runGC(t, "--root", root, "--dry-run", "--grace", "0s")
	if !strings.Contains(out, "would delete "+dg) {
		t.Fatalf("gc --dry-run output:\n%s", out)
	}
	out = runGC(t, "--root", root)
	if !strings.Contains(out, "deleted 0 blobs") {
		t.Fatalf("gc within grace:\n%s", out)
	}
	out = runGC(t, "--root", root, "--grace", "0s")
	if !strings.Contains(out, "deleted "+dg) {
		t.Fatalf("gc output:\n%s", out)
	}
	resp, _ = http.Head(base + "/v2/r/blobs/" + dg)
	if resp.StatusCode != 404 {
		t.Fatalf("blob still served after gc: %d", resp.StatusCode)
	}
}

func runGC(t *testing.T, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	cmd := NewCommand()
	cmd.SetArgs(append([]string{"gc"}, args...))
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	if err := cmd.Execute(); err != nil {
		t.Fatalf("gc %v: %v\n%s", args, err, out.String())
	}
	return out.String()
}

func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:   time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	base := serve(t, filepath.Join(dir, "root"), "--tls-cert", certPath, "--tls-key", keyPath)
	if !strings.HasPrefix(base, "https://") {
		t.Fatalf("base %q is not https", base)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := c.Get(base + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /v2/ over TLS: %d", resp.StatusCode)
	}
}

// writeOCILayout writes an OCI image layout with random layers and returns
// the layer contents.
func writeOCILayout(t *testing.T, dir string, nlayers, size int) [][]byte {
	t.Helper()
	put := func(b []byte) map[string]any {
		d := fmt.Sprintf("%x", sha256.Sum256(b))
		p := filepath.Join(dir, "blobs", "sha256", d)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return map[string]any{"digest": "sha256:" + d, "size": len(b)}
	}
	var layers [][]byte
	var descs []map[string]any
	var diffIDs []string
	for range nlayers {
		raw := make([]byte, size)
		rand.Read(raw)
		var gz bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
		zw.Write(raw)
		zw.Close()
		b := gz.Bytes()
		layers = append(layers, b)
		d := put(b)
		d["mediaType"] = "application/vnd.oci.image.layer.v1.tar+gzip"
		descs = append(descs, d)
		diffIDs = append(diffIDs, fmt.Sprintf("sha256:%x", sha256.Sum256(raw)))
	}
	cfg, _ := json.Marshal(map[string]any{"architecture": "amd64", "os": "linux", "rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs}})
	cd := put(cfg)
	cd["mediaType"] = "application/vnd.oci.image.config.v1+json"
	man, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": cd, "layers": descs})
	md := put(man)
	md["mediaType"] = "application/vnd.oci.image.manifest.v1+json"
	md["annotations"] = map[string]string{"org.opencontainers.image.ref.name": "latest"}
	idx, _ := json.Marshal(map[string]any{"schemaVersion": 2, "manifests": []any{md}})
	os.WriteFile(filepath.Join(dir, "index.json"), idx, 0o644)
	os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644)
	return layers
}

// TestSkopeoPushPull copies an image with skopeo into `berth registry
// serve`, back out, and between repositories (a cross-repository mount).
func TestSkopeoPushPull(t *testing.T) {
	skopeo, err := exec.LookPath("skopeo")
	if err != nil {
		t.Skip("skopeo not installed (hack/install-deps.sh installs it)")
	}
	dir := t.TempDir()
	base := serve(t, filepath.Join(dir, "root"))
	host := strings.TrimPrefix(base, "http://")
	src := filepath.Join(dir, "src")
	layers := writeOCILayout(t, src, 3, 1<<20)
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(skopeo, append([]string{"--insecure-policy"}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("skopeo %v: %v\n%s", args, err, out)
		}
	}
	run("copy", "--dest-tls-verify=false", "oci:"+src+":latest", "docker://"+host+"/team/app:v1")
	run("copy", "--src-tls-verify=false", "--dest-tls-verify=false", "docker://"+host+"/team/app:v1", "docker://"+host+"/team/copy:v1")
	out := filepath.Join(dir, "out")
	run("copy", "--src-tls-verify=false", "docker://"+host+"/team/copy:v1", "dir:"+out)
	for _, l := range layers {
		got, err := os.ReadFile(filepath.Join(out, fmt.Sprintf("%x", sha256.Sum256(l))))
		if err != nil || !bytes.Equal(got, l) {
			t.Fatalf("layer pulled back differs: %v", err)
		}
	}
	cmd := exec.Command(skopeo, "list-tags", "--tls-verify=false", "docker://"+host+"/team/app")
	b, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(b), `"v1"`) {
		t.Fatalf("list-tags: %v\n%s", err, b)
	}
}

// TestSkopeoTokenAuth runs serve with bearer-token auth from a config file:
// skopeo logs in through the token endpoint, pushes and pulls; a user with
// pull rights cannot push; anonymous cannot pull the private repository.
func TestSkopeoTokenAuth(t *testing.T) {
	skopeo, err := exec.LookPath("skopeo")
	if err != nil {
		t.Skip("skopeo not installed (hack/install-deps.sh installs it)")
	}
	dir := t.TempDir()
	var htpasswd strings.Builder
	for user, pass := range map[string]string{"alice": "alicepw", "bob": "bobpw"} {
		h, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		htpasswd.WriteString(user + ":" + string(h) + "\n")
	}
	os.WriteFile(filepath.Join(dir, "htpasswd"), []byte(htpasswd.String()), 0o600)
	cfg := map[string]any{"auth": map[string]any{
		"htpasswd": filepath.Join(dir, "htpasswd"),
		"token":    map[string]any{"expiry": "2m"},
		"access": map[string]any{
			"alice": []any{map[string]any{"repository": "*", "actions": []string{"*"}}},
			"bob":   []any{map[string]any{"repository": "team/*", "actions": []string{"pull"}}},
		},
	}}
	b, _ := json.Marshal(cfg)
	os.WriteFile(filepath.Join(dir, "config.json"), b, 0o600)
	base := serve(t, filepath.Join(dir, "root"), "--config", filepath.Join(dir, "config.json"))
	host := strings.TrimPrefix(base, "http://")
	src := filepath.Join(dir, "src")
	writeOCILayout(t, src, 2, 1000)
	run := func(args ...string) error {
		cmd := exec.Command(skopeo, append([]string{"--insecure-policy"}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+dir, "REGISTRY_AUTH_FILE="+filepath.Join(dir, "auth.json"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("skopeo %v: %v\n%s", args, err, out)
		}
		return nil
	}
	if err := run("copy", "--dest-tls-verify=false", "--dest-creds", "alice:alicepw", "oci:"+src+":latest", "docker://"+host+"/team/app:v1"); err != nil {
		t.Fatal(err)
	}
	if err := run("copy", "--src-tls-verify=false", "--src-creds", "bob:bobpw", "docker://"+host+"/team/app:v1", "dir:"+filepath.Join(dir, "out")); err != nil {
		t.Fatal(err)
	}
	if err := run("copy", "--dest-tls-verify=false", "--dest-creds", "bob:bobpw", "oci:"+src+":latest", "docker://"+host+"/team/app:v2"); err == nil || !strings.Contains(err.Error(), "401") && !strings.Contains(err.Error(), "unauthorized") {
		t.Fatalf("a user with pull rights pushed, or failed for another reason: %v", err)
	}
	if err := run("copy", "--src-tls-verify=false", "--src-no-creds", "docker://"+host+"/team/app:v1", "dir:"+filepath.Join(dir, "anon")); err == nil || !strings.Contains(err.Error(), "401") && !strings.Contains(err.Error(), "unauthorized") {
		t.Fatalf("anonymous pulled a private repository, or failed for another reason: %v", err)
	}
	if err := run("copy", "--src-tls-verify=false", "--src-creds", "alice:wrong", "docker://"+host+"/team/app:v1", "dir:"+filepath.Join(dir, "wrong")); err == nil || !strings.Contains(err.Error(), "401") && !strings.Contains(err.Error(), "unauthorized") {
		t.Fatalf("a wrong password pulled, or failed for another reason: %v", err)
	}
	if err := run("login", "--tls-verify=false", "-u", "alice", "-p", "alicepw", host); err != nil {
		t.Fatal(err)
	}
}
