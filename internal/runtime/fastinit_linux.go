package runtime

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/runtime/seccomp"
)

// The C init. A Go init is a start of the berth binary, and Go's runtime
// and package initialisers take 3 to 4 ms of it before the init's first
// mount: more than all of the init's own work. For the specs it covers,
// the init's work is done by C code (internal/runtime/nsenter/fastinit.c)
// in the init image, a small static program berth embeds and execs
// (package initimage; in a plain cgo build, a constructor of berth's own),
// the way runc's nsexec and crun set up a container. The parent decides and
// encodes everything that does not depend on the container's file system
// into a plan (fastPlan); the C init executes it in the Go init's order,
// with the same checks (every path resolved inside the root), and reports
// to the parent with the same messages on the sync socket.
//
// A launch that may use it (fastLaunchable) starts the init with
// _BERTH_FASTINIT set; the parent's first bytes on the sync socket are then
// a header: "BFI1" and the plan's length, 0 meaning "the Go init does it"
// (the config follows as JSON, as always). Anything the C init does not
// cover (hooks the init runs, a terminal, user namespaces, mount, user,
// pid, cgroup or time namespaces joined by path, preserved descriptors,
// `runtime exec`, a seccomp agent, id-mapped or
// tmpcopyup mounts, an initramfs root, a kernel without openat2) goes to
// the Go init, which remains the reference: BERTH_INIT=go in the caller's
// environment forces it for every container.

// fastInitLinked is set when the binary has the C init and nsenter.c: as
// the init image (package initimage, what hack/build.sh builds) or linked
// into itself (package nsenter, a build with cgo).
var fastInitLinked atomic.Bool

// EnableFastInit records that the C init is linked into this binary; the
// nsenter package calls it.
func EnableFastInit() { fastInitLinked.Store(true) }

// initImage is the init image: a small static program built from
// nsenter's C (package initimage), or nil.
var initImage []byte

// SetInitImage makes image what a container's init is exec'd from when it
// takes the C init or joins namespaces by path; it execs berth for the Go
// init when the parent asks for it (see package initimage).
func SetInitImage(image []byte) {
	initImage = image
	fastInitLinked.Store(true)
}

// errNoNsenter is the error of a container that joins namespaces by path
// (or an exec) in a berth built with neither the init image nor cgo.
var errNoNsenter = errors.New("joining namespaces needs the init image or cgo: build berth with hack/build.sh")

const planMagic = 0x31494642 // "BFI1"

// Kinds of mount entry in a plan (fastinit.c's M_*).
const (
	planBind = iota + 1
	planFS
	planCgroupV1
	planCgroup2Bind
)

// initChoice is BERTH_INIT: "go" forces the Go init, "c" the C init (a
// container it does not cover is then an error: for tests), anything else
// lets each container take the C init when it can.
func initChoice() string { return os.Getenv("BERTH_INIT") }

// fastLaunchable says why an init started for launch (what is known before
// the whole spec is decoded) may not take the C path, or "" when it may.
func fastLaunchable(launch *specs.Spec, joins []string, opts CreateOpts) string {
	switch {
	case !fastInitLinked.Load():
		return "this berth has neither the init image nor cgo"
	case initChoice() == "go":
		return "BERTH_INIT=go"
	case !fastJoins(joins):
		return "a mount, user, pid, cgroup or time namespace joined by path"
	case opts.PreserveFds > 0:
		return "--preserve-fds"
	case opts.NoPivot:
		return "--no-pivot"
	case opts.ConsoleSocket != "" || opts.ConsoleConn != nil || launch.Process != nil && launch.Process.Terminal:
		return "a terminal"
	}
	if _, ok := findNS(launch, specs.UserNamespace); ok {
		return "a user namespace"
	}
	if _, ok := findNS(launch, specs.MountNamespace); !ok {
		return "no mount namespace"
	}
	if !fastHostOK() {
		return "this host (no openat2, an initramfs root or setgroups denied)"
	}
	return ""
}

// fastJoins says whether the C init may start in the namespaces joined
// (nsenter.c joins them before it runs): network, IPC and UTS, as a
// daemon's containers join the network namespace it made. The others
// change what the init sees of the host (its mounts, its pid, its cgroup
// view) or need the Go init's handling.
func fastJoins(joins []string) bool {
	for _, j := range joins {
		switch name, _, _ := strings.Cut(j, ":"); name {
		case "net", "ipc", "uts":
		default:
			return false
		}
	}
	return true
}

// fastHostOK checks, once, what the C init needs of the host: openat2, a
// root that pivot_root can leave (not an initramfs), setgroups allowed.
var fastHostOK = sync.OnceValue(func() bool {
	how := unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT}
	fd, err := unix.Openat2(unix.AT_FDCWD, "/", &how)
	if err != nil {
		return false
	}
	unix.Close(fd)
	var st unix.Statfs_t
	if unix.Statfs("/", &st) != nil || st.Type == unix.RAMFS_MAGIC || st.Type == unix.TMPFS_MAGIC {
		return false
	}
	if denied, err := setgroupsDenied(); err != nil || denied {
		return false
	}
	return true
})

// planWriter encodes a plan: little-endian integers, strings as a u32
// length, the bytes and a NUL. A string with a NUL in it makes the plan
// unusable (the Go init reports what is wrong with it).
type planWriter struct {
	b   []byte
	bad bool
}

func (w *planWriter) u32(v uint32) { w.b = binary.LittleEndian.AppendUint32(w.b, v) }
func (w *planWriter) u64(v uint64) { w.b = binary.LittleEndian.AppendUint64(w.b, v) }

func (w *planWriter) flag(v bool) {
	if v {
		w.u32(1)
	} else {
		w.u32(0)
	}
}

func (w *planWriter) str(s string) {
	if strings.IndexByte(s, 0) >= 0 || len(s) > 1<<20 {
		w.bad = true
	}
	w.u32(uint32(len(s)))
	w.b = append(w.b, s...)
	w.b = append(w.b, 0)
}

func (w *planWriter) strs(ss []string) {
	w.u32(uint32(len(ss)))
	for _, s := range ss {
		w.str(s)
	}
}

// planHeader is what precedes a plan (or the JSON config, with n 0).
func planHeader(n int) []byte {
	b := binary.LittleEndian.AppendUint32(nil, planMagic)
	return binary.LittleEndian.AppendUint32(b, uint32(n))
}

// fastPlan encodes the init's work for cfg (a new container, not an
// exec) for the C init, or says why the Go init must do it. bundle is the
// directory relative bind sources are relative to.
func fastPlan(spec *specs.Spec, cfg *initConfig, bundle string) ([]byte, string) {
	proc := spec.Process
	switch {
	case cfg.Exec || cfg.NoPivot || cfg.ConsoleFd != 0 || len(cfg.PreserveFds) > 0 || proc == nil ||
		proc.Terminal || len(proc.Args) == 0 || spec.Linux == nil:
		return nil, "an exec, --no-pivot, a terminal, --preserve-fds or no process"
	case cfg.CgroupAwaitMove || len(cfg.CgroupTaskFds) > 0:
		return nil, "the parent moves the init into its cgroup"
	case cfg.PrestartStop:
		return nil, "prestart or createRuntime hooks"
	}
	if h := spec.Hooks; h != nil && (len(h.Prestart) > 0 || len(h.CreateRuntime) > 0 ||
		len(h.CreateContainer) > 0 || len(h.StartContainer) > 0) {
		return nil, "hooks the init runs"
	}
	if _, ok := findNS(spec, specs.MountNamespace); !ok {
		return nil, "no mount namespace"
	}
	if _, ok := findNS(spec, specs.UserNamespace); ok {
		return nil, "a user namespace"
	}
	prop := uintptr(unix.MS_SLAVE | unix.MS_REC)
	finalProp, hasFinal, err := rootfsPropagation(spec)
	if err != nil {
		return nil, "linux.rootfsPropagation"
	}
	if hasFinal {
		prop = finalProp
	}
	if prop&unix.MS_REC == 0 || prop&(unix.MS_SLAVE|unix.MS_PRIVATE) == 0 {
		// The Go init looks the parent mount up in the mount table.
		return nil, "linux.rootfsPropagation " + spec.Linux.RootfsPropagation
	}

	w := &planWriter{b: make([]byte, 0, 4096)}
	w.flag(cfg.StartNow)
	w.strs(cfg.CgroupTasks)
	n, ok := findNS(spec, specs.CgroupNamespace)
	w.flag(ok && n.Path == "")
	w.str(cfg.Rootfs)
	w.u64(uint64(prop))

	w.u32(uint32(len(spec.Mounts)))
	for i, m := range spec.Mounts {
		if why := planMount(w, spec, cfg, bundle, i, m); why != "" {
			return nil, fmt.Sprintf("mounts[%d]: %s", i, why)
		}
	}
	mkcwd := ""
	if proc.Cwd != "" && cleanDest(proc.Cwd) != "/" {
		mkcwd = proc.Cwd
	}
	w.str(mkcwd)
	if devIsBindMount(spec) {
		w.u32(0)
	} else {
		w.u32(1)
		devs, err := containerDevices(spec)
		if err != nil {
			return nil, "linux.devices"
		}
		w.u32(uint32(len(devs)))
		for _, d := range devs {
			w.str(d.path)
			w.u32(d.typ)
			w.u64(uint64(d.major))
			w.u64(uint64(d.minor))
			w.u32(d.perm)
			w.u32(d.uid)
			w.u32(d.gid)
		}
		links := devSymlinks()
		w.u32(uint32(len(links)))
		for _, l := range links {
			w.str(l[0])
			w.str(l[1])
		}
		w.flag(devptsAtDevPts(spec))
	}

	keys := make([]string, 0, len(spec.Linux.Sysctl))
	for k := range spec.Linux.Sysctl {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	w.u32(uint32(len(keys)))
	for _, k := range keys {
		file, err := sysctlFile(k)
		if err != nil {
			return nil, "linux.sysctl " + k
		}
		w.str(k)
		w.str(file)
		w.str(spec.Linux.Sysctl[k])
	}
	w.u32(uint32(len(spec.Linux.ReadonlyPaths)))
	for _, p := range spec.Linux.ReadonlyPaths {
		w.str(cleanDest(p))
	}
	w.u32(uint32(len(spec.Linux.MaskedPaths)))
	for _, p := range spec.Linux.MaskedPaths {
		w.str(cleanDest(p))
	}
	w.flag(spec.Root != nil && spec.Root.Readonly)
	if hasFinal {
		w.u64(uint64(finalProp))
		w.str(spec.Linux.RootfsPropagation)
	} else {
		w.u64(0)
		w.str("")
	}
	if _, ok := findNS(spec, specs.UTSNamespace); ok {
		w.u32(1)
		w.str(spec.Hostname)
		w.str(spec.Domainname)
	} else {
		w.u32(0)
	}

	cwd := proc.Cwd
	if cwd == "" {
		cwd = "/"
	}
	w.str(cwd)
	w.strs(proc.Args)
	w.strs(proc.Env)
	w.u32(proc.User.UID)
	w.u32(proc.User.GID)
	w.u32(uint32(len(proc.User.AdditionalGids)))
	for _, g := range proc.User.AdditionalGids {
		w.u32(g)
	}
	umask := uint32(defaultUmask)
	if proc.User.Umask != nil {
		umask = *proc.User.Umask
	}
	w.u32(umask)
	w.flag(proc.NoNewPrivileges)
	if cfg.NoNewKeyring {
		w.u32(0)
	} else {
		w.u32(1)
		w.str("_ses." + cfg.ID)
		w.u32(0) // no user namespace here
	}
	if len(proc.Rlimits) > 64 { // fastinit.c's bound; there are 16 kinds
		return nil, "more than 64 rlimits"
	}
	w.u32(uint32(len(proc.Rlimits)))
	for _, rl := range proc.Rlimits {
		res, err := parseRlimit(rl.Type)
		if err != nil {
			return nil, "process.rlimits " + rl.Type
		}
		w.str(rl.Type)
		w.u32(uint32(res))
		w.u64(rl.Soft)
		w.u64(rl.Hard)
	}
	caps, err := newProcessCaps(proc.Capabilities)
	if err != nil {
		return nil, "process.capabilities"
	}
	for _, m := range []capMask{caps.bounding, caps.effective, caps.permitted, caps.inheritable, caps.ambient} {
		w.u64(uint64(m))
	}
	w.u32(uint32(kernelCapLast()))
	if spec.Linux.Seccomp == nil {
		w.u32(0)
	} else {
		f, err := seccomp.Compile(spec.Linux.Seccomp)
		if err != nil || f.NeedsListener() || f.Instructions() == 0 || f.Instructions() > 0xffff {
			return nil, "linux.seccomp (an agent, or an error the Go init reports)"
		}
		prog := f.Program()
		w.u32(uint32(len(prog)))
		w.u32(uint32(f.Flags()))
		for _, in := range prog {
			w.b = binary.LittleEndian.AppendUint16(w.b, in.Code)
			w.b = append(w.b, in.Jt, in.Jf)
			w.u32(in.K)
		}
	}
	w.u32(uint32(cfg.ExecSockFd))
	if w.bad {
		return nil, "a string with a NUL byte or over 1 MiB"
	}
	return w.b, ""
}

// planMount encodes spec.Mounts[i] as mountSpecEntry would perform it, or
// says why the Go init must.
func planMount(w *planWriter, spec *specs.Spec, cfg *initConfig, bundle string, i int, m specs.Mount) string {
	if len(m.UIDMappings) > 0 || len(m.GIDMappings) > 0 || m.Destination == "" {
		return "id-mapped or without destination"
	}
	o, err := parseMountOptions(m.Options)
	if err != nil || o.idmap != "" || o.tmpcopyup || len(o.prop) > 16 {
		return "idmap, tmpcopyup or many propagation options"
	}
	dest := cleanDest(m.Destination)
	ctx := fmt.Sprintf("mounts[%d] (%s on %s)", i, m.Type, m.Destination)
	recSet, recClr, props := o.recSet, o.recClr, o.prop
	switch {
	case m.Type == "bind" || o.flags&unix.MS_BIND != 0:
		if m.Source == "" {
			return "bind without source"
		}
		src := m.Source
		if !path.IsAbs(src) {
			src = path.Join(bundle, src)
		}
		src = path.Clean(src)
		st, err := os.Stat(src)
		if err != nil {
			return "bind source: " + err.Error()
		}
		create := createDir
		if !st.IsDir() {
			create = createFile
		}
		w.u32(planBind)
		w.str(ctx)
		w.str(dest)
		w.str(src)
		w.u32(uint32(create))
		w.u64(uint64(o.flags))
		w.u64(uint64(o.cleared))
		w.flag(o.atime)
	case m.Type == "cgroup" || m.Type == "cgroup2":
		ownNS := hasCgroupNamespace(spec)
		var st unix.Statfs_t
		if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil {
			return "statfs /sys/fs/cgroup: " + err.Error()
		}
		flags := o.flags &^ (unix.MS_BIND | unix.MS_REC)
		recSet, recClr = 0, 0
		unified := st.Type == unix.CGROUP2_SUPER_MAGIC
		switch {
		case (unified || m.Type == "cgroup2") && ownNS:
			w.u32(planFS)
			w.str(ctx)
			w.str(dest)
			w.str("cgroup2")
			w.str("cgroup2")
			w.u64(uint64(o.flags &^ unix.MS_REC))
			w.str(o.dataString())
			w.u32(0)
			recSet, recClr = o.recSet, o.recClr
		case unified || m.Type == "cgroup2":
			base := "/sys/fs/cgroup"
			if !unified {
				base = "/sys/fs/cgroup/unified"
			}
			w.u32(planCgroup2Bind)
			w.str(ctx)
			w.str(dest)
			w.str(base)
			w.u64(uint64(unix.MS_BIND | flags | unix.MS_REC))
			w.u64(uint64(o.cleared))
			w.flag(o.atime)
		default:
			mounts := cfg.CgroupMounts
			if mounts == nil {
				if mounts, err = hostCgroupMounts(); err != nil {
					return err.Error()
				}
			}
			w.u32(planCgroupV1)
			w.str(ctx)
			w.str(dest)
			w.u64(uint64(flags))
			w.u64(uint64(o.cleared))
			w.flag(o.atime)
			w.flag(ownNS)
			var hs [][4]string
			for _, cm := range mounts {
				if c := cgroupControllers(cm.SuperOptions); c != "" {
					hs = append(hs, [4]string{c, cm.MountPoint, cm.Root, path.Base(cm.MountPoint)})
				}
			}
			w.u32(uint32(len(hs)))
			for _, h := range hs {
				for _, s := range h {
					w.str(s)
				}
			}
		}
	case m.Type == "":
		return "no type"
	default:
		source := m.Source
		if source == "" {
			source = m.Type
		}
		w.u32(planFS)
		w.str(ctx)
		w.str(dest)
		w.str(m.Type)
		w.str(source)
		w.u64(uint64(o.flags &^ unix.MS_REC))
		w.str(o.dataString())
		w.flag(m.Type == "proc" || m.Type == "sysfs")
	}
	w.u64(recSet)
	w.u64(recClr)
	w.u32(uint32(len(props)))
	for _, p := range props {
		w.u64(uint64(p))
	}
	return ""
}

// sendConfig sends the init its work: a plan for the C init when fast (the
// init was started for it) and the spec allows, else the JSON config (after
// a header saying so, when fast).
func sendConfig(sync *syncConn, fast bool, spec *specs.Spec, cfg *initConfig, bundle string) (planned bool, err error) {
	if !fast {
		return false, sync.send(syncMsg{Type: msgConfig, Config: cfg})
	}
	plan, why := fastPlan(spec, cfg, bundle)
	if why == "" {
		_, err := sync.f.Write(append(planHeader(len(plan)), plan...))
		return true, err
	}
	if initChoice() == "c" {
		return false, fmt.Errorf("BERTH_INIT=c: the C init does not cover this container: %s", why)
	}
	if _, err := sync.f.Write(planHeader(0)); err != nil {
		return false, err
	}
	return false, sync.send(syncMsg{Type: msgConfig, Config: cfg})
}
