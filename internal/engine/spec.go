package engine

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/blkiodev"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/snapshot/mount"
)

// defaultCaps is docker's default capability set.
var defaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// allCaps is every capability the kernel knows (for --privileged and ALL).
var allCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
	"CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
	"CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
	"CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
	"CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
}

// docker's masked and read-only paths.
var (
	defaultMaskedPaths = []string{
		"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
		"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
		"/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
	}
	defaultReadonlyPaths = []string{
		"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
	}
)

// normCap returns a capability name as the kernel spells it ("net_admin"
// is CAP_NET_ADMIN), or "ALL"; an unknown name is an invalid argument.
func normCap(s string) (string, error) {
	s = strings.ToUpper(s)
	if s == "ALL" {
		return s, nil
	}
	if !strings.HasPrefix(s, "CAP_") {
		s = "CAP_" + s
	}
	for _, c := range allCaps {
		if c == s {
			return s, nil
		}
	}
	return "", errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("unknown capability: %q", s))
}

// capabilities applies --cap-add/--cap-drop (with or without CAP_, ALL)
// over docker's default set.
func capabilities(hc *container.HostConfig) ([]string, error) {
	if hc.Privileged {
		return boundingCaps(), nil
	}
	// dockerd's TweakCapabilities: --cap-add ALL is every capability but
	// the dropped ones; --cap-drop ALL leaves only the added ones; else
	// the defaults without the dropped ones, plus the added ones.
	norm := func(list []string) (map[string]bool, bool, error) {
		out, all := map[string]bool{}, false
		for _, c := range list {
			n, err := normCap(c)
			if err != nil {
				return nil, false, err
			}
			if n == "ALL" {
				all = true
				continue
			}
			out[n] = true
		}
		return out, all, nil
	}
	drop, dropAll, err := norm(hc.CapDrop)
	if err != nil {
		return nil, err
	}
	add, addAll, err := norm(hc.CapAdd)
	if err != nil {
		return nil, err
	}
	set := map[string]bool{}
	switch {
	case addAll:
		for _, c := range boundingCaps() {
			set[c] = !drop[c]
		}
	case dropAll:
		set = add
	default:
		for _, c := range defaultCaps {
			set[c] = !drop[c]
		}
		for c := range add {
			set[c] = true
		}
	}
	var out []string
	for _, c := range allCaps {
		if set[c] {
			out = append(out, c)
		}
	}
	return out, nil
}

// specOCIVersion is the ociVersion of the specs the engine writes. Not
// specs.Version (1.3.0): crun 1.8.1, Debian 12's, accepts only 1.0.x and
// 1.1.x ("unknown version specified"), and docker 28 (1.2.x) fails there
// the same way. Every 1.x runtime (runc 1.1, crun 1.8, ours) accepts 1.0.2,
// which dockerd 20.10 writes too; runtimes do not gate the fields they
// support on this string.
const specOCIVersion = "1.0.2"

// defaultPathEnv is docker's PATH for a container whose image sets none.
const defaultPathEnv = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// containerHostname is the hostname of c's UTS namespace: --hostname, the
// short ID, or the host's name with --network host.
func containerHostname(c *Container) string {
	if c.Config.Hostname != "" {
		return c.Config.Hostname
	}
	if c.HostConfig != nil && (c.HostConfig.NetworkMode == "host" || c.HostConfig.UTSMode == "host") {
		if h, err := os.Hostname(); err == nil {
			return h
		}
	}
	return c.ID[:12]
}

// daemonEnv is the environment docker gives a container's process and each
// exec (its CreateDaemonEnvironment and ReplaceOrAppendEnvValues): the
// default PATH, HOSTNAME and, with a terminal, TERM=xterm, then each list of
// overrides in turn: a variable already there is replaced in place, a bare
// name unsets it, anything else is appended.
func daemonEnv(hostname string, tty bool, overrides ...[]string) []string {
	env := []string{defaultPathEnv, "HOSTNAME=" + hostname}
	if tty {
		env = append(env, "TERM=xterm")
	}
	for _, o := range overrides {
		env = replaceOrAppendEnv(env, o)
	}
	return env
}

func replaceOrAppendEnv(env, overrides []string) []string {
	index := make(map[string]int, len(env))
	for i, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		index[k] = i
	}
	unset := false
	for _, kv := range overrides {
		k, _, hasValue := strings.Cut(kv, "=")
		i, ok := index[k]
		switch {
		case !hasValue:
			if ok {
				env[i], unset = "", true
			}
		case ok:
			env[i] = kv
		default:
			env = append(env, kv)
		}
	}
	if !unset {
		return env
	}
	out := env[:0]
	for _, kv := range env {
		if kv != "" {
			out = append(out, kv)
		}
	}
	return out
}

// specFor generates the OCI spec of c with docker's defaults. dir is the
// container's directory (hostname, hosts, resolv.conf live there).
func (e *Engine) specFor(c *Container, dir, netns string) (*specs.Spec, error) {
	cfg, hc := c.Config, c.HostConfig
	caps, err := capabilities(hc)
	if err != nil {
		return nil, err
	}
	hostname := containerHostname(c)
	env := daemonEnv(hostname, cfg.Tty, e.linkEnv(c), cfg.Env)
	args := append(append([]string{}, cfg.Entrypoint...), cfg.Cmd...)
	var initMount *specs.Mount
	if hc.Init != nil && *hc.Init {
		bin, err := initBinary()
		if err != nil {
			return nil, err
		}
		args = append([]string{"/sbin/docker-init", "--"}, args...)
		initMount = &specs.Mount{Destination: "/sbin/docker-init", Type: "bind", Source: bin, Options: []string{"bind", "ro"}}
	}
	user, err := resolveUser(filepath.Join(dir, "rootfs"), cfg.User)
	if err != nil {
		return nil, err
	}
	if user.AdditionalGids, err = addGroups(filepath.Join(dir, "rootfs"), user.AdditionalGids, hc.GroupAdd); err != nil {
		return nil, err
	}
	cwd := cfg.WorkingDir
	if cwd == "" {
		cwd = "/"
	}
	rlimits := ulimits(hc)
	s := &specs.Spec{
		Version: specOCIVersion,
		Process: &specs.Process{
			Terminal: cfg.Tty,
			User:     user,
			Args:     args,
			Env:      env,
			Cwd:      cwd,
			Capabilities: &specs.LinuxCapabilities{
				Bounding: caps, Effective: caps, Permitted: caps,
			},
			Rlimits:         rlimits,
			NoNewPrivileges: noNewPrivileges(hc),
		},
		Root:     &specs.Root{Path: "rootfs", Readonly: hc.ReadonlyRootfs},
		Hostname: hostname,
		Mounts:   e.withShm(c, defaultMounts(hc)),
		Linux: &specs.Linux{
			CgroupsPath: cgroupPath(c),
			Resources:   resources(hc),
			Namespaces:  []specs.LinuxNamespace{{Type: specs.MountNamespace}},
			Sysctl:      containerSysctls(hc),
		},
		Domainname: cfg.Domainname,
	}
	if err := blkioDevices(hc, s.Linux.Resources); err != nil {
		return nil, err
	}
	// --annotation reaches the runtime, as dockerd passes it.
	if len(hc.Annotations) > 0 {
		s.Annotations = maps.Clone(hc.Annotations)
	}
	if hc.OomScoreAdj != 0 {
		adj := hc.OomScoreAdj
		s.Process.OOMScoreAdj = &adj
	}
	// --pid, --ipc, --uts: a namespace of its own, the host's (none in
	// the spec) or another container's.
	for _, n := range []struct {
		typ  specs.LinuxNamespaceType
		mode string
	}{{specs.PIDNamespace, string(hc.PidMode)}, {specs.IPCNamespace, string(hc.IpcMode)}, {specs.UTSNamespace, string(hc.UTSMode)}} {
		ns, err := e.namespaceFor(c, n.typ, n.mode)
		if err != nil {
			return nil, err
		}
		if ns != nil {
			s.Linux.Namespaces = append(s.Linux.Namespaces, *ns)
		}
	}
	if hc.UTSMode == "host" {
		s.Hostname = "" // the host's, which the process shares
		s.Domainname = ""
	}
	if !hc.Privileged {
		s.Linux.MaskedPaths = defaultMaskedPaths
		s.Linux.ReadonlyPaths = defaultReadonlyPaths
		if hc.MaskedPaths != nil {
			s.Linux.MaskedPaths = hc.MaskedPaths
		}
		if hc.ReadonlyPaths != nil {
			s.Linux.ReadonlyPaths = hc.ReadonlyPaths
		}
	}
	if hc.NetworkMode != "host" {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: netns})
	}
	if hc.CgroupnsMode == container.CgroupnsModePrivate {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	}
	if cfg.Tty && hc.ConsoleSize[0] > 0 {
		s.Process.ConsoleSize = &specs.Box{Height: hc.ConsoleSize[0], Width: hc.ConsoleSize[1]}
	}
	// The user's mounts go after the defaults, a parent before what is
	// mounted below it (docker sorts them by depth): -v a:/data/sub with
	// -v b:/data, or /etc/hosts over a volume on /etc.
	defaults := len(s.Mounts)
	// hostname, hosts and resolv.conf from the container's directory.
	for _, f := range []struct{ name, dest string }{{"hostname", "/etc/hostname"}, {"hosts", "/etc/hosts"}, {"resolv.conf", "/etc/resolv.conf"}} {
		opts := []string{"rbind", "rprivate"}
		if hc.ReadonlyRootfs {
			opts = append(opts, "ro")
		}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: f.dest, Type: "bind", Source: filepath.Join(dir, f.name), Options: opts})
	}
	if initMount != nil {
		s.Mounts = append(s.Mounts, *initMount)
	}
	for dest, opt := range hc.Tmpfs {
		opts := []string{"nosuid", "nodev", "noexec"}
		if opt != "" {
			opts = append(opts, strings.Split(opt, ",")...)
		}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: dest, Type: "tmpfs", Source: "tmpfs", Options: opts})
	}
	vm, err := e.volumeMounts(c)
	if err != nil {
		return nil, err
	}
	s.Mounts = append(s.Mounts, vm...)
	if err := setRootPropagation(s, c.MountPoints); err != nil {
		return nil, err
	}
	user_ := s.Mounts[defaults:]
	sort.SliceStable(user_, func(i, j int) bool { return mountDepth(user_[i].Destination) < mountDepth(user_[j].Destination) })
	for _, d := range hc.Devices {
		if err := addDevice(s, d); err != nil {
			return nil, err
		}
	}
	if hc.Privileged {
		s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
		s.Linux.Devices = append(s.Linux.Devices, hostDevices()...)
	}
	if err := setSeccomp(s, hc); err != nil {
		return nil, err
	}
	return s, nil
}

// noNewPrivileges reports whether hc's --security-opt asks for
// no_new_privs (checkSecurityOpts has refused what it cannot read).
func noNewPrivileges(hc *container.HostConfig) bool {
	on, _ := parseSecurityOpts(hc.SecurityOpt)
	return on
}

// writableCgroups reports --security-opt writable-cgroups=true.
func writableCgroups(hc *container.HostConfig) bool {
	v, ok := securityOpt(hc, "writable-cgroups")
	if ok && v == "" {
		return true // the key alone, as dockerd reads it
	}
	b, _ := strconv.ParseBool(v)
	return b
}

// securityOpt returns the value of hc's --security-opt key (KEY=VALUE, or
// the older KEY:VALUE; "" for the key alone) and whether it is there.
func securityOpt(hc *container.HostConfig, key string) (string, bool) {
	for _, o := range hc.SecurityOpt {
		k, v, ok := strings.Cut(o, "=")
		if !ok {
			k, v, _ = strings.Cut(o, ":")
		}
		if k == key {
			return v, true
		}
	}
	return "", false
}

// parseSecurityOpts reads --security-opt as dockerd does: KEY=VALUE, or
// the older KEY:VALUE; "no-new-privileges" alone, or with a boolean; label,
// apparmor and seccomp (seccomp is read by setSeccomp); anything else is
// an error in dockerd's words. It returns whether no_new_privs is asked.
func parseSecurityOpts(opts []string) (noNewPrivs bool, err error) {
	for _, o := range opts {
		if o == "no-new-privileges" {
			noNewPrivs = true
			continue
		}
		if o == "writable-cgroups" { // alone: true, as dockerd reads it
			continue
		}
		if o == "disable" {
			continue
		}
		k, v, ok := strings.Cut(o, "=")
		if !ok {
			if k, v, ok = strings.Cut(o, ":"); !ok {
				return false, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid --security-opt 1: %q", o))
			}
		}
		switch k {
		case "label", "apparmor", "seccomp":
		case "writable-cgroups": // dockerd 25's (writableCgroups)
			if _, err := strconv.ParseBool(v); err != nil {
				return false, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid --security-opt 2: %q", o))
			}
		case "no-new-privileges":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return false, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid --security-opt 2: %q", o))
			}
			noNewPrivs = b
		default:
			return false, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid --security-opt 2: %q", o))
		}
	}
	return noNewPrivs, nil
}

func setSeccomp(s *specs.Spec, hc *container.HostConfig) error {
	// A privileged container is unconfined unless a profile is named, as
	// with dockerd since 25.0 (which keeps a profile given with
	// --privileged).
	v, named := securityOpt(hc, "seccomp")
	if hc.Privileged && !named || v == "unconfined" {
		return nil
	}
	if named && v != "builtin" { // "builtin": dockerd's name of its default profile
		body := v
		if !strings.HasPrefix(strings.TrimSpace(v), "{") {
			b, err := os.ReadFile(v)
			if err != nil {
				return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("opening seccomp profile (%s) failed: %v", v, err))
			}
			body = string(b)
		}
		p, err := seccomp.LoadProfile(body, s)
		if err != nil {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("seccomp profile: %v", err))
		}
		s.Linux.Seccomp = p
		return nil
	}
	p, err := seccomp.GetDefaultProfile(s)
	if err != nil {
		return fmt.Errorf("default seccomp profile: %w", err)
	}
	s.Linux.Seccomp = p
	return nil
}

// shmDir is where a container with --ipc shareable has its /dev/shm: a
// tmpfs the engine mounts on the host while the container runs, so that
// containers joining its IPC namespace (--ipc container:NAME) see the same
// files, as with dockerd.
func (e *Engine) shmDir(id string) string { return filepath.Join(e.dir(id), "shm") }

// withShm gives mounts (the defaults, with a private tmpfs on /dev/shm) the
// /dev/shm of c's IPC mode, as dockerd does: the host's for --ipc host, the
// engine's tmpfs of c (shareable) or of the container it joins, none for
// --ipc none.
func (e *Engine) withShm(c *Container, mounts []specs.Mount) []specs.Mount {
	mode := string(c.HostConfig.IpcMode)
	bindFrom := func(src string) specs.Mount {
		return specs.Mount{Destination: "/dev/shm", Type: "bind", Source: src, Options: []string{"rbind", "rprivate"}}
	}
	src := "" // what is bound on /dev/shm; none when empty
	switch {
	case mode == string(container.IPCModeHost):
		src = "/dev/shm"
	case mode == string(container.IPCModeShareable):
		src = e.shmDir(c.ID)
	case strings.HasPrefix(mode, "container:"):
		// The donor was checked (running, shareable or host) by
		// namespaceFor.
		if other, err := e.Get(strings.TrimPrefix(mode, "container:")); err == nil && other != c {
			other.mu.Lock()
			omode, oid := other.HostConfig.IpcMode, other.ID
			other.mu.Unlock()
			switch omode {
			case container.IPCModeHost:
				src = "/dev/shm"
			case container.IPCModeShareable:
				src = e.shmDir(oid)
			}
		}
	case mode == string(container.IPCModeNone):
	default:
		return mounts // a private tmpfs
	}
	out := mounts[:0:0]
	for _, m := range mounts {
		if m.Destination == "/dev/shm" {
			if src != "" {
				out = append(out, bindFrom(src))
			}
			continue
		}
		out = append(out, m)
	}
	return out
}

// mountShm mounts the tmpfs of a container with --ipc shareable (shmDir).
func (e *Engine) mountShm(c *Container) error {
	if c.HostConfig.IpcMode != container.IPCModeShareable {
		return nil
	}
	dir := e.shmDir(c.ID)
	_ = mount.UnmountAll(dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("shm: %w", err)
	}
	// ShmSize: docker's 64 MiB unless set (applyHostDefaults).
	if err := unix.Mount("shm", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=1777,size="+strconv.FormatInt(c.HostConfig.ShmSize, 10)); err != nil {
		return fmt.Errorf("shm: mount tmpfs on %s: %w", dir, err)
	}
	return nil
}

// ulimits are --ulimit's limits as the spec's rlimits (the container's
// process and, as with dockerd, each exec).
func ulimits(hc *container.HostConfig) []specs.POSIXRlimit {
	rlimits := []specs.POSIXRlimit{}
	for _, u := range hc.Ulimits {
		rlimits = append(rlimits, specs.POSIXRlimit{Type: "RLIMIT_" + strings.ToUpper(u.Name), Hard: uint64(u.Hard), Soft: uint64(u.Soft)})
	}
	return rlimits
}

func defaultMounts(hc *container.HostConfig) []specs.Mount {
	sysOpts := []string{"nosuid", "noexec", "nodev", "ro"}
	if hc.Privileged {
		sysOpts = []string{"nosuid", "noexec", "nodev"}
	}
	// The cgroup mount is read-only but for privileged containers and
	// --security-opt writable-cgroups=true, as dockerd mounts it.
	cgroupOpts := []string{"ro", "nosuid", "noexec", "nodev"}
	if hc.Privileged || writableCgroups(hc) {
		cgroupOpts = cgroupOpts[1:]
	}
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: sysOpts},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: cgroupOpts},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=" + strconv.FormatInt(hc.ShmSize, 10)}},
	}
}

func resources(hc *container.HostConfig) *specs.LinuxResources {
	r := &specs.LinuxResources{
		Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
	}
	// docker's default device allow-list (oci.DefaultLinuxSpec): mknod of
	// any character or block device; null, zero, full, random, urandom,
	// tty, console, ptmx, the ptys and tun. Not fuse: it takes --device.
	r.Devices = append(r.Devices,
		specs.LinuxDeviceCgroup{Allow: true, Type: "c", Access: "m"},
		specs.LinuxDeviceCgroup{Allow: true, Type: "b", Access: "m"})
	for _, d := range []struct {
		typ          string
		major, minor int64
	}{{"c", 1, 3}, {"c", 1, 5}, {"c", 1, 7}, {"c", 1, 8}, {"c", 1, 9}, {"c", 5, 0}, {"c", 5, 1}, {"c", 5, 2}, {"c", 136, -1}, {"c", 10, 200}} {
		maj, min := d.major, d.minor
		dc := specs.LinuxDeviceCgroup{Allow: true, Type: d.typ, Major: &maj, Access: "rwm"}
		if min >= 0 {
			dc.Minor = &min
		}
		r.Devices = append(r.Devices, dc)
	}
	swappiness := hc.MemorySwappiness != nil && *hc.MemorySwappiness >= 0 // -1: the host's
	oomKillDisable := hc.OomKillDisable != nil && *hc.OomKillDisable
	if hc.Memory > 0 || hc.MemorySwap != 0 || hc.MemoryReservation > 0 || swappiness || oomKillDisable {
		m := &specs.LinuxMemory{}
		if swappiness {
			v := uint64(*hc.MemorySwappiness)
			m.Swappiness = &v
		}
		if oomKillDisable {
			m.DisableOOMKiller = &oomKillDisable
		}
		if hc.Memory > 0 {
			v := hc.Memory
			m.Limit = &v
			if hc.MemorySwap == 0 {
				sw := 2 * hc.Memory
				m.Swap = &sw
			}
		}
		if hc.MemorySwap != 0 {
			v := hc.MemorySwap
			m.Swap = &v
		}
		if hc.MemoryReservation > 0 {
			v := hc.MemoryReservation
			m.Reservation = &v
		}
		r.Memory = m
	}
	if hc.NanoCPUs > 0 || hc.CPUShares > 0 || hc.CpusetCpus != "" || hc.CPUQuota > 0 || hc.CPUPeriod > 0 || hc.CpusetMems != "" {
		cpu := &specs.LinuxCPU{Cpus: hc.CpusetCpus, Mems: hc.CpusetMems}
		if hc.CPUShares > 0 {
			v := uint64(hc.CPUShares)
			cpu.Shares = &v
		}
		if hc.NanoCPUs > 0 {
			period := uint64(100000)
			quota := hc.NanoCPUs * 100000 / 1e9
			cpu.Period, cpu.Quota = &period, &quota
		} else {
			if hc.CPUQuota > 0 {
				q := hc.CPUQuota
				cpu.Quota = &q
			}
			if hc.CPUPeriod > 0 { // also alone, as dockerd writes it
				p := uint64(hc.CPUPeriod)
				cpu.Period = &p
			}
		}
		r.CPU = cpu
	}
	if hc.PidsLimit != nil && *hc.PidsLimit > 0 {
		r.Pids = &specs.LinuxPids{Limit: hc.PidsLimit}
	}
	for _, rule := range hc.DeviceCgroupRules {
		if dc, err := parseDeviceCgroupRule(rule); err == nil {
			r.Devices = append(r.Devices, dc)
		}
	}
	if hc.BlkioWeight > 0 && blkioWeightSupported() {
		w := hc.BlkioWeight
		r.BlockIO = &specs.LinuxBlockIO{Weight: &w}
	}
	return r
}

// deviceCgroupRule is docker's --device-cgroup-rule: "TYPE MAJOR:MINOR
// ACCESS", TYPE a, b or c, MAJOR and MINOR numbers or *, ACCESS of r, w, m.
var deviceCgroupRule = regexp.MustCompile(`^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$`)

// parseDeviceCgroupRule reads one --device-cgroup-rule as an allow rule.
func parseDeviceCgroupRule(rule string) (specs.LinuxDeviceCgroup, error) {
	m := deviceCgroupRule.FindStringSubmatch(rule)
	if m == nil {
		return specs.LinuxDeviceCgroup{}, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid device cgroup format '%s'", rule))
	}
	dc := specs.LinuxDeviceCgroup{Allow: true, Type: m[1], Access: m[4]}
	for i, p := range []**int64{&dc.Major, &dc.Minor} {
		if v := m[2+i]; v != "*" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return specs.LinuxDeviceCgroup{}, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid device cgroup format '%s'", rule))
			}
			*p = &n
		}
	}
	return dc, nil
}

// blkioWeightSupported reports whether the host's cgroups have a block
// I/O weight (CFQ's or BFQ's on v1, io.weight or io.bfq.weight on v2);
// dockerd drops --blkio-weight with a warning where they have none.
var blkioWeightSupported = sync.OnceValue(func() bool {
	for _, f := range []string{"/sys/fs/cgroup/blkio/blkio.weight", "/sys/fs/cgroup/blkio/blkio.bfq.weight", "/sys/fs/cgroup/io.weight", "/sys/fs/cgroup/io.bfq.weight"} {
		if _, err := os.Stat(f); err == nil {
			return true
		}
	}
	return false
})

// blkioDevices adds --blkio-weight-device and the --device-read/write-bps
// and -iops limits to r, each device by its host node's numbers.
func blkioDevices(hc *container.HostConfig, r *specs.LinuxResources) error {
	if len(hc.BlkioWeightDevice) == 0 && len(hc.BlkioDeviceReadBps) == 0 && len(hc.BlkioDeviceWriteBps) == 0 &&
		len(hc.BlkioDeviceReadIOps) == 0 && len(hc.BlkioDeviceWriteIOps) == 0 {
		return nil
	}
	if r.BlockIO == nil {
		r.BlockIO = &specs.LinuxBlockIO{}
	}
	numbers := func(path string) (int64, int64, error) {
		var st unixStat
		if err := statDevice(path, &st); err != nil {
			return 0, 0, fmt.Errorf("blkio device %s: %w", path, err)
		}
		return st.major, st.minor, nil
	}
	if blkioWeightSupported() {
		for _, d := range hc.BlkioWeightDevice {
			maj, min, err := numbers(d.Path)
			if err != nil {
				return err
			}
			w := d.Weight
			wd := specs.LinuxWeightDevice{Weight: &w}
			wd.Major, wd.Minor = maj, min
			r.BlockIO.WeightDevice = append(r.BlockIO.WeightDevice, wd)
		}
	}
	for _, t := range []struct {
		from []*blkiodev.ThrottleDevice
		to   *[]specs.LinuxThrottleDevice
	}{
		{hc.BlkioDeviceReadBps, &r.BlockIO.ThrottleReadBpsDevice}, {hc.BlkioDeviceWriteBps, &r.BlockIO.ThrottleWriteBpsDevice},
		{hc.BlkioDeviceReadIOps, &r.BlockIO.ThrottleReadIOPSDevice}, {hc.BlkioDeviceWriteIOps, &r.BlockIO.ThrottleWriteIOPSDevice},
	} {
		for _, d := range t.from {
			maj, min, err := numbers(d.Path)
			if err != nil {
				return err
			}
			td := specs.LinuxThrottleDevice{Rate: d.Rate}
			td.Major, td.Minor = maj, min
			*t.to = append(*t.to, td)
		}
	}
	return nil
}

func addDevice(s *specs.Spec, d container.DeviceMapping) error {
	var st unixStat
	if err := statDevice(d.PathOnHost, &st); err != nil {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("error gathering device information while adding custom device %q: %v", d.PathOnHost, err))
	}
	dest := d.PathInContainer
	if dest == "" {
		dest = d.PathOnHost
	}
	perms := d.CgroupPermissions
	if perms == "" {
		perms = "rwm"
	}
	maj, min := st.major, st.minor
	mode := os.FileMode(st.mode & 0o777)
	s.Linux.Devices = append(s.Linux.Devices, specs.LinuxDevice{Path: dest, Type: st.typ, Major: maj, Minor: min, FileMode: &mode, UID: &st.uid, GID: &st.gid})
	s.Linux.Resources.Devices = append(s.Linux.Resources.Devices, specs.LinuxDeviceCgroup{Allow: true, Type: st.typ, Major: &maj, Minor: &min, Access: perms})
	return nil
}

// initBinary finds the static init --init runs as the container's PID 1
// (zombie reaping, signal forwarding): docker's docker-init, or tini. The
// berth binary itself links libc dynamically and so cannot run inside
// arbitrary images.
func initBinary() (string, error) {
	for _, name := range []string{"docker-init", "tini-static"} {
		if p, err := exec.LookPath(name); err == nil {
			if r, err := filepath.EvalSymlinks(p); err == nil {
				return r, nil
			}
		}
	}
	return "", errdefs.ErrInvalidArgument.WithMessage("--init: no static init binary (docker-init or tini-static) in the daemon's PATH")
}

// capNumbers are the capabilities' bit numbers, in allCaps order.
var capNumbers = map[string]uint{
	"CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2, "CAP_FOWNER": 3, "CAP_FSETID": 4,
	"CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8, "CAP_LINUX_IMMUTABLE": 9,
	"CAP_NET_BIND_SERVICE": 10, "CAP_NET_BROADCAST": 11, "CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13,
	"CAP_IPC_LOCK": 14, "CAP_IPC_OWNER": 15, "CAP_SYS_MODULE": 16, "CAP_SYS_RAWIO": 17, "CAP_SYS_CHROOT": 18,
	"CAP_SYS_PTRACE": 19, "CAP_SYS_PACCT": 20, "CAP_SYS_ADMIN": 21, "CAP_SYS_BOOT": 22, "CAP_SYS_NICE": 23,
	"CAP_SYS_RESOURCE": 24, "CAP_SYS_TIME": 25, "CAP_SYS_TTY_CONFIG": 26, "CAP_MKNOD": 27, "CAP_LEASE": 28,
	"CAP_AUDIT_WRITE": 29, "CAP_AUDIT_CONTROL": 30, "CAP_SETFCAP": 31, "CAP_MAC_OVERRIDE": 32,
	"CAP_MAC_ADMIN": 33, "CAP_SYSLOG": 34, "CAP_WAKE_ALARM": 35, "CAP_BLOCK_SUSPEND": 36,
	"CAP_AUDIT_READ": 37, "CAP_PERFMON": 38, "CAP_BPF": 39, "CAP_CHECKPOINT_RESTORE": 40,
}

// boundingCaps is every capability the daemon itself may hand out (its
// bounding set): --privileged and --cap-add ALL cannot give more, and a
// machine without CAP_SYS_RESOURCE would otherwise fail every privileged
// container at capset.
func boundingCaps() []string {
	var bnd uint64 = ^uint64(0)
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
				if n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64); err == nil {
					bnd = n
				}
			}
		}
	}
	var out []string
	for _, c := range allCaps {
		if bnd&(1<<capNumbers[c]) != 0 {
			out = append(out, c)
		}
	}
	return out
}

// hostDevices lists the host's device nodes under /dev, as --privileged
// gives them to the container (pts, shm, mqueue and the console excluded,
// as docker's list).
func hostDevices() []specs.LinuxDevice {
	var out []specs.LinuxDevice
	_ = filepath.WalkDir("/dev", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			switch p {
			case "/dev/pts", "/dev/shm", "/dev/mqueue", "/dev/.lxc", "/dev/.udev":
				return filepath.SkipDir
			}
			return nil
		}
		if p == "/dev/console" || d.Type()&os.ModeDevice == 0 {
			return nil
		}
		var st unixStat
		if statDevice(p, &st) != nil {
			return nil
		}
		mode := os.FileMode(st.mode & 0o777)
		uid, gid := st.uid, st.gid
		out = append(out, specs.LinuxDevice{Path: p, Type: st.typ, Major: st.major, Minor: st.minor, FileMode: &mode, UID: &uid, GID: &gid})
		return nil
	})
	return out
}

// mountDepth is the number of components of a mount destination.
func mountDepth(dest string) int {
	dest = filepath.Clean("/" + dest)
	if dest == "/" {
		return 0
	}
	return strings.Count(dest, "/")
}

// namespaceFor returns the namespace of type typ for a --pid, --ipc or
// --uts mode: a new one (the default), nil for "host" (the host's, shared),
// or a running container's ("container:NAME", --pid and --ipc).
func (e *Engine) namespaceFor(c *Container, typ specs.LinuxNamespaceType, mode string) (*specs.LinuxNamespace, error) {
	what := map[specs.LinuxNamespaceType]string{specs.PIDNamespace: "PID", specs.IPCNamespace: "IPC", specs.UTSNamespace: "UTS"}[typ]
	switch {
	case mode == "host":
		return nil, nil
	case strings.HasPrefix(mode, "container:") && typ != specs.UTSNamespace:
		ref := strings.TrimPrefix(mode, "container:")
		other, err := e.Get(ref)
		if err != nil {
			return nil, err
		}
		if other == c {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("cannot join own %s namespace", what))
		}
		other.mu.Lock()
		running, pid := other.State.Running, other.State.Pid
		ipc := other.HostConfig.IpcMode
		other.mu.Unlock()
		if !running || pid == 0 {
			// dockerd's words and status (a system error of the start).
			return nil, fmt.Errorf("failed to join %s namespace: container %s is not running", what, ref)
		}
		if typ == specs.IPCNamespace && ipc != container.IPCModeShareable && ipc != container.IPCModeHost {
			return nil, errdefs.ErrConflict.WithMessage(fmt.Sprintf("cannot join IPC of container %s: non-shareable IPC (hint: use IpcMode:shareable for the donor container)", ref))
		}
		if typ == specs.IPCNamespace && ipc == container.IPCModeHost {
			return nil, nil
		}
		file := map[specs.LinuxNamespaceType]string{specs.PIDNamespace: "pid", specs.IPCNamespace: "ipc"}[typ]
		return &specs.LinuxNamespace{Type: typ, Path: fmt.Sprintf("/proc/%d/ns/%s", pid, file)}, nil
	case mode == "" || mode == "private" || mode == "shareable" || mode == "none":
		return &specs.LinuxNamespace{Type: typ}, nil
	}
	return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid %s mode: %s", strings.ToLower(what), mode))
}

// addGroups appends --group-add's groups (names from the rootfs's
// /etc/group, or numbers) to gids, as docker does.
func addGroups(rootfs string, gids []uint32, add []string) ([]uint32, error) {
	if len(add) == 0 {
		return gids, nil
	}
	groups := readColonFile(rootfs, "etc/group")
	for _, g := range add {
		var gid uint32
		if n, err := strconv.ParseUint(g, 10, 32); err == nil {
			gid = uint32(n)
		} else {
			found := false
			for _, e := range groups {
				if len(e) > 2 && e[0] == g {
					n, _ := strconv.ParseUint(e[2], 10, 32)
					gid, found = uint32(n), true
					break
				}
			}
			if !found {
				return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Unable to find group %s: no matching entries in group file", g))
			}
		}
		if !slices.Contains(gids, gid) {
			gids = append(gids, gid)
		}
	}
	return gids, nil
}

// containerSysctls are hc's sysctls, with dockerd's defaults for a
// container with a network namespace of its own: any port may be bound
// and ping used without a capability (net.ipv4.ip_unprivileged_port_start
// 0, net.ipv4.ping_group_range "0 2147483647"), unless set.
func containerSysctls(hc *container.HostConfig) map[string]string {
	nm := hc.NetworkMode
	if nm.IsHost() || nm.IsContainer() {
		return hc.Sysctls
	}
	out := maps.Clone(hc.Sysctls)
	if out == nil {
		out = map[string]string{}
	}
	if _, ok := out["net.ipv4.ip_unprivileged_port_start"]; !ok {
		out["net.ipv4.ip_unprivileged_port_start"] = "0"
	}
	if _, ok := out["net.ipv4.ping_group_range"]; !ok {
		out["net.ipv4.ping_group_range"] = "0 2147483647"
	}
	return out
}
