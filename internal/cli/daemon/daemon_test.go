package daemon

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

func parse(t *testing.T, args ...string) (Config, error) {
	t.Helper()
	var cfg Config
	var loadErr error
	cmd := newCommand(func(cmd *cobra.Command, flags Config) error {
		cfg, loadErr = load(flags, cmd.Flags())
		return nil
	})
	cmd.SetArgs(args)
	if err := cmd.Execute(); err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	return cfg, loadErr
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "daemon.json")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigDefaultsAndFile(t *testing.T) {
	cfg, err := parse(t, "--config-file", writeFile(t, `{}`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Hosts[0] != DefaultHost || cfg.DataRoot != DefaultDataRoot || cfg.ExecRoot != DefaultExecRoot ||
		cfg.Pidfile != "/run/berth/berth.pid" || cfg.DefaultRuntime != "berth" {
		t.Errorf("defaults = %+v", cfg)
	}
	file := writeFile(t, `{"hosts":["unix:///tmp/x.sock"],"data-root":"/tmp/dr","default-runtime":"runc",
		"runtimes":{"mine":{"path":"/usr/bin/mine","runtimeArgs":["--x"]}},"log-level":"debug"}`)
	cfg, err = parse(t, "--config-file", file, "--exec-root", "/tmp/er")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Hosts[0] != "unix:///tmp/x.sock" || cfg.DataRoot != "/tmp/dr" || cfg.ExecRoot != "/tmp/er" ||
		cfg.DefaultRuntime != "runc" || cfg.Runtimes["mine"].Path != "/usr/bin/mine" || cfg.LogLevel != "debug" {
		t.Errorf("merged = %+v", cfg)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []struct {
		file string
		args []string
		want string
	}{
		{`{"hosts":["unix:///a"]}`, []string{"-H", "unix:///b"}, "the following directives are specified both as a flag and in the configuration file: hosts: (from flag: [unix:///b], from file: [\"unix:///a\"])"},
		{`{"bogus":1,"alsobad":2}`, nil, "the following directives don't match any configuration option: alsobad, bogus"},
		{`{"log-level":"loud"}`, nil, `log-level "loud"`},
		{`{}`, []string{"--default-runtime", "kata"}, `default-runtime "kata": no such runtime (known: berth, crun, runc)`},
		{`{}`, []string{"--add-runtime", "runc=/x"}, `runtime name "runc" is reserved`},
		{`{}`, []string{"--add-runtime", "noequals"}, `--add-runtime "noequals": want NAME=PATH`},
		{`{not json`, nil, "config file"},
		{`{"labels":["a=1","novalue"]}`, nil, "labels: bad attribute format: novalue"},
		{`{"labels":["a=1"]}`, []string{"--label", "b=2"}, "the following directives are specified both as a flag and in the configuration file: labels"},
	} {
		args := append([]string{"--config-file", writeFile(t, c.file)}, c.args...)
		_, err := parse(t, args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %v: error %v, want it to contain %q", c.file, c.args, err, c.want)
		}
	}
	if _, err := parse(t, "--config-file", filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("a named config file that does not exist was accepted")
	}
}

func TestAddRuntime(t *testing.T) {
	cfg, err := parse(t, "--config-file", writeFile(t, `{}`), "--add-runtime", "youki=/usr/bin/youki", "--default-runtime", "youki")
	if err != nil {
		t.Fatal(err)
	}
	rts, err := runtimeSet(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rts.Default != "youki" || rts.All["youki"].Path != "/usr/bin/youki" || rts.All["runc"].Path != "runc" {
		t.Errorf("runtimes = %+v", rts)
	}
}

func TestParseHost(t *testing.T) {
	for _, c := range []struct{ in, proto, addr, err string }{
		{"unix:///run/berth/berth.sock", "unix", "/run/berth/berth.sock", ""},
		{"tcp://127.0.0.1:2376", "tcp", "127.0.0.1:2376", ""},
		{"tcp://127.0.0.1", "tcp", "127.0.0.1:2375", ""},
		{"unix://relative", "", "", "want unix:///absolute/path"},
		{"fd://", "fd", "", ""},
		{"fd://3", "fd", "3", ""},
		{"ssh://host", "", "", "unsupported scheme"},
	} {
		proto, addr, err := parseHost(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("parseHost(%s) error %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || proto != c.proto || addr != c.addr {
			t.Errorf("parseHost(%s) = %s %s %v", c.in, proto, addr, err)
		}
	}
	if !isLoopback("127.0.0.1:1") || !isLoopback("[::1]:1") || !isLoopback("localhost:1") || isLoopback("0.0.0.0:1") || isLoopback("10.0.0.1:1") {
		t.Error("isLoopback misclassifies")
	}
}

func TestPlainTCPRefusedOffLoopback(t *testing.T) {
	_, _, err := listenAll(Config{Hosts: []string{"tcp://0.0.0.0:0"}})
	if err == nil || !strings.Contains(err.Error(), "refusing to serve the API on a non-loopback address without TLS") {
		t.Fatalf("plain TCP on 0.0.0.0: %v", err)
	}
}

func TestStaleSocketReplacedLiveOneRefused(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "d.sock")
	live, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := listenUnix(path, "", false); err == nil || !strings.Contains(err.Error(), "another daemon is listening") {
		t.Fatalf("listen over a live socket: %v", err)
	}
	// A crash leaves the file behind with nobody listening.
	live.(*net.UnixListener).SetUnlinkOnClose(false)
	live.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("stale socket not left behind: %v", err)
	}
	l, err := listenUnix(path, "", false)
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	defer l.Close()
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o660 {
		t.Errorf("socket mode %v, want 0660", fi.Mode().Perm())
	}
	notSock := filepath.Join(dir, "file")
	_ = os.WriteFile(notSock, nil, 0o600)
	if _, err := listenUnix(notSock, "", false); err == nil || !strings.Contains(err.Error(), "is not a socket") {
		t.Errorf("listen over a regular file: %v", err)
	}
	if _, err := listenUnix(filepath.Join(dir, "g.sock"), "no-such-group-berth-test", true); err == nil {
		t.Error("a named group that does not exist was accepted")
	}
}

func TestLockAndEngineID(t *testing.T) {
	root := t.TempDir()
	f, err := lockDataRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := lockDataRoot(root); err == nil || !strings.Contains(err.Error(), "is in use by another berth daemon (pid") {
		t.Fatalf("second lock: %v", err)
	}
	id, err := engineID(root)
	if err != nil || len(id) != 36 {
		t.Fatalf("engineID = %q, %v", id, err)
	}
	again, _ := engineID(root)
	if again != id {
		t.Errorf("engine id changed: %s then %s", id, again)
	}
}

// configDiff tells the options SIGHUP applies from those that wait for a
// restart.
func TestConfigDiff(t *testing.T) {
	old, err := parse(t, "--config-file", writeFile(t, `{"labels":["a=1"],"mtu":1500}`))
	if err != nil {
		t.Fatal(err)
	}
	same, err := parse(t, "--config-file", writeFile(t, `{"mtu":1500,"labels":["a=1"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if changed, ignored := configDiff(old, same); len(changed)+len(ignored) != 0 {
		t.Errorf("identical configurations differ: %v %v", changed, ignored)
	}
	next, err := parse(t, "--config-file", writeFile(t, `{"labels":["a=2"],"debug":true,"mtu":1400,"data-root":"/elsewhere",
		"runtimes":{"mine":{"path":"/bin/mine"}},"insecure-registries":["r:5000"]}`))
	if err != nil {
		t.Fatal(err)
	}
	changed, ignored := configDiff(old, next)
	if got := strings.Join(changed, ","); got != "debug,labels,runtimes" {
		t.Errorf("changed = %s", got)
	}
	if got := strings.Join(ignored, ","); got != "data-root,insecure-registries,mtu" {
		t.Errorf("ignored = %s", got)
	}
}

// A pidfile naming a berth process that has exited but is not reaped yet
// (a daemon killed a moment ago) does not keep the next daemon from
// starting; a live one does.
func TestPidfileZombie(t *testing.T) {
	dir := t.TempDir()
	// A child named berth: a copy of sleep under that name.
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary")
	}
	bin := filepath.Join(dir, "berth")
	b, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	pidfile := filepath.Join(dir, "d.pid")
	os.WriteFile(pidfile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644)
	if err := writePidfile(pidfile); err == nil || !strings.Contains(err.Error(), "a running berth daemon") {
		t.Errorf("live berth in the pidfile: %v, want refused", err)
	}
	// Killed, not reaped: a zombie.
	_ = cmd.Process.Signal(syscall.SIGKILL)
	deadline := time.Now().Add(5 * time.Second)
	for !zombie(cmd.Process.Pid) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := writePidfile(pidfile); err != nil {
		t.Errorf("zombie berth in the pidfile: %v, want it replaced", err)
	}
}
