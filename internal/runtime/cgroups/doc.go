// Package cgroups owns the control groups of Berth's OCI runtime: it creates a
// container's cgroup, moves processes into it, applies the runtime-spec
// resource limits (linux.resources), freezes and thaws it, reads its
// statistics and removes it, with the cgroupfs driver only (never systemd).
//
// # Layouts
//
// Three layouts of /sys/fs/cgroup are recognised from /proc/self/mountinfo:
//
//	legacy   v1 hierarchies only, one per directory (cpu, memory, pids, ...)
//	hybrid   v1 hierarchies plus a cgroup2 mount (usually /sys/fs/cgroup/unified)
//	         that holds few or no controllers; limits go to the v1 controllers and
//	         the cgroup is also created and joined in the cgroup2 tree, as runc does
//	unified  cgroup2 only, mounted at /sys/fs/cgroup
//
// [New] picks the v1 manager for legacy and hybrid layouts and the v2 manager
// for the unified one; both implement [Manager].
//
// # Paths
//
// A spec's cgroupsPath is resolved as follows: an absolute path ("/berth/c1")
// is taken from the root of every hierarchy; a relative path ("pod1/c1") is put
// under the default parent "/berth"; an empty path becomes "/berth/<id>".
// [Manager.Paths] returns controller -> absolute directory ("" names the
// cgroup2 directory, in hybrid and unified layouts); the runtime persists that
// map in state.json and hands it back to [Load].
//
// # Devices
//
// On v1 the devices controller is written rule by rule. On v2 the same rules
// are compiled into an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE
// (devices_bpf.go) that is loaded with the bpf(2) system call and attached to
// the cgroup directory with BPF_F_ALLOW_MULTI. Both follow the same semantics:
// a device access is denied unless allowed; for each access bit (r, w, m) the
// last rule in spec order that matches the device and names that bit decides.
// Set applies exactly the rules it is given; [DeviceRules] builds, from a
// spec, the list runc would apply (deny all, the spec's rules, its
// linux.devices, then [DefaultAllowedDevices] such as /dev/null).
//
// # Updates
//
// Set only touches what r sets, so `update` should pass the changed resources
// alone. Devices in particular: on v1 a non-empty device list is written as
// "deny all" followed by the rules, which briefly denies every device to a
// running container; on v2 the new program is attached before the old one is
// detached, so there is no gap.
//
// # Mounting cgroups in a container
//
// [MountPoints] tells the init what to mount for a "cgroup" mount of the
// spec; see its documentation.
package cgroups
