package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEvalSymlinks holds evalSymlinks to filepath.EvalSymlinks on a tree of
// links: absolute and relative, chained, through "..", dangling, looping,
// and through a file.
func TestEvalSymlinks(t *testing.T) {
	dir := t.TempDir()
	dir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	mk := func(p string) {
		if err := os.MkdirAll(filepath.Join(dir, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ln := func(target, p string) {
		if err := os.Symlink(target, filepath.Join(dir, p)); err != nil {
			t.Fatal(err)
		}
	}
	mk("a/b/c")
	mk("d")
	if err := os.WriteFile(filepath.Join(dir, "a/file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ln("b", "a/rel")
	ln(filepath.Join(dir, "a/b/c"), "abs")
	ln("../a/rel/c", "d/up")
	ln("abs", "chain")
	ln("nowhere", "dangling")
	ln("loop2", "loop1")
	ln("loop1", "loop2")
	ln("file", "a/tofile")
	ln("/", "d/root")
	for _, p := range []string{
		"", "a", "a/b/c", "a/rel", "a/rel/c", "abs", "abs/", "d/up", "d/up/..", "chain", "a/../d/up",
		"dangling", "loop1", "a/file", "a/file/", "a/file/x", "a/tofile", "a/tofile/x", "missing/x",
		"d/root", "d/root/..", "./a//b/./c/", "a/b/c/../../rel",
	} {
		full := dir + "/" + p
		want, wantErr := filepath.EvalSymlinks(full)
		got, err := evalSymlinks(full)
		if (err != nil) != (wantErr != nil) || got != want {
			t.Errorf("evalSymlinks(%q) = %q, %v; filepath.EvalSymlinks: %q, %v", p, got, err, want, wantErr)
		}
		if err != nil && wantErr != nil && err.Error() != wantErr.Error() && !strings.Contains(wantErr.Error(), "too many links") {
			t.Errorf("evalSymlinks(%q) error %q, filepath.EvalSymlinks's %q", p, err, wantErr)
		}
	}
	if got, err := evalSymlinks("/"); err != nil || got != "/" {
		t.Errorf(`evalSymlinks("/") = %q, %v`, got, err)
	}
}

func TestSplitPathList(t *testing.T) {
	for _, l := range []string{"", "/bin", "/bin:/usr/bin", ":/bin:", "::"} {
		got, want := splitPathList(l), filepath.SplitList(l)
		if strings.Join(got, "|") != strings.Join(want, "|") || len(got) != len(want) {
			t.Errorf("splitPathList(%q) = %q, filepath.SplitList: %q", l, got, want)
		}
	}
}
