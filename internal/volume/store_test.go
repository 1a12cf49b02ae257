package volume

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

func newStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "volumes"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func names(vs []Volume) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Name)
	}
	return out
}

func TestCreateGetPersist(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	v, err := s.Create(ctx, "data", CreateOptions{Labels: map[string]string{"k": "v", "e": ""}})
	if err != nil {
		t.Fatal(err)
	}
	if v.Driver != "local" || v.Mountpoint != filepath.Join(s.Root(), "data", "_data") || v.CreatedAt.IsZero() || v.Labels["k"] != "v" {
		t.Fatalf("created %+v", v)
	}
	if st, err := os.Stat(v.Mountpoint); err != nil || !st.IsDir() {
		t.Fatalf("mountpoint: %v", err)
	}
	if err := os.WriteFile(filepath.Join(v.Mountpoint, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The same name again returns the existing volume, untouched.
	again, err := s.Create(ctx, "data", CreateOptions{Labels: map[string]string{"other": "1"}})
	if err != nil || !reflect.DeepEqual(again, v) {
		t.Fatalf("create again = %+v, %v; want %+v", again, err, v)
	}
	anon, err := s.Create(ctx, "", CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(anon.Name) || !anon.Anonymous() {
		t.Fatalf("anonymous volume %+v", anon)
	}
	// A crash between mkdir and the metadata rename leaves a directory
	// the next Open drops.
	if err := os.MkdirAll(filepath.Join(s.Root(), "half", "_data"), 0o755); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(s.Root())
	if err != nil {
		t.Fatal(err)
	}
	got, err := s2.Get(ctx, "data")
	if err != nil || !reflect.DeepEqual(got, v) {
		t.Fatalf("after reopen: %+v, %v; want %+v", got, err, v)
	}
	if b, err := os.ReadFile(filepath.Join(got.Mountpoint, "f")); err != nil || string(b) != "x" {
		t.Fatalf("content after reopen: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(s.Root(), "half")); !os.IsNotExist(err) {
		t.Errorf("half-created volume kept: %v", err)
	}
	all, _ := s2.List(ctx, nil)
	// List sorts by name; the anonymous volume's name is random hex.
	want := []string{anon.Name, "data"}
	sort.Strings(want)
	if !reflect.DeepEqual(names(all), want) {
		t.Errorf("list after reopen = %v, want %v", names(all), want)
	}
}

func TestCreateErrors(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	for _, tc := range []struct {
		name  string
		o     CreateOptions
		msg   string
		class func(error) bool
	}{
		{"a", CreateOptions{}, "create a: volume name is too short, names should be at least two alphanumeric characters", errdefs.IsInvalidArgument},
		{"a*b", CreateOptions{}, `create a*b: "a*b" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`, errdefs.IsInvalidArgument},
		{"_x", CreateOptions{}, `create _x: "_x" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`, errdefs.IsInvalidArgument},
		{"../../etc", CreateOptions{}, `create ../../etc: "../../etc" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`, errdefs.IsInvalidArgument},
		{"x1", CreateOptions{Options: map[string]string{"foo": "bar"}}, `create x1: invalid option: "foo"`, errdefs.IsInvalidArgument},
		{"x2", CreateOptions{Options: map[string]string{"type": "tmpfs"}}, `create x2: missing required option: "device"`, errdefs.IsInvalidArgument},
		{"x3", CreateOptions{Options: map[string]string{"device": "tmpfs"}}, `create x3: missing required option: "type"`, errdefs.IsInvalidArgument},
		{"zz", CreateOptions{Driver: "nope"}, `create zz: error looking up volume plugin nope: plugin "nope" not found`, errdefs.IsNotFound},
	} {
		_, err := s.Create(ctx, tc.name, tc.o)
		if err == nil || err.Error() != tc.msg || !tc.class(err) {
			t.Errorf("create %q %+v: %v, want %q", tc.name, tc.o, err, tc.msg)
		}
	}
	if vs, _ := s.List(ctx, nil); len(vs) != 0 {
		t.Errorf("refused creates left %v", names(vs))
	}
	if des, _ := os.ReadDir(s.Root()); len(des) != 0 {
		t.Errorf("refused creates left files in %s", s.Root())
	}
	if _, err := s.Get(ctx, "nosuch"); err == nil || err.Error() != "get nosuch: no such volume" || !errdefs.IsNotFound(err) {
		t.Errorf("get nosuch: %v", err)
	}
	if err := s.Remove(ctx, "nosuch", false); err == nil || err.Error() != "get nosuch: no such volume" || !errdefs.IsNotFound(err) {
		t.Errorf("remove nosuch: %v", err)
	}
	if err := s.Remove(ctx, "nosuch", true); err != nil {
		t.Errorf("remove -f nosuch: %v", err)
	}
}

func TestInUseConflict(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	v, _ := s.Create(ctx, "used", CreateOptions{})
	dir, err := s.Acquire(ctx, "used", "c2")
	if err != nil || dir != v.Mountpoint {
		t.Fatalf("acquire: %q, %v", dir, err)
	}
	if _, err := s.Acquire(ctx, "used", "c1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Acquire(ctx, "used", "c1"); err != nil { // a second mount of c1
		t.Fatal(err)
	}
	if _, err := s.Acquire(ctx, "nosuch", "c1"); !errdefs.IsNotFound(err) {
		t.Errorf("acquire nosuch: %v", err)
	}
	for _, force := range []bool{false, true} {
		err := s.Remove(ctx, "used", force)
		if err == nil || err.Error() != "remove used: volume is in use - [c1, c2]" || !errdefs.IsConflict(err) {
			t.Errorf("remove (force %v) of a volume in use: %v", force, err)
		}
	}
	if got, _ := s.List(ctx, Filters{"dangling": {"true"}}); len(got) != 0 {
		t.Errorf("dangling lists a volume in use: %v", names(got))
	}
	for _, ref := range []string{"c1", "c2", "c1"} {
		if err := s.Release(ctx, "used", ref); err != nil {
			t.Fatal(err)
		}
		if ref == "c2" {
			if refs := s.Refs("used"); !reflect.DeepEqual(refs, []string{"c1"}) {
				t.Errorf("refs after one release of c1's two = %v", refs)
			}
		}
	}
	if got, _ := s.List(ctx, Filters{"dangling": {"1"}}); !reflect.DeepEqual(names(got), []string{"used"}) {
		t.Errorf("dangling after release = %v", names(got))
	}
	if err := s.Remove(ctx, "used", false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.Root(), "used")); !os.IsNotExist(err) {
		t.Errorf("removed volume's directory: %v", err)
	}
}

func TestListFilters(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	s.Create(ctx, "alpha", CreateOptions{Labels: map[string]string{"tier": "db", "x": ""}})
	s.Create(ctx, "beta", CreateOptions{Labels: map[string]string{"tier": "web"}})
	s.Create(ctx, "gamma", CreateOptions{})
	s.Acquire(ctx, "gamma", "c1")
	for _, tc := range []struct {
		f    Filters
		want []string
	}{
		{nil, []string{"alpha", "beta", "gamma"}},
		{Filters{"name": {"ta"}}, []string{"beta"}},
		{Filters{"name": {"alp", "gam"}}, []string{"alpha", "gamma"}},
		{Filters{"name": {"^.e"}}, []string{"beta"}},
		{Filters{"name": {"a$"}}, []string{"alpha", "beta", "gamma"}},
		{Filters{"name": {"("}}, nil},
		{Filters{"label": {"tier"}}, []string{"alpha", "beta"}},
		{Filters{"label": {"tier=db"}}, []string{"alpha"}},
		{Filters{"label": {"tier", "x"}}, []string{"alpha"}},
		{Filters{"dangling": {"false"}}, []string{"gamma"}},
		{Filters{"dangling": {"true"}, "label": {"tier"}}, []string{"alpha", "beta"}},
		{Filters{"driver": {"local"}}, []string{"alpha", "beta", "gamma"}},
		{Filters{"driver": {"nope"}}, nil},
	} {
		got, err := s.List(ctx, tc.f)
		if err != nil || !reflect.DeepEqual(names(got), tc.want) {
			t.Errorf("list %v = %v, %v; want %v", tc.f, names(got), err, tc.want)
		}
	}
	for f, msg := range map[string]string{"bogus": "invalid filter 'bogus'", "dangling": "invalid filter 'dangling=maybe'"} {
		_, err := s.List(ctx, Filters{f: {"maybe"}})
		if err == nil || err.Error() != msg || !errdefs.IsInvalidArgument(err) {
			t.Errorf("filter %s: %v, want %q", f, err, msg)
		}
	}
}

func TestPrune(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	anon, _ := s.Create(ctx, "", CreateOptions{})
	anonUsed, _ := s.Create(ctx, "", CreateOptions{})
	s.Create(ctx, "named", CreateOptions{Labels: map[string]string{"keep": "yes"}})
	s.Create(ctx, "other", CreateOptions{})
	s.Acquire(ctx, anonUsed.Name, "c1")
	os.WriteFile(filepath.Join(anon.Mountpoint, "blob"), make([]byte, 1000), 0o644)

	rep, err := s.Prune(ctx, nil)
	if err != nil || !reflect.DeepEqual(rep.Deleted, []string{anon.Name}) || rep.SpaceReclaimed != 1000 {
		t.Fatalf("prune = %+v, %v; want only %s and 1000 bytes", rep, err, anon.Name)
	}
	rep, err = s.Prune(ctx, Filters{"all": {"true"}, "label!": {"keep"}})
	if err != nil || !reflect.DeepEqual(rep.Deleted, []string{"other"}) {
		t.Fatalf("prune all, label!=keep = %+v, %v", rep, err)
	}
	rep, err = s.Prune(ctx, Filters{"all": {"1"}, "label": {"keep=yes"}})
	if err != nil || !reflect.DeepEqual(rep.Deleted, []string{"named"}) {
		t.Fatalf("prune all, label=keep=yes = %+v, %v", rep, err)
	}
	left, _ := s.List(ctx, nil)
	if !reflect.DeepEqual(names(left), []string{anonUsed.Name}) {
		t.Errorf("left after prunes: %v (the volume in use must stay)", names(left))
	}
	if _, err := s.Prune(ctx, Filters{"until": {"1h"}}); err == nil || err.Error() != "invalid filter 'until'" {
		t.Errorf("prune until: %v", err)
	}
	if _, err := s.Prune(ctx, Filters{"dangling": {"true"}}); err == nil || !strings.Contains(err.Error(), "invalid filter 'dangling'") {
		t.Errorf("prune dangling: %v", err)
	}
}

// TestConcurrentUse runs creates, acquires, releases, lists and removes
// at once (meant for -race): references are never lost, and a volume is
// removed only when free.
func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	s.Create(ctx, "shared", CreateOptions{})
	done := make(chan error)
	for i := 0; i < 8; i++ {
		go func(i int) {
			ref := "c" + string(rune('a'+i))
			for j := 0; j < 50; j++ {
				if _, err := s.Acquire(ctx, "shared", ref); err != nil {
					done <- err
					return
				}
				if err := s.Remove(ctx, "shared", true); !errdefs.IsConflict(err) {
					done <- err
					return
				}
				s.List(ctx, Filters{"dangling": {"false"}})
				s.Create(ctx, "", CreateOptions{})
				if err := s.Release(ctx, "shared", ref); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}(i)
	}
	for i := 0; i < 8; i++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if refs := s.Refs("shared"); len(refs) != 0 {
		t.Errorf("refs left: %v", refs)
	}
	rep, err := s.Prune(ctx, nil)
	if err != nil || len(rep.Deleted) != 400 {
		t.Errorf("prune removed %d anonymous volumes, %v; want 400", len(rep.Deleted), err)
	}
	if err := s.Remove(ctx, "shared", false); err != nil {
		t.Error(err)
	}
}
