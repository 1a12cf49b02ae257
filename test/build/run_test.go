package build

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRunStepEnvironment: a RUN step runs as the image's USER resolved in
// its /etc/passwd, in a WORKDIR created for it, with loopback only for
// the default network and "none", and the host's interfaces with
// --network host.
func TestRunStepEnvironment(t *testing.T) {
	d := newDaemon(t)
	ctx := writeFiles(t, map[string]string{"Dockerfile": `FROM busybox
WORKDIR /made/for/run
USER nobody
RUN echo "user=$(id -u):$(id -g) cwd=$(pwd) host=$(cat /etc/hostname | wc -c)"
RUN echo "ifaces=$(ls /sys/class/net | tr '\n' ',')"
`})
	out, errOut, err := d.berth(t, "build", "--network", "none", ctx)
	if err != nil {
		t.Fatalf("berth build: %v\n%s\n%s", err, out, errOut)
	}
	if !strings.Contains(out, "user=65534:65534 cwd=/made/for/run host=13\n") {
		t.Errorf("RUN user, working dir or hostname:\n%s", out)
	}
	if !strings.Contains(out, "ifaces=lo,\n") {
		t.Errorf("--network none: RUN sees more than loopback:\n%s", out)
	}
	out, errOut, err = d.berth(t, "build", "--no-cache", ctx)
	if err != nil || !strings.Contains(out, "ifaces=lo,\n") {
		t.Errorf("default network (loopback only until networks are wired): %v\n%s\n%s", err, out, errOut)
	}
	// The build's --network reaches RUN steps only through the builder
	// (internal/build applies buildkit's per-RUN default "default" over
	// it today), so host networking is asked for on the RUN itself.
	hostCtx := writeFiles(t, map[string]string{"Dockerfile": "FROM busybox\nRUN --network=host echo \"ifaces=$(ls /sys/class/net | tr '\\n' ',')\"\n"})
	ifaces := func() map[string]bool {
		m := map[string]bool{}
		ents, _ := os.ReadDir("/sys/class/net")
		for _, e := range ents {
			m[e.Name()] = true
		}
		return m
	}
	before := ifaces()
	out, errOut, err = d.berth(t, "build", hostCtx)
	if err != nil {
		t.Fatalf("berth build of RUN --network=host: %v\n%s\n%s", err, out, errOut)
	}
	// Other tests on the machine add and remove interfaces meanwhile:
	// the host's interfaces that lived through the build must all be
	// seen.
	seen := out[strings.LastIndex(out, "ifaces=")+len("ifaces="):]
	seen, _, _ = strings.Cut(seen, "\n")
	got := map[string]bool{}
	for _, n := range strings.Split(seen, ",") {
		got[n] = true
	}
	for n := range ifaces() {
		if before[n] && !got[n] {
			t.Errorf("--network host: RUN did not see the host's %s:\n%s", n, out)
		}
	}
	if len(got) < 3 {
		t.Errorf("--network host: RUN saw only %q", seen)
	}
}

// TestBuildCancelledLeavesNothing: a client that goes away during a RUN
// cancels the build: the RUN's process is killed, and no bundle, network
// namespace, runtime state or mount is left.
func TestBuildCancelledLeavesNothing(t *testing.T) {
	d := newDaemon(t)
	// The marker makes the RUN's shell findable by its command line.
	marker := fmt.Sprintf("cancel-marker-%d", time.Now().UnixNano())
	ctx := writeFiles(t, map[string]string{"Dockerfile": "FROM busybox\nRUN echo started; sleep 300; : " + marker + "\n"})
	cmd := exec.Command(berthBin, "-H", d.Host, "build", ctx)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(stdout)
	started := false
	for sc.Scan() {
		if sc.Text() == "started" {
			started = true
			break
		}
	}
	if !started {
		t.Fatal("the RUN step never started")
	}
	execRoot := filepath.Join(d.Dir, "exec")
	ents, _ := os.ReadDir(filepath.Join(execRoot, "build"))
	if len(ents) != 1 {
		t.Fatalf("while running: %d bundles under exec-root/build, want 1", len(ents))
	}
	id := ents[0].Name()
	cgroups, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", "berth", id))
	if len(cgroups) == 0 {
		t.Fatalf("while running: no cgroup /berth/%s", id)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for {
		left := leftovers(d)
		for _, cg := range cgroups {
			if _, err := os.Stat(cg); err == nil {
				left = append(left, cg)
			}
		}
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("10s after the client went away, still left: %v", left)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if out, err := exec.Command("pgrep", "-f", marker).Output(); err == nil {
		t.Errorf("the RUN's process still runs: %s", out)
	}
}

// leftovers lists what a RUN step leaves while (or after) it runs.
func leftovers(d *daemon) []string {
	var left []string
	execRoot := filepath.Join(d.Dir, "exec")
	for _, sub := range []string{"build", "netns", "runtime"} {
		ents, _ := os.ReadDir(filepath.Join(execRoot, sub))
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), "build-") {
				left = append(left, filepath.Join(sub, e.Name()))
			}
		}
	}
	b, _ := os.ReadFile("/proc/self/mountinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 4 && strings.HasPrefix(f[4], filepath.Join(execRoot, "build")+"/") {
			left = append(left, f[4])
		}
	}
	return left
}

// TestDaemonCrashDuringRun: the RUN step of a daemon killed mid-build is
// removed by the next daemon at start: its process, bundle, network
// namespace, runtime state, cgroup, mounts and writable snapshot.
func TestDaemonCrashDuringRun(t *testing.T) {
	d := newDaemon(t)
	snapDirs := func() map[string]bool {
		ents, _ := os.ReadDir(filepath.Join(d.DataRoot, "snapshots", "overlay"))
		m := map[string]bool{}
		for _, e := range ents {
			if e.IsDir() {
				m[e.Name()] = true
			}
		}
		return m
	}
	before := snapDirs()
	marker := fmt.Sprintf("crash-marker-%d", time.Now().UnixNano())
	ctx := writeFiles(t, map[string]string{"Dockerfile": "FROM busybox\nRUN echo started; sleep 300; : " + marker + "\n"})
	cmd := exec.Command(berthBin, "-H", d.Host, "build", ctx)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && sc.Text() != "started" {
	}
	ents, _ := os.ReadDir(filepath.Join(d.Dir, "exec", "build"))
	if len(ents) != 1 {
		t.Fatalf("while running: %d bundles, want 1", len(ents))
	}
	cgroups, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", "berth", ents[0].Name()))
	d.kill(t)
	if err := exec.Command("pgrep", "-f", marker).Run(); err != nil {
		t.Fatalf("the RUN's process should outlive the killed daemon (else this test proves nothing): %v", err)
	}
	d.Start(t)
	left := leftovers(d)
	for _, cg := range cgroups {
		if _, err := os.Stat(cg); err == nil {
			left = append(left, cg)
		}
	}
	for dir := range snapDirs() {
		if !before[dir] {
			left = append(left, "snapshot directory "+dir)
		}
	}
	if len(left) > 0 {
		t.Errorf("after the restart, left: %v", left)
	}
	if out, err := exec.Command("pgrep", "-f", marker).Output(); err == nil {
		t.Errorf("the RUN's process still runs after the restart: %s", out)
	}
}

// TestRunStepDefaultNetwork: with the daemon's networking on (its own
// bridge and iptables chains), a RUN step joins the default network as a
// container does (an eth0 with an address, a resolv.conf), and its
// endpoint is gone after the step.
func TestRunStepDefaultNetwork(t *testing.T) {
	var b [3]byte
	_, _ = rand.Read(b[:])
	suffix := hex.EncodeToString(b[:])
	bridge, prefix := "bb"+suffix, "BB"+strings.ToUpper(suffix)
	t.Cleanup(func() {
		out, _ := exec.Command("ip", "link", "show", bridge).CombinedOutput()
		if err := exec.Command("ip", "link", "show", bridge).Run(); err == nil {
			t.Errorf("bridge %s left: %s", bridge, out)
			_ = exec.Command("ip", "link", "del", bridge).Run()
		}
		if out, _ := exec.Command("iptables-save").CombinedOutput(); strings.Contains(string(out), prefix+"-") {
			t.Errorf("iptables rules of the daemon left")
		}
	})
	d := newDaemonWith(t, []string{"--bridge", bridge, "--iptables-chain-prefix", prefix})
	ctx := writeFiles(t, map[string]string{"Dockerfile": `FROM busybox
RUN echo "eth0=$(ip -4 -o addr show dev eth0 | grep -c inet) resolv=$(test -s /etc/resolv.conf && echo yes)"
`})
	out, errOut, err := d.berth(t, "build", ctx)
	if err != nil {
		t.Fatalf("berth build: %v\n%s\n%s", err, out, errOut)
	}
	if !strings.Contains(out, "eth0=1 resolv=yes\n") {
		t.Errorf("the RUN step is not on the default network:\n%s", out)
	}
	// No events about the step: it is no container of the engine's.
	if ev, _, _ := d.berth(t, "events", "--since", "0", "--until", strconv.FormatInt(time.Now().Unix()+1, 10), "--filter", "type=network"); strings.Contains(ev, "build-") {
		t.Errorf("network events about the RUN step:\n%s", ev)
	}
	out, errOut, err = d.berth(t, "network", "inspect", "--format", "{{len .Containers}}", "bridge")
	if err != nil || strings.TrimSpace(out) != "0" {
		t.Errorf("endpoints left on the default network: %v %q %s", err, out, errOut)
	}
}

// TestBuildImageCreateEvents: each step a build commits sends an "image
// create" event, as dockerd 28's builder; a rebuild from the cache sends
// none.
func TestBuildImageCreateEvents(t *testing.T) {
	d := newDaemon(t)
	ctx := writeFiles(t, map[string]string{"Dockerfile": "FROM busybox\nRUN echo hello > /hello\n"})
	count := func(since int64) int {
		t.Helper()
		out, errOut, err := d.berth(t, "events", "--since", strconv.FormatInt(since, 10), "--until", strconv.FormatInt(time.Now().Unix()+1, 10),
			"--filter", "type=image", "--filter", "event=create", "--format", "{{.Action}}")
		if err != nil {
			t.Fatalf("events: %v %s", err, errOut)
		}
		return strings.Count(out, "create")
	}
	since := time.Now().Unix()
	if out, errOut, err := d.berth(t, "build", "--no-cache", ctx); err != nil {
		t.Fatalf("build: %v\n%s\n%s", err, out, errOut)
	}
	if n := count(since); n != 1 {
		t.Errorf("image create events of a --no-cache build of one RUN step: %d, want 1", n)
	}
	time.Sleep(1100 * time.Millisecond)
	since = time.Now().Unix()
	if out, errOut, err := d.berth(t, "build", ctx); err != nil {
		t.Fatalf("rebuild: %v\n%s\n%s", err, out, errOut)
	}
	if n := count(since); n != 0 {
		t.Errorf("image create events of a rebuild from the cache: %d, want 0", n)
	}
	// Steps that run no container (LABEL, COPY, ENV ...) make none, as
	// with dockerd's classic builder (moby's TestEventsFilterImageLabels).
	meta := writeFiles(t, map[string]string{"Dockerfile": "FROM busybox\nLABEL a=b\nCOPY Dockerfile /df\nENV X=1\n"})
	time.Sleep(1100 * time.Millisecond)
	since = time.Now().Unix()
	if out, errOut, err := d.berth(t, "build", "--no-cache", meta); err != nil {
		t.Fatalf("build: %v\n%s\n%s", err, out, errOut)
	}
	if n := count(since); n != 0 {
		t.Errorf("image create events of a build without RUN: %d, want 0", n)
	}
}
