package engine

import (
	"os"
	"strings"
	"testing"
)

// --pid, --ipc and --uts host share the host's namespaces; --pid
// container:X and --ipc container:X (X shareable) share X's; a private
// donor's IPC is refused as dockerd refuses it.
func TestRunNamespaceModes(t *testing.T) {
	d := newDaemon(t)
	host := func(ns string) string {
		l, err := os.Readlink("/proc/self/ns/" + ns)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	out := d.mustDocker(t, "run", "--rm", "--pid", "host", "--ipc", "host", "--uts", "host", "busybox",
		"sh", "-c", "for n in pid ipc uts; do readlink /proc/self/ns/$n; done; hostname")
	hn, _ := os.Hostname()
	if want := host("pid") + "\n" + host("ipc") + "\n" + host("uts") + "\n" + hn + "\n"; out != want {
		t.Errorf("--pid/--ipc/--uts host: %q, want the host's %q", out, want)
	}
	d.mustDocker(t, "run", "-d", "--name", "donor", "--ipc", "shareable", "busybox", "sleep", "1000")
	d.mustDocker(t, "run", "-d", "--name", "private", "busybox", "sleep", "1000")
	t.Cleanup(func() { d.docker(t, "rm", "-f", "donor", "private") })
	donor := d.mustDocker(t, "exec", "donor", "sh", "-c", "for n in pid ipc; do readlink /proc/self/ns/$n; done")
	joined := d.mustDocker(t, "run", "--rm", "--pid", "container:donor", "--ipc", "container:donor", "busybox",
		"sh", "-c", "for n in pid ipc; do readlink /proc/self/ns/$n; done; ps -o args | grep -c '^sleep 1000'")
	if joined != donor+"1\n" {
		t.Errorf("--pid/--ipc container:donor: %q, want donor's namespaces %q and its sleep", joined, donor)
	}
	if _, errOut, err := d.docker(t, "run", "--rm", "--ipc", "container:private", "busybox", "true"); exitCode(err) != 125 || !strings.Contains(errOut, "non-shareable IPC") {
		t.Errorf("--ipc container:private: exit %d %s; want 125, non-shareable IPC", exitCode(err), errOut)
	}
	// The modes are stored with the other container's ID, as dockerd
	// stores them: a rename of the donor keeps the sharing.
	donorID := strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{.Id}}", "donor"))
	d.mustDocker(t, "create", "--name", "joiner", "--pid", "container:donor", "--ipc", "container:donor", "--network", "container:donor", "busybox", "sh", "-c", "readlink /proc/self/ns/pid")
	t.Cleanup(func() { d.docker(t, "rm", "-f", "joiner") })
	want := "container:" + donorID
	if got := d.mustDocker(t, "inspect", "-f", "{{.HostConfig.PidMode}} {{.HostConfig.IpcMode}} {{.HostConfig.NetworkMode}}", "joiner"); got != want+" "+want+" "+want+"\n" {
		t.Errorf("joiner's modes: %q, want %s for each", got, want)
	}
	d.mustDocker(t, "rename", "donor", "donor2")
	if out, errOut, err := d.docker(t, "start", "-a", "joiner"); err != nil || out != strings.SplitN(donor, "\n", 2)[0]+"\n" {
		t.Errorf("joiner after the donor's rename: %q %v %s; want the donor's PID namespace", out, err, errOut)
	}
	// A stopped donor: the start fails with dockerd's words.
	d.mustDocker(t, "create", "--name", "stopped", "busybox", "true")
	stoppedID := strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{.Id}}", "stopped"))
	_, errOut, err := d.docker(t, "run", "--rm", "--pid", "container:stopped", "busybox", "true")
	if exitCode(err) != 125 || !strings.Contains(errOut, "failed to join PID namespace: container "+stoppedID+" is not running") {
		t.Errorf("--pid container:stopped: exit %d %s; want 125 and dockerd's words", exitCode(err), errOut)
	}
	d.mustDocker(t, "rm", "stopped")
}

// /dev/shm follows the IPC mode, as with dockerd: a shareable container's
// is a tmpfs the engine mounts on the host while it runs, which containers
// joining its IPC namespace share; --ipc host has the host's /dev/shm,
// --ipc none none at all. Nothing stays mounted once the donor stopped.
func TestIpcShm(t *testing.T) {
	d := newDaemon(t)
	shmMounts := func() int {
		b, err := os.ReadFile("/proc/self/mountinfo")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) > 4 && strings.HasPrefix(f[4], d.DataRoot) && strings.HasSuffix(f[4], "/shm") {
				n++
			}
		}
		return n
	}
	d.mustDocker(t, "run", "-d", "--name", "donor", "--ipc", "shareable", "--shm-size", "8m", "busybox", "sleep", "1000")
	t.Cleanup(func() { d.docker(t, "rm", "-f", "donor") })
	d.mustDocker(t, "exec", "donor", "sh", "-c", "echo from-donor > /dev/shm/a")
	got := d.mustDocker(t, "run", "--rm", "--ipc", "container:donor", "busybox", "sh", "-c", "cat /dev/shm/a; echo from-joiner > /dev/shm/b")
	if got != "from-donor\n" {
		t.Errorf("joiner read %q from the donor's /dev/shm, want from-donor", got)
	}
	if got := d.mustDocker(t, "exec", "donor", "sh", "-c", "cat /dev/shm/b; df -k /dev/shm | tail -1"); !strings.HasPrefix(got, "from-joiner\n") || !strings.Contains(got, " 8192 ") {
		t.Errorf("donor's /dev/shm: %q, want the joiner's file and an 8 MiB tmpfs", got)
	}
	probe, err := os.CreateTemp("/dev/shm", "berth-test-*")
	if err != nil {
		t.Fatal(err)
	}
	probe.Close()
	defer os.Remove(probe.Name())
	if _, _, err := d.docker(t, "run", "--rm", "--ipc", "host", "busybox", "test", "-e", probe.Name()); err != nil {
		t.Errorf("--ipc host does not see the host's %s: %v", probe.Name(), err)
	}
	if got := d.mustDocker(t, "run", "--rm", "--ipc", "none", "busybox", "sh", "-c", "grep -c ' /dev/shm ' /proc/mounts; true"); got != "0\n" {
		t.Errorf("--ipc none: /dev/shm mounted %q times, want 0", got)
	}
	if n := shmMounts(); n != 1 {
		t.Errorf("%d shm mounts under the data root while the donor runs, want 1", n)
	}
	d.mustDocker(t, "stop", "-t", "1", "donor")
	if n := shmMounts(); n != 0 {
		t.Errorf("%d shm mounts under the data root after the donor stopped, want 0", n)
	}
}

// --group-add, the primary group among the groups, --oom-score-adj,
// --domainname and --entrypoint "" as dockerd has them.
func TestRunUserGroupsAndProcessSettings(t *testing.T) {
	d := newDaemon(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"busybox", "id"}, "uid=0(root) gid=0(root) groups=0(root),10(wheel)\n"},
		{[]string{"-u", "1000:1000", "busybox", "id"}, "uid=1000 gid=1000 groups=1000\n"},
		{[]string{"-u", "nobody", "--group-add", "29", "--group-add", "wheel", "busybox", "id"}, "uid=65534(nobody) gid=65534(nogroup) groups=10(wheel),29(audio),65534(nogroup)\n"},
		{[]string{"--oom-score-adj", "500", "busybox", "cat", "/proc/self/oom_score_adj"}, "500\n"},
		{[]string{"--domainname", "example.org", "busybox", "cat", "/proc/sys/kernel/domainname"}, "example.org\n"},
		{[]string{"--entrypoint", "", "busybox", "echo", "x"}, "x\n"},
	} {
		out, errOut, err := d.docker(t, append([]string{"run", "--rm"}, c.args...)...)
		if err != nil || out != c.want {
			t.Errorf("run %v: %q %v %s; want %q", c.args, out, err, errOut, c.want)
		}
	}
	// An exec has the container's --oom-score-adj.
	d.mustDocker(t, "run", "-d", "--name", "oom", "--oom-score-adj", "300", "busybox", "sleep", "300")
	if out := d.mustDocker(t, "exec", "oom", "cat", "/proc/self/oom_score_adj"); out != "300\n" {
		t.Errorf("exec in a --oom-score-adj 300 container: %q, want 300", out)
	}
	// An exec has the container's --group-add groups too, as its own
	// user's.
	d.mustDocker(t, "run", "-d", "--name", "ga", "--group-add", "wheel", "--group-add", "777", "busybox", "sleep", "300")
	for args, want := range map[string]string{"": "uid=0(root) gid=0(root) groups=0(root),10(wheel),777\n", "nobody": "uid=65534(nobody) gid=65534(nogroup) groups=10(wheel),777,65534(nogroup)\n"} {
		ex := []string{"exec"}
		if args != "" {
			ex = append(ex, "-u", args)
		}
		if out, errOut, err := d.docker(t, append(ex, "ga", "id")...); err != nil || out != want {
			t.Errorf("exec -u %q id in a --group-add container: %q %v %s; want %q", args, out, err, errOut, want)
		}
	}
	if _, errOut, err := d.docker(t, "run", "--rm", "--group-add", "nosuchgrp", "busybox", "true"); err == nil || !strings.Contains(errOut, "Unable to find group nosuchgrp") {
		t.Errorf("--group-add nosuchgrp: %v %s", err, errOut)
	}
	if _, errOut, err := d.docker(t, "run", "--rm", "--entrypoint", "", "busybox"); exitCode(err) != 125 || !strings.Contains(errOut, "no command specified") {
		t.Errorf("--entrypoint \"\" without a command: exit %d %s", exitCode(err), errOut)
	}
}

// A parent mount is mounted before what goes below it, whatever the
// order of -v; /etc/hosts and friends go over a volume on /etc.
func TestRunMountOrder(t *testing.T) {
	d := newDaemon(t)
	t.Cleanup(func() { d.docker(t, "volume", "rm", "-f", "mo-sub", "mo-data", "mo-etc") })
	out, errOut, err := d.docker(t, "run", "--rm", "-v", "mo-sub:/data/sub", "-v", "mo-data:/data", "busybox",
		"sh", "-c", "touch /data/sub/f && echo ok")
	if err != nil || out != "ok\n" {
		t.Errorf("-v mo-sub:/data/sub -v mo-data:/data: %q %v %s", out, err, errOut)
	}
	out, errOut, err = d.docker(t, "run", "--rm", "--hostname", "hn1", "-v", "mo-etc:/etc", "busybox", "cat", "/etc/hostname")
	if err != nil || out != "hn1\n" {
		t.Errorf("-v mo-etc:/etc: /etc/hostname %q %v %s; want hn1", out, err, errOut)
	}
}

// /.dockerenv is there, as in dockerd's containers, and neither diff nor
// commit shows it.
func TestDockerenv(t *testing.T) {
	d := newDaemon(t)
	d.mustDocker(t, "run", "-d", "--name", "denv", "busybox", "sleep", "1000")
	t.Cleanup(func() { d.docker(t, "rm", "-f", "denv") })
	if out := d.mustDocker(t, "exec", "denv", "sh", "-c", "test -f /.dockerenv && stat -c %a /.dockerenv"); out != "755\n" {
		t.Errorf("/.dockerenv in the container: %q, want a file of mode 755 as dockerd's", out)
	}
	if diff := d.mustDocker(t, "diff", "denv"); strings.Contains(diff, "dockerenv") {
		t.Errorf("docker diff shows it: %q", diff)
	}
	d.mustDocker(t, "commit", "denv", "denv-img")
	if out, _, _ := d.docker(t, "run", "--rm", "--entrypoint", "", "denv-img", "ls", "-a", "/"); !strings.Contains(out, ".dockerenv") {
		t.Errorf("a container of the committed image lacks its own /.dockerenv: %q", out)
	}
}

// --cgroup-parent puts the container's cgroup below that directory.
func TestCgroupParent(t *testing.T) {
	if _, err := os.Stat("/sys/fs/cgroup/pids"); err != nil {
		t.Skip("needs the cgroup v1 pids controller")
	}
	d := newDaemon(t)
	id := strings.TrimSpace(d.mustDocker(t, "run", "-d", "--cgroup-parent", "/berth-test-parent", "busybox", "sleep", "1000"))
	t.Cleanup(func() {
		d.docker(t, "rm", "-f", id)
		for _, c := range []string{"pids", "memory", "cpu", "cpuacct", "cpuset", "devices", "freezer", "blkio", "systemd", "unified"} {
			os.Remove("/sys/fs/cgroup/" + c + "/berth-test-parent")
		}
	})
	if _, err := os.Stat("/sys/fs/cgroup/pids/berth-test-parent/" + id); err != nil {
		t.Errorf("cgroup below --cgroup-parent: %v", err)
	}
	if out := d.mustDocker(t, "exec", id, "cat", "/proc/self/cgroup"); !strings.Contains(out, "/berth-test-parent/"+id) {
		t.Errorf("/proc/self/cgroup: %q", out)
	}
}

// What this host cannot give is refused at create with dockerd's words.
func TestRunRefusesUnsupported(t *testing.T) {
	d := newDaemon(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--log-opt", "bogus=1"}, "unknown log opt 'bogus' for json-file log driver"},
		{[]string{"--storage-opt", "size=1G"}, "--storage-opt is supported only for overlay over xfs"},
		{[]string{"--gpus", "all"}, "could not select device driver"},
	} {
		_, errOut, err := d.docker(t, append(append([]string{"run", "--rm"}, c.args...), "busybox", "true")...)
		if exitCode(err) != 125 || !strings.Contains(errOut, c.want) {
			t.Errorf("run %v: exit %d %q; want 125, %q", c.args, exitCode(err), errOut, c.want)
		}
	}
	if out, errOut, err := d.docker(t, "run", "--rm", "--log-opt", "max-size=1m", "--log-opt", "tag=x", "busybox", "echo", "ok"); err != nil || out != "ok\n" {
		t.Errorf("run with json-file's options: %q %v %s", out, err, errOut)
	}
}

// logs --details puts the entry's attributes (none here) and a space
// before each line, as dockerd does.
func TestLogsDetails(t *testing.T) {
	d := newDaemon(t)
	d.mustDocker(t, "run", "--name", "ld", "busybox", "sh", "-c", "echo one; echo two")
	t.Cleanup(func() { d.docker(t, "rm", "-f", "ld") })
	if out := d.mustDocker(t, "logs", "--details", "ld"); out != " one\n two\n" {
		t.Errorf("logs --details: %q", out)
	}
	if out := d.mustDocker(t, "logs", "ld"); out != "one\ntwo\n" {
		t.Errorf("logs: %q", out)
	}
}
