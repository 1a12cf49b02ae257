// Package snapshottest owns the conformance suite every snapshot.Snapshotter
// implementation runs: Run mounts the mounts the snapshotter returns (so it
// needs root), checks what is visible through the layers, and asserts that
// no mount is left behind.
package snapshottest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/snapshot"
	"github.com/berth/berth/internal/snapshot/mount"
)

// NewFunc opens a snapshotter rooted at root (called again on the same root
// to test persistence, after Close).
type NewFunc func(root string) (snapshot.Snapshotter, error)

// Run runs the conformance suite against the snapshotters newSnapshotter
// makes. It skips unless run as root.
func Run(t *testing.T, newSnapshotter NewFunc) {
	if os.Geteuid() != 0 {
		t.Skip("skipping: the snapshot conformance suite mounts and needs root")
	}
	for _, c := range []struct {
		name string
		fn   func(*testing.T, *env)
	}{
		{"LayersAndWhiteouts", testLayersAndWhiteouts},
		{"RemoveRefusesParents", testRemoveRefusesParents},
		{"Errors", testErrors},
		{"Usage", testUsage},
		{"WalkAndLabels", testWalkAndLabels},
		{"Reopen", testReopen},
		{"ManyLayers", testManyLayers},
		{"ViewOfOneLayer", testViewOfOneLayer},
		{"ConcurrentUnpack", testConcurrentUnpack},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, newSnapshotter)
			c.fn(t, e)
		})
	}
}

type env struct {
	t     *testing.T
	ctx   context.Context
	dir   string // everything the test makes is under dir
	root  string
	sn    snapshot.Snapshotter
	newSn NewFunc
	n     int
}

func newEnv(t *testing.T, newSn NewFunc) *env {
	dir := t.TempDir()
	// Registered first, so it runs last, after every unmount.
	t.Cleanup(func() { checkNoMounts(t, dir) })
	e := &env{t: t, ctx: context.Background(), dir: dir, root: filepath.Join(dir, "root"), newSn: newSn}
	sn, err := newSn(e.root)
	if err != nil {
		t.Fatalf("new snapshotter: %v", err)
	}
	e.sn = sn
	t.Cleanup(func() { e.sn.Close() })
	return e
}

// checkNoMounts fails the test if anything is still mounted under dir.
func checkNoMounts(t *testing.T, dir string) {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Errorf("read mountinfo: %v", err)
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && (fields[4] == dir || strings.HasPrefix(fields[4], dir+"/")) {
			t.Errorf("leftover mount: %s", fields[4])
			unix.Unmount(fields[4], unix.MNT_DETACH)
		}
	}
}

// mountAt mounts ms on a new directory and returns it with a function that
// unmounts it (also called at cleanup).
func (e *env) mountAt(ms []mount.Mount) (string, func()) {
	e.t.Helper()
	e.n++
	target := filepath.Join(e.dir, "mnt"+strconv.Itoa(e.n))
	if err := os.Mkdir(target, 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := mount.All(ms, target); err != nil {
		e.t.Fatalf("mount %+v: %v", ms, err)
	}
	done := false
	unmount := func() {
		if done {
			return
		}
		done = true
		if err := mount.UnmountAll(target); err != nil {
			e.t.Errorf("unmount: %v", err)
		}
	}
	e.t.Cleanup(unmount)
	return target, unmount
}

func (e *env) prepare(key, parent string) []mount.Mount {
	e.t.Helper()
	ms, err := e.sn.Prepare(e.ctx, key, parent)
	if err != nil {
		e.t.Fatalf("Prepare(%q, %q): %v", key, parent, err)
	}
	return ms
}

func (e *env) commit(name, key string) {
	e.t.Helper()
	if err := e.sn.Commit(e.ctx, name, key); err != nil {
		e.t.Fatalf("Commit(%q, %q): %v", name, key, err)
	}
}

// layer makes a committed snapshot name on parent whose changes fn makes in
// the mounted active snapshot.
func (e *env) layer(name, parent string, fn func(dir string)) {
	e.t.Helper()
	key := "active-" + name
	dir, unmount := e.mountAt(e.prepare(key, parent))
	fn(dir)
	unmount()
	e.commit(name, key)
}

func write(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// tree lists the files under dir with their contents ("" for directories).
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		if d.IsDir() {
			out[rel+"/"] = ""
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out[rel] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameTree(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	var g, w []string
	for k, v := range got {
		g = append(g, k+"="+v)
	}
	for k, v := range want {
		w = append(w, k+"="+v)
	}
	slices.Sort(g)
	slices.Sort(w)
	if !slices.Equal(g, w) {
		t.Errorf("%s:\n got %q\nwant %q", what, g, w)
	}
}

func testLayersAndWhiteouts(t *testing.T, e *env) {
	e.layer("layer1", "", func(d string) {
		write(t, filepath.Join(d, "etc/hello"), "1")
		write(t, filepath.Join(d, "etc/gone"), "x")
		write(t, filepath.Join(d, "opt/old/a"), "a")
		write(t, filepath.Join(d, "opt/b"), "b")
	})
	e.layer("layer2", "layer1", func(d string) {
		if got, _ := os.ReadFile(filepath.Join(d, "etc/hello")); string(got) != "1" {
			t.Errorf("layer1's etc/hello seen from an active child = %q, want 1", got)
		}
		write(t, filepath.Join(d, "etc/hello"), "2")
		if err := os.Remove(filepath.Join(d, "etc/gone")); err != nil {
			t.Fatal(err)
		}
		// Replacing a directory makes it opaque in an overlay.
		if err := os.RemoveAll(filepath.Join(d, "opt")); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(d, "opt/new"), "n")
		write(t, filepath.Join(d, "added"), "+")
	})
	if in, err := e.sn.Stat(e.ctx, "layer2"); err != nil || in.Kind != snapshot.KindCommitted || in.Parent != "layer1" {
		t.Errorf("Stat(layer2) = %+v, %v; want committed with parent layer1", in, err)
	}
	if _, err := e.sn.Stat(e.ctx, "active-layer2"); !errdefs.IsNotFound(err) {
		t.Errorf("the active key is still there after Commit: %v", err)
	}

	ms, err := e.sn.View(e.ctx, "view2", "layer2")
	if err != nil {
		t.Fatal(err)
	}
	d, _ := e.mountAt(ms)
	sameTree(t, "view of layer2", tree(t, d), map[string]string{
		"etc/": "", "etc/hello": "2", "opt/": "", "opt/new": "n", "added": "+",
	})
	if err := os.WriteFile(filepath.Join(d, "x"), nil, 0o644); !errors.Is(err, unix.EROFS) {
		t.Errorf("writing into a view: %v, want EROFS", err)
	}

	ms, err = e.sn.View(e.ctx, "view1", "layer1")
	if err != nil {
		t.Fatal(err)
	}
	d, _ = e.mountAt(ms)
	sameTree(t, "view of layer1 (unchanged by its child)", tree(t, d), map[string]string{
		"etc/": "", "etc/hello": "1", "etc/gone": "x", "opt/": "", "opt/old/": "", "opt/old/a": "a", "opt/b": "b",
	})

	// A container on top: its changes stay its own.
	d, _ = e.mountAt(e.prepare("container", "layer2"))
	write(t, filepath.Join(d, "etc/hello"), "3")
	ms, _ = e.sn.Mounts(e.ctx, "view2")
	d2, _ := e.mountAt(ms)
	if got, _ := os.ReadFile(filepath.Join(d2, "etc/hello")); string(got) != "2" {
		t.Errorf("a container's write leaked into its image: etc/hello = %q", got)
	}
}

func testRemoveRefusesParents(t *testing.T, e *env) {
	e.layer("base", "", func(d string) { write(t, filepath.Join(d, "f"), "f") })
	e.prepare("child", "base")
	if err := e.sn.Remove(e.ctx, "base"); !errdefs.IsFailedPrecondition(err) || !strings.Contains(err.Error(), "child") {
		t.Errorf("Remove(base) with a child: %v, want FailedPrecondition naming the child", err)
	}
	if _, err := e.sn.Stat(e.ctx, "base"); err != nil {
		t.Errorf("refused Remove removed base: %v", err)
	}
	if err := e.sn.Remove(e.ctx, "child"); err != nil {
		t.Fatal(err)
	}
	if err := e.sn.Remove(e.ctx, "base"); err != nil {
		t.Errorf("Remove(base) once childless: %v", err)
	}
	if err := e.sn.Remove(e.ctx, "base"); !errdefs.IsNotFound(err) {
		t.Errorf("second Remove: %v, want NotFound", err)
	}
	// Nothing but the metadata remains.
	ents, _ := os.ReadDir(e.root)
	for _, en := range ents {
		if !strings.HasPrefix(en.Name(), "metadata.") {
			t.Errorf("left in the root after removing everything: %s", en.Name())
		}
	}
}

func testErrors(t *testing.T, e *env) {
	e.layer("base", "", func(string) {})
	e.prepare("active", "base")
	if _, err := e.sn.View(e.ctx, "view", "base"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what  string
		err   error
		check func(error) bool
	}{
		{"Prepare of a key in use", second(e.sn.Prepare(e.ctx, "active", "")), errdefs.IsAlreadyExists},
		{"Prepare on a committed name as key", second(e.sn.Prepare(e.ctx, "base", "")), errdefs.IsAlreadyExists},
		{"Prepare on a missing parent", second(e.sn.Prepare(e.ctx, "x", "missing")), errdefs.IsNotFound},
		{"Prepare on an active parent", second(e.sn.Prepare(e.ctx, "y", "active")), errdefs.IsFailedPrecondition},
		{"Prepare with an empty key", second(e.sn.Prepare(e.ctx, "", "")), errdefs.IsInvalidArgument},
		{"Commit of a view", e.sn.Commit(e.ctx, "c", "view"), errdefs.IsFailedPrecondition},
		{"Commit onto a used name", e.sn.Commit(e.ctx, "base", "active"), errdefs.IsAlreadyExists},
		{"Commit of a missing key", e.sn.Commit(e.ctx, "c", "missing"), errdefs.IsNotFound},
		{"Mounts of a missing key", second(e.sn.Mounts(e.ctx, "missing")), errdefs.IsNotFound},
		{"Mounts of a committed snapshot", second(e.sn.Mounts(e.ctx, "base")), errdefs.IsFailedPrecondition},
		{"Stat of a missing key", second(e.sn.Stat(e.ctx, "missing")), errdefs.IsNotFound},
	} {
		if c.err == nil || !c.check(c.err) {
			t.Errorf("%s: err = %v", c.what, c.err)
		}
	}
	// A failed Prepare leaves nothing behind.
	if _, err := e.sn.Stat(e.ctx, "x"); !errdefs.IsNotFound(err) {
		t.Errorf("failed Prepare left snapshot x: %v", err)
	}
}

func second[T any](_ T, err error) error { return err }

func testUsage(t *testing.T, e *env) {
	data := make([]byte, 1<<20)
	rand.Read(data)
	dir, unmount := e.mountAt(e.prepare("active", ""))
	if err := os.WriteFile(filepath.Join(dir, "big"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(dir, "big"), filepath.Join(dir, "big2")); err != nil {
		t.Fatal(err)
	}
	unmount()
	u, err := e.sn.Usage(e.ctx, "active")
	if err != nil {
		t.Fatal(err)
	}
	if u.Size < 1<<20 || u.Size > 2<<20 || u.Inodes < 2 {
		t.Errorf("usage of a 1 MiB file linked twice = %+v, want 1-2 MiB (counted once) and 2+ inodes", u)
	}
	e.commit("layer", "active")
	cu, err := e.sn.Usage(e.ctx, "layer")
	if err != nil || cu != u {
		t.Errorf("committed usage = %+v, %v; want %+v", cu, err, u)
	}
	// A child's usage counts only its own changes on an overlay, the whole
	// copy on a native snapshotter: at least the new file either way.
	dir, unmount = e.mountAt(e.prepare("child", "layer"))
	write(t, filepath.Join(dir, "small"), "s")
	unmount()
	if cu, err := e.sn.Usage(e.ctx, "child"); err != nil || cu.Inodes < 2 {
		t.Errorf("child usage = %+v, %v", cu, err)
	}
}

func testWalkAndLabels(t *testing.T, e *env) {
	if _, err := e.sn.Prepare(e.ctx, "a", "", snapshot.WithLabels(map[string]string{"k": "v"})); err != nil {
		t.Fatal(err)
	}
	if err := e.sn.Commit(e.ctx, "A", "a", snapshot.WithLabels(map[string]string{"k2": "v2"})); err != nil {
		t.Fatal(err)
	}
	e.prepare("b", "A")
	if _, err := e.sn.View(e.ctx, "c", "A"); err != nil {
		t.Fatal(err)
	}
	var got []string
	err := e.sn.Walk(e.ctx, func(_ context.Context, in snapshot.Info) error {
		got = append(got, fmt.Sprintf("%s %s parent=%s labels=%v", in.Name, in.Kind, in.Parent, in.Labels))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"A Committed parent= labels=map[k:v k2:v2]", "b Active parent=A labels=map[]", "c View parent=A labels=map[]"}
	if !slices.Equal(got, want) {
		t.Errorf("Walk:\n got %q\nwant %q", got, want)
	}
	stop := errors.New("stop")
	n := 0
	if err := e.sn.Walk(e.ctx, func(context.Context, snapshot.Info) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Errorf("Walk did not stop at the first error: %v after %d calls", err, n)
	}
}

func testReopen(t *testing.T, e *env) {
	e.layer("base", "", func(d string) { write(t, filepath.Join(d, "f"), "persisted") })
	e.prepare("active", "base")
	if _, err := e.newSn(e.root); err == nil {
		t.Error("a second snapshotter opened the root in use")
	}
	if err := e.sn.Close(); err != nil {
		t.Fatal(err)
	}
	// A crash between making a directory and recording it leaves an orphan.
	orphan := filepath.Join(e.root, "999999")
	if err := os.MkdirAll(filepath.Join(orphan, "fs"), 0o755); err != nil {
		t.Fatal(err)
	}
	sn, err := e.newSn(e.root)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	e.sn = sn
	if in, err := sn.Stat(e.ctx, "active"); err != nil || in.Kind != snapshot.KindActive || in.Parent != "base" {
		t.Errorf("after reopen Stat(active) = %+v, %v", in, err)
	}
	if _, err := os.Stat(orphan); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("orphan directory not removed on open: %v", err)
	}
	ms, err := sn.Mounts(e.ctx, "active")
	if err != nil {
		t.Fatal(err)
	}
	d, _ := e.mountAt(ms)
	if b, _ := os.ReadFile(filepath.Join(d, "f")); string(b) != "persisted" {
		t.Errorf("after reopen f = %q", b)
	}
}

// testManyLayers stacks more layers than one page of overlay options holds.
func testManyLayers(t *testing.T, e *env) {
	const n = 130
	parent := ""
	for i := range n {
		name := fmt.Sprintf("sha256:%064d", i) // chain IDs are this long
		key := "extract " + name
		ms := e.prepare(key, parent)
		dir, _, err := mount.WritableDir(ms)
		if err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dir, "layers", strconv.Itoa(i)), strconv.Itoa(i))
		write(t, filepath.Join(dir, "top"), strconv.Itoa(i))
		e.commit(name, key)
		parent = name
	}
	ms := e.prepare("container", parent)
	var optLen int
	for _, o := range ms[0].Options {
		optLen += len(o) + 1
	}
	t.Logf("%d layers: %d bytes of mount options", n, optLen)
	d, _ := e.mountAt(ms)
	ents, err := os.ReadDir(filepath.Join(d, "layers"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != n {
		t.Errorf("%d files visible through %d layers, want %d", len(ents), n, n)
	}
	if b, _ := os.ReadFile(filepath.Join(d, "top")); string(b) != strconv.Itoa(n-1) {
		t.Errorf("top = %q, want the highest layer's %d", b, n-1)
	}
}

func testViewOfOneLayer(t *testing.T, e *env) {
	e.layer("base", "", func(d string) { write(t, filepath.Join(d, "f"), "f") })
	ms, err := e.sn.View(e.ctx, "v", "base")
	if err != nil {
		t.Fatal(err)
	}
	d, _ := e.mountAt(ms)
	if b, _ := os.ReadFile(filepath.Join(d, "f")); !bytes.Equal(b, []byte("f")) {
		t.Errorf("f = %q", b)
	}
	if err := os.Remove(filepath.Join(d, "f")); !errors.Is(err, unix.EROFS) {
		t.Errorf("removing from a view: %v, want EROFS", err)
	}
	// An empty view.
	ms, err = e.sn.View(e.ctx, "empty", "")
	if err != nil {
		t.Fatal(err)
	}
	d, _ = e.mountAt(ms)
	if got := tree(t, d); len(got) != 0 {
		t.Errorf("empty view shows %v", got)
	}
}

// testConcurrentUnpack races as two pulls of images sharing a layer do: one
// key wins each Prepare, one Commit wins each name, and the losers clean up.
func testConcurrentUnpack(t *testing.T, e *env) {
	e.layer("base", "", func(d string) { write(t, filepath.Join(d, "f"), "f") })
	const n = 6
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { _, errs[i] = e.sn.Prepare(e.ctx, "same", "base") })
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errdefs.IsAlreadyExists(err):
			t.Errorf("racing Prepare of one key: %v, want AlreadyExists", err)
		}
	}
	if won != 1 {
		t.Errorf("%d racing Prepares of one key succeeded, want 1", won)
	}
	for i := range n {
		wg.Go(func() {
			key := "extract-" + strconv.Itoa(i)
			ms, err := e.sn.Prepare(e.ctx, key, "base")
			if err != nil {
				errs[i] = err
				return
			}
			dir, _, err := mount.WritableDir(ms)
			if err != nil {
				errs[i] = err
				return
			}
			if err := os.WriteFile(filepath.Join(dir, "layer"), []byte(key), 0o644); err != nil {
				errs[i] = err
				return
			}
			errs[i] = e.sn.Commit(e.ctx, "chain", key)
			if errdefs.IsAlreadyExists(errs[i]) {
				if err := e.sn.Remove(e.ctx, key); err != nil {
					t.Errorf("loser removes its key: %v", err)
				}
			}
		})
	}
	wg.Wait()
	won = 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errdefs.IsAlreadyExists(err):
			t.Errorf("racing Commit to one name: %v, want AlreadyExists", err)
		}
	}
	if won != 1 {
		t.Errorf("%d racing Commits to one name succeeded, want 1", won)
	}
	var names []string
	e.sn.Walk(e.ctx, func(_ context.Context, in snapshot.Info) error { names = append(names, in.Name); return nil })
	if want := []string{"base", "chain", "same"}; !slices.Equal(names, want) {
		t.Errorf("after the races: %q, want %q", names, want)
	}
}
