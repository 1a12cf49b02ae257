package runtime

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// joinSessionKeyring gives the calling thread (the one that execs the
// process) the session keyring _ses.<id> instead of the caller's, as runc
// does: the container neither reads nor changes the keys of whoever started
// it. The init makes it; an exec'd process joins the same one. The keyring
// is made searchable by its user (by others in a user namespace) so that
// joining works after the uid changes. Kernels without keyrings are let be.
func joinSessionKeyring(id string, userNS bool) error {
	ring, err := unix.KeyctlJoinSessionKeyring("_ses." + id)
	if err != nil {
		if errors.Is(err, unix.ENOSYS) {
			return nil
		}
		return fmt.Errorf("join session keyring: %w", err)
	}
	desc, err := unix.KeyctlString(unix.KEYCTL_DESCRIBE, ring)
	if err != nil {
		return fmt.Errorf("session keyring: describe: %w", err)
	}
	// "type;uid;gid;perm;description", perm in hex.
	f := strings.SplitN(desc, ";", 5)
	if len(f) < 5 {
		return fmt.Errorf("session keyring: description %q", desc)
	}
	perm, err := strconv.ParseUint(f[3], 16, 32)
	if err != nil {
		return fmt.Errorf("session keyring: permissions %q", f[3])
	}
	search := uint64(keyUsrSearch)
	if userNS {
		search = keyOthSearch
	}
	if err := unix.KeyctlSetperm(ring, uint32(perm|search)); err != nil {
		return fmt.Errorf("session keyring: set permissions: %w", err)
	}
	return nil
}

// Key permission bits of linux/keyctl.h.
const (
	keyUsrSearch = 0x00080000
	keyOthSearch = 0x00000008
)

// hasNewUserNS reports whether spec makes a user namespace of its own.
func hasNewUserNS(spec *specs.Spec) bool {
	n, ok := findNS(spec, specs.UserNamespace)
	return ok && n.Path == ""
}

// unignoreSignals gives SIGHUP and SIGINT their default action back when
// berth was started with them ignored (nohup, a background job): an exec
// keeps an ignored signal ignored, and the container's process would not
// die of them, as it does under runc. Go leaves these two ignored if they
// were; a handler installed now is reset to the default by the exec.
func unignoreSignals() {
	for _, s := range []syscall.Signal{syscall.SIGHUP, syscall.SIGINT} {
		if signal.Ignored(s) {
			signal.Notify(make(chan os.Signal, 1), s)
		}
	}
}
