package cgroup2

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const (
	cgroupRoot = "/sys/fs/cgroup"
	// helperEnv makes the test binary act as a child program instead of
	// running tests (see TestMain).
	helperEnv = "BERTH_CGROUP2_SMOKE_HELPER"
)

// wantControllers are the controllers Berth's cgroup v2 code drives; the VM
// enables them in the root's cgroup.subtree_control.
var wantControllers = []string{"cpuset", "cpu", "io", "memory", "hugetlb", "pids"}

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "alloc":
		// Allocate and touch 64 MiB, keeping all of it reachable, so a
		// 32 MiB memory.max can only end in an OOM kill.
		var keep [][]byte
		for range 64 {
			b := make([]byte, 1<<20)
			for i := 0; i < len(b); i += 4096 {
				b[i] = 1
			}
			keep = append(keep, b)
		}
		fmt.Printf("allocated %d MiB and survived\n", len(keep))
		os.Exit(0)
	default:
		fmt.Fprintf(os.Stderr, "unknown %s=%q\n", helperEnv, os.Getenv(helperEnv))
		os.Exit(2)
	}
}

// requireCgroup2 skips the test unless /sys/fs/cgroup is a cgroup2 root
// whose children get every controller in wantControllers.
func requireCgroup2(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	var st unix.Statfs_t
	if err := unix.Statfs(cgroupRoot, &st); err != nil {
		t.Skipf("statfs %s: %v", cgroupRoot, err)
	}
	if st.Type != unix.CGROUP2_SUPER_MAGIC {
		t.Skipf("%s is not a cgroup2 mount (hybrid or v1 host); run hack/cgroup2-tests.sh", cgroupRoot)
	}
	enabled := strings.Fields(readFile(t, filepath.Join(cgroupRoot, "cgroup.subtree_control")))
	for _, c := range wantControllers {
		if !contains(enabled, c) {
			t.Skipf("controller %s not in %s/cgroup.subtree_control (%v); run hack/cgroup2-tests.sh", c, cgroupRoot, enabled)
		}
	}
}

// newCgroup makes an empty cgroup under the root and returns its path; the
// cgroup and every process left in it are removed when the test ends.
func newCgroup(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp(cgroupRoot, "berth-smoke-")
	if err != nil {
		t.Fatalf("create cgroup: %v", err)
	}
	t.Cleanup(func() {
		if err := os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0); err != nil {
			t.Errorf("kill cgroup %s: %v", dir, err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			events, err := os.ReadFile(filepath.Join(dir, "cgroup.events"))
			if err != nil || bytes.Contains(events, []byte("populated 0")) || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err := unix.Rmdir(dir); err != nil {
			t.Errorf("remove cgroup %s: %v", dir, err)
		}
	})
	return dir
}

// cgroupFD opens a cgroup directory for clone3's CLONE_INTO_CGROUP.
func cgroupFD(t *testing.T, dir string) int {
	t.Helper()
	f, err := os.Open(dir)
	if err != nil {
		t.Fatalf("open cgroup: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return int(f.Fd())
}

// startIn starts cmd as a member of the cgroup dir from its first
// instruction, and reaps it (killing it first if need be) when the test ends.
func startIn(t *testing.T, dir string, cmd *exec.Cmd) error {
	t.Helper()
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.UseCgroupFD = true
	cmd.SysProcAttr.CgroupFD = cgroupFD(t, dir)
	if err := cmd.Start(); err != nil {
		return err
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return nil
}

func writeFile(t *testing.T, path, value string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(value), 0); err != nil {
		t.Fatalf("write %q to %s: %v", value, path, err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return strings.TrimSpace(string(b))
}

// keyedValue returns the value of key in a flat-keyed cgroup file such as
// memory.events ("oom_kill 1").
func keyedValue(t *testing.T, path, key string) int64 {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(readFile(t, path)))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if ok && k == key {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("%s: key %s: %v", path, key, err)
			}
			return n
		}
	}
	t.Fatalf("%s: no key %s in %q", path, key, readFile(t, path))
	return 0
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestCgroup2ControllersInChild(t *testing.T) {
	requireCgroup2(t)
	cg := newCgroup(t)
	got := strings.Fields(readFile(t, filepath.Join(cg, "cgroup.controllers")))
	for _, c := range wantControllers {
		if !contains(got, c) {
			t.Errorf("%s/cgroup.controllers = %v, want it to include %s", cg, got, c)
		}
	}
}

func TestCgroup2MemoryMaxOOMKill(t *testing.T) {
	requireCgroup2(t)
	cg := newCgroup(t)
	writeFile(t, filepath.Join(cg, "memory.max"), "32M")
	if got := readFile(t, filepath.Join(cg, "memory.max")); got != "33554432" {
		t.Fatalf("memory.max reads %q after writing 32M, want 33554432", got)
	}
	if _, err := os.Stat(filepath.Join(cg, "memory.swap.max")); err == nil {
		writeFile(t, filepath.Join(cg, "memory.swap.max"), "0")
	}

	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"=alloc")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := startIn(t, cg, cmd); err != nil {
		t.Fatalf("start allocating child: %v", err)
	}
	err := cmd.Wait()
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if err == nil || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child allocating 64 MiB under memory.max=32M ended with %v (output %q), want killed by SIGKILL", err, out.String())
	}
	if n := keyedValue(t, filepath.Join(cg, "memory.events"), "oom_kill"); n < 1 {
		t.Errorf("memory.events oom_kill = %d after the child was killed, want >= 1", n)
	}
	if n := keyedValue(t, filepath.Join(cg, "memory.events"), "max"); n < 1 {
		t.Errorf("memory.events max = %d, want >= 1", n)
	}
}

func TestCgroup2PidsMaxRefusesFork(t *testing.T) {
	requireCgroup2(t)
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatalf("find sleep: %v", err)
	}
	cg := newCgroup(t)
	writeFile(t, filepath.Join(cg, "pids.max"), "5")

	for i := range 5 {
		if err := startIn(t, cg, exec.Command(sleep, "60")); err != nil {
			t.Fatalf("start process %d of 5 under pids.max=5: %v", i+1, err)
		}
	}
	if got := readFile(t, filepath.Join(cg, "pids.current")); got != "5" {
		t.Errorf("pids.current = %s with 5 sleeping processes, want 5", got)
	}
	err = startIn(t, cg, exec.Command(sleep, "60"))
	if !errors.Is(err, syscall.EAGAIN) {
		t.Fatalf("start a 6th process under pids.max=5: err = %v, want EAGAIN", err)
	}
	if n := keyedValue(t, filepath.Join(cg, "pids.events"), "max"); n < 1 {
		t.Errorf("pids.events max = %d after a refused fork, want >= 1", n)
	}
}

func TestCgroup2CpusetCPUMaxHugetlb(t *testing.T) {
	requireCgroup2(t)
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatalf("find sleep: %v", err)
	}
	cg := newCgroup(t)
	writeFile(t, filepath.Join(cg, "cpuset.cpus"), "0")
	writeFile(t, filepath.Join(cg, "cpuset.mems"), "0")
	if got := readFile(t, filepath.Join(cg, "cpuset.cpus.effective")); got != "0" {
		t.Errorf("cpuset.cpus.effective = %q after cpuset.cpus=0, want 0", got)
	}
	writeFile(t, filepath.Join(cg, "cpu.max"), "50000 100000")
	if got := readFile(t, filepath.Join(cg, "cpu.max")); got != "50000 100000" {
		t.Errorf("cpu.max = %q, want 50000 100000", got)
	}
	writeFile(t, filepath.Join(cg, "cpu.weight"), "50")
	if got := readFile(t, filepath.Join(cg, "cpu.weight")); got != "50" {
		t.Errorf("cpu.weight = %q, want 50", got)
	}
	hugetlb, _ := filepath.Glob(filepath.Join(cg, "hugetlb.*.max"))
	if len(hugetlb) == 0 {
		t.Errorf("no hugetlb.*.max files in %s", cg)
	}
	for _, f := range hugetlb {
		writeFile(t, f, "0")
		if got := readFile(t, f); got != "0" {
			t.Errorf("%s = %q after writing 0", f, got)
		}
	}

	cmd := exec.Command(sleep, "60")
	if err := startIn(t, cg, cmd); err != nil {
		t.Fatalf("start process in cpuset cgroup: %v", err)
	}
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(cmd.Process.Pid, &set); err != nil {
		t.Fatalf("sched_getaffinity of child: %v", err)
	}
	if set.Count() != 1 || !set.IsSet(0) {
		t.Errorf("child in cpuset.cpus=0 may run on %d CPUs (cpu 0 allowed: %v), want only cpu 0", set.Count(), set.IsSet(0))
	}
}

func TestCgroup2NamespaceRootIsOwnCgroup(t *testing.T) {
	requireCgroup2(t)
	cg := newCgroup(t)
	var out bytes.Buffer
	cmd := exec.Command("cat", "/proc/self/cgroup")
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWCGROUP}
	if err := startIn(t, cg, cmd); err != nil {
		t.Fatalf("start process in new cgroup namespace: %v", err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("cat /proc/self/cgroup in new cgroup namespace: %v (output %q)", err, out.String())
	}
	if got := out.String(); got != "0::/\n" {
		t.Errorf("/proc/self/cgroup inside a cgroup namespace made in %s = %q, want %q", cg, got, "0::/\n")
	}

	// Outside the namespace the same kind of process shows the full path.
	out.Reset()
	cmd = exec.Command("cat", "/proc/self/cgroup")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := startIn(t, cg, cmd); err != nil {
		t.Fatalf("start process in cgroup: %v", err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("cat /proc/self/cgroup: %v (output %q)", err, out.String())
	}
	if want := "0::/" + filepath.Base(cg) + "\n"; out.String() != want {
		t.Errorf("/proc/self/cgroup of a process in %s = %q, want %q", cg, out.String(), want)
	}
}
