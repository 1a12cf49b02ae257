package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestDiskUsageQuery: the type query picks the kinds (an unknown one is
// a 400 naming it), and verbose decides, from API 1.52 on, between the
// legacy lists and the totals' Items, as dockerd's router.
func TestDiskUsageQuery(t *testing.T) {
	_, _, ts := newVolumeServer(t)
	if status, _, body := request(t, "POST", ts.URL+"/volumes/create", strings.NewReader(`{"Name":"dfv"}`)); status != http.StatusCreated {
		t.Fatalf("create volume: %d %s", status, body)
	}
	get := func(path string) map[string]json.RawMessage {
		t.Helper()
		resp, body := do(t, "GET", ts.URL+path)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	has := func(m map[string]json.RawMessage, keys ...string) string {
		var out []string
		for _, k := range keys {
			if _, ok := m[k]; ok {
				out = append(out, k)
			}
		}
		return strings.Join(out, ",")
	}
	items := func(m map[string]json.RawMessage, key string) bool {
		var u struct{ Items []json.RawMessage }
		_ = json.Unmarshal(m[key], &u)
		return len(u.Items) > 0
	}
	all := []string{"Images", "Containers", "Volumes", "BuildCache", "ImageUsage", "ContainerUsage", "VolumeUsage", "BuildCacheUsage"}
	for _, c := range []struct {
		path, keys string
		items      bool
	}{
		{"/v1.41/system/df", "Images,Containers,Volumes,BuildCache", false},
		{"/v1.41/system/df?type=volume", "Volumes", false},
		{"/v1.41/system/df?verbose=0", "Images,Containers,Volumes,BuildCache", false},
		{"/v1.52/system/df", "Images,Containers,Volumes,BuildCache,ImageUsage,ContainerUsage,VolumeUsage,BuildCacheUsage", false},
		{"/v1.52/system/df?verbose=1&type=volume&type=image", "ImageUsage,VolumeUsage", true},
		{"/v1.52/system/df?verbose=false&type=volume", "VolumeUsage", false},
		{"/v1.56/system/df", "ImageUsage,ContainerUsage,VolumeUsage,BuildCacheUsage", true},
		{"/v1.56/system/df?verbose=0&type=volume", "VolumeUsage", false},
	} {
		m := get(c.path)
		if got := has(m, all...); got != c.keys {
			t.Errorf("%s: fields %s, want %s", c.path, got, c.keys)
		}
		if _, ok := m["VolumeUsage"]; ok && items(m, "VolumeUsage") != c.items {
			t.Errorf("%s: VolumeUsage.Items present %v, want %v", c.path, items(m, "VolumeUsage"), c.items)
		}
	}
	for path, want := range map[string]string{
		"/v1.56/system/df?type=images":   "unknown object type: images",
		"/v1.56/system/df?verbose=maybe": "invalid value for verbose: maybe",
	} {
		resp, body := do(t, "GET", ts.URL+path)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, want) {
			t.Errorf("%s: %d %s, want 400 %q", path, resp.StatusCode, body, want)
		}
	}
}
