package engine

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReloadConfig: SIGHUP applies daemon.json's debug, labels, runtimes
// (a runtime added while the daemon runs is usable at once) and default
// runtime (for containers created from then on), logs what changed and
// what it ignored (options that need a restart), and publishes a reload
// event; a bad file changes nothing.
func TestReloadConfig(t *testing.T) {
	runc, err := exec.LookPath("runc")
	if err != nil {
		t.Skip("runc is not installed")
	}
	cfgFile := filepath.Join(t.TempDir(), "daemon.json")
	if err := os.WriteFile(cfgFile, []byte(`{"labels":["a=1"]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	d := newDaemonWith(t, []string{"--bridge", "none", "--config-file", cfgFile})
	d.mustDocker(t, "create", "--name", "before", "busybox", "true")
	if out := d.mustDocker(t, "info", "--format", "{{json .Labels}} {{.Debug}} {{.DefaultRuntime}}"); out != `["a=1"] false berth`+"\n" {
		t.Fatalf("info before reload: %q", out)
	}
	if _, errOut, err := d.docker(t, "run", "--rm", "--runtime", "myrunc", "busybox", "true"); exitCode(err) != 125 || !strings.Contains(errOut, "unknown or invalid runtime name: myrunc") {
		t.Fatalf("a runtime not configured yet: %v %s", err, errOut)
	}

	since := time.Now().Unix()
	rt, _ := json.Marshal(runc)
	cfg := `{"debug":true,"labels":["a=2","zone=test"],"runtimes":{"myrunc":{"path":` + string(rt) + `}},"default-runtime":"myrunc","mtu":1400}`
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reload's log line", func() bool { return strings.Contains(d.Log(), `msg="configuration reloaded"`) })
	log := d.Log()
	for _, want := range []string{`changed=debug,default-runtime,labels,runtimes`, `ignored=mtu`, `option=mtu`} {
		if !strings.Contains(log, want) {
			t.Errorf("daemon log lacks %q:\n%s", want, log)
		}
	}
	if out := d.mustDocker(t, "info", "--format", "{{json .Labels}} {{.Debug}} {{.DefaultRuntime}} {{(index .Runtimes \"myrunc\").Path}}"); out != `["a=2","zone=test"] true myrunc `+runc+"\n" {
		t.Errorf("info after reload: %q", out)
	}
	// The added runtime runs containers, by name and as the default.
	if out := d.mustDocker(t, "run", "--rm", "--runtime", "myrunc", "busybox", "echo", "via-myrunc"); out != "via-myrunc\n" {
		t.Errorf("run --runtime myrunc: %q", out)
	}
	d.mustDocker(t, "run", "--name", "after", "busybox", "true")
	for name, want := range map[string]string{"before": "berth", "after": "myrunc"} {
		if got := strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{.HostConfig.Runtime}}", name)); got != want {
			t.Errorf("runtime of %s = %q, want %q", name, got, want)
		}
	}
	ev := d.mustDocker(t, "events", "--since", itoa(since), "--until", itoa(time.Now().Unix()+1), "--filter", "type=daemon",
		"--format", `{{.Action}} {{index .Actor.Attributes "default-runtime"}} {{index .Actor.Attributes "labels"}}`)
	if ev != "reload myrunc [a=2 zone=test]\n" {
		t.Errorf("daemon events: %q", ev)
	}

	// A bad file is refused whole.
	if err := os.WriteFile(cfgFile, []byte(`{"labels":["nokeyvalue"],"debug":false}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the refused reload's log line", func() bool { return strings.Contains(d.Log(), "bad attribute format: nokeyvalue") })
	if out := d.mustDocker(t, "info", "--format", "{{json .Labels}} {{.Debug}}"); out != `["a=2","zone=test"] true`+"\n" {
		t.Errorf("info after a refused reload: %q", out)
	}

	// A runtime dropped from the file: containers made for it no longer
	// start, with docker's message.
	if err := os.WriteFile(cfgFile, []byte(`{"labels":["a=3"]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the third reload", func() bool { return strings.Count(d.Log(), `msg="configuration reloaded"`) == 2 })
	if _, errOut, err := d.docker(t, "start", "after"); exitCode(err) != 1 || !strings.Contains(errOut, "unknown or invalid runtime name: myrunc") {
		t.Errorf("start of a container whose runtime was dropped: exit %d, %q", exitCode(err), errOut)
	}
	if out := d.mustDocker(t, "start", "-a", "before"); out != "" {
		t.Errorf("start -a of a berth container: %q", out)
	}
}
