package cgroups

import (
	"errors"
	"path"
	"sort"
	"strings"
)

// CgroupMount is one mount the container's init makes for a spec mount of
// type "cgroup", relative to that mount's destination (usually
// /sys/fs/cgroup). Mount them in order; apply the spec mount's flags (ro,
// nosuid, noexec, nodev) to each.
type CgroupMount struct {
	// Dest is the path below the spec mount's destination; "" is the
	// destination itself.
	Dest string
	// Type is the file system to mount: "tmpfs", "cgroup" (a v1 hierarchy) or
	// "cgroup2".
	Type string
	// Data is the mount data: "mode=755" for the tmpfs, the hierarchy's
	// controllers for v1 ("cpu,cpuacct", "none,name=systemd"), "" for cgroup2.
	Data string
	// HostDir is the container's cgroup directory on the host for this
	// hierarchy ("" for the tmpfs). In a cgroup namespace created after the
	// init joined its cgroup, mounting a new Type file system with Data shows
	// the container's cgroup as the root. Without a cgroup namespace the init
	// bind-mounts HostDir at Dest instead, since a new mount would expose the
	// host's whole hierarchy.
	HostDir string
	// Symlinks are names to create beside Dest pointing to Dest's base name,
	// for hierarchies mounted together ("cpu" and "cpuacct" -> "cpu,cpuacct").
	Symlinks []string
}

// MountPoints returns what the init mounts for a "cgroup" mount of a
// container whose cgroup is m: on v2 one cgroup2 mount at the destination;
// on v1 a tmpfs at the destination, then one directory per hierarchy named
// as on the host (cpu, memory, systemd, ...), and in hybrid mode a cgroup2
// mount at "unified".
func MountPoints(m Manager) ([]CgroupMount, error) {
	switch m := m.(type) {
	case *v2Manager:
		return []CgroupMount{{Type: "cgroup2", HostDir: m.dir}}, nil
	case *v1Manager:
		h := m.h
		if h == nil {
			var err error
			if h, err = readHierarchies(mountinfoPath); err != nil {
				return nil, err
			}
		}
		mounts := []CgroupMount{{Type: "tmpfs", Data: "mode=755"}}
		seen := map[string]bool{}
		var v1 []CgroupMount
		for ctrl, mnt := range h.v1 {
			hostDir := m.paths[ctrl]
			if hostDir == "" || seen[mnt.dir] {
				continue
			}
			seen[mnt.dir] = true
			base := path.Base(mnt.dir)
			data := strings.Join(mnt.controllers, ",")
			if strings.HasPrefix(data, "name=") {
				data = "none," + data
			}
			cm := CgroupMount{Dest: base, Type: "cgroup", Data: data, HostDir: hostDir}
			if len(mnt.controllers) > 1 {
				for _, c := range mnt.controllers {
					if c != base && !strings.HasPrefix(c, "name=") {
						cm.Symlinks = append(cm.Symlinks, c)
					}
				}
			}
			v1 = append(v1, cm)
		}
		sort.Slice(v1, func(i, j int) bool { return v1[i].Dest < v1[j].Dest })
		mounts = append(mounts, v1...)
		if d := m.paths[""]; d != "" && h.unified != "" {
			mounts = append(mounts, CgroupMount{Dest: path.Base(h.unified), Type: "cgroup2", HostDir: d})
		}
		return mounts, nil
	}
	return nil, errors.New("cgroup mount points: unknown cgroup manager")
}
