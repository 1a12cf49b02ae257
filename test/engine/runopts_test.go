package engine

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunOptionsAsDockerd: what a container gets from run options, as with
// dockerd: a --device with access r is read-only; /dev/fuse needs
// --device; --cap-add ALL keeps its --cap-drop; a user may bind ports
// below 1024 and ping; --hostname with a domain has its short name in
// /etc/hosts; -u :GID is root with that group; --annotation reaches the
// runtime; --dns applies on the host's network; bad combinations and
// values are refused at create.
func TestRunOptionsAsDockerd(t *testing.T) {
	d := newDaemon(t)
	run := func(args ...string) (string, string, error) {
		return d.docker(t, append([]string{"run", "--rm"}, args...)...)
	}
	if _, err := os.Stat("/dev/loop0"); err == nil {
		out, _, _ := run("--device", "/dev/loop0:/dev/loop0:r", "busybox", "sh", "-c",
			"exec 3</dev/loop0 && echo read-ok; (exec 4>/dev/loop0) 2>/dev/null && echo write-ok; true")
		if out != "read-ok\n" {
			t.Errorf("--device /dev/loop0:r: %q, want read only", out)
		}
	}
	if out, _, _ := run("busybox", "sh", "-c", "mknod /tmp/f c 10 229 && (exec 3<>/tmp/f) 2>/dev/null && echo fuse-open; true"); out != "" {
		t.Errorf("/dev/fuse without --device: %q, want no access", out)
	}
	out, _, err := run("--cap-add", "ALL", "--cap-drop", "NET_RAW", "--cap-drop", "SYS_ADMIN", "busybox", "grep", "CapEff", "/proc/self/status")
	if err != nil || !strings.Contains(out, "CapEff:") {
		t.Fatalf("--cap-add ALL: %v %q", err, out)
	}
	var eff uint64
	for _, c := range strings.TrimSpace(strings.TrimPrefix(out, "CapEff:")) {
		eff <<= 4
		switch {
		case c >= '0' && c <= '9':
			eff |= uint64(c - '0')
		case c >= 'a' && c <= 'f':
			eff |= uint64(c-'a') + 10
		}
	}
	if eff&(1<<13) != 0 || eff&(1<<21) != 0 || eff&(1<<1) == 0 {
		t.Errorf("--cap-add ALL --cap-drop NET_RAW,SYS_ADMIN: CapEff %x, want NET_RAW (13) and SYS_ADMIN (21) dropped", eff)
	}
	if out, errOut, err := run("-u", "nobody", "busybox", "sh", "-c", "nc -l -p 80 & sleep 0.3; netstat -ltn | grep -c ':80 '"); err != nil || strings.TrimSpace(out) != "1" {
		t.Errorf("nobody binding port 80: %v %q %s", err, out, errOut)
	}
	d.mustDocker(t, "network", "create", "hostsnet")
	if out, _, err := run("--network", "hostsnet", "--hostname", "web.example.com", "busybox", "cat", "/etc/hosts"); err != nil || !strings.Contains(out, "web.example.com web\n") {
		t.Errorf("--hostname web.example.com: /etc/hosts lacks the short name: %v\n%s", err, out)
	}
	d.mustDocker(t, "network", "rm", "hostsnet")
	if out, _, err := run("-u", ":1000", "busybox", "id"); err != nil || !strings.HasPrefix(out, "uid=0(root) gid=1000") {
		t.Errorf("-u :1000: %v %q", err, out)
	}
	if out, _, err := run("--network", "host", "--dns", "127.0.0.2", "busybox", "grep", "nameserver", "/etc/resolv.conf"); err != nil || out != "nameserver 127.0.0.2\n" {
		t.Errorf("--dns on the host's network: %v %q", err, out)
	}
	id := strings.TrimSpace(d.mustDocker(t, "create", "--annotation", "org.example.k=v", "busybox", "true"))
	d.mustDocker(t, "start", id)
	b, err := os.ReadFile(filepath.Join(d.DataRoot, "containers", id, "config.json"))
	var spec struct{ Annotations map[string]string }
	if err != nil || json.Unmarshal(b, &spec) != nil || spec.Annotations["org.example.k"] != "v" {
		t.Errorf("--annotation in the runtime spec: %v %v", err, spec.Annotations)
	}
	// The list shows them from API 1.46, as dockerd's.
	for v, want := range map[string]string{"1.46": `{"org.example.k":"v"}`, "1.45": "null"} {
		code, body := rawRequest(t, d, "GET", "/v"+v+`/containers/json?all=1&filters={"id":["`+id+`"]}`, "", "")
		var list []struct {
			HostConfig struct{ Annotations map[string]string }
		}
		if code != 200 || json.Unmarshal([]byte(body), &list) != nil || len(list) != 1 {
			t.Fatalf("list at API %s: %d %s", v, code, body)
		}
		if got, _ := json.Marshal(list[0].HostConfig.Annotations); string(got) != want {
			t.Errorf("list at API %s: annotations %s, want %s", v, got, want)
		}
	}
	for args, want := range map[string]string{
		"--uts host --hostname foo": "conflicting options: hostname and the UTS mode",
		"--oom-score-adj 1001":      "range for oom score adj is [-1000, 1000]",
	} {
		_, errOut, err := d.docker(t, append(append([]string{"create"}, strings.Fields(args)...), "busybox", "true")...)
		if err == nil || !strings.Contains(errOut, want) {
			t.Errorf("create %s: %v %q, want %q", args, err, errOut, want)
		}
	}
}
