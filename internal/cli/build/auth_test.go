package build

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// berth build sends config.json's credentials as X-Registry-Config.
func TestRegistryAuthsFromConfig(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dir)
	if got := registryAuths(io.Discard); got != nil {
		t.Errorf("no config.json: %v", got)
	}
	// "u:p" and "hub:pw" in base64.
	cfg := `{"auths":{"127.0.0.1:5000":{"auth":"dTpw"},"https://index.docker.io/v1/":{"auth":"aHViOnB3"}}}`
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	got := registryAuths(io.Discard)
	if a := got["127.0.0.1:5000"]; a.Username != "u" || a.Password != "p" {
		t.Errorf("127.0.0.1:5000: %+v", a)
	}
	if a := got["https://index.docker.io/v1/"]; a.Username != "hub" || a.Password != "pw" {
		t.Errorf("Docker Hub: %+v", a)
	}
}
