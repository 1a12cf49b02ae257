package registry

import (
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
	"regexp"
	"strings"
	"sync"
)

// Grammar of the distribution spec.
var (
	nameComponent = `[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*`
	nameRE        = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^` + nameComponent + `(?:/` + nameComponent + `)*$`) })
	tagRE         = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`) })
)

// maxNameLength bounds a repository name (with the registry host it must fit
// in 255 characters).
const maxNameLength = 255

// ValidName reports whether name is a valid repository name.
func ValidName(name string) bool {
	return len(name) <= maxNameLength && nameRE().MatchString(name)
}

// ValidTag reports whether tag is a valid tag.
func ValidTag(tag string) bool {
	return tagRE().MatchString(tag)
}

// Digest is a validated content digest, "algorithm:hex".
type Digest struct {
	Algorithm string
	Hex       string
}

func (d Digest) String() string { return d.Algorithm + ":" + d.Hex }

// IsZero reports whether d is the zero Digest.
func (d Digest) IsZero() bool { return d.Algorithm == "" }

// newHash returns a hash of the digest's algorithm.
func (d Digest) newHash() hash.Hash {
	if d.Algorithm == "sha512" {
		return sha512.New()
	}
	return sha256.New()
}

// hexLength is the hex length of each supported algorithm.
var hexLength = map[string]int{"sha256": 64, "sha512": 128}

// ParseDigest validates s as a digest of a supported algorithm.
func ParseDigest(s string) (Digest, error) {
	alg, hx, ok := strings.Cut(s, ":")
	if !ok || alg == "" || hx == "" {
		return Digest{}, errorf(ErrDigestInvalid, "digest %q is not algorithm:hex", s)
	}
	n, supported := hexLength[alg]
	if !supported {
		return Digest{}, errorf(ErrDigestInvalid, "digest %q: unsupported algorithm %q", s, alg)
	}
	if len(hx) != n {
		return Digest{}, errorf(ErrDigestInvalid, "digest %q: %s needs %d hex characters", s, alg, n)
	}
	for _, c := range hx {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return Digest{}, errorf(ErrDigestInvalid, "digest %q: invalid character %q", s, c)
		}
	}
	return Digest{Algorithm: alg, Hex: hx}, nil
}

// digestOf computes the digest of b with algorithm alg.
func digestOf(alg string, b []byte) Digest {
	if alg == "sha512" {
		s := sha512.Sum512(b)
		return Digest{Algorithm: alg, Hex: fmt.Sprintf("%x", s[:])}
	}
	s := sha256.Sum256(b)
	return Digest{Algorithm: "sha256", Hex: fmt.Sprintf("%x", s[:])}
}
