package jsonenc

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzAppendString checks AppendString against encoding/json, which it
// matches except that it writes \b and \f as \u0008 and \u000c (as Go
// did before 1.22, and dockerd's json-file logs); strings and byte slices
// alike.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain\n", "<&>", "\x00\x1f\x7f\b\f", "\xff\xfe", "\u2028\u2029", "é中\U0001F600", "\"\\f"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want, err := json.Marshal(string(b))
		if err != nil {
			t.Fatal(err)
		}
		w := strings.NewReplacer(`\\`, `\\`, `\b`, `\u0008`, `\f`, `\u000c`).Replace(string(want))
		if got := AppendString(nil, b); string(got) != w {
			t.Errorf("AppendString(%q) = %s, want %s", b, got, w)
		}
		if got := AppendString([]byte("x"), string(b)); string(got) != "x"+w {
			t.Errorf("AppendString(x, string %q) = %s, want x%s", b, got, w)
		}
	})
}
