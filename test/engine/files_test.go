package engine

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/moby/client"
)

func TestCopyDiffExport(t *testing.T) {
	d := newDaemon(t)
	d.mustDocker(t, "run", "-d", "--name", "files", "busybox", "sh", "-c", "mkdir /data; echo made > /data/a; rm /etc/group; sleep 300")
	waitFor(t, "the container's writes", func() bool {
		out, _, _ := d.docker(t, "exec", "files", "cat", "/data/a")
		return out == "made\n"
	})
	src := filepath.Join(t.TempDir(), "hello.txt")
	if err := os.WriteFile(src, []byte("hello cp\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	d.mustDocker(t, "cp", src, "files:/tmp/hello.txt")
	if out := d.mustDocker(t, "exec", "files", "cat", "/tmp/hello.txt"); out != "hello cp\n" {
		t.Fatalf("cp into the container: %q", out)
	}
	dst := t.TempDir()
	d.mustDocker(t, "cp", "files:/data", dst)
	if b, err := os.ReadFile(filepath.Join(dst, "data", "a")); err != nil || string(b) != "made\n" {
		t.Fatalf("cp of a directory out of the container: %v %q", err, b)
	}
	if _, errOut, err := d.docker(t, "cp", "files:/nonexistent", dst); err == nil || !strings.Contains(errOut, "Could not find the file /nonexistent") {
		t.Fatalf("cp of a missing path: %v %s", err, errOut)
	}
	// GraphDriver.Data names the overlay's directories, as dockerd's
	// overlay2: what the container wrote is in UpperDir.
	upper := strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{.GraphDriver.Data.UpperDir}}", "files"))
	if b, err := os.ReadFile(filepath.Join(upper, "data", "a")); err != nil || string(b) != "made\n" {
		t.Errorf("GraphDriver.Data.UpperDir %q lacks the container's /data/a: %v", upper, err)
	}
	if got := d.mustDocker(t, "inspect", "-f", "{{if .GraphDriver.Data.LowerDir}}{{if .GraphDriver.Data.WorkDir}}ok{{end}}{{end}}", "files"); got != "ok\n" {
		t.Errorf("GraphDriver.Data lacks LowerDir or WorkDir")
	}
	// /etc/mtab links to /proc/mounts, as dockerd's init layer makes it.
	if out := d.mustDocker(t, "exec", "files", "readlink", "/etc/mtab"); out != "/proc/mounts\n" {
		t.Errorf("readlink /etc/mtab in the container: %q, want /proc/mounts", out)
	}
	if out := d.mustDocker(t, "exec", "files", "head", "-n", "1", "/etc/mtab"); !strings.HasPrefix(out, "overlay / overlay ") {
		t.Errorf("/etc/mtab's first line %q, want the overlay root", out)
	}
	diff := d.mustDocker(t, "diff", "files")
	if strings.Contains(diff, "/etc/mtab") {
		t.Errorf("diff shows the engine's /etc/mtab:\n%s", diff)
	}
	for _, want := range []string{"A /data\n", "A /data/a\n", "D /etc/group\n", "C /tmp\n", "A /tmp/hello.txt\n"} {
		if !strings.Contains(diff, want) {
			t.Errorf("diff lacks %q:\n%s", want, diff)
		}
	}
	d.mustDocker(t, "stop", "-t", "0", "files")
	// export of a stopped container mounts its rootfs for the time of the
	// export.
	out := d.mustDocker(t, "export", "files")
	names := map[string]bool{}
	tr := tar.NewReader(bytes.NewReader([]byte(out)))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("export is not a tar: %v", err)
		}
		names[h.Name] = true
	}
	for _, want := range []string{"bin/busybox", "bin/sh", "data/a", "tmp/hello.txt"} {
		if !names[want] {
			t.Errorf("export lacks %s", want)
		}
	}
	if names["etc/group"] {
		t.Error("export has the deleted /etc/group")
	}
	if len(out) > 8<<20 {
		t.Errorf("export is %d bytes: hard links were copied", len(out))
	}
	// What dockerd's init layer adds is there, also for a container that
	// never ran; diff shows none of it.
	d.mustDocker(t, "create", "--name", "fresh", "busybox")
	listed := map[string]bool{}
	tr = tar.NewReader(bytes.NewReader([]byte(d.mustDocker(t, "export", "fresh"))))
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		listed[strings.TrimSuffix(h.Name, "/")] = true
	}
	for _, want := range []string{".dockerenv", "dev/console", "dev/pts", "dev/shm", "etc/hostname", "etc/hosts", "etc/resolv.conf", "etc/mtab"} {
		if !listed[want] {
			t.Errorf("export of a created container lacks %s", want)
		}
	}
	if diff := d.mustDocker(t, "diff", "fresh"); diff != "" {
		t.Errorf("diff of a created container: %q", diff)
	}
	d.mustDocker(t, "start", "-a", "fresh")
	if diff := d.mustDocker(t, "diff", "fresh"); diff != "" {
		t.Errorf("diff of a container that ran true: %q", diff)
	}
}

func TestSizes(t *testing.T) {
	d := newDaemon(t)
	d.mustDocker(t, "run", "--name", "sized", "busybox", "sh", "-c", "head -c 300000 /dev/zero > /big")
	rw := strings.TrimSpace(d.mustDocker(t, "inspect", "-s", "-f", "{{.SizeRw}} {{.SizeRootFs}}", "sized"))
	var sizeRw, sizeRoot int64
	if _, err := fmt.Sscan(rw, &sizeRw, &sizeRoot); err != nil || sizeRw < 300000 || sizeRw > 310000 || sizeRoot < sizeRw+1000000 {
		t.Fatalf("inspect -s: %q (%v)", rw, err)
	}
	if ps := d.mustDocker(t, "ps", "-a", "-s", "--format", "{{.Size}}"); !strings.Contains(ps, "300kB") {
		t.Fatalf("ps -s: %q", ps)
	}
}

func TestBadInput(t *testing.T) {
	d := newDaemon(t)
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"run", "--name", "x", "busybox", "true"}, 125, "Invalid container name (x)"},
		{[]string{"run", "--rm", "nosuchimage:1", "true"}, 125, "nosuchimage"},
		{[]string{"inspect", "--type", "container", "nosuch"}, 1, "No such container: nosuch"},
		{[]string{"start", "nosuch"}, 1, "No such container: nosuch"},
		{[]string{"rm", "nosuch"}, 1, "No such container: nosuch"},
		{[]string{"stop", "nosuch"}, 1, "No such container: nosuch"},
		{[]string{"run", "--rm", "--memory", "1k", "busybox", "true"}, 125, "Minimum memory limit allowed is 6MB"},
		{[]string{"run", "--rm", "--cap-add", "NOPE", "busybox", "true"}, 125, "unknown capability"},
		{[]string{"run", "--rm", "--user", "nosuchuser", "busybox", "true"}, 125, "unable to find user nosuchuser"},
	} {
		_, errOut, err := d.docker(t, tc.args...)
		if exitCode(err) != tc.code || !strings.Contains(errOut, tc.msg) {
			t.Errorf("docker %s: exit %d, want %d; stderr %q, want %q", strings.Join(tc.args, " "), exitCode(err), tc.code, errOut, tc.msg)
		}
	}
	// Malformed JSON is a 400 naming the problem, and the daemon goes on.
	resp, body := rawRequest(t, d, "POST", "/containers/create", "application/json", "{not json")
	if resp != 400 || !strings.Contains(body, "invalid JSON") {
		t.Errorf("malformed create body: %d %s", resp, body)
	}
	if out := d.mustDocker(t, "run", "--rm", "busybox", "echo", "still-serving"); out != "still-serving\n" {
		t.Errorf("after bad input: %q", out)
	}
}

// rawRequest sends one HTTP request to the daemon's socket and returns the
// status and body.
func rawRequest(t *testing.T, d *daemon, method, path, contentType, body string) (int, string) {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", d.Sock)
	}}}
	req, err := http.NewRequest(method, "http://berth"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// docker cp goes through the container's mounts, as dockerd's does: into
// and out of a named volume and a bind mount, and /etc/hostname is the
// container's, not the image's.
func TestCpThroughMounts(t *testing.T) {
	d := newDaemon(t)
	bind := t.TempDir()
	if err := os.WriteFile(filepath.Join(bind, "hf"), []byte("from-host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "x.txt")
	if err := os.WriteFile(src, []byte("copied\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d.mustDocker(t, "run", "-d", "--name", "cpm", "--hostname", "cphost", "-v", bind+":/mnt/b", "-v", "cpvol:/mnt/v", "busybox", "sleep", "1000")
	t.Cleanup(func() { d.docker(t, "rm", "-f", "-v", "cpm"); d.docker(t, "volume", "rm", "-f", "cpvol") })
	d.mustDocker(t, "cp", src, "cpm:/mnt/v/")
	d.mustDocker(t, "cp", src, "cpm:/mnt/b/x2")
	if out := d.mustDocker(t, "exec", "cpm", "cat", "/mnt/v/x.txt", "/mnt/b/x2"); out != "copied\ncopied\n" {
		t.Errorf("files copied into the volume and the bind, seen in the container: %q", out)
	}
	if b, err := os.ReadFile(filepath.Join(bind, "x2")); err != nil || string(b) != "copied\n" {
		t.Errorf("the bind's host directory: %q, %v", b, err)
	}
	out := t.TempDir()
	d.mustDocker(t, "cp", "cpm:/mnt/b/hf", out)
	d.mustDocker(t, "cp", "cpm:/etc/hostname", out)
	for name, want := range map[string]string{"hf": "from-host\n", "hostname": "cphost\n"} {
		if b, err := os.ReadFile(filepath.Join(out, name)); err != nil || string(b) != want {
			t.Errorf("copied out %s: %q, %v; want %q", name, b, err, want)
		}
	}
	// Stopped, its volume and bind are reached all the same.
	d.mustDocker(t, "stop", "-t", "0", "cpm")
	d.mustDocker(t, "cp", src, "cpm:/mnt/v/stopped.txt")
	d.mustDocker(t, "cp", src, "cpm:/mnt/b/stopped.txt")
	if out := d.mustDocker(t, "run", "--rm", "-v", "cpvol:/v", "busybox", "cat", "/v/stopped.txt"); out != "copied\n" {
		t.Errorf("copied into the stopped container's volume: %q", out)
	}
	if b, err := os.ReadFile(filepath.Join(bind, "stopped.txt")); err != nil || string(b) != "copied\n" {
		t.Errorf("copied into the stopped container's bind: %q, %v", b, err)
	}
	d.mustDocker(t, "cp", "cpm:/mnt/b/hf", filepath.Join(out, "hf2"))
	if b, err := os.ReadFile(filepath.Join(out, "hf2")); err != nil || string(b) != "from-host\n" {
		t.Errorf("copied out of the stopped container's bind: %q, %v", b, err)
	}
	// ... and so are its hostname, hosts and resolv.conf (the image's
	// were copied out).
	d.mustDocker(t, "cp", "cpm:/etc/hostname", filepath.Join(out, "hostname2"))
	d.mustDocker(t, "cp", "cpm:/etc/hosts", filepath.Join(out, "hosts2"))
	if b, err := os.ReadFile(filepath.Join(out, "hostname2")); err != nil || string(b) != "cphost\n" {
		t.Errorf("/etc/hostname of the stopped container: %q, %v; want cphost", b, err)
	}
	cpmID := strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{.Id}}", "cpm"))
	own, _ := os.ReadFile(filepath.Join(d.DataRoot, "containers", cpmID, "hosts"))
	if b, err := os.ReadFile(filepath.Join(out, "hosts2")); err != nil || len(own) == 0 || string(b) != string(own) {
		t.Errorf("/etc/hosts of the stopped container: %q, %v; want its own %q", b, err, own)
	}
	if m, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(m), "/rootfs/mnt/") {
		t.Errorf("binds left mounted after the copies")
	}

	// A tree asked as "dir/." lands in a new destination directory under
	// its own names (the CLI renames each entry's first element).
	d.mustDocker(t, "run", "-d", "--name", "cpdot", "busybox", "sh", "-c", "mkdir -p /data/d/sub && echo a > /data/d/a.txt && echo b > /data/d/sub/b.txt && sleep 1000")
	t.Cleanup(func() { d.docker(t, "rm", "-f", "cpdot") })
	waitFor(t, "the files of cpdot", func() bool {
		_, _, err := d.docker(t, "exec", "cpdot", "test", "-e", "/data/d/sub/b.txt")
		return err == nil
	})
	dest := filepath.Join(t.TempDir(), "out")
	d.mustDocker(t, "cp", "cpdot:/data/d/.", dest)
	for name, want := range map[string]string{"a.txt": "a\n", "sub/b.txt": "b\n"} {
		if b, err := os.ReadFile(filepath.Join(dest, name)); err != nil || string(b) != want {
			t.Errorf("cp cpdot:/data/d/. %s: %s = %q, %v", dest, name, b, err)
		}
	}

	// A read-only container takes files into its writable volume, not
	// into its rootfs or a read-only bind.
	d.mustDocker(t, "run", "-d", "--name", "cpro", "--read-only", "-v", "cprovol:/vol", "-v", bind+":/robind:ro", "busybox", "sleep", "1000")
	t.Cleanup(func() { d.docker(t, "rm", "-f", "-v", "cpro"); d.docker(t, "volume", "rm", "-f", "cprovol") })
	d.mustDocker(t, "cp", src, "cpro:/vol/")
	if out := d.mustDocker(t, "exec", "cpro", "cat", "/vol/x.txt"); out != "copied\n" {
		t.Errorf("copied into the read-only container's volume: %q", out)
	}
	for dst, want := range map[string]string{"cpro:/tmp/": "container rootfs is marked read-only", "cpro:/robind/": "mounted volume is marked read-only"} {
		if _, errOut, err := d.docker(t, "cp", src, dst); err == nil || !strings.Contains(errOut, want) {
			t.Errorf("cp into %s: %v %q; want an error with %q", dst, err, errOut, want)
		}
	}
}

// TestWorkdirMadeAtCreate: the working directory exists once the container
// is created, as with dockerd: docker cp into it before the first start
// works, and diff shows it.
func TestWorkdirMadeAtCreate(t *testing.T) {
	d := newDaemon(t)
	d.mustDocker(t, "create", "--name", "wd", "-w", "/home/foo/bar", "busybox", "cat", "/home/foo/bar/in.txt")
	src := filepath.Join(t.TempDir(), "in.txt")
	if err := os.WriteFile(src, []byte("before start\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d.mustDocker(t, "cp", src, "wd:/home/foo/bar/")
	if out, errOut, err := d.docker(t, "start", "-a", "wd"); err != nil || out != "before start\n" {
		t.Errorf("start after cp into the working directory: %q %v %s", out, err, errOut)
	}
	if got := d.mustDocker(t, "diff", "wd"); !strings.Contains(got, "A /home/foo/bar") {
		t.Errorf("diff: %q, want the working directory added", got)
	}
	// A working directory that is a file fails the create, as dockerd's,
	// and leaves nothing.
	if _, errOut, err := d.docker(t, "create", "--name", "wdfile", "-w", "/etc/passwd", "busybox"); err == nil || !strings.Contains(errOut, "Cannot mkdir: /etc/passwd is not a directory") {
		t.Errorf("create -w /etc/passwd: %v %q", err, errOut)
	}
	if got := d.mustDocker(t, "ps", "-aq", "--filter", "name=wdfile"); got != "" {
		t.Errorf("the failed create left %q", got)
	}
}

// TestCpRoot: "/" of a running container is its root directory (it was
// /proc/<pid>/root, a link): copied out whole, and a file copied into it.
func TestCpRoot(t *testing.T) {
	d := newDaemon(t)
	d.mustDocker(t, "run", "-d", "--name", "cproot", "busybox", "sleep", "1000")
	t.Cleanup(func() { d.docker(t, "rm", "-f", "cproot") })
	src := filepath.Join(t.TempDir(), "in.txt")
	os.WriteFile(src, []byte("in\n"), 0o644)
	d.mustDocker(t, "cp", src, "cproot:/")
	if out := d.mustDocker(t, "exec", "cproot", "cat", "/in.txt"); out != "in\n" {
		t.Errorf("copied into /: %q", out)
	}
	for _, from := range []string{"cproot:/", "cproot:/."} {
		dest := filepath.Join(t.TempDir(), "out")
		d.mustDocker(t, "cp", from, dest)
		if b, err := os.ReadFile(filepath.Join(dest, "in.txt")); err != nil || string(b) != "in\n" {
			t.Errorf("cp %s %s: in.txt %q %v", from, dest, b, err)
		}
		if fi, err := os.Stat(filepath.Join(dest, "bin", "busybox")); err != nil || !fi.Mode().IsRegular() {
			t.Errorf("cp %s %s: bin/busybox %v", from, dest, err)
		}
	}
	// docker cp sends noOverwriteDirNonDir: a file never replaces a
	// directory, as with dockerd.
	d.mustDocker(t, "exec", "cproot", "sh", "-c", "mkdir -p /x/d && touch /x/d/keep")
	dfile := filepath.Join(t.TempDir(), "d")
	os.WriteFile(dfile, []byte("file\n"), 0o644)
	if _, errOut, err := d.docker(t, "cp", dfile, "cproot:/x/"); err == nil || !strings.Contains(errOut, "cannot overwrite directory") {
		t.Errorf("cp of a file over a directory: %v %q", err, errOut)
	}
	if _, _, err := d.docker(t, "exec", "cproot", "test", "-e", "/x/d/keep"); err != nil {
		t.Error("the directory's content is gone")
	}
}

// TestCpPathForms: the names docker gives the entries of a copy out of a
// container, by the form of the path: the last element as written (not
// the target of a symlink), "." for "dir/." and ".", "/" for "/"; a
// trailing "/" follows a symlink to its directory; a file with a
// trailing "/" is an error; and `docker cp c:. out` copies everything.
func TestCpPathForms(t *testing.T) {
	d := newDaemon(t)
	c := d.client(t)
	d.mustDocker(t, "run", "--name", "forms", "busybox", "sh", "-c",
		"mkdir -p /bar/quux && echo world > /bar/quux/baz && echo hello > /foo && "+
			"ln -s quux /bar/dirsymlink && ln -s / /bar/root && ln -s quux/baz /bar/filesymlink")
	for src, want := range map[string][]string{
		"/":                 {"/", "/foo", "/bar/quux/baz"},
		".":                 {"./", "./foo", "./bar/quux/baz"},
		"./":                {"./", "./foo"},
		"/.":                {"./", "./foo"},
		"/bar/root":         {"root"},
		"/bar/root/":        {"root/", "root/foo", "root/bar/quux/baz"},
		"/bar/root/.":       {"./", "./foo"},
		"bar/quux":          {"quux/", "quux/baz"},
		"bar/quux/":         {"quux/", "quux/baz"},
		"bar/quux/.":        {"./", "./baz"},
		"bar/quux/baz":      {"baz"},
		"bar/filesymlink":   {"filesymlink"},
		"bar/dirsymlink":    {"dirsymlink"},
		"bar/dirsymlink/":   {"dirsymlink/", "dirsymlink/baz"},
		"bar/dirsymlink/.":  {"./", "./baz"},
		"/bar/dirsymlink/.": {"./", "./baz"},
	} {
		res, err := c.CopyFromContainer(context.Background(), "forms", client.CopyFromContainerOptions{SourcePath: src})
		if err != nil {
			t.Errorf("copy %s: %v", src, err)
			continue
		}
		names := map[string]bool{}
		tr := tar.NewReader(res.Content)
		for {
			h, err := tr.Next()
			if err != nil {
				break
			}
			names[h.Name] = true
		}
		res.Content.Close()
		for _, w := range want {
			if !names[w] {
				t.Errorf("copy %s: no entry %q among %d", src, w, len(names))
			}
		}
	}
	if _, err := c.CopyFromContainer(context.Background(), "forms", client.CopyFromContainerOptions{SourcePath: "/foo/"}); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("copy of a file with a trailing slash: %v, want a \"not a directory\" error", err)
	}
	out := filepath.Join(t.TempDir(), "out")
	d.mustDocker(t, "cp", "forms:.", out)
	if b, err := os.ReadFile(filepath.Join(out, "bar", "quux", "baz")); err != nil || string(b) != "world\n" {
		t.Errorf("docker cp forms:. %s: bar/quux/baz %q %v", out, b, err)
	}
	x := filepath.Join(t.TempDir(), "x")
	d.mustDocker(t, "cp", "forms:/bar/dirsymlink/", x)
	if b, err := os.ReadFile(filepath.Join(x, "baz")); err != nil || string(b) != "world\n" {
		t.Errorf("docker cp forms:/bar/dirsymlink/ %s: baz %q %v", x, b, err)
	}
}
