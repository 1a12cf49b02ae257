package runtime

import (
	"errors"
	"fmt"
	"os"
	"path"
	goruntime "runtime"
	"strconv"
	"strings"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/runtime/seccomp"
)

// InitArg is argv[1] of a container's init process, a re-exec of berth.
const InitArg = "init"

// initName is the init's name until the exec (at most 15 bytes and a NUL).
var initName = []byte("berth:[init]\x00")

// Init is the entry point of the container's init (and of a process exec'd
// into a running container). It never returns: it execs the user process or
// reports its error to the parent and exits.
func Init() {
	// Every namespace and credential change below must happen on the
	// thread that finally execs.
	goruntime.LockOSThread()
	// Keep the container's processes away from /proc/<init>/exe and our
	// memory until the exec resets this.
	_ = unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	// Named for ps and top as the init image names itself: exec'd from a
	// descriptor, the process is named after the descriptor's number.
	_ = unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&initName[0])), 0, 0, 0)
	os.Unsetenv("_BERTH_NS")
	os.Unsetenv("_BERTH_SYNC")
	f := os.NewFile(syncFd, "sync")
	sync := newSyncConn(f)
	err := initMain(sync)
	_ = sync.send(syncMsg{Type: msgError, Message: err.Error()})
	os.Exit(1)
}

func initMain(sync *syncConn) error {
	m, err := sync.expect(msgConfig)
	if err != nil {
		return err
	}
	cfg := m.Config
	if cfg == nil || cfg.Spec == nil {
		return errors.New("init: empty config")
	}
	if len(cfg.CgroupTasks) > 0 || len(cfg.CgroupTaskFds) > 0 || cfg.CgroupAwaitMove {
		if err := joinCgroupTasks(sync, cfg.CgroupTasks, cfg.CgroupTaskFds, cfg.CgroupAwaitMove); err != nil {
			return err
		}
	}
	if cfg.Exec {
		return execMain(sync, cfg)
	}
	spec := cfg.Spec.spec()
	proc := spec.Process
	// A session of its own, as runc's init: the caller's session and
	// process group (a timeout, a supervisor, job control) do not reach
	// the container.
	if _, err := unix.Setsid(); err != nil {
		return fmt.Errorf("setsid: %w", err)
	}
	if n, ok := findNS(spec, specs.CgroupNamespace); ok && n.Path == "" {
		if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
			return fmt.Errorf("unshare cgroup namespace: %w", err)
		}
	}
	if _, ok := findNS(spec, specs.MountNamespace); ok {
		if err := prepareRootfs(spec, cfg.Rootfs, cfg.CgroupMounts); err != nil {
			return err
		}
	}
	if cfg.PrestartStop {
		if err := sync.send(syncMsg{Type: msgPrestart}); err != nil {
			return err
		}
		if _, err := sync.expect(msgContinue); err != nil {
			return err
		}
	}
	if spec.Hooks != nil {
		if err := runHooks(spec.Hooks.CreateContainer, cfg.State); err != nil {
			return fmt.Errorf("createContainer %w", err)
		}
	}
	// The seccomp agent's socket is a host path: connect while it is still
	// reachable, send the listener once the filter is loaded.
	var agent *os.File
	if spec.Linux != nil && spec.Linux.Seccomp != nil && spec.Linux.Seccomp.ListenerPath != "" {
		if agent, err = dialAgent(spec.Linux.Seccomp.ListenerPath); err != nil {
			return err
		}
	}
	if _, ok := findNS(spec, specs.MountNamespace); ok {
		if err := enterRootfs(cfg.Rootfs, cfg.NoPivot); err != nil {
			return err
		}
	} else if err := chrootRootfs(cfg.Rootfs); err != nil {
		return err
	}
	if proc.Terminal {
		if err := setupConsole(cfg.ConsoleFd, proc.ConsoleSize, true); err != nil {
			return err
		}
	}
	// Before finalizeRootfs makes /proc/sys read-only.
	if spec.Linux != nil && len(spec.Linux.Sysctl) > 0 {
		if err := applySysctl(spec.Linux.Sysctl); err != nil {
			return err
		}
	}
	if _, ok := findNS(spec, specs.MountNamespace); ok {
		if err := finalizeRootfs(spec); err != nil {
			return err
		}
	}
	if _, ok := findNS(spec, specs.UTSNamespace); ok {
		if spec.Hostname != "" {
			if err := unix.Sethostname([]byte(spec.Hostname)); err != nil {
				return fmt.Errorf("sethostname: %w", err)
			}
		}
		if spec.Domainname != "" {
			if err := unix.Setdomainname([]byte(spec.Domainname)); err != nil {
				return fmt.Errorf("setdomainname: %w", err)
			}
		}
	}
	path, filter, err := prepareExec(spec, proc)
	if err != nil {
		return err
	}
	// Credentials are dropped before the container is reported created, as
	// runc does, so that a failure (a capability the host cannot grant, an
	// rlimit above the hard limit) is a create error.
	running := *cfg.State
	running.Status = specs.StateRunning
	if !cfg.NoNewKeyring {
		if err := joinSessionKeyring(cfg.ID, hasNewUserNS(spec)); err != nil {
			return err
		}
	}
	if err := dropPrivileges(proc, filter, agent, &running); err != nil {
		return err
	}
	if err := sync.send(syncMsg{Type: msgReady}); err != nil {
		return err
	}
	// Wait for `start`. The connection stays open (close-on-exec) so that
	// start returns once the process is exec'd, or reads why it was not.
	var conn int
	for {
		conn, _, err = unix.Accept4(cfg.ExecSockFd, unix.SOCK_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("wait for start: %w", err)
		}
		unix.Close(cfg.ExecSockFd)
		if _, err := unix.Write(conn, []byte("0")); err != nil {
			return fmt.Errorf("start: %w", err)
		}
		break
	}
	err = func() error {
		if spec.Hooks != nil && len(spec.Hooks.StartContainer) > 0 {
			st := *cfg.State
			st.Status = specs.StateCreated
			if err := runHooks(spec.Hooks.StartContainer, &st); err != nil {
				return fmt.Errorf("startContainer %w", err)
			}
		}
		return execProcess(proc, path, filter, agent, &running, cfg.PreserveFds, conn, syncFd)
	}()
	_, _ = unix.Write(conn, []byte(err.Error()))
	return err
}

// prepareExec does what can fail before the container is reported created:
// the working directory, the executable's lookup, the seccomp program.
func prepareExec(spec *specs.Spec, proc *specs.Process) (string, *seccomp.Filter, error) {
	cwd := proc.Cwd
	if cwd == "" {
		cwd = "/"
	}
	// Inside the new root: no host directory can stay our cwd
	// (CVE-2024-21626).
	if err := unix.Chdir(cwd); err != nil {
		return "", nil, fmt.Errorf("process.cwd %s: %w", cwd, err)
	}
	proc.Env = envWithHome("/", proc.Env, proc.User.UID)
	path, err := lookPath(proc.Args[0], proc.Env)
	if err != nil {
		return "", nil, err
	}
	var filter *seccomp.Filter
	if spec.Linux != nil && spec.Linux.Seccomp != nil {
		filter, err = seccomp.Compile(spec.Linux.Seccomp)
		if err != nil {
			return "", nil, fmt.Errorf("linux.seccomp: %w", err)
		}
	}
	return path, filter, nil
}

// finalExec drops privileges, loads seccomp and execs the process. agent is
// a connection to the seccomp agent, for a filter with SCMP_ACT_NOTIFY.
func finalExec(proc *specs.Process, path string, filter *seccomp.Filter, agent *os.File, state *specs.State, preserve []int, keep ...int) error {
	if err := dropPrivileges(proc, filter, agent, state); err != nil {
		return err
	}
	return execProcess(proc, path, filter, agent, state, preserve, keep...)
}

// dropPrivileges loads seccomp unless no_new_privs lets an unprivileged
// process load it later (as runc does: that way the credential syscalls need
// not be allowed by the profile), then sets rlimits, capabilities, user and
// groups, and no_new_privs.
func dropPrivileges(proc *specs.Process, filter *seccomp.Filter, agent *os.File, state *specs.State) error {
	if filter != nil && !proc.NoNewPrivileges {
		if err := loadSeccomp(filter, agent, state); err != nil {
			return err
		}
	}
	return finalizeProcess(proc)
}

// execProcess loads seccomp when no_new_privs is set, as close to the exec
// as possible, closes every descriptor of ours and execs the process, with
// the preserved descriptors as 3, 4, ... keep are descriptors the init
// reports an exec failure on: they are back in place if the exec fails.
func execProcess(proc *specs.Process, path string, filter *seccomp.Filter, agent *os.File, state *specs.State, preserve []int, keep ...int) error {
	if filter != nil && proc.NoNewPrivileges {
		if err := loadSeccomp(filter, agent, state); err != nil {
			return err
		}
	}
	if agent != nil {
		agent.Close()
	}
	// No descriptor of ours may reach the process (CVE-2024-21626).
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		markCloexec()
	}
	restore, err := placePreserved(preserve, keep)
	if err != nil {
		return err
	}
	unignoreSignals()
	err = unix.Exec(path, proc.Args, proc.Env)
	restore()
	return fmt.Errorf("exec %s: %w", proc.Args[0], err)
}

// placePreserved makes the descriptors of preserve 3, 4, ... in order,
// without close-on-exec. A descriptor of keep in that range is copied above
// it first; restore puts it back (after a failed exec).
func placePreserved(preserve, keep []int) (restore func(), err error) {
	restore = func() {}
	if len(preserve) == 0 {
		return restore, nil
	}
	top := 3 + len(preserve)
	// Every source above the range first, so that no placement closes a
	// source still to be placed.
	src := make([]int, len(preserve))
	for i, fd := range preserve {
		if src[i], err = unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, top); err != nil {
			return restore, fmt.Errorf("preserve-fds: fd %d: %w", fd, err)
		}
	}
	saved := map[int]int{}
	for _, k := range keep {
		if k >= 3 && k < top {
			s, err := unix.FcntlInt(uintptr(k), unix.F_DUPFD_CLOEXEC, top)
			if err != nil {
				return restore, fmt.Errorf("preserve-fds: %w", err)
			}
			saved[k] = s
		}
	}
	restore = func() {
		for k, s := range saved {
			_ = unix.Dup3(s, k, unix.O_CLOEXEC)
		}
	}
	for i, s := range src {
		if err := unix.Dup3(s, 3+i, 0); err != nil {
			restore()
			return func() {}, fmt.Errorf("preserve-fds: %w", err)
		}
	}
	return restore, nil
}

// loadSeccomp installs filter; a filter with SCMP_ACT_NOTIFY hands its
// listener to the agent.
func loadSeccomp(filter *seccomp.Filter, agent *os.File, state *specs.State) error {
	if !filter.NeedsListener() {
		if err := filter.Load(); err != nil {
			return fmt.Errorf("load seccomp filter: %w", err)
		}
		return nil
	}
	if agent == nil {
		return errors.New("linux.seccomp: SCMP_ACT_NOTIFY needs listenerPath")
	}
	l, err := filter.LoadListener()
	if err != nil {
		return fmt.Errorf("load seccomp filter: %w", err)
	}
	defer l.Close()
	ps := specs.ContainerProcessState{Pid: os.Getpid(), Metadata: filter.ListenerMetadata()}
	if state != nil {
		ps.State = *state
	}
	return seccomp.SendListenerOn(agent, l, ps)
}

func markCloexec() {
	ents, _ := os.ReadDir("/proc/self/fd")
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err == nil && fd > 2 {
			unix.CloseOnExec(fd)
		}
	}
}

// lookPath finds name in the PATH of env, as execvp would in the container.
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		if err := checkExecutable(name); err != nil {
			return "", fmt.Errorf("exec: %q: %w", name, err)
		}
		return name, nil
	}
	pathEnv := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			pathEnv = v
		}
	}
	var firstErr error
	for _, dir := range splitPathList(pathEnv) {
		if dir == "" {
			dir = "."
		}
		p := path.Join(dir, name)
		err := checkExecutable(p)
		if err == nil {
			return p, nil
		}
		if firstErr == nil && !errors.Is(err, os.ErrNotExist) {
			firstErr = err
		}
	}
	if firstErr != nil {
		return "", fmt.Errorf("exec: %q: %w", name, firstErr)
	}
	return "", fmt.Errorf("exec: %q: executable file not found in $PATH", name)
}

func checkExecutable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return errors.New("is a directory")
	}
	if fi.Mode()&0o111 == 0 {
		return os.ErrPermission
	}
	return nil
}

// setupConsole makes a pty in the container's devpts, sends its master over
// the connection at fd connFd, and makes the slave our stdio and
// controlling terminal. The terminal has size (process.consoleSize) before
// the process starts, as runc sizes it. When mount, the slave is also bound
// onto /dev/console.
func setupConsole(connFd int, size *specs.Box, mount bool) error {
	if connFd == 0 {
		return errors.New("terminal requested but no console socket")
	}
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open /dev/ptmx: %w", err)
	}
	defer master.Close()
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		return fmt.Errorf("unlockpt: %w", err)
	}
	if size != nil && (size.Height > 0 || size.Width > 0) {
		ws := &unix.Winsize{Row: uint16(min(size.Height, 0xffff)), Col: uint16(min(size.Width, 0xffff))}
		if err := unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, ws); err != nil {
			return fmt.Errorf("process.consoleSize: %w", err)
		}
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		return fmt.Errorf("ptsname: %w", err)
	}
	slavePath := "/dev/pts/" + strconv.Itoa(n)
	if mount {
		if err := mountConsole(slavePath); err != nil {
			return err
		}
	}
	slave, err := unix.Open(slavePath, unix.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", slavePath, err)
	}
	rights := unix.UnixRights(int(master.Fd()))
	if err := unix.Sendmsg(connFd, []byte("/dev/ptmx"), rights, nil, 0); err != nil {
		return fmt.Errorf("send pty master to console socket: %w", err)
	}
	unix.Close(connFd)
	for i := 0; i < 3; i++ {
		if err := unix.Dup3(slave, i, 0); err != nil {
			return fmt.Errorf("dup pty slave: %w", err)
		}
	}
	if slave > 2 {
		unix.Close(slave)
	}
	if err := unix.IoctlSetInt(0, unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("set controlling terminal: %w", err)
	}
	return nil
}

// execMain is the init of a process joining a running container: nsenter
// has already joined its namespaces, the parent has put us in its cgroup.
func execMain(sync *syncConn, cfg *initConfig) error {
	proc := cfg.Process
	if proc == nil {
		return errors.New("exec: no process")
	}
	if _, err := unix.Setsid(); err != nil {
		return fmt.Errorf("setsid: %w", err)
	}
	if proc.Terminal {
		if err := setupConsole(cfg.ConsoleFd, proc.ConsoleSize, false); err != nil {
			return err
		}
	}
	spec := cfg.Spec.spec()
	var agent *os.File
	if cfg.SeccompAgentFd != 0 {
		agent = os.NewFile(uintptr(cfg.SeccompAgentFd), "seccomp-agent")
	}
	path, filter, err := prepareExec(spec, proc)
	if err != nil {
		return err
	}
	if err := sync.send(syncMsg{Type: msgReady}); err != nil {
		return err
	}
	if !cfg.NoNewKeyring {
		if err := joinSessionKeyring(cfg.ID, hasNewUserNS(spec)); err != nil {
			return err
		}
	}
	return finalExec(proc, path, filter, agent, cfg.State, cfg.PreserveFds, syncFd)
}

// dialAgent connects to the seccomp agent's unix socket.
func dialAgent(path string) (*os.File, error) {
	f, err := dialUnix(path)
	if err != nil {
		return nil, fmt.Errorf("linux.seccomp.listenerPath %s: %w", path, err)
	}
	return f, nil
}

// dialUnix connects a stream socket to the unix socket at path. The package
// does without package net, so that the init starts before net and what
// needs it are initialised (initentry_linux.go).
func dialUnix(path string) (*os.File, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("dial unix %s: %w", path, err)
	}
	return os.NewFile(uintptr(fd), path), nil
}

// chrootRootfs enters rootfs without a mount namespace of its own (nothing
// may be mounted then), as runc does.
func chrootRootfs(rootfs string) error {
	if err := unix.Chdir(rootfs); err != nil {
		return fmt.Errorf("chdir to rootfs %s: %w", rootfs, err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot to rootfs %s: %w", rootfs, err)
	}
	return unix.Chdir("/")
}
