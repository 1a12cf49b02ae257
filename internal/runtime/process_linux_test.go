package runtime

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	goruntime "runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/berth/berth/internal/testutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// processScenarioEnv selects, in a re-executed test binary, the scenario
// runProcessScenario plays instead of the test.
const processScenarioEnv = "BERTH_TEST_PROCESS_SCENARIO"

// processScenarioSpec carries the scenario's Process as JSON.
const processScenarioSpec = "BERTH_TEST_PROCESS_SPEC"

// runProcessScenario runs in the child. It never returns: it execs or exits
// 0 after printing what the parent asserts, or exits 3 with the error on
// stderr.
func runProcessScenario(scenario string) {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	var p specs.Process
	if err := json.Unmarshal([]byte(os.Getenv(processScenarioSpec)), &p); err != nil {
		fail(fmt.Errorf("scenario spec: %w", err))
	}
	goruntime.LockOSThread()
	switch scenario {
	case "self":
		// Credentials are per thread: read this thread's status.
		if err := finalizeProcess(&p); err != nil {
			fail(err)
		}
		status, err := os.ReadFile("/proc/thread-self/status")
		if err != nil {
			fail(err)
		}
		limits, err := os.ReadFile("/proc/self/limits")
		if err != nil {
			fail(err)
		}
		// The stdout pipe was handed to the user: reopening it works.
		var st unix.Stat_t
		if err := unix.Fstat(1, &st); err != nil {
			fail(err)
		}
		reopened, err := os.OpenFile("/proc/self/fd/1", os.O_WRONLY, 0)
		if err != nil {
			fail(fmt.Errorf("reopen stdout as uid %d: %w", os.Getuid(), err))
		}
		fmt.Fprintf(reopened, "StdoutUid:\t%d\n", st.Uid)
		reopened.Close()
		os.Stdout.Write(status)
		os.Stdout.Write(limits)
		os.Exit(0)
	case "exec":
		if err := finalizeProcess(&p); err != nil {
			fail(err)
		}
		err := syscall.Exec("/bin/cat", []string{"cat", "/proc/self/status", "/proc/self/limits"}, []string{"PATH=/bin"})
		fail(fmt.Errorf("exec /bin/cat: %w", err))
	case "error":
		// Make sure of EPERM for raising a hard rlimit even where the
		// caller has CAP_SYS_RESOURCE: drop it from the effective set.
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capget(&hdr, &data[0]); err != nil {
			fail(err)
		}
		data[0].Effective &^= 1 << unix.CAP_SYS_RESOURCE
		if err := unix.Capset(&hdr, &data[0]); err != nil {
			fail(err)
		}
		if err := finalizeProcess(&p); err != nil {
			fail(err)
		}
		os.Exit(0)
	}
	fail(fmt.Errorf("unknown scenario %q", scenario))
}

// runScenario re-executes the test binary as root with the scenario and
// returns its stdout, its stderr and its exit code.
func runScenario(t *testing.T, scenario string, p *specs.Process, attr *syscall.SysProcAttr) (stdout, stderr string, code int) {
	t.Helper()
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()[:strings.IndexByte(t.Name()+"/", '/')]+"$")
	cmd.Env = append(os.Environ(), processScenarioEnv+"="+scenario, processScenarioSpec+"="+string(data))
	cmd.SysProcAttr = attr
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), errb.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run scenario %s: %v", scenario, err)
	}
	return out.String(), errb.String(), 0
}

// statusField returns the value of a "Name:\tvalue" line of
// /proc/<pid>/status, with runs of white space made single spaces.
func statusField(t *testing.T, status, name string) string {
	t.Helper()
	for _, line := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return strings.Join(strings.Fields(v), " ")
		}
	}
	t.Fatalf("no %s line in status:\n%s", name, status)
	return ""
}

// limitLine returns the soft and hard columns of a /proc/<pid>/limits row.
func limitLine(t *testing.T, limits, name string) string {
	t.Helper()
	for _, line := range strings.Split(limits, "\n") {
		if rest, ok := strings.CutPrefix(line, name); ok {
			f := strings.Fields(rest)
			if len(f) >= 2 {
				return f[0] + " " + f[1]
			}
		}
	}
	t.Fatalf("no %q line in limits:\n%s", name, limits)
	return ""
}

func testProcess() *specs.Process {
	umask := uint32(0o027)
	return &specs.Process{
		User: specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{10, 20}, Umask: &umask},
		Capabilities: &specs.LinuxCapabilities{
			Bounding:    []string{"CAP_CHOWN", "CAP_NET_BIND_SERVICE"},
			Effective:   []string{"CAP_CHOWN", "CAP_NET_BIND_SERVICE"},
			Permitted:   []string{"CAP_CHOWN", "CAP_NET_BIND_SERVICE"},
			Inheritable: []string{"CAP_NET_BIND_SERVICE"},
			Ambient:     []string{"CAP_NET_BIND_SERVICE"},
		},
		Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 1024}, {Type: "RLIMIT_CORE", Soft: 0, Hard: 4096}},
		NoNewPrivileges: true,
	}
}

func TestFinalizeProcessRoot(t *testing.T) {
	if sc := os.Getenv(processScenarioEnv); sc != "" {
		runProcessScenario(sc)
	}
	testutil.RequireRoot(t)

	// CapBnd/CapEff/CapPrm for CAP_CHOWN (0) and CAP_NET_BIND_SERVICE (10).
	const both, nbs = "0000000000000401", "0000000000000400"

	t.Run("self", func(t *testing.T) {
		out, errOut, code := runScenario(t, "self", testProcess(), nil)
		if code != 0 {
			t.Fatalf("scenario exited %d: %s", code, errOut)
		}
		for name, want := range map[string]string{
			"Uid":        "1000 1000 1000 1000",
			"Gid":        "1000 1000 1000 1000",
			"Groups":     "10 20",
			"CapInh":     nbs,
			"CapPrm":     both,
			"CapEff":     both,
			"CapBnd":     both,
			"CapAmb":     nbs,
			"NoNewPrivs": "1",
			"Umask":      "0027",
			"StdoutUid":  "1000",
		} {
			if got := statusField(t, out, name); got != want {
				t.Errorf("%s = %q, want %q", name, got, want)
			}
		}
		if got := limitLine(t, out, "Max open files"); got != "1024 1024" {
			t.Errorf("Max open files = %q, want 1024 1024", got)
		}
		if got := limitLine(t, out, "Max core file size"); got != "0 4096" {
			t.Errorf("Max core file size = %q, want 0 4096", got)
		}
	})

	t.Run("exec", func(t *testing.T) {
		// After exec as uid 1000 only the ambient capability survives, in
		// permitted and effective too; the bounding set stays.
		out, errOut, code := runScenario(t, "exec", testProcess(), nil)
		if code != 0 {
			t.Fatalf("scenario exited %d: %s", code, errOut)
		}
		for name, want := range map[string]string{
			"Name":       "cat",
			"Uid":        "1000 1000 1000 1000",
			"Gid":        "1000 1000 1000 1000",
			"Groups":     "10 20",
			"CapInh":     nbs,
			"CapPrm":     nbs,
			"CapEff":     nbs,
			"CapBnd":     both,
			"CapAmb":     nbs,
			"NoNewPrivs": "1",
			"Umask":      "0027",
		} {
			if got := statusField(t, out, name); got != want {
				t.Errorf("%s = %q, want %q", name, got, want)
			}
		}
		if got := limitLine(t, out, "Max open files"); got != "1024 1024" {
			t.Errorf("Max open files = %q, want 1024 1024", got)
		}
	})

	t.Run("root keeps capabilities", func(t *testing.T) {
		// uid 0 without noNewPrivileges, no capabilities in the spec: all
		// sets empty, groups cleared, default umask.
		p := &specs.Process{}
		out, errOut, code := runScenario(t, "self", p, nil)
		if code != 0 {
			t.Fatalf("scenario exited %d: %s", code, errOut)
		}
		for name, want := range map[string]string{
			"Uid": "0 0 0 0", "Groups": "", "CapEff": "0000000000000000", "CapPrm": "0000000000000000",
			"CapBnd": "0000000000000000", "NoNewPrivs": "0", "Umask": "0022",
		} {
			if got := statusField(t, out, name); got != want {
				t.Errorf("%s = %q, want %q", name, got, want)
			}
		}
	})

	t.Run("rlimit above hard limit", func(t *testing.T) {
		var cur unix.Rlimit
		if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &cur); err != nil {
			t.Fatal(err)
		}
		if cur.Max == unix.RLIM_INFINITY {
			t.Skip("RLIMIT_NOFILE hard limit is unlimited")
		}
		p := &specs.Process{Rlimits: []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: cur.Max + 1, Hard: cur.Max + 1}}}
		_, errOut, code := runScenario(t, "error", p, nil)
		if code != 3 {
			t.Fatalf("scenario exited %d, want 3 (finalizeProcess error): %s", code, errOut)
		}
		want := fmt.Sprintf("set rlimit RLIMIT_NOFILE to soft %d hard %d: hard limit above the current hard limit %d needs CAP_SYS_RESOURCE", cur.Max+1, cur.Max+1, cur.Max)
		if !strings.Contains(errOut, want) {
			t.Fatalf("error = %q, want it to contain %q", errOut, want)
		}
	})

	t.Run("user namespace with setgroups denied", func(t *testing.T) {
		attr := &syscall.SysProcAttr{
			Cloneflags:  syscall.CLONE_NEWUSER,
			UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 2000}},
			GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 2000}},
		}
		p := &specs.Process{User: specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{10}}}
		_, errOut, code := runScenario(t, "self", p, attr)
		want := "process.user.additionalGids: cannot set [10]: setgroups is denied in this user namespace"
		if code != 3 || !strings.Contains(errOut, want) {
			t.Fatalf("scenario exited %d with %q, want 3 and %q", code, errOut, want)
		}
		p.User.AdditionalGids = nil
		out, errOut, code := runScenario(t, "self", p, attr)
		if code != 0 {
			t.Fatalf("without additional gids: scenario exited %d: %s", code, errOut)
		}
		if got := statusField(t, out, "Uid"); got != "1000 1000 1000 1000" {
			t.Errorf("Uid = %q, want 1000 ...", got)
		}
	})

	t.Run("unmapped uid", func(t *testing.T) {
		attr := &syscall.SysProcAttr{
			Cloneflags:                 syscall.CLONE_NEWUSER,
			UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 100}},
			GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 100}},
			GidMappingsEnableSetgroups: true,
		}
		p := &specs.Process{User: specs.User{UID: 1000, GID: 0}}
		_, errOut, code := runScenario(t, "self", p, attr)
		want := "process.user.uid: setuid 1000: invalid argument (the id is not mapped in the user namespace)"
		if code != 3 || !strings.Contains(errOut, want) {
			t.Fatalf("scenario exited %d with %q, want 3 and %q", code, errOut, want)
		}
	})
}

// sysctlScenarioEnv makes the re-executed test binary apply the sysctls in
// the JSON value and print them back.
const sysctlScenarioEnv = "BERTH_TEST_SYSCTL_SCENARIO"

func TestApplySysctlRoot(t *testing.T) {
	if v := os.Getenv(sysctlScenarioEnv); v != "" {
		var m map[string]string
		if err := json.Unmarshal([]byte(v), &m); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		if err := applySysctl(m); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		for _, f := range []string{"/proc/sys/net/ipv4/ip_forward", "/proc/sys/kernel/shmmni", "/proc/sys/kernel/domainname"} {
			b, err := os.ReadFile(f)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(3)
			}
			fmt.Printf("%s=%s\n", f, strings.TrimSpace(string(b)))
		}
		os.Exit(0)
	}
	testutil.RequireRoot(t)

	run := func(m map[string]string) (string, string, int) {
		data, _ := json.Marshal(m)
		cmd := exec.Command(os.Args[0], "-test.run=^TestApplySysctlRoot$")
		cmd.Env = append(os.Environ(), sysctlScenarioEnv+"="+string(data))
		// Private namespaces: the host's sysctls are never written.
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS}
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return out.String(), errb.String(), ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), errb.String(), 0
	}

	out, errOut, code := run(map[string]string{
		"net.ipv4.ip_forward": "1", "kernel.shmmni": "1234", "kernel/domainname": "example.org",
	})
	if code != 0 {
		t.Fatalf("applySysctl in the child failed (%d): %s", code, errOut)
	}
	want := "/proc/sys/net/ipv4/ip_forward=1\n/proc/sys/kernel/shmmni=1234\n/proc/sys/kernel/domainname=example.org\n"
	if out != want {
		t.Fatalf("child read back:\n%s\nwant:\n%s", out, want)
	}

	_, errOut, code = run(map[string]string{"net.ipv4.no_such_knob": "1"})
	if code != 3 || !strings.Contains(errOut, `sysctl "net.ipv4.no_such_knob": open /proc/sys/net/ipv4/no_such_knob: no such file or directory`) {
		t.Fatalf("unknown sysctl: exit %d, %q", code, errOut)
	}
	_, errOut, code = run(map[string]string{"kernel.shmmni": "not-a-number"})
	if code != 3 || !strings.Contains(errOut, `sysctl "kernel.shmmni" = "not-a-number": write /proc/sys/kernel/shmmni: invalid argument`) {
		t.Fatalf("bad sysctl value: exit %d, %q", code, errOut)
	}
}
