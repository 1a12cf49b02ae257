package archive

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/testutil"
)

// dockerDirSize is what docker's overlay2 driver reports for a layer: the
// apparent size of every non-directory under dir, hard links once.
func dockerDirSize(t *testing.T, dir string) int64 {
	t.Helper()
	var size int64
	seen := map[uint64]bool{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		if st.Size == 0 || seen[st.Ino] {
			return nil
		}
		seen[st.Ino] = true
		size += st.Size
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return size
}

func TestApplyStatsSizeIsDockers(t *testing.T) {
	testutil.RequireRoot(t) // whiteouts are character devices
	layer := makeTar(t,
		dir("etc/", 0o755),
		reg("etc/hosts", "127.0.0.1 localhost\n", 0o644),
		reg("bin/busybox", string(bytes.Repeat([]byte("b"), 70000)), 0o755),
		symlink("bin/sh", "busybox"),
		symlink("bin/ls", "/bin/busybox"),
		hardlink("bin/hard", "bin/busybox"),
		reg("empty", "", 0o644),
		reg(".wh.gone", "", 0o644),
		reg("var/.wh..wh..opq", "", 0o644),
	)
	root, _ := sandbox(t)
	var st ApplyStats
	n, err := Apply(context.Background(), root, bytes.NewReader(layer), ApplyOptions{Stats: &st})
	if err != nil {
		t.Fatal(err)
	}
	want := int64(len("127.0.0.1 localhost\n") + 70000 + len("busybox") + len("/bin/busybox"))
	if st.Size != want {
		t.Errorf("Stats.Size = %d, want %d (files and link targets)", st.Size, want)
	}
	if got := dockerDirSize(t, root); st.Size != got {
		t.Errorf("Stats.Size = %d, docker's size of the unpacked directory is %d", st.Size, got)
	}
	if st.TarSize != n || n != int64(len(layer)) {
		t.Errorf("Stats.TarSize = %d, Apply returned %d, the tar is %d bytes", st.TarSize, n, len(layer))
	}

	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(layer)
	zw.Close()
	for name, data := range map[string][]byte{"plain": layer, "gzip": gz.Bytes()} {
		got, err := LayerSize(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got != want {
			t.Errorf("LayerSize(%s) = %d, want %d", name, got, want)
		}
	}
	if _, err := LayerSize(bytes.NewReader(gz.Bytes()[:gz.Len()/2])); err == nil {
		t.Error("LayerSize of a truncated gzip layer: no error")
	}
}

// A layer that expands past MaxLayerSize is refused with an error naming
// the limit, however few compressed bytes it has; one exactly at the limit
// is not.
func TestMaxLayerSize(t *testing.T) {
	old := MaxLayerSize
	t.Cleanup(func() { MaxLayerSize = old })
	body := string(make([]byte, 4<<20)) // zeros: gzip makes them a few KiB
	layer := makeTar(t, reg("zeros", body, 0o644))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(layer)
	zw.Close()

	MaxLayerSize = 1 << 20
	root, outside := sandbox(t)
	_, err := Apply(context.Background(), root, bytes.NewReader(gz.Bytes()), ApplyOptions{})
	if !errors.Is(err, ErrLayerTooLarge) || !errors.Is(err, ErrUnsafe) || !strings.Contains(err.Error(), "exceeds the limit of 1048576 bytes") {
		t.Fatalf("apply of %d compressed bytes expanding to %d with a limit of 1 MiB: %v", gz.Len(), len(layer), err)
	}
	assertEmpty(t, outside)
	if _, err := LayerSize(bytes.NewReader(gz.Bytes())); !errors.Is(err, ErrLayerTooLarge) {
		t.Errorf("LayerSize past the limit: %v", err)
	}

	MaxLayerSize = int64(len(layer))
	root2, _ := sandbox(t)
	if _, err := Apply(context.Background(), root2, bytes.NewReader(gz.Bytes()), ApplyOptions{}); err != nil {
		t.Errorf("apply of a layer exactly at the limit: %v", err)
	}
}
