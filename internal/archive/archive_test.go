package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth/berth/internal/testutil"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"golang.org/x/sys/unix"
)

// entry is a tar entry a test builds.
type entry struct {
	hdr  tar.Header
	body string
}

func reg(name, body string, mode int64) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(body)), ModTime: testTime}, body: body}
}
func dir(name string, mode int64) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode, ModTime: testTime}}
}
func symlink(name, target string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777, ModTime: testTime}}
}
func hardlink(name, target string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target, ModTime: testTime}}
}

var testTime = time.Unix(1700000000, 0)

func makeTar(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		h := e.hdr
		if h.Format == tar.FormatUnknown {
			h.Format = tar.FormatPAX
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatalf("write header %s: %v", h.Name, err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// sandbox makes T/root (where layers go) and T/outside (which must stay
// empty) and returns both.
func sandbox(t testing.TB) (root, outside string) {
	t.Helper()
	d := t.TempDir()
	root, outside = filepath.Join(d, "root"), filepath.Join(d, "outside")
	for _, p := range []string{root, outside} {
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return root, outside
}

func assertEmpty(t testing.TB, dir string) {
	t.Helper()
	names, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("read %s: %v", dir, err)
	}
	if len(names) != 0 {
		var ns []string
		for _, n := range names {
			ns = append(ns, n.Name())
		}
		t.Fatalf("something was written outside the root, in %s: %v", dir, ns)
	}
}

func lstat(t *testing.T, p string) *unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatalf("lstat: %v", err)
	}
	return &st
}

func apply(t *testing.T, root string, data []byte, opts ApplyOptions) error {
	t.Helper()
	_, err := Apply(context.Background(), root, bytes.NewReader(data), opts)
	return err
}

func TestApplyEntryTypes(t *testing.T) {
	testutil.RequireRoot(t)
	root, _ := sandbox(t)
	owned := reg("etc/owned", "x", 0o640)
	owned.hdr.Uid, owned.hdr.Gid = 1000, 2000
	capFile := reg("bin/ping", "elf", 0o755)
	// VFS_CAP_REVISION_2, cap_net_raw permitted+effective.
	capv := string([]byte{0, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	capFile.hdr.PAXRecords = map[string]string{"SCHILY.xattr.security.capability": capv, "SCHILY.xattr.user.note": "hello"}
	chr := entry{hdr: tar.Header{Typeflag: tar.TypeChar, Name: "dev/null", Mode: 0o666, Devmajor: 1, Devminor: 3, ModTime: testTime}}
	blk := entry{hdr: tar.Header{Typeflag: tar.TypeBlock, Name: "dev/loop9", Mode: 0o660, Devmajor: 7, Devminor: 9, ModTime: testTime}}
	fifo := entry{hdr: tar.Header{Typeflag: tar.TypeFifo, Name: "run/fifo", Mode: 0o620, ModTime: testTime}}
	atime := reg("var/atime", "a", 0o644)
	atime.hdr.AccessTime = time.Unix(1600000000, 0)
	data := makeTar(t,
		dir("bin/", 0o755),
		capFile,
		reg("bin/su", "su", 0o4755),
		dir("tmp/", 0o1777),
		dir("ro/", 0o555),
		reg("ro/inside", "in a read-only dir", 0o444),
		reg("implicit/parent/file", "p", 0o600),
		owned,
		symlink("etc/link", "../bin/su"),
		symlink("etc/abs", "/bin/su"),
		hardlink("bin/su2", "bin/su"),
		chr, blk, fifo, atime,
	)
	if err := apply(t, root, data, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	p := func(s string) string { return filepath.Join(root, s) }

	if st := lstat(t, p("bin/su")); st.Mode != unix.S_IFREG|0o4755 || st.Nlink != 2 {
		t.Errorf("bin/su: mode %o nlink %d, want setuid 4755 with 2 links", st.Mode, st.Nlink)
	}
	if st1, st2 := lstat(t, p("bin/su")), lstat(t, p("bin/su2")); st1.Ino != st2.Ino {
		t.Errorf("bin/su2 is not a hard link of bin/su")
	}
	if st := lstat(t, p("tmp")); st.Mode != unix.S_IFDIR|0o1777 {
		t.Errorf("tmp: mode %o, want sticky 1777", st.Mode)
	}
	if st := lstat(t, p("ro")); st.Mode != unix.S_IFDIR|0o555 || st.Mtim.Sec != testTime.Unix() {
		t.Errorf("ro: mode %o mtime %d, want 555 and %d (set after its file)", st.Mode, st.Mtim.Sec, testTime.Unix())
	}
	if b, _ := os.ReadFile(p("ro/inside")); string(b) != "in a read-only dir" {
		t.Errorf("ro/inside = %q", b)
	}
	if st := lstat(t, p("implicit/parent")); st.Mode != unix.S_IFDIR|0o755 {
		t.Errorf("implicit parent: mode %o, want 755", st.Mode)
	}
	if st := lstat(t, p("etc/owned")); st.Uid != 1000 || st.Gid != 2000 || st.Mode&0o7777 != 0o640 {
		t.Errorf("etc/owned: %d:%d %o, want 1000:2000 640", st.Uid, st.Gid, st.Mode&0o7777)
	}
	if l, _ := os.Readlink(p("etc/link")); l != "../bin/su" {
		t.Errorf("etc/link -> %q", l)
	}
	if l, _ := os.Readlink(p("etc/abs")); l != "/bin/su" {
		t.Errorf("etc/abs -> %q", l)
	}
	if st := lstat(t, p("etc/link")); st.Mtim.Sec != testTime.Unix() {
		t.Errorf("symlink mtime %d, want %d", st.Mtim.Sec, testTime.Unix())
	}
	if st := lstat(t, p("dev/null")); st.Mode != unix.S_IFCHR|0o666 || st.Rdev != unix.Mkdev(1, 3) {
		t.Errorf("dev/null: mode %o rdev %x", st.Mode, st.Rdev)
	}
	if st := lstat(t, p("dev/loop9")); st.Mode != unix.S_IFBLK|0o660 || st.Rdev != unix.Mkdev(7, 9) {
		t.Errorf("dev/loop9: mode %o rdev %x", st.Mode, st.Rdev)
	}
	if st := lstat(t, p("run/fifo")); st.Mode != unix.S_IFIFO|0o620 {
		t.Errorf("run/fifo: mode %o", st.Mode)
	}
	if st := lstat(t, p("var/atime")); st.Atim.Sec != 1600000000 || st.Mtim.Sec != testTime.Unix() {
		t.Errorf("var/atime: atime %d mtime %d", st.Atim.Sec, st.Mtim.Sec)
	}
	buf := make([]byte, 64)
	n, err := unix.Lgetxattr(p("bin/ping"), "security.capability", buf)
	if err != nil || string(buf[:n]) != capv {
		t.Errorf("bin/ping security.capability = %x, %v", buf[:max(n, 0)], err)
	}
	n, err = unix.Lgetxattr(p("bin/ping"), "user.note", buf)
	if err != nil || string(buf[:n]) != "hello" {
		t.Errorf("bin/ping user.note = %q, %v", buf[:max(n, 0)], err)
	}
}

func TestApplyIDMapping(t *testing.T) {
	testutil.RequireRoot(t)
	root, _ := sandbox(t)
	f := reg("f", "x", 0o644)
	f.hdr.Uid, f.hdr.Gid = 5, 7
	opts := ApplyOptions{UIDMaps: []IDMap{{0, 100000, 65536}}, GIDMaps: []IDMap{{0, 200000, 65536}}}
	if err := apply(t, root, makeTar(t, f), opts); err != nil {
		t.Fatal(err)
	}
	if st := lstat(t, filepath.Join(root, "f")); st.Uid != 100005 || st.Gid != 200007 {
		t.Errorf("owner %d:%d, want 100005:200007", st.Uid, st.Gid)
	}
	g := reg("g", "x", 0o644)
	g.hdr.Uid = 70000
	err := apply(t, root, makeTar(t, g), opts)
	if err == nil || !strings.Contains(err.Error(), `"g"`) || !strings.Contains(err.Error(), "uid 70000") {
		t.Errorf("unmapped uid: err = %v, want one naming entry g and uid 70000", err)
	}
}

func TestApplyOverlayWhiteouts(t *testing.T) {
	testutil.RequireRoot(t)
	root, _ := sandbox(t)
	data := makeTar(t,
		dir("etc/", 0o755),
		reg("etc/.wh.passwd", "", 0o600),
		dir("opt/", 0o755),
		reg("opt/.wh..wh..opq", "", 0o600),
		reg("opt/new", "n", 0o644),
		reg(".wh..wh.plnk", "", 0o600),
	)
	if err := apply(t, root, data, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if st := lstat(t, filepath.Join(root, "etc/passwd")); st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
		t.Errorf("etc/passwd: mode %o rdev %d, want a 0/0 character device", st.Mode, st.Rdev)
	}
	if !isOpaque(filepath.Join(root, "opt")) {
		t.Errorf("opt is not marked opaque")
	}
	if _, err := os.Lstat(filepath.Join(root, ".wh..wh.plnk")); !os.IsNotExist(err) {
		t.Errorf("aufs metadata entry was written: %v", err)
	}
	for _, n := range []string{"etc/.wh.passwd", "opt/.wh..wh..opq"} {
		if _, err := os.Lstat(filepath.Join(root, n)); !os.IsNotExist(err) {
			t.Errorf("%s exists in the upper dir", n)
		}
	}
}

func TestApplyNative(t *testing.T) {
	testutil.RequireRoot(t)
	root, _ := sandbox(t)
	base := makeTar(t, reg("etc/passwd", "root", 0o644), reg("etc/group", "g", 0o644),
		reg("opt/a", "a", 0o644), reg("opt/sub/b", "b", 0o644), reg("keep", "k", 0o644))
	if err := apply(t, root, base, ApplyOptions{Format: FormatNative}); err != nil {
		t.Fatal(err)
	}
	layer := makeTar(t,
		reg("etc/.wh.passwd", "", 0o600),
		dir("opt/", 0o755),
		reg("opt/.wh..wh..opq", "", 0o600),
		reg("opt/c", "c", 0o644),
		reg("keep", "replaced", 0o600),
	)
	if err := apply(t, root, layer, ApplyOptions{Format: FormatNative}); err != nil {
		t.Fatal(err)
	}
	var got []string
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && p != root {
			r, _ := filepath.Rel(root, p)
			got = append(got, r)
		}
		return nil
	})
	want := []string{"etc", "etc/group", "keep", "opt", "opt/c"}
	if !slices.Equal(got, want) {
		t.Errorf("tree = %v, want %v", got, want)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "keep")); string(b) != "replaced" {
		t.Errorf("keep = %q, want replaced", b)
	}
}

func TestApplyReplacesWithinLayer(t *testing.T) {
	testutil.RequireRoot(t)
	root, _ := sandbox(t)
	data := makeTar(t, reg("a/f", "1", 0o644), reg("a", "now a file", 0o644), dir("b/", 0o755), reg("b/x", "x", 0o644), dir("b/", 0o700))
	if err := apply(t, root, data, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "a")); string(b) != "now a file" {
		t.Errorf("a = %q", b)
	}
	if st := lstat(t, filepath.Join(root, "b")); st.Mode != unix.S_IFDIR|0o700 {
		t.Errorf("b mode %o, want the later entry's 700", st.Mode)
	}
	if _, err := os.Stat(filepath.Join(root, "b/x")); err != nil {
		t.Errorf("a directory entry over a directory must merge: %v", err)
	}
}

func compress(t testing.TB, c Compression, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	switch c {
	case Gzip:
		zw := gzip.NewWriter(&b)
		zw.Write(data)
		zw.Close()
	case Zstd:
		zw, err := zstd.NewWriter(&b)
		if err != nil {
			t.Fatal(err)
		}
		zw.Write(data)
		zw.Close()
	case Bzip2, Xz:
		// The programs install-deps.sh installs (bzip2 comes with
		// Debian; xz-utils is named there).
		prog := map[Compression]string{Bzip2: "bzip2", Xz: "xz"}[c]
		cmd := exec.Command(prog, "-z", "-c")
		cmd.Stdin = bytes.NewReader(data)
		cmd.Stdout = &b
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s: %v", prog, err)
		}
	default:
		b.Write(data)
	}
	return b.Bytes()
}

func TestApplyCompression(t *testing.T) {
	testutil.RequireRoot(t)
	data := makeTar(t, reg("hello", strings.Repeat("hello ", 1000), 0o644))
	for _, c := range []Compression{Uncompressed, Gzip, Zstd, Bzip2, Xz} {
		t.Run(c.String(), func(t *testing.T) {
			root, _ := sandbox(t)
			z := compress(t, c, data)
			if got := DetectCompression(z); got != c {
				t.Errorf("DetectCompression = %v", got)
			}
			n, err := Apply(context.Background(), root, bytes.NewReader(z), ApplyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if n != int64(len(data)) {
				t.Errorf("Apply read %d uncompressed bytes, want %d", n, len(data))
			}
			// The diff ID is the digest of the uncompressed stream.
			h := sha256.New()
			root2, _ := sandbox(t)
			if _, err := Apply(context.Background(), root2, bytes.NewReader(z), ApplyOptions{Uncompressed: h}); err != nil {
				t.Fatal(err)
			}
			if want := sha256.Sum256(data); !bytes.Equal(h.Sum(nil), want[:]) {
				t.Errorf("digest of the uncompressed stream = %x, want %x", h.Sum(nil), want)
			}
			if b, _ := os.ReadFile(filepath.Join(root, "hello")); len(b) != 6000 {
				t.Errorf("hello has %d bytes", len(b))
			}
		})
	}
}

func TestApplyCorruptStreams(t *testing.T) {
	testutil.RequireRoot(t)
	data := makeTar(t, reg("a", strings.Repeat("a", 100000), 0o644), reg("b", "b", 0o644))
	gz := compress(t, Gzip, data)
	badCRC := slices.Clone(gz)
	badCRC[len(badCRC)-6] ^= 0xff
	zs := compress(t, Zstd, data)
	bz := compress(t, Bzip2, data)
	xzData := compress(t, Xz, data)
	bigDict := xzWithDictionary(t, xzData, 38) // (2|0) << (38/2+11) bytes: 2 GiB
	// An entry with more data than its header declares: the excess is read
	// as the next header.
	long := makeTar(t, reg("a", strings.Repeat("A", 1000), 0o644))
	copy(long[124:136], fmt.Sprintf("%011o\x00", 10))
	copy(long[148:156], "        ")
	sum := 0
	for _, c := range long[:512] {
		sum += int(c)
	}
	copy(long[148:156], fmt.Sprintf("%06o\x00 ", sum))
	for _, c := range []struct {
		name, want string
		data       []byte
	}{
		{"entry longer than its declared size", `header after entry "a"`, long},
		{"truncated gzip", "unexpected EOF", gz[:len(gz)/2]},
		{"gzip with a bad checksum", "checksum", badCRC},
		{"truncated zstd", "", zs[:len(zs)-10]},
		{"truncated tar inside an entry", `"a"`, data[:3000]},
		{"gzip of garbage", "", append([]byte{0x1f, 0x8b}, bytes.Repeat([]byte{7}, 100)...)},
		{"zstd bomb after the end of the archive", "follow the end of the archive", compress(t, Zstd, append(slices.Clone(data), make([]byte, 64<<20)...))},
		{"truncated xz", "xz:", xzData[:len(xzData)-10]},
		{"xz asking for a 2 GiB dictionary", "Memory usage limit reached", bigDict},
		{"truncated bzip2", "unexpected EOF", bz[:len(bz)/2]},
	} {
		t.Run(c.name, func(t *testing.T) {
			root, outside := sandbox(t)
			_, err := Apply(context.Background(), root, bytes.NewReader(c.data), ApplyOptions{})
			if err == nil {
				t.Fatal("Apply succeeded")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not contain %q", err, c.want)
			}
			assertEmpty(t, outside)
		})
	}
}

func TestApplyHostile(t *testing.T) {
	testutil.RequireRoot(t)
	big := reg("big", strings.Repeat("x", 2000), 0o644)
	bigPAX := reg("pax", "", 0o644)
	bigPAX.hdr.PAXRecords = map[string]string{"SCHILY.xattr.user.big": strings.Repeat("v", DefaultMaxPAXBytes)}
	for _, c := range []struct {
		name    string
		entries func(outside string) []entry
		opts    ApplyOptions
		entry   string // the entry the error must name
		unsafe  bool   // errors.Is(err, ErrUnsafe)
	}{
		{name: "dot-dot traversal", entries: func(string) []entry { return []entry{reg("../outside/x", "pwned", 0o644)} }, entry: "../outside/x", unsafe: true},
		{name: "dot-dot inside the name", entries: func(string) []entry { return []entry{reg("a/../../outside/x", "pwned", 0o644)} }, entry: "a/../../outside/x", unsafe: true},
		{name: "relative symlink then a file under it", entries: func(string) []entry {
			return []entry{symlink("link", "../outside"), reg("link/x", "pwned", 0o644)}
		}, entry: "link/x", unsafe: true},
		{name: "absolute symlink then a file under it", entries: func(o string) []entry {
			return []entry{symlink("link", o), reg("link/x", "pwned", 0o644)}
		}, entry: "link/x", unsafe: true},
		{name: "symlink then a directory under it", entries: func(o string) []entry {
			return []entry{symlink("link", o), dir("link/d/", 0o755)}
		}, entry: "link/d/", unsafe: true},
		{name: "symlink chain", entries: func(o string) []entry {
			return []entry{dir("a/", 0o755), symlink("a/b", "../c"), symlink("c", "../outside"), reg("a/b/x", "pwned", 0o644)}
		}, entry: "a/b/x", unsafe: true},
		{name: "hard link to a file outside", entries: func(string) []entry {
			return []entry{hardlink("stolen", "../outside/secret")}
		}, entry: "stolen", unsafe: true},
		{name: "hard link through a symlink", entries: func(string) []entry {
			return []entry{symlink("link", "../outside"), hardlink("stolen", "link/secret")}
		}, entry: "stolen", unsafe: true},
		{name: "hard link to a missing file", entries: func(string) []entry { return []entry{hardlink("l", "nothing")} }, entry: "l"},
		{name: "whiteout through a symlink", entries: func(string) []entry {
			return []entry{symlink("link", "../outside"), reg("link/.wh.secret", "", 0o600)}
		}, entry: "link/.wh.secret", unsafe: true},
		{name: "opaque marker through a symlink", entries: func(string) []entry {
			return []entry{symlink("link", "../outside"), reg("link/.wh..wh..opq", "", 0o600)}
		}, entry: "link/.wh..wh..opq", unsafe: true},
		{name: "long name", entries: func(string) []entry { return []entry{reg(strings.Repeat("a/", 3000)+"x", "", 0o644)} }, entry: "a/a/a/", unsafe: true},
		{name: "long link name", entries: func(string) []entry { return []entry{symlink("l", strings.Repeat("x", 5000))} }, entry: "l", unsafe: true},
		{name: "PAX records beyond the bound", entries: func(string) []entry { return []entry{bigPAX} }, entry: "pax", unsafe: true},
		{name: "total size bound", entries: func(string) []entry { return []entry{big} }, opts: ApplyOptions{MaxSize: 1000}, entry: "big", unsafe: true},
		{name: "root replaced by a file", entries: func(string) []entry { return []entry{reg(".", "x", 0o644)} }, entry: ".", unsafe: true},
		{name: "whiteout of dot-dot", entries: func(string) []entry { return []entry{reg("a/.wh...", "", 0o644)} }, entry: "a/.wh...", unsafe: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			root, outside := sandbox(t)
			if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("s"), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Apply(context.Background(), root, bytes.NewReader(makeTar(t, c.entries(outside)...)), c.opts)
			if err == nil {
				t.Fatal("Apply succeeded")
			}
			var ee *EntryError
			if !errors.As(err, &ee) || !strings.HasPrefix(ee.Entry, c.entry) {
				t.Errorf("error %q does not name entry %q", err, c.entry)
			}
			if c.unsafe && !errors.Is(err, ErrUnsafe) {
				t.Errorf("error %q is not ErrUnsafe", err)
			}
			if !strings.Contains(err.Error(), "layer entry") {
				t.Errorf("error %q does not say which layer entry", err)
			}
			os.Remove(filepath.Join(outside, "secret"))
			assertEmpty(t, outside)
			var st unix.Stat_t
			if err := unix.Lstat(filepath.Join(filepath.Dir(outside), "secret"), &st); err == nil {
				t.Errorf("something was written beside the root")
			}
		})
	}
}

func TestApplyAbsoluteNamesAreRelative(t *testing.T) {
	testutil.RequireRoot(t)
	root, outside := sandbox(t)
	data := makeTar(t, reg("/etc/abs", "a", 0o644), reg("//x/../y", "y", 0o644), reg(outside+"/z", "z", 0o644))
	if err := apply(t, root, data, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"etc/abs", "y", strings.TrimPrefix(outside, "/") + "/z"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Errorf("%s not written inside the root: %v", p, err)
		}
	}
	assertEmpty(t, outside)
}

func TestApplySymlinksInsideRootAreFollowed(t *testing.T) {
	testutil.RequireRoot(t)
	root, outside := sandbox(t)
	// Merged /usr: lib -> usr/lib, then a file under lib/ lands in usr/lib.
	data := makeTar(t, dir("usr/lib/", 0o755), symlink("lib", "usr/lib"), reg("lib/libc.so", "c", 0o644))
	if err := apply(t, root, data, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "usr/lib/libc.so")); err != nil {
		t.Error(err)
	}
	assertEmpty(t, outside)
}

func TestApplyDropsOverlayXattrs(t *testing.T) {
	testutil.RequireRoot(t)
	root, _ := sandbox(t)
	d := dir("d/", 0o755)
	d.hdr.PAXRecords = map[string]string{"SCHILY.xattr.trusted.overlay.opaque": "y", "SCHILY.xattr.trusted.overlay.redirect": "/etc"}
	if err := apply(t, root, makeTar(t, d), ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if isOpaque(filepath.Join(root, "d")) {
		t.Error("a trusted.overlay xattr from the tar was applied")
	}
}

func TestApplyCanceled(t *testing.T) {
	root, _ := sandbox(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Apply(ctx, root, bytes.NewReader(makeTar(t, reg("a", "a", 0o644))), ApplyOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

// normEntry is what a round trip must keep of an entry.
type normEntry struct {
	Name, Linkname   string
	Type             byte
	Mode             int64
	Uid, Gid         int
	Mtime            int64
	Size             int64
	Sum              string
	Devmajor, Devmin int64
	Xattrs           string
}

func readEntries(t *testing.T, data []byte) []normEntry {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(data))
	var out []normEntry
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		sum := sha256.Sum256(body)
		var xs []string
		for k, v := range h.PAXRecords {
			if strings.HasPrefix(k, "SCHILY.xattr.") {
				xs = append(xs, k+"="+v)
			}
		}
		slices.Sort(xs)
		out = append(out, normEntry{Name: h.Name, Linkname: h.Linkname, Type: h.Typeflag, Mode: h.Mode, Uid: h.Uid, Gid: h.Gid,
			Mtime: h.ModTime.Unix(), Size: h.Size, Sum: hex.EncodeToString(sum[:4]), Devmajor: h.Devmajor, Devmin: h.Devminor, Xattrs: strings.Join(xs, ",")})
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	testutil.RequireRoot(t)
	root, _ := sandbox(t)
	withX := reg("bin/ping", "elf", 0o755)
	withX.hdr.PAXRecords = map[string]string{"SCHILY.xattr.user.a": "1"}
	owned := reg("home/u/f", "u", 0o600)
	owned.hdr.Uid, owned.hdr.Gid = 1000, 1000
	in := []entry{
		dir("bin/", 0o755),
		withX,
		reg("bin/su", "su", 0o4755),
		hardlink("bin/su2", "bin/su"),
		{hdr: tar.Header{Typeflag: tar.TypeChar, Name: "dev/null", Mode: 0o666, Devmajor: 1, Devminor: 3, ModTime: testTime}},
		{hdr: tar.Header{Typeflag: tar.TypeBlock, Name: "dev/sda", Mode: 0o660, Devmajor: 8, Devminor: 0, ModTime: testTime}},
		{hdr: tar.Header{Typeflag: tar.TypeFifo, Name: "dev/fifo", Mode: 0o600, ModTime: testTime}},
		dir("dev/", 0o755),
		dir("etc/", 0o755),
		reg("etc/.wh.shadow", "", 0o600),
		symlink("etc/mtab", "/proc/mounts"),
		dir("home/", 0o755),
		dir("home/u/", 0o700),
		owned,
		dir("opt/", 0o755),
		reg("opt/.wh..wh..opq", "", 0o600),
		reg("opt/x", "x", 0o644),
		dir("tmp/", 0o1777),
	}
	data := makeTar(t, in...)
	if err := apply(t, root, data, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	var out, again bytes.Buffer
	if err := Diff(context.Background(), nil, root, &out); err != nil {
		t.Fatal(err)
	}
	if err := Diff(context.Background(), nil, root, &again); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), again.Bytes()) {
		t.Error("two diffs of the same directory differ")
	}
	got := readEntries(t, out.Bytes())
	want := readEntries(t, data)
	// The diff orders entries parents first, names in byte order; the
	// whiteouts lose their mode and owner (they carry none).
	// (a hard link carries its inode's mode).
	onDisk := func(n string) string { return strings.Replace(n, WhiteoutPrefix, "", 1) }
	slices.SortStableFunc(want, func(a, b normEntry) int { return strings.Compare(onDisk(a.Name), onDisk(b.Name)) })
	for i := range want {
		if strings.Contains(want[i].Name, WhiteoutPrefix) {
			want[i].Mode = 0o600
		}
		if want[i].Type == tar.TypeLink {
			want[i].Mode = 0o4755
		}
	}
	if len(got) != len(want) {
		t.Fatalf("diff has %d entries, want %d:\n%v\n%v", len(got), len(want), got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("entry %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

func TestDiffSkipsSockets(t *testing.T) {
	testutil.RequireRoot(t)
	upper := t.TempDir()
	if err := unix.Mknod(filepath.Join(upper, "sock"), unix.S_IFSOCK|0o755, 0); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(upper, "file"), []byte("f"), 0o644)
	var out bytes.Buffer
	if err := Diff(context.Background(), nil, upper, &out); err != nil {
		t.Fatal(err)
	}
	if got := readEntries(t, out.Bytes()); len(got) != 1 || got[0].Name != "file" {
		t.Errorf("diff = %+v, want only file", got)
	}
}

func TestDiffSkipsWhiteoutsOfNothing(t *testing.T) {
	testutil.RequireRoot(t)
	lower, upper := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(lower, "there"), nil, 0o644)
	for _, n := range []string{"there", "gone"} {
		if err := unix.Mknod(filepath.Join(upper, n), unix.S_IFCHR, 0); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	if err := Diff(context.Background(), []string{lower}, upper, &out); err != nil {
		t.Fatal(err)
	}
	got := readEntries(t, out.Bytes())
	if len(got) != 1 || got[0].Name != ".wh.there" {
		t.Errorf("diff = %+v, want only .wh.there", got)
	}
}

func TestChanges(t *testing.T) {
	testutil.RequireRoot(t)
	lower, upper := t.TempDir(), t.TempDir()
	lowerTar := makeTar(t, reg("etc/passwd", "p", 0o644), reg("etc/hosts", "h", 0o644), reg("opt/a", "a", 0o644), reg("opt/b", "b", 0o644))
	if err := apply(t, lower, lowerTar, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	upperTar := makeTar(t, dir("etc/", 0o755), reg("etc/.wh.hosts", "", 0o600), reg("etc/passwd", "changed", 0o644),
		reg("new/file", "n", 0o644), dir("opt/", 0o755), reg("opt/.wh..wh..opq", "", 0o600), reg("opt/b", "b2", 0o644))
	if err := apply(t, upper, upperTar, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	ch, err := Changes(context.Background(), []string{lower}, upper)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range ch {
		got = append(got, c.Kind.String()+" "+c.Path)
	}
	want := []string{"C /etc", "D /etc/hosts", "C /etc/passwd", "A /new", "A /new/file", "C /opt", "D /opt/a", "C /opt/b"}
	if !slices.Equal(got, want) {
		t.Errorf("changes:\n got %q\nwant %q", got, want)
	}
}

// TestApplyRaceSymlinkSwap swaps a directory of the root with a symlink to
// the outside while layers write under it: every path is resolved by the
// kernel beneath the root, so nothing may land outside, whichever entries
// fail.
func TestApplyRaceSymlinkSwap(t *testing.T) {
	testutil.RequireRoot(t)
	root, outside := sandbox(t)
	if err := os.Mkdir(filepath.Join(root, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "swap")); err != nil {
		t.Fatal(err)
	}
	var entries []entry
	for i := range 500 {
		entries = append(entries, reg("d/f"+strconv.Itoa(i), "x", 0o644), reg("other/f"+strconv.Itoa(i), "y", 0o644))
		if i%50 == 0 {
			entries = append(entries, dir("d/sub"+strconv.Itoa(i)+"/", 0o755), hardlink("d/h"+strconv.Itoa(i), "other/f0"))
		}
	}
	data := makeTar(t, entries...)
	stop := make(chan struct{})
	done := make(chan int)
	go func() {
		swaps := 0
		for {
			select {
			case <-stop:
				done <- swaps
				return
			default:
			}
			if unix.Renameat2(unix.AT_FDCWD, filepath.Join(root, "d"), unix.AT_FDCWD, filepath.Join(root, "swap"), unix.RENAME_EXCHANGE) == nil {
				swaps++
			}
		}
	}()
	failed := 0
	for range 10 {
		if _, err := Apply(context.Background(), root, bytes.NewReader(data), ApplyOptions{}); err != nil {
			if !errors.Is(err, ErrUnsafe) && !strings.Contains(err.Error(), "layer entry") {
				t.Errorf("unexpected error: %v", err)
			}
			failed++
		}
	}
	close(stop)
	swaps := <-done
	t.Logf("%d swaps, %d of 10 applies refused", swaps, failed)
	assertEmpty(t, outside)
}

func TestApplyInheritsLowerDirs(t *testing.T) {
	testutil.RequireRoot(t)
	lower, _ := sandbox(t)
	tmp := dir("tmp/", 0o1777)
	home := dir("home/u/", 0o700)
	home.hdr.Uid, home.hdr.Gid = 1000, 1000
	home.hdr.PAXRecords = map[string]string{"SCHILY.xattr.user.x": "1"}
	if err := apply(t, lower, makeTar(t, tmp, dir("home/", 0o755), home), ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	upper, outside := sandbox(t)
	data := makeTar(t, reg("tmp/f", "f", 0o644), reg("home/u/.profile", "p", 0o644), reg("new/f", "n", 0o644))
	if err := apply(t, upper, data, ApplyOptions{Lowers: []string{lower}}); err != nil {
		t.Fatal(err)
	}
	if st := lstat(t, filepath.Join(upper, "tmp")); st.Mode != unix.S_IFDIR|0o1777 {
		t.Errorf("implicit tmp: mode %o, want the lower's 1777", st.Mode)
	}
	if st := lstat(t, filepath.Join(upper, "home/u")); st.Mode != unix.S_IFDIR|0o700 || st.Uid != 1000 || st.Gid != 1000 {
		t.Errorf("implicit home/u: %o %d:%d, want the lower's 700 1000:1000", st.Mode, st.Uid, st.Gid)
	}
	buf := make([]byte, 8)
	if n, err := unix.Lgetxattr(filepath.Join(upper, "home/u"), "user.x", buf); err != nil || string(buf[:n]) != "1" {
		t.Errorf("implicit home/u lacks the lower's xattr: %v", err)
	}
	if st := lstat(t, filepath.Join(upper, "new")); st.Mode != unix.S_IFDIR|0o755 || st.Uid != 0 {
		t.Errorf("implicit new (in no lower): %o %d, want 755 root", st.Mode, st.Uid)
	}
	assertEmpty(t, outside)
}

func TestApplyHardlinkToLowerFile(t *testing.T) {
	testutil.RequireRoot(t)
	lower, _ := sandbox(t)
	bb := reg("bin/busybox", "ELF", 0o4755)
	bb.hdr.Uid = 7
	bb.hdr.PAXRecords = map[string]string{"SCHILY.xattr.user.k": "v"}
	if err := apply(t, lower, makeTar(t, dir("bin/", 0o755), bb), ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	upper, outside := sandbox(t)
	data := makeTar(t, hardlink("usr/bin/sh", "bin/busybox"))
	if err := apply(t, upper, data, ApplyOptions{}); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("link to a lower file without Lowers: %v, want does not exist", err)
	}
	if err := apply(t, upper, data, ApplyOptions{Lowers: []string{lower}}); err != nil {
		t.Fatal(err)
	}
	a, b := lstat(t, filepath.Join(upper, "bin/busybox")), lstat(t, filepath.Join(upper, "usr/bin/sh"))
	if a.Ino != b.Ino || a.Mode != unix.S_IFREG|0o4755 || a.Uid != 7 || a.Mtim.Sec != testTime.Unix() {
		t.Errorf("copied-up target: ino %d/%d mode %o uid %d mtime %d", a.Ino, b.Ino, a.Mode, a.Uid, a.Mtim.Sec)
	}
	if got, _ := os.ReadFile(filepath.Join(upper, "usr/bin/sh")); string(got) != "ELF" {
		t.Errorf("usr/bin/sh = %q", got)
	}
	buf := make([]byte, 4)
	if n, err := unix.Lgetxattr(filepath.Join(upper, "bin/busybox"), "user.k", buf); err != nil || string(buf[:n]) != "v" {
		t.Errorf("copied-up xattr: %v", err)
	}
	// A link to something no layer has still fails, and nothing escapes.
	err := apply(t, upper, makeTar(t, hardlink("x", "nope/nothing"), hardlink("y", "../outside/secret")), ApplyOptions{Lowers: []string{lower}})
	if err == nil {
		t.Error("link to a missing file succeeded")
	}
	assertEmpty(t, outside)
}

// TestApplyWhiteoutsWithinOneLayer follows image-spec: a whiteout hides
// only the lower layers' files, never what its own layer made.
func TestApplyWhiteoutsWithinOneLayer(t *testing.T) {
	testutil.RequireRoot(t)
	base := makeTar(t, reg("d/old", "o", 0o644), reg("e/old", "o", 0o644), reg("f", "lower f", 0o644), reg("g/old", "o", 0o644))
	layer := makeTar(t,
		reg(".wh.d", "", 0o600), dir("d/", 0o755), reg("d/new", "n", 0o644), // whiteout first
		dir("e/", 0o755), reg("e/new", "n", 0o644), reg(".wh.e", "", 0o600), // whiteout after
		reg("f", "upper f", 0o644), reg(".wh.f", "", 0o600),
		reg(".wh.g", "", 0o600), reg("g/new", "n", 0o644), // whiteout, then an implicit parent
	)
	want := []string{"d/", "d/new=n", "e/", "e/new=n", "f=upper f", "g/", "g/new=n"}
	t.Run("native", func(t *testing.T) {
		root, _ := sandbox(t)
		for _, l := range [][]byte{base, layer} {
			if err := apply(t, root, l, ApplyOptions{Format: FormatNative}); err != nil {
				t.Fatal(err)
			}
		}
		if got := treeOf(t, root); !slices.Equal(got, want) {
			t.Errorf("tree = %q, want %q", got, want)
		}
	})
	t.Run("overlay", func(t *testing.T) {
		lower, _ := sandbox(t)
		upper, _ := sandbox(t)
		if err := apply(t, lower, base, ApplyOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := apply(t, upper, layer, ApplyOptions{}); err != nil {
			t.Fatal(err)
		}
		for _, d := range []string{"d", "e", "g"} {
			if !isOpaque(filepath.Join(upper, d)) {
				t.Errorf("%s is not opaque", d)
			}
		}
		if b, _ := os.ReadFile(filepath.Join(upper, "f")); string(b) != "upper f" {
			t.Errorf("f = %q", b)
		}
		// Through overlay itself.
		target := t.TempDir()
		data := "lowerdir=" + upper + ":" + lower
		if err := unix.Mount("overlay", target, "overlay", unix.MS_RDONLY, data); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Unmount(target, unix.MNT_DETACH) })
		if got := treeOf(t, target); !slices.Equal(got, want) {
			t.Errorf("merged tree = %q, want %q", got, want)
		}
	})
}

func treeOf(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case rel == ".":
		case fi.IsDir():
			out = append(out, rel+"/")
		default:
			b, _ := os.ReadFile(p)
			out = append(out, rel+"="+string(b))
		}
		return nil
	})
	return out
}

// xzWithDictionary returns the xz stream z with its first block's LZMA2
// dictionary size code set to code (the header's CRC32 recomputed): a
// stream whose decoder would need that much memory.
func xzWithDictionary(t testing.TB, z []byte, code byte) []byte {
	t.Helper()
	z = slices.Clone(z)
	const blockStart = 12 // after the stream header
	size := (int(z[blockStart]) + 1) * 4
	hdr := z[blockStart : blockStart+size]
	i := bytes.Index(hdr[2:], []byte{0x21, 0x01}) // the LZMA2 filter, 1 byte of properties
	if i < 0 {
		t.Fatalf("no LZMA2 filter in the block header % x", hdr)
	}
	hdr[2+i+2] = code
	binary.LittleEndian.PutUint32(hdr[size-4:], crc32.ChecksumIEEE(hdr[:size-4]))
	return z
}
