package image

import (
	"fmt"

	"github.com/opencontainers/go-digest"

	"github.com/berth/berth/internal/archive"
	"github.com/berth/berth/internal/snapshot/mount"
)

// ChainIDs returns the chain ID of each layer prefix, as the OCI image spec
// defines them: ChainID(L0) = DiffID(L0), ChainID(L0..Ln) =
// sha256(ChainID(L0..Ln-1) + " " + DiffID(Ln)).
func ChainIDs(diffIDs []digest.Digest) []digest.Digest {
	out := make([]digest.Digest, len(diffIDs))
	for i, d := range diffIDs {
		if i == 0 {
			out[i] = d
			continue
		}
		out[i] = digest.FromString(out[i-1].String() + " " + d.String())
	}
	return out
}

// applyTarget finds the directory a layer is unpacked into from the mounts
// of an active snapshot, and the form the layer takes there: an overlay's
// upperdir in overlay form, a bind mount's source in native form (a full
// copy of the layers below, or the bottom layer).
func applyTarget(mounts []mount.Mount) (string, archive.Format, error) {
	dir, overlay, err := mount.WritableDir(mounts)
	if err != nil {
		return "", 0, fmt.Errorf("unpack target: %w", err)
	}
	if overlay {
		return dir, archive.FormatOverlay, nil
	}
	return dir, archive.FormatNative, nil
}
