package engine

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	diff := d.mustDocker(t, "diff", "files")
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
}
