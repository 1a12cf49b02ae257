package cgroups

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// helperEnv makes the test binary act as a child process for the real tests,
// so they need no other program (the cgroup v2 VM has little else).
const helperEnv = "BERTH_CGROUPS_TEST_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "sleep":
		// Once in the cgroup, use some memory and CPU time there, then sleep.
		bufio.NewReader(os.Stdin).ReadString('\n')
		b := make([]byte, 4<<20)
		for j := range b {
			b[j] = 1
		}
		for start := time.Now(); time.Since(start) < 50*time.Millisecond; {
		}
		fmt.Println("ready")
		time.Sleep(time.Hour)
		fmt.Println(len(b))
		os.Exit(0)
	case "alloc":
		// Wait until the parent has put us in the cgroup, then allocate and
		// touch memory until the OOM killer stops us.
		bufio.NewReader(os.Stdin).ReadString('\n')
		var keep [][]byte
		for i := 0; i < 1024; i++ {
			b := make([]byte, 1<<20)
			for j := range b {
				b[j] = byte(j)
			}
			keep = append(keep, b)
		}
		fmt.Println("allocated 1 GiB", len(keep))
		os.Exit(0)
	case "open":
		// Wait to be in the cgroup, then open each argument read-write.
		bufio.NewReader(os.Stdin).ReadString('\n')
		for _, p := range os.Args[1:] {
			f, err := os.OpenFile(p, os.O_RDWR, 0)
			if err != nil {
				fmt.Printf("%s %v\n", p, errors.Unwrap(err))
				continue
			}
			f.Close()
			fmt.Printf("%s ok\n", p)
		}
		os.Exit(0)
	}
	fmt.Fprintln(os.Stderr, "unknown helper", os.Getenv(helperEnv))
	os.Exit(2)
}

// helper is a child process started from the test binary.
type helper struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *lockedBuffer
	done   chan error
}

func startHelper(t *testing.T, mode string, args ...string) *helper {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return startCommand(t, exec.Command(self, args...), helperEnv+"="+mode)
}

func startCommand(t *testing.T, cmd *exec.Cmd, env ...string) *helper {
	t.Helper()
	cmd.Env = append(os.Environ(), env...)
	h := &helper{cmd: cmd, stdout: &lockedBuffer{}, done: make(chan error, 1)}
	cmd.Stdout = h.stdout
	cmd.Stderr = h.stdout
	var err error
	if h.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { h.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-h.done
	})
	return h
}

// lockedBuffer collects a child's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (h *helper) output() string {
	h.stdout.mu.Lock()
	defer h.stdout.mu.Unlock()
	return h.stdout.b.String()
}

func (h *helper) pid() int { return h.cmd.Process.Pid }

// proceed tells a helper waiting on stdin that it is in its cgroup.
func (h *helper) proceed(t *testing.T) {
	t.Helper()
	if _, err := io.WriteString(h.stdin, "go\n"); err != nil {
		t.Fatal(err)
	}
}

// waitOutput waits until the helper has printed want.
func (h *helper) waitOutput(t *testing.T, want string) {
	t.Helper()
	err := waitFor(10*time.Second, func() (bool, error) { return strings.Contains(h.output(), want), nil })
	if err != nil {
		t.Fatalf("helper %v did not print %q: %v; output: %s", h.cmd.Args, want, err, h.output())
	}
}

// wait returns the helper's exit error, failing the test after timeout.
func (h *helper) wait(t *testing.T, timeout time.Duration) error {
	t.Helper()
	select {
	case err := <-h.done:
		h.done <- err
		return err
	case <-time.After(timeout):
		t.Fatalf("helper %v did not exit within %v; output: %s", h.cmd.Args, timeout, h.output())
	}
	return nil
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

// realHierarchies reads the machine's layout.
func realHierarchies(t *testing.T) *hierarchies {
	t.Helper()
	h, err := readHierarchies("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// uniqueParent returns a fresh cgroup path "/berth-cgtest-<random>" and
// removes it from every hierarchy when the test ends, after killing any
// process the test left in it. The cleanup fails the test if something
// cannot be removed.
func uniqueParent(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	parent := "/berth-cgtest-" + hex.EncodeToString(b)
	h := realHierarchies(t)
	t.Cleanup(func() {
		mounts := map[string]bool{}
		for _, m := range h.v1 {
			mounts[m.dir] = true
		}
		if h.unified != "" {
			mounts[h.unified] = true
		}
		for mnt := range mounts {
			dir := filepath.Join(mnt, parent)
			if _, err := os.Stat(dir); err != nil {
				continue
			}
			killTree(dir)
			if err := rmdirAll(dir); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
	})
	return parent
}

// killTree thaws and kills every process in the cgroup tree at dir (only the
// test's own children can be there) and waits for them to leave.
func killTree(dir string) {
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if fileExists(p, "freezer.state") {
			_ = writeFile(p, "freezer.state", "THAWED")
		}
		if fileExists(p, "cgroup.freeze") {
			_ = writeFile(p, "cgroup.freeze", "0")
		}
		pids, _ := procsOf(p)
		for _, pid := range pids {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
		_ = waitFor(5*time.Second, func() (bool, error) {
			pids, err := procsOf(p)
			return err != nil || len(pids) == 0, nil
		})
		return nil
	})
}

// procState returns the state letter of /proc/pid/stat.
func procState(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	rest := s[strings.LastIndexByte(s, ')')+2:]
	return rest[:1]
}

func mustRead(t *testing.T, dir, file string) string {
	t.Helper()
	s, err := readString(dir, file)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// assertGone fails if any of the manager's directories still exists.
func assertGone(t *testing.T, m Manager) {
	t.Helper()
	for ctrl, dir := range m.Paths() {
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("after Destroy, %s cgroup %s still exists (%v)", ctrl, dir, err)
		}
	}
}

// waitNoProcs waits until the cgroup is empty.
func waitNoProcs(t *testing.T, m Manager) {
	t.Helper()
	err := waitFor(5*time.Second, func() (bool, error) {
		pids, err := m.Procs()
		return len(pids) == 0, err
	})
	if err != nil {
		t.Fatalf("cgroup not empty: %v", err)
	}
}

func wantSignal(t *testing.T, err error, sig unix.Signal) {
	t.Helper()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("exit = %v, want death by %v", err, sig)
	}
	ws := ee.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != sig {
		t.Fatalf("exit = %v, want death by %v", err, sig)
	}
}

// TestRealLayoutDetection checks that the statfs-based mode checks agree with
// the mountinfo-based discovery the managers use.
func TestRealLayoutDetection(t *testing.T) {
	h := realHierarchies(t)
	switch {
	case IsCgroup2UnifiedMode():
		if len(h.v1) != 0 || h.unified != "/sys/fs/cgroup" {
			t.Errorf("unified mode, but mountinfo shows v1 %v and cgroup2 at %q", h.v1, h.unified)
		}
		if IsHybrid() {
			t.Error("IsHybrid() and IsCgroup2UnifiedMode() both true")
		}
	case IsHybrid():
		if len(h.v1) == 0 || h.unified != "/sys/fs/cgroup/unified" {
			t.Errorf("hybrid mode, but mountinfo shows v1 %v and cgroup2 at %q", h.v1, h.unified)
		}
	default:
		if h.unified == "/sys/fs/cgroup" || h.unified == "/sys/fs/cgroup/unified" {
			t.Errorf("legacy mode, but mountinfo shows cgroup2 at %q", h.unified)
		}
	}
	m, err := New("/berth-cgtest-layout", "x")
	if err != nil {
		t.Fatal(err)
	}
	_, isV2 := m.(*v2Manager)
	if isV2 != IsCgroup2UnifiedMode() {
		t.Errorf("New() = %T on a machine with IsCgroup2UnifiedMode() = %v", m, IsCgroup2UnifiedMode())
	}
}

// checkRunning checks, through the Manager interface alone, a cgroup that
// holds only child and has the given memory and pids limits: its process
// list, its statistics, and freezing (frozen runs extra checks while it is
// frozen) and thawing.
func checkRunning(t *testing.T, m Manager, child *helper, memLimit, pidsLimit uint64, frozen func()) {
	t.Helper()
	pids, err := m.Procs()
	if err != nil || len(pids) != 1 || pids[0] != child.pid() {
		t.Errorf("Procs() = %v, %v; want [%d]", pids, err, child.pid())
	}
	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Memory.Usage.Usage == 0 || st.Memory.Usage.Limit != memLimit {
		t.Errorf("memory stats = %+v, want usage > 0 and limit %d", st.Memory.Usage, memLimit)
	}
	if st.Pids.Current < 1 || st.Pids.Limit != pidsLimit {
		t.Errorf("pids stats = %+v, want current >= 1 and limit %d", st.Pids, pidsLimit)
	}
	if st.CPU.Usage.Total == 0 {
		t.Errorf("cpu stats = %+v, want usage", st.CPU.Usage)
	}
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if s, err := m.State(); err != nil || s != Frozen {
		t.Errorf("State() = %q, %v after Freeze", s, err)
	}
	frozen()
	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	if s, err := m.State(); err != nil || s != Thawed {
		t.Errorf("State() = %q, %v after Thaw", s, err)
	}
}

// checkKillDestroy kills the cgroup's processes through a manager loaded from
// m.Paths() (as a later `berth runtime kill` would), destroys the cgroup and
// checks nothing is left and a second Destroy is harmless.
func checkKillDestroy(t *testing.T, m Manager, child *helper) {
	t.Helper()
	loaded, err := Load(m.Paths())
	if err != nil {
		t.Fatal(err)
	}
	if err := loaded.Kill(unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	wantSignal(t, child.wait(t, 5*time.Second), unix.SIGKILL)
	waitNoProcs(t, loaded)
	if err := loaded.Destroy(); err != nil {
		t.Fatal(err)
	}
	assertGone(t, m)
	if err := loaded.Destroy(); err != nil {
		t.Errorf("second Destroy = %v, want nil", err)
	}
}
