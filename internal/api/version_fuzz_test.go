package api

import (
	"strings"
	"testing"
)

// FuzzSplitVersion: any request path splits into a version that
// parses (or none) and a rest that still starts with "/".
func FuzzSplitVersion(f *testing.F) {
	for _, s := range []string{"/v1.41/info", "/_ping", "/v1x/info", "/v1.", "/v", "/v9999999999999999999.1/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		if !strings.HasPrefix(path, "/") {
			return
		}
		v, rest, ok := splitVersion(path)
		if !ok {
			return
		}
		if v != "" {
			if _, _, err := parseVersion(v); err != nil {
				t.Fatalf("splitVersion(%q) gave unparsable version %q", path, v)
			}
		}
		if !strings.HasPrefix(rest, "/") {
			t.Fatalf("splitVersion(%q) rest %q does not start with /", path, rest)
		}
		_ = checkVersion(v, MinAPIVersion)
	})
}
