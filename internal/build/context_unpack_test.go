package build

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

type tarEnt struct {
	name, body, link string
	typ              byte
	mode             int64
}

func mkTar(t *testing.T, ents ...tarEnt) *bytes.Buffer {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range ents {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Size: int64(len(e.body)), Linkname: e.link, ModTime: time.Unix(1600000000, 0)}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(e.body[:h.Size]))
	}
	tw.Close()
	return &b
}

func unpackForTest(t *testing.T, b *Builder, r *bytes.Buffer) (*buildContext, error) {
	t.Helper()
	dir := t.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	bc := &buildContext{dir: dir, root: root}
	return bc, b.unpackContext(context.Background(), bc, r)
}

// knownSum reports whether the builder remembers a hash for the file p
// as it is now, and that it is the file's content's.
func knownSum(t *testing.T, b *Builder, p string) (known, right bool) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	b.sums.mu.Lock()
	s, ok := b.sums.m[idOf(fi.Sys().(*syscall.Stat_t))]
	b.sums.mu.Unlock()
	data, _ := os.ReadFile(p)
	want := sha256.Sum256(data)
	return ok, bytes.Equal(s, want[:])
}

// The context tar is unpacked with modes, times, links and replaced
// entries as docker's, and its files are hashed as they stream in.
func TestUnpackContext(t *testing.T) {
	b := &Builder{}
	bc, err := unpackForTest(t, b, mkTar(t,
		tarEnt{name: "d/", typ: tar.TypeDir, mode: 0o750},
		tarEnt{name: "d/f", body: "first", mode: 0o4755},
		tarEnt{name: "big", body: strings.Repeat("x", 1<<20)},
		tarEnt{name: "d/f", body: "second"},
		tarEnt{name: "ln", typ: tar.TypeSymlink, link: "d/f"},
		tarEnt{name: "fifo", typ: tar.TypeFifo},
		tarEnt{name: "./.wh.kept", body: "a file, not a whiteout"},
	))
	if err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(bc.dir, "d/f")); got != "second" {
		t.Errorf("d/f = %q, want the later entry", got)
	}
	if fi, err := os.Stat(filepath.Join(bc.dir, "d")); err != nil || fi.Mode().Perm() != 0o750 || !fi.ModTime().Equal(time.Unix(1600000000, 0)) {
		t.Errorf("d: %v %v", fi.Mode(), err)
	}
	if fi, err := os.Stat(filepath.Join(bc.dir, "big")); err != nil || fi.Mode().Perm() != 0o644 || !fi.ModTime().Equal(time.Unix(1600000000, 0)) {
		t.Errorf("big: %v %v", fi, err)
	}
	if l, err := os.Readlink(filepath.Join(bc.dir, "ln")); err != nil || l != "d/f" {
		t.Errorf("ln -> %q %v", l, err)
	}
	if _, err := os.Lstat(filepath.Join(bc.dir, "fifo")); !os.IsNotExist(err) {
		t.Errorf("a fifo was made: %v", err)
	}
	if got := readFile(t, filepath.Join(bc.dir, ".wh.kept")); got != "a file, not a whiteout" {
		t.Errorf(".wh.kept = %q", got)
	}
	for _, f := range []string{"big", "d/f", ".wh.kept"} {
		if known, right := knownSum(t, b, filepath.Join(bc.dir, f)); !known || !right {
			t.Errorf("%s: hash remembered %v, right %v", f, known, right)
		}
	}
}

// A hard link to a hashed file changes the file's ctime: the remembered
// hash no longer applies and the file is hashed from disk, so a crafted
// tar cannot give a file another content's cache key.
func TestUnpackContextHardLinkForgetsHash(t *testing.T) {
	b := &Builder{}
	bc, err := unpackForTest(t, b, mkTar(t,
		tarEnt{name: "a", body: "content"},
		tarEnt{name: "b", typ: tar.TypeLink, link: "a"},
	))
	if err != nil {
		t.Fatal(err)
	}
	if known, _ := knownSum(t, b, filepath.Join(bc.dir, "a")); known {
		t.Errorf("a hash is remembered for a file changed by a later hard link")
	}
	cs := &copySpec{sums: &b.sums}
	fi, _ := os.Lstat(filepath.Join(bc.dir, "a"))
	cs.sources = []source{{host: filepath.Join(bc.dir, "a"), rel: "a", info: fi}}
	h1, err := cs.hash()
	if err != nil {
		t.Fatal(err)
	}
	// The same bytes from a plain directory give the same key.
	plain := t.TempDir()
	os.WriteFile(filepath.Join(plain, "a"), []byte("content"), 0o644)
	fi, _ = os.Lstat(filepath.Join(plain, "a"))
	h2, err := (&copySpec{sources: []source{{host: filepath.Join(plain, "a"), rel: "a", info: fi}}}).hash()
	if err != nil || h1 != h2 {
		t.Errorf("key of a hard-linked context file %s, of the same file on disk %s (%v)", h1, h2, err)
	}
}

// Names are resolved inside the context: ".." and symlinks cannot lead a
// later entry out of it.
func TestUnpackContextStaysInside(t *testing.T) {
	outside := t.TempDir()
	for name, tr := range map[string]*bytes.Buffer{
		"dotdot":        mkTar(t, tarEnt{name: "../../escaped", body: "x"}),
		"symlink dir":   mkTar(t, tarEnt{name: "out", typ: tar.TypeSymlink, link: outside}, tarEnt{name: "out/escaped", body: "x"}),
		"relative link": mkTar(t, tarEnt{name: "up", typ: tar.TypeSymlink, link: "../../../../../../" + outside}, tarEnt{name: "up/escaped", body: "x"}),
		"hard link":     mkTar(t, tarEnt{name: "h", typ: tar.TypeLink, link: "../../../../etc/passwd"}),
	} {
		b := &Builder{}
		bc, _ := unpackForTest(t, b, tr)
		if _, err := os.Lstat(filepath.Join(outside, "escaped")); err == nil {
			t.Fatalf("%s: a context entry was written outside the context", name)
		}
		if fi, err := os.Lstat(filepath.Join(bc.dir, "h")); err == nil && fi.Sys().(*syscall.Stat_t).Nlink > 1 {
			t.Errorf("%s: a hard link to a file outside the context was made", name)
		}
		if _, err := os.Lstat(filepath.Join(filepath.Dir(bc.dir), "escaped")); err == nil {
			t.Errorf("%s: written next to the context", name)
		}
	}
}
