package runtime

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// resolveModes runs f with openat2 and with the component walk.
func resolveModes(t *testing.T, f func(t *testing.T)) {
	for _, mode := range []string{"openat2", "walk"} {
		t.Run(mode, func(t *testing.T) {
			prev := openat2Disabled.Load()
			openat2Disabled.Store(mode == "walk")
			t.Cleanup(func() { openat2Disabled.Store(prev) })
			f(t)
		})
	}
}

// resolvedPath is the real path behind an O_PATH descriptor.
func resolvedPath(t *testing.T, fd int) string {
	t.Helper()
	p, err := os.Readlink(procFdPath(fd))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestOpenInRootStaysInside(t *testing.T) {
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(base, "root")
	outside := filepath.Join(base, "outside")
	for _, d := range []string{"root/a/b", "root" + outside + "/in", "outside/in"} {
		if err := os.MkdirAll(filepath.Join(base, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"root/abs":      outside,                                 // absolute: resolved from the root
		"root/rel":      "../../../../../../../.." + outside,     // too many "..": clamped at the root
		"root/a/up":     "../..",                                 // back to the root
		"root/a/b/loop": "loop",                                  // ELOOP
		"root/dangle":   outside + "/new",                        // missing target, created inside
		"root/file":     "",                                      // a regular file, not a link
		"root/chain":    "abs/in",                                // link through a link
		"root/self":     "/proc/self/root",                       // magic link on the host: not followed
		"root/a/dotdot": "../../../../..",                        // never above the root
		"root/a/dir2":   "b/../../a/./b",                         // dots inside a target
		"root/a/file2":  "../file",                               // link to a file
		"root/a/abs2":   "/a/b",                                  // absolute inside
		"root/trail":    outside + "/in/",                        // trailing slash
		"root/parent":   "/..",                                   // ".." of the root is the root
		"root/deep":     strings.Repeat("../", 50) + "etc",       // deep clamp
		"root/etc":      "",                                      // placeholder dir
		"root/sneaky":   "a/up/a/up/a/up/../../../../" + outside, // mixed
	}
	for l, target := range links {
		p := filepath.Join(base, l)
		switch l {
		case "root/file":
			if err := os.WriteFile(p, []byte("f"), 0o644); err != nil {
				t.Fatal(err)
			}
		case "root/etc":
			if err := os.Mkdir(p, 0o755); err != nil {
				t.Fatal(err)
			}
		default:
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
		}
	}
	rootFd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(rootFd) })
	in := func(p string) string { return filepath.Join(root, p) }

	resolveModes(t, func(t *testing.T) {
		for _, tc := range []struct {
			path    string
			create  createKind
			want    string // real path, or "" when an error is expected
			wantErr error
		}{
			{"/", createNone, root, nil},
			{"..", createNone, root, nil},
			{"../../..", createNone, root, nil},
			{"/abs/in", createNone, in(outside + "/in"), nil},
			{"rel/in", createNone, in(outside + "/in"), nil},
			{"/a/up/a/b", createNone, in("a/b"), nil},
			{"a/b/loop", createNone, "", unix.ELOOP},
			{"chain", createNone, in(outside + "/in"), nil},
			{"a/dotdot", createNone, root, nil},
			{"a/dir2", createNone, in("a/b"), nil},
			{"a/file2", createNone, in("file"), nil},
			{"a/abs2", createNone, in("a/b"), nil},
			{"trail", createNone, in(outside + "/in"), nil},
			{"parent", createNone, root, nil},
			{"deep", createNone, in("etc"), nil},
			{"sneaky", createNone, in(outside), nil},
			{"file/x", createNone, "", unix.ENOTDIR},
			{"missing", createNone, "", unix.ENOENT},
			{"self", createNone, "", unix.ENOENT}, // /proc/self/root does not exist inside root
		} {
			fd, err := openInRoot(rootFd, tc.path, tc.create)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Errorf("%s: error %v, want %v", tc.path, err, tc.wantErr)
				}
				if err == nil {
					unix.Close(fd)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s: %v", tc.path, err)
				continue
			}
			if got := resolvedPath(t, fd); got != tc.want {
				t.Errorf("%s resolves to %s, want %s", tc.path, got, tc.want)
			}
			unix.Close(fd)
		}
	})

	t.Run("create", func(t *testing.T) {
		resolveModes(t, func(t *testing.T) {
			mode := "walk"
			if !openat2Disabled.Load() {
				mode = "openat2"
			}
			for _, tc := range []struct {
				path   string
				create createKind
				want   string
				typ    uint32
			}{
				{"/dangle/d-" + mode + "/e", createDir, in(outside + "/new/d-" + mode + "/e"), unix.S_IFDIR},
				{"/abs/f-" + mode, createFile, in(outside + "/f-" + mode), unix.S_IFREG},
				{"/x-" + mode + "/../y-" + mode, createDir, in("y-" + mode), unix.S_IFDIR},
				{"rel/g-" + mode + "/h", createFile, in(outside + "/g-" + mode + "/h"), unix.S_IFREG},
			} {
				fd, err := openInRoot(rootFd, tc.path, tc.create)
				if err != nil {
					t.Errorf("create %s: %v", tc.path, err)
					continue
				}
				var st unix.Stat_t
				if err := unix.Fstat(fd, &st); err != nil {
					t.Fatal(err)
				}
				if got := resolvedPath(t, fd); got != tc.want || st.Mode&unix.S_IFMT != tc.typ {
					t.Errorf("create %s made %s (mode %#o), want %s", tc.path, got, st.Mode, tc.want)
				}
				unix.Close(fd)
			}
		})
	})
	// Nothing was created outside the root.
	ents, err := os.ReadDir(outside)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != "in" {
		t.Errorf("the host directory outside the root changed: %v", ents)
	}
}

// TestOpenInRootRace swaps a path component between a directory and a
// symlink to the host while resolving through it: every result must lie
// inside the root.
func TestOpenInRootRace(t *testing.T) {
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(base, "root")
	outside := filepath.Join(base, "outside")
	for _, d := range []string{"root/real/target", "outside/target", "root" + outside + "/target"} {
		if err := os.MkdirAll(filepath.Join(base, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(root, "evil")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../../../../"+outside, filepath.Join(root, "evil-rel")); err != nil {
		t.Fatal(err)
	}
	rootFd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(rootFd) })

	resolveModes(t, func(t *testing.T) {
		var stop atomic.Bool
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			// "sw" flips between a real directory and each of the symlinks.
			sw := filepath.Join(root, "sw")
			for i := 0; !stop.Load(); i++ {
				link := []string{"real", "evil", "evil-rel"}[i%3]
				tmp := filepath.Join(root, "sw.tmp")
				os.Remove(tmp)
				if err := os.Symlink(link, tmp); err != nil {
					continue
				}
				os.Rename(tmp, sw)
			}
		}()
		defer func() { stop.Store(true); wg.Wait() }()
		for range 2000 {
			fd, err := openInRoot(rootFd, "sw/target", createNone)
			if err != nil {
				continue // a moment where sw was being replaced
			}
			got := resolvedPath(t, fd)
			unix.Close(fd)
			if !pathWithin(got, root) {
				t.Fatalf("resolved outside the root: %s", got)
			}
		}
	})
}

func TestParseMountOptions(t *testing.T) {
	o, err := parseMountOptions([]string{"rbind", "ro", "nosuid", "nodev", "rw", "rslave", "size=64m", "mode=755", "rro", "rnoatime", "noatime"})
	if err != nil {
		t.Fatal(err)
	}
	if o.flags != unix.MS_BIND|unix.MS_REC|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOATIME {
		t.Errorf("flags %#x", o.flags)
	}
	if o.cleared != unix.MS_RDONLY {
		t.Errorf("cleared %#x, want MS_RDONLY (rw came after ro)", o.cleared)
	}
	if !o.atime || len(o.prop) != 1 || o.prop[0] != unix.MS_SLAVE|unix.MS_REC {
		t.Errorf("atime %v prop %v", o.atime, o.prop)
	}
	if o.dataString() != "size=64m,mode=755" {
		t.Errorf("data %q", o.dataString())
	}
	if o.recSet != unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOATIME || o.recClr != unix.MOUNT_ATTR__ATIME {
		t.Errorf("recursive set %#x clr %#x", o.recSet, o.recClr)
	}
	if !o.needsRemount() {
		t.Error("nosuid on a bind needs a remount")
	}
	if o, _ := parseMountOptions([]string{"rbind", "rprivate"}); o.needsRemount() {
		t.Error("a plain rbind needs no remount")
	}
	if o, _ := parseMountOptions([]string{"ridmap"}); o.idmap != "ridmap" {
		t.Errorf("ridmap not recognised: %+v", o)
	}
	if o, err := parseMountOptions([]string{"tmpcopyup", "size=1m"}); err != nil || !o.tmpcopyup || o.dataString() != "size=1m" {
		t.Errorf("tmpcopyup: %+v %v, want it recognised and kept from the data", o, err)
	}
}

func TestParseMountInfoLine(t *testing.T) {
	m, err := parseMountInfoLine(`36 35 98:0 /mnt1 /mnt\040two rw,noatime master:1 shared:7 - ext3 /dev/root rw,errors=continue`)
	if err != nil {
		t.Fatal(err)
	}
	if m.id != 36 || m.parent != 35 || m.root != "/mnt1" || m.mountPoint != "/mnt two" || m.fsType != "ext3" ||
		m.source != "/dev/root" || m.superOptions != "rw,errors=continue" || !m.shared() {
		t.Errorf("parsed %+v", m)
	}
	if _, err := parseMountInfoLine("36 35 98:0 / /"); err == nil {
		t.Error("a truncated line parsed")
	}
	if c := cgroupControllers("rw,cpuacct,cpu,release_agent=/x"); c != "cpu,cpuacct" {
		t.Errorf("controllers %q", c)
	}
	if c := cgroupControllers("rw,xattr,name=systemd"); c != "name=systemd" {
		t.Errorf("controllers %q", c)
	}
}
