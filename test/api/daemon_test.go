package api

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth/berth/internal/testutil"
)

// TestDockerCLI drives the daemon with the real docker CLI 28: version,
// info and a bounded `system events` window that holds the reload event
// SIGHUP publishes.
func TestDockerCLI(t *testing.T) {
	docker := dockerCLI(t)
	d := newDaemonDirs(t)
	startDaemon(t, d)
	env := dockerEnv(t)

	r := run(t, env, docker, "-H", d.Host, "version")
	if r.code != 0 {
		t.Fatalf("docker version: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"Server: Berth Engine", " Engine:", "API version:      1.56 (minimum version 1.24)", "OS/Arch:          linux/"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("docker version output lacks %q:\n%s", want, r.stdout)
		}
	}
	// The CLI negotiated down to its own highest version, 1.50 for CLI 28.
	if !strings.Contains(r.stdout, " API version:       1.5") {
		t.Errorf("client API version line missing:\n%s", r.stdout)
	}

	r = run(t, env, docker, "-H", d.Host, "info", "--format", "{{json .}}")
	if r.code != 0 {
		t.Fatalf("docker info: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var info map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &info); err != nil {
		t.Fatalf("docker info json: %v\n%s", err, r.stdout)
	}
	id, _ := os.ReadFile(d.DataRoot + "/engine-id")
	host, _ := os.Hostname()
	for k, want := range map[string]any{
		"ID": strings.TrimSpace(string(id)), "DockerRootDir": d.DataRoot, "Driver": "overlay2", "CgroupDriver": "cgroupfs",
		"DefaultRuntime": "berth", "OSType": "linux", "Name": host, "Containers": float64(0), "Images": float64(0),
	} {
		if info[k] != want {
			t.Errorf("docker info %s = %v, want %v", k, info[k], want)
		}
	}
	if n, _ := info["NCPU"].(float64); n < 1 {
		t.Errorf("docker info NCPU = %v", info["NCPU"])
	}
	if rt, _ := info["Runtimes"].(map[string]any); rt["runc"] == nil || rt["berth"] == nil || rt["crun"] == nil {
		t.Errorf("docker info Runtimes = %v", info["Runtimes"])
	}
	r = run(t, env, docker, "-H", d.Host, "info")
	if r.code != 0 || !strings.Contains(r.stdout, " Server Version: 0.") || !strings.Contains(r.stdout, " Default Runtime: berth") {
		t.Errorf("docker info (table): exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	since := time.Now().Add(-time.Second).Unix()
	if err := d.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog(t, d, "configuration reloaded")
	until := time.Now().Add(time.Second).Unix()
	r = run(t, env, docker, "-H", d.Host, "system", "events", "--since", fmt.Sprint(since), "--until", fmt.Sprint(until), "--filter", "type=daemon")
	if r.code != 0 {
		t.Fatalf("docker system events: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	want := " daemon reload " + strings.TrimSpace(string(id)) + " ("
	if !strings.Contains(r.stdout, want) || !strings.Contains(r.stdout, "default-runtime=berth") {
		t.Errorf("docker events output lacks %q:\n%s", want, r.stdout)
	}
	// A filter that matches nothing gives an empty window, exit 0.
	r = run(t, env, docker, "-H", d.Host, "events", "--since", fmt.Sprint(since), "--until", fmt.Sprint(until), "--filter", "type=container")
	if r.code != 0 || r.stdout != "" {
		t.Errorf("docker events type=container: exit %d, output %q %s", r.code, r.stdout, r.stderr)
	}
	r = run(t, env, docker, "-H", d.Host, "system", "df")
	if r.code != 0 || !strings.Contains(r.stdout, "Images          0         0         0B") {
		t.Errorf("docker system df: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// Login checks the credentials against the registry: nothing listens
	// on port 1, and the daemon says so.
	r = run(t, env, docker, "-H", d.Host, "login", "-u", "x", "-p", "y", "127.0.0.1:1")
	if r.code != 1 || !strings.Contains(r.stderr, "Error response from daemon: login to http://127.0.0.1:1/v2/") || !strings.Contains(r.stderr, "connection refused") {
		t.Errorf("docker login: exit %d, stderr %q", r.code, r.stderr)
	}
	r = run(t, env, docker, "-H", d.Host, "ps", "-a")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "CONTAINER ID") {
		t.Errorf("docker ps -a: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

func waitLog(t *testing.T, d *testutil.Daemon, s string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(d.Log(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("daemon log lacks %q after 10s:\n%s", s, d.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestBerthCLI drives the same daemon with `berth version`, `berth info`
// and `berth system events`, selecting it by -H, BERTH_HOST and DOCKER_HOST.
func TestBerthCLI(t *testing.T) {
	d := newDaemonDirs(t)
	startDaemon(t, d)

	r := run(t, nil, berthBin, "-H", d.Host, "version")
	if r.code != 0 {
		t.Fatalf("berth version: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"Client:\n Version:", "Server: Berth Engine\n Engine:\n", "API version:  1.56 (minimum version 1.24)", " berth:\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("berth version output lacks %q:\n%s", want, r.stdout)
		}
	}
	for _, env := range [][]string{{"BERTH_HOST=" + d.Host}, {"DOCKER_HOST=" + d.Host}, {"BERTH_HOST=" + d.Host, "DOCKER_HOST=unix:///nonexistent.sock"}} {
		r = run(t, env, berthBin, "version", "--format", "{{.Server.Version}} {{.Client.APIVersion}}")
		if r.code != 0 || !strings.HasSuffix(r.stdout, " 1.56\n") {
			t.Errorf("berth version with %v: exit %d, %q %s", env, r.code, r.stdout, r.stderr)
		}
	}
	r = run(t, nil, berthBin, "-H", d.Host, "info")
	if r.code != 0 {
		t.Fatalf("berth info: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"Server:\n Containers: 0\n", " Docker Root Dir: " + d.DataRoot + "\n", " Cgroup Driver: cgroupfs\n", " Default Runtime: berth\n", " Runtimes: berth crun runc\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("berth info output lacks %q:\n%s", want, r.stdout)
		}
	}
	r = run(t, nil, berthBin, "-H", d.Host, "system", "info", "--format", "{{.DockerRootDir}}|{{.ClientInfo.Context}}")
	if r.code != 0 || r.stdout != d.DataRoot+"|default\n" {
		t.Errorf("berth system info --format: exit %d, %q %s", r.code, r.stdout, r.stderr)
	}

	since := time.Now().Add(-time.Second)
	if err := d.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog(t, d, "configuration reloaded")
	until := time.Now().Add(time.Second)
	r = run(t, nil, berthBin, "-H", d.Host, "system", "events", "--since", since.Format(time.RFC3339Nano),
		"--until", until.Format(time.RFC3339Nano), "--filter", "event=reload", "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}")
	host, _ := os.Hostname()
	if r.code != 0 || r.stdout != "daemon reload "+host+"\n" {
		t.Errorf("berth system events: exit %d, %q %s", r.code, r.stdout, r.stderr)
	}
	r = run(t, nil, berthBin, "-H", d.Host, "events", "--since", "1m", "--until", fmt.Sprint(until.Unix()), "--format", "json")
	var m map[string]any
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &m) != nil || m["Action"] != "reload" {
		t.Errorf("berth events --format json: exit %d, %q %s", r.code, r.stdout, r.stderr)
	}
	r = run(t, nil, berthBin, "-H", d.Host, "system", "df")
	if r.code != 0 || !strings.Contains(r.stdout, "TYPE") || !strings.Contains(r.stdout, "Images") {
		t.Errorf("berth system df: exit %d, %q %s", r.code, r.stdout, r.stderr)
	}
}

// TestCLIErrors: no daemon, bad flags and bad filters get docker's exit
// codes and a message that says what to do.
func TestCLIErrors(t *testing.T) {
	requireBerth(t)
	dir := t.TempDir()
	sock := "unix://" + dir + "/none.sock"
	for _, args := range [][]string{{"version"}, {"info"}, {"system", "events", "--until", "0s"}} {
		r := run(t, []string{"BERTH_HOST=" + sock}, berthBin, args...)
		want := "Cannot connect to the Berth daemon at " + sock + ". Is the daemon running? Start it with: berth daemon\n"
		if r.code != 1 || !strings.HasSuffix(r.stderr, want) {
			t.Errorf("berth %v without a daemon: exit %d, stderr %q; want exit 1 and %q", args, r.code, r.stderr, want)
		}
	}
	r := run(t, nil, berthBin, "-H", sock, "version", "--bogus")
	if r.code != 125 || !strings.Contains(r.stderr, "unknown flag: --bogus") || !strings.Contains(r.stderr, "Run 'berth version --help' for more information") {
		t.Errorf("bad flag: exit %d, stderr %q", r.code, r.stderr)
	}
	r = run(t, nil, berthBin, "-H", sock, "events", "--filter", "nokey")
	if r.code != 125 || !strings.Contains(r.stderr, "bad format of filter (expected name=value)") {
		t.Errorf("bad filter: exit %d, stderr %q", r.code, r.stderr)
	}
}
