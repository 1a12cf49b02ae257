package engine

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestImageMount: --mount type=image (API 1.48, Docker 28) mounts another
// image's filesystem read-only, whole or one subpath of it; its view and
// snapshot go with the container's run, an image in such use cannot be
// removed without -f, and an unknown image is refused at create.
func TestImageMount(t *testing.T) {
	d := newDaemon(t)
	d.mustDocker(t, "run", "--name", "imsrc", "busybox", "sh", "-c", "mkdir -p /data && echo from-image > /data/f")
	d.mustDocker(t, "commit", "imsrc", "imgmnt:1")
	d.mustDocker(t, "rm", "imsrc")
	snapDirs := func() int {
		ents, _ := os.ReadDir(filepath.Join(d.DataRoot, "snapshots", "overlay"))
		n := 0
		for _, e := range ents {
			if e.IsDir() {
				n++
			}
		}
		return n
	}
	before := snapDirs()

	out, errOut, err := d.docker(t, "run", "--rm", "--mount", "type=image,source=imgmnt:1,target=/mnt", "busybox",
		"sh", "-c", "cat /mnt/data/f; touch /mnt/x 2>/dev/null && echo writable || echo read-only")
	if err != nil || out != "from-image\nread-only\n" {
		t.Fatalf("run with an image mount: %q %v %s", out, err, errOut)
	}
	code, body := rawRequest(t, d, "POST", "/v1.48/containers/create?name=imsub", "application/json",
		`{"Image":"busybox","Cmd":["cat","/mnt/f"],"HostConfig":{"Mounts":[{"Type":"image","Source":"imgmnt:1","Target":"/mnt","ImageOptions":{"Subpath":"data"}}]}}`)
	if code != 201 {
		t.Fatalf("create with an image subpath: %d %s", code, body)
	}
	if out, errOut, err := d.docker(t, "start", "-a", "imsub"); err != nil || out != "from-image\n" {
		t.Errorf("image mount of subpath data: %q %v %s", out, err, errOut)
	}
	if got := strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{range .Mounts}}{{.Type}} {{.Source}} {{.Destination}} {{.RW}}{{end}}", "imsub")); got != "image imgmnt:1 /mnt false" {
		t.Errorf("inspect Mounts: %q", got)
	}
	// In use by a (stopped) container's mount: rmi is a conflict.
	if _, errOut, err := d.docker(t, "rmi", "imgmnt:1"); err == nil || !strings.Contains(errOut, "conflict") && !strings.Contains(errOut, "being used") {
		t.Errorf("rmi of an image a container mounts: %v %s", err, errOut)
	}
	// rmi -f takes the name; the container keeps what it mounts, and
	// starts again, as with dockerd.
	d.mustDocker(t, "rmi", "-f", "imgmnt:1")
	if out, errOut, err := d.docker(t, "start", "-a", "imsub"); err != nil || out != "from-image\n" {
		t.Errorf("start after rmi -f of the mounted image: %q %v %s", out, err, errOut)
	}
	d.mustDocker(t, "rm", "imsub")
	b, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(b), "imagemounts") {
		t.Errorf("image mount views left mounted:\n%s", b)
	}
	if after := snapDirs(); after > before {
		t.Errorf("snapshots: %d after the containers are gone, %d before", after, before)
	}
	if _, errOut, err := d.docker(t, "create", "--mount", "type=image,source=nosuch:1,target=/mnt", "busybox"); err == nil || !strings.Contains(errOut, "No such image: nosuch:1") {
		t.Errorf("image mount of an unknown image: %v %s", err, errOut)
	}
	if _, errOut, err := d.docker(t, "create", "--mount", "type=image,source=busybox,target=/mnt,image-subpath=../x", "busybox"); err == nil {
		t.Errorf("image subpath ../x accepted: %s", errOut)
	}
}

// TestImageInspectPlatform: from API 1.49 an image inspect with another
// platform than the image's is 404, as dockerd with its graph-driver
// store says it.
func TestImageInspectPlatform(t *testing.T) {
	d := newDaemon(t)
	arch := strings.TrimSpace(d.mustDocker(t, "image", "inspect", "-f", "{{.Architecture}}", "busybox"))
	other := "arm64"
	if arch == "arm64" {
		other = "amd64"
	}
	for a, want := range map[string]int{arch: 200, other: 404} {
		q := url.QueryEscape(`{"os":"linux","architecture":"` + a + `"}`)
		code, body := rawRequest(t, d, "GET", "/v1.49/images/busybox/json?platform="+q, "", "")
		if code != want || want == 404 && !strings.Contains(body, "does not match the specified platform (linux/"+other+")") {
			t.Errorf("inspect busybox for linux/%s: %d %s, want %d", a, code, body, want)
		}
	}
}
