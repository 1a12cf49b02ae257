package api

import (
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/containerd/errdefs"
)

// FuzzImageFilters feeds hostile `filters` values to the image list and
// prune parser: it must not panic, and every failure is a 400.
func FuzzImageFilters(f *testing.F) {
	for _, s := range []string{`{"dangling":{"true":true}}`, `{"reference":["a*"]}`, `{"label":{"a=b":true,"c":false}}`, `{"dangling":{"maybe":true}}`, `[]`, `{`, `{"x":1}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, err := imageFilters(url.Values{"filters": {s}}, "dangling", "label", "before", "since", "reference", "until")
		if err != nil && !errdefs.IsInvalidArgument(err) {
			t.Fatalf("imageFilters(%q): %v is not an InvalidArgument", s, err)
		}
	})
}

// FuzzRegistryAuth feeds hostile X-Registry-Auth headers to the decoder.
func FuzzRegistryAuth(f *testing.F) {
	for _, s := range []string{"e30=", "e30", "eyJ1c2VybmFtZSI6InUifQ==", "!!", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := httptest.NewRequest("POST", "/", nil)
		r.Header.Set("X-Registry-Auth", s)
		if _, err := registryAuth(r); err != nil && !errdefs.IsInvalidArgument(err) {
			t.Fatalf("registryAuth(%q): %v is not an InvalidArgument", s, err)
		}
	})
}
