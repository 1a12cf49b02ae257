package apiimages

import (
	"archive/tar"
	"bytes"
	"strings"
	"testing"
)

// TestImportSizeIsDockers imports a root filesystem with a hard link and a
// symbolic link and checks the sizes docker shows: dockerd 20.10 (overlay2)
// reports 123464 for an import of these entries (measured 2026-11-27, and
// the same figures as berth for busybox, 1982915, and for a 30-layer image,
// 31457280): the file once,
// its hard link nothing, the symlink the length of its target, directories
// nothing; not the tar's or the stored blob's bytes.
func TestImportSizeIsDockers(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	prog := bytes.Repeat([]byte{0xa5}, 123457)
	for _, e := range []struct {
		h    tar.Header
		body []byte
	}{
		{tar.Header{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755}, nil},
		{tar.Header{Name: "bin/prog", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(prog))}, prog},
		{tar.Header{Name: "bin/hard", Typeflag: tar.TypeLink, Linkname: "bin/prog"}, nil},
		{tar.Header{Name: "bin/sym", Typeflag: tar.TypeSymlink, Linkname: "prog", Mode: 0o777}, nil},
		{tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755}, nil},
		{tar.Header{Name: "etc/x", Typeflag: tar.TypeReg, Mode: 0o644, Size: 3}, []byte("hi\n")},
	} {
		if err := tw.WriteHeader(&e.h); err != nil {
			t.Fatal(err)
		}
		tw.Write(e.body)
	}
	tw.Close()

	d := startDaemon(t, "")
	c := newCLI(t, d)
	r := c.runIn(buf.Bytes(), "import", "-", "sizes/imp:1")
	if r.code != 0 {
		t.Fatalf("docker import: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	const want = 123464
	if size, _ := inspectJSON(t, c, "sizes/imp:1")["Size"].(float64); size != want {
		t.Errorf("inspect Size = %v, want %d as dockerd reports", size, want)
	}
	if got := strings.TrimSpace(c.ok("images", "--format", "{{.Size}}", "sizes/imp:1").stdout); got != "123kB" {
		t.Errorf("images SIZE = %q, want 123kB", got)
	}
	if got := strings.TrimSpace(c.ok("history", "--format", "{{.Size}}", "sizes/imp:1").stdout); got != "123kB" {
		t.Errorf("history SIZE = %q, want 123kB", got)
	}
}
