package build

import (
	"context"
	"strings"
	"testing"
)

// The build's result comes as dockerd's legacy builder sends it: the aux
// ID first, then "Successfully built", then one line per tag.
func TestProgressOrderLikeDockerd(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM scratch\nLABEL a=b\n"})
	var order []string
	id, err := e.b.Build(context.Background(), BuildOptions{ContextDir: dir, Tags: []string{"order:1"}}, func(ev Event) {
		switch {
		case ev.ID != "":
			order = append(order, "aux")
		case strings.HasPrefix(ev.Stream, "Successfully built"):
			order = append(order, "built")
		case strings.HasPrefix(ev.Stream, "Successfully tagged"):
			order = append(order, "tagged")
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(order, " "); got != "aux built tagged" {
		t.Errorf("build %s: result events %q, want %q", id, got, "aux built tagged")
	}
}
