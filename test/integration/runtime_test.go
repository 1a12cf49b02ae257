package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth/berth/internal/testutil"
)

// defaultCapMask is the /proc/PID/status form of DefaultCaps: CAP_KILL (5),
// CAP_NET_BIND_SERVICE (10), CAP_AUDIT_WRITE (29).
const defaultCapMask = "0000000020000420"

const noCaps = "0000000000000000"

func ptr[T any](v T) *T { return &v }

func TestRuntimeParity(t *testing.T) {
	runParity(t, []parityCase{
		{"Identity", caseIdentity},
		{"DefaultCapabilities", caseDefaultCapabilities},
		{"CustomCapabilities", caseCustomCapabilities},
		{"UserAndGroups", caseUserAndGroups},
		{"EnvCwdUmask", caseEnvCwdUmask},
		{"SeccompErrno", caseSeccompErrno},
		{"MaskedPaths", caseMaskedPaths},
		{"ReadonlyPaths", caseReadonlyPaths},
		{"RlimitNofile", caseRlimitNofile},
		{"CgroupLimitsVisible", caseCgroupLimitsVisible},
		{"MemoryLimitOOMKill", caseMemoryOOM},
		{"PidsLimit", casePidsLimit},
		{"ExitCode", caseExitCode},
		{"SigtermTrapCreateStart", caseSigtermCreateStart},
		{"SigtermTrapRunExitCode", caseSigtermRun},
		{"RunForwardsSignals", caseRunForwardsSignals},
		{"ConsoleSocket", caseConsoleSocket},
		{"ExecSeesPidNamespace", caseExec},
		{"ExecPidFileFailureLeavesNoProcess", caseExecPidFileFails},
		{"PreserveFds", casePreserveFds},
		{"UserNamespace", caseUserNamespace},
		{"Hooks", caseHooks},
		{"StateAndList", caseStateAndList},
		{"Mounts", caseMounts},
		{"DefaultDevices", caseDefaultDevices},
		{"OOMScoreAdjAndSysctl", caseOOMScoreAdjAndSysctl},
		{"PidFileAndForceDelete", casePidFileAndForceDelete},
		{"KillPausedAndSignalZero", caseKillPaused},
		{"RunKilledThenForceDelete", caseRunKilled},
	})
}

// caseIdentity: the process is PID 1 of its own PID namespace, sees only
// itself, and has the spec's hostname and domainname.
func caseIdentity(t *testing.T, r *runtimeCLI) any {
	rep := runChecker(t, r, func(s *specs.Spec) {
		s.Hostname = "parity-host"
		s.Domainname = "parity.test"
	})
	type proc struct {
		Pid  int
		Name string
	}
	var procs []proc
	for _, p := range rep.Processes {
		procs = append(procs, proc{p.Pid, p.Name})
	}
	if rep.Pid != 1 || rep.Ppid != 0 {
		t.Errorf("pid %d ppid %d, want 1 and 0", rep.Pid, rep.Ppid)
	}
	if want := []proc{{1, "runtimetest"}}; !reflect.DeepEqual(procs, want) {
		t.Errorf("visible processes %v, want %v", procs, want)
	}
	if rep.Hostname != "parity-host" {
		t.Errorf("hostname %q, want parity-host", rep.Hostname)
	}
	// runc 1.1 ignores domainname (runc 1.2 sets it), so it is asserted for
	// the other runtimes only and left out of the comparison.
	if r.name != "runc" && rep.Domainname != "parity.test" {
		t.Errorf("domainname %q, want parity.test", rep.Domainname)
	}
	for _, ns := range []string{"pid", "net", "ipc", "uts", "mnt", "cgroup"} {
		if host := nsInode(t, os.Getpid(), ns); rep.Namespaces[ns] == host {
			t.Errorf("%s namespace is the host's (inode %d)", ns, host)
		}
	}
	if rep.Namespaces["user"] != nsInode(t, os.Getpid(), "user") {
		t.Errorf("user namespace %d is not the host's", rep.Namespaces["user"])
	}
	return []any{rep.Pid, rep.Ppid, procs, rep.Hostname}
}

// statusOf picks keys from the checker's /proc/self/status lines.
func statusOf(rep *testutil.CheckerReport, keys ...string) map[string]string {
	m := map[string]string{}
	for _, k := range keys {
		m[k] = rep.Status[k]
	}
	return m
}

var capKeys = []string{"CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb", "NoNewPrivs"}

// caseDefaultCapabilities: runc's default spec gives the three default
// capabilities in the bounding, effective, permitted and ambient sets.
func caseDefaultCapabilities(t *testing.T, r *runtimeCLI) any {
	rep := runChecker(t, r, nil, "-try", "unshare:mnt", "-try", "sethostname:changed", "-try", "syscall:169")
	// Without CAP_SYS_ADMIN and CAP_SYS_BOOT: unshare, sethostname and
	// reboot (169) are refused with EPERM.
	for op, p := range rep.Tries {
		if p.OK || p.Errno != int(syscall.EPERM) {
			t.Errorf("%s: %+v, want EPERM", op, p)
		}
	}
	got := statusOf(rep, capKeys...)
	for _, k := range []string{"CapEff", "CapPrm", "CapBnd"} {
		if got[k] != defaultCapMask {
			t.Errorf("%s = %s, want %s (CAP_KILL, CAP_NET_BIND_SERVICE, CAP_AUDIT_WRITE)", k, got[k], defaultCapMask)
		}
	}
	if got["NoNewPrivs"] != "1" {
		t.Errorf("NoNewPrivs = %s, want 1", got["NoNewPrivs"])
	}
	return []any{got, withoutErrorText(rep.Tries)}
}

// caseCustomCapabilities: each set is exactly what the spec lists.
func caseCustomCapabilities(t *testing.T, r *runtimeCLI) any {
	rep := runChecker(t, r, func(s *specs.Spec) {
		s.Process.NoNewPrivileges = false
		s.Process.Capabilities = &specs.LinuxCapabilities{
			Bounding:    []string{"CAP_CHOWN", "CAP_KILL", "CAP_SYS_ADMIN", "CAP_NET_RAW"},
			Permitted:   []string{"CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"},
			Effective:   []string{"CAP_CHOWN", "CAP_KILL"},
			Inheritable: []string{"CAP_NET_RAW"},
			Ambient:     []string{"CAP_NET_RAW"},
		}
	})
	got := statusOf(rep, capKeys...)
	// CHOWN 0, KILL 5, NET_RAW 13, SYS_ADMIN 21. The process runs as uid 0
	// without SECBIT_NOROOT, so execve gives it the whole bounding set as
	// permitted and effective, whatever the spec's permitted set says (runc
	// behaves so; Docker always lists the same capabilities in every set).
	want := map[string]string{
		"CapBnd":     fmt.Sprintf("%016x", 1<<0|1<<5|1<<13|1<<21),
		"CapPrm":     fmt.Sprintf("%016x", 1<<0|1<<5|1<<13|1<<21),
		"CapEff":     fmt.Sprintf("%016x", 1<<0|1<<5|1<<13|1<<21),
		"CapInh":     fmt.Sprintf("%016x", 1<<13),
		"CapAmb":     fmt.Sprintf("%016x", 1<<13),
		"NoNewPrivs": "0",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("capabilities %v, want %v", got, want)
	}
	return got
}

// caseUserAndGroups: uid, gid and additional groups as given.
func caseUserAndGroups(t *testing.T, r *runtimeCLI) any {
	rep := runChecker(t, r, func(s *specs.Spec) {
		s.Process.User = specs.User{UID: 1000, GID: 1001, AdditionalGids: []uint32{10, 20}}
	})
	got := []any{rep.UID, rep.EUID, rep.GID, rep.EGID, rep.Groups, statusOf(rep, capKeys...)}
	if rep.UID != 1000 || rep.EUID != 1000 || rep.GID != 1001 || rep.EGID != 1001 {
		t.Errorf("uid %d euid %d gid %d egid %d, want 1000 1000 1001 1001", rep.UID, rep.EUID, rep.GID, rep.EGID)
	}
	if !reflect.DeepEqual(rep.Groups, []int{10, 20}) {
		t.Errorf("groups %v, want [10 20]", rep.Groups)
	}
	return got
}

// caseEnvCwdUmask: environment, working directory and umask as given.
func caseEnvCwdUmask(t *testing.T, r *runtimeCLI) any {
	rep := runChecker(t, r, func(s *specs.Spec) {
		s.Process.Env = []string{"PATH=/bin:/usr/bin", "FOO=bar baz", "HOME=/root"}
		s.Process.Cwd = "/tmp"
		s.Process.User.Umask = ptr(uint32(0o027))
	})
	want := []string{"FOO=bar baz", "HOME=/root", "PATH=/bin:/usr/bin"}
	if !reflect.DeepEqual(rep.Env, want) {
		t.Errorf("env %q, want %q", rep.Env, want)
	}
	if rep.Cwd != "/tmp" {
		t.Errorf("cwd %q, want /tmp", rep.Cwd)
	}
	if rep.Umask != "0027" {
		t.Errorf("umask %q, want 0027", rep.Umask)
	}
	return []any{rep.Env, rep.Cwd, rep.Umask}
}

// caseSeccompErrno: a syscall the profile answers with SCMP_ACT_ERRNO fails
// with the configured errno; others still work.
func caseSeccompErrno(t *testing.T, r *runtimeCLI) any {
	rep := runChecker(t, r, func(s *specs.Spec) {
		s.Root.Readonly = false
		s.Linux.Seccomp = &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
			Syscalls: []specs.LinuxSyscall{{
				Names:    []string{"mkdir", "mkdirat"},
				Action:   specs.ActErrno,
				ErrnoRet: ptr(uint(99)),
			}},
		}
	}, "-try", "mkdir:/tmp/denied", "-try", "create:/tmp/allowed")
	mk, cr := rep.Tries["mkdir:/tmp/denied"], rep.Tries["create:/tmp/allowed"]
	if mk.OK || mk.Errno != 99 {
		t.Errorf("mkdir under seccomp: %+v, want errno 99", mk)
	}
	if !cr.OK {
		t.Errorf("open(O_CREAT) under seccomp: %+v, want success", cr)
	}
	if rep.Status["Seccomp"] != "2" {
		t.Errorf("Seccomp status %q, want 2 (filter)", rep.Status["Seccomp"])
	}
	return []any{withoutErrorText(map[string]testutil.CheckerProbe{"mkdir": mk, "create": cr}), rep.Status["Seccomp"]}
}

// caseMaskedPaths: masked files read as empty character devices, masked
// directories as empty directories.
func caseMaskedPaths(t *testing.T, r *runtimeCLI) any {
	paths := []string{"/proc/timer_list", "/proc/keys", "/proc/acpi", "/sys/firmware"}
	var args []string
	for _, p := range paths {
		args = append(args, "-readable", p)
	}
	rep := runChecker(t, r, nil, args...)
	for _, p := range paths {
		got := rep.Readable[p]
		if !os.IsNotExist(statErr(p)) && got.Bytes != 0 {
			t.Errorf("masked %s readable: %+v, want nothing to read", p, got)
		}
	}
	if k := rep.Readable["/proc/timer_list"].Kind; k != "chardev" {
		t.Errorf("masked /proc/timer_list is a %s, want a chardev (/dev/null)", k)
	}
	return withoutErrorText(rep.Readable)
}

// withoutErrorText drops the error texts from probes: they may hold random
// temp file names; the errno carries the meaning.
func withoutErrorText(m map[string]testutil.CheckerProbe) map[string]testutil.CheckerProbe {
	out := map[string]testutil.CheckerProbe{}
	for k, p := range m {
		p.Error = ""
		out[k] = p
	}
	return out
}

func statErr(p string) error {
	_, err := os.Stat(p)
	return err
}

// caseReadonlyPaths: read-only paths and a read-only root refuse writes with
// EROFS; /dev/shm stays writable.
func caseReadonlyPaths(t *testing.T, r *runtimeCLI) any {
	paths := []string{"/proc/sys/kernel/domainname", "/proc/sys/vm/overcommit_memory", "/", "/tmp", "/dev/shm"}
	var args []string
	for _, p := range paths {
		args = append(args, "-writable", p)
	}
	rep := runChecker(t, r, nil, args...)
	for _, p := range paths[:4] {
		if got := rep.Writable[p]; got.OK || got.Errno != int(syscall.EROFS) {
			t.Errorf("write %s: %+v, want EROFS", p, got)
		}
	}
	if got := rep.Writable["/dev/shm"]; !got.OK {
		t.Errorf("write /dev/shm: %+v, want success", got)
	}
	return withoutErrorText(rep.Writable)
}

// caseRlimitNofile: RLIMIT_NOFILE as given.
func caseRlimitNofile(t *testing.T, r *runtimeCLI) any {
	rep := runChecker(t, r, func(s *specs.Spec) {
		s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 512, Hard: 1000}}
	})
	got := rep.Rlimits["RLIMIT_NOFILE"]
	if got.Soft != 512 || got.Hard != 1000 {
		t.Errorf("RLIMIT_NOFILE = %+v, want soft 512 hard 1000", got)
	}
	return rep.Rlimits
}

const memLimit = 64 << 20

// caseCgroupLimitsVisible: the memory and pids limits are visible from
// inside through the container's cgroup namespace.
func caseCgroupLimitsVisible(t *testing.T, r *runtimeCLI) any {
	rep := runChecker(t, r, func(s *specs.Spec) {
		s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: ptr(int64(memLimit))}
		s.Linux.Resources.Pids = &specs.LinuxPids{Limit: ptr(int64(32))}
	})
	mem := rep.Limits["memory.max"] + rep.Limits["memory.limit_in_bytes"]
	pids := rep.Limits["pids.max"] + rep.Limits["pids/pids.max"]
	if mem != fmt.Sprint(memLimit) {
		t.Errorf("memory limit seen inside %q, want %d (limits %v)", mem, memLimit, rep.Limits)
	}
	if pids != "32" {
		t.Errorf("pids limit seen inside %q, want 32 (limits %v)", pids, rep.Limits)
	}
	for _, line := range rep.Cgroups {
		if parts := strings.SplitN(line, ":", 3); len(parts) == 3 && parts[2] != "/" {
			t.Errorf("cgroup namespace: /proc/self/cgroup line %q, want path /", line)
		}
	}
	return []any{mem, pids, rep.Cgroups}
}

// caseMemoryOOM: a process allocating past the memory limit is OOM-killed
// and the runtime reports 128+SIGKILL.
func caseMemoryOOM(t *testing.T, r *runtimeCLI) any {
	c := checkerBundle(t, r, func(s *specs.Spec) {
		s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: ptr(int64(32 << 20))}
	}, "-alloc", "512")
	res := runContainer(t, r, c)
	if res.Code != 137 {
		t.Errorf("exit %d, want 137 (OOM kill): %s", res.Code, res)
	}
	return res.Code
}

// casePidsLimit: forks beyond pids.max fail with EAGAIN.
func casePidsLimit(t *testing.T, r *runtimeCLI) any {
	const limit = 16
	rep := runChecker(t, r, func(s *specs.Spec) {
		s.Linux.Resources.Pids = &specs.LinuxPids{Limit: ptr(int64(limit))}
	}, "-spawn", "64", "-spawn-path", "/bin/sleep")
	sp := rep.Spawn
	if sp == nil {
		t.Fatal("no spawn result in the report")
	}
	if sp.Started >= limit || sp.Errno != int(syscall.EAGAIN) {
		t.Errorf("spawned %d of 64 under pids.max %d (errno %d %s), want fewer than %d and EAGAIN",
			sp.Started, limit, sp.Errno, sp.Error, limit)
	}
	return sp.Errno
}

// caseExitCode: the runtime exits with the process's exit code.
func caseExitCode(t *testing.T, r *runtimeCLI) any {
	c := busyboxContainer(t, r, nil, "sh", "-c", "exit 7")
	res := runContainer(t, r, c)
	if res.Code != 7 {
		t.Errorf("exit %d, want 7: %s", res.Code, res)
	}
	return res.Code
}

// trapScript is PID 1 with a TERM trap: it signals readiness in /out, and on
// SIGTERM writes /out/marker and exits 3. Files appear by rename, so a reader
// never sees them half written.
const trapScript = `trap 'echo term >/out/marker.tmp; mv /out/marker.tmp /out/marker; exit 3' TERM; echo ready >/out/ready.tmp; mv /out/ready.tmp /out/ready; while true; do sleep 1 & wait $!; done`

// caseSigtermCreateStart: create, start, kill TERM: the trap runs, the
// container stops, delete removes it.
func caseSigtermCreateStart(t *testing.T, r *runtimeCLI) any {
	var out string
	c := busyboxContainer(t, r, func(s *specs.Spec) { out = sharedDir(t, s, "/out") }, "sh", "-c", trapScript)
	r.mustRun(t, "create", "--bundle", c.bundle, c.id)
	created := r.state(t, c.id)
	r.mustRun(t, "start", c.id)
	waitFile(t, filepath.Join(out, "ready"), 10*time.Second)
	running := r.state(t, c.id)
	r.mustRun(t, "kill", c.id, "TERM")
	marker := strings.TrimSpace(waitFile(t, filepath.Join(out, "marker"), 10*time.Second))
	if marker != "term" {
		t.Errorf("marker %q, want term", marker)
	}
	stopped := r.waitStatus(t, c.id, "stopped", 10*time.Second)
	r.mustRun(t, "delete", c.id)
	if res := r.run(t, "state", c.id); res.Code == 0 {
		t.Errorf("state after delete succeeded: %s", res)
	}
	if created.Status != "created" || running.Status != "running" {
		t.Errorf("statuses %q, %q, want created, running", created.Status, running.Status)
	}
	return []string{created.Status, running.Status, marker, stopped.Status}
}

// caseSigtermRun: the same trap under `run` in the foreground: the runtime
// exits with the trap's exit code 3.
func caseSigtermRun(t *testing.T, r *runtimeCLI) any {
	var out string
	c := busyboxContainer(t, r, func(s *specs.Spec) { out = sharedDir(t, s, "/out") }, "sh", "-c", trapScript)
	done := make(chan result, 1)
	go func() { done <- runContainer(t, r, c) }()
	waitFile(t, filepath.Join(out, "ready"), 10*time.Second)
	r.mustRun(t, "kill", c.id, "TERM")
	select {
	case res := <-done:
		if res.Code != 3 {
			t.Errorf("run exited %d, want 3 from the TERM trap: %s", res.Code, res)
		}
		return res.Code
	case <-time.After(commandTimeout):
		t.Fatalf("run did not return within %v of kill TERM", commandTimeout)
	}
	return nil
}

// caseRunForwardsSignals: signals sent to a foreground `run` reach the
// container's process: USR1 at once, XCPU (one of those Berth catches only
// once the process has run for 20 ms: lifecycle.Signals) after a while,
// then TERM, whose trap ends the process and so the run with 3.
func caseRunForwardsSignals(t *testing.T, r *runtimeCLI) any {
	var out string
	script := `mark() { echo $1 >/out/$1.tmp; mv /out/$1.tmp /out/$1; }; trap 'mark usr1' USR1; trap 'mark xcpu' XCPU; trap 'exit 3' TERM; ` +
		`mark ready; while true; do sleep 1 & wait $!; done`
	c := busyboxContainer(t, r, func(s *specs.Spec) { out = sharedDir(t, s, "/out") }, "sh", "-c", script)
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := r.command(ctx, "run", "--bundle", c.bundle, c.id)
	cmd.Stdout, cmd.Stderr = outputFile(t), outputFile(t)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFile(t, filepath.Join(out, "ready"), 10*time.Second)
	if err := cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	waitFile(t, filepath.Join(out, "usr1"), 10*time.Second)
	time.Sleep(200 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGXCPU); err != nil {
		t.Fatal(err)
	}
	waitFile(t, filepath.Join(out, "xcpu"), 10*time.Second)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Errorf("run ended with %v, want exit status 3 from the TERM trap", err)
	}
	return "usr1 xcpu term"
}

// caseConsoleSocket: with terminal true, the runtime sends the pty master
// over --console-socket; a shell on it runs what we type.
func caseConsoleSocket(t *testing.T, r *runtimeCLI) any {
	c := busyboxContainer(t, r, func(s *specs.Spec) { s.Process.Terminal = true }, "sh")
	sock := newConsoleSocket(t)
	r.mustRun(t, "create", "--bundle", c.bundle, "--console-socket", sock.path, c.id)
	master := sock.receive(t, 10*time.Second)
	r.mustRun(t, "start", c.id)
	if _, err := master.Write([]byte("echo hi; exit\n")); err != nil {
		t.Fatalf("write to pty master: %v", err)
	}
	out := readUntilClosed(t, master, 10*time.Second)
	sawHi := false
	for _, line := range strings.Split(out, "\n") {
		if strings.TrimRight(line, "\r") == "hi" {
			sawHi = true
		}
	}
	if !sawHi {
		t.Errorf("terminal output %q has no line \"hi\"", out)
	}
	if !strings.Contains(out, "\r\n") {
		t.Errorf("terminal output %q has no CRLF: not a tty?", out)
	}
	r.waitStatus(t, c.id, "stopped", 10*time.Second)
	return sawHi
}

// casePreserveFds: --preserve-fds N passes the caller's descriptors 3 ..
// 3+N-1 to the process, for run and for exec; berth refuses N that counts
// a descriptor the caller did not pass.
func casePreserveFds(t *testing.T, r *runtimeCLI) any {
	files := func(bodies ...string) []*os.File {
		var fs []*os.File
		for _, b := range bodies {
			p := filepath.Join(t.TempDir(), "f")
			if err := os.WriteFile(p, []byte(b), 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { f.Close() })
			fs = append(fs, f)
		}
		return fs
	}
	runWith := func(extra []*os.File, args ...string) result {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
		defer cancel()
		cmd := r.command(ctx, args...)
		out, errOut := outputFile(t), outputFile(t)
		cmd.Stdout, cmd.Stderr, cmd.ExtraFiles = out, errOut, extra
		err := cmd.Run()
		res := result{Stdout: readOutput(t, out), Stderr: readOutput(t, errOut)}
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			res.Code = exit.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return res
	}
	c := busyboxContainer(t, r, nil, "sh", "-c", "cat <&3; cat <&4")
	res := runWith(files("three\n", "four\n"), "run", "--preserve-fds", "2", "--bundle", c.bundle, c.id)
	if res.Code != 0 || res.Stdout != "three\nfour\n" {
		t.Errorf("run --preserve-fds 2: %s; want three and four", res)
	}
	c2 := busyboxContainer(t, r, nil, "sleep", "1000")
	r.mustRun(t, "create", "--bundle", c2.bundle, c2.id)
	r.mustRun(t, "start", c2.id)
	ex := runWith(files("via exec\n"), "exec", "--preserve-fds", "1", c2.id, "sh", "-c", "cat <&3")
	r.mustRun(t, "delete", "--force", c2.id)
	if ex.Code != 0 || ex.Stdout != "via exec\n" {
		t.Errorf("exec --preserve-fds 1: %s", ex)
	}
	if r.name == "berth" {
		c3 := busyboxContainer(t, r, nil, "true")
		bad := runWith(files("only three\n"), "run", "--preserve-fds", "2", "--bundle", c3.bundle, c3.id)
		if bad.Code == 0 || !strings.Contains(bad.Stderr, "descriptor 4 was not passed") {
			t.Errorf("run --preserve-fds 2 with only fd 3: %s; want refused", bad)
		}
	}
	return res.Stdout + ex.Stdout
}

// caseExecPidFileFails: an exec whose --pid-file cannot be written fails,
// and its process does not go on in the container.
func caseExecPidFileFails(t *testing.T, r *runtimeCLI) any {
	c := busyboxContainer(t, r, nil, "sleep", "1000")
	r.mustRun(t, "create", "--bundle", c.bundle, c.id)
	r.mustRun(t, "start", c.id)
	res := r.run(t, "exec", "-d", "--pid-file", "/nonexistent-dir/p", c.id, "sleep", "31")
	left := r.mustRun(t, "exec", c.id, "sh", "-c", "ps -o args | grep -c '^sleep 31' || true")
	r.mustRun(t, "delete", "--force", c.id)
	if res.Code == 0 {
		t.Errorf("exec with an unwritable pid file succeeded: %s", res)
	}
	if n := strings.TrimSpace(left.Stdout); n != "0" {
		t.Errorf("%s processes of the failed exec still run in the container", n)
	}
	return res.Code != 0
}

// caseExec: a process exec'd into a running container is in its PID
// namespace and sees the init as PID 1.
func caseExec(t *testing.T, r *runtimeCLI) any {
	bundle := testutil.BusyboxBundle(t)
	checker := testutil.InstallChecker(t, bundle, checkerBin)
	testutil.WriteSpec(t, bundle, testutil.DefaultSpec("sleep", "1000"))
	c := newContainer(t, r, bundle)
	r.mustRun(t, "create", "--bundle", c.bundle, c.id)
	r.mustRun(t, "start", c.id)
	st := r.waitStatus(t, c.id, "running", 10*time.Second)
	res := r.mustRun(t, "exec", c.id, checker)
	rep, err := testutil.ParseCheckerReport([]byte(res.Stdout))
	if err != nil {
		t.Fatal(err)
	}
	names := map[int]string{}
	for _, p := range rep.Processes {
		names[p.Pid] = p.Name
	}
	if names[1] != "sleep" {
		t.Errorf("exec sees pid 1 as %q, want sleep (processes %v)", names[1], rep.Processes)
	}
	if rep.Pid == 1 {
		t.Error("exec'd process is pid 1")
	}
	for _, ns := range []string{"pid", "mnt", "net", "ipc", "uts"} {
		if want := nsInode(t, st.Pid, ns); rep.Namespaces[ns] != want {
			t.Errorf("exec'd process %s namespace %d, want the init's %d", ns, rep.Namespaces[ns], want)
		}
	}
	ps := r.mustRun(t, "exec", c.id, "ps", "-o", "pid,comm")
	if !strings.Contains(ps.Stdout, "1 sleep") {
		t.Errorf("exec ps shows %q, want a line \"1 sleep\"", ps.Stdout)
	}
	return []any{names[1], rep.Pid != 1, statusOf(rep, capKeys...)}
}

const userNSHostID = 100000

// caseUserNamespace: root inside is an unprivileged uid outside: files it
// creates belong to that uid on the host.
func caseUserNamespace(t *testing.T, r *runtimeCLI) any {
	bundle := testutil.BusyboxBundle(t)
	checker := testutil.InstallChecker(t, bundle, checkerBin)
	testutil.Chown(t, filepath.Join(bundle, "rootfs"), userNSHostID, userNSHostID)
	spec := testutil.DefaultSpec(checker, "-write", "/tmp/created=x")
	spec.Root.Readonly = false
	spec.Linux.Namespaces = append(spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	spec.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: userNSHostID, Size: 65536}}
	spec.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: userNSHostID, Size: 65536}}
	testutil.WriteSpec(t, bundle, spec)
	c := newContainer(t, r, bundle)
	res := runContainer(t, r, c)
	if res.Code != 0 {
		t.Fatalf("run: %s", res)
	}
	rep, err := testutil.ParseCheckerReport([]byte(res.Stdout))
	if err != nil {
		t.Fatal(err)
	}
	if rep.UID != 0 || rep.GID != 0 {
		t.Errorf("inside uid %d gid %d, want 0 0", rep.UID, rep.GID)
	}
	if rep.Namespaces["user"] == nsInode(t, os.Getpid(), "user") {
		t.Error("container shares the host's user namespace")
	}
	fi, err := os.Stat(filepath.Join(bundle, "rootfs/tmp/created"))
	if err != nil {
		t.Fatalf("file created inside: %v (checker errors %q)", err, rep.Errors)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if st.Uid != userNSHostID || st.Gid != userNSHostID {
		t.Errorf("file created by root inside is owned by %d:%d on the host, want %d:%d",
			st.Uid, st.Gid, userNSHostID, userNSHostID)
	}
	return []any{rep.UID, rep.GID, st.Uid, st.Gid, statusOf(rep, capKeys...)}
}

// hookScript appends "<name> <status from the state on stdin>" to a log.
const hookScript = `#!/bin/sh
status=$(sed -n 's/.*"status" *: *"\([a-z]*\)".*/\1/p')
echo "$1 $status" >>"$2"
`

// caseHooks: every hook runs once, in the spec's order, with the state on
// stdin.
func caseHooks(t *testing.T, r *runtimeCLI) any {
	bundle := testutil.BusyboxBundle(t)
	spec := testutil.DefaultSpec("true")
	out := sharedDir(t, spec, "/out")
	hostLog := filepath.Join(out, "hooks.log")
	hostHook := filepath.Join(t.TempDir(), "hook.sh")
	for _, p := range []string{hostHook, filepath.Join(bundle, "rootfs/hook.sh")} {
		if err := os.WriteFile(p, []byte(hookScript), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Dir(hostHook), 0o755); err != nil {
		t.Fatal(err)
	}
	hook := func(name string) specs.Hook {
		return specs.Hook{Path: hostHook, Args: []string{"hook.sh", name, hostLog}}
	}
	spec.Hooks = &specs.Hooks{
		CreateRuntime:   []specs.Hook{hook("createRuntime")},
		CreateContainer: []specs.Hook{hook("createContainer")},
		// startContainer runs inside the container: path and log resolve there.
		StartContainer: []specs.Hook{{Path: "/hook.sh", Args: []string{"hook.sh", "startContainer", "/out/hooks.log"}}},
		Poststart:      []specs.Hook{hook("poststart")},
		Poststop:       []specs.Hook{hook("poststop")},
	}
	testutil.WriteSpec(t, bundle, spec)
	c := newContainer(t, r, bundle)
	r.mustRun(t, "create", "--bundle", c.bundle, c.id)
	r.mustRun(t, "start", c.id)
	r.waitStatus(t, c.id, "stopped", 10*time.Second)
	r.mustRun(t, "delete", c.id)
	data, err := os.ReadFile(hostLog)
	if err != nil {
		t.Fatalf("hooks log: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	got := map[string]string{}
	var names []string
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) != 2 {
			t.Errorf("hook log line %q has no status: state not on stdin?", l)
			continue
		}
		names = append(names, f[0])
		got[f[0]] = f[1]
	}
	wantNames := []string{"createRuntime", "createContainer", "startContainer", "poststart", "poststop"}
	if r.name == "runc" && len(names) == 5 && names[2] == "poststart" && names[3] == "startContainer" {
		// runc 1.1 runs poststart from `runc start` while the init may still
		// be running startContainer hooks: a race, not the spec's order.
		t.Logf("runc ran poststart before startContainer (runc 1.1 race)")
		names[2], names[3] = names[3], names[2]
	}
	if !reflect.DeepEqual(names, wantNames) {
		t.Errorf("hooks ran as %q, want the order %q", lines, wantNames)
	}
	wantStatus := map[string]string{"createRuntime": "creating", "createContainer": "creating",
		"startContainer": "created", "poststop": "stopped"}
	for name, status := range wantStatus {
		if got[name] != status {
			t.Errorf("%s hook saw status %q, want %q", name, got[name], status)
		}
	}
	// poststart sees "created" or "running" depending on whether the process
	// has been exec'd yet (runc 1.1 reports "created"); both are accepted and
	// left out of the comparison.
	if s := got["poststart"]; s != "created" && s != "running" {
		t.Errorf("poststart hook saw status %q, want created or running", s)
	}
	lines = nil
	for _, name := range names {
		if name != "poststart" {
			name += " " + got[name]
		}
		lines = append(lines, name)
	}
	return lines
}

// caseStateAndList: `state` prints runc's JSON fields through the life of a
// container; `list` shows it.
func caseStateAndList(t *testing.T, r *runtimeCLI) any {
	c := busyboxContainer(t, r, nil, "sleep", "1000")
	r.mustRun(t, "create", "--bundle", c.bundle, c.id)
	created := r.state(t, c.id)
	if created.OCIVersion == "" || created.ID != c.id || created.Status != "created" ||
		created.Pid <= 0 || created.Bundle != c.bundle {
		t.Errorf("state after create: %+v, want ociVersion, id %s, status created, pid > 0, bundle %s",
			created, c.id, c.bundle)
	}
	var raw map[string]any
	res := r.mustRun(t, "state", c.id)
	if err := json.Unmarshal([]byte(res.Stdout), &raw); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, k := range []string{"ociVersion", "id", "status", "pid", "bundle"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("state JSON lacks %q: %s", k, res.Stdout)
		}
		keys = append(keys, k)
	}
	r.mustRun(t, "start", c.id)
	running := r.waitStatus(t, c.id, "running", 10*time.Second)
	if running.Pid != created.Pid {
		t.Errorf("pid changed from %d to %d on start", created.Pid, running.Pid)
	}

	quiet := r.mustRun(t, "list", "-q")
	if strings.TrimSpace(quiet.Stdout) != c.id {
		t.Errorf("list -q = %q, want %q", quiet.Stdout, c.id)
	}
	table := r.mustRun(t, "list")
	tableLines := strings.Split(strings.TrimSpace(table.Stdout), "\n")
	if len(tableLines) != 2 || !strings.HasPrefix(tableLines[0], "ID") ||
		!strings.Contains(tableLines[1], c.id) || !strings.Contains(tableLines[1], "running") {
		t.Errorf("list = %q, want a header and one running row for %s", table.Stdout, c.id)
	}
	var listed []map[string]any
	js := r.mustRun(t, "list", "--format", "json")
	if err := json.Unmarshal([]byte(js.Stdout), &listed); err != nil {
		t.Fatalf("list --format json: %v: %q", err, js.Stdout)
	}
	if len(listed) != 1 || listed[0]["id"] != c.id || listed[0]["status"] != "running" || listed[0]["owner"] != "root" {
		t.Errorf("list --format json = %v, want one running %s owned by root", listed, c.id)
	}

	r.mustRun(t, "kill", c.id, "KILL")
	stopped := r.waitStatus(t, c.id, "stopped", 10*time.Second)
	r.mustRun(t, "delete", c.id)
	if res := r.run(t, "state", c.id); res.Code == 0 {
		t.Errorf("state after delete: %s, want failure", res)
	}
	if res := r.mustRun(t, "list", "-q"); strings.TrimSpace(res.Stdout) != "" {
		t.Errorf("list -q after delete = %q, want empty", res.Stdout)
	}
	return []any{keys, created.Status, running.Status, stopped.Status, len(listed)}
}

// caseMounts: the mount table seen inside under the default spec: mount
// points, types and per-mount options, in order.
func caseMounts(t *testing.T, r *runtimeCLI) any {
	rep := runChecker(t, r, nil)
	var got []string
	points := map[string]bool{}
	for _, m := range rep.Mounts {
		opts := m.Options
		if r.name == "runc" && m.Point == "/sys/fs/cgroup" && m.Type == "tmpfs" {
			// runc 1.1 leaves the tmpfs holding the v1 hierarchies
			// read-write (only the hierarchies are read-only); the spec's
			// mount says "ro", which Berth follows. Known difference.
			opts = strings.Replace(opts, "rw", "ro", 1)
		}
		got = append(got, m.Point+" "+m.Type+" "+opts)
		points[m.Point] = true
	}
	for _, p := range []string{"/", "/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"} {
		if !points[p] {
			t.Errorf("no mount at %s; mounts:\n%s", p, strings.Join(got, "\n"))
		}
	}
	for _, m := range rep.Mounts {
		if m.Point == "/" && !strings.HasPrefix(m.Options, "ro") {
			t.Errorf("root mounted %q, want read-only (root.readonly)", m.Options)
		}
	}
	return got
}

// caseDefaultDevices: the devices every container gets, the /dev symlinks,
// and no host device.
func caseDefaultDevices(t *testing.T, r *runtimeCLI) any {
	// Only devices whose read returns at once: /dev/ptmx would block.
	devs := []string{"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom",
		"/dev/pts", "/dev/shm", "/dev/mqueue", "/dev/sda", "/dev/kmsg"}
	var args []string
	for _, d := range devs {
		args = append(args, "-readable", d)
	}
	opens := []string{"/dev/tty", "/dev/ptmx", "/dev/pts/ptmx", "/dev/fd/0", "/dev/stdin", "/dev/stdout",
		"/dev/stderr", "/dev/core", "/dev/console"}
	for _, o := range opens {
		args = append(args, "-try", "open:"+o)
	}
	rep := runChecker(t, r, nil, args...)
	for _, d := range devs[:5] {
		if p := rep.Readable[d]; !p.OK || p.Kind != "chardev" {
			t.Errorf("%s: %+v, want a readable character device", d, p)
		}
	}
	for _, d := range []string{"/dev/sda", "/dev/kmsg"} {
		if p := rep.Readable[d]; p.OK || p.Errno != int(syscall.ENOENT) {
			t.Errorf("%s: %+v, want ENOENT: no host devices", d, p)
		}
	}
	for _, o := range []string{"/dev/ptmx", "/dev/stdin", "/dev/fd/0"} {
		if p := rep.Tries["open:"+o]; !p.OK {
			t.Errorf("open %s: %+v, want success", o, p)
		}
	}
	return []any{withoutErrorText(rep.Readable), withoutErrorText(rep.Tries)}
}

// caseOOMScoreAdjAndSysctl: process.oomScoreAdj and linux.sysctl reach the
// container.
func caseOOMScoreAdjAndSysctl(t *testing.T, r *runtimeCLI) any {
	rep := runChecker(t, r, func(s *specs.Spec) {
		s.Process.OOMScoreAdj = ptr(500)
		s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1", "kernel.msgmax": "4096"}
	}, "-cat", "/proc/self/oom_score_adj", "-cat", "/proc/sys/net/ipv4/ip_forward", "-cat", "/proc/sys/kernel/msgmax")
	want := map[string]string{"/proc/self/oom_score_adj": "500\n", "/proc/sys/net/ipv4/ip_forward": "1\n",
		"/proc/sys/kernel/msgmax": "4096\n"}
	if !reflect.DeepEqual(rep.Files, want) {
		t.Errorf("files %q, want %q", rep.Files, want)
	}
	return rep.Files
}

// casePidFileAndForceDelete: create --pid-file writes the init's pid; delete
// of a running container fails without --force and works with it.
func casePidFileAndForceDelete(t *testing.T, r *runtimeCLI) any {
	c := busyboxContainer(t, r, nil, "sleep", "1000")
	pidFile := filepath.Join(t.TempDir(), "pid")
	r.mustRun(t, "create", "--bundle", c.bundle, "--pid-file", pidFile, c.id)
	st := r.state(t, c.id)
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("pid file: %v", err)
	}
	if strings.TrimSpace(string(data)) != fmt.Sprint(st.Pid) {
		t.Errorf("pid file holds %q, state says pid %d", data, st.Pid)
	}
	r.mustRun(t, "start", c.id)
	refused := r.run(t, "delete", c.id)
	if refused.Code == 0 {
		t.Errorf("delete of a running container succeeded without --force")
	}
	r.mustRun(t, "delete", "--force", c.id)
	if res := r.run(t, "state", c.id); res.Code == 0 {
		t.Errorf("state after delete --force: %s, want failure", res)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", st.Pid)); err == nil && !zombie(fmt.Sprint(st.Pid)) {
		t.Errorf("init %d still runs after delete --force", st.Pid)
	}
	return []any{refused.Code != 0}
}

// caseKillPaused: signal 0 checks that the container runs; KILL of a
// paused container ends it at once (the runtime thaws it); kill -a of the
// stopped container is no error, a plain kill is.
func caseKillPaused(t *testing.T, r *runtimeCLI) any {
	c := busyboxContainer(t, r, nil, "sleep", "1000")
	r.mustRun(t, "create", "--bundle", c.bundle, c.id)
	r.mustRun(t, "start", c.id)
	r.mustRun(t, "kill", c.id, "0")
	r.mustRun(t, "pause", c.id)
	r.waitStatus(t, c.id, "paused", 10*time.Second)
	r.mustRun(t, "kill", c.id, "KILL")
	r.waitStatus(t, c.id, "stopped", 10*time.Second)
	all := r.run(t, "kill", "--all", c.id, "KILL")
	plain := r.run(t, "kill", c.id, "KILL")
	if all.Code != 0 || plain.Code == 0 {
		t.Errorf("kill of a stopped container: --all exit %d (want 0), plain exit %d (want non-zero)", all.Code, plain.Code)
	}
	r.mustRun(t, "delete", c.id)
	return []any{all.Code == 0, plain.Code != 0}
}

// caseRunKilled: when a foreground `run` is SIGKILLed (a caller's timeout),
// the container outlives it, and `delete --force` still removes everything.
func caseRunKilled(t *testing.T, r *runtimeCLI) any {
	c := busyboxContainer(t, r, nil, "sleep", "1000")
	cmd := r.command(t.Context(), "run", "--bundle", c.bundle, c.id)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	st := r.waitStatus(t, c.id, "running", 10*time.Second)
	cmd.Process.Kill()
	cmd.Wait()
	after := r.state(t, c.id)
	r.mustRun(t, "delete", "--force", c.id)
	assertNothingLeft(t, r, c)
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", st.Pid)); err == nil && !zombie(fmt.Sprint(st.Pid)) {
		t.Errorf("init %d still runs after delete --force", st.Pid)
	}
	return after.Status
}

// TestRuntimeSessionAndSignals: as runc's, the container's process leads a
// session of its own, has a session keyring of its own (_ses.<id>, unless
// --no-new-keyring), and SIGHUP and SIGINT are not ignored in it although
// the runtime was started with them ignored (nohup, a background job).
func TestRuntimeSessionAndSignals(t *testing.T) {
	for _, name := range selectedRuntimes() {
		t.Run(name, func(t *testing.T) {
			r := newRuntime(t, name)
			c := checkerBundle(t, r, nil, "-cat", "/proc/self/stat")
			full := append(append(append([]string{}, r.args...), "--root", r.root), "run", "--bundle", c.bundle, c.id)
			cmd := exec.Command("sh", append([]string{"-c", `trap "" HUP INT; exec "$0" "$@"`, r.bin}, full...)...)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%s run: %v\n%s", name, err, out)
			}
			rep, err := testutil.ParseCheckerReport(out)
			if err != nil {
				t.Fatal(err)
			}
			if f := strings.Fields(rep.Files["/proc/self/stat"]); len(f) < 6 || f[5] != "1" {
				t.Errorf("%s: the container's process leads no session of its own: stat %q", name, rep.Files["/proc/self/stat"])
			}
			if ign, err := strconv.ParseUint(rep.Status["SigIgn"], 16, 64); err != nil || ign&3 != 0 {
				t.Errorf("%s: SIGHUP or SIGINT stays ignored in the container: SigIgn %s", name, rep.Status["SigIgn"])
			}
			if !strings.HasSuffix(rep.SessionKeyring, ";_ses."+c.id) {
				t.Errorf("%s: session keyring %q, want _ses.%s of its own", name, rep.SessionKeyring, c.id)
			}
			c2 := checkerBundle(t, r, nil)
			res := r.run(t, "run", "--no-new-keyring", "--bundle", c2.bundle, c2.id)
			rep2, err := testutil.ParseCheckerReport([]byte(res.Stdout))
			if res.Code != 0 || err != nil || strings.HasSuffix(rep2.SessionKeyring, ";_ses."+c2.id) {
				t.Errorf("%s --no-new-keyring: %s (keyring %q)", name, res, rep2.SessionKeyring)
			}
		})
	}
}

// TestRuntimeTmpcopyup: a tmpfs with tmpcopyup (podman's --tmpfs) starts
// with a copy of what its destination held, owners and modes kept, as with
// runc; the image's files are not changed.
func TestRuntimeTmpcopyup(t *testing.T) {
	for _, name := range selectedRuntimes() {
		t.Run(name, func(t *testing.T) {
			r := newRuntime(t, name)
			bundle := testutil.BusyboxBundle(t, "sh", "-c", "cat /etc/seed/a; stat -c '%a %u' /etc/seed/sub /etc/seed/sub/b; readlink /etc/seed/l; touch /etc/seed/new && mount | grep -c ' /etc/seed type tmpfs'")
			rootfs := filepath.Join(bundle, "rootfs")
			os.MkdirAll(filepath.Join(rootfs, "etc/seed/sub"), 0o750)
			os.WriteFile(filepath.Join(rootfs, "etc/seed/a"), []byte("seeded\n"), 0o644)
			os.WriteFile(filepath.Join(rootfs, "etc/seed/sub/b"), nil, 0o600)
			os.Chown(filepath.Join(rootfs, "etc/seed/sub/b"), 1000, 1000)
			os.Symlink("a", filepath.Join(rootfs, "etc/seed/l"))
			editSpec(t, bundle, func(s *specs.Spec) {
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "/etc/seed", Type: "tmpfs", Source: "tmpfs", Options: []string{"tmpcopyup", "nosuid", "size=1m"}})
			})
			c := newContainer(t, r, bundle)
			res := r.run(t, "run", "--bundle", bundle, c.id)
			if res.Code != 0 || res.Stdout != "seeded\n750 0\n600 1000\na\n1\n" {
				t.Errorf("%s: %s", name, res)
			}
			if _, err := os.Stat(filepath.Join(rootfs, "etc/seed/new")); err == nil {
				t.Errorf("%s: a file made in the tmpfs is in the image", name)
			}
		})
	}
}

// TestRuntimeEventsOOM: events reports an OOM kill in the container's
// cgroup as an "oom" event, as runc's does.
func TestRuntimeEventsOOM(t *testing.T) {
	for _, name := range selectedRuntimes() {
		t.Run(name, func(t *testing.T) {
			r := newRuntime(t, name)
			bundle := testutil.BusyboxBundle(t, "true")
			checker := testutil.InstallChecker(t, bundle, checkerBin)
			editSpec(t, bundle, func(s *specs.Spec) {
				s.Process.Args = []string{"sh", "-c", "sleep 1; " + checker + " -alloc 512 >/dev/null 2>&1; sleep 3"}
				s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: ptr(int64(32 << 20))}
			})
			c := newContainer(t, r, bundle)
			r.mustRun(t, "run", "-d", "--bundle", bundle, c.id)
			// runc's events goes on after the container stopped: 8 s.
			ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
			defer cancel()
			out, _ := r.command(ctx, "events", "--interval", "1s", c.id).Output()
			if !strings.Contains(string(out), `{"type":"oom","id":"`+c.id+`"}`) {
				t.Errorf("%s events: no oom event in %d bytes of output", name, len(out))
			}
		})
	}
}
