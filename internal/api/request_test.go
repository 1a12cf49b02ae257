package api

import (
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
