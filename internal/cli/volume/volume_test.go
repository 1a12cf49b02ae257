package volume

import (
	"bytes"
	"sort"
	"strings"
	"testing"

	mvolume "github.com/moby/moby/api/types/volume"

	"github.com/berth/berth/internal/cli/command"
	"github.com/berth/berth/internal/cli/container"
)

func TestNaturalOrder(t *testing.T) {
	names := []string{"v10", "v9", "b", "v1", "a2b", "a10b", "v01x", "v"}
	sort.Slice(names, func(i, j int) bool { return command.NaturalLess(names[i], names[j]) })
	if got, want := strings.Join(names, " "), "a2b a10b b v v1 v01x v9 v10"; got != want {
		t.Errorf("order = %s, want %s", got, want)
	}
}

func TestRowsRender(t *testing.T) {
	rows := []any{
		&row{v: mvolume.Volume{Name: "data", Driver: "local", Scope: "local", Labels: map[string]string{"z": "1", "a": ""}}},
		&row{v: mvolume.Volume{Name: "used", Driver: "local", Scope: "local", UsageData: &mvolume.UsageData{RefCount: 2, Size: 2048}}},
	}
	var b bytes.Buffer
	if err := container.Render(&b, "table {{.Name}}\t{{.Labels}}\t{{.Links}}\t{{.Size}}", listHeaders, rows); err != nil {
		t.Fatal(err)
	}
	want := "VOLUME NAME   LABELS    LINKS     SIZE\ndata          a=,z=1    N/A       N/A\nused                    2         2.048kB\n"
	if b.String() != want {
		t.Errorf("table:\n%q\nwant:\n%q", b.String(), want)
	}
	b.Reset()
	if err := container.Render(&b, "json", listHeaders, rows[:1]); err != nil {
		t.Fatal(err)
	}
	want = `{"Availability":"N/A","Driver":"local","Group":"N/A","Labels":"a=,z=1","Links":"N/A","Mountpoint":"","Name":"data","Scope":"local","Size":"N/A","Status":"N/A"}` + "\n"
	if b.String() != want {
		t.Errorf("json:\n%s\nwant:\n%s", b.String(), want)
	}
}
