package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The rootfs tests run each scenario in a child: this test binary re-executed
// in a new mount and PID namespace (TestRootfsHelperProcess), which builds the
// container's root from a spec, enters it and reports what it observes as
// JSON. Mounts made there never reach the test's own namespace.

const (
	rootfsScenarioEnv = "BERTH_TEST_ROOTFS_SCENARIO" // path of the scenario JSON
	rootfsResultEnv   = "BERTH_TEST_ROOTFS_RESULT"   // path of the result JSON
	rootfsStageEnv    = "BERTH_TEST_ROOTFS_STAGE"    // "pre": do PreMounts, then start the container child
)

// rootfsScenario is what the child does.
type rootfsScenario struct {
	Spec      *specs.Spec
	Rootfs    string
	NoPivot   bool
	NoOpenat2 bool   // resolve with walkInRoot only
	Stop      string // "prepare": probe before entering the root; "enter": skip finalizeRootfs
	Console   bool   // open a pty of the container's devpts and mountConsole its slave
	// UserNS runs the container in a new user namespace (0 mapped to 0,
	// 65536 ids), as a rootless runtime would: mknod and sysfs are refused.
	UserNS bool
	// PreMounts are mounted (at host paths, Destination) by a first child in
	// its own mount namespace, which then starts the container child in a
	// user namespace: they are locked mounts there, as the host's are.
	PreMounts []specs.Mount
	Probes    []rootfsProbe
}

// rootfsProbe is one observation: op is stat, lstat, statfs, read, write,
// readdir, readlink, mountinfo or exec (Args run, output in Data).
type rootfsProbe struct {
	Op   string
	Path string
	Args []string `json:",omitempty"`
}

type rootfsProbeResult struct {
	Op, Path     string
	Err          string   `json:",omitempty"` // errno name (ENOENT, EROFS, ...) or message
	Type         string   `json:",omitempty"` // dir, file, char, block, fifo, link, socket
	Perm         uint32   `json:",omitempty"` // permission bits incl. setuid/setgid/sticky
	Major, Minor uint32   `json:",omitempty"`
	UID, GID     uint32   `json:",omitempty"`
	Data         string   `json:",omitempty"`
	FsType       int64    `json:",omitempty"`
	FsFlags      int64    `json:",omitempty"`
	FsBytes      uint64   `json:",omitempty"`
	Mounts       []string `json:",omitempty"` // "mountpoint fstype options optional-fields..."
}

type rootfsResult struct {
	Error   string // setup error, empty on success
	Console string // the pty slave mounted on /dev/console
	Results []rootfsProbeResult
}

// TestRootfsHelperProcess is the child's entry point; it does nothing in a
// normal test run.
func TestRootfsHelperProcess(t *testing.T) {
	scenarioFile := os.Getenv(rootfsScenarioEnv)
	if scenarioFile == "" {
		return
	}
	if os.Getenv(rootfsStageEnv) == "pre" {
		os.Exit(runRootfsPreStage(scenarioFile))
	}
	out, err := os.OpenFile(os.Getenv(rootfsResultEnv), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		fmt.Fprintln(os.Stderr, "open result:", err)
		os.Exit(3)
	}
	res := runRootfsScenario(scenarioFile)
	if err := json.NewEncoder(out).Encode(res); err != nil {
		fmt.Fprintln(os.Stderr, "write result:", err)
		os.Exit(3)
	}
	out.Close()
	os.Exit(0)
}

func runRootfsScenario(file string) (res rootfsResult) {
	b, err := os.ReadFile(file)
	if err != nil {
		return rootfsResult{Error: err.Error()}
	}
	var sc rootfsScenario
	if err := json.Unmarshal(b, &sc); err != nil {
		return rootfsResult{Error: err.Error()}
	}
	openat2Disabled.Store(sc.NoOpenat2)
	if err := prepareRootfs(sc.Spec, sc.Rootfs, nil); err != nil {
		return rootfsResult{Error: err.Error()}
	}
	if sc.Stop != "prepare" {
		if err := enterRootfs(sc.Rootfs, sc.NoPivot); err != nil {
			return rootfsResult{Error: err.Error()}
		}
		if sc.Console {
			slave, err := openContainerPty()
			if err != nil {
				return rootfsResult{Error: err.Error()}
			}
			if err := mountConsole(slave); err != nil {
				return rootfsResult{Error: err.Error()}
			}
			res.Console = slave
		}
		if sc.Stop != "enter" {
			if err := finalizeRootfs(sc.Spec); err != nil {
				return rootfsResult{Error: err.Error()}
			}
		}
	}
	for _, p := range sc.Probes {
		res.Results = append(res.Results, runRootfsProbe(p))
	}
	return res
}

// runRootfsPreStage mounts the scenario's PreMounts in this (private) mount
// namespace and runs the container child in a new user namespace beneath it.
func runRootfsPreStage(file string) int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "pre stage:", err)
		return 3
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return fail(err)
	}
	var sc rootfsScenario
	if err := json.Unmarshal(b, &sc); err != nil {
		return fail(err)
	}
	if err := unix.Mount("", "/", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fail(err)
	}
	for _, m := range sc.PreMounts {
		o, err := parseMountOptions(m.Options)
		if err != nil {
			return fail(err)
		}
		if err := os.MkdirAll(m.Destination, 0o755); err != nil {
			return fail(err)
		}
		if err := unix.Mount(m.Source, m.Destination, m.Type, o.flags, o.dataString()); err != nil {
			return fail(fmt.Errorf("mount %s: %w", m.Destination, err))
		}
		if err := os.WriteFile(filepath.Join(m.Destination, "pre"), []byte("pre\n"), 0o644); err != nil {
			return fail(err)
		}
	}
	cmd := exec.Command(os.Args[0], os.Args[1:]...)
	cmd.Env = append(os.Environ(), rootfsStageEnv+"=container")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.SysProcAttr = userNSAttr()
	if err := cmd.Run(); err != nil {
		return fail(err)
	}
	return 0
}

// userNSAttr starts a child in new user, mount and PID namespaces, with ids
// 0-65535 mapped to themselves.
func userNSAttr() *syscall.SysProcAttr {
	ids := []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 65536}}
	return &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS | syscall.CLONE_NEWPID,
		UidMappings: ids,
		GidMappings: ids,
		Pdeathsig:   syscall.SIGKILL,
	}
}

// openContainerPty opens a pty master on /dev/ptmx (left open) and returns
// its slave's path.
func openContainerPty() (string, error) {
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("open /dev/ptmx: %w", err)
	}
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		return "", fmt.Errorf("unlockpt: %w", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		return "", fmt.Errorf("ptsname: %w", err)
	}
	return fmt.Sprintf("/dev/pts/%d", n), nil
}

func errName(err error) string {
	if err == nil {
		return ""
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return unix.ErrnoName(errno)
	}
	return err.Error()
}

func runRootfsProbe(p rootfsProbe) rootfsProbeResult {
	r := rootfsProbeResult{Op: p.Op, Path: p.Path}
	switch p.Op {
	case "stat", "lstat":
		var st unix.Stat_t
		var err error
		if p.Op == "stat" {
			err = unix.Stat(p.Path, &st)
		} else {
			err = unix.Lstat(p.Path, &st)
		}
		if err != nil {
			r.Err = errName(err)
			break
		}
		r.Type = map[uint32]string{unix.S_IFDIR: "dir", unix.S_IFREG: "file", unix.S_IFCHR: "char",
			unix.S_IFBLK: "block", unix.S_IFIFO: "fifo", unix.S_IFLNK: "link", unix.S_IFSOCK: "socket"}[st.Mode&unix.S_IFMT]
		r.Perm = st.Mode &^ unix.S_IFMT
		r.Major, r.Minor = unix.Major(st.Rdev), unix.Minor(st.Rdev)
		r.UID, r.GID = st.Uid, st.Gid
	case "statfs":
		var st unix.Statfs_t
		if err := unix.Statfs(p.Path, &st); err != nil {
			r.Err = errName(err)
			break
		}
		r.FsType, r.FsFlags, r.FsBytes = st.Type, st.Flags, st.Blocks*uint64(st.Bsize)
	case "read":
		b, err := os.ReadFile(p.Path)
		r.Err, r.Data = errName(err), string(b)
	case "write":
		r.Err = errName(os.WriteFile(p.Path, []byte("written\n"), 0o644))
	case "readdir":
		names, err := os.ReadDir(p.Path)
		r.Err = errName(err)
		var s []string
		for _, n := range names {
			s = append(s, n.Name())
		}
		r.Data = strings.Join(s, " ")
	case "readlink":
		l, err := os.Readlink(p.Path)
		r.Err, r.Data = errName(err), l
	case "mountinfo":
		ms, err := readMountInfo("/proc/self/mountinfo")
		if err != nil {
			r.Err = err.Error()
			break
		}
		for _, m := range ms {
			r.Mounts = append(r.Mounts, strings.Join(append([]string{m.mountPoint, m.fsType, m.options}, m.optional...), " "))
		}
	case "exec":
		out, err := exec.Command(p.Args[0], p.Args[1:]...).CombinedOutput()
		r.Err, r.Data = errName(err), string(out)
	case "cwd":
		d, err := os.Getwd()
		r.Err, r.Data = errName(err), d
	default:
		r.Err = "unknown probe " + p.Op
	}
	return r
}

// rootfsEnv is a test's world: base (its temp dir), rootfs inside it holding
// a busybox, and outside, a host directory the container must never reach.
type rootfsEnv struct {
	base, rootfs, outside string
}

// newRootfsEnv makes a busybox rootfs in a fresh temp dir and checks at
// cleanup that no mount was left under that dir in the test's namespace.
func newRootfsEnv(t *testing.T) *rootfsEnv {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("needs /bin/busybox (Debian package busybox-static)")
	}
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { checkNoMountsUnder(t, base) })
	e := &rootfsEnv{base: base, rootfs: filepath.Join(base, "rootfs"), outside: filepath.Join(base, "outside")}
	for _, d := range []string{"bin", "proc", "sys", "dev", "etc", "tmp"} {
		if err := os.MkdirAll(filepath.Join(e.rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(e.outside, 0o755); err != nil {
		t.Fatal(err)
	}
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.rootfs, "bin/busybox"), bb, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"sh", "cat", "ls", "echo", "touch", "wc"} {
		if err := os.Symlink("busybox", filepath.Join(e.rootfs, "bin", n)); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// checkNoMountsUnder fails the test if the test's mount table has anything
// mounted under dir, and detaches it so the temp dir removal cannot reach
// into a bound directory.
func checkNoMountsUnder(t *testing.T, dir string) {
	ms, err := readMountInfo("/proc/self/mountinfo")
	if err != nil {
		t.Error(err)
		return
	}
	for i := len(ms) - 1; i >= 0; i-- {
		if pathWithin(ms[i].mountPoint, dir) {
			t.Errorf("leftover mount in the test's namespace: %s (%s)", ms[i].mountPoint, ms[i].fsType)
			unix.Unmount(ms[i].mountPoint, unix.MNT_DETACH)
		}
	}
}

// run executes sc in a child in new mount and PID namespaces.
func (e *rootfsEnv) run(t *testing.T, sc rootfsScenario) rootfsResult {
	t.Helper()
	if sc.Rootfs == "" {
		sc.Rootfs = e.rootfs
	}
	dir := t.TempDir()
	scFile, resFile := filepath.Join(dir, "scenario.json"), filepath.Join(dir, "result.json")
	b, err := json.Marshal(sc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(scFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestRootfsHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), rootfsScenarioEnv+"="+scFile, rootfsResultEnv+"="+resFile)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWPID,
		Pdeathsig:  syscall.SIGKILL,
	}
	switch {
	case len(sc.PreMounts) > 0:
		cmd.Env = append(cmd.Env, rootfsStageEnv+"=pre")
		cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWNS
	case sc.UserNS:
		cmd.SysProcAttr = userNSAttr()
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	f, err := os.Open(resFile)
	if err != nil {
		t.Fatalf("child wrote no result: %v\n%s", err, out)
	}
	defer f.Close()
	var res rootfsResult
	if err := json.NewDecoder(io.LimitReader(f, 16<<20)).Decode(&res); err != nil {
		t.Fatalf("child result: %v\n%s", err, out)
	}
	if len(res.Results) != len(sc.Probes) && res.Error == "" {
		t.Fatalf("child answered %d of %d probes", len(res.Results), len(sc.Probes))
	}
	return res
}

// mustRun is run for scenarios that must set up without error.
func (e *rootfsEnv) mustRun(t *testing.T, sc rootfsScenario) []rootfsProbeResult {
	t.Helper()
	res := e.run(t, sc)
	if res.Error != "" {
		t.Fatalf("container setup failed: %s", res.Error)
	}
	return res.Results
}

// minimalSpec is a spec with proc and a tmpfs /dev plus the given mounts.
func minimalSpec(mounts ...specs.Mount) *specs.Spec {
	return &specs.Spec{
		Root: &specs.Root{Path: "rootfs"},
		Mounts: append([]specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		}, mounts...),
		Linux: &specs.Linux{},
	}
}

func probe(op, path string, args ...string) rootfsProbe {
	return rootfsProbe{Op: op, Path: path, Args: args}
}
