package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/system"

	"github.com/berth/berth/internal/api/events"
)

func newTestServer(t *testing.T) (*Server, *httptest.Server) {
	t.Helper()
	s := New(Config{Version: "0.1.0-test", ID: "TESTID", DataRoot: "/tmp/berth-test-root", Events: events.NewBus(0),
		SecurityOptions: []string{"name=seccomp,profile=builtin"}})
	s.SetRuntimes(Runtimes{Default: "berth", All: map[string]system.RuntimeWithStatus{
		"berth": {Runtime: system.Runtime{Path: "/usr/bin/berth"}}, "runc": {Runtime: system.Runtime{Path: "runc"}},
	}, Versions: map[string]string{"berth": "0.1.0-test"}})
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return s, ts
}

func do(t *testing.T, method, url string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestCommonHeadersAndPing(t *testing.T) {
	_, ts := newTestServer(t)
	for _, c := range []struct{ method, path, body string }{
		{"HEAD", "/_ping", ""},
		{"GET", "/_ping", "OK"},
		{"GET", "/v1.41/_ping", "OK"},
		{"GET", "/v" + APIVersion + "/_ping", "OK"},
	} {
		resp, body := do(t, c.method, ts.URL+c.path)
		if resp.StatusCode != 200 || body != c.body {
			t.Errorf("%s %s = %d %q, want 200 %q", c.method, c.path, resp.StatusCode, body, c.body)
		}
		for k, want := range map[string]string{"Api-Version": APIVersion, "Ostype": "linux", "Docker-Experimental": "false",
			"Server": "Berth/0.1.0-test (linux)", "Cache-Control": "no-cache, no-store, must-revalidate", "Builder-Version": "1"} {
			if got := resp.Header.Get(k); got != want {
				t.Errorf("%s %s: header %s = %q, want %q", c.method, c.path, k, got, want)
			}
		}
	}
}

func TestVersionAndNotFoundErrors(t *testing.T) {
	_, ts := newTestServer(t)
	for _, c := range []struct {
		method, path string
		status       int
		message      string
	}{
		{"GET", "/v1.99/version", 400, "client version 1.99 is too new. Maximum supported API version is " + APIVersion},
		{"GET", "/v1.12/info", 400, "client version 1.12 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version"},
		{"GET", "/containers/json", 404, "page not found"},
		{"GET", "/v1.41/nosuch", 404, "page not found"},
		{"DELETE", "/version", 404, "page not found"},
		{"GET", "/v1x/version", 404, "page not found"},
		// Swarm: a node that is not in one, as dockerd's.
		{"GET", "/v1.41/swarm", 503, "This node is not a swarm manager. Use \"docker swarm init\""},
		{"GET", "/nodes", 503, "This node is not a swarm manager."},
		{"GET", "/services/web/logs", 503, "This node is not a swarm manager."},
		{"POST", "/secrets/create", 503, "This node is not a swarm manager."},
		{"POST", "/swarm/leave", 503, "This node is not part of a swarm"},
		{"POST", "/swarm/init", 501, "swarm mode is not supported by berth"},
		{"PUT", "/nodes", 404, "page not found"},
		{"PUT", "/volumes/v1", 503, "volume update only valid for cluster volumes"},
		// Managed plugins: none, and none can be installed.
		{"GET", "/plugins/privileges?remote=vieux/sshfs", 501, "managed plugins are not supported by berth"},
		{"POST", "/plugins/pull?remote=vieux/sshfs", 501, "managed plugins are not supported by berth"},
		{"POST", "/plugins/vieux/sshfs:latest/enable", 404, `plugin "vieux/sshfs:latest" not found`},
		{"DELETE", "/plugins/vieux/sshfs", 404, `plugin "vieux/sshfs" not found`},
		{"POST", "/plugins/x/bogus", 404, "page not found"},
		{"POST", "/auth", 400, "got EOF while reading request body"},
		{"GET", "/events?filters=%7B%22bogus%22%3A%7B%22x%22%3Atrue%7D%7D", 400, "invalid filter 'bogus'"},
		{"GET", "/events?since=yesterday", 400, `invalid value for since: "yesterday"`},
		{"GET", "/events?since=20&until=10", 400, "`since` time (20) cannot be after `until` time (10)"},
	} {
		resp, body := do(t, c.method, ts.URL+c.path)
		if resp.StatusCode != c.status {
			t.Errorf("%s %s: status %d, want %d (body %s)", c.method, c.path, resp.StatusCode, c.status, body)
			continue
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s %s: Content-Type %q, want application/json", c.method, c.path, ct)
		}
		var e struct{ Message string }
		if err := json.Unmarshal([]byte(body), &e); err != nil || !strings.HasPrefix(e.Message, c.message) {
			t.Errorf("%s %s: body %s, want message starting %q", c.method, c.path, body, c.message)
		}
		if resp.Header.Get("Api-Version") != APIVersion {
			t.Errorf("%s %s: error response lacks Api-Version", c.method, c.path)
		}
	}
	// HEAD errors carry the status only.
	resp, body := do(t, "HEAD", ts.URL+"/nosuch")
	if resp.StatusCode != 404 || body != "" {
		t.Errorf("HEAD /nosuch = %d %q, want 404 and no body", resp.StatusCode, body)
	}
}

func TestStatusOf(t *testing.T) {
	for _, c := range []struct {
		err  error
		want int
	}{
		{errdefs.ErrNotFound, 404},
		{fmt.Errorf("container x: %w", errdefs.ErrNotFound), 404},
		{errdefs.ErrInvalidArgument.WithMessage("bad"), 400},
		{errdefs.ErrConflict, 409},
		{errdefs.ErrAlreadyExists, 409},
		{errdefs.ErrNotModified, 304},
		{errdefs.ErrUnauthenticated, 401},
		{errdefs.ErrPermissionDenied, 403},
		{errdefs.ErrNotImplemented, 501},
		{errdefs.ErrUnavailable, 503},
		{errors.New("boom"), 500},
	} {
		if got := StatusOf(c.err); got != c.want {
			t.Errorf("StatusOf(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

func TestVersionEndpoint(t *testing.T) {
	_, ts := newTestServer(t)
	resp, body := do(t, "GET", ts.URL+"/v1.50/version")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var v system.VersionResponse
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatal(err)
	}
	if v.Version != "0.1.0-test" || v.APIVersion != APIVersion || v.MinAPIVersion != "1.24" || v.Os != "linux" || v.KernelVersion == "" || v.GoVersion == "" {
		t.Errorf("version = %+v", v)
	}
	if len(v.Components) != 2 || v.Components[0].Name != "Engine" || v.Components[0].Details["ApiVersion"] != APIVersion ||
		v.Components[1].Name != "berth" || v.Components[1].Version != "0.1.0-test" {
		t.Errorf("components = %+v", v.Components)
	}
}

func TestInfoEndpoint(t *testing.T) {
	s, ts := newTestServer(t)
	s.SetDebug(true)
	_, body := do(t, "GET", ts.URL+"/info")
	var info system.Info
	if err := json.Unmarshal([]byte(body), &info); err != nil {
		t.Fatal(err)
	}
	if info.ID != "TESTID" || info.DockerRootDir != "/tmp/berth-test-root" || info.ServerVersion != "0.1.0-test" ||
		info.NCPU < 1 || info.MemTotal <= 0 || info.CgroupDriver != "cgroupfs" || info.Name == "" || info.OSType != "linux" ||
		info.DefaultRuntime != "berth" || info.Runtimes["runc"].Path != "runc" || !info.Debug ||
		string(info.Swarm.LocalNodeState) != "inactive" || info.Containers != 0 || info.Images != 0 {
		t.Errorf("info = %s", body)
	}
	if info.CgroupVersion != "1" && info.CgroupVersion != "2" {
		t.Errorf("CgroupVersion = %q", info.CgroupVersion)
	}
	if len(info.SecurityOptions) != 1 || info.OperatingSystem == "" {
		t.Errorf("SecurityOptions %v, OperatingSystem %q", info.SecurityOptions, info.OperatingSystem)
	}
	// FirewallBackend is new in API 1.49, as with dockerd.
	if info.FirewallBackend == nil || info.FirewallBackend.Driver != "iptables" {
		t.Errorf("FirewallBackend = %+v, want iptables", info.FirewallBackend)
	}
	if _, body := do(t, "GET", ts.URL+"/v1.48/info"); strings.Contains(body, "FirewallBackend") {
		t.Errorf("API 1.48 info has FirewallBackend: %s", body)
	}
}

func TestInfoCounts(t *testing.T) {
	s := New(Config{Counts: func(context.Context) (Counts, error) {
		return Counts{Containers: 3, Running: 1, Stopped: 2, Images: 5}, nil
	}})
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.Containers != 3 || info.ContainersRunning != 1 || info.ContainersStopped != 2 || info.Images != 5 {
		t.Errorf("counts = %d/%d/%d/%d", info.Containers, info.ContainersRunning, info.ContainersStopped, info.Images)
	}
}

func TestDiskUsageShapes(t *testing.T) {
	_, ts := newTestServer(t)
	for _, c := range []struct {
		version         string
		legacy, current bool
	}{{"1.41", true, false}, {"1.52", true, true}, {APIVersion, false, true}} {
		_, body := do(t, "GET", ts.URL+"/v"+c.version+"/system/df")
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatal(err)
		}
		_, hasLegacy := m["LayersSize"]
		_, hasCurrent := m["ImageUsage"]
		if hasLegacy != c.legacy || hasCurrent != c.current {
			t.Errorf("v%s /system/df = %s: legacy %v current %v, want %v %v", c.version, body, hasLegacy, hasCurrent, c.legacy, c.current)
		}
	}
}

func TestCompareVersions(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{{"1.9", "1.10", -1}, {"1.50", "1.50", 0}, {"2.0", "1.99", 1}, {"1.24", "1.3", 1}} {
		if got := CompareVersions(c.a, c.b); got != c.want {
			t.Errorf("CompareVersions(%s, %s) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

// A lowered minimum (DOCKER_MIN_API_VERSION) serves old clients and is
// what /version reports; ParseMinAPIVersion keeps it within dockerd's
// bounds.
func TestLoweredMinAPIVersion(t *testing.T) {
	s := New(Config{Version: "0.1.0-test", Events: events.NewBus(0), MinAPIVersion: "1.12"})
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	if resp, body := do(t, "GET", ts.URL+"/v1.22/_ping"); resp.StatusCode != 200 || body != "OK" {
		t.Errorf("GET /v1.22/_ping with minimum 1.12: %d %q", resp.StatusCode, body)
	}
	if resp, body := do(t, "GET", ts.URL+"/v1.11/_ping"); resp.StatusCode != 400 || !strings.Contains(body, "Minimum supported API version is 1.12") {
		t.Errorf("GET /v1.11/_ping with minimum 1.12: %d %q", resp.StatusCode, body)
	}
	_, body := do(t, "GET", ts.URL+"/version")
	var v struct{ MinAPIVersion string }
	if err := json.Unmarshal([]byte(body), &v); err != nil || v.MinAPIVersion != "1.12" {
		t.Errorf("/version MinAPIVersion: %v %q", err, body)
	}
	for in, want := range map[string]string{"": MinAPIVersion, "1.12": "1.12", "v1.22": "1.22", "1.24": "1.24"} {
		if got, err := ParseMinAPIVersion(in); err != nil || got != want {
			t.Errorf("ParseMinAPIVersion(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"1.11", "1.25", "one", "1"} {
		if _, err := ParseMinAPIVersion(bad); err == nil {
			t.Errorf("ParseMinAPIVersion(%q) accepted", bad)
		}
	}
}

// TestPluginsEndpoints: no managed plugins, as a dockerd without any:
// the list is [] (docker plugin ls works), an inspect is 404.
func TestPluginsEndpoints(t *testing.T) {
	_, ts := newTestServer(t)
	resp, body := do(t, "GET", ts.URL+"/v1.50/plugins")
	if resp.StatusCode != 200 || strings.TrimSpace(body) != "[]" {
		t.Errorf("GET /plugins = %d %q, want 200 []", resp.StatusCode, body)
	}
	resp, body = do(t, "GET", ts.URL+"/v1.50/plugins?filters=%7Bbad")
	if resp.StatusCode != 400 {
		t.Errorf("GET /plugins with bad filters = %d %q, want 400", resp.StatusCode, body)
	}
	resp, body = do(t, "GET", ts.URL+"/v1.50/plugins/vieux%2Fsshfs/json")
	if resp.StatusCode != 404 || !strings.Contains(body, `plugin \"vieux/sshfs\" not found`) {
		t.Errorf("GET /plugins/NAME/json = %d %q, want 404", resp.StatusCode, body)
	}
}

func TestOptionsAnswered(t *testing.T) {
	_, ts := newTestServer(t)
	for _, p := range []string{"/", "/v1.51/containers/json", "/nosuch"} {
		if resp, _ := do(t, "OPTIONS", ts.URL+p); resp.StatusCode != 200 {
			t.Errorf("OPTIONS %s: %d, want 200 as dockerd", p, resp.StatusCode)
		}
	}
}
