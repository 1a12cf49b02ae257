package engine

import (
	"fmt"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/mount"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth/berth/internal/volume"
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
		mnt, opts, err := volume.MountOf(r.Source)
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
