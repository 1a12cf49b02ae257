package prefault

import (
	"fmt"
	"os"
	"os/exec"
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

func TestWindowPopulated(t *testing.T) {
	if Window.Lo == 0 {
		t.Skip("BERTH_PREFAULT=0")
	}
	if !populateSupported(t) {
		t.Skip("kernel without MADV_POPULATE_WRITE")
	}
	if Window.Err != nil {
		t.Errorf("madvise over the window %#x-%#x: %v", Window.Lo, Window.Hi, Window.Err)
	}
	if Window.Hi <= Window.Lo || Window.Hi-Window.Lo > 4<<20+above {
		t.Fatalf("window %#x-%#x", Window.Lo, Window.Hi)
	}
	vec := make([]byte, (Window.Hi-Window.Lo)/4096)
	if _, _, e := syscall.Syscall(syscall.SYS_MINCORE, Window.Lo, Window.Hi-Window.Lo, uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
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

// TestMain runs, for TestWindowWhereHeapGoes, the allocations a short
// command makes right after the package initialisers, before the testing
// package's own (PREFAULT_TEST_ALLOC=1).
func TestMain(m *testing.M) {
	if os.Getenv("PREFAULT_TEST_ALLOC") == "1" {
		in, all := allocate()
		fmt.Println(in, all)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// allocate allocates 256 KB in small objects of many sizes and returns how
// many of the pages they are on are in the window, and of how many that
// were mapped when the window was populated.
func allocate() (in, all int) {
	pages := map[uintptr]bool{}
	for i, total := 0, 0; total < 256<<10; i++ {
		n := 16 << (i % 7) // 16 B to 1 KB
		b := make([]byte, n)
		sink = append(sink, b)
		pages[uintptr(unsafe.Pointer(&b[0]))&^4095] = true
		total += n
	}
	// A window that ends at its chunk's end stops where the heap was
	// mapped at the start: the pages beyond could not be populated then.
	clipped := Window.Hi%chunk == 0
	for p := range pages {
		switch {
		case Window.Lo <= p && p < Window.Hi:
			in++
			all++
		case clipped && p >= Window.Hi:
		default:
			all++
		}
	}
	return in, all
}

// TestWindowWhereHeapGoes checks that the window is where the heap grows:
// in a process that allocates 256 KB in small objects right after its
// initialisers, as a short command does, the pages those land on are in
// it.
func TestWindowWhereHeapGoes(t *testing.T) {
	if Window.Lo == 0 {
		t.Skip("BERTH_PREFAULT=0")
	}
	for range 3 {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), "PREFAULT_TEST_ALLOC=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("helper: %v\n%s", err, out)
		}
		var in, all int
		if _, err := fmt.Sscan(string(out), &in, &all); err != nil {
			t.Fatalf("helper said %q: %v", out, err)
		}
		t.Logf("%d of %d pages in the window", in, all)
		if in*10 < all*9 {
			t.Errorf("%d of the %d pages allocated are in the window, want nine in ten", in, all)
		}
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
