package api

import (
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestReloadAndLogs: JSON logs; SIGHUP applies daemon.json's log level and
// runtimes (visible in info) and a bad file leaves the running
// configuration alone; --group sets the socket's group.
func TestReloadAndLogs(t *testing.T) {
	d := newDaemonDirs(t)
	gid := os.Getgid()
	startDaemon(t, d, "--log-format", "json", "--group", strconv.Itoa(gid))

	var st syscall.Stat_t
	if err := syscall.Stat(d.Sock, &st); err != nil || int(st.Gid) != gid {
		t.Errorf("socket group = %d (%v), want %d", st.Gid, err, gid)
	}
	info := func() map[string]any {
		t.Helper()
		r := run(t, nil, berthBin, "-H", d.Host, "info", "--format", "json")
		var m map[string]any
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &m) != nil {
			t.Fatalf("berth info: exit %d, %q %s", r.code, r.stdout, r.stderr)
		}
		return m
	}
	if m := info(); m["Debug"] != false {
		t.Errorf("Debug before reload = %v", m["Debug"])
	}
	cfg := `{"log-level":"debug","default-runtime":"mine","runtimes":{"mine":{"path":"/opt/mine/bin/mine","runtimeArgs":["--quiet"]}}}`
	if err := os.WriteFile(d.ConfigFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog(t, d, `"msg":"configuration reloaded"`)
	m := info()
	rts, _ := m["Runtimes"].(map[string]any)
	mine, _ := rts["mine"].(map[string]any)
	if m["Debug"] != true || m["DefaultRuntime"] != "mine" || mine["path"] != "/opt/mine/bin/mine" {
		t.Errorf("after reload: Debug %v, DefaultRuntime %v, Runtimes %v", m["Debug"], m["DefaultRuntime"], m["Runtimes"])
	}
	// Debug logging is on: requests are logged.
	waitLog(t, d, `"msg":"api request"`)

	if err := os.WriteFile(d.ConfigFile, []byte(`{"log-level":"loud"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog(t, d, `"msg":"reload: configuration not applied"`)
	if m := info(); m["DefaultRuntime"] != "mine" {
		t.Errorf("a bad file changed the configuration: DefaultRuntime %v", m["DefaultRuntime"])
	}
	for _, line := range strings.Split(strings.TrimSpace(d.Log()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil || rec["level"] == nil || rec["msg"] == nil {
			t.Errorf("log line is not a JSON record: %q", line)
		}
	}
}

// TestStackDump: SIGUSR1 writes the daemon's goroutine stacks to a file in
// the exec root, named in the log, and the daemon goes on serving.
func TestStackDump(t *testing.T) {
	d := newDaemonDirs(t)
	startDaemon(t, d, "--log-format", "json")
	if err := d.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	waitLog(t, d, `goroutine stacks written to `)
	var path string
	for _, line := range strings.Split(d.Log(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && strings.HasPrefix(rec["msg"].(string), "goroutine stacks written to ") {
			path, _ = rec["path"].(string)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil || !strings.HasPrefix(path, d.ExecRoot+"/goroutine-stacks-") || !strings.Contains(string(data), "goroutine ") {
		t.Errorf("stack file %q: %v, %d bytes", path, err, len(data))
	}
	if r := run(t, nil, berthBin, "-H", d.Host, "version", "--format", "{{.Server.APIVersion}}"); r.code != 0 {
		t.Errorf("the daemon stopped serving after SIGUSR1: exit %d %s", r.code, r.stderr)
	}
}
