package engine

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// These are what a Docker user hit in a first session with berth and the
// docker CLI; each asserts what dockerd 20.10 with runc shows.

// TestWorkdirMissingInImage: a working directory the image lacks (run -w,
// an image's WORKDIR) is made, 0755, as runc makes it.
func TestWorkdirMissingInImage(t *testing.T) {
	d := newDaemon(t)
	if out := d.mustDocker(t, "run", "--rm", "-w", "/newdir/sub", "busybox", "sh", "-c", "pwd; stat -c %a /newdir"); out != "/newdir/sub\n755\n" {
		t.Errorf("run -w /newdir/sub: %q, want the directory made 0755", out)
	}
	d.mustDocker(t, "create", "--name", "wdbase", "busybox")
	d.mustDocker(t, "commit", "--change", "WORKDIR /app", "wdbase", "wd:app")
	if out := d.mustDocker(t, "run", "--rm", "wd:app", "pwd"); out != "/app\n" {
		t.Errorf("run of an image with WORKDIR /app: %q", out)
	}
	// A relative one is refused at create, as dockerd does (docker create
	// exits 1 on a daemon error, docker run 125), and nothing is created.
	_, errOut, err := d.docker(t, "create", "--name", "rel", "-w", "rel", "busybox")
	if code := exitCode(err); code != 1 || !strings.Contains(errOut, "the working directory 'rel' is invalid, it needs to be an absolute path") {
		t.Errorf("create -w rel: exit %d, stderr %q", code, errOut)
	}
	if out := d.mustDocker(t, "ps", "-aq", "--filter", "name=rel"); out != "" {
		t.Errorf("create -w rel left a container: %q", out)
	}
}

// TestConsoleSizeBeforeStart: a terminal has the client's size before the
// process starts (HostConfig.ConsoleSize, exec's ConsoleSize), with no
// resize call after: the Engine API alone, then the docker CLI on a
// terminal as the user runs it.
func TestConsoleSizeBeforeStart(t *testing.T) {
	d := newDaemon(t)
	c := d.client(t)
	ctx := context.Background()
	cr, err := c.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config:     &container.Config{Image: "busybox", Tty: true, Cmd: []string{"stty", "size"}},
		HostConfig: &container.HostConfig{ConsoleSize: [2]uint{30, 100}},
	})
	if err != nil {
		t.Fatal(err)
	}
	wr := c.ContainerWait(ctx, cr.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
	if _, err := c.ContainerStart(ctx, cr.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	if code := waitCode(t, wr); code != 0 {
		t.Errorf("stty size exited %d", code)
	}
	if out := d.mustDocker(t, "logs", cr.ID); strings.TrimSpace(out) != "30 100" {
		t.Errorf("stty size in a container created with ConsoleSize [30,100]: %q", out)
	}

	d.mustDocker(t, "run", "-d", "--name", "sz", "busybox", "sleep", "300")
	execSize := func(start client.ConsoleSize) string {
		t.Helper()
		ex, err := c.ExecCreate(ctx, "sz", client.ExecCreateOptions{
			TTY: true, AttachStdout: true, Cmd: []string{"stty", "size"},
			ConsoleSize: client.ConsoleSize{Height: 30, Width: 100},
		})
		if err != nil {
			t.Fatal(err)
		}
		at, err := c.ExecAttach(ctx, ex.ID, client.ExecAttachOptions{TTY: true, ConsoleSize: start})
		if err != nil {
			t.Fatal(err)
		}
		defer at.Close()
		_ = at.Conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		out, _ := io.ReadAll(at.Reader)
		return strings.TrimSpace(string(out))
	}
	if out := execSize(client.ConsoleSize{}); out != "30 100" {
		t.Errorf("exec created with ConsoleSize [30,100]: stty size %q", out)
	}
	if out := execSize(client.ConsoleSize{Height: 40, Width: 120}); out != "40 120" {
		t.Errorf("exec started with ConsoleSize [40,120] (created with [30,100]): stty size %q", out)
	}

	script, err := exec.LookPath("script")
	if err != nil {
		t.Skip("script(1) is not installed: the docker CLI case is skipped")
	}
	for _, cmdline := range []string{"run -it --rm busybox stty size", "exec -it sz stty size"} {
		cmd := exec.Command(script, "-qec", "stty rows 30 cols 100; "+dockerCLI(t)+" -H "+d.Host+" "+cmdline, "/dev/null")
		cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+filepath.Join(d.Dir, "docker-config"))
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "30 100") {
			t.Errorf("docker %s on a 30x100 terminal: %v, output %q", cmdline, err, out)
		}
	}
}

// TestHealthAfterDaemonRestart: health checks keep passing after the daemon
// restarts (their exec IDs must not collide with those the container's shim
// remembers from before), and the container keeps running meanwhile (live
// restore, which `docker info` reports).
func TestHealthAfterDaemonRestart(t *testing.T) {
	d := newDaemon(t)
	if out := d.mustDocker(t, "info", "--format", "{{.LiveRestoreEnabled}}"); out != "true\n" {
		t.Errorf("info LiveRestoreEnabled %q, want true: containers outlive the daemon", out)
	}
	d.mustDocker(t, "run", "-d", "--name", "hc", "--health-cmd", "test -f /ok", "--health-interval", "200ms",
		"busybox", "sh", "-c", "touch /ok; sleep 300")
	type state struct {
		Pid    int
		Health struct {
			Status string
			Log    []struct {
				Start    time.Time
				ExitCode int
				Output   string
			}
		}
	}
	inspect := func() state {
		var st state
		if err := json.Unmarshal([]byte(d.mustDocker(t, "inspect", "-f", "{{json .State}}", "hc")), &st); err != nil {
			t.Fatal(err)
		}
		return st
	}
	waitFor(t, "healthy with 3 checks", func() bool { st := inspect(); return st.Health.Status == "healthy" && len(st.Health.Log) >= 3 })
	before := inspect().Pid
	d.Stop(t)
	restarted := time.Now()
	d.Start(t)
	if st := inspect(); st.Pid != before {
		t.Fatalf("container pid %d after the daemon restart, was %d", st.Pid, before)
	}
	var after int
	waitFor(t, "3 checks after the restart", func() bool {
		after = 0
		for _, l := range inspect().Health.Log {
			if l.Start.After(restarted) {
				after++
			}
		}
		return after >= 3
	})
	st := inspect()
	for _, l := range st.Health.Log {
		if l.Start.After(restarted) && l.ExitCode != 0 {
			t.Errorf("check at %s after the restart: exit %d, output %q", l.Start.Format(time.StampMilli), l.ExitCode, l.Output)
		}
	}
	if st.Health.Status != "healthy" {
		t.Errorf("health %q after the restart", st.Health.Status)
	}
}

// TestBindSourceMissing: -v makes a missing host directory (0755); --mount
// refuses it at create, exit 125, naming the path, and makes nothing.
func TestBindSourceMissing(t *testing.T) {
	d := newDaemon(t)
	src := filepath.Join(d.Dir, "absent", "dir")
	d.mustDocker(t, "run", "--rm", "-v", src+":/y", "busybox", "touch", "/y/f")
	if st, err := os.Stat(src); err != nil || st.Mode().Perm() != 0o755 || !st.IsDir() {
		t.Fatalf("-v %s: host directory %v, %v; want made 0755", src, st, err)
	}
	if _, err := os.Stat(filepath.Join(src, "f")); err != nil {
		t.Errorf("file written through the -v bind: %v", err)
	}
	absent := filepath.Join(d.Dir, "absent2")
	_, errOut, err := d.docker(t, "run", "--rm", "--mount", "type=bind,src="+absent+",dst=/y", "busybox", "true")
	if code := exitCode(err); code != 125 || !strings.Contains(errOut, "bind source path does not exist: "+absent) {
		t.Errorf("run --mount of a missing source: exit %d, stderr %q; want 125 naming the path", code, errOut)
	}
	if _, err := os.Stat(absent); !os.IsNotExist(err) {
		t.Errorf("--mount made its missing source %s: %v", absent, err)
	}
}

// TestExecEnvironment: an exec has the container's environment as dockerd
// gives it: default PATH, HOSTNAME, TERM for an exec's terminal, then the
// container's variables, the exec's replacing them in place.
func TestExecEnvironment(t *testing.T) {
	d := newDaemon(t)
	d.mustDocker(t, "run", "-d", "--name", "envc", "--hostname", "hh", "-e", "A=1", "busybox", "sleep", "300")
	const path = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"exec", "envc", "env"}, path + "HOSTNAME=hh\nA=1\nHOME=/root\n"},
		{[]string{"exec", "-e", "A=2", "-e", "B=3", "envc", "env"}, path + "HOSTNAME=hh\nA=2\nB=3\nHOME=/root\n"},
		{[]string{"exec", "-t", "envc", "env"}, path + "HOSTNAME=hh\nTERM=xterm\nA=1\nHOME=/root\n"},
		{[]string{"run", "--rm", "-e", "A=1", "-e", "HOSTNAME=x", "busybox", "env"}, path + "HOSTNAME=x\nA=1\nHOME=/root\n"},
	} {
		out := strings.ReplaceAll(d.mustDocker(t, tc.args...), "\r\n", "\n")
		if out != tc.want {
			t.Errorf("docker %s:\n%s\nwant:\n%s", strings.Join(tc.args, " "), out, tc.want)
		}
	}
	// An unknown user or group fails the exec's create (400), as with
	// dockerd since 25.0: the CLI says so and exits 1.
	for user, want := range map[string]string{
		"nosuchuser":    "Error response from daemon: unable to find user nosuchuser: no matching entries in passwd file",
		"nosuchuser:1":  "Error response from daemon: unable to find user nosuchuser: no matching entries in passwd file",
		"1:nosuchgroup": "Error response from daemon: unable to find group nosuchgroup: no matching entries in group file",
	} {
		_, errOut, err := d.docker(t, "exec", "-u", user, "envc", "true")
		if code := exitCode(err); code != 1 || !strings.Contains(errOut, want) {
			t.Errorf("exec -u %s: exit %d, stderr %q; want 1 and %q", user, code, errOut, want)
		}
	}
}

// TestDiffLeavesOutEtcMounts: the files the engine mounts into /etc
// (hostname, hosts, resolv.conf) are not changes of the container.
func TestDiffLeavesOutEtcMounts(t *testing.T) {
	d := newDaemon(t)
	d.mustDocker(t, "run", "-d", "--name", "df", "busybox", "sleep", "300")
	d.mustDocker(t, "exec", "df", "touch", "/x")
	if out := d.mustDocker(t, "diff", "df"); out != "A /x\n" {
		t.Errorf("diff: %q, want only A /x", out)
	}
}

// TestCrunRuntime: --runtime crun works with Debian 12's crun 1.8.1, which
// refuses an ociVersion above 1.1 ("unknown version specified"), and whose
// container init inherits crun's descriptors (the shim's ready pipe held the
// daemon's start open). crun refuses hybrid cgroups, so the daemon runs in a
// private mount namespace without /sys/fs/cgroup/unified, as
// MACHINE-FACTS.md describes.
func TestCrunRuntime(t *testing.T) {
	for _, bin := range []string{"crun", "unshare"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s is not installed (hack/install-deps.sh)", bin)
		}
	}
	d := newDaemon(t)
	d.Stop(t)
	d.SetWrap([]string{"unshare", "-m", "--propagation", "private", "sh", "-c",
		`umount /sys/fs/cgroup/unified 2>/dev/null; exec "$0" "$@"`})
	d.Start(t)
	// A hang (the daemon never hearing from the shim) fails in a minute.
	docker := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, dockerCLI(t), append([]string{"-H", d.Host}, args...)...)
		cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+filepath.Join(d.Dir, "docker-config"))
		out, err := cmd.Output()
		if err != nil {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			t.Fatalf("docker %s: %v (context: %v)\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, ctx.Err(), out, stderr)
		}
		return string(out)
	}
	if out := docker("run", "--rm", "--runtime", "crun", "-w", "/wd", "busybox", "sh", "-c", "pwd; echo from crun"); out != "/wd\nfrom crun\n" {
		t.Errorf("run --runtime crun: %q", out)
	}
	docker("run", "-d", "--name", "cr", "--runtime", "crun", "--hostname", "hc", "busybox", "sleep", "300")
	if out := docker("exec", "cr", "env"); !strings.Contains(out, "\nHOSTNAME=hc\n") {
		t.Errorf("exec env in a crun container: %q lacks HOSTNAME=hc", out)
	}
	if out := docker("inspect", "-f", "{{.HostConfig.Runtime}} {{.State.Status}}", "cr"); out != "crun running\n" {
		t.Errorf("inspect: %q", out)
	}
}

// TestCreateNamesMissingContainer: a create naming a container or network
// that does not exist fails with dockerd's message and exit 125, and the
// docker CLI does not take it for a missing image (it pulls on a 404 from
// create). The image is named after a registry on a closed loopback port,
// so a regression cannot reach out.
func TestCreateNamesMissingContainer(t *testing.T) {
	d := newDaemon(t)
	d.mustDocker(t, "tag", "busybox", "127.0.0.1:1/bb")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--volumes-from", "nosuch"}, "No such container: nosuch"},
		{[]string{"--network", "container:nosuch"}, "No such container: nosuch"},
		{[]string{"--network", "nosuchnet"}, "network nosuchnet not found"},
		{[]string{"-v", "dupvol:/x", "--tmpfs", "/x"}, "Duplicate mount point: /x"},
	} {
		args := append(append([]string{"run", "--rm"}, tc.args...), "127.0.0.1:1/bb", "true")
		_, errOut, err := d.docker(t, args...)
		if code := exitCode(err); code != 125 || !strings.Contains(errOut, tc.want) || strings.Contains(errOut, "Unable to find image") {
			t.Errorf("docker %s: exit %d, stderr %q; want 125 and %q, no pull", strings.Join(args, " "), code, errOut, tc.want)
		}
		if left := d.mustDocker(t, "ps", "-aq"); left != "" {
			t.Errorf("docker %s left containers: %q", strings.Join(args, " "), left)
		}
	}
	// --network container:X is looked up at start, as dockerd does: the
	// create may come first.
	d.mustDocker(t, "create", "--name", "early", "--network", "container:later", "busybox", "true")
	d.mustDocker(t, "run", "-d", "--name", "later", "busybox", "sleep", "300")
	d.mustDocker(t, "start", "early")
	d.mustDocker(t, "rm", "-f", "early", "later")
}

// TestCreateRefusesInvalidConfig: what dockerd refuses at create is
// refused with its words (400), and no container is left.
func TestCreateRefusesInvalidConfig(t *testing.T) {
	d := newDaemon(t)
	for body, want := range map[string]string{
		`{"Image":"busybox","Env":["=foo"]}`:   "invalid environment variable: =foo",
		`{"Image":""}`:                         "no command specified",
		`{"Cmd":["true"]}`:                     "no image specified",
		`{"Image":"busybox","Env":["A=1",""]}`: "invalid environment variable: ",
		`{"Image":"busybox","Healthcheck":{"Test":["CMD","true"],"Interval":-1}}`:                     "Interval in Healthcheck cannot be less than 1ms",
		`{"Image":"busybox","Healthcheck":{"Test":["CMD","true"],"Timeout":10}}`:                      "Timeout in Healthcheck cannot be less than 1ms",
		`{"Image":"busybox","Healthcheck":{"Test":["CMD","true"],"Retries":-1}}`:                      "Retries in Healthcheck cannot be negative",
		`{"Image":"busybox","HostConfig":{"IpcMode":"bogus"}}`:                                        "invalid IPC mode: bogus",
		`{"Image":"busybox","HostConfig":{"PidMode":"bogus"}}`:                                        "invalid PID mode: bogus",
		`{"Image":"busybox","HostConfig":{"UTSMode":"private"}}`:                                      "invalid UTS mode: private",
		`{"Image":"busybox","HostConfig":{"PidMode":"container:nonexist"}}`:                           "No such container: nonexist",
		`{"Image":"busybox","HostConfig":{"IpcMode":"container:nonexist"}}`:                           "No such container: nonexist",
		`{"Image":"busybox","HostConfig":{"CpuShares":-1}}`:                                           "invalid CPU shares (-1)",
		`{"Image":"busybox:sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}`: "invalid reference format",
		`{"Image":"BusyBox"}`: "invalid reference format",
		`{"Image":"busybox","HostConfig":{"Tmpfs":{"/":""}}}`:                                      "destination can't be '/'",
		`{"Image":"busybox","HostConfig":{"Tmpfs":{"//":""}}}`:                                     "destination can't be '/'",
		`{"Image":"busybox","HostConfig":{"Tmpfs":{"foo":""}}}`:                                    "mount path must be absolute",
		`{"Image":"busybox","HostConfig":{"Annotations":{"":"x"}}}`:                                "the empty string is not permitted as an annotation key",
		`{"Image":"busybox","HostConfig":{"PortBindings":{"8080/tcp":[{"HostPort":"aa80"}]}}}`:     `invalid port specification: \"aa80\"`,
		`{"Image":"busybox","User":"2147483648"}`:                                                  "uids and gids must be in range 0-2147483647",
		`{"Image":"busybox","User":"-1"}`:                                                          "uids and gids must be in range 0-2147483647",
		`{"Image":"busybox","User":"0:4294967296"}`:                                                "uids and gids must be in range 0-2147483647",
		`{"Image":"busybox","Healthcheck":{"Test":["CMD","true"],"Interval":1000000,"Retries":0}}`: "",
	} {
		code, out := rawRequest(t, d, "POST", "/v1.47/containers/create", "application/json", body)
		if want == "" {
			if code != 201 {
				t.Errorf("create %s: %d %s, want 201", body, code, out)
			}
			continue
		}
		if code != 400 || !strings.Contains(out, want) {
			t.Errorf("create %s: %d %s, want 400 %q", body, code, out, want)
		}
	}
	if code, out := rawRequest(t, d, "POST", "/v1.43/containers/create", "application/json", `{"Image":"busybox","NetworkingConfig":{"EndpointsConfig":{"n1":{},"n2":{}}}}`); code != 400 || !strings.Contains(out, "multiple network endpoints") {
		t.Errorf("create with two networks at API 1.43: %d %s, want 400", code, out)
	}
	if code, out := rawRequest(t, d, "POST", "/v1.47/containers/create?name=wdclean", "application/json", `{"Image":"busybox","WorkingDir":"/tmp/x/../y/"}`); code != 201 {
		t.Fatalf("create with WorkingDir /tmp/x/../y/: %d %s", code, out)
	}
	if got := strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{.Config.WorkingDir}}", "wdclean")); got != "/tmp/y" {
		t.Errorf("WorkingDir /tmp/x/../y/ stored as %q, want /tmp/y", got)
	}
	d.mustDocker(t, "rm", "wdclean")
	if out := d.mustDocker(t, "ps", "-aq"); strings.Count(out, "\n") != 1 {
		t.Errorf("containers after the refused creates: %q, want the one valid", out)
	}
}
