package volume

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

func TestCopyUp(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	s := newStore(t)
	src := filepath.Join(t.TempDir(), "img", "var", "lib", "app")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(src, "sub"), 0o755))
	must(os.WriteFile(filepath.Join(src, "conf"), []byte("hello"), 0o640))
	must(os.Chown(filepath.Join(src, "conf"), 1000, 1001))
	must(os.WriteFile(filepath.Join(src, "sub", "suid"), []byte("#!"), 0o755))
	must(os.Chown(filepath.Join(src, "sub", "suid"), 0, 0))
	must(os.Chmod(filepath.Join(src, "sub", "suid"), os.ModeSetuid|0o755))
	must(os.Link(filepath.Join(src, "conf"), filepath.Join(src, "sub", "hard")))
	must(os.Symlink("../conf", filepath.Join(src, "sub", "link")))
	must(os.Symlink("/etc/shadow", filepath.Join(src, "abs")))
	must(unix.Mkfifo(filepath.Join(src, "fifo"), 0o600))
	must(os.Chown(src, 33, 33))
	must(os.Chmod(src, os.ModeSticky|0o770))
	xattrOK := unix.Lsetxattr(filepath.Join(src, "conf"), "user.berth", []byte("v1"), 0) == nil
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	must(os.Chtimes(filepath.Join(src, "conf"), old, old))

	v, _ := s.Create(ctx, "app", CreateOptions{})
	must(s.CopyUp(ctx, "app", src))
	dst := v.Mountpoint

	check := func(rel string, mode os.FileMode, uid, gid int) {
		t.Helper()
		st, err := os.Lstat(filepath.Join(dst, rel))
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			return
		}
		sys := st.Sys().(*syscall.Stat_t)
		if st.Mode() != mode || int(sys.Uid) != uid || int(sys.Gid) != gid {
			t.Errorf("%s: mode %v uid %d gid %d; want %v %d %d", rel, st.Mode(), sys.Uid, sys.Gid, mode, uid, gid)
		}
	}
	check(".", os.ModeDir|os.ModeSticky|0o770, 33, 33)
	check("conf", 0o640, 1000, 1001)
	check("sub/suid", os.ModeSetuid|0o755, 0, 0)
	check("fifo", os.ModeNamedPipe|0o600, 0, 0)
	if b, err := os.ReadFile(filepath.Join(dst, "sub", "link")); err != nil || string(b) != "hello" {
		t.Errorf("relative symlink read: %q, %v", b, err)
	}
	if target, err := os.Readlink(filepath.Join(dst, "abs")); err != nil || target != "/etc/shadow" {
		t.Errorf("absolute symlink copied as %q, %v (must be copied, not followed)", target, err)
	}
	var a, b unix.Stat_t
	must(unix.Stat(filepath.Join(dst, "conf"), &a))
	must(unix.Stat(filepath.Join(dst, "sub", "hard"), &b))
	if a.Ino != b.Ino {
		t.Error("hard link copied as two files")
	}
	if st, _ := os.Stat(filepath.Join(dst, "conf")); !st.ModTime().Equal(old) {
		t.Errorf("mtime %v, want %v", st.ModTime(), old)
	}
	if xattrOK {
		buf := make([]byte, 16)
		n, err := unix.Lgetxattr(filepath.Join(dst, "conf"), "user.berth", buf)
		if err != nil || string(buf[:n]) != "v1" {
			t.Errorf("xattr: %q, %v", buf[:n], err)
		}
	}

	// A volume with content is never overwritten; a missing source is no error.
	must(os.WriteFile(filepath.Join(src, "conf"), []byte("changed"), 0o640))
	must(os.WriteFile(filepath.Join(src, "new"), nil, 0o640))
	must(s.CopyUp(ctx, "app", src))
	if got, _ := os.ReadFile(filepath.Join(dst, "conf")); string(got) != "hello" {
		t.Errorf("conf = %q", got)
	}
	if _, err := os.Stat(filepath.Join(dst, "new")); !os.IsNotExist(err) {
		t.Error("copy-up into a volume that has content")
	}
	s.Create(ctx, "empty", CreateOptions{})
	must(s.CopyUp(ctx, "empty", filepath.Join(src, "nosuch")))
	if err := s.CopyUp(ctx, "nosuch", src); err == nil || err.Error() != "get nosuch: no such volume" {
		t.Errorf("copy-up into a missing volume: %v", err)
	}
	size, refs, err := s.Usage(ctx, "app")
	if err != nil || size != 7 || refs != 0 {
		// conf and sub/hard are one inode ("hello", 5 bytes), suid 2 bytes.
		t.Errorf("usage = %d bytes, %d refs, %v; want 7, 0", size, refs, err)
	}
}

func isMounted(t *testing.T, dir string) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && f[4] == dir {
			return true
		}
	}
	return false
}

func TestOptionMounts(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	s := newStore(t)
	hostDir := t.TempDir()
	os.WriteFile(filepath.Join(hostDir, "host-file"), []byte("h"), 0o644)
	tv, err := s.Create(ctx, "tv", CreateOptions{Options: map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=1m,noexec"}})
	if err != nil {
		t.Fatal(err)
	}
	bv, err := s.Create(ctx, "bv", CreateOptions{Options: map[string]string{"type": "none", "device": hostDir, "o": "bind,ro"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, v := range []Volume{tv, bv} {
			unix.Unmount(v.Mountpoint, unix.MNT_DETACH)
		}
	})
	for _, ref := range []string{"c1", "c2"} {
		if _, err := s.Acquire(ctx, "tv", ref); err != nil {
			t.Fatal(err)
		}
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(tv.Mountpoint, &fs); err != nil || fs.Type != unix.TMPFS_MAGIC || fs.Blocks*uint64(fs.Bsize) != 1<<20 {
		t.Fatalf("tmpfs volume: type %#x, %d bytes, %v", fs.Type, fs.Blocks*uint64(fs.Bsize), err)
	}
	s.Release(ctx, "tv", "c1")
	if !isMounted(t, tv.Mountpoint) {
		t.Fatal("unmounted while c2 still uses it")
	}
	s.Release(ctx, "tv", "c2")
	if isMounted(t, tv.Mountpoint) {
		t.Fatal("tmpfs still mounted after the last release")
	}

	dir, err := s.Acquire(ctx, "bv", "c1")
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "host-file")); err != nil || string(b) != "h" {
		t.Fatalf("bind volume content: %q, %v", b, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "w"), nil, 0o644); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("write into an o=bind,ro volume: %v", err)
	}
	s.Release(ctx, "bv", "c1")
	if isMounted(t, bv.Mountpoint) {
		t.Fatal("bind still mounted after release")
	}
	if err := s.Remove(ctx, "bv", false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(hostDir, "host-file")); err != nil {
		t.Errorf("removing a bind volume touched the host directory: %v", err)
	}

	// A mount that fails records no reference.
	s.Create(ctx, "badfs", CreateOptions{Options: map[string]string{"type": "nosuchfs", "device": "x"}})
	if _, err := s.Acquire(ctx, "badfs", "c1"); err == nil || !strings.Contains(err.Error(), `mount badfs (type "nosuchfs"`) {
		t.Errorf("acquire of a bad filesystem: %v", err)
	}
	if refs := s.Refs("badfs"); len(refs) != 0 {
		t.Errorf("failed acquire left refs %v", refs)
	}
}

func mountCount(t *testing.T, dir string) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[4] == dir {
			n++
		}
	}
	return n
}

// TestMountOutlivesDaemon reopens a store while a tmpfs volume is still
// mounted (as after a daemon crash with containers running): the next
// acquire does not stack a second tmpfs, and the last release unmounts.
func TestMountOutlivesDaemon(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	s := newStore(t)
	v, err := s.Create(ctx, "tv", CreateOptions{Options: map[string]string{"type": "tmpfs", "device": "tmpfs"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for isMounted(t, v.Mountpoint) {
			if unix.Unmount(v.Mountpoint, unix.MNT_DETACH) != nil {
				return
			}
		}
	})
	if _, err := s.Acquire(ctx, "tv", "c1"); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(v.Mountpoint, "live"), []byte("1"), 0o644)
	s2, err := Open(s.Root()) // the daemon restarts; s's references are gone
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Acquire(ctx, "tv", "c1"); err != nil {
		t.Fatal(err)
	}
	if n := mountCount(t, v.Mountpoint); n != 1 {
		t.Errorf("%d mounts on the volume after re-acquire, want 1", n)
	}
	if _, err := os.Stat(filepath.Join(v.Mountpoint, "live")); err != nil {
		t.Errorf("content of the live tmpfs: %v", err)
	}
	if err := s2.Release(ctx, "tv", "c1"); err != nil {
		t.Fatal(err)
	}
	if isMounted(t, v.Mountpoint) {
		t.Error("still mounted after the last release")
	}
}

func TestBindVolumeIntoDataRootRefused(t *testing.T) {
	ctx := context.Background()
	s := newStore(t) // <tmp>/volumes; the data root is <tmp>
	dataRoot := filepath.Dir(s.Root())
	os.MkdirAll(filepath.Join(dataRoot, "containers"), 0o700)
	for _, dev := range []string{filepath.Join(dataRoot, "containers"), s.Root(), dataRoot + "/x/../containers"} {
		_, err := s.Create(ctx, "bv", CreateOptions{Options: map[string]string{"type": "none", "device": dev, "o": "bind"}})
		if err == nil || !strings.HasPrefix(err.Error(), "create bv: device: invalid mount config") {
			t.Errorf("bind volume of %s: %v", dev, err)
		}
	}
	if _, err := s.Create(ctx, "ok", CreateOptions{Options: map[string]string{"type": "none", "device": t.TempDir(), "o": "bind"}}); err != nil {
		t.Errorf("bind volume of a host directory: %v", err)
	}
}
