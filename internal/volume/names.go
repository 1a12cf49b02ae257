package volume

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"regexp"
	"sync"

	"github.com/containerd/errdefs"
)

// AnonymousLabel marks a volume created without a name; prune without
// all=true removes only those.
const AnonymousLabel = "com.docker.volume.anonymous"

// restrictedNameChars is the pattern dockerd quotes in its error.
const restrictedNameChars = `[a-zA-Z0-9][a-zA-Z0-9_.-]`

// nameRegexp is compiled on first use: every berth process links this
// package, few validate a volume name.
var nameRegexp = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^` + restrictedNameChars + `+$`) })

// ValidateName checks a volume name as dockerd's local driver does, with
// its messages (errdefs.ErrInvalidArgument).
func ValidateName(name string) error {
	if len(name) == 1 {
		return errdefs.ErrInvalidArgument.WithMessage("volume name is too short, names should be at least two alphanumeric characters")
	}
	if !nameRegexp().MatchString(name) {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("%q includes invalid characters for a local volume name, only %q are allowed. If you intended to pass a host directory, use absolute path", name, restrictedNameChars))
	}
	return nil
}

// randomName returns 64 hex digits, the name of an anonymous volume.
func randomName() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random volume name: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// opErr is dockerd's "OP NAME: MESSAGE" error, classified by class.
func opErr(class interface{ WithMessage(string) error }, op, name, msg string) error {
	return class.WithMessage(fmt.Sprintf("%s %s: %s", op, name, msg))
}
