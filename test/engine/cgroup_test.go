package engine

import (
	"context"
	"fmt"
	"github.com/berth/berth/internal/testutil"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// cgroupFile reads a v1 controller file of container id (this machine's
// hybrid layout; the cgroup2-only VM reads cgroup2 files instead).
func cgroupFile(t *testing.T, ctrl, id, file string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", ctrl, "berth", id, file))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestLimitsPauseTopStatsUpdate(t *testing.T) {
	if _, err := os.Stat("/sys/fs/cgroup/memory/memory.limit_in_bytes"); err != nil {
		t.Skip("needs cgroup v1 controllers")
	}
	d := newDaemon(t)
	id := strings.TrimSpace(d.mustDocker(t, "run", "-d", "--name", "lim", "--memory", "64m", "--cpus", "0.5",
		"--cpu-shares", "512", "--cpuset-cpus", "0", "--pids-limit", "50", "--ulimit", "nofile=1024:2048",
		"busybox", "sh", "-c", "ulimit -n; ulimit -Hn; sleep 300"))
	for _, c := range []struct{ ctrl, file, want string }{
		{"memory", "memory.limit_in_bytes", "67108864"},
		{"cpu", "cpu.cfs_quota_us", "50000"},
		{"cpu", "cpu.shares", "512"},
		{"cpuset", "cpuset.cpus", "0"},
		{"pids", "pids.max", "50"},
	} {
		if got := cgroupFile(t, c.ctrl, id, c.file); got != c.want {
			t.Errorf("%s/%s = %q, want %q", c.ctrl, c.file, got, c.want)
		}
	}
	// run -d returns once the process started, maybe before the shell
	// has printed: wait for its two lines.
	out := ""
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if out = d.mustDocker(t, "logs", "lim"); strings.Count(out, "\n") >= 2 {
			break
		}
	}
	if out != "1024\n2048\n" {
		t.Errorf("--ulimit nofile=1024:2048: the container saw %q", out)
	}

	top := d.mustDocker(t, "top", "lim")
	if !strings.Contains(top, "PID") || !strings.Contains(top, "sleep 300") {
		t.Errorf("top: %q", top)
	}
	raw := d.mustDocker(t, "stats", "--no-stream", "--format", "{{json .}}", "lim")
	if !strings.Contains(raw, `"Name":"lim"`) || !strings.Contains(raw, "64MiB") {
		t.Errorf("stats --no-stream: %q", raw)
	}
	resp := d.mustDocker(t, "inspect", "-f", "{{json .HostConfig.Memory}}", "lim")
	if strings.TrimSpace(resp) != "67108864" {
		t.Errorf("HostConfig.Memory %q", resp)
	}

	d.mustDocker(t, "update", "--memory", "128m", "--memory-swap", "256m", "--pids-limit", "60", "lim")
	if got := cgroupFile(t, "memory", id, "memory.limit_in_bytes"); got != "134217728" {
		t.Errorf("after update --memory 128m: %s", got)
	}
	if got := cgroupFile(t, "pids", id, "pids.max"); got != "60" {
		t.Errorf("after update --pids-limit 60: %s", got)
	}
	// Limits taken off: a quota of -1, a pids limit of -1 (recorded as 0,
	// as dockerd records it).
	qid := strings.TrimSpace(d.mustDocker(t, "run", "-d", "--cpu-quota", "20000", "--pids-limit", "50", "busybox", "sleep", "300"))
	if got := cgroupFile(t, "cpu", qid, "cpu.cfs_quota_us"); got != "20000" {
		t.Errorf("--cpu-quota 20000: %s", got)
	}
	d.mustDocker(t, "update", "--cpu-quota", "-1", "--pids-limit", "-1", qid)
	if got := cgroupFile(t, "cpu", qid, "cpu.cfs_quota_us"); got != "-1" {
		t.Errorf("after update --cpu-quota -1: %s", got)
	}
	if got := cgroupFile(t, "pids", qid, "pids.max"); got != "max" {
		t.Errorf("after update --pids-limit -1: %s", got)
	}
	if got := strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{.HostConfig.CPUQuota}} {{.HostConfig.PidsLimit}}", qid)); got != "-1 0" {
		t.Errorf("inspect after the limits were taken off: %q, want \"-1 0\"", got)
	}
	d.mustDocker(t, "rm", "-f", qid)
	// What an update cannot change given what is set, in dockerd's words:
	// lim has --cpus (NanoCPUs) and a 256m swap limit.
	for args, want := range map[string]string{
		"--cpu-quota 20000":  "CPU Quota cannot be updated as NanoCPUs has already been set",
		"--cpu-period 50000": "CPU Period cannot be updated as NanoCPUs has already been set",
		"--memory 512m":      "Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time",
	} {
		_, errOut, err := d.docker(t, append(append([]string{"update"}, strings.Fields(args)...), "lim")...)
		if err == nil || !strings.Contains(errOut, want) {
			t.Errorf("update %s: %v %q, want %q", args, err, errOut, want)
		}
	}

	d.mustDocker(t, "pause", "lim")
	if got := cgroupFile(t, "freezer", id, "freezer.state"); got != "FROZEN" {
		t.Errorf("freezer after pause: %s", got)
	}
	if ps := d.mustDocker(t, "ps", "--format", "{{.Status}}"); !strings.Contains(ps, "(Paused)") {
		t.Errorf("ps after pause: %q", ps)
	}
	if _, errOut, err := d.docker(t, "pause", "lim"); err == nil || !strings.Contains(errOut, "already paused") {
		t.Errorf("second pause: %v %s", err, errOut)
	}
	d.mustDocker(t, "unpause", "lim")
	if got := cgroupFile(t, "freezer", id, "freezer.state"); got != "THAWED" {
		t.Errorf("freezer after unpause: %s", got)
	}
	// kill of a paused container ends it, as dockerd's does.
	d.mustDocker(t, "pause", "lim")
	d.mustDocker(t, "kill", "lim")
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{.State.Status}} {{.State.Paused}} {{.State.ExitCode}}", "lim"))
		if st == "exited false 137" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after kill of the paused container: state %q, want exited false 137", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	d.mustDocker(t, "rm", "-f", "lim")
	if _, err := os.Stat(filepath.Join("/sys/fs/cgroup/memory/berth", id)); !os.IsNotExist(err) {
		t.Errorf("cgroup left after rm -f: %v", err)
	}
}

func TestOOMKilled(t *testing.T) {
	if _, err := os.Stat("/sys/fs/cgroup/memory/memory.limit_in_bytes"); err != nil {
		t.Skip("needs cgroup v1 controllers")
	}
	d := newDaemon(t)
	_, _, err := d.docker(t, "run", "--name", "oom", "--memory", "8m", "busybox", "sh", "-c", "head -c 100m /dev/zero | tail > /dev/null")
	if exitCode(err) != 137 {
		t.Fatalf("exit code %d, want 137 (killed)", exitCode(err))
	}
	if st := strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{.State.OOMKilled}} {{.State.ExitCode}}", "oom")); st != "true 137" {
		t.Fatalf("state %q, want OOMKilled", st)
	}
	if ev := d.mustDocker(t, "events", "--since", "1", "--until", fmt.Sprint(time.Now().Unix()+1), "--filter", "event=oom", "--format", "{{.Actor.Attributes.name}}"); strings.TrimSpace(ev) != "oom" {
		t.Fatalf("oom event: %q", ev)
	}
}

// TestDeviceRulesAndBlkio: --device-cgroup-rule adds to the container's
// device allow list, --device-read-bps and --device-write-iops limit a
// block device, and --blkio-weight where the host has no weight is
// dropped with dockerd's warning; bad values get dockerd's errors.
func TestDeviceRulesAndBlkio(t *testing.T) {
	if _, err := os.Stat("/sys/fs/cgroup/devices/devices.list"); err != nil {
		t.Skip("no cgroup v1 devices controller")
	}
	dev := ""
	for _, name := range []string{"vda", "sda", "nvme0n1", "xvda", "loop0"} {
		if _, err := os.Stat("/dev/" + name); err == nil {
			dev = "/dev/" + name
			break
		}
	}
	var st unix.Stat_t
	if dev == "" || unix.Stat(dev, &st) != nil {
		t.Skip("no block device to limit")
	}
	numbers := fmt.Sprintf("%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
	d := newDaemon(t)
	id := strings.TrimSpace(d.mustDocker(t, "run", "-d", "--device-cgroup-rule", "c 42:* rmw",
		"--device-read-bps", dev+":1mb", "--device-write-iops", dev+":100", "busybox", "sleep", "300"))
	if got := cgroupFile(t, "devices", id, "devices.list"); !strings.Contains(got, "c 42:* rwm") {
		t.Errorf("devices.list lacks the rule c 42:* rwm:\n%s", got)
	}
	if _, err := os.Stat("/sys/fs/cgroup/blkio/blkio.throttle.read_bps_device"); err == nil {
		if got := cgroupFile(t, "blkio", id, "blkio.throttle.read_bps_device"); !strings.Contains(got, numbers+" 1048576") {
			t.Errorf("blkio.throttle.read_bps_device: %q, want %s 1048576", got, numbers)
		}
		if got := cgroupFile(t, "blkio", id, "blkio.throttle.write_iops_device"); !strings.Contains(got, numbers+" 100") {
			t.Errorf("blkio.throttle.write_iops_device: %q, want %s 100", got, numbers)
		}
	}
	if _, err := os.Stat("/sys/fs/cgroup/blkio/blkio.weight"); os.IsNotExist(err) {
		if _, errOut, err := d.docker(t, "run", "--rm", "--blkio-weight", "300", "busybox", "true"); err != nil ||
			!strings.Contains(errOut, "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.") {
			t.Errorf("--blkio-weight without the host's weight: %v %q", err, errOut)
		}
	}
	for args, want := range map[string]string{
		"--blkio-weight 5":                  "Range of blkio weight is from 10 to 1000",
		"--device-read-bps /dev/nosuch:1mb": "no such file or directory",
		"--isolation hyperv":                "on Linux only 'default' is supported",
	} {
		full := append([]string{"run", "--rm"}, strings.Fields(args)...)
		if _, errOut, err := d.docker(t, append(full, "busybox", "true")...); err == nil || !strings.Contains(errOut, want) {
			t.Errorf("run %s: %v %q, want %q", args, err, errOut, want)
		}
	}
}

// TestCPUPeriodSwappinessOOMKillDisable: --cpu-period alone,
// --memory-swappiness and --oom-kill-disable reach the cgroup, as dockerd
// writes them (they were shown by inspect and not applied).
func TestCPUPeriodSwappinessOOMKillDisable(t *testing.T) {
	if _, err := os.Stat("/sys/fs/cgroup/memory/memory.swappiness"); err != nil {
		t.Skip("needs the cgroup v1 memory controller")
	}
	d := newDaemon(t)
	id := strings.TrimSpace(d.mustDocker(t, "run", "-d", "--cpu-period", "50000", "--memory-swappiness", "0",
		"--oom-kill-disable", "-m", "64m", "busybox", "sleep", "300"))
	t.Cleanup(func() { d.docker(t, "rm", "-f", id) })
	if got := cgroupFile(t, "cpu", id, "cpu.cfs_period_us"); got != "50000" {
		t.Errorf("cpu.cfs_period_us = %q, want 50000", got)
	}
	if got := cgroupFile(t, "memory", id, "memory.swappiness"); got != "0" {
		t.Errorf("memory.swappiness = %q, want 0", got)
	}
	if got := cgroupFile(t, "memory", id, "memory.oom_control"); !strings.Contains(got, "oom_kill_disable 1") {
		t.Errorf("memory.oom_control = %q, want oom_kill_disable 1", got)
	}
	if _, errOut, err := d.docker(t, "run", "--rm", "--memory-reservation", "1k", "busybox", "true"); exitCode(err) != 125 || !strings.Contains(errOut, "Minimum memory reservation allowed is 6MB") {
		t.Errorf("--memory-reservation 1k: exit %d %s", exitCode(err), errOut)
	}
}

// TestKillWithStuckExec: docker kill of a container stalled at its memory
// limit with the OOM killer off, while an exec into it is stuck, kills it
// at once (the kill waited behind the exec's setup for minutes).
func TestKillWithStuckExec(t *testing.T) {
	if _, err := os.Stat("/sys/fs/cgroup/memory/memory.oom_control"); err != nil {
		t.Skip("needs the cgroup v1 memory controller")
	}
	d := newDaemon(t)
	since := time.Now().Unix()
	id := strings.TrimSpace(d.mustDocker(t, "run", "-d", "--oom-kill-disable", "-m", "10m", "busybox", "sh", "-c", "x=a; while true; do x=$x$x$x$x; done"))
	t.Cleanup(func() { d.docker(t, "rm", "-f", id) })
	waitFor(t, "the container to stall at its limit", func() bool {
		return strings.Contains(cgroupFile(t, "memory", id, "memory.oom_control"), "under_oom 1")
	})
	// Stalled, not killed: it runs on, and the "oom" event came, as
	// dockerd reports it (moby's TestEventsOOMDisableTrue).
	waitFor(t, "the oom event", func() bool {
		out := d.mustDocker(t, "events", "--since", fmt.Sprint(since), "--until", fmt.Sprint(time.Now().Unix()+1),
			"--filter", "container="+id, "--filter", "event=oom", "--format", "{{.Action}}")
		return strings.Contains(out, "oom")
	})
	if st := strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{.State.Status}}", id)); st != "running" {
		t.Errorf("a container stalled with --oom-kill-disable is %s, want running", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	stuck := exec.CommandContext(ctx, dockerCLI(t), "-H", d.Host, "exec", id, "true")
	if err := stuck.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = stuck.Wait() }()
	time.Sleep(time.Second)
	start := time.Now()
	res, err := d.RunErr(dockerCLI(t), testutil.RunOptions{Timeout: 20 * time.Second}, "kill", id)
	if err != nil || res.Err != nil || time.Since(start) > 10*time.Second {
		t.Fatalf("kill with a stuck exec: %v %v after %s", err, res, time.Since(start))
	}
	waitFor(t, "the container to exit", func() bool {
		return strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{.State.Status}}", id)) == "exited"
	})
}
