package image

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/berth/berth/internal/snapshot"
	"github.com/berth/berth/internal/testutil"
)

// A pull of many layers, unpacked in parallel (each committed onto its
// parent when that is ready), gives the same tree as applying the layers
// in order: files of every layer, whiteouts and opaque directories of
// upper layers hiding what lower ones made, each snapshot on its parent.
func TestPullManyLayersInParallel(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	const n = 12
	var tars [][]byte
	for i := range n {
		es := []tarEntry{
			{name: fmt.Sprintf("f%02d", i), body: fmt.Sprint(i)},
			{name: "d/", typ: '5'},
			{name: fmt.Sprintf("d/from%02d", i), body: string(randomBytes(t, 64<<10))},
		}
		if i > 0 {
			es = append(es, tarEntry{name: fmt.Sprintf(".wh.f%02d", i-1)}) // the layer below's file goes
		}
		if i == 7 {
			es = append(es, tarEntry{name: "d/.wh..wh..opq"}) // d starts over here
		}
		tars = append(tars, makeTar(t, es...))
	}
	ti := newTestImage(t, tars...)
	f, host := newFakeRegistry(t)
	f.addImage("v1", ti)
	s := newTestService(t, "")
	if _, ok := s.snap.(snapshot.Rebaser); !ok {
		t.Fatal("the test service's snapshotter is not a Rebaser: nothing would unpack in parallel")
	}
	img, err := s.Pull(ctx, host+"/many/layers:v1", PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	chain := ChainIDs(img.Config.RootFS.DiffIDs)
	for i, c := range chain {
		info, err := s.snap.Stat(ctx, c.String())
		want := ""
		if i > 0 {
			want = chain[i-1].String()
		}
		if err != nil || info.Kind != snapshot.KindCommitted || info.Parent != want {
			t.Fatalf("snapshot of layer %d: %+v %v; want committed on %q", i, info, err, want)
		}
	}
	dir := viewImage(t, s, img)
	var top []string
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		top = append(top, e.Name())
	}
	if want := []string{"d", fmt.Sprintf("f%02d", n-1)}; !slices.Equal(top, want) {
		t.Errorf("top directory: %v, want %v", top, want)
	}
	var inD []string
	ents, _ = os.ReadDir(filepath.Join(dir, "d"))
	for _, e := range ents {
		inD = append(inD, e.Name())
	}
	var want []string
	for i := 7; i < n; i++ {
		want = append(want, fmt.Sprintf("from%02d", i))
	}
	if !slices.Equal(inD, want) {
		t.Errorf("d: %v, want %v (opaque from layer 7)", inD, want)
	}
	if b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("f%02d", n-1))); err != nil || string(b) != fmt.Sprint(n-1) {
		t.Errorf("top file: %q %v", b, err)
	}
}
