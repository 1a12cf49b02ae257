package api

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestBoolAndIntValues(t *testing.T) {
	r := httptest.NewRequest("GET", "/x?a=1&b=0&c=false&d=True&e=none&n=42&bad=4x", nil)
	for key, want := range map[string]bool{"a": true, "b": false, "c": false, "d": true, "e": false, "missing": false} {
		if got := boolValue(r, key); got != want {
			t.Errorf("boolValue(%s) = %v, want %v", key, got, want)
		}
	}
	if n, err := int64Value(r, "n", 7); n != 42 || err != nil {
		t.Errorf("int64Value(n) = %d, %v", n, err)
	}
	if n, err := int64Value(r, "missing", 7); n != 7 || err != nil {
		t.Errorf("int64Value(missing) = %d, %v", n, err)
	}
	if _, err := int64Value(r, "bad", 0); err == nil || StatusOf(err) != 400 || !strings.Contains(err.Error(), `invalid value for bad: "4x"`) {
		t.Errorf("int64Value(bad) error = %v", err)
	}
}

func TestDecodeJSON(t *testing.T) {
	var v struct{ Name string }
	for _, c := range []struct{ ct, body, want string }{
		{"application/json", `{"Name":"x"}`, ""},
		{"", `{"Name":"x"}`, ""},
		{"application/json; charset=utf-8", `{"Name":"x"}`, ""},
		{"text/plain", `{}`, "unsupported Content-Type header (text/plain): must be 'application/json'"},
		{"application/json", ``, "got EOF while reading request body"},
		{"application/json", `{"Name":`, "invalid JSON: unexpected EOF"},
		{"application/json", `{"Name":1}`, "invalid JSON: json: cannot unmarshal number"},
		{"application/json", `{"Name":"x"}` + "\n\t ", ""},
		{"application/json", `{"Name":"x"}{"Name":"y"}`, "unexpected content after JSON"},
		{"application/json", `{"Name":"x"} 7`, "unexpected content after JSON"},
	} {
		r := httptest.NewRequest("POST", "/x", strings.NewReader(c.body))
		if c.ct != "" {
			r.Header.Set("Content-Type", c.ct)
		}
		err := decodeJSON(r, &v)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s %q: %v", c.ct, c.body, err)
		case c.want != "" && (err == nil || StatusOf(err) != 400 || !strings.HasPrefix(err.Error(), c.want)):
			t.Errorf("%s %q: error %v, want 400 %q", c.ct, c.body, err, c.want)
		}
	}
}

func TestResizeDims(t *testing.T) {
	for q, want := range map[string]string{
		"h=40&w=120":        "40x120",
		"h=0&w=0":           "0x0",
		"h=70000&w=80":      "65535x80",
		"w=80":              `invalid resize height "": invalid syntax`,
		"h=40":              `invalid resize width "": invalid syntax`,
		"h=-1&w=80":         `invalid resize height "-1": value out of range`,
		"h=40&w=5000000000": `invalid resize width "5000000000": value out of range`,
		"h=forty&w=80":      `invalid resize height "forty": invalid syntax`,
	} {
		h, w, err := resizeDims(httptest.NewRequest("POST", "/containers/x/resize?"+q, nil))
		got := fmt.Sprintf("%dx%d", h, w)
		if err != nil {
			if StatusOf(err) != 400 {
				t.Errorf("%s: status %d", q, StatusOf(err))
			}
			got = err.Error()
		}
		if !strings.HasPrefix(got, want) {
			t.Errorf("resize?%s = %q, want %q", q, got, want)
		}
	}
}
