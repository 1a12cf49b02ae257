package runtime

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestPrepareRootfsBindMounts(t *testing.T) {
	e := newRootfsEnv(t)
	src := filepath.Join(e.base, "data")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "hello"), []byte("from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fileSrc := filepath.Join(e.base, "hostname")
	if err := os.WriteFile(fileSrc, []byte("box\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := minimalSpec(
		specs.Mount{Destination: "/data-ro", Type: "bind", Source: src, Options: []string{"rbind", "ro", "nosuid", "nodev"}},
		specs.Mount{Destination: "/data-rw", Type: "none", Source: src, Options: []string{"bind", "rw", "rprivate"}},
		specs.Mount{Destination: "/etc/deep/hostname", Type: "bind", Source: fileSrc, Options: []string{"bind", "ro"}},
	)
	r := e.mustRun(t, rootfsScenario{Spec: spec, Probes: []rootfsProbe{
		probe("read", "/data-ro/hello"),
		probe("write", "/data-ro/new"),
		probe("statfs", "/data-ro"),
		probe("write", "/data-rw/new"),
		probe("read", "/etc/deep/hostname"),
		probe("stat", "/etc/deep/hostname"),
		probe("write", "/etc/deep/hostname"),
		probe("exec", "", "/bin/cat", "/data-rw/new"),
	}})
	if r[0].Err != "" || r[0].Data != "from the host\n" {
		t.Errorf("read /data-ro/hello = %q, %s; want the host file", r[0].Data, r[0].Err)
	}
	if r[1].Err != "EROFS" {
		t.Errorf("write into ro bind: %q, want EROFS", r[1].Err)
	}
	if r[2].FsFlags&unix.ST_NOSUID == 0 || r[2].FsFlags&unix.ST_NODEV == 0 {
		t.Errorf("ro bind flags %#x, want nosuid and nodev", r[2].FsFlags)
	}
	if r[3].Err != "" {
		t.Errorf("write into rw bind: %s", r[3].Err)
	}
	if r[4].Data != "box\n" || r[5].Type != "file" {
		t.Errorf("file bind: read %q (%s), type %q; want the host file on a created file", r[4].Data, r[4].Err, r[5].Type)
	}
	if r[6].Err != "EROFS" {
		t.Errorf("write to ro file bind: %q, want EROFS", r[6].Err)
	}
	if r[7].Err != "" || r[7].Data != "written\n" {
		t.Errorf("busybox cat in the container: %q %s", r[7].Data, r[7].Err)
	}
	if b, err := os.ReadFile(filepath.Join(src, "new")); err != nil || string(b) != "written\n" {
		t.Errorf("host did not see the write through the rw bind: %q %v", b, err)
	}
}

func TestPrepareRootfsFilesystems(t *testing.T) {
	e := newRootfsEnv(t)
	spec := minimalSpec(
		specs.Mount{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
		specs.Mount{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=1m"}},
		specs.Mount{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		specs.Mount{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		specs.Mount{Destination: "/run/scratch", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=2m", "mode=1770", "noexec", "noatime"}},
		specs.Mount{Destination: "relative/dir", Type: "tmpfs", Source: "tmpfs"},
	)
	r := e.mustRun(t, rootfsScenario{Spec: spec, Probes: []rootfsProbe{
		probe("statfs", "/run/scratch"),
		probe("stat", "/run/scratch"),
		probe("statfs", "/proc"),
		probe("read", "/proc/1/cmdline"),
		probe("statfs", "/sys"),
		probe("stat", "/sys/kernel"),
		probe("write", "/sys/kernel/new"),
		probe("statfs", "/dev/shm"),
		probe("stat", "/dev/shm"),
		probe("statfs", "/dev/mqueue"),
		probe("statfs", "/dev/pts"),
		probe("exec", "", "/bin/sh", "-c", "echo ok > /run/scratch/f && cat /run/scratch/f"),
		probe("statfs", "/relative/dir"),
	}})
	if r[0].FsType != unix.TMPFS_MAGIC || r[0].FsBytes != 2<<20 || r[0].FsFlags&unix.ST_NOEXEC == 0 || r[0].FsFlags&unix.ST_NOATIME == 0 {
		t.Errorf("tmpfs size=2m,noexec,noatime: type %#x, %d bytes, flags %#x", r[0].FsType, r[0].FsBytes, r[0].FsFlags)
	}
	if r[1].Type != "dir" || r[1].Perm != 0o1770 {
		t.Errorf("tmpfs mode=1770: %s %#o", r[1].Type, r[1].Perm)
	}
	if r[2].FsType != unix.PROC_SUPER_MAGIC {
		t.Errorf("/proc type %#x, want proc", r[2].FsType)
	}
	// The container's PID 1 is the child itself, in its own PID namespace.
	if !strings.Contains(r[3].Data, "TestRootfsHelperProcess") {
		t.Errorf("/proc/1/cmdline = %q, want the container's init", r[3].Data)
	}
	if r[4].FsType != unix.SYSFS_MAGIC || r[4].FsFlags&unix.ST_RDONLY == 0 {
		t.Errorf("/sys: type %#x flags %#x, want read-only sysfs", r[4].FsType, r[4].FsFlags)
	}
	if r[5].Type != "dir" || r[6].Err != "EROFS" && r[6].Err != "EACCES" && r[6].Err != "ENOENT" {
		t.Errorf("/sys/kernel: %s; write: %s", r[5].Type, r[6].Err)
	}
	if r[7].FsType != unix.TMPFS_MAGIC || r[7].FsBytes != 1<<20 || r[8].Perm != 0o1777 {
		t.Errorf("/dev/shm: type %#x, %d bytes, mode %#o", r[7].FsType, r[7].FsBytes, r[8].Perm)
	}
	const mqueueMagic = 0x19800202
	if r[9].FsType != mqueueMagic {
		t.Errorf("/dev/mqueue type %#x, want mqueue", r[9].FsType)
	}
	if r[10].FsType != unix.DEVPTS_SUPER_MAGIC {
		t.Errorf("/dev/pts type %#x, want devpts", r[10].FsType)
	}
	if r[11].Err != "" || r[11].Data != "ok\n" {
		t.Errorf("shell in the container: %q %s", r[11].Data, r[11].Err)
	}
	if r[12].FsType != unix.TMPFS_MAGIC {
		t.Errorf("relative destination relative/dir: type %#x (%s), want a tmpfs at /relative/dir", r[12].FsType, r[12].Err)
	}
}

func TestPrepareRootfsDevices(t *testing.T) {
	e := newRootfsEnv(t)
	mode := os.FileMode(0o620)
	uid, gid := uint32(1000), uint32(1001)
	spec := minimalSpec(specs.Mount{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"newinstance", "ptmxmode=0666"}})
	spec.Linux.Devices = []specs.LinuxDevice{
		{Path: "/dev/mynull", Type: "c", Major: 1, Minor: 3, FileMode: &mode, UID: &uid, GID: &gid},
		{Path: "/dev/sub/loopy", Type: "b", Major: 7, Minor: 200},
		{Path: "/dev/fifo", Type: "p"},
		{Path: "/dev/zero", Type: "c", Major: 1, Minor: 5, FileMode: &mode},
	}
	r := e.mustRun(t, rootfsScenario{Spec: spec, Probes: []rootfsProbe{
		probe("stat", "/dev/null"),
		probe("stat", "/dev/zero"),
		probe("stat", "/dev/full"),
		probe("stat", "/dev/random"),
		probe("stat", "/dev/urandom"),
		probe("stat", "/dev/tty"),
		probe("stat", "/dev/mynull"),
		probe("stat", "/dev/sub/loopy"),
		probe("stat", "/dev/fifo"),
		probe("readlink", "/dev/ptmx"),
		probe("readlink", "/dev/fd"),
		probe("readlink", "/dev/stdin"),
		probe("readlink", "/dev/stdout"),
		probe("readlink", "/dev/stderr"),
		probe("exec", "", "/bin/sh", "-c", "echo gone > /dev/null && /bin/busybox head -c 4 /dev/zero | /bin/wc -c"),
	}})
	want := []struct {
		typ          string
		major, minor uint32
		perm         uint32
		uid, gid     uint32
	}{
		{"char", 1, 3, 0o666, 0, 0},
		{"char", 1, 5, 0o620, 0, 0}, // linux.devices overrides the default
		{"char", 1, 7, 0o666, 0, 0},
		{"char", 1, 8, 0o666, 0, 0},
		{"char", 1, 9, 0o666, 0, 0},
		{"char", 5, 0, 0o666, 0, 0},
		{"char", 1, 3, 0o620, 1000, 1001},
		{"block", 7, 200, 0o666, 0, 0},
		{"fifo", 0, 0, 0o666, 0, 0},
	}
	for i, w := range want {
		g := r[i]
		if g.Err != "" || g.Type != w.typ || g.Major != w.major || g.Minor != w.minor || g.Perm != w.perm || g.UID != w.uid || g.GID != w.gid {
			t.Errorf("%s: got %s %d:%d %#o %d:%d (%s), want %s %d:%d %#o %d:%d", g.Path,
				g.Type, g.Major, g.Minor, g.Perm, g.UID, g.GID, g.Err, w.typ, w.major, w.minor, w.perm, w.uid, w.gid)
		}
	}
	links := map[string]string{"/dev/ptmx": "pts/ptmx", "/dev/fd": "/proc/self/fd", "/dev/stdin": "/proc/self/fd/0",
		"/dev/stdout": "/proc/self/fd/1", "/dev/stderr": "/proc/self/fd/2"}
	for _, g := range r[9:14] {
		if g.Data != links[g.Path] {
			t.Errorf("%s -> %q (%s), want -> %q", g.Path, g.Data, g.Err, links[g.Path])
		}
	}
	if strings.TrimSpace(r[14].Data) != "4" {
		t.Errorf("using /dev/null and /dev/zero in the container: %q %s", r[14].Data, r[14].Err)
	}
}

// TestPrepareRootfsDevicesInRootfsDev: without a /dev mount the rootfs's own
// /dev gets the nodes, and a hostile symlink there is replaced, not followed.
func TestPrepareRootfsDevicesInRootfsDev(t *testing.T) {
	e := newRootfsEnv(t)
	victim := filepath.Join(e.outside, "victim")
	if err := os.WriteFile(victim, []byte("host data\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(e.rootfs, "dev/null")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.rootfs, "dev/keep"), []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := &specs.Spec{Root: &specs.Root{Path: "rootfs"}, Linux: &specs.Linux{}}
	e.mustRun(t, rootfsScenario{Spec: spec})
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(e.rootfs, "dev/null"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
		t.Errorf("rootfs dev/null is not the null device: mode %#o rdev %#x err %v", st.Mode, st.Rdev, err)
	}
	if b, err := os.ReadFile(victim); err != nil || string(b) != "host data\n" {
		t.Errorf("host file behind the symlink changed: %q %v", b, err)
	}
	if err := unix.Lstat(victim, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Mode&0o777 != 0o600 {
		t.Errorf("host file behind the symlink: mode %#o %v", st.Mode, err)
	}
	if b, _ := os.ReadFile(filepath.Join(e.rootfs, "dev/keep")); string(b) != "mine\n" {
		t.Errorf("rootfs /dev/keep changed: %q", b)
	}
	for _, n := range []string{"zero", "full", "random", "urandom", "tty"} {
		if err := unix.Lstat(filepath.Join(e.rootfs, "dev", n), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR {
			t.Errorf("rootfs dev/%s: mode %#o %v", n, st.Mode, err)
		}
	}
}

// TestPrepareRootfsSymlinkEscape plants symlinks pointing out of the rootfs
// (absolute, relative with too many "..", and ".." in the destination) and
// checks every mount and created directory lands inside the rootfs, both with
// openat2 and with the component-by-component fallback.
func TestPrepareRootfsSymlinkEscape(t *testing.T) {
	for _, noOpenat2 := range []bool{false, true} {
		name := "openat2"
		if noOpenat2 {
			name = "fallback"
		}
		t.Run(name, func(t *testing.T) {
			e := newRootfsEnv(t)
			// rootfs/etc -> <host>/outside (absolute); rootfs/rel -> ../../../../../../<host>/outside
			if err := os.RemoveAll(filepath.Join(e.rootfs, "etc")); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(e.outside, filepath.Join(e.rootfs, "etc")); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(strings.Repeat("../", 12)+strings.TrimPrefix(e.outside, "/"), filepath.Join(e.rootfs, "rel")); err != nil {
				t.Fatal(err)
			}
			// a dangling link whose target must be created inside the root
			if err := os.Symlink(filepath.Join(e.outside, "made"), filepath.Join(e.rootfs, "dangling")); err != nil {
				t.Fatal(err)
			}
			src := filepath.Join(e.base, "src")
			if err := os.MkdirAll(src, 0o755); err != nil {
				t.Fatal(err)
			}
			spec := minimalSpec(
				specs.Mount{Destination: "/etc/x", Type: "tmpfs", Source: "tmpfs"},
				specs.Mount{Destination: "/rel/y", Type: "bind", Source: src, Options: []string{"bind"}},
				specs.Mount{Destination: "/../../../z", Type: "tmpfs", Source: "tmpfs"},
				specs.Mount{Destination: "/dangling/w", Type: "tmpfs", Source: "tmpfs"},
			)
			r := e.mustRun(t, rootfsScenario{Spec: spec, NoOpenat2: noOpenat2, Stop: "prepare", Probes: []rootfsProbe{
				probe("mountinfo", ""),
			}})
			inside := filepath.Join(e.rootfs, e.outside)
			var got []string
			for _, m := range r[0].Mounts {
				mp := strings.Fields(m)[0]
				if pathWithin(mp, e.base) {
					got = append(got, mp)
				}
			}
			for _, want := range []string{
				filepath.Join(inside, "x"), filepath.Join(inside, "y"),
				filepath.Join(e.rootfs, "z"), filepath.Join(inside, "made/w"),
			} {
				if !slices.Contains(got, want) {
					t.Errorf("no mount at %s; mounts under the test dir: %v", want, got)
				}
			}
			for _, mp := range got {
				if !pathWithin(mp, e.rootfs) {
					t.Errorf("mount escaped the rootfs: %s", mp)
				}
			}
			if ents, _ := os.ReadDir(e.outside); len(ents) != 0 {
				t.Errorf("host directory %s got entries: %v", e.outside, ents)
			}
		})
	}
}

func TestEnterRootfsShowsOnlyContainerMounts(t *testing.T) {
	for _, noPivot := range []bool{false, true} {
		name := "pivot_root"
		if noPivot {
			name = "no-pivot"
		}
		t.Run(name, func(t *testing.T) {
			e := newRootfsEnv(t)
			if err := os.WriteFile(filepath.Join(e.rootfs, "marker"), []byte("container\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			spec := minimalSpec(specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs"})
			r := e.mustRun(t, rootfsScenario{Spec: spec, NoPivot: noPivot, Stop: "enter", Probes: []rootfsProbe{
				probe("mountinfo", ""),
				probe("read", "/marker"),
				probe("cwd", ""),
				probe("stat", e.base),
				probe("exec", "", "/bin/cat", "/marker"),
			}})
			var mps []string
			for _, m := range r[0].Mounts {
				mps = append(mps, strings.Fields(m)[0])
			}
			if !noPivot {
				// pivot_root detached the host's tree: only the container's mounts remain.
				want := []string{"/", "/proc", "/dev", "/tmp"}
				if !slices.Equal(mps, want) {
					t.Errorf("container mount table %v, want %v", mps, want)
				}
			} else {
				for _, mp := range []string{"/", "/proc", "/dev", "/tmp"} {
					if !slices.Contains(mps, mp) {
						t.Errorf("container mount table %v lacks %s", mps, mp)
					}
				}
				for _, m := range r[0].Mounts {
					if f := strings.Fields(m); f[1] == "proc" && f[0] != "/proc" || f[1] == "sysfs" {
						t.Errorf("host proc or sysfs still mounted after MS_MOVE: %s", m)
					}
				}
			}
			if r[1].Data != "container\n" || r[2].Data != "/" || r[3].Err != "ENOENT" || r[4].Data != "container\n" {
				t.Errorf("root is not the rootfs: /marker %q, cwd %q, host path %s: %s, cat: %q %s",
					r[1].Data, r[2].Data, e.base, r[3].Err, r[4].Data, r[4].Err)
			}
		})
	}
}

func TestFinalizeRootfs(t *testing.T) {
	e := newRootfsEnv(t)
	for _, d := range []string{"secret-dir", "ro-dir/sub", "data"} {
		if err := os.MkdirAll(filepath.Join(e.rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"secret-dir/key", "secret-file"} {
		if err := os.WriteFile(filepath.Join(e.rootfs, f), []byte("secret\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	spec := minimalSpec(
		specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs"},
		specs.Mount{Destination: "/ro-dir/sub", Type: "tmpfs", Source: "tmpfs"},
	)
	spec.Root.Readonly = true
	spec.Linux.MaskedPaths = []string{"/secret-dir", "/secret-file", "/proc/kcore", "/does/not/exist"}
	spec.Linux.ReadonlyPaths = []string{"/ro-dir", "/proc/sys", "/missing"}
	r := e.mustRun(t, rootfsScenario{Spec: spec, Probes: []rootfsProbe{
		probe("readdir", "/secret-dir"),
		probe("read", "/secret-dir/key"),
		probe("write", "/secret-dir/new"),
		probe("read", "/secret-file"),
		probe("write", "/secret-file"),
		probe("read", "/proc/kcore"),
		probe("write", "/ro-dir/new"),
		probe("write", "/ro-dir/sub/new"),
		probe("write", "/proc/sys/kernel/hostname"),
		probe("write", "/new-at-root"),
		probe("write", "/data/new"),
		probe("write", "/tmp/new"),
		probe("exec", "", "/bin/sh", "-c", "echo x > /tmp/f && /bin/cat /tmp/f"),
	}})
	if r[0].Data != "" || r[1].Err != "ENOENT" || r[2].Err != "EROFS" {
		t.Errorf("masked dir: entries %q, read key: %s, write: %s", r[0].Data, r[1].Err, r[2].Err)
	}
	if r[3].Err != "" || r[3].Data != "" {
		t.Errorf("masked file reads %q (%s), want empty", r[3].Data, r[3].Err)
	}
	if r[4].Err != "" {
		t.Errorf("write to a masked file (/dev/null): %s", r[4].Err)
	}
	if r[5].Data != "" {
		t.Errorf("masked /proc/kcore gives %d bytes", len(r[5].Data))
	}
	for _, i := range []int{6, 7, 8, 9, 10} {
		if r[i].Err != "EROFS" {
			t.Errorf("write %s: %q, want EROFS", r[i].Path, r[i].Err)
		}
	}
	if r[11].Err != "" || r[12].Data != "x\n" {
		t.Errorf("tmpfs under a read-only root must stay writable: %s, %q %s", r[11].Err, r[12].Data, r[12].Err)
	}
	if b, _ := os.ReadFile(filepath.Join(e.rootfs, "secret-dir/key")); string(b) != "secret\n" {
		t.Errorf("masking changed the file: %q", b)
	}
}

func TestMountConsole(t *testing.T) {
	e := newRootfsEnv(t)
	spec := minimalSpec(specs.Mount{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"newinstance", "ptmxmode=0666", "mode=0620"}})
	res := e.run(t, rootfsScenario{Spec: spec, Console: true, Probes: []rootfsProbe{
		probe("stat", "/dev/console"),
		probe("stat", "/dev/pts/0"),
	}})
	if res.Error != "" {
		t.Fatal(res.Error)
	}
	c, p := res.Results[0], res.Results[1]
	if res.Console != "/dev/pts/0" || c.Type != "char" || c.Major != p.Major || c.Minor != p.Minor {
		t.Errorf("/dev/console is %s %d:%d, want the pty slave %s %d:%d", c.Type, c.Major, c.Minor, res.Console, p.Major, p.Minor)
	}
}

func TestPrepareRootfsRefusals(t *testing.T) {
	e := newRootfsEnv(t)
	src := filepath.Join(e.base, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		m    specs.Mount
		want string
	}{
		{"idmap", specs.Mount{Destination: "/x", Type: "bind", Source: src, Options: []string{"rbind", "idmap"}}, `"idmap"`},
		{"uidMappings", specs.Mount{Destination: "/x", Type: "bind", Source: src, Options: []string{"rbind"},
			UIDMappings: []specs.LinuxIDMapping{{HostID: 1000, Size: 1}}}, "id-mapped"},
		{"missing source", specs.Mount{Destination: "/x", Type: "bind", Source: filepath.Join(e.base, "nope")}, "nope"},
		{"no type", specs.Mount{Destination: "/x", Source: src}, "type is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := e.run(t, rootfsScenario{Spec: minimalSpec(tc.m)})
			if !strings.Contains(res.Error, tc.want) || !strings.Contains(res.Error, "mounts[2]") {
				t.Errorf("error %q, want one naming mounts[2] and %s", res.Error, tc.want)
			}
		})
	}
}

func TestPrepareRootfsCgroup(t *testing.T) {
	e := newRootfsEnv(t)
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil {
		t.Skip("no /sys/fs/cgroup")
	}
	spec := minimalSpec(specs.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}})
	r := e.mustRun(t, rootfsScenario{Spec: spec, Probes: []rootfsProbe{
		probe("statfs", "/sys/fs/cgroup"),
		probe("readdir", "/sys/fs/cgroup"),
		probe("write", "/sys/fs/cgroup/new"),
		probe("read", "/proc/self/cgroup"),
	}})
	if r[0].FsFlags&unix.ST_RDONLY == 0 {
		t.Errorf("/sys/fs/cgroup not read-only: flags %#x", r[0].FsFlags)
	}
	if r[2].Err != "EROFS" {
		t.Errorf("write into /sys/fs/cgroup: %q, want EROFS", r[2].Err)
	}
	if st.Type == unix.CGROUP2_SUPER_MAGIC {
		return
	}
	if !strings.Contains(" "+r[1].Data+" ", " memory ") || !strings.Contains(" "+r[1].Data+" ", " pids ") {
		t.Errorf("/sys/fs/cgroup has %q, want the v1 hierarchies", r[1].Data)
	}
	probes := []rootfsProbe{probe("statfs", "/sys/fs/cgroup/memory"), probe("write", "/sys/fs/cgroup/memory/cgroup.procs"), probe("stat", "/sys/fs/cgroup/memory/cgroup.procs")}
	r = e.mustRun(t, rootfsScenario{Spec: spec, Probes: probes})
	if r[0].FsType != unix.CGROUP_SUPER_MAGIC || r[0].FsFlags&unix.ST_RDONLY == 0 || r[1].Err != "EROFS" || r[2].Type != "file" {
		t.Errorf("memory hierarchy: type %#x flags %#x, write %q, cgroup.procs %q", r[0].FsType, r[0].FsFlags, r[1].Err, r[2].Type)
	}
	if err := unix.Statfs("/sys/fs/cgroup/unified", &st); err != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
		return
	}
	// Hybrid host: an explicit cgroup2 mount is the unified hierarchy.
	spec = minimalSpec(specs.Mount{Destination: "/cg2", Type: "cgroup2", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "ro"}})
	r = e.mustRun(t, rootfsScenario{Spec: spec, Probes: []rootfsProbe{probe("statfs", "/cg2"), probe("stat", "/cg2/cgroup.procs")}})
	if r[0].FsType != unix.CGROUP2_SUPER_MAGIC || r[0].FsFlags&unix.ST_RDONLY == 0 || r[1].Type != "file" {
		t.Errorf("cgroup2 on a hybrid host: type %#x flags %#x, cgroup.procs %q", r[0].FsType, r[0].FsFlags, r[1].Type)
	}
}

// TestPrepareRootfsUserNamespace builds the root in a user namespace, where
// mknod and sysfs are refused: devices are bound from the host, /sys is the
// host's bound read-only, and a read-only bind of a mount whose nosuid,
// nodev and noexec are locked keeps them (a remount dropping them fails).
func TestPrepareRootfsUserNamespace(t *testing.T) {
	e := newRootfsEnv(t)
	locked := filepath.Join(e.base, "locked")
	spec := minimalSpec(
		specs.Mount{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		specs.Mount{Destination: "/locked", Type: "bind", Source: locked, Options: []string{"rbind", "ro"}},
		specs.Mount{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"newinstance", "ptmxmode=0666"}},
	)
	spec.Linux.MaskedPaths = []string{"/proc/kcore"}
	spec.Linux.ReadonlyPaths = []string{"/proc/sys"}
	spec.Root.Readonly = true
	r := e.mustRun(t, rootfsScenario{
		Spec:      spec,
		UserNS:    true,
		PreMounts: []specs.Mount{{Destination: locked, Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "noexec", "size=1m"}}},
		Probes: []rootfsProbe{
			probe("stat", "/dev/null"),
			probe("stat", "/dev/urandom"),
			probe("exec", "", "/bin/sh", "-c", "echo ok > /dev/null && /bin/busybox head -c 3 /dev/zero | /bin/wc -c"),
			probe("statfs", "/sys"),
			probe("stat", "/sys/kernel"),
			probe("statfs", "/locked"),
			probe("read", "/locked/pre"),
			probe("write", "/locked/new"),
			probe("read", "/proc/kcore"),
			probe("write", "/new-at-root"),
			probe("read", "/proc/self/uid_map"),
		},
	})
	for _, g := range r[:2] {
		if g.Type != "char" || g.Major != 1 {
			t.Errorf("%s in a user namespace: %s %d:%d (%s), want the host's char device", g.Path, g.Type, g.Major, g.Minor, g.Err)
		}
	}
	if strings.TrimSpace(r[2].Data) != "3" {
		t.Errorf("devices unusable: %q %s", r[2].Data, r[2].Err)
	}
	if r[3].FsType != unix.SYSFS_MAGIC || r[3].FsFlags&unix.ST_RDONLY == 0 || r[4].Type != "dir" {
		t.Errorf("/sys: type %#x flags %#x, /sys/kernel %s", r[3].FsType, r[3].FsFlags, r[4].Type)
	}
	want := int64(unix.ST_RDONLY | unix.ST_NOSUID | unix.ST_NODEV | unix.ST_NOEXEC)
	if r[5].FsFlags&want != want || r[6].Data != "pre\n" || r[7].Err != "EROFS" {
		t.Errorf("ro bind of a locked mount: flags %#x (want %#x set), read %q %s, write %s", r[5].FsFlags, want, r[6].Data, r[6].Err, r[7].Err)
	}
	if r[8].Data != "" || r[9].Err != "EROFS" {
		t.Errorf("masked kcore gives %d bytes; write at read-only root: %s", len(r[8].Data), r[9].Err)
	}
	if f := strings.Fields(r[10].Data); len(f) != 3 || f[2] != "65536" {
		t.Errorf("not in the test's user namespace: uid_map %q", r[10].Data)
	}
}

// TestPrepareRootfsProcOnSymlink refuses to mount proc through a symlink,
// even one that stays inside the root.
func TestPrepareRootfsProcOnSymlink(t *testing.T) {
	e := newRootfsEnv(t)
	if err := os.Remove(filepath.Join(e.rootfs, "proc")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("tmp", filepath.Join(e.rootfs, "proc")); err != nil {
		t.Fatal(err)
	}
	res := e.run(t, rootfsScenario{Spec: minimalSpec()})
	if !strings.Contains(res.Error, "mounts[0]") || !strings.Contains(res.Error, "ordinary directory") {
		t.Errorf("error %q, want mounts[0] refused as not an ordinary directory", res.Error)
	}
}

// TestRootfsPropagation applies linux.rootfsPropagation to the container's
// root after pivot_root.
func TestRootfsPropagation(t *testing.T) {
	for _, tc := range []struct {
		mode string
		want func(optional []string) bool
	}{
		{"rshared", func(o []string) bool {
			return slices.ContainsFunc(o, func(s string) bool { return strings.HasPrefix(s, "shared:") })
		}},
		{"private", func(o []string) bool { return len(o) == 0 }},
		{"rslave", func(o []string) bool {
			return !slices.ContainsFunc(o, func(s string) bool { return strings.HasPrefix(s, "shared:") })
		}},
		{"runbindable", func(o []string) bool { return slices.Contains(o, "unbindable") }},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			e := newRootfsEnv(t)
			spec := minimalSpec()
			spec.Linux.RootfsPropagation = tc.mode
			r := e.mustRun(t, rootfsScenario{Spec: spec, Probes: []rootfsProbe{probe("mountinfo", "")}})
			for _, m := range r[0].Mounts {
				f := strings.Fields(m)
				if f[0] == "/" {
					if !tc.want(f[3:]) {
						t.Errorf("root mount %q does not have %s propagation", m, tc.mode)
					}
					return
				}
			}
			t.Errorf("no root mount in %v", r[0].Mounts)
		})
	}
	e := newRootfsEnv(t)
	spec := minimalSpec()
	spec.Linux.RootfsPropagation = "sideways"
	if res := e.run(t, rootfsScenario{Spec: spec}); !strings.Contains(res.Error, "rootfsPropagation") {
		t.Errorf("unknown propagation mode: error %q, want one naming linux.rootfsPropagation", res.Error)
	}
}

// TestPrepareRootfsRecursiveReadonly: "rro" makes a bind and every mount
// beneath it read-only, where "ro" covers only the top mount.
func TestPrepareRootfsRecursiveReadonly(t *testing.T) {
	e := newRootfsEnv(t)
	if err := os.MkdirAll(filepath.Join(e.rootfs, "a/sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	spec := minimalSpec(
		specs.Mount{Destination: "/a/sub", Type: "tmpfs", Source: "tmpfs"},
		specs.Mount{Destination: "/rro", Type: "bind", Source: filepath.Join(e.rootfs, "a"), Options: []string{"rbind", "rro"}},
		specs.Mount{Destination: "/ro", Type: "bind", Source: filepath.Join(e.rootfs, "a"), Options: []string{"rbind", "ro"}},
	)
	r := e.mustRun(t, rootfsScenario{Spec: spec, Probes: []rootfsProbe{
		probe("write", "/rro/new"),
		probe("write", "/rro/sub/new"),
		probe("write", "/ro/new"),
		probe("write", "/ro/sub/new2"),
		probe("write", "/a/sub/new3"),
	}})
	for i, want := range []string{"EROFS", "EROFS", "EROFS", "", ""} {
		if r[i].Err != want {
			t.Errorf("write %s: %q, want %q", r[i].Path, r[i].Err, want)
		}
	}
}
