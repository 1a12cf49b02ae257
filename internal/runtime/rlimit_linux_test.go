package runtime

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseRlimit(t *testing.T) {
	if r, err := parseRlimit("RLIMIT_NOFILE"); err != nil || r != unix.RLIMIT_NOFILE {
		t.Fatalf("parseRlimit(RLIMIT_NOFILE) = %d, %v", r, err)
	}
	if r, err := parseRlimit("RLIMIT_RTTIME"); err != nil || r != unix.RLIMIT_RTTIME {
		t.Fatalf("parseRlimit(RLIMIT_RTTIME) = %d, %v", r, err)
	}
	for _, bad := range []string{"NOFILE", "rlimit_nofile", "RLIMIT_FOO"} {
		if _, err := parseRlimit(bad); err == nil || err.Error() != `unknown rlimit type "`+bad+`"` {
			t.Errorf("parseRlimit(%q) error = %v", bad, err)
		}
	}
}
