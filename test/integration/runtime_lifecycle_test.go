package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth/berth/internal/testutil"
)

// Lifecycle commands beyond run: pause/resume, update, events --stats, ps,
// exec flags, joining a namespace by path, and no host descriptor reaching
// the container. Each case runs under berth and runc and compares.
func TestRuntimeLifecycle(t *testing.T) {
	runParity(t, []parityCase{
		{"PauseResume", casePauseResume},
		{"UpdateLimits", caseUpdateLimits},
		{"EventsStats", caseEventsStats},
		{"PsJSON", casePsJSON},
		{"ExecEnvCwdUser", caseExecEnvCwdUser},
		{"ExecProcessOOMScoreAdj", caseExecProcessOOMScoreAdj},
		{"JoinNetNamespaceByPath", caseJoinNetNS},
		{"TightPidsLimit", caseTightPidsLimit},
		{"NoHostFdLeak", caseNoHostFdLeak},
	})
}

// startSleeper creates and starts a busybox container running sleep and
// returns it with its init pid.
func startSleeper(t *testing.T, r *runtimeCLI, edit func(*specs.Spec)) (*container, int) {
	t.Helper()
	c := busyboxContainer(t, r, edit, "sleep", "60")
	r.mustRun(t, "create", "--bundle", c.bundle, c.id)
	r.mustRun(t, "start", c.id)
	st := r.waitStatus(t, c.id, "running", 5*time.Second)
	return c, st.Pid
}

// cgroupValue reads one of the container's cgroup settings, on cgroup v1 or
// v2, as a v1-style value: "memory" (bytes), "pids", "cpu.quota",
// "cpu.period", "frozen" ("FROZEN" or "THAWED").
func cgroupValue(t *testing.T, c *container, key string) string {
	t.Helper()
	read := func(parts ...string) string {
		p := filepath.Join(append([]string{"/sys/fs/cgroup"}, parts...)...)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("read %s: %v", p, err)
		}
		return strings.TrimSpace(string(b))
	}
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		dir := c.cgroupPath()
		switch key {
		case "memory":
			return read(dir, "memory.max")
		case "pids":
			return read(dir, "pids.max")
		case "cpu.quota", "cpu.period":
			f := strings.Fields(read(dir, "cpu.max"))
			if key == "cpu.quota" {
				return f[0]
			}
			return f[1]
		case "frozen":
			if read(dir, "cgroup.freeze") == "1" {
				return "FROZEN"
			}
			return "THAWED"
		}
	}
	switch key {
	case "memory":
		return read("memory", c.cgroupPath(), "memory.limit_in_bytes")
	case "pids":
		return read("pids", c.cgroupPath(), "pids.max")
	case "cpu.quota":
		return read("cpu", c.cgroupPath(), "cpu.cfs_quota_us")
	case "cpu.period":
		return read("cpu", c.cgroupPath(), "cpu.cfs_period_us")
	case "frozen":
		return read("freezer", c.cgroupPath(), "freezer.state")
	}
	t.Fatalf("cgroupValue: unknown key %q", key)
	return ""
}

func casePauseResume(t *testing.T, r *runtimeCLI) any {
	c, pid := startSleeper(t, r, nil)
	r.mustRun(t, "pause", c.id)
	paused := r.state(t, c.id).Status
	freezer := cgroupValue(t, c, "frozen")
	r.mustRun(t, "resume", c.id)
	resumed := r.state(t, c.id).Status
	if paused != "paused" || resumed != "running" {
		t.Errorf("%s: status after pause %q, after resume %q", r.name, paused, resumed)
	}
	if freezer != "FROZEN" {
		t.Errorf("%s: freezer.state while paused = %q, want FROZEN", r.name, freezer)
	}
	if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err != nil {
		t.Errorf("%s: init gone after resume: %v", r.name, err)
	}
	// Resuming a running container is an error.
	res := r.run(t, "resume", c.id)
	return []any{paused, freezer, resumed, res.Code != 0}
}

func caseUpdateLimits(t *testing.T, r *runtimeCLI) any {
	c, _ := startSleeper(t, r, nil)
	r.mustRun(t, "update", "--memory", "67108864", "--pids-limit", "20", "--cpu-quota", "50000", "--cpu-period", "100000", c.id)
	got := map[string]string{
		"memory": cgroupValue(t, c, "memory"),
		"pids":   cgroupValue(t, c, "pids"),
		"quota":  cgroupValue(t, c, "cpu.quota"),
		"period": cgroupValue(t, c, "cpu.period"),
	}
	want := map[string]string{"memory": "67108864", "pids": "20", "quota": "50000", "period": "100000"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: after update, %s = %q, want %q", r.name, k, got[k], v)
		}
	}
	return got
}

func caseEventsStats(t *testing.T, r *runtimeCLI) any {
	c, _ := startSleeper(t, r, func(s *specs.Spec) {
		lim := int64(64 << 20)
		s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &lim}
	})
	res := r.mustRun(t, "events", "--stats", c.id)
	var ev struct {
		Type string `json:"type"`
		ID   string `json:"id"`
		Data struct {
			Memory struct {
				Usage struct {
					Limit uint64 `json:"limit"`
					Usage uint64 `json:"usage"`
				} `json:"usage"`
			} `json:"memory"`
			Pids struct {
				Current uint64 `json:"current"`
			} `json:"pids"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(res.Stdout), &ev); err != nil {
		t.Fatalf("%s events --stats: %v: %q", r.name, err, res.Stdout)
	}
	if ev.Data.Memory.Usage.Usage == 0 || ev.Data.Pids.Current == 0 {
		t.Errorf("%s: stats show no usage: %s", r.name, res.Stdout)
	}
	// How many processes the cgroup holds at this instant depends on how
	// far the runtime's init has got (runc's start returns before its
	// init has exec'd): compare only that there are some.
	return []any{ev.Type, ev.ID == c.id, ev.Data.Memory.Usage.Limit, ev.Data.Pids.Current > 0}
}

func casePsJSON(t *testing.T, r *runtimeCLI) any {
	c, pid := startSleeper(t, r, nil)
	res := r.mustRun(t, "ps", "--format", "json", c.id)
	var pids []int
	if err := json.Unmarshal([]byte(res.Stdout), &pids); err != nil {
		t.Fatalf("%s ps: %v: %q", r.name, err, res.Stdout)
	}
	found := false
	for _, p := range pids {
		found = found || p == pid
	}
	if !found {
		t.Errorf("%s ps --format json = %v, want it to hold the init %d", r.name, pids, pid)
	}
	return []any{len(pids), found}
}

func caseExecEnvCwdUser(t *testing.T, r *runtimeCLI) any {
	c, _ := startSleeper(t, r, nil)
	res := r.mustRun(t, "exec", "--env", "FOO=bar", "--cwd", "/tmp", "--user", "65534:65534", c.id,
		"sh", "-c", `echo "$FOO $(pwd) $(id -u):$(id -g)"`)
	got := strings.TrimSpace(res.Stdout)
	if got != "bar /tmp 65534:65534" {
		t.Errorf("%s exec: got %q, want %q", r.name, got, "bar /tmp 65534:65534")
	}
	// A failing command's exit code comes back.
	code := r.run(t, "exec", c.id, "sh", "-c", "exit 5").Code
	if code != 5 {
		t.Errorf("%s exec 'exit 5': exit %d", r.name, code)
	}
	// An exec that cannot start exits 255, as runc's does.
	failed := r.run(t, "exec", c.id, "nosuch")
	if failed.Code != 255 || !strings.Contains(failed.Stderr, "nosuch") {
		t.Errorf("%s exec of a missing command: %s, want exit 255 naming it", r.name, failed)
	}
	return []any{got, code, failed.Code}
}

// caseExecProcessOOMScoreAdj: an exec'd process gets the container's
// oomScoreAdj (config.json's), as with runc; the exec's own process.json
// value is not used.
func caseExecProcessOOMScoreAdj(t *testing.T, r *runtimeCLI) any {
	c, _ := startSleeper(t, r, func(s *specs.Spec) {
		adj := 300
		s.Process.OOMScoreAdj = &adj
	})
	got := strings.TrimSpace(r.mustRun(t, "exec", c.id, "cat", "/proc/self/oom_score_adj").Stdout)
	if got != "300" {
		t.Errorf("%s exec in a container with oomScoreAdj 300: %q", r.name, got)
	}
	own := 500
	proc := specs.Process{Args: []string{"cat", "/proc/self/oom_score_adj"}, Cwd: "/", Env: []string{"PATH=/bin"}, OOMScoreAdj: &own}
	b, err := json.Marshal(proc)
	if err != nil {
		t.Fatal(err)
	}
	pf := filepath.Join(t.TempDir(), "process.json")
	if err := os.WriteFile(pf, b, 0o600); err != nil {
		t.Fatal(err)
	}
	withOwn := strings.TrimSpace(r.mustRun(t, "exec", "--process", pf, c.id).Stdout)
	return []string{got, withOwn}
}

func caseJoinNetNS(t *testing.T, r *runtimeCLI) any {
	_, pid := startSleeper(t, r, nil)
	path := "/proc/" + strconv.Itoa(pid) + "/ns/net"
	rep := runChecker(t, r, func(s *specs.Spec) {
		for i, ns := range s.Linux.Namespaces {
			if ns.Type == specs.NetworkNamespace {
				s.Linux.Namespaces[i].Path = path
			}
		}
	})
	want := nsInode(t, pid, "net")
	if rep.Namespaces["net"] != want {
		t.Errorf("%s: joined net namespace %d, want %d (%s)", r.name, rep.Namespaces["net"], want, path)
	}
	// The other namespaces are still new ones.
	same := rep.Namespaces["uts"] == nsInode(t, pid, "uts")
	if same {
		t.Errorf("%s: uts namespace shared although only net was joined", r.name)
	}
	return []any{rep.Namespaces["net"] == want, same}
}

// caseTightPidsLimit: a pids limit of 1 leaves room for the container's one
// process, also when a namespace is joined by path (as a daemon's
// containers join their network namespace), and an exec into a container at
// one task below its limit runs: the runtime's own threads are not the
// container's.
func caseTightPidsLimit(t *testing.T, r *runtimeCLI) any {
	_, pid := startSleeper(t, r, nil)
	var outs []string
	for _, joinNet := range []bool{false, true} {
		c := busyboxContainer(t, r, func(s *specs.Spec) {
			s.Linux.Resources.Pids = &specs.LinuxPids{Limit: ptr(int64(1))}
			for i, ns := range s.Linux.Namespaces {
				if joinNet && ns.Type == specs.NetworkNamespace {
					s.Linux.Namespaces[i].Path = "/proc/" + strconv.Itoa(pid) + "/ns/net"
				}
			}
		}, "sh", "-c", "echo ok")
		res := runContainer(t, r, c)
		if res.Code != 0 || strings.TrimSpace(res.Stdout) != "ok" {
			t.Errorf("%s run under pids.max 1 (net joined by path: %v): %s", r.name, joinNet, res)
		}
		outs = append(outs, strings.TrimSpace(res.Stdout))
	}
	c, _ := startSleeper(t, r, func(s *specs.Spec) {
		s.Linux.Resources.Pids = &specs.LinuxPids{Limit: ptr(int64(2))}
	})
	res := r.run(t, "exec", c.id, "sh", "-c", "echo exec")
	// runc's own Go threads join the container's cgroup before its exec
	// and may hit the limit ("pthread_create failed"): now and then on one
	// host, every time on a slower one. A limitation of the peer's,
	// retried and then left out of the comparison (berth's never do).
	for try := 0; try < 3 && r.name == "runc" && strings.Contains(res.Stderr, "pthread_create failed"); try++ {
		t.Logf("runc exec under pids.max 2 hit its own threads, again: %s", strings.SplitN(res.Stderr, "\n", 2)[0])
		res = r.run(t, "exec", c.id, "sh", "-c", "echo exec")
	}
	if r.name == "runc" && strings.Contains(res.Stderr, "pthread_create failed") {
		t.Skip("runc's exec under pids.max 2 hit its own threads four times in a row: runc's limitation, not compared")
	}
	if res.Code != 0 || strings.TrimSpace(res.Stdout) != "exec" {
		t.Errorf("%s exec under pids.max 2 with one task running: %s", r.name, res)
	}
	return append(outs, strings.TrimSpace(res.Stdout))
}

func caseNoHostFdLeak(t *testing.T, r *runtimeCLI) any {
	c := busyboxContainer(t, r, nil, "ls", "/proc/self/fd")
	// Give the runtime an extra open descriptor, as a careless caller
	// would: it must not reach the container (CVE-2024-21626).
	leak, err := os.Open(c.bundle)
	if err != nil {
		t.Fatal(err)
	}
	defer leak.Close()
	cmd := r.command(t.Context(), "run", "--bundle", c.bundle, c.id)
	cmd.ExtraFiles = []*os.File{leak}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s run: %v", r.name, err)
	}
	fds := strings.Fields(string(out))
	// 0, 1, 2 and ls's own descriptor of /proc/self/fd.
	if len(fds) != 4 {
		t.Errorf("%s: container sees descriptors %v, want only stdio and ls's own", r.name, fds)
	}
	return fds
}

var _ = testutil.RequireRoot

// TestRuntimeInitName: ps and top show a created container's init as
// berth:[init], from the C init and from the Go init alike, not as the
// number of the descriptor it was exec'd from; once started, the
// container's process has its own name.
func TestRuntimeInitName(t *testing.T) {
	for _, name := range []string{"berth", "berth-goinit"} {
		t.Run(name, func(t *testing.T) {
			r := newRuntime(t, name)
			c := busyboxContainer(t, r, nil, "sleep", "60")
			r.mustRun(t, "create", "--bundle", c.bundle, c.id)
			comm := func(pid int) string {
				b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
				if err != nil {
					t.Fatal(err)
				}
				return strings.TrimSpace(string(b))
			}
			pid := r.state(t, c.id).Pid
			if got := comm(pid); got != "berth:[init]" {
				t.Errorf("created init %d is named %q, want berth:[init]", pid, got)
			}
			r.mustRun(t, "start", c.id)
			r.waitStatus(t, c.id, "running", 5*time.Second)
			if got := comm(pid); got != "sleep" {
				t.Errorf("started process %d is named %q, want sleep", pid, got)
			}
		})
	}
}
