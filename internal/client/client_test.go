package client

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	mobyclient "github.com/moby/moby/client"
)

func TestResolveHost(t *testing.T) {
	t.Setenv("BERTH_HOST", "")
	t.Setenv("DOCKER_HOST", "")
	if got := ResolveHost(""); got != DefaultHost {
		t.Errorf("no flag, no env: %s, want %s", got, DefaultHost)
	}
	t.Setenv("DOCKER_HOST", "unix:///docker.sock")
	if got := ResolveHost(""); got != "unix:///docker.sock" {
		t.Errorf("DOCKER_HOST: got %s", got)
	}
	t.Setenv("BERTH_HOST", "unix:///berth.sock")
	if got := ResolveHost(""); got != "unix:///berth.sock" {
		t.Errorf("BERTH_HOST over DOCKER_HOST: got %s", got)
	}
	if got := ResolveHost("tcp://127.0.0.1:1"); got != "tcp://127.0.0.1:1" {
		t.Errorf("-H over env: got %s", got)
	}
}

func TestUnreachableDaemon(t *testing.T) {
	sock := "unix://" + filepath.Join(t.TempDir(), "none.sock")
	c, err := New(Options{Host: sock})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.ServerVersion(context.Background(), mobyclient.ServerVersionOptions{})
	if err == nil {
		t.Fatal("ServerVersion against no daemon succeeded")
	}
	want := "Cannot connect to the Berth daemon at " + sock + ". Is the daemon running? Start it with: berth daemon"
	if got := Cause(err).Error(); got != want {
		t.Errorf("Cause(err) = %q\nwant %q", got, want)
	}
	if !mobyclient.IsErrConnectionFailed(err) {
		t.Errorf("error %v is not a connection failure for the moby client", err)
	}
}

// TestNegotiatesDaemonVersion: the client pings first and then uses the
// daemon's Api-Version in its paths.
func TestNegotiatesDaemonVersion(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "d.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var paths []string
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.Method+" "+r.URL.Path)
		mu.Unlock()
		w.Header().Set("Api-Version", "1.44")
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(r.URL.Path, "/_ping") {
			_, _ = w.Write([]byte("OK"))
			return
		}
		_, _ = w.Write([]byte(`{"Version":"fake","ApiVersion":"1.44"}`))
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	c, err := New(Options{Host: "unix://" + sock})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	v, err := c.ServerVersion(context.Background(), mobyclient.ServerVersionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v.Version != "fake" || c.ClientVersion() != "1.44" {
		t.Errorf("version %q, negotiated %q", v.Version, c.ClientVersion())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(paths) != 2 || !strings.HasSuffix(paths[0], "/_ping") || paths[1] != "GET /v1.44/version" {
		t.Errorf("requests = %v, want a ping then GET /v1.44/version", paths)
	}
}
