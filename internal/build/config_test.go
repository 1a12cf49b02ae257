package build

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"

	"github.com/berth/berth/internal/image"
)

func imageExt(t *testing.T, img image.Image) dockerspec.DockerOCIImageConfigExt {
	t.Helper()
	var raw struct {
		Config dockerspec.DockerOCIImageConfigExt `json:"config"`
	}
	if err := json.Unmarshal(img.ConfigRaw, &raw); err != nil {
		t.Fatal(err)
	}
	return raw.Config
}

// HEALTHCHECK, SHELL and ONBUILD are written into the image config under
// docker's names; a build FROM that image inherits its healthcheck and
// shell (RUN and shell-form CMD use it) and runs its triggers once.
func TestBuildDockerConfigFields(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	dir := t.TempDir()
	// The shell logs each command it runs, then runs it: a RUN through it
	// leaves a line in /shell.log.
	writeFiles(t, dir, map[string]string{"Dockerfile": `FROM busybox
HEALTHCHECK --interval=3s --timeout=2s --start-period=1s --retries=4 CMD wget -q -O- http://127.0.0.1/
SHELL ["/bin/sh", "-c", "echo \"ran: $1\" >> /shell.log; eval \"$1\"", "logsh"]
ONBUILD RUN echo trig > /trig
ONBUILD LABEL from.trigger=yes
RUN echo parent > /parent
`})
	pid, out, err := e.build(t, dir, BuildOptions{Tags: []string{"parent:1"}})
	if err != nil {
		t.Fatalf("parent build: %v\n%s", err, out)
	}
	parent, err := e.images.Get(ctx, pid)
	if err != nil {
		t.Fatal(err)
	}
	ext := imageExt(t, parent)
	want := &dockerspec.HealthcheckConfig{Test: []string{"CMD-SHELL", "wget -q -O- http://127.0.0.1/"}, Interval: 3 * time.Second, Timeout: 2 * time.Second, StartPeriod: time.Second, Retries: 4}
	if jsonString(ext.Healthcheck) != jsonString(want) {
		t.Errorf("parent Healthcheck %s, want %s", jsonString(ext.Healthcheck), jsonString(want))
	}
	if len(ext.Shell) != 4 || ext.Shell[3] != "logsh" {
		t.Errorf("parent Shell %q", ext.Shell)
	}
	if strings.Join(ext.OnBuild, "|") != "RUN echo trig > /trig|LABEL from.trigger=yes" {
		t.Errorf("parent OnBuild %q", ext.OnBuild)
	}
	root := e.export(t, pid)
	if got := readFile(t, filepath.Join(root, "shell.log")); got != "ran: echo parent > /parent\n" {
		t.Errorf("parent shell.log %q: RUN did not use SHELL", got)
	}

	child := t.TempDir()
	writeFiles(t, child, map[string]string{"Dockerfile": "FROM parent:1\nRUN echo child > /child\nCMD echo hi\n"})
	cid, out, err := e.build(t, child, BuildOptions{Tags: []string{"child:1"}})
	if err != nil {
		t.Fatalf("child build: %v\n%s", err, out)
	}
	if !strings.Contains(out, "# Executing 2 build triggers") {
		t.Errorf("child build output lacks the triggers:\n%s", out)
	}
	img, err := e.images.Get(ctx, cid)
	if err != nil {
		t.Fatal(err)
	}
	cext := imageExt(t, img)
	if jsonString(cext.Healthcheck) != jsonString(want) || jsonString(cext.Shell) != jsonString(ext.Shell) || len(cext.OnBuild) != 0 {
		t.Errorf("child ext %s: want the parent's healthcheck and shell, no triggers", jsonString(cext))
	}
	if img.Config.Config.Labels["from.trigger"] != "yes" {
		t.Errorf("child labels %v: the LABEL trigger did not run", img.Config.Config.Labels)
	}
	if len(img.Config.Config.Cmd) != 5 || img.Config.Config.Cmd[4] != "echo hi" || img.Config.Config.Cmd[3] != "logsh" {
		t.Errorf("child shell-form CMD %q, want the inherited SHELL", img.Config.Config.Cmd)
	}
	croot := e.export(t, cid)
	if got := readFile(t, filepath.Join(croot, "trig")); got != "trig\n" {
		t.Errorf("/trig %q", got)
	}
	if got := readFile(t, filepath.Join(croot, "shell.log")); got != "ran: echo parent > /parent\nran: echo trig > /trig\nran: echo child > /child\n" {
		t.Errorf("child shell.log %q: the trigger and RUN did not use the inherited SHELL", got)
	}
	// A grandchild does not run the triggers again.
	gc := t.TempDir()
	writeFiles(t, gc, map[string]string{"Dockerfile": "FROM child:1\nLABEL g=1\n"})
	if _, out, err := e.build(t, gc, BuildOptions{}); err != nil || strings.Contains(out, "build trigger") {
		t.Errorf("grandchild build: %v\n%s", err, out)
	}
}

// Step images are not listed by the image service (docker images), but a
// rebuild finds them in the cache, and the tagged result is listed.
func TestBuildIntermediatesHidden(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM busybox\nENV A=1\nRUN echo x > /x\nLABEL l=1\n"})
	id, out, err := e.build(t, dir, BuildOptions{Tags: []string{"hidden:1"}})
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	list, err := e.images.List(ctx, image.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, img := range list {
		if len(img.RepoTags) == 0 {
			names = append(names, "<none>:"+img.ID.String())
		}
		names = append(names, img.RepoTags...)
	}
	if strings.Join(names, ",") != "hidden:1,busybox:latest" {
		t.Errorf("images listed %v, want only hidden:1 and busybox", names)
	}
	all, err := e.images.List(ctx, image.ListOptions{All: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(list)+2 {
		t.Errorf("List All gives %d images, want %d (the ENV and RUN steps too)", len(all), len(list)+2)
	}
	id2, out, err := e.build(t, dir, BuildOptions{Tags: []string{"hidden:1"}})
	if err != nil || id2 != id || strings.Count(out, "Using cache") != 3 {
		t.Errorf("rebuild: %s %v, want %s from cache:\n%s", id2, err, id, out)
	}
	// A --no-cache rebuild displaces the step images: they stay hidden,
	// but the old result, which lost its tag, is dangling, as dockerd
	// lists it (<none>, and image prune removes it); builder prune removes
	// the step images.
	id3, out, err := e.build(t, dir, BuildOptions{Tags: []string{"hidden:1"}, NoCache: true})
	if err != nil || id3 == id {
		t.Fatalf("no-cache rebuild: %s %v\n%s", id3, err, out)
	}
	dangling := func() []string {
		l, err := e.images.List(ctx, image.ListOptions{Filters: map[string][]string{"dangling": {"true"}}})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, img := range l {
			ids = append(ids, img.ID.String())
		}
		return ids
	}
	if l, err := e.images.List(ctx, image.ListOptions{}); err != nil || len(l) != 3 {
		t.Errorf("images after a --no-cache rebuild: %d (%v), want hidden:1, busybox and the old result", len(l), err)
	}
	if d := dangling(); len(d) != 1 || d[0] != id {
		t.Errorf("dangling after the rebuild: %v, want the old result %s", d, id)
	}
	if all, err := e.images.List(ctx, image.ListOptions{All: true}); err != nil || len(all) != 1+3+3 {
		t.Errorf("all images after a --no-cache rebuild: %d (%v), want 7: busybox and the three step images of each build", len(all), err)
	}
	rep, err := e.b.Prune(ctx, PruneOptions{All: true})
	if err != nil {
		t.Fatal(err)
	}
	if all, err := e.images.List(ctx, image.ListOptions{All: true}); err != nil || len(all) != 3 {
		t.Errorf("after builder prune (%d entries): %d images (%v), want busybox, hidden:1 and the dangling old result", len(rep.Entries), len(all), err)
	}
	if _, err := e.images.Prune(ctx, image.PruneOptions{}); err != nil {
		t.Fatal(err)
	}
	if all, err := e.images.List(ctx, image.ListOptions{All: true}); err != nil || len(all) != 2 || len(dangling()) != 0 {
		t.Errorf("after image prune: %d images (%v), want busybox and hidden:1", len(all), err)
	}
}

// CacheRecords (system df) lists each step with its instruction, the
// size of the layer it added, hits, and whether a tag holds it; builder
// prune frees the step images, including those hidden from the list.
func TestBuildCacheRecords(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"big": strings.Repeat("x", 1<<20), "Dockerfile": "FROM busybox\nENV A=1\nCOPY big /big\nRUN --mount=type=cache,target=/c echo c > /c/f && echo r > /r\n"})
	if _, out, err := e.build(t, dir, BuildOptions{Tags: []string{"df:1"}}); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if _, out, err := e.build(t, dir, BuildOptions{}); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	recs, err := e.b.CacheRecords(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byDesc := map[string]CacheRecord{}
	var mounts int
	for _, r := range recs {
		if r.Type == "exec.cachemount" {
			mounts++
			continue
		}
		if len(r.ID) != 25 || r.CreatedAt.IsZero() || r.LastUsedAt.Before(r.CreatedAt) {
			t.Errorf("record %+v", r)
		}
		switch {
		case strings.HasPrefix(r.Description, "ENV"):
			byDesc["ENV"] = r
		case strings.Contains(r.Description, "COPY"):
			byDesc["COPY"] = r
		case strings.Contains(r.Description, "echo c"):
			byDesc["RUN"] = r
		}
	}
	if len(byDesc) != 3 || mounts != 1 {
		t.Fatalf("records %+v, want ENV, COPY, RUN and one cache mount", recs)
	}
	if r := byDesc["ENV"]; r.Size != 0 || r.UsageCount != 1 || r.Shared {
		t.Errorf("ENV record %+v: want no bytes, one hit, not shared", r)
	}
	// The COPY's layer is the 1 MiB of x (unpacked, as docker counts).
	if r := byDesc["COPY"]; r.Size != 1<<20 || r.Shared {
		t.Errorf("COPY record %+v", r)
	}
	if r := byDesc["RUN"]; !r.Shared || r.Size <= 0 {
		t.Errorf("RUN record (the tagged image's step) %+v: want shared, with its layer", r)
	}
	rep, err := e.b.Prune(ctx, PruneOptions{All: true})
	if err != nil || len(rep.Entries) != 3 {
		t.Fatalf("prune: %+v %v", rep, err)
	}
	if recs, err := e.b.CacheRecords(ctx); err != nil || len(recs) != 0 {
		t.Errorf("records after prune --all: %+v %v", recs, err)
	}
	if all, err := e.images.List(ctx, image.ListOptions{All: true}); err != nil || len(all) != 2 {
		t.Errorf("images after prune --all: %d (%v), want busybox and df:1", len(all), err)
	}
}

// RUN --mount=type=bind,from=STAGE reads the stage's files; the source
// path is part of the step's key, and a cached step mounts nothing.
func TestBuildBindMountFromStage(t *testing.T) {
	e := newEnv(t)
	df := func(src string) string {
		return "FROM busybox AS src\nRUN mkdir /a /b && echo from-a > /a/f && echo from-b > /b/f\n" +
			"FROM busybox\nRUN --mount=type=bind,from=src,source=" + src + ",target=/m cat /m/f > /out\n"
	}
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"Dockerfile": df("/a")})
	id, out, err := e.build(t, dir, BuildOptions{})
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got := readFile(t, filepath.Join(e.export(t, id), "out")); got != "from-a\n" {
		t.Errorf("/out = %q", got)
	}
	runs := e.exec.runs.Load()
	if id2, out, err := e.build(t, dir, BuildOptions{}); err != nil || id2 != id || e.exec.runs.Load() != runs {
		t.Errorf("rebuild: %s (want %s), %v, %d runs\n%s", id2, id, err, e.exec.runs.Load()-runs, out)
	}
	writeFiles(t, dir, map[string]string{"Dockerfile": df("/b")})
	id3, out, err := e.build(t, dir, BuildOptions{})
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got := readFile(t, filepath.Join(e.export(t, id3), "out")); got != "from-b\n" {
		t.Errorf("another source: /out = %q, want from-b (a stale cache hit?)", got)
	}
}

// The legacy builder's rules a Dockerfile relies on: ENTRYPOINT keeps the
// stage's own CMD and drops an inherited one; a stage whose base has no
// PATH gets the default one; WORKDIR makes its directory in the image; a
// RUN sees a VOLUME's directory (and what the image has in it) while what
// it writes there is dropped, as with the anonymous volume docker mounts.
func TestBuildLegacyRules(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"Dockerfile": `FROM busybox AS own
CMD ["echo", "a"]
ENTRYPOINT ["echo", "ep"]

FROM busybox AS inherited
ENTRYPOINT ["echo", "ep"]

FROM scratch AS bare
ENV PATH=$PATH:/opt/bin

FROM busybox
WORKDIR /wd/deep
RUN mkdir /data && echo pre > /data/pre
VOLUME /data /newvol
RUN ls -d /newvol > /newvol.ls && touch /newvol/inside && cat /data/pre > /seen && echo post > /data/post
`})
	for _, tc := range []struct {
		target      string
		cmd, entry  string
		envContains string
	}{
		{target: "own", cmd: "echo a", entry: "echo ep"},
		{target: "inherited", cmd: "", entry: "echo ep"},
		{target: "bare", envContains: "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/opt/bin"},
	} {
		id, out, err := e.build(t, dir, BuildOptions{Target: tc.target})
		if err != nil {
			t.Fatalf("build --target %s: %v\n%s", tc.target, err, out)
		}
		img, err := e.images.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		c := img.Config.Config
		if tc.envContains != "" {
			if !strings.Contains(strings.Join(c.Env, "\n"), tc.envContains) {
				t.Errorf("%s: Env %q lacks %q", tc.target, c.Env, tc.envContains)
			}
			continue
		}
		if strings.Join(c.Cmd, " ") != tc.cmd || strings.Join(c.Entrypoint, " ") != tc.entry {
			t.Errorf("%s: Cmd %q Entrypoint %q; want %q %q", tc.target, c.Cmd, c.Entrypoint, tc.cmd, tc.entry)
		}
	}
	id, out, err := e.build(t, dir, BuildOptions{})
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	root := e.export(t, id)
	if fi, err := os.Stat(filepath.Join(root, "wd/deep")); err != nil || !fi.IsDir() {
		t.Errorf("WORKDIR /wd/deep is not in the image: %v", err)
	}
	if got := readFile(t, filepath.Join(root, "seen")); got != "pre\n" {
		t.Errorf("RUN read %q from the volume, want the image's pre", got)
	}
	if _, err := os.Stat(filepath.Join(root, "data/post")); err == nil {
		t.Error("a file written into a VOLUME by a later RUN is in the image")
	}
	if got := readFile(t, filepath.Join(root, "newvol.ls")); got != "/newvol\n" {
		t.Errorf("RUN listed %q for /newvol", got)
	}
	if _, err := os.Stat(filepath.Join(root, "newvol/inside")); err == nil {
		t.Error("a file written into a VOLUME by a later RUN is in the image")
	}
	if fi, err := os.Stat(filepath.Join(root, "newvol")); err != nil || !fi.IsDir() || statOwner(fi)[0] != 0 {
		t.Errorf("/newvol in the image: %v %v (want a root-owned directory)", fi, err)
	}
}

// ADD unpacks a local tar compressed with gzip, bzip2, xz or zstd, as
// dockerd does, and copies any other file, a compressed one too, as it is.
func TestBuildAddArchives(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"in/hello": "hi\n", "note": "not a tar\n", "Dockerfile": `FROM busybox
ADD t.tar.gz /gz/
ADD t.tar.bz2 /bz2/
ADD t.tar.xz /xz/
ADD note.gz /plain/
`})
	for name, args := range map[string][]string{
		"t.tar.gz":  {"tar", "-czf", "t.tar.gz", "-C", "in", "hello"},
		"t.tar.bz2": {"tar", "-cjf", "t.tar.bz2", "-C", "in", "hello"},
		"t.tar.xz":  {"tar", "-cJf", "t.tar.xz", "-C", "in", "hello"},
		"note.gz":   {"gzip", "-k", "note"},
	} {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("make %s: %v\n%s", name, err, out)
		}
	}
	id, out, err := e.build(t, dir, BuildOptions{})
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	root := e.export(t, id)
	for _, d := range []string{"gz", "bz2", "xz"} {
		if got := readFile(t, filepath.Join(root, d, "hello")); got != "hi\n" {
			t.Errorf("/%s/hello = %q: the archive was not unpacked", d, got)
		}
	}
	if fi, err := os.Stat(filepath.Join(root, "plain/note.gz")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("a gzip file that is no tar was not copied as a file: %v", err)
	}
}
