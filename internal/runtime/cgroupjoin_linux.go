package runtime

import (
	"fmt"
	"os"
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
//   - cgroup v1: the process writes "0" to each hierarchy's tasks file,
//     which moves only the calling thread and needs no global lock, from
//     the thread that later execs the container's process, first thing
//     once it has its config (joinCgroupTasks). An exec keeps only that
//     thread, so the container's process is in the cgroups from its first
//     instruction. The process's Go runtime has started by then, outside:
//     its threads are not counted against a pids limit (a Go runtime
//     started inside a cgroup with pids.max of 4 or less cannot create its
//     threads), nor its start-up memory against a memory limit. The
//     parent sends the tasks files' paths (a container's init, whose mount
//     namespace is a copy of ours) or opened tasks files (an exec'd
//     process, which joins the container's mount namespace first; a write
//     to a v1 cgroup file is checked against the credentials of who opened
//     it, so this works from a user namespace too).
//
// The process reports {"type":"cgroup"} (with a message when it failed) and
// the parent then moves it with Manager.Apply. An init that joins a mount
// namespace by path is moved by the parent before it is sent its config.
//
// A v2 cgroup with a pids limit (late) is not joined at birth either: a Go
// runtime born in it could not create its threads. The process then starts
// outside, reports once its Go runtime runs, and the parent moves it
// (a write to cgroup.procs, with its grace period: only then).
type cgroupJoin struct {
	v1   []string
	v2   *os.File
	late bool
}

// hasV1Hierarchy reports whether cgroup paths (as Manager.Paths returns
// them) name a v1 hierarchy.
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

// apply sets up cmd so that its child is born in the v2 (or unified)
// cgroup when withFD is set (CLONE_INTO_CGROUP).
func (j *cgroupJoin) apply(cmd *child, withFD bool) {
	if withFD && j.v2 != nil && !j.late {
		if cmd.SysProcAttr == nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{}
		}
		cmd.SysProcAttr.UseCgroupFD = true
		cmd.SysProcAttr.CgroupFD = int(j.v2.Fd())
	}
}

// openTasks opens the tasks file of each v1 directory for writing.
func (j *cgroupJoin) openTasks() ([]*os.File, error) {
	var files []*os.File
	for _, dir := range j.v1 {
		f, err := os.OpenFile(dir+"/tasks", os.O_WRONLY, 0)
		if err != nil {
			for _, f := range files {
				f.Close()
			}
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}

func (j *cgroupJoin) close() {
	if j.v2 != nil {
		j.v2.Close()
	}
}

// dropFD gives up CLONE_INTO_CGROUP (refused: an old kernel, a busy
// cgroup); the parent then moves the process into the v2 directory
// (parentMoves), the v1 hierarchies are joined as before.
func (j *cgroupJoin) dropFD() {
	j.close()
	j.v2 = nil
}

// awaitJoin reads the process's cgroup report (joinCgroupTasks) and, when
// it did not join or waits to be moved, moves it with move and lets it go
// on.
func awaitJoin(sync *syncConn, move func() error) error {
	m, err := sync.expect(msgCgroup)
	if err != nil {
		return err
	}
	if m.Message == "" {
		return nil
	}
	if err := move(); err != nil {
		return err
	}
	return sync.send(syncMsg{Type: msgContinue})
}

// joinCgroupTasks moves the calling thread into each v1 cgroup whose tasks
// file is named in paths or open as a descriptor in fds (which it closes),
// and reports the outcome to the parent; after a failure, or with
// awaitMove (cgroupJoin.late), it waits for the parent to have moved the
// whole process.
func joinCgroupTasks(sync *syncConn, paths []string, fds []int, awaitMove bool) error {
	msg := ""
	if awaitMove {
		msg = "to be moved by the parent"
	}
	for _, p := range paths {
		if msg == "" {
			if err := writeZero(p); err != nil {
				msg = fmt.Sprintf("join %s: %v", p, err)
			}
		}
	}
	for _, fd := range fds {
		if msg == "" {
			if _, err := unix.Write(fd, []byte{'0'}); err != nil {
				msg = fmt.Sprintf("join cgroup (fd %d): %v", fd, err)
			}
		}
		unix.Close(fd)
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

// pidsLimited reports whether the v2 cgroup dir has a pids limit.
func pidsLimited(dir string) bool {
	b, err := os.ReadFile(dir + "/pids.max")
	return err == nil && strings.TrimSpace(string(b)) != "max"
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
