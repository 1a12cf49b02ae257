package api

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	mvolume "github.com/moby/moby/api/types/volume"

	"github.com/berth/berth/internal/api/events"
	"github.com/berth/berth/internal/volume"
)

func newVolumeServer(t *testing.T) (*Server, *volume.Store, *httptest.Server) {
	t.Helper()
	vs, err := volume.Open(filepath.Join(t.TempDir(), "volumes"))
	if err != nil {
		t.Fatal(err)
	}
	s := New(Config{Version: "0.1.0-test", Events: events.NewBus(0), Volumes: vs})
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return s, vs, ts
}

func TestVolumeEndpoints(t *testing.T) {
	s, vs, ts := newVolumeServer(t)
	status, _, body := request(t, "POST", ts.URL+"/v1.41/volumes/create", strings.NewReader(`{"Driver":"local","Name":"recvol"}`))
	if status != 201 {
		t.Fatalf("create = %d %s", status, body)
	}
	var raw map[string]any
	json.Unmarshal([]byte(body), &raw)
	if raw["Labels"] != nil || raw["Options"] != nil || raw["Scope"] != "local" || raw["Driver"] != "local" ||
		raw["Mountpoint"] != filepath.Join(vs.Root(), "recvol", "_data") || raw["Name"] != "recvol" {
		t.Errorf("create answer %s", body)
	}
	if _, ok := raw["CreatedAt"].(string); !ok {
		t.Errorf("CreatedAt missing: %s", body)
	}
	status, _, body = request(t, "POST", ts.URL+"/volumes/create", strings.NewReader(`{"Name":"lv","Labels":{"k":"v"},"DriverOpts":{"type":"tmpfs","device":"tmpfs","o":"size=1m"}}`))
	if status != 201 || !strings.Contains(body, `"Labels":{"k":"v"}`) || !strings.Contains(body, `"Options":{"device":"tmpfs","o":"size=1m","type":"tmpfs"}`) {
		t.Errorf("create with labels and options = %d %s", status, body)
	}
	status, _, body = request(t, "GET", ts.URL+"/volumes", nil)
	var list mvolume.ListResponse
	json.Unmarshal([]byte(body), &list)
	if status != 200 || len(list.Volumes) != 2 || list.Volumes[0].Name != "lv" || !strings.Contains(body, `"Warnings":null`) {
		t.Errorf("list = %d %s", status, body)
	}
	q := url.Values{"filters": {`{"label":{"k=v":true}}`}}
	_, _, body = request(t, "GET", ts.URL+"/volumes?"+q.Encode(), nil)
	if json.Unmarshal([]byte(body), &list); len(list.Volumes) != 1 || list.Volumes[0].Name != "lv" {
		t.Errorf("list label=k=v: %s", body)
	}

	for _, c := range []struct {
		method, path, body string
		status             int
		msg                string
	}{
		{"GET", "/volumes/nosuch", "", 404, "get nosuch: no such volume"},
		{"DELETE", "/volumes/nosuch", "", 404, "get nosuch: no such volume"},
		{"POST", "/volumes/create", `{"Name":"a"}`, 400, "create a: volume name is too short, names should be at least two alphanumeric characters"},
		{"POST", "/volumes/create", `{"Name":"x1","DriverOpts":{"foo":"bar"}}`, 400, `create x1: invalid option: "foo"`},
		{"POST", "/volumes/create", `{"Name":"zz","Driver":"nope"}`, 404, `create zz: error looking up volume plugin nope: plugin "nope" not found`},
		{"GET", "/volumes?filters=" + url.QueryEscape(`{"bogus":{"1":true}}`), "", 400, "invalid filter 'bogus'"},
		{"POST", "/volumes/prune?filters=" + url.QueryEscape(`{"until":{"1h":true}}`), "", 400, "invalid filter 'until'"},
	} {
		var rd *strings.Reader
		if c.body != "" {
			rd = strings.NewReader(c.body)
		}
		var status int
		var body string
		if rd != nil {
			status, _, body = request(t, c.method, ts.URL+c.path, rd)
		} else {
			status, _, body = request(t, c.method, ts.URL+c.path, nil)
		}
		if status != c.status || !strings.Contains(body, `"message":`+jsonText(c.msg)) {
			t.Errorf("%s %s = %d %s, want %d %q", c.method, c.path, status, body, c.status, c.msg)
		}
	}

	if _, err := vs.Acquire(context.Background(), "recvol", "c0ffee"); err != nil {
		t.Fatal(err)
	}
	status, _, body = request(t, "DELETE", ts.URL+"/volumes/recvol?force=1", nil)
	if status != 409 || !strings.Contains(body, "remove recvol: volume is in use - [c0ffee]") {
		t.Errorf("rm of a volume in use = %d %s", status, body)
	}
	os.WriteFile(filepath.Join(vs.Root(), "lv", "_data", "f"), make([]byte, 100), 0o644)
	usage, err := s.VolumeUsage(context.Background())
	if err != nil || len(usage.Items) != 2 || usage.Items[1].UsageData == nil || usage.Items[1].UsageData.RefCount != 1 ||
		usage.TotalCount != 2 || usage.ActiveCount != 1 || usage.TotalSize != 100 || usage.Reclaimable != 100 {
		t.Errorf("usage = %+v, %v", usage, err)
	}
	vs.Release(context.Background(), "recvol", "c0ffee")

	// API 1.42 and later prune anonymous volumes only, unless all=true.
	request(t, "POST", ts.URL+"/volumes/create", strings.NewReader(`{}`))
	status, _, body = request(t, "POST", ts.URL+"/v1.50/volumes/prune", nil)
	var rep mvolume.PruneReport
	json.Unmarshal([]byte(body), &rep)
	if status != 200 || len(rep.VolumesDeleted) != 1 || len(rep.VolumesDeleted[0]) != 64 {
		t.Errorf("prune at 1.50 = %d %s", status, body)
	}
	status, _, body = request(t, "POST", ts.URL+"/v1.41/volumes/prune?filters="+url.QueryEscape(`{"label!":["k"]}`), nil)
	json.Unmarshal([]byte(body), &rep)
	if status != 200 || !reflect.DeepEqual(rep.VolumesDeleted, []string{"recvol"}) {
		t.Errorf("prune at 1.41 with label!=k = %d %s", status, body)
	}
	if status, _, _ = request(t, "DELETE", ts.URL+"/volumes/lv", nil); status != 204 {
		t.Errorf("rm lv = %d", status)
	}
	if status, _, _ = request(t, "DELETE", ts.URL+"/volumes/lv?force=true", nil); status != 204 {
		t.Errorf("rm -f of a missing volume = %d", status)
	}
	_, _, body = request(t, "GET", ts.URL+"/volumes", nil)
	if !strings.Contains(body, `"Volumes":[]`) {
		t.Errorf("empty list = %s", body)
	}
}

// TestVolumeEvents: create (a new name only), destroy and prune are on
// the event bus as dockerd sends them.
func TestVolumeEvents(t *testing.T) {
	s, _, ts := newVolumeServer(t)
	request(t, "POST", ts.URL+"/volumes/create", strings.NewReader(`{"Name":"ev"}`))
	request(t, "POST", ts.URL+"/volumes/create", strings.NewReader(`{"Name":"ev"}`))
	request(t, "DELETE", ts.URL+"/volumes/ev", nil)
	request(t, "DELETE", ts.URL+"/volumes/ev?force=1", nil)
	request(t, "POST", ts.URL+"/volumes/prune", nil)
	past, sub := s.cfg.Events.Subscribe(events.Filter{"type": {"volume": true}})
	sub.Cancel()
	var got []string
	for _, m := range past {
		got = append(got, string(m.Action)+" "+m.Actor.ID+" "+m.Actor.Attributes["driver"]+m.Actor.Attributes["reclaimed"])
	}
	if want := []string{"create ev local", "destroy ev local", "prune  0"}; !reflect.DeepEqual(got, want) {
		t.Errorf("events = %q, want %q", got, want)
	}
}
