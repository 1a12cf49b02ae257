package cli

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// getJSON decodes GET path of the daemon under test into v.
func getJSON(t *testing.T, path string, v any) {
	t.Helper()
	sock := strings.TrimPrefix(env.host, "unix://")
	c := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	resp, err := c.Get("http://berth" + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// TestSystemDf: with an image, a running and a stopped container and a
// volume, /system/df lists them with their sizes, and `docker system
// df` (-v) and `berth system df` (-v) print the same tables with those
// figures instead of zeros. Berth's daemon only: dockerd's sizes differ.
func TestSystemDf(t *testing.T) { forEachTarget(t, testSystemDf) }

func testSystemDf(t *testing.T) {
	if currentTarget != "berth" {
		t.Skip("the figures asserted are berth's")
	}
	cleanupContainers(t)
	vol := berthPrefix + "dfvol"
	runCLI(t, dockerCLI, "", "volume", "rm", "-f", vol)
	t.Cleanup(func() { runCLI(t, dockerCLI, "", "volume", "rm", "-f", vol) })
	stopped, running := berthPrefix+"df1", berthPrefix+"df2"
	if r := runCLI(t, dockerCLI, "", "run", "--name", stopped, "--network", "none", "-v", vol+":/data", "busybox", "sh", "-c",
		"head -c 100000 /dev/zero > /data/f && head -c 50000 /dev/zero > /big"); r.code != 0 {
		t.Fatalf("run: %d %s", r.code, r.stderr)
	}
	if r := runCLI(t, dockerCLI, "", "run", "-d", "--name", running, "--network", "none", "busybox", "sleep", "300"); r.code != 0 {
		t.Fatalf("run -d: %d %s", r.code, r.stderr)
	}

	// The wire, as the docker CLI 28 reads it (API 1.50: the lists).
	var du struct {
		LayersSize int64
		Images     []struct {
			ID                           string `json:"Id"`
			RepoTags                     []string
			Size, SharedSize, Containers int64
		}
		Containers []struct {
			ID     string `json:"Id"`
			Names  []string
			SizeRw int64
			State  string
		}
		Volumes []struct {
			Name      string
			UsageData *struct{ Size, RefCount int64 }
		}
	}
	getJSON(t, "/v1.50/system/df", &du)
	var busyboxID string
	for _, img := range du.Images {
		for _, tag := range img.RepoTags {
			if tag == "busybox:latest" {
				busyboxID = img.ID
				if img.Size <= 0 || img.Containers < 2 || img.SharedSize < 0 {
					t.Errorf("busybox in df: Size %d, SharedSize %d, Containers %d; want its size and >= 2 containers", img.Size, img.SharedSize, img.Containers)
				}
			}
		}
	}
	if busyboxID == "" || du.LayersSize <= 0 {
		t.Errorf("df: LayersSize %d, images %+v; want busybox:latest and the layers' size", du.LayersSize, du.Images)
	}
	sizes := map[string]int64{}
	for _, c := range du.Containers {
		for _, n := range c.Names {
			sizes[strings.TrimPrefix(n, "/")] = c.SizeRw
		}
	}
	if sizes[stopped] != 50000 {
		t.Errorf("df: SizeRw of %s = %d, want 50000 (the file it wrote); all: %v", stopped, sizes[stopped], sizes)
	}
	if _, ok := sizes[running]; !ok {
		t.Errorf("df: no %s in %v", running, sizes)
	}
	found := false
	for _, v := range du.Volumes {
		if v.Name == vol {
			found = true
			if v.UsageData == nil || v.UsageData.Size < 100000 || v.UsageData.RefCount != 1 {
				t.Errorf("df: volume %s usage %+v, want >= 100000 bytes and 1 reference", vol, v.UsageData)
			}
		}
	}
	if !found {
		t.Errorf("df: volume %s missing: %+v", vol, du.Volumes)
	}

	// Both CLIs print the same; times and statuses may tick in between.
	ticking := regexp.MustCompile(`(Less than a second|About a minute|About an hour|\d+ (second|minute|hour)s?)`)
	norm := func(s string) string {
		s = ticking.ReplaceAllString(s, "T")
		return regexp.MustCompile(` {2,}`).ReplaceAllString(s, "  ")
	}
	for _, args := range [][]string{{"system", "df"}, {"system", "df", "-v"}} {
		d, b := runCLI(t, dockerCLI, "", args...), runCLI(t, env.berth, "", args...)
		if d.code != 0 || b.code != 0 || norm(d.stdout) != norm(b.stdout) {
			t.Errorf("%v: docker (exit %d):\n%s%s\nberth (exit %d):\n%s%s", args, d.code, d.stdout, d.stderr, b.code, b.stdout, b.stderr)
		}
		if strings.Contains(d.stdout, "Images          0 ") || strings.Contains(d.stdout, "Containers      0 ") {
			t.Errorf("%v: zeros:\n%s", args, d.stdout)
		}
	}
	out := runCLI(t, dockerCLI, "", "system", "df", "-v").stdout
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^busybox +latest +` + strings.TrimPrefix(busyboxID, "sha256:")[:12] + ` .* [1-9][0-9]*\n`),
		regexp.MustCompile(`(?m)^[0-9a-f]{12} +busybox +"sh -c 'head -c 1000…" +1 +50kB .*` + stopped + `\n`),
		regexp.MustCompile(`(?m)^` + vol + ` +1 +100(\.[0-9]+)?kB\n`),
	} {
		if !want.MatchString(out) {
			t.Errorf("docker system df -v lacks %s:\n%s", want, out)
		}
	}
}
