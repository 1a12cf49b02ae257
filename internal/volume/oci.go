package volume

import (
	"strings"

	"github.com/moby/moby/api/types/mount"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// OCIMount is the runtime-spec mount of mp, as dockerd writes it: source
// is the host directory (mp.Source for a bind; the directory Acquire
// returned for a volume; ignored for tmpfs). Binds and volumes are rbind
// (bind with bind-recursive=disabled), ro when read-only, with their
// propagation (rprivate by default); tmpfs mounts are nosuid, nodev,
// noexec unless asked otherwise, with their size and mode.
func (mp *MountPoint) OCIMount(source string) specs.Mount {
	if mp.Type == mount.TypeTmpfs {
		data, _ := TmpfsOptions(mp.Spec.TmpfsOptions, !mp.RW)
		opts := []string{"nosuid", "nodev"}
		if !strings.Contains(","+data+",", ",exec,") {
			opts = append(opts, "noexec")
		}
		for _, o := range strings.Split(data, ",") {
			if o != "" && o != "exec" {
				opts = append(opts, o)
			}
		}
		return specs.Mount{Destination: mp.Destination, Type: "tmpfs", Source: "tmpfs", Options: opts}
	}
	opts := []string{"rbind"}
	if b := mp.Spec.BindOptions; b != nil && b.NonRecursive {
		opts[0] = "bind"
	}
	if !mp.RW {
		opts = append(opts, "ro")
	}
	prop := mp.Propagation
	if prop == "" {
		prop = mount.PropagationRPrivate
	}
	opts = append(opts, string(prop))
	return specs.Mount{Destination: mp.Destination, Type: "bind", Source: source, Options: opts}
}
