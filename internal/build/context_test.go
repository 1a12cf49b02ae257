package build

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A context given as a tar, a Dockerfile elsewhere in it with its own
// Dockerfile.dockerignore, and a tar output.
func TestBuildContextTarAndOutputs(t *testing.T) {
	e := newEnv(t)
	var ctxTar bytes.Buffer
	tw := tar.NewWriter(&ctxTar)
	add := func(name, body string) {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg, ModTime: time.Unix(1e9, 0)})
		tw.Write([]byte(body))
	}
	add("build/app.Dockerfile", "FROM scratch\nCOPY . /ctx/\n")
	add("build/app.Dockerfile.dockerignore", "*.tmp\n")
	add(".dockerignore", "keep.txt\n") // not used: the Dockerfile has its own
	add("keep.txt", "k")
	add("drop.tmp", "d")
	tw.Close()
	dest := t.TempDir()
	var tarOut bytes.Buffer
	var out strings.Builder
	id, err := e.b.Build(context.Background(), BuildOptions{
		Context: &ctxTar, Dockerfile: "build/app.Dockerfile",
		Outputs: []Output{{Type: "local", Dest: dest}, {Type: "tar", Writer: &tarOut}},
	}, func(ev Event) { out.WriteString(ev.Stream) })
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if id == "" {
		t.Fatal("no image ID")
	}
	if got := readFile(t, filepath.Join(dest, "ctx/keep.txt")); got != "k" {
		t.Errorf("keep.txt = %q", got)
	}
	if _, err := os.Stat(filepath.Join(dest, "ctx/drop.tmp")); err == nil {
		t.Errorf("Dockerfile.dockerignore did not exclude drop.tmp")
	}
	var names []string
	tr := tar.NewReader(&tarOut)
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		names = append(names, h.Name)
	}
	if !strings.Contains(strings.Join(names, " "), "ctx/keep.txt") {
		t.Errorf("tar output entries %q lack ctx/keep.txt", names)
	}
}

// Two builds with the same inputs and SOURCE_DATE_EPOCH give the same
// layers, though their RUN steps ran at different times.
func TestBuildReproducibleLayers(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"f": "x", "Dockerfile": "FROM busybox\nRUN echo hi > /hi && mkdir /d\nCOPY f /f\n"})
	epoch := "1700000000"
	opts := BuildOptions{NoCache: true, BuildArgs: map[string]*string{"SOURCE_DATE_EPOCH": &epoch}}
	id1, out, err := e.build(t, dir, opts)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	time.Sleep(1100 * time.Millisecond)
	id2, out, err := e.build(t, dir, opts)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	i1, _ := e.images.Get(context.Background(), id1)
	i2, _ := e.images.Get(context.Background(), id2)
	if len(i1.Config.RootFS.DiffIDs) != len(i2.Config.RootFS.DiffIDs) {
		t.Fatalf("layer counts differ")
	}
	for k := range i1.Config.RootFS.DiffIDs {
		if i1.Config.RootFS.DiffIDs[k] != i2.Config.RootFS.DiffIDs[k] {
			t.Errorf("layer %d differs between two builds: %s vs %s", k, i1.Config.RootFS.DiffIDs[k], i2.Config.RootFS.DiffIDs[k])
		}
	}
}

// Independent stages run concurrently: each waits for the other's marker
// in a shared cache mount, which only works when both run at once.
func TestBuildParallelStages(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	wait := func(me, other string) string {
		return "RUN --mount=type=cache,id=sync,target=/sync touch /sync/" + me + " && i=0; while [ ! -e /sync/" + other + " ]; do i=$((i+1)); [ $i -gt 100 ] && exit 1; sleep 0.1; done\n"
	}
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM busybox AS a\n" + wait("a", "b") +
		"FROM busybox AS b\n" + wait("b", "a") +
		"FROM scratch\nCOPY --from=a /bin/busybox /a\nCOPY --from=b /bin/busybox /b\n"})
	if _, out, err := e.build(t, dir, BuildOptions{}); err != nil {
		t.Fatalf("stages did not run concurrently: %v\n%s", err, out)
	}
}

// A cancelled build stops its RUN and leaves no snapshot, mount or temp
// file (newEnv's cleanup checks them) and tags nothing.
func TestBuildCancel(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM busybox\nRUN sleep 30\n"})
	ctx, cancel := context.WithCancel(context.Background())
	e.exec.onStart = func() { time.AfterFunc(200*time.Millisecond, cancel) }
	start := time.Now()
	_, err := e.b.Build(ctx, BuildOptions{ContextDir: dir, Tags: []string{"cancelled"}}, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("cancel took %v", d)
	}
	if _, err := e.images.Get(context.Background(), "cancelled"); err == nil {
		t.Errorf("a cancelled build tagged its image")
	}
}

// .dockerignore exceptions: a directory ignored except one file in it.
func TestBuildDockerignoreExceptions(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		".dockerignore": "logs\n!logs/keep.log\n**/*.bak\n",
		"logs/keep.log": "k", "logs/drop.log": "d", "src/a.go": "a", "src/deep/x.bak": "b",
		"Dockerfile": "FROM scratch\nCOPY . /c/\n",
	})
	id, out, err := e.build(t, dir, BuildOptions{})
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	root := e.export(t, id)
	for name, want := range map[string]bool{"c/logs/keep.log": true, "c/logs/drop.log": false, "c/src/a.go": true, "c/src/deep/x.bak": false} {
		_, err := os.Stat(filepath.Join(root, name))
		if (err == nil) != want {
			t.Errorf("/%s present %v, want %v", name, err == nil, want)
		}
	}
	// An ignored file named explicitly is an error, as docker's.
	_, _, err = e.build(t, dir, BuildOptions{DockerfileContent: []byte("FROM scratch\nCOPY logs/drop.log /x\n")})
	if err == nil || !strings.Contains(err.Error(), "excluded by .dockerignore") {
		t.Errorf("COPY of an ignored file: %v", err)
	}
}

// sharing=locked serialises two concurrent stages on one cache mount;
// uid and mode apply to a new cache directory.
func TestBuildCacheMountLocked(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	step := "RUN --mount=type=cache,id=l,target=/c,sharing=locked,uid=33,mode=0777 test ! -e /c/busy && touch /c/busy && sleep 0.5 && rm /c/busy && stat -c %u:%a /c > /owner\n"
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM busybox AS a\n" + step + "FROM busybox AS b\n" + step +
		"FROM scratch\nCOPY --from=a /owner /a\nCOPY --from=b /owner /b\n"})
	id, out, err := e.build(t, dir, BuildOptions{})
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got := readFile(t, filepath.Join(e.export(t, id), "a")); got != "33:777\n" {
		t.Errorf("cache dir owner and mode %q, want 33:777", got)
	}
}

// The escape directive, wildcard sources, proxy build args without an
// ARG (kept out of the cache key) and Prune --filter until.
func TestBuildEscapeWildcardsProxyPrune(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"a1.txt": "1", "a2.txt": "2", "b.txt": "b", "Dockerfile": "# escape=`\nFROM busybox\nCOPY a*.txt /w/\nRUN echo \"$http_proxy\" > /proxy && `\n    echo joined > /joined\n"})
	p1 := "http://127.0.0.1:1"
	id, out, err := e.build(t, dir, BuildOptions{BuildArgs: map[string]*string{"http_proxy": &p1}})
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	root := e.export(t, id)
	if readFile(t, filepath.Join(root, "w/a1.txt")) != "1" || readFile(t, filepath.Join(root, "w/a2.txt")) != "2" {
		t.Errorf("wildcard sources not copied")
	}
	if _, err := os.Stat(filepath.Join(root, "w/b.txt")); err == nil {
		t.Errorf("b.txt matched a*.txt")
	}
	if readFile(t, filepath.Join(root, "proxy")) != p1+"\n" || readFile(t, filepath.Join(root, "joined")) != "joined\n" {
		t.Errorf("proxy %q joined %q", readFile(t, filepath.Join(root, "proxy")), readFile(t, filepath.Join(root, "joined")))
	}
	p2 := "http://127.0.0.1:2"
	if _, out, err := e.build(t, dir, BuildOptions{BuildArgs: map[string]*string{"http_proxy": &p2}}); err != nil || strings.Count(out, "Using cache") != 2 {
		t.Errorf("another proxy value missed the cache: %v\n%s", err, out)
	}
	rep, err := e.b.Prune(context.Background(), PruneOptions{Until: time.Hour})
	if err != nil || len(rep.Entries) != 0 {
		t.Errorf("prune until 1h removed %d entries used just now (%v)", len(rep.Entries), err)
	}
	if rep, err := e.b.Prune(context.Background(), PruneOptions{}); err != nil || len(rep.Entries) != 2 {
		t.Errorf("prune removed %d entries, want 2 (%v)", len(rep.Entries), err)
	}
}
