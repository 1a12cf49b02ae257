package archive

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/berth/berth/internal/testutil"
	"golang.org/x/sys/unix"
)

// truncateTimes sets every mtime under dir to its whole second, as a layer
// tar records it.
func truncateTimes(t *testing.T, dir string) {
	t.Helper()
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		var st unix.Stat_t
		unix.Lstat(p, &st)
		ts := []unix.Timespec{{Sec: st.Atim.Sec}, {Sec: st.Mtim.Sec}}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			t.Fatal(err)
		}
		return nil
	})
}

func TestDiffDirs(t *testing.T) {
	testutil.RequireRoot(t)
	base := makeTar(t,
		dir("etc/", 0o755), reg("etc/hostname", "old", 0o644), reg("etc/passwd", "root", 0o644), reg("etc/mode", "m", 0o644),
		dir("var/", 0o755), dir("var/lib/", 0o755), reg("var/lib/x", "x", 0o644), symlink("link", "etc/passwd"),
		dir("usr/", 0o755), reg("usr/same", "s", 0o644))
	d := t.TempDir()
	lower, upper, applied := filepath.Join(d, "lower"), filepath.Join(d, "upper"), filepath.Join(d, "applied")
	for _, p := range []string{lower, upper, applied} {
		os.Mkdir(p, 0o755)
		if err := apply(t, p, base, ApplyOptions{Format: FormatNative}); err != nil {
			t.Fatal(err)
		}
	}
	if ch, err := ChangesDirs(context.Background(), lower, upper); err != nil || len(ch) != 0 {
		t.Fatalf("two applies of one tar differ: %v, %v", ch, err)
	}
	// What a container does.
	os.WriteFile(filepath.Join(upper, "etc/hostname"), []byte("new"), 0o644)
	os.Remove(filepath.Join(upper, "etc/passwd"))
	os.Chmod(filepath.Join(upper, "etc/mode"), 0o600)
	os.RemoveAll(filepath.Join(upper, "var/lib"))
	os.WriteFile(filepath.Join(upper, "var/lib"), []byte("now a file"), 0o644)
	os.MkdirAll(filepath.Join(upper, "opt/app"), 0o755)
	os.WriteFile(filepath.Join(upper, "opt/app/bin"), []byte("bin"), 0o755)
	os.Remove(filepath.Join(upper, "link"))
	os.Symlink("etc/hostname", filepath.Join(upper, "link"))
	truncateTimes(t, upper)

	ch, err := ChangesDirs(context.Background(), lower, upper)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range ch {
		got = append(got, c.Kind.String()+" "+c.Path)
	}
	want := []string{"C /etc", "C /etc/hostname", "C /etc/mode", "D /etc/passwd", "C /link", "A /opt", "A /opt/app", "A /opt/app/bin", "C /var", "C /var/lib"}
	if !slices.Equal(got, want) {
		t.Errorf("ChangesDirs:\n got %q\nwant %q", got, want)
	}

	var layer bytes.Buffer
	if err := DiffDirs(context.Background(), lower, upper, &layer); err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	DiffDirs(context.Background(), lower, upper, &again)
	if !bytes.Equal(layer.Bytes(), again.Bytes()) {
		t.Error("two DiffDirs of the same trees differ")
	}
	for _, e := range readEntries(t, layer.Bytes()) {
		if e.Name == "usr/" || e.Name == "usr/same" {
			t.Errorf("unchanged %s is in the diff", e.Name)
		}
	}
	// Applying the diff to another copy of lower gives upper.
	if err := apply(t, applied, layer.Bytes(), ApplyOptions{Format: FormatNative}); err != nil {
		t.Fatal(err)
	}
	if ch, err := ChangesDirs(context.Background(), upper, applied); err != nil || len(ch) != 0 {
		t.Errorf("lower + DiffDirs(lower, upper) differs from upper: %v, %v", ch, err)
	}
}
