package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// DefaultParent is the cgroup under which relative and empty cgroupsPaths are
// created.
const DefaultParent = "/berth"

// FreezerState is the state of a cgroup's freezer, with runc's spelling.
type FreezerState string

// Freezer states. Undefined means the cgroup has no freezer.
const (
	Undefined FreezerState = ""
	Frozen    FreezerState = "FROZEN"
	Thawed    FreezerState = "THAWED"
)

// Manager is one container's cgroup, in every hierarchy it belongs to.
//
// Lifecycle: [New] or [Load] create nothing; Apply creates the directories and
// moves the container's init into them; Set applies limits (at create and on
// `update`); Destroy removes the directories once the processes have exited.
type Manager interface {
	// Apply creates the cgroup in every hierarchy and moves pid into it. A pid
	// of -1 creates the cgroup without moving any process.
	Apply(pid int) error
	// Set applies the limits of r; fields that are nil are left as they are.
	// Kernel memory limits are ignored (deprecated) and so are rdma limits.
	// A limit that needs a file the kernel lacks fails, naming the file.
	Set(r *specs.LinuxResources) error
	// Freeze stops every process of the cgroup and returns once the kernel
	// reports the cgroup frozen.
	Freeze() error
	// Thaw resumes the processes stopped by Freeze.
	Thaw() error
	// State reports the freezer state.
	State() (FreezerState, error)
	// Stats reads the cgroup's usage counters.
	Stats() (*Stats, error)
	// Procs lists the processes in the cgroup itself (not in child cgroups).
	Procs() ([]int, error)
	// Kill sends sig to every process of the cgroup. On v2 with SIGKILL it uses
	// cgroup.kill when the kernel has it; otherwise it freezes the cgroup,
	// signals each process and thaws it, so no process escapes by forking.
	Kill(sig unix.Signal) error
	// Destroy removes the cgroup's directories (and any child cgroups). It kills
	// nothing: it fails with EBUSY while processes remain. Removing a cgroup
	// that does not exist is not an error.
	Destroy() error
	// Paths maps each controller to the cgroup's absolute directory; "" names
	// the cgroup2 directory.
	Paths() map[string]string
	// Path returns the directory of one controller ("" for cgroup2), or "".
	Path(controller string) string
}

// mountinfoPath is where the hierarchies are discovered; tests point it at a
// fake mountinfo describing a fake tree in a temp directory.
var mountinfoPath = "/proc/self/mountinfo"

// New returns a manager for the spec's cgroupsPath of container id; it creates
// nothing yet.
func New(cgroupsPath, id string) (Manager, error) {
	h, err := readHierarchies(mountinfoPath)
	if err != nil {
		return nil, err
	}
	return newManager(h, cgroupsPath, id)
}

func newManager(h *hierarchies, cgroupsPath, id string) (Manager, error) {
	rel, err := resolvePath(cgroupsPath, id)
	if err != nil {
		return nil, err
	}
	if len(h.v1) == 0 {
		if h.unified == "" {
			return nil, errors.New("no cgroup hierarchy mounted")
		}
		return &v2Manager{dir: path.Join(h.unified, rel), mount: h.unified}, nil
	}
	paths := make(map[string]string, len(h.v1)+1)
	for ctrl, mnt := range h.v1 {
		paths[ctrl] = path.Join(mnt.dir, rel)
	}
	if h.unified != "" {
		paths[""] = path.Join(h.unified, rel)
	}
	return &v1Manager{paths: paths, h: h}, nil
}

// resolvePath turns a spec cgroupsPath into a path from the hierarchy root.
func resolvePath(cgroupsPath, id string) (string, error) {
	for _, elem := range strings.Split(cgroupsPath, "/") {
		if elem == ".." {
			return "", fmt.Errorf("cgroupsPath %q: must not leave the hierarchy", cgroupsPath)
		}
	}
	if !path.IsAbs(cgroupsPath) && strings.Count(cgroupsPath, ":") == 2 {
		return "", fmt.Errorf("cgroupsPath %q: systemd slice:prefix:name paths are not supported (Berth uses the cgroupfs driver)", cgroupsPath)
	}
	p := cgroupsPath
	switch {
	case p == "":
		if id == "" {
			return "", errors.New("cgroupsPath: empty and no container id")
		}
		p = path.Join(DefaultParent, id)
	case !path.IsAbs(p):
		p = path.Join(DefaultParent, p)
	}
	p = path.Clean(p)
	if p == "/" {
		return "", fmt.Errorf("cgroupsPath %q: the root cgroup cannot be a container's cgroup", cgroupsPath)
	}
	return p, nil
}

// Load returns a manager for a cgroup recorded earlier (paths as returned by
// Paths). A map with only the "" key is a cgroup2 (unified) cgroup.
func Load(paths map[string]string) (Manager, error) {
	if len(paths) == 0 {
		return nil, errors.New("load cgroup: no paths recorded")
	}
	for ctrl, p := range paths {
		if !path.IsAbs(p) {
			return nil, fmt.Errorf("load cgroup: path %q of controller %q is not absolute", p, ctrl)
		}
	}
	if dir, ok := paths[""]; ok && len(paths) == 1 {
		return &v2Manager{dir: dir}, nil
	}
	cp := make(map[string]string, len(paths))
	for k, v := range paths {
		cp[k] = v
	}
	return &v1Manager{paths: cp}, nil
}

// IsCgroup2UnifiedMode reports whether /sys/fs/cgroup is a cgroup2 mount.
func IsCgroup2UnifiedMode() bool {
	return isCgroup2("/sys/fs/cgroup")
}

// IsHybrid reports whether v1 hierarchies are mounted beside a cgroup2 mount
// at /sys/fs/cgroup/unified.
func IsHybrid() bool {
	return !IsCgroup2UnifiedMode() && isCgroup2("/sys/fs/cgroup/unified")
}

func isCgroup2(dir string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return false
	}
	return st.Type == unix.CGROUP2_SUPER_MAGIC
}

// procsOf reads the pids listed in dir/cgroup.procs.
func procsOf(dir string) ([]int, error) {
	data, err := os.ReadFile(path.Join(dir, "cgroup.procs"))
	if err != nil {
		return nil, fmt.Errorf("read cgroup procs: %w", err)
	}
	var pids []int
	for _, f := range strings.Fields(string(data)) {
		var pid int
		if _, err := fmt.Sscan(f, &pid); err != nil {
			return nil, fmt.Errorf("parse %s: %q: %w", path.Join(dir, "cgroup.procs"), f, err)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

// Remove kills what is left in a container's cgroup (processes outside its
// PID namespace may outlive its init; a frozen cgroup is thawed first so
// that they die) and removes the cgroup, retrying for up to 2 s: a dead
// init keeps its cgroup busy until its parent reaps it.
func Remove(m Manager) error {
	if pids, err := m.Procs(); err == nil && len(pids) > 0 {
		_ = m.Thaw()
		for _, p := range pids {
			_ = unix.Kill(p, unix.SIGKILL)
		}
	}
	var err error
	for i := 0; i < 200; i++ {
		if err = m.Destroy(); err == nil {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return err
}
