package build

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth/berth/internal/image"
)

func ptr(s string) *string { return &s }

func TestBuildInstructions(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("from the web\n"))
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"a.txt": "alpha\n", "sub/b.txt": "beta\n", "sub/skip.log": "no\n", "secret.env": "x",
		".dockerignore": "secret.env\n",
		"Dockerfile": `# syntax=docker/dockerfile:1
ARG BASE=busybox
FROM ${BASE} AS base
LABEL org.example.a="1 2" b=c
MAINTAINER someone
ENV GREETING=hello WHO=world
ARG V=default
RUN echo "$GREETING $WHO $V" > /greeting
RUN ["/bin/sh", "-c", "echo exec-form > /exec"]
RUN <<EOT
echo heredoc-line > /heredoc
EOT
RUN <<EOT
#!/usr/bin/awk -f
BEGIN { print "awk-ran" > "/shebang" }
EOT
RUN cat <<A >/two && cat <<-B >>/two
first
A
	second
	B
WORKDIR /app
COPY --chown=1000:1000 --chmod=640 a.txt ./
COPY --exclude=*.log sub/ /sub/
COPY <<EOT /inline.txt
inline $WHO
EOT
ADD layer.tar /unpacked/
ADD ` + srv.URL + `/remote.txt /remote/
USER 1000
EXPOSE 80 53/udp
VOLUME /data
STOPSIGNAL SIGRTMIN+3
HEALTHCHECK CMD true
SHELL ["/bin/sh", "-c"]
ONBUILD RUN echo child
ENTRYPOINT ["/bin/echo"]
CMD ["hi"]
`})
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	tw.WriteHeader(&tar.Header{Name: "in-tar.txt", Mode: 0o644, Size: 3, Typeflag: tar.TypeReg})
	tw.Write([]byte("tar"))
	tw.Close()
	os.WriteFile(filepath.Join(dir, "layer.tar"), tb.Bytes(), 0o644)

	id, out, err := e.build(t, dir, BuildOptions{Tags: []string{"app:1", "app"}, BuildArgs: map[string]*string{"V": ptr("given")}, Labels: map[string]string{"io.berth.test": "yes"}})
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	for _, want := range []string{"Step 1/25 : FROM ${BASE} AS base", "Step 4/25 : ENV GREETING=hello WHO=world", " ---> Running in ", "Successfully built " + id[7:19], "Successfully tagged app:1\n", "Successfully tagged app:latest\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("progress lacks %q:\n%s", want, out)
		}
	}
	img, err := e.images.Get(context.Background(), "app:1")
	if err != nil || img.ID.String() != id {
		t.Fatalf("app:1 = %v, %v; want %s", img.ID, err, id)
	}
	c := img.Config.Config
	if c.WorkingDir != "/app" || c.User != "1000" || c.StopSignal != "SIGRTMIN+3" {
		t.Errorf("config workdir %q user %q stopsignal %q", c.WorkingDir, c.User, c.StopSignal)
	}
	if strings.Join(c.Entrypoint, " ") != "/bin/echo" || strings.Join(c.Cmd, " ") != "hi" {
		t.Errorf("entrypoint %q cmd %q", c.Entrypoint, c.Cmd)
	}
	if c.Labels["org.example.a"] != "1 2" || c.Labels["b"] != "c" || c.Labels["io.berth.test"] != "yes" {
		t.Errorf("labels %v", c.Labels)
	}
	for _, p := range []string{"80/tcp", "53/udp"} {
		if _, ok := c.ExposedPorts[p]; !ok {
			t.Errorf("exposed ports %v lack %s", c.ExposedPorts, p)
		}
	}
	if _, ok := c.Volumes["/data"]; !ok {
		t.Errorf("volumes %v", c.Volumes)
	}
	if !hasEnv(c.Env, "GREETING") || img.Config.Author != "someone" {
		t.Errorf("env %v author %q", c.Env, img.Config.Author)
	}
	root := e.export(t, id)
	for name, want := range map[string]string{
		"greeting": "hello world given\n", "exec": "exec-form\n", "heredoc": "heredoc-line\n", "shebang": "awk-ran\n", "two": "first\nsecond\n",
		"app/a.txt": "alpha\n", "sub/b.txt": "beta\n", "inline.txt": "inline world\n",
		"unpacked/in-tar.txt": "tar", "remote/remote.txt": "from the web\n",
	} {
		if got := readFile(t, filepath.Join(root, name)); got != want {
			t.Errorf("/%s = %q, want %q", name, got, want)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "sub/skip.log")); err == nil {
		t.Errorf("COPY --exclude=*.log copied sub/skip.log")
	}
	fi, err := os.Stat(filepath.Join(root, "app/a.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("a.txt mode %v, want 0640", fi.Mode())
	}
	if st := statOwner(fi); st != [2]uint32{1000, 1000} {
		t.Errorf("a.txt owner %v, want 1000:1000", st)
	}
	if fi, err := os.Stat(filepath.Join(root, "remote/remote.txt")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("ADD URL file: %v, %v; want mode 0600", fi, err)
	}
}

func TestBuildCache(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"f.txt":      "one\n",
		"Dockerfile": "FROM busybox\nARG X=1\nRUN echo $X > /x\nCOPY f.txt /f.txt\nRUN cat /f.txt > /g\n",
	})
	id1, out, err := e.build(t, dir, BuildOptions{})
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if n := e.exec.runs.Load(); n != 2 {
		t.Fatalf("cold build ran %d containers, want 2", n)
	}
	// Same inputs, a touched mtime: fully cached, no container.
	later := time.Now().Add(time.Hour)
	os.Chtimes(filepath.Join(dir, "f.txt"), later, later)
	id2, out, err := e.build(t, dir, BuildOptions{})
	if err != nil || id2 != id1 {
		t.Fatalf("cached build: %s, %v; want %s\n%s", id2, err, id1, out)
	}
	if n := e.exec.runs.Load(); n != 2 || strings.Count(out, "Using cache") != 3 {
		t.Errorf("cached build: %d containers in all, %d cache hits:\n%s", n, strings.Count(out, "Using cache"), out)
	}
	// New content: the COPY and what follows miss, the first RUN hits.
	os.WriteFile(filepath.Join(dir, "f.txt"), []byte("two\n"), 0o644)
	id3, out, err := e.build(t, dir, BuildOptions{})
	if err != nil || id3 == id1 {
		t.Fatalf("changed content: %s, %v\n%s", id3, err, out)
	}
	if n := e.exec.runs.Load(); n != 3 || strings.Count(out, "Using cache") != 1 {
		t.Errorf("after a content change: %d containers in all, %d cache hits:\n%s", n, strings.Count(out, "Using cache"), out)
	}
	if got := readFile(t, filepath.Join(e.export(t, id3), "g")); got != "two\n" {
		t.Errorf("/g = %q", got)
	}
	// Same size, mtime set back: the content still decides.
	fi, _ := os.Stat(filepath.Join(dir, "f.txt"))
	os.WriteFile(filepath.Join(dir, "f.txt"), []byte("six\n"), 0o644)
	os.Chtimes(filepath.Join(dir, "f.txt"), fi.ModTime(), fi.ModTime())
	id4, out, err := e.build(t, dir, BuildOptions{})
	if err != nil || id4 == id3 || strings.Count(out, "Using cache") != 1 {
		t.Fatalf("same-size change with the old mtime: %s (was %s), %v\n%s", id4, id3, err, out)
	}
	if got := readFile(t, filepath.Join(e.export(t, id4), "g")); got != "six\n" {
		t.Errorf("/g = %q, want six", got)
	}
	// Another build arg value busts the RUN that sees it.
	_, out, err = e.build(t, dir, BuildOptions{BuildArgs: map[string]*string{"X": ptr("2"), "NOPE": ptr("1")}})
	if err != nil || strings.Count(out, "Using cache") != 0 {
		t.Errorf("build arg change: %v, %d hits\n%s", err, strings.Count(out, "Using cache"), out)
	}
	if !strings.Contains(out, "[Warning] One or more build-args [NOPE] were not consumed\n") {
		t.Errorf("no warning about the unused build arg:\n%s", out)
	}
	before := e.exec.runs.Load()
	if _, out, err := e.build(t, dir, BuildOptions{NoCache: true}); err != nil || e.exec.runs.Load()-before != 2 {
		t.Errorf("no-cache: %v, %d runs\n%s", err, e.exec.runs.Load()-before, out)
	}
	rep, err := e.b.Prune(context.Background(), PruneOptions{All: true})
	if err != nil || len(rep.Entries) == 0 {
		t.Errorf("prune: %+v %v", rep, err)
	}
	if n, _, _ := e.b.DiskUsage(context.Background()); n != 0 {
		t.Errorf("%d entries after prune --all", n)
	}
	// The untagged results stay, dangling, as with dockerd (image prune
	// removes them, not the build cache's prune).
	if all, err := e.images.List(context.Background(), image.ListOptions{Filters: map[string][]string{"dangling": {"false"}}}); err != nil || len(all) != 1 {
		t.Errorf("named images after prune --all: %d (%v), want busybox only", len(all), err)
	}
}

func TestBuildMultiStageTarget(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"Dockerfile": `FROM busybox AS a
RUN echo from-a > /a
FROM busybox AS broken
RUN exit 7
FROM busybox AS b
RUN echo from-b > /b
FROM scratch AS final
COPY --from=a /a /a
COPY --from=b /b /b
COPY --from=busybox /etc/passwd /passwd
FROM final AS extra
RUN exit 9
`})
	id, out, err := e.build(t, dir, BuildOptions{Target: "final", Tags: []string{"final"}})
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if strings.Contains(out, "exit 7") || strings.Contains(out, "exit 9") {
		t.Errorf("stages the target does not need were built:\n%s", out)
	}
	root := e.export(t, id)
	if readFile(t, filepath.Join(root, "a")) != "from-a\n" || readFile(t, filepath.Join(root, "b")) != "from-b\n" {
		t.Errorf("final stage files wrong")
	}
	if _, err := os.Stat(filepath.Join(root, "bin/busybox")); err == nil {
		t.Errorf("scratch stage has busybox")
	}
	_, _, err = e.build(t, dir, BuildOptions{Target: "nope"})
	if err == nil || !strings.Contains(err.Error(), `failed to reach build target nope in Dockerfile`) {
		t.Errorf("missing target: %v", err)
	}
}

func TestBuildErrors(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	outside := t.TempDir()
	writeFiles(t, outside, map[string]string{"secret": "s"})
	writeFiles(t, dir, map[string]string{"ok": "x"})
	os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "link-out"))
	os.Symlink("../../../../../../etc/passwd", filepath.Join(dir, "rel-out"))
	os.Symlink(outside, filepath.Join(dir, "dir-out"))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("body")) }))
	t.Cleanup(srv.Close)
	srvURL := srv.URL
	cases := []struct{ name, df, want string }{
		{"parent", "FROM busybox\nCOPY ../x /x\n", "forbidden path outside the build context"},
		{"symlink-abs", "FROM busybox\nCOPY link-out /x\n", "a symbolic link on the way leads outside it or to nothing"},
		{"symlink-rel", "FROM busybox\nCOPY rel-out /x\n", "a symbolic link on the way leads outside it or to nothing"},
		{"through-symlink-dir", "FROM busybox\nCOPY dir-out/secret /x\n", "a symbolic link on the way leads outside it or to nothing"},
		{"wildcard-through-symlink", "FROM busybox\nCOPY dir-out/* /x/\n", "no source files were specified"},
		{"missing", "FROM busybox\nCOPY nothere /x\n", "file not found in build context"},
		{"unknown", "FROM busybox\nFROBNICATE x\n", "unknown instruction"},
		{"syntax", "# syntax=example.com/my/frontend:1\nFROM busybox\n", "custom frontends"},
		{"run-fails", "FROM busybox\nRUN echo out; exit 3\n", "step 2: the command 'RUN echo out; exit 3' returned a non-zero code: 3"},
		{"no-from", "RUN true\n", "no build stage"},
		{"from-missing-stage", "FROM busybox\nCOPY --from=nostage /a /a\n", "nostage"},
		{"long-line", "FROM busybox\nRUN echo " + strings.Repeat("x", 100<<10) + "\n", "dockerfile line greater than max allowed size"},
		{"add-checksum", "FROM busybox\nADD --checksum=sha256:0000000000000000000000000000000000000000000000000000000000000000 " + srvURL + "/f /f\n", "the content has another digest"},
		{"add-checksum-local", "FROM busybox\nADD --checksum=sha256:0000000000000000000000000000000000000000000000000000000000000000 ok /f\n", "only for http(s) sources"},
		{"huge", "FROM busybox\nRUN echo " + strings.Repeat("x", MaxDockerfileBytes) + "\n", "more than the limit"},
		{"duplicate-stage", "FROM busybox AS b\nRUN true\nFROM busybox AS B\nRUN true\n", "b stage name already used"},
		{"expose-proto", "FROM busybox\nEXPOSE 80/xyz\n", "invalid proto: xyz"},
		{"copy-many-to-file", "FROM busybox\nCOPY ok Dockerfile /dest\n", "When using COPY with more than one source file, the destination must be a directory and end with a /"},
		{"healthcheck-retries-0", "FROM busybox\nHEALTHCHECK --retries=0 CMD true\n", "--retries must be at least 1"},
		{"blank", "\n  \n", "file with no instructions"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, out, err := e.build(t, dir, BuildOptions{DockerfileContent: []byte(c.df), Tags: []string{"bad:" + c.name}})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q\n%s", err, c.want, out)
			}
			if _, err := e.images.Get(context.Background(), "bad:"+c.name); err == nil {
				t.Errorf("a failed build tagged its image")
			}
		})
	}
	// The right checksum passes.
	sum := sha256.Sum256([]byte("body"))
	if _, out, err := e.build(t, dir, BuildOptions{DockerfileContent: []byte("FROM busybox\nADD --checksum=sha256:" + hex.EncodeToString(sum[:]) + " " + srvURL + "/f /f\n")}); err != nil {
		t.Errorf("ADD with the right checksum: %v\n%s", err, out)
	}
	var se *StepError
	var ee *ExitError
	_, _, err := e.build(t, dir, BuildOptions{DockerfileContent: []byte("FROM busybox\nRUN exit 4\n")})
	if !errors.As(err, &se) || !errors.As(err, &ee) || ee.Code != 4 || se.Step != 2 {
		t.Errorf("RUN failure error %#v", err)
	}
}

func TestBuildRunMounts(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	sec := filepath.Join(t.TempDir(), "tok")
	os.WriteFile(sec, []byte("s3cret"), 0o600)
	writeFiles(t, dir, map[string]string{"data/in.txt": "bound\n", "Dockerfile": `FROM busybox
RUN --mount=type=cache,target=/cache echo run >> /cache/log && cat /cache/log | wc -l > /count
RUN --mount=type=tmpfs,target=/scratch touch /scratch/x
RUN --mount=type=bind,source=data,target=/mnt cat /mnt/in.txt > /bound
RUN --mount=type=secret,id=tok cat /run/secrets/tok > /seen
RUN --network=none cat /proc/net/dev | grep -c : > /ifaces
`})
	id, out, err := e.build(t, dir, BuildOptions{Secrets: map[string]string{"tok": sec}})
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	root := e.export(t, id)
	if got := readFile(t, filepath.Join(root, "bound")); got != "bound\n" {
		t.Errorf("bind mount read %q", got)
	}
	if got := readFile(t, filepath.Join(root, "seen")); got != "s3cret" {
		t.Errorf("secret read %q", got)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "run/secrets/tok")); len(b) > 0 {
		t.Errorf("the secret was committed into the image")
	}
	if _, err := os.Stat(filepath.Join(root, "scratch/x")); err == nil {
		t.Errorf("tmpfs content was committed")
	}
	if got := readFile(t, filepath.Join(root, "ifaces")); got != "1\n" {
		t.Errorf("--network=none saw %q interfaces, want only lo", got)
	}
	id2, out, err := e.build(t, dir, BuildOptions{Secrets: map[string]string{"tok": sec}, NoCache: true})
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got := readFile(t, filepath.Join(e.export(t, id2), "count")); strings.TrimSpace(got) != "2" {
		t.Errorf("cache mount count %q, want 2", got)
	}
}

// TestBuildCopyDestinations checks docker's rule for a COPY destination
// that names a directory: "." and "dir/." as well as "dir/" (COPY f .
// after WORKDIR /app is the most common Dockerfile line there is).
func TestBuildCopyDestinations(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"f.txt": "eff\n", "Dockerfile": `FROM busybox
WORKDIR /app
COPY f.txt .
WORKDIR /w2
COPY f.txt sub/.
COPY f.txt ./
COPY f.txt named
`})
	id, out, err := e.build(t, dir, BuildOptions{})
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	root := e.export(t, id)
	for name, want := range map[string]string{"app/f.txt": "eff\n", "w2/sub/f.txt": "eff\n", "w2/f.txt": "eff\n", "w2/named": "eff\n"} {
		if got := readFile(t, filepath.Join(root, name)); got != want {
			t.Errorf("/%s = %q, want %q", name, got, want)
		}
	}
}

// COPY follows symbolic links as docker does, inside the context (an
// absolute target starts at the context, ".." stops there); a directory a
// COPY makes is 0755 and owned by --chown's user, and a directory
// source's own mode is not given to its destination.
func TestBuildCopyLinksAndDirectories(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"a.txt": "alpha\n", "sub/b.txt": "beta\n", "p.txt": "p\n", "tree/inner/c.txt": "c\n",
		"Dockerfile": "FROM busybox\nCOPY link_abs /la\nCOPY linkdir/ /ld/\nCOPY through/inner/c.txt /tc\n" +
			"COPY . /c/\nCOPY emptydir /e/\nCOPY --chown=1000:1000 p.txt /p/q/\nCOPY tree /t/\n",
	})
	for link, target := range map[string]string{"link_abs": "/a.txt", "linkdir": "../sub", "through": "/tree"} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "emptydir"), 0o777); err != nil {
		t.Fatal(err)
	}
	for p, mode := range map[string]os.FileMode{".": 0o750, "emptydir": 0o1777, "tree/inner": 0o700} {
		if err := os.Chmod(filepath.Join(dir, p), mode); err != nil {
			t.Fatal(err)
		}
	}
	id, out, err := e.build(t, dir, BuildOptions{})
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	root := e.export(t, id)
	for name, want := range map[string]string{"la": "alpha\n", "ld/b.txt": "beta\n", "tc": "c\n", "c/a.txt": "alpha\n", "p/q/p.txt": "p\n"} {
		if got := readFile(t, filepath.Join(root, name)); got != want {
			t.Errorf("/%s = %q, want %q", name, got, want)
		}
	}
	for name, want := range map[string]struct {
		mode  os.FileMode
		owner [2]uint32
	}{
		"c": {0o755, [2]uint32{0, 0}}, "e": {0o755, [2]uint32{0, 0}}, "t": {0o755, [2]uint32{0, 0}},
		"p": {0o755, [2]uint32{1000, 1000}}, "p/q": {0o755, [2]uint32{1000, 1000}},
		"t/inner": {0o700, [2]uint32{0, 0}}, // below the source, modes are kept
	} {
		fi, err := os.Lstat(filepath.Join(root, name))
		if err != nil {
			t.Errorf("/%s: %v", name, err)
			continue
		}
		if fi.Mode()&(os.ModePerm|os.ModeSticky|os.ModeSetuid|os.ModeSetgid) != want.mode || statOwner(fi) != want.owner {
			t.Errorf("/%s: mode %v owner %v, want %v %v", name, fi.Mode(), statOwner(fi), want.mode, want.owner)
		}
	}
}

// TestBuildCopyHardLinks: files of the context that are hard links of one
// another stay so in the image (one copy of the data), as docker's
// builders keep them; a COPY onto a file that has other names replaces
// that name only.
func TestBuildCopyHardLinks(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"hl/a": "shared\n", "f": "new\n", "Dockerfile": `FROM busybox
RUN echo one > /x1 && ln /x1 /x2
COPY hl /hl/
COPY f /x1
`})
	if err := os.Link(filepath.Join(dir, "hl/a"), filepath.Join(dir, "hl/b")); err != nil {
		t.Fatal(err)
	}
	id, out, err := e.build(t, dir, BuildOptions{})
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	root := e.export(t, id)
	a, errA := os.Stat(filepath.Join(root, "hl/a"))
	b, errB := os.Stat(filepath.Join(root, "hl/b"))
	if errA != nil || errB != nil || !os.SameFile(a, b) || readFile(t, filepath.Join(root, "hl/b")) != "shared\n" {
		t.Errorf("hl/a and hl/b are not one file in the image: %v %v", errA, errB)
	}
	if got, got2 := readFile(t, filepath.Join(root, "x1")), readFile(t, filepath.Join(root, "x2")); got != "new\n" || got2 != "one\n" {
		t.Errorf("COPY onto a hard-linked file: /x1 %q /x2 %q, want \"new\\n\" \"one\\n\"", got, got2)
	}
}

// TestBuildLabelsStayWithTheirBuild: --label of one build never reaches
// another that shares its cached steps (the cached image's config is not
// changed), and the other's later steps still come from the cache.
func TestBuildLabelsStayWithTheirBuild(t *testing.T) {
	e := newEnv(t)
	long := t.TempDir()
	writeFiles(t, long, map[string]string{"Dockerfile": "FROM busybox\nLABEL own=yes\nCMD [\"true\"]\n"})
	short := t.TempDir()
	writeFiles(t, short, map[string]string{"Dockerfile": "FROM busybox\nLABEL own=yes\n"})
	first, out, err := e.build(t, long, BuildOptions{})
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if _, out, err := e.build(t, short, BuildOptions{Labels: map[string]string{"secret": "leak"}}); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	again, out, err := e.build(t, long, BuildOptions{})
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	img, err := e.images.Get(context.Background(), again)
	if err != nil {
		t.Fatal(err)
	}
	if _, leaked := img.Config.Config.Labels["secret"]; leaked || img.Config.Config.Labels["own"] != "yes" {
		t.Errorf("labels of the rebuilt image: %v, want only own=yes", img.Config.Config.Labels)
	}
	if again != first || strings.Count(out, "Using cache") != 2 {
		t.Errorf("rebuild: %s, want %s from the cache:\n%s", again, first, out)
	}
}

// TestBuildEmptyDockerfile: a Dockerfile of no bytes is "cannot be empty",
// as dockerd says (blank lines are "file with no instructions").
func TestBuildEmptyDockerfile(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"Dockerfile": ""})
	if _, out, err := e.build(t, dir, BuildOptions{}); err == nil || !strings.Contains(err.Error(), "the Dockerfile (Dockerfile) cannot be empty") {
		t.Errorf("empty Dockerfile: %v\n%s", err, out)
	}
}
