package apiimages

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// startTokenRegistry runs `berth registry serve` on 127.0.0.1 with bearer
// token auth for user:pass (its own token endpoint), and returns its
// host:port; cleanup kills it by its PID.
func startTokenRegistry(t *testing.T, user, pass string) string {
	t.Helper()
	if berthBuildErr != nil {
		t.Fatalf("build berth: %v", berthBuildErr)
	}
	dir := t.TempDir()
	h, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "htpasswd"), []byte(user+":"+string(h)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`{"auth":{"htpasswd":%q,"token":{"expiry":"5m"}}}`, filepath.Join(dir, "htpasswd"))
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	host := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cmd := exec.Command(berthBin, "registry", "serve", "--addr", host, "--root", filepath.Join(dir, "root"), "--config", filepath.Join(dir, "config.json"))
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("berth registry log:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer ") {
				t.Fatalf("berth registry /v2/ without credentials: %s, %q", resp.Status, resp.Header.Get("WWW-Authenticate"))
			}
			return host
		}
		if time.Now().After(deadline) {
			t.Fatalf("berth registry on %s did not answer: %v\n%s", host, err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestLoginTokenAuth logs in through a registry's bearer token flow (a
// wrong password, then the right one) and pulls and pushes with the
// token the daemon gets for the CLI's credentials.
func TestLoginTokenAuth(t *testing.T) {
	host := startTokenRegistry(t, "bob", "hunter2")
	pushBusybox(t, host, "busybox:tok", "bob", "hunter2")
	d := startDaemon(t, "")
	c := newCLI(t, d)

	r := c.runIn([]byte("wrong\n"), "login", "-u", "bob", "--password-stdin", host)
	want := "Error response from daemon: login attempt to http://" + host + "/v2/ failed with status: 401 Unauthorized"
	if r.code != 1 || !strings.Contains(r.stderr, want) {
		t.Errorf("login with a wrong password: exit %d, stderr %q, want %q", r.code, r.stderr, want)
	}
	r = c.runIn([]byte("hunter2\n"), "login", "-u", "bob", "--password-stdin", host)
	if r.code != 0 || !strings.Contains(r.stdout, "Login Succeeded") {
		t.Fatalf("login: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = c.ok("pull", host+"/busybox:tok")
	if !strings.Contains(r.stdout, "Status: Downloaded newer image for "+host+"/busybox:tok") {
		t.Errorf("pull with a token:\n%s", r.stdout)
	}
	c.ok("tag", host+"/busybox:tok", host+"/mine:1")
	r = c.ok("push", host+"/mine:1")
	if !strings.Contains(r.stdout, "1: digest: sha256:") {
		t.Errorf("push with a token:\n%s", r.stdout)
	}
	c.ok("logout", host)
	// Without credentials the registry refuses the pull: a 500 as
	// dockerd's, so the CLI does not prompt for a login.
	r = c.run("pull", host+"/mine:1")
	if r.code != 1 || !strings.Contains(r.stderr, "Error response from daemon:") || !strings.Contains(r.stderr, "UNAUTHORIZED") {
		t.Errorf("pull after logout: exit %d, stderr %q", r.code, r.stderr)
	}
}
