package system

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/volume"
	mobyclient "github.com/moby/moby/client"

	containercli "github.com/berth/berth/internal/cli/container"
)

// TestDiskUsageSummary: docker's table, sizes in decimal units, the
// reclaimable share in percent except for the build cache.
func TestDiskUsageSummary(t *testing.T) {
	var b bytes.Buffer
	rows := []any{
		&dfRow{kind: "Images", total: 2, active: 1, size: 1982361, reclaimable: 991180, percent: true},
		&dfRow{kind: "Containers", total: 0, percent: true},
		&dfRow{kind: "Build Cache", total: 1, size: 10, reclaimable: 10},
	}
	if err := containercli.Render(&b, dfTableFormat, dfHeaders, rows); err != nil {
		t.Fatal(err)
	}
	want := "TYPE          TOTAL     ACTIVE    SIZE      RECLAIMABLE\n" +
		"Images        2         1         1.982MB   991.2kB (49%)\n" +
		"Containers    0         0         0B        0B\n" +
		"Build Cache   1         0         10B       10B\n"
	if b.String() != want {
		t.Errorf("df:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestDiskUsageVerbose(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	du := mobyclient.DiskUsageResult{
		Images: mobyclient.ImagesDiskUsage{Items: []image.Summary{
			{ID: "sha256:0123456789abcdef0123", RepoTags: []string{"busybox:latest"}, Created: now.Add(-2 * time.Hour).Unix(), Size: 2000000, SharedSize: 500000, Containers: 1},
			{ID: "sha256:fedcba9876543210fedc", Created: now.Add(-time.Minute).Unix(), Size: 500000, SharedSize: 500000},
		}},
		Containers: mobyclient.ContainersDiskUsage{Items: []container.Summary{
			{ID: "abcdef0123456789", Image: "busybox", ImageID: "sha256:0123456789abcdef0123", Command: "sh -c 'echo hello; sleep 1000'", Created: now.Add(-30 * time.Second).Unix(),
				Status: "Up 29 seconds", Names: []string{"/c1"}, SizeRw: 1234, Mounts: []container.MountPoint{{Driver: "local"}}},
		}},
		Volumes: mobyclient.VolumesDiskUsage{Items: []volume.Volume{{Name: "v1", UsageData: &volume.UsageData{Size: 4096, RefCount: 1}}}},
	}
	var b bytes.Buffer
	if err := writeDiskUsageVerbose(&b, du, now); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Images space usage:\n\nREPOSITORY   TAG       IMAGE ID       CREATED              SIZE      SHARED SIZE   UNIQUE SIZE   CONTAINERS\n",
		"busybox      latest    0123456789ab   2 hours ago          2MB       500kB         1.5MB         1\n",
		"<none>       <none>    fedcba987654   About a minute ago   500kB     500kB         0B            0\n",
		"\nContainers space usage:\n\nCONTAINER ID   IMAGE     COMMAND                  LOCAL VOLUMES   SIZE      CREATED          STATUS          NAMES\n",
		"abcdef012345   busybox   \"sh -c 'echo hello; …\"   1               1.23kB    30 seconds ago   Up 29 seconds   c1\n",
		"\nLocal Volumes space usage:\n\nVOLUME NAME   LINKS     SIZE\nv1            1         4.096kB\n",
		"\nBuild cache usage: 0B\n\nCACHE ID   CACHE TYPE   SIZE      CREATED   LAST USED   USAGE     SHARED\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("df -v lacks %q:\n%s", want, b.String())
		}
	}
}
