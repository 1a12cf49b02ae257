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

// TestAuxPerStage: each stage built sends its image ID (an aux message)
// after its steps, in stage order, the target's last, as the legacy
// builder sends them.
func TestAuxPerStage(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM scratch AS a\nLABEL a=1\nFROM scratch AS b\nLABEL b=1\nFROM a\nCOPY --from=b / /\nLABEL c=1\n"})
	var ids []string
	var stream strings.Builder
	id, err := e.b.Build(context.Background(), BuildOptions{ContextDir: dir}, func(ev Event) {
		if ev.ID != "" {
			ids = append(ids, ev.ID)
			stream.WriteString("[aux]")
		}
		stream.WriteString(ev.Stream)
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 3 || ids[2] != id.String() || ids[0] == ids[1] {
		t.Fatalf("aux IDs %v, want three, the last %s", ids, id)
	}
	// The first stage's aux comes before the second stage's first step.
	if out := stream.String(); strings.Index(out, "[aux]") > strings.Index(out, "Step 3/7") {
		t.Errorf("stage a's aux after stage b's steps:\n%s", out)
	}
}
