package cli

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestSearch: docker search and berth search against a berth daemon, which
// asks a fake v1 search index on 127.0.0.1 (the term names it): the same
// table, truncation, --no-trunc, filters and --format from both CLIs.
func TestSearch(t *testing.T) {
	forEachTarget(t, func(t *testing.T) {
		if currentTarget != "berth" {
			t.Skip("dockerd's search of a loopback index is not what this checks")
		}
		idx := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/v1/search" || r.URL.Query().Get("q") != "busy" {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"query":"busy","num_results":2,"results":[` +
				`{"name":"busybox","description":"Busybox base image with a description longer than forty-five","star_count":9,"is_official":true},` +
				`{"name":"someone/busy","description":"a copy","star_count":2}]}`))
		}))
		defer idx.Close()
		term := strings.TrimPrefix(idx.URL, "http://") + "/busy"
		for _, args := range [][]string{
			{"search", term},
			{"search", "--no-trunc", "-f", "stars=5", term},
			{"search", "-f", "is-official=false", "--format", "{{.Name}} {{.StarCount}} {{.IsOfficial}}", term},
		} {
			d, b := runCLI(t, dockerCLI, "", args...), runCLI(t, env.berth, "", args...)
			if d.code != 0 || b.code != 0 || d.stdout != b.stdout {
				t.Errorf("%v:\ndocker (exit %d):\n%s%s\nberth (exit %d):\n%s%s", args, d.code, d.stdout, d.stderr, b.code, b.stdout, b.stderr)
			}
			if !strings.Contains(d.stdout, "busy") {
				t.Errorf("%v: no result:\n%s", args, d.stdout)
			}
		}
	})
}
