package runtime

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/runtime/cgroups"
)

// ExecOpts are the inputs of Container.Exec.
type ExecOpts struct {
	Process       *specs.Process
	ConsoleSocket string
	ConsoleConn   *os.File
	PidFile       string
	// PreserveFds passes the caller's descriptors 3 .. 3+PreserveFds-1
	// on to the process (runc's --preserve-fds).
	PreserveFds int
	Stdin       io.Reader
	Stdout      io.Writer
	Stderr      io.Writer
}

// Process is a process started in a container by Exec.
type Process struct {
	// Pid is our child, or, when a PID namespace was joined, a grandchild
	// that reparents to us (the caller must be a subreaper).
	Pid int
}

// Wait waits for the process and returns its exit code (128+signal when
// killed by a signal).
func (p *Process) Wait() (int, error) {
	return waitPid(p.Pid)
}

// waitPid waits for pid (a child of ours) and converts its status to a
// shell-style exit code.
func waitPid(pid int) (int, error) {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return -1, err
		}
		break
	}
	if ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return ws.ExitStatus(), nil
}

// Exec starts opts.Process inside the running container.
func (c *Container) Exec(opts ExecOpts) (*Process, error) {
	switch st := c.Status(); st {
	case Created, Running:
	case Paused:
		return nil, fmt.Errorf("cannot exec in a paused container")
	default:
		return nil, fmt.Errorf("cannot exec in a stopped container")
	}
	proc := opts.Process
	if proc == nil || len(proc.Args) == 0 {
		return nil, errors.New("exec: process.args must not be empty")
	}
	if proc.Terminal && opts.ConsoleSocket == "" && opts.ConsoleConn == nil {
		return nil, errors.New("cannot allocate tty if berth will detach without setting console socket")
	}
	var joins []string
	joinPID := false
	for _, t := range joinOrder {
		if _, ok := c.State.Namespaces[t]; !ok {
			continue
		}
		joins = append(joins, nsProcName[t]+":/proc/"+strconv.Itoa(c.State.Pid)+"/ns/"+nsProcName[t])
		if t == specs.PIDNamespace {
			joinPID = true
		}
	}
	if !fastInitLinked.Load() {
		return nil, errNoNsenter
	}
	l, err := newLaunch(opts.ConsoleSocket, opts.ConsoleConn, initImage != nil, path.Dir(c.dir))
	if err != nil {
		return nil, err
	}
	defer l.close()
	// A filter with SCMP_ACT_NOTIFY sends its listener to the agent: the
	// process cannot reach the host's socket from inside, so we connect.
	var agent *os.File
	agentFd := 0
	if sc := c.State.Spec.Linux; sc != nil && sc.Seccomp != nil && sc.Seccomp.ListenerPath != "" {
		if agent, err = dialAgent(sc.Seccomp.ListenerPath); err != nil {
			return nil, err
		}
		defer agent.Close()
	}
	var join *cgroupJoin
	// The process joins the container's v1 cgroups from its exec thread
	// once its Go runtime runs (cgroupJoin), through tasks files we open:
	// it is in the container's mount namespace by then.
	var tasks []*os.File
	if len(c.State.CgroupPaths) > 0 {
		join = newCgroupJoin(c.State.CgroupPaths)
		defer join.close()
		_, v1pids := c.State.CgroupPaths["pids"]
		join.late = join.v2 != nil && !v1pids && pidsLimited(c.State.CgroupPaths[""])
		if tasks, err = join.openTasks(); err != nil {
			tasks = nil // moved by us instead
		}
		defer func() {
			for _, f := range tasks {
				f.Close()
			}
		}()
	}
	preserved, err := preservedFiles(opts.PreserveFds)
	if err != nil {
		return nil, err
	}
	var consoleFd int
	var preserveFds, taskFds []int
	newCmd := func(cgroupFD bool) *child {
		var extra []*os.File
		if agent != nil {
			extra = append(extra, agent)
			agentFd = syncFd + 1
		}
		taskFds = nil
		for _, f := range tasks {
			extra = append(extra, f)
			taskFds = append(taskFds, syncFd+len(extra))
		}
		cmd, cfd := l.command(opts.Stdin, opts.Stdout, opts.Stderr, extra...)
		consoleFd = cfd
		preserveFds = appendPreserved(cmd, preserved)
		cmd.Env = append(cmd.Env, "_BERTH_NS="+strings.Join(joins, ","))
		if join != nil {
			join.apply(cmd, cgroupFD)
		}
		return cmd
	}
	cmd := newCmd(true)
	if err := cmd.Start(); err != nil && join != nil && join.v2 != nil && !join.late {
		// CLONE_INTO_CGROUP refused: start without it, move it ourselves.
		join.dropFD()
		cmd = newCmd(false)
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("exec: start: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("exec: start: %w", err)
	}
	l.started()
	sync := newSyncConn(l.parent)
	pid := cmd.Process.Pid
	fail := func(err error) (*Process, error) {
		_ = unix.Kill(pid, unix.SIGKILL)
		if pid != cmd.Process.Pid {
			_, _ = waitPid(pid)
		}
		_, _ = cmd.Process.Wait()
		return nil, err
	}
	if joinPID {
		m, err := sync.expect(msgPid)
		if err != nil {
			return fail(err)
		}
		pid = m.Pid
		_, _ = cmd.Process.Wait()
	}
	moveIn := func() error {
		cg, err := cgroups.Load(c.State.CgroupPaths)
		if err == nil {
			err = cg.Apply(pid)
		}
		if err != nil {
			return fmt.Errorf("exec: join cgroup: %w", err)
		}
		return nil
	}
	if len(c.State.CgroupPaths) > 0 && parentMoves(c.State.CgroupPaths, join, len(tasks) > 0) {
		if err := moveIn(); err != nil {
			return fail(err)
		}
	}
	// The container's process.oomScoreAdj (config.json's) for an exec'd
	// process too, as runc's exec gives it (its bootstrap data); the exec's
	// own process.json value is not used, as with runc.
	if sp := c.State.Spec; sp != nil && sp.Process != nil && sp.Process.OOMScoreAdj != nil {
		if err := os.WriteFile("/proc/"+strconv.Itoa(pid)+"/oom_score_adj", []byte(strconv.Itoa(*sp.Process.OOMScoreAdj)), 0); err != nil {
			return fail(fmt.Errorf("process.oomScoreAdj: %w", err))
		}
	}
	st := c.OCIState()
	cfg := &initConfig{Exec: true, ID: c.State.ID, NoNewKeyring: c.State.NoNewKeyring, Spec: newInitSpec(c.State.Spec), Process: proc, ConsoleFd: consoleFd, PreserveFds: preserveFds,
		SeccompAgentFd: agentFd, State: &st, CgroupTaskFds: taskFds, CgroupAwaitMove: join != nil && join.late}
	if err := sync.send(syncMsg{Type: msgConfig, Config: cfg}); err != nil {
		return fail(fmt.Errorf("exec: send config: %w", err))
	}
	if len(taskFds) > 0 || cfg.CgroupAwaitMove {
		if err := awaitJoin(sync, moveIn); err != nil {
			return fail(err)
		}
	}
	if _, err := sync.expect(msgReady); err != nil {
		return fail(err)
	}
	// The next message is EOF once the process has exec'd (the socket is
	// close-on-exec), or the exec's error.
	if _, err := sync.recv(); err != nil && !errors.Is(err, io.EOF) {
		return fail(err)
	}
	if opts.PidFile != "" {
		if err := writePidFile(opts.PidFile, pid); err != nil {
			// The caller learns of a failed exec: no process of it may
			// go on in the container (runc kills it too).
			return fail(err)
		}
	}
	return &Process{Pid: pid}, nil
}

// Wait waits for a container created by this process (as its child) to
// exit, and returns the exit code.
func (c *Container) Wait() (int, error) {
	if c.cmd == nil || c.cmd.Process == nil {
		if c.State.Pid == 0 {
			return -1, errors.New("container has no init")
		}
		return waitPid(c.State.Pid)
	}
	code, err := waitPid(c.cmd.Process.Pid)
	// Stdio that is not a file is copied by goroutines: let them finish,
	// so that the caller has all the output once Wait returns (a build's
	// RUN step lost its last output without). The copies end when every
	// process that holds the pipes has ended, or 2 s after the init did.
	_ = c.cmd.awaitCopies(2 * time.Second)
	return code, err
}

// Pause freezes every process of the container.
func (c *Container) Pause() error {
	if st := c.Status(); st != Running && st != Created {
		return errNotRunning
	}
	cg := c.cgroup()
	if cg == nil {
		return fmt.Errorf("container %s has no cgroup", c.State.ID)
	}
	return cg.Freeze()
}

// Resume thaws a paused container.
func (c *Container) Resume() error {
	if c.Status() != Paused {
		return fmt.Errorf("container %s is not paused", c.State.ID)
	}
	return c.cgroup().Thaw()
}

// Update changes the resource limits of a running container.
func (c *Container) Update(r *specs.LinuxResources) error {
	if st := c.Status(); st == Stopped {
		return errNotRunning
	}
	cg := c.cgroup()
	if cg == nil {
		return fmt.Errorf("container %s has no cgroup", c.State.ID)
	}
	if err := cg.Set(r); err != nil {
		return err
	}
	if c.State.Spec.Linux.Resources == nil {
		c.State.Spec.Linux.Resources = &specs.LinuxResources{}
	}
	mergeResources(c.State.Spec.Linux.Resources, r)
	c.specJSON = nil // the spec changed: encoded anew
	return c.save()
}

func mergeResources(dst, src *specs.LinuxResources) {
	if src.Memory != nil {
		dst.Memory = src.Memory
	}
	if src.CPU != nil {
		dst.CPU = src.CPU
	}
	if src.Pids != nil {
		dst.Pids = src.Pids
	}
	if src.BlockIO != nil {
		dst.BlockIO = src.BlockIO
	}
}

// Stats returns the container's cgroup statistics.
func (c *Container) Stats() (*cgroups.Stats, error) {
	cg := c.cgroup()
	if cg == nil {
		return nil, fmt.Errorf("container %s has no cgroup", c.State.ID)
	}
	return cg.Stats()
}

// Processes lists the host pids of the container's processes.
func (c *Container) Processes() ([]int, error) {
	cg := c.cgroup()
	if cg == nil {
		return []int{c.State.Pid}, nil
	}
	return cg.Procs()
}
