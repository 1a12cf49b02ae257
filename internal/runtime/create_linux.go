package runtime

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
	gosync "sync"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/runtime/cgroups"
	"github.com/berth/berth/internal/runtime/initsock"
)

// CreateOpts are the inputs of Create.
type CreateOpts struct {
	Root   string // state root (--root)
	ID     string
	Bundle string
	// ConsoleSocket is the path of a unix socket that receives the pty
	// master (runc's --console-socket). ConsoleConn is the same as an
	// already connected socket; one of them is required when the process
	// asks for a terminal.
	ConsoleSocket string
	ConsoleConn   *os.File
	// Config is the bundle's config.json when the caller has already read
	// it (ReadBundleConfig); nil means Create reads it.
	Config  *BundleConfig
	PidFile string
	NoPivot bool
	// NoNewKeyring keeps the caller's session keyring (runc's
	// --no-new-keyring); else the container gets its own, _ses.<id>.
	NoNewKeyring bool
	// BeforeInit, if set, is called just before the init is started (a
	// foreground run waits there for its signal handlers).
	BeforeInit func()
	// PreserveFds passes the caller's descriptors 3 .. 3+PreserveFds-1
	// on to the process, as the same numbers (runc's --preserve-fds).
	PreserveFds int
	// StartNow (a `run`) lets a C init exec the process as soon as it is
	// ready instead of waiting for Start, which then only completes the
	// start (state, poststart hooks): one round trip less.
	StartNow bool
	// Stdio of the init; nil means the caller's.
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// joinOrder is the order nsenter joins namespaces in: user first, so the
// others are joined with the capabilities it grants; mount last but one.
var joinOrder = []specs.LinuxNamespaceType{
	specs.UserNamespace, specs.IPCNamespace, specs.UTSNamespace, specs.NetworkNamespace,
	specs.PIDNamespace, specs.CgroupNamespace, specs.TimeNamespace, specs.MountNamespace,
}

// Create makes the container from opts.Bundle: its namespaces, cgroup,
// rootfs and an init waiting for Start. On error nothing is left behind.
// The returned *child is the init's process when it is our child (nil
// when it had to be double-forked to join a PID namespace).
//
// The init is started as soon as what starting it needs is known and
// checked (the namespaces, ID mappings, cgroupsPath and terminal: launchSpec);
// the rest of config.json is decoded and validated, and the cgroup made,
// while the init's Go runtime starts. An invalid spec is still reported
// as if it had been checked first: its error wins over any other, and the
// init and everything made for it are removed.
func Create(opts CreateOpts) (c *Container, err error) {
	if err := validateID(opts.ID); err != nil {
		return nil, err
	}
	if opts.Root == "" {
		opts.Root = DefaultRoot
	}
	bundle, err := absPath(opts.Bundle)
	if err != nil {
		return nil, err
	}
	var spec *specs.Spec
	var data []byte
	var launch *specs.Spec // what starting the init reads of the spec
	// decodeLaunch has tried fastDecodeSpec: the whole spec, when still
	// needed, is encoding/json's to decode.
	parse := parseSpecJSON
	if opts.Config != nil {
		data, launch = opts.Config.data, opts.Config.launch
		parse = func([]byte) (*specs.Spec, error) { return opts.Config.decoded() }
	} else if data, err = readSpecFile(bundle); err != nil {
		return nil, err
	} else {
		launch, spec = decodeLaunch(data)
	}
	var rootfs string
	// Read while the init starts, not by the init: the host's cgroup v1
	// mounts, for a spec that mounts a cgroup view.
	var cgroupMounts []cgroupMount
	var cgroupMountsErr error
	validateWhole := func() error {
		if spec == nil {
			var err error
			if spec, err = parse(data); err != nil {
				return err
			}
		}
		if err := validateSpec(spec, bundle); err != nil {
			return err
		}
		if err := checkConsole(spec, opts); err != nil {
			return err
		}
		rootfs = spec.Root.Path
		if !path.IsAbs(rootfs) {
			rootfs = path.Join(bundle, rootfs)
		}
		var err error
		if rootfs, err = evalSymlinks(rootfs); err != nil {
			return fmt.Errorf("config.json: root.path: %w", err)
		}
		if needsHostCgroupMounts(spec) {
			cgroupMounts, cgroupMountsErr = hostCgroupMounts()
		}
		return nil
	}
	// validate decodes and checks the whole spec, once: first thing when
	// the launch needs it, else on a goroutine of its own while the init is
	// cloned and exec'd (below), and in any case before Create reports an
	// error, so that what is wrong with the spec is what is reported.
	var validateOnce gosync.Once
	var validateErr error
	validate := func() error {
		validateOnce.Do(func() { validateErr = validateWhole() })
		return validateErr
	}
	if launch == nil || validateNamespaces(launch, bundle) != nil || validateIDMappings(launch, bundle) != nil ||
		checkConsole(launch, opts) != nil {
		// Checked whole first, so that what is wrong is reported.
		if err := validate(); err != nil {
			return nil, err
		}
		launch = spec
	}
	defer func() {
		if err != nil {
			if verr := validate(); verr != nil {
				c, err = nil, verr
			}
		}
	}()

	if err := os.MkdirAll(opts.Root, 0o711); err != nil {
		return nil, fmt.Errorf("state root: %w", err)
	}
	dir := path.Join(opts.Root, opts.ID)
	if err := os.Mkdir(dir, 0o711); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("container with id %s already exists", opts.ID)
		}
		return nil, fmt.Errorf("state dir: %w", err)
	}
	ctr := &Container{dir: dir, State: State{
		ID:           opts.ID,
		Bundle:       bundle,
		Created:      time.Now().UTC(),
		Owner:        "",
		NoNewKeyring: opts.NoNewKeyring,
	}}
	c = ctr
	var cmd *child
	var cg cgroups.Manager
	var setUpCgroup, prepare func() error
	prepStarted := false     // prepare runs on a goroutine (below)
	var applied func() error // waits for the cgroup's directories (below)
	// limitsSet waits for the cgroup's limits when they are written while
	// the C init works (below).
	var limitsSet func() error
	defer func() {
		if err == nil {
			return
		}
		if cmd != nil && cmd.Process != nil {
			_ = cmd.Process.Kill()
			_, _ = cmd.Process.Wait()
		}
		if ctr.State.Pid != 0 && (cmd == nil || cmd.Process == nil || ctr.State.Pid != cmd.Process.Pid) {
			_ = unix.Kill(ctr.State.Pid, unix.SIGKILL)
		}
		if prepStarted {
			_ = prepare() // wait: it may still be making the cgroup
		}
		if applied != nil {
			_ = applied()
		}
		if limitsSet != nil {
			_ = limitsSet()
		}
		if cg != nil {
			destroyCgroup(cg)
		}
		_ = os.RemoveAll(dir)
	}()

	execSock, err := listenExecSock(dir)
	if err != nil {
		return nil, err
	}
	defer execSock.Close()

	var cloneFlags uintptr
	var joins []string
	var joinPID bool
	for _, ns := range joinOrder {
		n, ok := findNS(launch, ns)
		if !ok {
			continue
		}
		if n.Path != "" {
			joins = append(joins, nsProcName[ns]+":"+n.Path)
			if ns == specs.PIDNamespace {
				joinPID = true
			}
			continue
		}
		if ns == specs.CgroupNamespace {
			// Unshared by the init once it sits in its cgroup.
			continue
		}
		cloneFlags |= uintptr(nsCloneFlag[ns])
	}

	// The init joins its cgroup as it starts (cgroupJoin). Before it exists
	// only the v2 (or unified) directory is made, which CLONE_INTO_CGROUP
	// needs; the v1 directories and the limits are made while the init
	// starts, before it is sent its config, and the init joins its v1
	// cgroups once it has it. The container's process runs only after all
	// of it.
	var join *cgroupJoin
	var fast bool // the C init (below)
	// prepare validates the spec and then sets the cgroup up, once.
	var prepareOnce gosync.Once
	var prepareErr error
	prepare = func() error {
		prepareOnce.Do(func() {
			if prepareErr = validate(); prepareErr == nil && cg != nil {
				prepareErr = setUpCgroup()
			}
		})
		return prepareErr
	}
	// setLimits writes the spec's limits, the device rules or the others
	// (Set touches only what it is given).
	setLimits := func(devices, others bool) error {
		res := specs.LinuxResources{}
		if others && spec.Linux.Resources != nil {
			res = *spec.Linux.Resources
		}
		res.Devices = nil
		if devices {
			// The spec's device rules plus the devices every container
			// gets (/dev/null, the pty, ...), as runc does.
			res.Devices = cgroups.DeviceRules(spec)
		}
		if err := cg.Set(&res); err != nil {
			return fmt.Errorf("cgroup: %w", err)
		}
		return nil
	}
	setUpCgroup = func() error {
		if err := applied(); err != nil {
			return fmt.Errorf("cgroup: %w", err)
		}
		if !fast {
			return setLimits(true, true)
		}
		// The C init is sent its plan once the device rules are in
		// place (it makes the device nodes under them, as the Go init
		// does; on v1 they are written as "deny all" and then each
		// rule, so a node made meanwhile would be refused), not waiting
		// for the other limits: they are written while it mounts, and
		// are in place before its `ready` is taken, so before the
		// container's process can run. (The Go init's own threads and
		// memory would count against limits set after it joined: it
		// gets them all first.)
		if err := setLimits(true, false); err != nil {
			return err
		}
		done := make(chan error, 1)
		go func() { done <- setLimits(false, true) }()
		limitsSet = gosync.OnceValue(func() error { return <-done })
		return nil
	}
	if launch.Linux != nil {
		cg, err = cgroups.New(launch.Linux.CgroupsPath, opts.ID)
		if err != nil {
			return nil, fmt.Errorf("cgroup: %w", err)
		}
		c.State.CgroupPaths = cg.Paths()
		// Its directories (a dozen v1 hierarchies here) are made from
		// now on, while the spec is decoded and the init started: the
		// init is sent its plan once they and the limits are there.
		done := make(chan error, 1)
		go func() { done <- cg.Apply(-1) }()
		applied = gosync.OnceValue(func() error { return <-done })
		// In a new user namespace the child may not write the host's
		// cgroup files: the parent moves it.
		if cloneFlags&unix.CLONE_NEWUSER == 0 {
			if dir := c.State.CgroupPaths[""]; dir != "" {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					return nil, fmt.Errorf("cgroup: create %s: %w", dir, err)
				}
			}
			join = newCgroupJoin(c.State.CgroupPaths)
			defer join.close()
			_, v1pids := c.State.CgroupPaths["pids"]
			join.late = join.v2 != nil && !v1pids && specPidsLimited(launch)
		}
	}
	// The init joins its v1 cgroups itself, after its Go runtime started,
	// by their paths: its new mount namespace is a copy of ours, unless it
	// joins one by path (the parent moves it then).
	mountNS, _ := findNS(launch, specs.MountNamespace)
	v1ByInit := join != nil && len(join.v1) > 0 && mountNS.Path == ""

	if len(joins) > 0 && !fastInitLinked.Load() {
		return nil, errNoNsenter
	}
	why := fastLaunchable(launch, joins, opts)
	if why != "" && initChoice() == "c" {
		return nil, fmt.Errorf("BERTH_INIT=c: the C init does not cover this container: %s", why)
	}
	fast = why == ""
	l, err := newLaunch(opts.ConsoleSocket, opts.ConsoleConn, initImage != nil && (fast || len(joins) > 0), opts.Root)
	if err != nil {
		return nil, err
	}
	defer l.close()
	preserved, err := preservedFiles(opts.PreserveFds)
	if err != nil {
		return nil, err
	}
	var consoleFd int
	var preserveFds []int
	newCmd := func(cgroupFD bool) *child {
		var cmd *child
		cmd, consoleFd = l.command(opts.Stdin, opts.Stdout, opts.Stderr, execSock)
		preserveFds = appendPreserved(cmd, preserved)
		// Relative bind sources are relative to the bundle, as in runc.
		cmd.Dir = bundle
		cmd.SysProcAttr.Cloneflags = cloneFlags
		if len(joins) > 0 {
			cmd.Env = append(cmd.Env, "_BERTH_NS="+strings.Join(joins, ","))
		}
		if cloneFlags&unix.CLONE_NEWUSER != 0 {
			cmd.SysProcAttr.UidMappings = idMaps(launch.Linux.UIDMappings)
			cmd.SysProcAttr.GidMappings = idMaps(launch.Linux.GIDMappings)
			cmd.SysProcAttr.GidMappingsEnableSetgroups = true
			// Become root of the new namespace before exec, so the init
			// gets its full capabilities there.
			cmd.SysProcAttr.Credential = &syscall.Credential{Uid: 0, Gid: 0}
		}
		if join != nil {
			join.apply(cmd, cgroupFD)
		}
		return cmd
	}
	if fast {
		// The init's C then waits for a plan (fastinit_linux.go).
		newCmd0 := newCmd
		newCmd = func(cgroupFD bool) *child {
			cmd := newCmd0(cgroupFD)
			cmd.Env = append(cmd.Env, "_BERTH_FASTINIT=1")
			return cmd
		}
	}
	if opts.BeforeInit != nil {
		opts.BeforeInit()
	}
	prepStarted = true
	cmd = newCmd(true)
	// As newCmd set them (a retry below sets them again, to the same
	// values, while the plan may be in the making).
	cfgConsoleFd, cfgPreserveFds := consoleFd, preserveFds
	// newConfig is the init's config but for its state (status and pid,
	// for the hooks the Go init runs), which needs the clone's pid.
	newConfig := func() *initConfig {
		cfg := &initConfig{
			ID:           opts.ID,
			Spec:         newInitSpec(spec),
			Rootfs:       rootfs,
			ExecSockFd:   syncFd + 1,
			NoPivot:      opts.NoPivot,
			NoNewKeyring: opts.NoNewKeyring,
			ConsoleFd:    cfgConsoleFd,
			PrestartStop: hooksBeforePivot(spec),
			CgroupMounts: cgroupMounts,
			PreserveFds:  cfgPreserveFds,
		}
		if v1ByInit {
			for _, dir := range join.v1 {
				cfg.CgroupTasks = append(cfg.CgroupTasks, dir+"/tasks")
			}
		}
		cfg.CgroupAwaitMove = join != nil && join.late
		cfg.StartNow = opts.StartNow
		return cfg
	}
	// Validating the spec (decoding it too, when fastDecodeSpec did not
	// take it: about a millisecond in a fresh process) and writing the
	// cgroup's limits: on the second CPU while this thread clones and
	// execs the init, which holds it without giving its P up. Then, for
	// the C init, its plan (which needs no pid) goes to the sync socket
	// from there too, so that it is waiting when the init reads it: it
	// waited a median 0.7 ms after its exec for the plan sent after the
	// clone returned (30 runs under PVM). Where the kernel refuses
	// CLONE_INTO_CGROUP, the init then starts on its mounts before the
	// parent moves it into its v2 cgroup below; its container's process
	// still starts in there (the parent moves it before it takes ready).
	type sentPlan struct {
		sent bool
		err  error
	}
	early := make(chan sentPlan, 1)
	go func() {
		if prepare() != nil || !fast || cgroupMountsErr != nil {
			early <- sentPlan{}
			return
		}
		plan, why := fastPlan(spec, newConfig(), bundle)
		if why != "" {
			early <- sentPlan{}
			return
		}
		_, err := l.parent.Write(append(planHeader(len(plan)), plan...))
		early <- sentPlan{sent: true, err: err}
	}()
	if err := cmd.Start(); err != nil && join != nil && join.v2 != nil && !join.late {
		// CLONE_INTO_CGROUP refused (an old kernel, a busy cgroup): start
		// without it and let the parent move the init.
		join.dropFD()
		cmd = newCmd(false)
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("start container init: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("start container init: %w", err)
	}
	l.started()
	sync := newSyncConn(l.parent)
	pid := cmd.Process.Pid
	if err := prepare(); err != nil {
		return nil, err
	}
	c.State.OCIVersion = spec.Version
	c.State.Rootfs = rootfs
	c.State.Annotations = spec.Annotations
	c.State.Spec = spec
	c.specJSON = data
	if joinPID {
		m, err := sync.expect(msgPid)
		if err != nil {
			return nil, err
		}
		pid = m.Pid
		_, _ = cmd.Process.Wait()
	}
	c.State.Pid = pid
	if cgroupMountsErr != nil {
		return nil, cgroupMountsErr
	}
	if cg != nil && parentMoves(c.State.CgroupPaths, join, v1ByInit) {
		if err := cg.Apply(pid); err != nil {
			return nil, fmt.Errorf("cgroup: %w", err)
		}
	}

	if spec.Process.OOMScoreAdj != nil {
		if err := os.WriteFile("/proc/"+strconv.Itoa(pid)+"/oom_score_adj", []byte(strconv.Itoa(*spec.Process.OOMScoreAdj)), 0); err != nil {
			return nil, fmt.Errorf("process.oomScoreAdj: %w", err)
		}
	}
	sp := <-early
	if sp.err != nil {
		return nil, fmt.Errorf("send config to init: %w", sp.err)
	}
	st := c.ociState(specs.StateCreating, pid)
	planned := sp.sent
	if !planned {
		cfg := newConfig()
		cfg.State = &st
		if planned, err = sendConfig(sync, fast, spec, cfg, bundle); err != nil {
			return nil, fmt.Errorf("send config to init: %w", err)
		}
	}
	// state.json is written while the init prepares the container (the
	// parent would wait idle meanwhile) and put in place once it is ready.
	startTime, _, err := pidStartTime(pid)
	if err != nil {
		return nil, fmt.Errorf("container init: %w", err)
	}
	c.State.PidStartTime = startTime
	c.State.Namespaces = map[specs.LinuxNamespaceType]string{}
	if spec.Linux != nil {
		for _, n := range spec.Linux.Namespaces {
			c.State.Namespaces[n.Type] = "/proc/" + strconv.Itoa(pid) + "/ns/" + nsProcName[n.Type]
		}
	}
	stateTmp, err := c.writeStateTmp()
	if err != nil {
		return nil, fmt.Errorf("save state: %w", err)
	}
	if (v1ByInit && len(join.v1) > 0) || (join != nil && join.late) {
		// The init could not move itself, or waits to be moved
		// (cgroupJoin.late): the whole process, the slow way.
		err := awaitJoin(sync, func() error {
			if err := cg.Apply(pid); err != nil {
				return fmt.Errorf("cgroup: %w", err)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if limitsSet != nil {
		if err := limitsSet(); err != nil {
			return nil, err
		}
	}
	if hooksBeforePivot(spec) {
		if _, err := sync.expect(msgPrestart); err != nil {
			return nil, err
		}
		if err := runHooks(spec.Hooks.Prestart, &st); err != nil {
			return nil, fmt.Errorf("prestart %w", err)
		}
		if err := runHooks(spec.Hooks.CreateRuntime, &st); err != nil {
			return nil, fmt.Errorf("createRuntime %w", err)
		}
		if err := sync.send(syncMsg{Type: msgContinue}); err != nil {
			return nil, err
		}
	}
	if planned && opts.StartNow {
		// The C init of a `run` execs the process right after its
		// ready: it first reads this, sent once the limits written
		// while it worked are in place (limitsSet above), so that the
		// process never runs without them. Usually it is there before
		// the init asks. A failed send means the init is gone: what it
		// said comes next.
		if err := sync.send(syncMsg{Type: msgContinue}); err != nil {
			if _, rerr := sync.expect(msgReady); rerr != nil {
				return nil, rerr
			}
			return nil, fmt.Errorf("sync: %w", err)
		}
	}
	if _, err := sync.expect(msgReady); err != nil {
		return nil, err
	}
	if planned && opts.StartNow {
		// The init execs the process now: its end of the sync socket
		// closes on the exec, or it says why the exec failed.
		if _, err := sync.recv(); !errors.Is(err, io.EOF) {
			if err == nil {
				err = errors.New("sync: a message after ready")
			}
			// Worded as Start words an exec that failed.
			return nil, fmt.Errorf("start %s: %w", opts.ID, err)
		}
		c.startedEarly = true
	}
	if err := c.publishState(stateTmp); err != nil {
		return nil, fmt.Errorf("save state: %w", err)
	}
	if opts.PidFile != "" {
		if err := writePidFile(opts.PidFile, pid); err != nil {
			return nil, err
		}
	}
	if joinPID {
		cmd = nil
	}
	c.cmd = cmd
	return c, nil
}

// hooksBeforePivot says whether the init stops before pivot_root for the
// prestart and createRuntime hooks: without them it need not, one round
// trip less.
func hooksBeforePivot(spec *specs.Spec) bool {
	return spec.Hooks != nil && (len(spec.Hooks.Prestart) > 0 || len(spec.Hooks.CreateRuntime) > 0)
}

// parentMoves says whether a new process must be moved into its cgroup by
// the parent (Manager.Apply) before it is sent its config: when its v2 (or
// unified) directory was not joined at birth (join nil: no
// CLONE_INTO_CGROUP) and is not to be joined once its Go runtime runs
// (late), or its v1 hierarchies are not joined by the process itself.
func parentMoves(paths map[string]string, join *cgroupJoin, v1ByProcess bool) bool {
	_, v2 := paths[""]
	v2Missed := v2 && (join == nil || join.v2 == nil && !join.late)
	return v2Missed || hasV1Hierarchy(paths) && !v1ByProcess
}

// specPidsLimited reports whether the spec limits the number of pids.
func specPidsLimited(spec *specs.Spec) bool {
	if spec.Linux == nil || spec.Linux.Resources == nil || spec.Linux.Resources.Pids == nil {
		return false
	}
	l := spec.Linux.Resources.Pids.Limit
	return l != nil && *l > 0
}

// checkConsole checks the spec's terminal against the console options.
func checkConsole(spec *specs.Spec, opts CreateOpts) error {
	terminal := spec.Process != nil && spec.Process.Terminal
	if terminal && opts.ConsoleSocket == "" && opts.ConsoleConn == nil {
		return errors.New("cannot allocate tty if berth will detach without setting console socket")
	}
	if !terminal && (opts.ConsoleSocket != "") {
		return errors.New("cannot use console socket if berth will not detach or allocate tty")
	}
	return nil
}

func destroyCgroup(cg cgroups.Manager) {
	if pids, err := cg.Procs(); err == nil {
		for _, p := range pids {
			_ = unix.Kill(p, unix.SIGKILL)
		}
	}
	for i := 0; i < 50; i++ {
		if err := cg.Destroy(); err == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func findNS(spec *specs.Spec, t specs.LinuxNamespaceType) (specs.LinuxNamespace, bool) {
	if spec.Linux == nil {
		return specs.LinuxNamespace{}, false
	}
	for _, n := range spec.Linux.Namespaces {
		if n.Type == t {
			return n, true
		}
	}
	return specs.LinuxNamespace{}, false
}

func idMaps(m []specs.LinuxIDMapping) []syscall.SysProcIDMap {
	out := make([]syscall.SysProcIDMap, 0, len(m))
	for _, e := range m {
		out = append(out, syscall.SysProcIDMap{ContainerID: int(e.ContainerID), HostID: int(e.HostID), Size: int(e.Size)})
	}
	return out
}

func socketPair() (parent, child *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	// The parent's end on Go's poller: a goroutine waiting for the init
	// parks and gives its P back, where a blocking read would hold the P
	// in a system call, which Go's sysmon then polls every 20 µs and takes
	// back (a third of a CPU in a run, measured under PVM). The child's
	// end, a file description of its own, stays blocking.
	if err := unix.SetNonblock(fds[0], true); err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "sync-parent"), os.NewFile(uintptr(fds[1]), "sync-child"), nil
}

// writePidFile writes pid atomically, as runc does.
func writePidFile(file string, pid int) error {
	file, err := absPath(file)
	if err != nil {
		return err
	}
	tmp := path.Join(path.Dir(file), "."+path.Base(file)+".tmp")
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return fmt.Errorf("pid file: %w", err)
	}
	return os.Rename(tmp, file)
}

// Start lets a created container's init exec the user process.
func (c *Container) Start() error {
	if !c.startedEarly {
		switch st := c.Status(); st {
		case Created:
		case Stopped:
			return fmt.Errorf("cannot start a container that has stopped")
		default:
			return fmt.Errorf("cannot start an already running container")
		}
		if err := initsock.Start(c.dir); err != nil {
			return fmt.Errorf("start %s: %w", c.State.ID, err)
		}
	}
	c.startedEarly = false
	sock := path.Join(c.dir, execSockName)
	// Without its exec.sock the container reads as running (Status), so
	// state.json is rewritten only when the socket cannot be removed: one
	// file less to create on the start path.
	c.State.Started = true
	if err := os.Remove(sock); err != nil && !errors.Is(err, os.ErrNotExist) {
		_ = c.save()
	}
	if c.State.Spec.Hooks != nil {
		// The process was started, even if it has already exited.
		st := c.ociState(specs.StateRunning, c.State.Pid)
		if err := runHooks(c.State.Spec.Hooks.Poststart, &st); err != nil {
			// Poststart failures are logged only (runtime-spec).
			fmt.Fprintf(os.Stderr, "berth: poststart %v\n", err)
		}
	}
	return nil
}

// listenExecSock makes the unix socket the init waits on: `start` connects
// to it, the init answers with one byte and execs the process, which closes
// the connection. The parent makes it (the init may lack the rights to, in a
// user namespace) and hands the listening socket to the init.
func listenExecSock(dir string) (*os.File, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("exec socket: %w", err)
	}
	// Through the directory's fd: a long --root must not hit sun_path's limit.
	addr := &unix.SockaddrUnix{Name: "/proc/self/fd/" + strconv.Itoa(int(d.Fd())) + "/" + execSockName}
	if err := unix.Bind(fd, addr); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("exec socket: %w", err)
	}
	if err := unix.Listen(fd, 1); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("exec socket: %w", err)
	}
	return os.NewFile(uintptr(fd), execSockName), nil
}
