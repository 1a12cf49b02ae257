package mount

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestWritableDir(t *testing.T) {
	for _, c := range []struct {
		ms      []Mount
		dir     string
		overlay bool
		err     string
	}{
		{[]Mount{{Type: "overlay", Source: "overlay", Options: []string{"lowerdir=/a:/b", "upperdir=/u", "workdir=/w"}}}, "/u", true, ""},
		{[]Mount{{Type: "bind", Source: "/s", Options: []string{"rbind", "rw"}}}, "/s", false, ""},
		{[]Mount{{Type: "bind", Source: "/s", Options: []string{"rbind", "ro"}}}, "", false, "read-only"},
		{[]Mount{{Type: "overlay", Source: "overlay", Options: []string{"lowerdir=/a:/b"}}}, "", false, "without upperdir"},
		{nil, "", false, "0 mounts"},
	} {
		dir, ov, err := WritableDir(c.ms)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("WritableDir(%+v) err = %v, want %q", c.ms, err, c.err)
			}
			continue
		}
		if err != nil || dir != c.dir || ov != c.overlay {
			t.Errorf("WritableDir(%+v) = %q, %v, %v", c.ms, dir, ov, err)
		}
	}
}

func TestLowerDirs(t *testing.T) {
	ov := []Mount{{Type: "overlay", Source: "overlay", Options: []string{"lowerdir=/a:/b", "upperdir=/u"}}}
	if got := LowerDirs(ov); len(got) != 2 || got[0] != "/a" || got[1] != "/b" {
		t.Errorf("LowerDirs = %q", got)
	}
	if got := LowerDirs([]Mount{{Type: "bind", Source: "/s"}}); got != nil {
		t.Errorf("LowerDirs of a bind = %q", got)
	}
}

func TestBindReadOnlyAndUnmountAll(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	d := t.TempDir()
	src, target := filepath.Join(d, "src"), filepath.Join(d, "target")
	os.Mkdir(src, 0o755)
	os.Mkdir(target, 0o755)
	ms := []Mount{{Type: "bind", Source: src, Options: []string{"rbind", "ro"}}, {Type: "bind", Source: src, Options: []string{"rbind", "rw"}}}
	if err := All(ms, target); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(target, unix.MNT_DETACH); unix.Unmount(target, unix.MNT_DETACH) })
	// The second, writable mount is on top.
	if err := os.WriteFile(filepath.Join(target, "f"), nil, 0o644); err != nil {
		t.Errorf("write through the top rw bind: %v", err)
	}
	if err := unix.Unmount(target, 0); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(target, "g"), nil, 0o644); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("write through the ro bind: %v, want read-only", err)
	}
	if err := UnmountAll(target); err != nil {
		t.Fatal(err)
	}
	if err := UnmountAll(target); err != nil {
		t.Errorf("UnmountAll of a plain directory: %v", err)
	}
	var st1, st2 unix.Stat_t
	unix.Stat(target, &st1)
	unix.Stat(d, &st2)
	if st1.Dev != st2.Dev {
		t.Error("target is still a mount point")
	}
}
