package prefault

import (
	"bufio"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/testutil"
)

// populateSupported says whether the kernel has MADV_POPULATE_WRITE.
func populateSupported(t *testing.T) bool {
	t.Helper()
	b, err := unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(b)
	return unix.Madvise(b, madvPopulateWrite) == nil
}

// mappedEnd returns the end of the mapping that holds addr and of those
// right after it (the heap's chunks), from /proc/self/maps.
func mappedEnd(t *testing.T, addr uintptr) uintptr {
	t.Helper()
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var end uintptr
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		a, b, _ := strings.Cut(fields[0], "-")
		lo, _ := strconv.ParseUint(a, 16, 64)
		hi, _ := strconv.ParseUint(b, 16, 64)
		switch {
		case uintptr(lo) <= addr && addr < uintptr(hi), end != 0 && uintptr(lo) == end && fields[1] == "rw-p":
			end = uintptr(hi)
		}
	}
	if end == 0 {
		t.Fatalf("no mapping holds %#x", addr)
	}
	return end
}

func TestWindowPopulated(t *testing.T) {
	if Window.Lo == 0 {
		t.Skip("BERTH_PREFAULT=0")
	}
	if !populateSupported(t) {
		t.Skip("kernel without MADV_POPULATE_WRITE")
	}
	if Window.Hi-Window.Lo < above {
		t.Errorf("window %#x-%#x is %d KB, want at least %d", Window.Lo, Window.Hi, (Window.Hi-Window.Lo)>>10, above>>10)
	}
	hi := min(Window.Hi, mappedEnd(t, Window.Lo))
	if Window.Err != nil && hi == Window.Hi {
		t.Errorf("madvise over the mapped window %#x-%#x: %v", Window.Lo, Window.Hi, Window.Err)
	}
	vec := make([]byte, (hi-Window.Lo)/4096)
	if _, _, e := syscall.Syscall(syscall.SYS_MINCORE, Window.Lo, hi-Window.Lo, uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
		t.Fatalf("mincore: %v", e)
	}
	missing := 0
	for _, v := range vec {
		if v&1 == 0 {
			missing++
		}
	}
	// Without the madvise most of the window above the frontier would not
	// be resident; a few pages may have been given back since (Go's
	// scavenger returns freed pages to the kernel).
	if missing > len(vec)/10 {
		t.Errorf("%d of the window's %d pages are not resident", missing, len(vec))
	}
}

// TestWindowWhereHeapGoes checks that the window is where the heap grows:
// the pages of what a short command allocates next (here 512 KB in small
// objects of many sizes) are in it.
func TestWindowWhereHeapGoes(t *testing.T) {
	if Window.Lo == 0 {
		t.Skip("BERTH_PREFAULT=0")
	}
	pages := map[uintptr]bool{}
	for i, total := 0, 0; total < 512<<10; i++ {
		n := 16 << (i % 7) // 16 B to 1 KB
		b := make([]byte, n)
		sink = append(sink, b)
		pages[uintptr(unsafe.Pointer(&b[0]))&^4095] = true
		total += n
	}
	in := 0
	for p := range pages {
		if Window.Lo <= p && p < Window.Hi {
			in++
		}
	}
	t.Logf("%d of %d pages in the window", in, len(pages))
	if in < len(pages)*9/10 {
		t.Errorf("%d of the %d pages allocated are in the window %#x-%#x, want nine in ten", in, len(pages), Window.Lo, Window.Hi)
	}
}

var sink [][]byte

// TestImportsOnlySyscall keeps the initialiser early: a package imported
// here that is not initialised yet would delay it, behind every ready
// package that sorts before it.
func TestImportsOnlySyscall(t *testing.T) {
	root, err := testutil.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	list := func(pkgs ...string) []string {
		cmd := exec.Command(testutil.GoTool(), append([]string{"list", "-deps"}, pkgs...)...)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go list: %v\n%s", err, out)
		}
		return strings.Fields(string(out))
	}
	allowed := map[string]bool{"github.com/berth/berth/internal/prefault": true}
	for _, p := range list("syscall", "unsafe") {
		allowed[p] = true
	}
	for _, p := range list("github.com/berth/berth/internal/prefault") {
		if !allowed[p] {
			t.Errorf("internal/prefault depends on %s, beyond syscall and unsafe", p)
		}
	}
}
