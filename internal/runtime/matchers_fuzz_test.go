package runtime

import (
	"regexp"
	"testing"
)

// The container ID and ociVersion checks are loops, so that the init and
// the CLI need no package regexp; they must accept exactly what the
// regular expressions they replace (runc's) accept.
var (
	idRegexp         = regexp.MustCompile(`^[\w+\-.]+$`)
	ociVersionRegexp = regexp.MustCompile(`^1\.[0-9]+(\.[0-9]+)?([-+].*)?$`)
)

func FuzzMatchers(f *testing.F) {
	for _, s := range []string{
		"", "a", "web_1", "x+y-z.0", "a b", "a/b", "é", "..", "a\n",
		"1.0", "1.0.2", "1.2.0-rc.1", "1.0.2+dev", "1.", "1.x", "1.0.", "1.0.x", "2.0.0", "1.0.2-", "1.10.300+a+b", "01.0", " 1.0",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := idChars(s), s != "" && idRegexp.MatchString(s); s != "" && got != want {
			t.Errorf("idChars(%q) = %v, regexp says %v", s, got, want)
		}
		if got, want := ociVersion1(s), ociVersionRegexp.MatchString(s); got != want {
			t.Errorf("ociVersion1(%q) = %v, regexp says %v", s, got, want)
		}
	})
}
