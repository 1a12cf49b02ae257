package content_test

import (
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth/berth/internal/content"
)

func TestParsePlatform(t *testing.T) {
	for in, want := range map[string]string{
		"linux/amd64":      "linux/amd64",
		"Linux/x86_64":     "linux/amd64",
		"linux/arm64/v8":   "linux/arm64",
		"linux/aarch64":    "linux/arm64",
		"linux/arm":        "linux/arm/v7",
		"linux/arm/v6":     "linux/arm/v6",
		"linux/armhf":      "linux/arm/v7",
		"arm64":            "linux/arm64",
		"linux/amd64/v3":   "linux/amd64/v3",
		"windows/amd64":    "windows/amd64",
		"linux/riscv64":    "linux/riscv64",
		"linux/amd64/v1":   "linux/amd64",
		" linux/ppc64le  ": "linux/ppc64le",
	} {
		p, err := content.ParsePlatform(in)
		if err != nil || content.FormatPlatform(p) != want {
			t.Errorf("ParsePlatform(%q) = %s, %v; want %s", in, content.FormatPlatform(p), err, want)
		}
	}
	// containerd's words, which clients (and moby's tests) look for.
	for in, words := range map[string]string{
		"":          `"" is an invalid OS component of ""`,
		"/":         `"" is an invalid OS component of "/"`,
		"       ":   `"" is an invalid OS component of "       "`,
		"/amd64":    `"" is an invalid OS component`,
		"li nux":    `"li nux" is an invalid OS component`,
		"linux/":    `"" is an invalid component of "linux/"`,
		"linux/a+b": `"a+b" is an invalid component of "linux/a+b"`,
		"a/b/c/d":   "want os[/arch[/variant]]",
		"notanos":   "unknown operating system or architecture",
	} {
		if _, err := content.ParsePlatform(in); !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), words) {
			t.Errorf("ParsePlatform(%q) = %v, want invalid argument saying %s", in, err, words)
		}
	}
	if p, err := content.ParsePlatform("macos"); err != nil || p.OS != "darwin" {
		t.Errorf("ParsePlatform(macos) = %+v, %v; want darwin", p, err)
	}
	if d := content.DefaultPlatform(); d.OS != "linux" || d.Architecture == "" {
		t.Errorf("DefaultPlatform = %+v", d)
	}
}

func TestSelectManifest(t *testing.T) {
	entry := func(name, os, arch, variant string) ocispec.Descriptor {
		return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString(name), Size: 1,
			Platform: &ocispec.Platform{OS: os, Architecture: arch, Variant: variant}}
	}
	idx := ocispec.Index{Manifests: []ocispec.Descriptor{
		entry("attestation", "unknown", "unknown", ""),
		entry("amd64", "linux", "amd64", ""),
		entry("amd64v3", "linux", "amd64", "v3"),
		entry("armv6", "linux", "arm", "v6"),
		entry("armv7", "linux", "arm", "v7"),
		entry("arm64", "linux", "arm64", "v8"),
		entry("ppc", "linux", "ppc64le", ""),
		{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("no platform"), Size: 1},
	}}
	for want, name := range map[string]string{
		"linux/amd64":    "amd64",
		"linux/amd64/v2": "amd64",
		"linux/amd64/v4": "amd64v3",
		"linux/arm/v7":   "armv7",
		"linux/arm/v6":   "armv6",
		"linux/arm/v8":   "armv7",
		"linux/arm64":    "arm64",
		"linux/ppc64le":  "ppc",
	} {
		p, err := content.ParsePlatform(want)
		if err != nil {
			t.Fatal(err)
		}
		d, err := content.SelectManifest(idx, p)
		if err != nil || d.Digest != digest.FromString(name) {
			t.Errorf("SelectManifest(%s) = %s, %v; want the %s entry", want, d.Digest, err, name)
		}
	}
	_, err := content.SelectManifest(idx, ocispec.Platform{OS: "linux", Architecture: "s390x"})
	if !errdefs.IsNotFound(err) || !strings.Contains(err.Error(), "linux/s390x") || !strings.Contains(err.Error(), "linux/arm/v6") {
		t.Errorf("SelectManifest(s390x) = %v, want not found naming the request and the offer", err)
	}
	_, err = content.SelectManifest(ocispec.Index{Manifests: idx.Manifests[2:3]}, ocispec.Platform{OS: "linux", Architecture: "amd64"})
	if !errdefs.IsNotFound(err) {
		t.Errorf("plain amd64 selecting from only amd64/v3 = %v, want not found", err)
	}
}
