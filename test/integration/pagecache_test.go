package integration

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/testutil"
)

const pmdSize = 2 << 20

// copyBinary copies berthBin to dir in writes of chunk bytes: small writes
// leave the copy's page cache in small folios, 4 MB ones in 2 MB folios
// where the file system makes folios as large as the writes.
func copyBinary(t *testing.T, dir string, chunk int) string {
	t.Helper()
	src, err := os.Open(berthBin)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst := filepath.Join(dir, "berth")
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	// Wrapped, so that the copy goes through the buffer in writes of its
	// size (not copy_file_range).
	if _, err := io.CopyBuffer(struct{ io.Writer }{out}, struct{ io.Reader }{src}, make([]byte, chunk)); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}

// cachedHuge reports how many bytes of path's page cache a fresh mapping
// of it maps in 2 MB pages, and how many whole 2 MB the file has: the
// test's own mapping, 2 MB-aligned, populated and unmapped again.
func cachedHuge(t *testing.T, path string) (pmd, whole int64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	size := int(st.Size())
	r, err := unix.Mmap(-1, 0, size+pmdSize, unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(r)
	base := uintptr(unsafe.Pointer(&r[0]))
	aligned := (base + pmdSize - 1) &^ (pmdSize - 1)
	addr, _, e := unix.Syscall6(unix.SYS_MMAP, aligned, uintptr(size), unix.PROT_READ,
		unix.MAP_PRIVATE|unix.MAP_FIXED, f.Fd(), 0)
	if e != 0 {
		t.Fatalf("mmap %s: %v", path, e)
	}
	if _, _, e := unix.Syscall(unix.SYS_MADVISE, addr, uintptr(size), unix.MADV_POPULATE_READ); e != 0 {
		t.Skipf("MADV_POPULATE_READ: %v", e)
	}
	start := strconv.FormatUint(uint64(addr), 16)
	pmd = pmdMapped(t, "self", func(rng, _ string) bool { return strings.HasPrefix(rng, start+"-") })
	return pmd, st.Size() &^ (pmdSize - 1)
}

// needLargeFolios skips the test where the page cache of the test's temp
// dir cannot hold berth in 2 MB folios at all (a file system without large
// folios, a kernel before them): a copy written in 4 MB writes is probed.
func needLargeFolios(t *testing.T) {
	t.Helper()
	probe := copyBinary(t, t.TempDir(), 4<<20)
	if pmd, _ := cachedHuge(t, probe); pmd == 0 {
		t.Skip("this file system's page cache holds no 2 MB folios for a file written in 4 MB writes")
	}
}

// pmdMapped sums FilePmdMapped over the mappings of process pid ("self"
// for this one) that ours picks by their address range and file.
func pmdMapped(t *testing.T, pid string, ours func(rng, file string) bool) int64 {
	t.Helper()
	smaps, err := os.ReadFile("/proc/" + pid + "/smaps")
	if err != nil {
		t.Fatal(err)
	}
	var pmd int64
	in := false
	for _, line := range strings.Split(string(smaps), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if !strings.HasSuffix(f[0], ":") { // a mapping's header: range perms offset dev inode [file]
			file := ""
			if len(f) >= 6 {
				file = f[5]
			}
			in = ours(f[0], file)
			continue
		}
		if in && f[0] == "FilePmdMapped:" && len(f) >= 2 {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			pmd += kb << 10
		}
	}
	return pmd
}

// refreshersGone waits until no page-cache refresher (berth:[cache]) runs.
func refreshersGone(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		busy := false
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			if comm, err := os.ReadFile("/proc/" + e.Name() + "/comm"); err == nil && string(comm) == "berth:[cache]\n" {
				busy = true
				break
			}
		}
		if !busy {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("a berth:[cache] refresher still runs after 20s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A berth binary cached in small folios (a copy made in 32 KB writes, as
// after a reboot) gets its page cache back in 2 MB folios from the first
// `berth runtime` command that runs from it, after that command exits; the
// command's own result is untouched. Once per binary and boot: a cache
// dropped again is left so by the next command, until the marker is older
// than the boot.
func TestBinaryPageCacheRefreshedAfterCommand(t *testing.T) {
	if berthBin == "" {
		t.Skipf("berth not built: %v", berthBuildErr)
	}
	needLargeFolios(t)
	dir := t.TempDir()
	bin := copyBinary(t, dir, 32<<10)
	if pmd, _ := cachedHuge(t, bin); pmd != 0 {
		t.Fatalf("a copy made in 32 KB writes maps %d bytes in 2 MB pages; want 0 before any berth ran", pmd)
	}
	markers := filepath.Join(dir, "pagecache")
	command := func() {
		t.Helper()
		cmd := exec.Command(bin, "runtime", "--root", filepath.Join(dir, "root"), "state", "nosuch")
		cmd.Env = append(os.Environ(), "_BERTH_PAGECACHE_DIR="+markers)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "nosuch") {
			t.Fatalf("state of a missing container: %v %q; want exit 1 naming it", err, out)
		}
		refreshersGone(t)
	}
	huge := func(want bool) {
		t.Helper()
		pmd, whole := cachedHuge(t, bin)
		if want && pmd < whole || !want && pmd != 0 {
			t.Fatalf("%d of %d whole bytes of the binary map in 2 MB pages; want all: %v", pmd, whole, want)
		}
	}
	command()
	ents, err := os.ReadDir(markers)
	if err != nil || len(ents) != 1 {
		t.Fatalf("markers after one command: %v %v; want one", ents, err)
	}
	huge(true)

	// Dropped (as memory pressure drops it), the cache comes back in small
	// folios; the same boot's marker stops a second refresh.
	drop(t, bin)
	huge(false)
	command()
	huge(false)

	// A marker from before the boot counts as none.
	old := time.Now().Add(-30 * 24 * time.Hour)
	if err := os.Chtimes(filepath.Join(markers, ents[0].Name()), old, old); err != nil {
		t.Fatal(err)
	}
	command()
	huge(true)
}

// drop drops path's cached pages, as the kernel does under memory pressure.
func drop(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Fdatasync(int(f.Fd())); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
}

// A daemon started from a binary cached in small folios execs the refresher
// in its place before anything else, which execs the daemon again: the
// daemon comes up (same pid, serving, named berth) and maps its binary in
// 2 MB pages.
func TestBinaryPageCacheRefreshedByDaemon(t *testing.T) {
	if berthBin == "" {
		t.Skipf("berth not built: %v", berthBuildErr)
	}
	needLargeFolios(t)
	dir := t.TempDir()
	bin := copyBinary(t, dir, 32<<10)
	d := testutil.StartDaemon(t, testutil.DaemonOptions{Binary: bin, Env: []string{"_BERTH_PAGECACHE_DIR=" + filepath.Join(dir, "pagecache")}})
	pid := d.PID()
	pmd := pmdMapped(t, strconv.Itoa(pid), func(_, file string) bool { return file == bin })
	if pmd == 0 {
		t.Fatalf("the daemon (pid %d) maps none of %s in 2 MB pages", pid, bin)
	}
	if r := d.Run(t, bin, testutil.RunOptions{}, "version", "--format", "{{.Server.Version}}"); r.Code != 0 {
		t.Fatalf("version from the daemon: %v", r)
	}
	// Named as a plain exec of the binary names it, not after the
	// descriptor it was exec'd again from.
	if comm, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm"); string(comm) != "berth\n" {
		t.Fatalf("the daemon's process is named %q; want berth", comm)
	}
	environ, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if !bytes.Contains(environ, []byte("_BERTH_PAGECACHE=done")) {
		t.Fatalf("the daemon was not exec'd again by the refresher (no _BERTH_PAGECACHE=done in its environment)")
	}
}
