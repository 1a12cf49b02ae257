package build

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const appDockerfile = `FROM busybox
RUN echo built-by-run > /out.txt
COPY hello.txt /hello.txt
CMD ["sh", "-c", "cat /out.txt /hello.txt"]
`

// TestDockerBuildRunCachePrune: docker build through the legacy API, a
// run of the image, a fully cached rebuild, then builder prune frees the
// cache so the next build runs its RUN again.
func TestDockerBuildRunCachePrune(t *testing.T) {
	d := newDaemon(t)
	ctx := writeFiles(t, map[string]string{"Dockerfile": appDockerfile, "hello.txt": "hello from the context\n"})
	out, errOut, err := d.docker(t, ctx, "", "build", "-t", "app:1", ".")
	if err != nil {
		t.Fatalf("docker build: %v\n%s\n%s", err, out, errOut)
	}
	for _, want := range []string{"Sending build context to Docker daemon", "Step 1/4 : FROM busybox", "Step 2/4 : RUN echo built-by-run > /out.txt", " ---> Running in ", "Successfully built ", "Successfully tagged app:1\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("docker build output lacks %q:\n%s", want, out)
		}
	}
	out, errOut, err = d.docker(t, "", "", "run", "--rm", "app:1")
	if err != nil || out != "built-by-run\nhello from the context\n" {
		t.Fatalf("docker run --rm app:1: %v: %q %s", err, out, errOut)
	}
	// The history says what was copied as the legacy builder does.
	hist, _, _ := d.docker(t, "", "", "history", "--no-trunc", "--format", "{{.CreatedBy}}", "app:1")
	if !regexp.MustCompile(`(?m)^/bin/sh -c #\(nop\) COPY file:[0-9a-f]{64} in /hello.txt $`).MatchString(hist) {
		t.Errorf("history of app:1 lacks docker's COPY line:\n%s", hist)
	}

	out, errOut, err = d.docker(t, ctx, "", "build", "-t", "app:2", ".")
	if err != nil {
		t.Fatalf("docker rebuild: %v\n%s\n%s", err, out, errOut)
	}
	if n := strings.Count(out, " ---> Using cache\n"); n != 3 {
		t.Errorf("rebuild: %d steps from cache, want 3:\n%s", n, out)
	}
	if strings.Contains(out, "Running in") {
		t.Errorf("rebuild started a container:\n%s", out)
	}

	out, errOut, err = d.docker(t, "", "", "builder", "prune", "-af")
	if err != nil {
		t.Fatalf("builder prune: %v\n%s\n%s", err, out, errOut)
	}
	if !strings.Contains(out, "Deleted build cache objects:\n") || !regexp.MustCompile(`Total reclaimed space: [0-9.]+[kMG]?B`).MatchString(out) {
		t.Errorf("builder prune output:\n%s", out)
	}
	out, errOut, err = d.docker(t, "", "", "builder", "prune", "-af")
	if err != nil || strings.Contains(out, "Deleted build cache objects") || !strings.Contains(out, "Total reclaimed space: 0B") {
		t.Errorf("second builder prune: %v\n%s\n%s", err, out, errOut)
	}
	out, errOut, err = d.docker(t, ctx, "", "build", "-t", "app:3", ".")
	if err != nil || !strings.Contains(out, "Running in") || strings.Contains(out, "Using cache") {
		t.Errorf("build after prune must run again: %v\n%s\n%s", err, out, errOut)
	}
	// The tagged images outlive the prune.
	out, errOut, err = d.docker(t, "", "", "run", "--rm", "app:1")
	if err != nil || out != "built-by-run\nhello from the context\n" {
		t.Errorf("docker run --rm app:1 after prune: %v: %q %s", err, out, errOut)
	}
}

// TestUntaggedBuildIsListedAndPruned: the result of a build without -t is
// listed as <none>, matched by dangling=true and removed by image prune, as
// with dockerd; the steps it was built from are not listed.
func TestUntaggedBuildIsListedAndPruned(t *testing.T) {
	d := newDaemon(t)
	ctx := writeFiles(t, map[string]string{"Dockerfile": appDockerfile, "hello.txt": "untagged\n"})
	if out, errOut, err := d.docker(t, ctx, "", "build", "-q", "."); err != nil {
		t.Fatalf("docker build: %v\n%s\n%s", err, out, errOut)
	}
	id, errOut, err := d.docker(t, ctx, "", "build", "-q", ".")
	if err != nil {
		t.Fatalf("docker build: %v %s", err, errOut)
	}
	id = strings.TrimSpace(id)
	short := strings.TrimPrefix(id, "sha256:")[:12]
	list, _, _ := d.docker(t, "", "", "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}")
	if !strings.Contains(list, "<none>:<none> "+short) {
		t.Errorf("docker images lacks the untagged result %s:\n%s", short, list)
	}
	if n := strings.Count(list, "<none>"); n != 2 {
		t.Errorf("docker images lists %d <none> entries, want the result alone:\n%s", n/2, list)
	}
	if dangling, _, _ := d.docker(t, "", "", "images", "-q", "--filter", "dangling=true"); strings.TrimSpace(dangling) != short {
		t.Errorf("dangling=true: %q, want %s", dangling, short)
	}
	out, errOut, err := d.docker(t, "", "", "image", "prune", "-f")
	if err != nil || !strings.Contains(out, "deleted: "+id) {
		t.Errorf("image prune: %v\n%s\n%s", err, out, errOut)
	}
	if list, _, _ := d.docker(t, "", "", "images", "-a", "-q", "--no-trunc"); strings.Contains(list, id) {
		t.Errorf("the untagged result outlived image prune:\n%s", list)
	}
}

// TestBuildFailingRun: a RUN that exits 7 ends both CLIs with status 7 and
// docker's message, and tags nothing; a COPY of a missing file fails with
// the legacy builder's words.
func TestBuildFailingRun(t *testing.T) {
	d := newDaemon(t)
	ctx := writeFiles(t, map[string]string{"Dockerfile": "FROM busybox\nRUN echo before-failure\nRUN exit 7\n"})
	const msg = "The command '/bin/sh -c exit 7' returned a non-zero code: 7"
	out, errOut, err := d.docker(t, ctx, "", "build", "-t", "bad:1", ".")
	if exitCode(err) != 7 || !strings.Contains(errOut, msg) || !strings.Contains(out, "before-failure") {
		t.Errorf("docker build: exit %d, want 7\nstdout:\n%s\nstderr:\n%s", exitCode(err), out, errOut)
	}
	out, errOut, err = d.berth(t, "build", "-t", "bad:2", ctx)
	if exitCode(err) != 7 || !strings.Contains(errOut, msg) {
		t.Errorf("berth build: exit %d, want 7\nstdout:\n%s\nstderr:\n%s", exitCode(err), out, errOut)
	}
	// Quiet, the steps' output is shown once the build failed, as dockerd
	// sends it then.
	out, errOut, err = d.docker(t, ctx, "", "build", "-q", ".")
	if exitCode(err) != 7 || !strings.Contains(errOut, msg) || !strings.Contains(out+errOut, "before-failure") {
		t.Errorf("docker build -q: exit %d, want 7 and the steps' output\nstdout:\n%s\nstderr:\n%s", exitCode(err), out, errOut)
	}
	out, errOut, err = d.berth(t, "build", "-q", ctx)
	if exitCode(err) != 7 || !strings.Contains(errOut, msg) || !strings.Contains(errOut, "before-failure") || out != "" {
		t.Errorf("berth build -q: exit %d, want 7, the steps' output and the error on stderr\nstdout:\n%s\nstderr:\n%s", exitCode(err), out, errOut)
	}
	for _, ref := range []string{"bad:1", "bad:2"} {
		if _, _, err := d.berth(t, "image", "inspect", ref); err == nil {
			t.Errorf("%s was tagged by a failed build", ref)
		}
	}
	ctx = writeFiles(t, map[string]string{"Dockerfile": "FROM busybox\nCOPY nothere.txt /\n"})
	const copyMsg = "COPY failed: file not found in build context or excluded by .dockerignore: stat nothere.txt: file does not exist"
	if _, errOut, err := d.docker(t, ctx, "", "build", "."); exitCode(err) != 1 || !strings.Contains(errOut, copyMsg) {
		t.Errorf("COPY of a missing file: exit %d, stderr %q, want 1 and %q", exitCode(err), errOut, copyMsg)
	}
}

// TestBerthBuildTargetArgsIidfile: berth build of a multi-stage
// Dockerfile with --target, --build-arg, --label, -q and --iidfile.
func TestBerthBuildTargetArgsIidfile(t *testing.T) {
	d := newDaemon(t)
	ctx := writeFiles(t, map[string]string{"Dockerfile": `FROM busybox AS base
ARG GREETING=default
RUN echo "$GREETING from base" > /greeting
FROM base AS second
RUN cat /greeting > /second
FROM busybox AS never
RUN exit 3
`})
	iid := filepath.Join(t.TempDir(), "iid")
	out, errOut, err := d.berth(t, "build", "-q", "--target", "second", "--build-arg", "GREETING=hi", "--label", "team=berth", "--iidfile", iid, "-t", "multi:1", ctx)
	if err != nil {
		t.Fatalf("berth build: %v\n%s\n%s", err, out, errOut)
	}
	id := strings.TrimSpace(out)
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(id) {
		t.Fatalf("berth build -q printed %q, want only the image ID", out)
	}
	if b, err := os.ReadFile(iid); err != nil || string(b) != id {
		t.Errorf("iidfile: %q %v, want %s", b, err, id)
	}
	out, errOut, err = d.berth(t, "run", "--rm", "multi:1", "cat", "/second")
	if err != nil || out != "hi from base\n" {
		t.Errorf("run multi:1: %v: %q %s", err, out, errOut)
	}
	out, _, err = d.berth(t, "image", "inspect", "--format", "{{.Config.Labels.team}}", "multi:1")
	if err != nil || strings.TrimSpace(out) != "berth" {
		t.Errorf("label team: %v %q", err, out)
	}
}

// TestBerthBuildDockerignoreAndStdin: .dockerignore keeps files out of the
// context; -f - reads the Dockerfile from stdin; "-" builds a
// Dockerfile-only context from stdin.
func TestBerthBuildDockerignoreAndStdin(t *testing.T) {
	d := newDaemon(t)
	ctx := writeFiles(t, map[string]string{
		"Dockerfile":    "FROM busybox\nCOPY . /ctx/\nRUN ls /ctx | sort | tr '\\n' ' '\n",
		".dockerignore": "secret.txt\nlogs/\n",
		"kept.txt":      "kept",
		"secret.txt":    "secret",
		"logs/a.log":    "log",
	})
	out, errOut, err := d.berth(t, "build", "-t", "ign:1", ctx)
	if err != nil {
		t.Fatalf("berth build: %v\n%s\n%s", err, out, errOut)
	}
	if !strings.Contains(out, "Dockerfile kept.txt \n") {
		t.Errorf("context listing should be the Dockerfile and kept.txt (.dockerignore is not copied by COPY):\n%s", out)
	}
	if strings.Contains(out, "secret.txt") || strings.Contains(out, "logs") {
		t.Errorf("ignored files reached the build:\n%s", out)
	}

	out, errOut, err = d.run(t, berthBin, nil, "", "FROM busybox\nRUN echo from-stdin-dockerfile\n", "build", "-f", "-", "-t", "stdin:1", ctx)
	if err != nil || !strings.Contains(out, "from-stdin-dockerfile") {
		t.Errorf("berth build -f -: %v\n%s\n%s", err, out, errOut)
	}
	out, errOut, err = d.run(t, berthBin, nil, "", "FROM busybox\nRUN echo dockerfile-only > /o\nCMD [\"cat\", \"/o\"]\n", "build", "-t", "stdin:2", "-")
	if err != nil {
		t.Fatalf("berth build -: %v\n%s\n%s", err, out, errOut)
	}
	out, errOut, err = d.docker(t, "", "", "run", "--rm", "stdin:2")
	if err != nil || out != "dockerfile-only\n" {
		t.Errorf("docker run stdin:2: %v: %q %s", err, out, errOut)
	}
}

// A RUN step's output reaches the build's progress whole, up to its last
// line, every time: the step waits for the output after the process.
func TestBuildRunOutputWhole(t *testing.T) {
	d := newDaemon(t)
	ctx := writeFiles(t, map[string]string{
		"Dockerfile": "FROM busybox\nRUN i=0; while [ $i -lt 300 ]; do echo line$i; i=$((i+1)); done; echo last-line\n",
	})
	for i := range 5 {
		out, errOut, err := d.berth(t, "build", "--no-cache", "-t", "whole:1", ctx)
		if err != nil {
			t.Fatalf("berth build: %v\n%s\n%s", err, out, errOut)
		}
		if !strings.Contains(out, "line299\n") || !strings.Contains(out, "last-line\n") {
			t.Fatalf("build %d: the RUN step's output is cut:\n%s", i, out[max(0, len(out)-400):])
		}
	}
}

// TestMultiStageOutputInOrder: the stages a build needs run at once, but
// their output comes stage by stage, as the legacy builder prints it: the
// final stage's steps (which run while the first stage sleeps) follow all
// of the first stage's lines.
func TestMultiStageOutputInOrder(t *testing.T) {
	d := newDaemon(t)
	ctx := writeFiles(t, map[string]string{"Dockerfile": `FROM busybox AS a
RUN sleep 1 && echo from-a > /a
FROM busybox
RUN echo final-run
COPY --from=a /a /a
`})
	out, errOut, err := d.docker(t, ctx, "", "build", "--no-cache", ".")
	if err != nil {
		t.Fatalf("docker build: %v\n%s\n%s", err, out, errOut)
	}
	firstEnd := strings.Index(out, "Step 3/5 : FROM busybox")
	if firstEnd < 0 {
		t.Fatalf("no Step 3/5:\n%s", out)
	}
	first, rest := out[:firstEnd], out[firstEnd:]
	for _, want := range []string{"Step 1/5 : FROM busybox AS a", "Step 2/5 : RUN sleep 1", "Removing intermediate container"} {
		if !strings.Contains(first, want) {
			t.Errorf("%q not printed before the final stage:\n%s", want, out)
		}
	}
	if strings.Contains(first, "final-run") || !strings.Contains(rest, "final-run") {
		t.Errorf("the final stage's RUN output is not in its own stage's lines:\n%s", out)
	}
	if strings.Count(first, " ---> Running in ") != 1 || strings.Count(rest, " ---> Running in ") != 1 {
		t.Errorf("each stage's RUN is not printed with its stage:\n%s", out)
	}
}

// lastLayerEntries saves ref and returns the entry names of its last layer.
func lastLayerEntries(t *testing.T, d *daemon, ref string) []string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "img.tar")
	if out, errOut, err := d.berth(t, "save", "-o", file, ref); err != nil {
		t.Fatalf("save %s: %v\n%s%s", ref, err, out, errOut)
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	blobs := map[string][]byte{}
	var manifest []struct{ Layers []string }
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == "manifest.json" {
			if err := json.Unmarshal(b, &manifest); err != nil {
				t.Fatal(err)
			}
			continue
		}
		blobs[h.Name] = b
	}
	if len(manifest) != 1 || len(manifest[0].Layers) == 0 {
		t.Fatalf("save %s: manifest %+v", ref, manifest)
	}
	layer := blobs[manifest[0].Layers[len(manifest[0].Layers)-1]]
	var r io.Reader = bytes.NewReader(layer)
	if zr, err := gzip.NewReader(bytes.NewReader(layer)); err == nil {
		r = zr
	}
	var names []string
	lr := tar.NewReader(r)
	for {
		h, err := lr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("last layer of %s: %v", ref, err)
		}
		names = append(names, strings.TrimSuffix(h.Name, "/"))
	}
	return names
}

// TestRunLayerHasOnlyWhatRunWrote: the files the engine mounts into a RUN
// container (/etc/hostname, /etc/hosts, /etc/resolv.conf) are not part of
// the RUN's layer, whether the base image has them or not, and a base
// image's own copies stay as they were.
func TestRunLayerHasOnlyWhatRunWrote(t *testing.T) {
	d := newDaemon(t)
	dir := writeFiles(t, map[string]string{"Dockerfile": "FROM busybox\nRUN echo hi > /x\n"})
	if out, errOut, err := d.berth(t, "build", "-t", "runlayer:1", dir); err != nil {
		t.Fatalf("build: %v\n%s%s", err, out, errOut)
	}
	if got := lastLayerEntries(t, d, "runlayer:1"); strings.Join(got, " ") != "x" {
		t.Errorf("RUN's layer holds %q, want only x", got)
	}
	base := writeFiles(t, map[string]string{"Dockerfile": "FROM busybox\nCOPY hostname hosts /etc/\n", "hostname": "from-image\n", "hosts": "10.9.9.9 img\n"})
	if out, errOut, err := d.berth(t, "build", "-t", "runlayer:base", base); err != nil {
		t.Fatalf("build base: %v\n%s%s", err, out, errOut)
	}
	dir = writeFiles(t, map[string]string{"Dockerfile": "FROM runlayer:base\nRUN cat /etc/hostname > /seen\n"})
	if out, errOut, err := d.berth(t, "build", "-t", "runlayer:2", dir); err != nil {
		t.Fatalf("build on base: %v\n%s%s", err, out, errOut)
	}
	if got := lastLayerEntries(t, d, "runlayer:2"); strings.Join(got, " ") != "seen" {
		t.Errorf("RUN's layer on a base with /etc/hostname holds %q, want only seen", got)
	}
	// A RUN that changes nothing adds no layer, as dockerd's builder.
	dir = writeFiles(t, map[string]string{"Dockerfile": "FROM busybox\nRUN echo nothing changes\n"})
	if out, errOut, err := d.berth(t, "build", "-t", "runlayer:empty", dir); err != nil {
		t.Fatalf("build: %v\n%s%s", err, out, errOut)
	}
	layers := func(ref string) string {
		out, _, _ := d.berth(t, "image", "inspect", "-f", "{{len .RootFS.Layers}}", ref)
		return strings.TrimSpace(out)
	}
	if got, want := layers("runlayer:empty"), layers("busybox"); got != want || got == "" {
		t.Errorf("layers after a RUN that changed nothing: %s, busybox has %s", got, want)
	}
	if out, _, _ := d.berth(t, "history", "--format", "{{.Size}} {{.CreatedBy}}", "runlayer:empty"); !strings.HasPrefix(out, "0B /bin/sh -c echo nothing changes") {
		t.Errorf("history of the empty RUN: %q", out)
	}
	d.berth(t, "create", "--name", "runlayer", "runlayer:2")
	for file, want := range map[string]string{"/etc/hostname": "from-image\n", "/etc/hosts": "10.9.9.9 img\n"} {
		out, errOut, err := d.berth(t, "cp", "runlayer:"+file, "-")
		if err != nil {
			t.Fatalf("cp %s: %v %s", file, err, errOut)
		}
		tr := tar.NewReader(strings.NewReader(out))
		if _, err := tr.Next(); err != nil {
			t.Fatalf("cp %s: %v", file, err)
		}
		b, _ := io.ReadAll(tr)
		if string(b) != want {
			t.Errorf("the image's %s after a RUN: %q, want %q", file, b, want)
		}
	}
}

// TestCopyFromKeepsOwners: COPY --from keeps the owners files have in the
// stage (or image) they come from, as docker's builders do; --chown still
// sets them, and a context file is root's.
func TestCopyFromKeepsOwners(t *testing.T) {
	d := newDaemon(t)
	dir := writeFiles(t, map[string]string{
		"ctx.txt": "from the context\n",
		"Dockerfile": "FROM busybox AS base\n" +
			"RUN mkdir /stage && echo secret > /stage/f && chown -R 123:456 /stage && chmod 600 /stage/f\n" +
			"FROM busybox\n" +
			"COPY --from=base /stage /dst\n" +
			"COPY --from=base --chown=7:8 /stage /dst2\n" +
			"COPY ctx.txt /ctx.txt\n" +
			"CMD stat -c '%n %u:%g %a' /dst /dst/f /dst2/f /ctx.txt\n",
	})
	if out, errOut, err := d.berth(t, "build", "-t", "owners:1", dir); err != nil {
		t.Fatalf("build: %v\n%s%s", err, out, errOut)
	}
	out, errOut, err := d.berth(t, "run", "--rm", "owners:1")
	want := "/dst 123:456 755\n/dst/f 123:456 600\n/dst2/f 7:8 600\n/ctx.txt 0:0 644\n"
	if err != nil || out != want {
		t.Errorf("owners after COPY --from: %v %q %s, want %q", err, out, errOut, want)
	}
}

// TestBuildCacheFrom: docker build --cache-from takes the steps of an
// image loaded from elsewhere (no build cache of its own here) instead of
// running them, as the legacy builder does: the RUN's output is the
// image's, and every step restored gives back the same image.
func TestBuildCacheFrom(t *testing.T) {
	d := newDaemon(t)
	dir := writeFiles(t, map[string]string{
		"f.txt":      "a file\n",
		"Dockerfile": "FROM busybox\nENV A=1\nRUN head -c 16 /dev/urandom | od -x > /rand\nCOPY f.txt /f.txt\nCMD [\"cat\", \"/rand\"]\n",
	})
	if out, errOut, err := d.berth(t, "build", "-t", "cf:1", dir); err != nil {
		t.Fatalf("build: %v\n%s%s", err, out, errOut)
	}
	inspect := func(ref, f string) string {
		out, _, _ := d.berth(t, "image", "inspect", "-f", f, ref)
		return strings.TrimSpace(out)
	}
	id := inspect("cf:1", "{{.Id}}")
	rand, _, _ := d.berth(t, "run", "--rm", "cf:1")
	archive := filepath.Join(t.TempDir(), "cf.tar")
	for _, args := range [][]string{{"save", "-o", archive, "cf:1"}, {"rmi", "cf:1"}, {"builder", "prune", "-af"}, {"load", "-i", archive}} {
		if out, errOut, err := d.berth(t, args...); err != nil {
			t.Fatalf("%v: %v\n%s%s", args, err, out, errOut)
		}
	}
	for _, c := range []struct {
		name string
		run  func(args ...string) (string, string, error)
	}{
		{"berth build", func(args ...string) (string, string, error) { return d.berth(t, append(args, dir)...) }},
		{"docker build", func(args ...string) (string, string, error) { return d.docker(t, dir, "", append(args, ".")...) }},
	} {
		out, errOut, err := c.run("build", "--cache-from", "cf:1", "-t", "cf:2")
		if err != nil {
			t.Fatalf("%s --cache-from: %v\n%s%s", c.name, err, out, errOut)
		}
		if strings.Count(out, "Using cache") != 4 || strings.Contains(out, "Running in") {
			t.Errorf("%s --cache-from: want all four steps from the cache, no RUN:\n%s", c.name, out)
		}
		if got := inspect("cf:2", "{{.Id}}"); got != id {
			t.Errorf("%s --cache-from made %s, want the loaded image %s", c.name, got, id)
		}
		if got, _, _ := d.berth(t, "run", "--rm", "cf:2"); got != rand {
			t.Errorf("%s --cache-from: /rand %q, want the loaded image's %q", c.name, got, rand)
		}
		d.berth(t, "rmi", "cf:2")
		d.berth(t, "builder", "prune", "-af")
	}
	// Without --cache-from the RUN runs again.
	if out, _, err := d.berth(t, "build", dir); err != nil || !strings.Contains(out, "Running in") {
		t.Errorf("build without --cache-from: %v, want the RUN to run:\n%s", err, out)
	}
}

// TestMaintainerNotInherited: an image's author is its own MAINTAINER's,
// not its base image's, as with dockerd.
func TestMaintainerNotInherited(t *testing.T) {
	d := newDaemon(t)
	base := writeFiles(t, map[string]string{"Dockerfile": "FROM busybox\nMAINTAINER someone@example.com\nRUN touch /x\n"})
	if out, errOut, err := d.berth(t, "build", "-t", "authored:1", base); err != nil {
		t.Fatalf("build: %v\n%s%s", err, out, errOut)
	}
	child := writeFiles(t, map[string]string{"Dockerfile": "FROM authored:1\nRUN touch /y\n"})
	if out, errOut, err := d.berth(t, "build", "-t", "authored:2", child); err != nil {
		t.Fatalf("build: %v\n%s%s", err, out, errOut)
	}
	for ref, want := range map[string]string{"authored:1": "someone@example.com", "authored:2": ""} {
		if out, _, _ := d.berth(t, "image", "inspect", "-f", "{{.Author}}", ref); strings.TrimSpace(out) != want {
			t.Errorf("%s author %q, want %q", ref, strings.TrimSpace(out), want)
		}
	}
}
