package content

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// DefaultPlatform is linux on the host's architecture (linux/amd64 here),
// the platform pulled when none is asked for.
func DefaultPlatform() ocispec.Platform {
	return NormalizePlatform(ocispec.Platform{OS: "linux", Architecture: runtime.GOARCH})
}

// ParsePlatform parses a --platform value: "os", "os/arch" or
// "os/arch/variant" (docker's syntax), or a bare architecture ("arm64"),
// which means linux. The result is normalised.
func ParsePlatform(s string) (ocispec.Platform, error) {
	parts := strings.Split(strings.ToLower(strings.TrimSpace(s)), "/")
	// containerd's words, as dockerd answers them.
	if !validComponent(parts[0]) {
		return ocispec.Platform{}, fmt.Errorf("%q is an invalid OS component of %q: OSAndVersion specifier component must match %q: %w", parts[0], s, osComponentRE, errdefs.ErrInvalidArgument)
	}
	for _, p := range parts[1:] {
		if !validComponent(p) {
			return ocispec.Platform{}, fmt.Errorf("%q is an invalid component of %q: platform specifier component must match %q: %w", p, s, componentRE, errdefs.ErrInvalidArgument)
		}
	}
	var p ocispec.Platform
	switch len(parts) {
	case 1:
		if parts[0] == "macos" {
			parts[0] = "darwin"
		}
		if knownOS[parts[0]] {
			p = ocispec.Platform{OS: parts[0], Architecture: runtime.GOARCH}
		} else if _, _, ok := normalizeArch(parts[0], ""); ok {
			p = ocispec.Platform{OS: "linux", Architecture: parts[0]}
		} else {
			return p, fmt.Errorf("platform %q: unknown operating system or architecture: %w", s, errdefs.ErrInvalidArgument)
		}
	case 2:
		p = ocispec.Platform{OS: parts[0], Architecture: parts[1]}
	case 3:
		p = ocispec.Platform{OS: parts[0], Architecture: parts[1], Variant: parts[2]}
	default:
		return p, fmt.Errorf("platform %q: want os[/arch[/variant]]: %w", s, errdefs.ErrInvalidArgument)
	}
	return NormalizePlatform(p), nil
}

// The patterns containerd names in its errors; validComponent checks a
// component against componentRE, which osComponentRE's OS part also is.
const (
	osComponentRE = `^([A-Za-z0-9_-]+)(?:\(([A-Za-z0-9_.-]*)\))?$`
	componentRE   = `^[A-Za-z0-9_.-]+$`
)

func validComponent(c string) bool {
	if c == "" {
		return false
	}
	for _, r := range c {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.', r == '-':
		default:
			return false
		}
	}
	return true
}

var knownOS = map[string]bool{"linux": true, "windows": true, "darwin": true, "freebsd": true, "netbsd": true, "openbsd": true, "solaris": true, "illumos": true, "aix": true, "plan9": true, "wasip1": true, "js": true}

// normalizeArch maps architecture aliases to GOARCH names and fills the
// variant an architecture implies. ok is false for an unknown name.
func normalizeArch(arch, variant string) (string, string, bool) {
	switch arch {
	case "x86_64", "x86-64", "amd64":
		if variant == "v1" {
			variant = ""
		}
		return "amd64", variant, true
	case "i386", "i686", "386":
		return "386", "", true
	case "aarch64", "arm64":
		if variant == "8" || variant == "v8" {
			variant = ""
		}
		return "arm64", variant, true
	case "armhf":
		return "arm", "v7", true
	case "armel":
		return "arm", "v6", true
	case "arm":
		switch variant {
		case "", "7":
			variant = "v7"
		case "5", "6", "8":
			variant = "v" + variant
		}
		return "arm", variant, true
	case "ppc64le", "s390x", "riscv64", "mips64le", "mips64", "mipsle", "mips", "loong64", "ppc64", "wasm":
		return arch, variant, true
	}
	return arch, variant, false
}

// NormalizePlatform lower-cases p and maps aliases (x86_64 to amd64,
// aarch64 to arm64, armhf to arm/v7), and drops implied default variants
// (amd64/v1, arm64/v8) while making arm's default (v7) explicit.
func NormalizePlatform(p ocispec.Platform) ocispec.Platform {
	p.OS = strings.ToLower(p.OS)
	if p.OS == "macos" {
		p.OS = "darwin"
	}
	p.Architecture, p.Variant, _ = normalizeArch(strings.ToLower(p.Architecture), strings.ToLower(p.Variant))
	return p
}

// FormatPlatform returns p as os/arch[/variant].
func FormatPlatform(p ocispec.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// variantLevel returns N for "vN" (amd64 and arm64 defaults count as 1
// and 8), or -1 if the variant is not of that form.
func variantLevel(arch, v string) int {
	if v == "" {
		switch arch {
		case "amd64":
			return 1
		case "arm64":
			return 8
		}
		return 0
	}
	n, err := strconv.Atoi(strings.TrimPrefix(v, "v"))
	if err != nil || !strings.HasPrefix(v, "v") {
		return -1
	}
	return n
}

// MatchPlatform reports whether an image built for have runs on want: same
// OS and architecture, and a variant no newer than want's (arm/v7 runs
// arm/v6 and arm/v5 images; amd64/v3 runs v2 and v1 ones; plain amd64 runs
// only v1). Variants not of the form vN must be equal.
func MatchPlatform(want, have ocispec.Platform) bool {
	want, have = NormalizePlatform(want), NormalizePlatform(have)
	if want.OS != have.OS || want.Architecture != have.Architecture {
		return false
	}
	if want.Variant == have.Variant {
		return true
	}
	w, h := variantLevel(want.Architecture, want.Variant), variantLevel(have.Architecture, have.Variant)
	return w >= 0 && h >= 0 && h <= w
}

// SelectManifest picks from idx the manifest for want: among the entries
// whose platform matches (MatchPlatform) it takes the one with the newest
// variant, the first in the index on a tie. Entries without a platform,
// and attestations (platform unknown/unknown), never match. No match is
// errdefs.ErrNotFound naming what the index offers.
func SelectManifest(idx ocispec.Index, want ocispec.Platform) (ocispec.Descriptor, error) {
	want = NormalizePlatform(want)
	best, bestLevel := -1, -2
	var offered []string
	for i, m := range idx.Manifests {
		if m.Platform == nil {
			continue
		}
		have := NormalizePlatform(*m.Platform)
		if have.OS == "unknown" {
			continue
		}
		offered = append(offered, FormatPlatform(have))
		if !MatchPlatform(want, have) {
			continue
		}
		if l := variantLevel(have.Architecture, have.Variant); l > bestLevel {
			best, bestLevel = i, l
		}
	}
	if best < 0 {
		if len(offered) == 0 {
			offered = []string{"no platforms"}
		}
		return ocispec.Descriptor{}, fmt.Errorf("no manifest for platform %s (index offers %s): %w",
			FormatPlatform(want), strings.Join(offered, ", "), errdefs.ErrNotFound)
	}
	return idx.Manifests[best], nil
}
