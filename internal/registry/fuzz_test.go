package registry

import (
	"encoding/json"
	"strings"
	"testing"
)

func FuzzParseManifest(f *testing.F) {
	f.Add(MediaTypeOCIManifest, []byte(`{"schemaVersion":2,"config":{"mediaType":"a","digest":"sha256:`+strings.Repeat("a", 64)+`","size":1},"layers":[]}`))
	f.Add(MediaTypeOCIIndex, []byte(`{"schemaVersion":2,"manifests":[{"mediaType":"a","digest":"sha256:`+strings.Repeat("b", 64)+`","size":1}]}`))
	f.Add("", []byte(`{"schemaVersion":2,"subject":{"digest":"sha512:`+strings.Repeat("c", 128)+`"}}`))
	f.Add(MediaTypeDockerList, []byte(`{}`))
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		m, err := ParseManifest(contentType, body)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %v is not a registry error", err)
			}
			return
		}
		// What is accepted is well formed: every descriptor digest
		// parses, and the type is one the registry serves.
		switch m.Type {
		case MediaTypeOCIManifest, MediaTypeDockerManifest:
			if m.Config == nil {
				t.Fatal("image manifest without config accepted")
			}
		case MediaTypeOCIIndex, MediaTypeDockerList:
		default:
			t.Fatalf("accepted type %q", m.Type)
		}
		var all []Descriptor
		if m.Config != nil {
			all = append(all, *m.Config)
		}
		all = append(all, m.Layers...)
		all = append(all, m.Manifests...)
		if m.Subject != nil {
			all = append(all, *m.Subject)
		}
		for _, d := range all {
			if _, err := ParseDigest(d.Digest); err != nil {
				t.Fatalf("accepted descriptor digest %q: %v", d.Digest, err)
			}
		}
		if !json.Valid(body) {
			t.Fatal("accepted invalid JSON")
		}
	})
}

func FuzzNames(f *testing.F) {
	for _, s := range []string{"library/busybox", "a", "a/b/c", "a__b", "a--b", "A", "a//b", "../x", "latest", "sha256:" + strings.Repeat("a", 64)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidName(s) {
			if len(s) > maxNameLength || strings.Contains(s, "//") || strings.HasPrefix(s, "/") || strings.HasSuffix(s, "/") ||
				strings.ContainsAny(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ:@ ") || strings.Contains(s, "..") {
				t.Fatalf("name %q accepted", s)
			}
			// A valid name is a safe storage path: no element is
			// empty, ".", "..", or starts with "_" (our link dirs).
			for _, el := range strings.Split(s, "/") {
				if el == "" || el == "." || el == ".." || strings.HasPrefix(el, "_") {
					t.Fatalf("name %q has element %q", s, el)
				}
			}
		}
		if ValidTag(s) && (len(s) > 128 || strings.ContainsAny(s, "/:@ ") || strings.HasPrefix(s, ".") || strings.HasPrefix(s, "-")) {
			t.Fatalf("tag %q accepted", s)
		}
		if d, err := ParseDigest(s); err == nil {
			if d.String() != s || strings.ContainsAny(d.Hex, "/.") || len(d.Hex) < 64 {
				t.Fatalf("digest %q parsed as %v", s, d)
			}
		}
	})
}
