package seccomp

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The load tests re-execute the test binary: the child sets no_new_privs,
// loads the filter given in childConfigEnv and performs childActionEnv,
// printing what it saw. A filter can never be removed, so the test process
// itself stays unfiltered.
const (
	childConfigEnv = "BERTH_SECCOMP_TEST_CONFIG"
	childActionEnv = "BERTH_SECCOMP_TEST_ACTION"
)

func TestMain(m *testing.M) {
	if cfg := os.Getenv(childConfigEnv); cfg != "" {
		os.Exit(child(cfg, os.Getenv(childActionEnv)))
	}
	os.Exit(m.Run())
}

// errnoOf reports the errno of err, or 0.
func errnoOf(err error) int {
	var e syscall.Errno
	if errors.As(err, &e) {
		return int(e)
	}
	if err != nil {
		return -1
	}
	return 0
}

func child(cfg, action string) int {
	var s specs.LinuxSeccomp
	if err := json.Unmarshal([]byte(cfg), &s); err != nil {
		fmt.Println("decode:", err)
		return 2
	}
	// No core file from a SIGSYS kill.
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{}); err != nil {
		fmt.Println("setrlimit:", err)
		return 2
	}
	f, err := Compile(&s)
	if err != nil {
		fmt.Println("compile:", err)
		return 2
	}
	if action == "load-without-nnp" {
		// Drop CAP_SYS_ADMIN from this thread, which is the one
		// seccomp(2) checks, so that only no_new_privs could allow the load.
		runtime.LockOSThread()
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var caps [2]unix.CapUserData
		if err := unix.Capget(&hdr, &caps[0]); err != nil {
			fmt.Println("capget:", err)
			return 2
		}
		caps[0].Effective &^= 1 << unix.CAP_SYS_ADMIN
		if err := unix.Capset(&hdr, &caps[0]); err != nil {
			fmt.Println("capset:", err)
			return 2
		}
	} else {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			fmt.Println("no_new_privs:", err)
			return 2
		}
	}
	if action == "notify" {
		return notifyChild(f, os.Getenv("BERTH_SECCOMP_TEST_DIR"))
	}
	if err := f.Load(); err != nil {
		fmt.Println("load:", err)
		return 3
	}
	switch action {
	case "mkdir":
		err := os.Mkdir(filepath.Join(os.Getenv("BERTH_SECCOMP_TEST_DIR"), "sub"), 0o755)
		fmt.Printf("mkdir errno=%d\n", errnoOf(err))
		_, err = os.Getwd()
		fmt.Printf("getcwd errno=%d\n", errnoOf(err))
		err = os.WriteFile(filepath.Join(os.Getenv("BERTH_SECCOMP_TEST_DIR"), "file"), []byte("x"), 0o644)
		fmt.Printf("write errno=%d\n", errnoOf(err))
	case "exec-mkdir":
		// A single-threaded program, where SCMP_ACT_KILL (kill the
		// thread) ends the process.
		err := syscall.Exec("/bin/mkdir", []string{"mkdir", filepath.Join(os.Getenv("BERTH_SECCOMP_TEST_DIR"), "sub")}, os.Environ())
		fmt.Printf("exec errno=%d\n", errnoOf(err))
	case "add_key":
		_, _, e := unix.Syscall6(unix.SYS_ADD_KEY, 0, 0, 0, 0, 0, 0)
		fmt.Printf("add_key errno=%d\n", int(e))
		_, _, e = unix.Syscall6(uintptr(newerSyscall), ^uintptr(0), 0, 0, 0, 0, 0)
		fmt.Printf("newer errno=%d\n", int(e))
		err := os.WriteFile(filepath.Join(os.Getenv("BERTH_SECCOMP_TEST_DIR"), "file"), []byte("x"), 0o644)
		fmt.Printf("write errno=%d\n", errnoOf(err))
	}
	return 0
}

// runChild runs the child with a filter and an action in its own directory.
func runChild(t *testing.T, s *specs.LinuxSeccomp, action string) (string, *exec.ExitError, string) {
	t.Helper()
	js, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), childConfigEnv+"="+string(js), childActionEnv+"="+action, "BERTH_SECCOMP_TEST_DIR="+dir, "TMPDIR="+dir)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("run child: %v", err)
	}
	return string(out), ee, dir
}

func TestLoadErrno(t *testing.T) {
	s := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: uintp(99)},
		},
	}
	out, ee, dir := runChild(t, s, "mkdir")
	if ee != nil {
		t.Fatalf("child failed: %v\n%s", ee, out)
	}
	for _, want := range []string{"mkdir errno=99\n", "getcwd errno=0\n", "write errno=0\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("child output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "sub")); !os.IsNotExist(err) {
		t.Errorf("the filtered mkdir created the directory (stat: %v)", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "file")); err != nil {
		t.Errorf("the allowed write did not happen: %v", err)
	}
}

func TestLoadKillProcess(t *testing.T) {
	s := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActKillProcess}},
	}
	out, ee, _ := runChild(t, s, "mkdir")
	assertSIGSYS(t, ee, out)
	if strings.Contains(out, "mkdir errno=") {
		t.Errorf("the child went on after mkdir:\n%s", out)
	}
}

func TestLoadKill(t *testing.T) {
	if _, err := os.Stat("/bin/mkdir"); err != nil {
		t.Skip("no /bin/mkdir to exec")
	}
	s := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActKill}},
	}
	out, ee, dir := runChild(t, s, "exec-mkdir")
	assertSIGSYS(t, ee, out)
	if _, err := os.Stat(filepath.Join(dir, "sub")); !os.IsNotExist(err) {
		t.Errorf("the killed mkdir created the directory (stat: %v)", err)
	}
}

func assertSIGSYS(t *testing.T, ee *exec.ExitError, out string) {
	t.Helper()
	if ee == nil {
		t.Fatalf("child exited 0, want killed by SIGSYS:\n%s", out)
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGSYS {
		t.Fatalf("child ended with %v, want killed by SIGSYS:\n%s", ee, out)
	}
}

// newerSyscall is file_getattr (Linux 6.17), which Docker's profile
// (github.com/moby/profiles/seccomp v0.3.0) does not name: it gets ENOSYS from
// the -ENOSYS stub. With a bad descriptor and no path it does nothing.
var newerSyscall = syscallTables()[string(NativeArch())]["file_getattr"]

func TestLoadDockerDefault(t *testing.T) {
	wants := []string{"add_key errno=1\n", "write errno=0\n"}
	if newerSyscall != 0 {
		_, _, e := unix.Syscall6(uintptr(newerSyscall), ^uintptr(0), 0, 0, 0, 0, 0)
		if e != unix.ENOSYS {
			// The kernel has it: only the filter can say ENOSYS.
			wants = append(wants, "newer errno=38\n")
		} else {
			t.Logf("the kernel lacks file_getattr: the -ENOSYS stub is not checked")
		}
	}
	out, ee, dir := runChild(t, dockerDefault(t), "add_key")
	if ee != nil {
		t.Fatalf("child failed: %v\n%s", ee, out)
	}
	for _, want := range wants {
		if !strings.Contains(out, want) {
			t.Errorf("child output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "file")); err != nil {
		t.Errorf("the allowed write did not happen: %v", err)
	}
}

func TestLoadNeedsNoNewPrivs(t *testing.T) {
	out, ee, _ := runChild(t, &specs.LinuxSeccomp{DefaultAction: specs.ActAllow}, "load-without-nnp")
	if ee == nil || ee.ExitCode() != 3 || !strings.Contains(out, "no_new_privs is not set") {
		t.Fatalf("child: %v, want a load error naming no_new_privs:\n%s", ee, out)
	}
}
