package snapshot_test

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/berth/berth/internal/archive"
	"github.com/berth/berth/internal/snapshot"
	"github.com/berth/berth/internal/snapshot/mount"
	"golang.org/x/sys/unix"
)

// This test plays the image service and the engine over both snapshotters:
// layers unpacked with archive.Apply straight into the snapshot directory
// (no mount), shared by chain ID, a container's changes turned back into a
// layer with archive.Diff or DiffDirs, and that layer unpacked again.

type tarEntry struct {
	name, body string
	typ        byte
}

func layerTar(t *testing.T, entries ...tarEntry) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: 0o644, Size: int64(len(e.body)), ModTime: time.Unix(1700000000, 0)}
		if e.typ == tar.TypeDir {
			h.Mode = 0o755
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(e.body))
	}
	tw.Close()
	return b.Bytes()
}

func file(name, body string) tarEntry { return tarEntry{name, body, tar.TypeReg} }
func dirEntry(name string) tarEntry   { return tarEntry{name, "", tar.TypeDir} }

// unpack makes the committed snapshot chainID from layer on parent, unless
// it exists, as the image service does.
func unpack(t *testing.T, sn snapshot.Snapshotter, chainID, parent string, layer []byte) {
	t.Helper()
	ctx := context.Background()
	if _, err := sn.Stat(ctx, chainID); err == nil {
		return
	}
	key := "extract " + chainID
	ms, err := sn.Prepare(ctx, key, parent)
	if err != nil {
		t.Fatal(err)
	}
	dir, overlay, err := mount.WritableDir(ms)
	if err != nil {
		t.Fatal(err)
	}
	format := archive.FormatNative
	if overlay {
		format = archive.FormatOverlay
	}
	if _, err := archive.Apply(ctx, dir, bytes.NewReader(layer), archive.ApplyOptions{Format: format, Lowers: mount.LowerDirs(ms)}); err != nil {
		t.Fatal(err)
	}
	if err := sn.Commit(ctx, chainID, key); err != nil {
		t.Fatal(err)
	}
}

func readTree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		if fi.IsDir() {
			out = append(out, rel+"/")
			return nil
		}
		b, _ := os.ReadFile(p)
		out = append(out, rel+"="+string(b))
		return nil
	})
	return out
}

func mountView(t *testing.T, sn snapshot.Snapshotter, key, parent string) string {
	t.Helper()
	ms, err := sn.View(context.Background(), key, parent)
	if err != nil {
		t.Fatal(err)
	}
	return mountOn(t, ms)
}

func mountOn(t *testing.T, ms []mount.Mount) string {
	t.Helper()
	target := t.TempDir()
	if err := mount.All(ms, target); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := mount.UnmountAll(target); err != nil {
			t.Error(err)
		}
	})
	return target
}

func TestUnpackCommitRoundTrip(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	layers := [][]byte{
		layerTar(t, dirEntry("etc/"), file("etc/passwd", "root"), file("etc/shadow", "secret"), dirEntry("opt/"), file("opt/a", "a"), file("opt/b", "b")),
		layerTar(t, file("etc/.wh.shadow", ""), dirEntry("opt/"), file("opt/.wh..wh..opq", ""), file("opt/c", "c")),
		layerTar(t, file("etc/passwd", "root\nuser")),
	}
	want := []string{"etc/", "etc/passwd=root\nuser", "opt/", "opt/c=c"}
	for _, c := range []struct {
		name string
		new  func(string) (snapshot.Snapshotter, error)
	}{{"overlay", snapshot.NewOverlay}, {"native", snapshot.NewNative}} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			sn, err := c.new(filepath.Join(t.TempDir(), "root"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { sn.Close() })
			chain := []string{"sha256:1", "sha256:12", "sha256:123"}
			parent := ""
			for i, l := range layers {
				unpack(t, sn, chain[i], parent, l)
				unpack(t, sn, chain[i], parent, l) // a second image sharing the layer
				parent = chain[i]
			}
			n := 0
			sn.Walk(ctx, func(context.Context, snapshot.Info) error { n++; return nil })
			if n != 3 {
				t.Errorf("%d snapshots after unpacking 3 layers twice, want 3 (shared)", n)
			}
			if got := readTree(t, mountView(t, sn, "image", chain[2])); !slices.Equal(got, want) {
				t.Errorf("image view:\n got %q\nwant %q", got, want)
			}

			// A container changes files, then is committed as a new layer.
			ms, err := sn.Prepare(ctx, "container", chain[2])
			if err != nil {
				t.Fatal(err)
			}
			root := mountOn(t, ms)
			os.WriteFile(filepath.Join(root, "etc/hostname"), []byte("box"), 0o644)
			os.Remove(filepath.Join(root, "etc/passwd"))
			os.RemoveAll(filepath.Join(root, "opt"))
			os.MkdirAll(filepath.Join(root, "opt/new"), 0o755)
			container := readTree(t, root)

			var diff bytes.Buffer
			if c.name == "overlay" {
				upper, _, err := mount.WritableDir(ms)
				if err != nil {
					t.Fatal(err)
				}
				err = archive.Diff(ctx, mount.LowerDirs(ms), upper, &diff)
				if err != nil {
					t.Fatal(err)
				}
				ch, err := archive.Changes(ctx, mount.LowerDirs(ms), upper)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("changes: %v", ch)
			} else {
				image := mountView(t, sn, "image-lower", chain[2])
				active, _, err := mount.WritableDir(ms)
				if err != nil {
					t.Fatal(err)
				}
				if err := archive.DiffDirs(ctx, image, active, &diff); err != nil {
					t.Fatal(err)
				}
			}
			unpack(t, sn, "sha256:1234", chain[2], diff.Bytes())
			got := readTree(t, mountView(t, sn, "committed", "sha256:1234"))
			if !slices.Equal(got, container) {
				t.Errorf("committed container:\n got %q\nwant %q", got, container)
			}
			if slices.Contains(got, "etc/passwd=root\nuser") || !slices.Contains(got, "etc/hostname=box") {
				t.Errorf("committed layer lost the container's changes: %q", got)
			}
			// The opaque replacement of opt/ hides opt/c.
			if slices.Contains(got, "opt/c=c") {
				t.Errorf("opt/c survived the container's rm -r opt: %q", got)
			}
			var st unix.Stat_t
			if err := unix.Stat(filepath.Join(root, "opt/new"), &st); err != nil {
				t.Error(err)
			}
		})
	}
}
