package metadata

import (
	"fmt"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
)

// ParseReference parses s as docker does for images it stores and pulls:
// a missing registry is docker.io, a missing namespace on docker.io is
// library/, a missing tag is latest, and a reference with both tag and
// digest keeps only the digest. Invalid references (upper case in the
// path, bad characters, a bare 64-hex ID, over 255 characters of name)
// are errdefs.ErrInvalidArgument naming s and the reason.
func ParseReference(s string) (reference.Named, error) {
	named, err := reference.ParseDockerRef(s)
	if err != nil {
		return nil, fmt.Errorf("invalid reference %q: %w: %w", s, err, errdefs.ErrInvalidArgument)
	}
	return named, nil
}

// NormalizeName returns the normalised string form of reference s, the
// form image records are stored under.
func NormalizeName(s string) (string, error) {
	named, err := ParseReference(s)
	if err != nil {
		return "", err
	}
	return named.String(), nil
}

// FamiliarName returns the short form docker prints for a normalised
// name: "docker.io/library/busybox:latest" is "busybox:latest". A name
// that does not parse is returned unchanged.
func FamiliarName(name string) string {
	named, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return name
	}
	return reference.FamiliarString(named)
}
