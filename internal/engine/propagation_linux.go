package engine

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/mount"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// setRootPropagation applies dockerd's rules for binds that ask for shared
// or slave propagation: the source must sit on a mount of that kind (else
// the start fails with dockerd's words), and the container's root gets
// shared (or rslave) propagation too, without which nothing would
// propagate through it.
func setRootPropagation(s *specs.Spec, mps []MountRecord) error {
	for _, r := range mps {
		if r.Type != mount.TypeBind {
			continue
		}
		var shared bool
		switch r.Propagation {
		case mount.PropagationShared, mount.PropagationRShared:
			shared = true
		case mount.PropagationSlave, mount.PropagationRSlave:
		default:
			continue
		}
		mnt, opts, err := mountOf(r.Source)
		if err != nil {
			return err
		}
		isShared, isSlave := false, false
		for _, o := range opts {
			isShared = isShared || strings.HasPrefix(o, "shared:")
			isSlave = isSlave || strings.HasPrefix(o, "master:")
		}
		root := s.Linux.RootfsPropagation
		if shared {
			if !isShared {
				return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("path %s is mounted on %s but it is not a shared mount", r.Source, mnt))
			}
			if root != "shared" && root != "rshared" {
				s.Linux.RootfsPropagation = "shared"
			}
			continue
		}
		if !isShared && !isSlave {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("path %s is mounted on %s but it is not a shared or slave mount", r.Source, mnt))
		}
		switch root {
		case "shared", "rshared", "slave", "rslave":
		default:
			s.Linux.RootfsPropagation = "rslave"
		}
	}
	return nil
}

// mountOf returns the mount point of the host mount path is on, and that
// mount's optional fields (shared:N, master:N) from /proc/self/mountinfo.
func mountOf(path string) (string, []string, error) {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", nil, fmt.Errorf("bind source %s: %w", path, err)
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	best, bestLen := "", -1
	var bestOpts []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 7 {
			continue
		}
		mp := unescapeMountinfo(fields[4])
		if !pathWithin(real, mp) || len(mp) < bestLen {
			continue
		}
		var opts []string
		for _, o := range fields[6:] {
			if o == "-" {
				break
			}
			opts = append(opts, o)
		}
		best, bestLen, bestOpts = mp, len(mp), opts // the last of equal ones is on top
	}
	if err := sc.Err(); err != nil {
		return "", nil, err
	}
	return best, bestOpts, nil
}

// unescapeMountinfo undoes mountinfo's octal escapes (\040 for a space).
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
