package engine

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/berth/berth/internal/testutil"
)

// TestDaemonJSONContainerDefaults: daemon.json's log-driver, log-opts,
// default-ulimits, default-shm-size, dns, dns-search and dns-opts apply to
// containers that set none, as with dockerd; a container's own settings
// win; info shows the log driver, insecure registries and mirrors; keys
// with values berth cannot honour stop the daemon with a message.
func TestDaemonJSONContainerDefaults(t *testing.T) {
	testutil.RequireRoot(t)
	if setupError != nil {
		t.Fatal(setupError)
	}
	cfg := `{"log-driver":"local","log-opts":{"max-size":"5m"},"default-ulimits":{"nofile":{"Name":"nofile","Soft":1111,"Hard":2222}},` +
		`"default-shm-size":"32m","dns":["10.99.0.53"],"dns-search":["corp.example"],"dns-opts":["ndots:3"],` +
		`"insecure-registries":["10.98.0.0/16","reg.example:5000"],"registry-mirrors":["http://127.0.0.1:5999"],` +
		`"live-restore":true,"storage-driver":"overlay2","exec-opts":["native.cgroupdriver=cgroupfs"],` +
		`"max-concurrent-downloads":2,"max-concurrent-uploads":2,"features":{"buildkit":false},` +
		`"default-address-pools":[{"base":"10.96.0.0/16","size":24}]}`
	d := &daemon{testutil.NewDaemon(t, testutil.DaemonOptions{Binary: berthBin, DirPrefix: "berth-eng-", Config: cfg})}
	loadImage(t, d.DataRoot)
	d.Start(t)

	out := d.mustDocker(t, "run", "--rm", "--network", "none", "busybox", "sh", "-c",
		"ulimit -n; df -k /dev/shm | awk 'NR==2{print $2}'; grep -v '^#' /etc/resolv.conf")
	for _, want := range []string{"1111\n", "32768\n", "nameserver 10.99.0.53", "search corp.example", "options ndots:3"} {
		if !strings.Contains(out, want) {
			t.Errorf("container with the daemon's defaults lacks %q:\n%s", want, out)
		}
	}
	d.mustDocker(t, "create", "--name", "dflt", "busybox", "true")
	d.mustDocker(t, "create", "--name", "own", "--log-driver", "json-file", "--ulimit", "nofile=100:200", "--dns", "10.97.0.53", "busybox", "true")
	if got := d.mustDocker(t, "inspect", "-f", "{{.HostConfig.LogConfig.Type}} {{json .HostConfig.LogConfig.Config}} {{len .HostConfig.Dns}}", "dflt"); got != "local {\"max-size\":\"5m\"} 0\n" {
		t.Errorf("log config of a container without one: %q", got)
	}
	if got := d.mustDocker(t, "inspect", "-f", "{{.HostConfig.LogConfig.Type}} {{json .HostConfig.LogConfig.Config}} {{range .HostConfig.Ulimits}}{{.Name}}={{.Soft}} {{end}}", "own"); got != "json-file {} nofile=100 \n" {
		t.Errorf("a container's own log driver and ulimit: %q", got)
	}
	var info struct {
		LoggingDriver       string
		InitBinary          string
		DefaultAddressPools []struct {
			Base string
			Size int
		}
		RegistryConfig struct {
			InsecureRegistryCIDRs []string
			IndexConfigs          map[string]struct{ Secure bool }
			Mirrors               []string
		}
	}
	if err := json.Unmarshal([]byte(d.mustDocker(t, "info", "--format", "{{json .}}")), &info); err != nil {
		t.Fatal(err)
	}
	rc := info.RegistryConfig
	if info.LoggingDriver != "local" || !strings.Contains(strings.Join(rc.InsecureRegistryCIDRs, " "), "10.98.0.0/16") ||
		rc.IndexConfigs["reg.example:5000"].Secure || len(rc.Mirrors) != 1 {
		t.Errorf("info: logging driver %q, registry config %+v", info.LoggingDriver, rc)
	}
	if info.InitBinary != "docker-init" || len(info.DefaultAddressPools) != 1 ||
		info.DefaultAddressPools[0].Base != "10.96.0.0/16" || info.DefaultAddressPools[0].Size != 24 {
		t.Errorf("info: init binary %q, default address pools %+v", info.InitBinary, info.DefaultAddressPools)
	}

	for _, bad := range []struct{ cfg, want string }{
		{`{"storage-driver":"btrfs"}`, `storage-driver "btrfs": not supported`},
		{`{"exec-opts":["native.cgroupdriver=systemd"]}`, "only the cgroupfs cgroup driver"},
		{`{"log-driver":"syslog"}`, `log-driver "syslog": not supported`},
	} {
		b := testutil.NewDaemon(t, testutil.DaemonOptions{Binary: berthBin, DirPrefix: "berth-eng-", Config: bad.cfg})
		if err := b.TryStart(); err == nil || !strings.Contains(b.Log()+err.Error(), bad.want) {
			t.Errorf("daemon.json %s: started or said %v\n%s", bad.cfg, err, b.Log())
		}
	}
}
