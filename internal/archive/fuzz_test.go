package archive

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzApply feeds arbitrary bytes to Apply: it must never panic and never
// write beside its root, whatever the bytes say.
func FuzzApply(f *testing.F) {
	if os.Geteuid() != 0 {
		f.Skip("skipping: Apply needs root to chown and mknod")
	}
	seeds := [][]entry{
		{dir("a/", 0o755), reg("a/b", "hello", 0o644), symlink("a/l", "../b"), hardlink("a/h", "a/b")},
		{symlink("link", "../outside"), reg("link/x", "pwned", 0o644)},
		{reg("../outside/x", "x", 0o644)},
		{reg("etc/.wh.passwd", "", 0o600), dir("opt/", 0o755), reg("opt/.wh..wh..opq", "", 0o600)},
		{symlink("l", "/"), hardlink("h", "l/etc/passwd")},
		{hardlink("x/y", "a/b"), reg("a/c", "c", 0o644), reg("a/.wh.b", "", 0o600)},
	}
	for _, s := range seeds {
		data := makeTar(f, s...)
		f.Add(data)
		f.Add(compress(f, Gzip, data))
		f.Add(compress(f, Zstd, data))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d := t.TempDir()
		root, outside := filepath.Join(d, "root"), filepath.Join(d, "outside")
		os.Mkdir(root, 0o755)
		os.Mkdir(outside, 0o755)
		// A lower layer, which Apply reads (copy-up, inherited modes) but
		// must never change.
		lower := filepath.Join(d, "lower")
		os.MkdirAll(filepath.Join(lower, "a"), 0o755)
		os.WriteFile(filepath.Join(lower, "a/b"), []byte("lower"), 0o644)
		// A hang is a failure too: panic so the fuzzer keeps the input.
		watchdog := time.AfterFunc(10*time.Second, func() { panic("Apply took more than 10s") })
		defer watchdog.Stop()
		for _, format := range []Format{FormatOverlay, FormatNative} {
			Apply(context.Background(), root, bytes.NewReader(data), ApplyOptions{Format: format, MaxSize: 1 << 20, Lowers: []string{lower}})
		}
		names, err := os.ReadDir(d)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, n := range names {
			got = append(got, n.Name())
		}
		if strings.Join(got, ",") != "lower,outside,root" {
			t.Fatalf("Apply wrote beside its root: %v", got)
		}
		assertEmpty(t, outside)
		var lowerFiles []string
		filepath.Walk(lower, func(p string, _ os.FileInfo, _ error) error { lowerFiles = append(lowerFiles, p); return nil })
		if b, _ := os.ReadFile(filepath.Join(lower, "a/b")); string(b) != "lower" || len(lowerFiles) != 3 {
			t.Fatalf("Apply changed the lower layer: %q, %v", b, lowerFiles)
		}
	})
}
