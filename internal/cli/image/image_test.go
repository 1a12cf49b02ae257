package image

import (
	"bytes"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/image"

	"github.com/berth/berth/internal/cli/container"
)

func TestImageRows(t *testing.T) {
	img := image.Summary{
		ID:          "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		RepoTags:    []string{"busybox:latest", "127.0.0.1:5000/x/bb:1", "busybox:1"},
		RepoDigests: []string{"127.0.0.1:5000/x/bb@sha256:1111111111111111111111111111111111111111111111111111111111111111"},
		Size:        1982361, Containers: -1, SharedSize: -1,
	}
	var b bytes.Buffer
	var rows []any
	for _, r := range imageRows(img, true, true, true) {
		rows = append(rows, r)
	}
	if err := container.Render(&b, defaultListDigestFormat, listHeaders, rows); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"REPOSITORY            TAG       DIGEST ",
		"127.0.0.1:5000/x/bb   1         sha256:1111111111111111111111111111111111111111111111111111111111111111   0123456789ab",
		"busybox               latest    <none>",
		"busybox               1         <none>",
		"1.98MB",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("images table lacks %q:\n%s", want, out)
		}
	}
	dangling := imageRows(image.Summary{ID: img.ID, Containers: -1, SharedSize: -1}, false, false, false)
	if len(dangling) != 1 || dangling[0].Repository() != "<none>" || dangling[0].Tag() != "<none>" || dangling[0].ID() != img.ID {
		t.Errorf("dangling row = %+v", dangling)
	}
	j, err := dangling[0].MarshalJSON()
	if err != nil || !strings.Contains(string(j), `"Containers":"N/A"`) || !strings.Contains(string(j), `"VirtualSize":"0B"`) {
		t.Errorf("json = %s, %v", j, err)
	}
}

func TestServerKey(t *testing.T) {
	for in, want := range map[string]string{
		"":                            indexServer,
		"docker.io":                   indexServer,
		"index.docker.io":             indexServer,
		"127.0.0.1:5000":              "127.0.0.1:5000",
		"https://reg.example:443/v2/": "reg.example:443",
		"http://localhost:5000":       "localhost:5000",
	} {
		if got := serverKey(in); got != want {
			t.Errorf("serverKey(%q) = %q, want %q", in, got, want)
		}
	}
}
