package runtime

import (
	"os"
	"regexp"
	"strconv"
	"syscall"
	"testing"
)

// The C init words errno values as Go does, whatever C library it is built
// with: its table must be Go's.
func TestErrnoWords(t *testing.T) {
	src, err := os.ReadFile("nsenter/errwords.h")
	if err != nil {
		t.Fatal(err)
	}
	entries := regexp.MustCompile(`\[(\d+)\] = "((?:[^"\\]|\\.)*)",`).FindAllStringSubmatch(string(src), -1)
	if len(entries) < 100 {
		t.Fatalf("only %d entries in nsenter/errwords.h", len(entries))
	}
	seen := map[int]bool{}
	for _, e := range entries {
		n, _ := strconv.Atoi(e[1])
		seen[n] = true
		if want := syscall.Errno(n).Error(); e[2] != want {
			t.Errorf("errno %d: the C table says %q, Go %q", n, e[2], want)
		}
	}
	for n := 1; n < 134; n++ {
		if w := syscall.Errno(n).Error(); !seen[n] && w != "errno "+strconv.Itoa(n) {
			t.Errorf("errno %d (%q) missing from the C table", n, w)
		}
	}
}
