package runtime

import (
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// cgroupJoin puts a new init (or exec'd process) into its cgroup without
// the parent writing its pid to cgroup.procs. Such a write takes the
// kernel's global threadgroup lock for writing, which waits for an RCU grace
// period: several milliseconds per container, the largest single cost of a
// `run` on cgroup v1. Instead:
//   - cgroup v2 (or the unified hierarchy of a hybrid host): clone3 with
//     CLONE_INTO_CGROUP places the child at birth;
//   - cgroup v1: a write of "0" to each hierarchy's tasks file, which moves
//     only the calling thread and needs no global lock. A container's init
//     that joins no namespace by path does it itself (byInit), first thing
//     once it has its config, on the thread that later execs the
//     container's process: an exec leaves only that thread, so the process
//     is in the container's cgroups from its first instruction, and the
//     init's Go runtime starts while the parent makes the directories and
//     writes the limits, instead of after. Otherwise (an exec'd process, an
//     init joining namespaces) the nsenter constructor does it, still
//     single-threaded and before it joins any namespace.
//
// Either reports {"type":"cgroup"} (with a message when it failed), and the
// parent falls back to Manager.Apply. With wait set, the constructor first
// waits for the parent's go-ahead (sync_linux.go): the parent makes the v1
// directories while the init's binary is exec'd.
type cgroupJoin struct {
	v1     []string
	v2     *os.File
	wait   bool
	byInit bool
}

// hasV1Hierarchy reports whether cgroup paths (as Manager.Paths returns
// them) name a v1 hierarchy, which the constructor joins through its tasks
// file.
func hasV1Hierarchy(paths map[string]string) bool {
	for k := range paths {
		if k != "" {
			return true
		}
	}
	return false
}

func newCgroupJoin(paths map[string]string) *cgroupJoin {
	j := &cgroupJoin{}
	seen := map[string]bool{}
	for k, dir := range paths {
		if k == "" {
			if fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0); err == nil {
				j.v2 = os.NewFile(uintptr(fd), dir)
			}
			continue
		}
		if !seen[dir] {
			seen[dir] = true
			j.v1 = append(j.v1, dir)
		}
	}
	sort.Strings(j.v1)
	return j
}

// apply sets up cmd so that its child joins the cgroup; withFD says whether
// to use CLONE_INTO_CGROUP.
func (j *cgroupJoin) apply(cmd *exec.Cmd, withFD bool) {
	if len(j.v1) > 0 && !j.byInit {
		cmd.Env = append(cmd.Env, "_BERTH_CGROUP="+strings.Join(j.v1, "\n"))
		if j.wait {
			cmd.Env = append(cmd.Env, "_BERTH_CGROUP_WAIT=1")
		}
	}
	if withFD && j.v2 != nil {
		if cmd.SysProcAttr == nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{}
		}
		cmd.SysProcAttr.UseCgroupFD = true
		cmd.SysProcAttr.CgroupFD = int(j.v2.Fd())
	}
}

func (j *cgroupJoin) close() {
	if j.v2 != nil {
		j.v2.Close()
	}
}

// reportsJoin says whether the child's constructor sends a cgroup message.
func (j *cgroupJoin) reportsJoin() bool { return len(j.v1) > 0 && !j.byInit }

// joinsByInit says whether the init joins its v1 cgroups itself
// (initConfig.CgroupTasks). j may be nil.
func (j *cgroupJoin) joinsByInit() bool { return j != nil && j.byInit && len(j.v1) > 0 }

// joinCgroupTasks moves the calling thread into each v1 cgroup directory of
// dirs and reports the outcome to the parent; after a failure it waits for
// the parent to have moved the whole process.
func joinCgroupTasks(sync *syncConn, dirs []string) error {
	msg := ""
	for _, dir := range dirs {
		if err := writeZero(dir + "/tasks"); err != nil {
			msg = fmt.Sprintf("join %s: %v", dir, err)
			break
		}
	}
	if err := sync.send(syncMsg{Type: msgCgroup, Message: msg}); err != nil {
		return err
	}
	if msg != "" {
		_, err := sync.expect(msgContinue)
		return err
	}
	return nil
}

func writeZero(path string) error {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	_, err = unix.Write(fd, []byte{'0'})
	return err
}
