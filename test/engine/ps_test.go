package engine

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// TestPsCommand: the COMMAND column as with dockerd: arguments with a
// space in single quotes, the whole quoted and cut to 20 columns with an
// ellipsis, uncut with --no-trunc; the same through the berth CLI.
func TestPsCommand(t *testing.T) {
	d := newDaemon(t)
	d.mustDocker(t, "create", "--name", "cmd-sleep", "busybox", "sleep", "100")
	d.mustDocker(t, "create", "--name", "cmd-loop", "busybox", "sh", "-c", "while true; do sleep 1; done")
	d.mustDocker(t, "create", "--name", "cmd-entry", "--entrypoint", "echo", "busybox", "a b", "c")
	want := map[string][2]string{
		"cmd-sleep": {`"sleep 100"`, `"sleep 100"`},
		"cmd-loop":  {`"sh -c 'while true; …"`, `"sh -c 'while true; do sleep 1; done'"`},
		"cmd-entry": {`"echo 'a b' c"`, `"echo 'a b' c"`},
	}
	for _, cli := range []struct {
		name string
		run  func(args ...string) (string, string, error)
	}{
		{"docker", func(args ...string) (string, string, error) { return d.docker(t, args...) }},
		{"berth", func(args ...string) (string, string, error) { return d.berth(t, args...) }},
	} {
		for i, flags := range [][]string{nil, {"--no-trunc"}} {
			args := append([]string{"ps", "-a", "--format", "{{.Names}}|{{.Command}}"}, flags...)
			out, errOut, err := cli.run(args...)
			if err != nil {
				t.Fatalf("%s %s: %v %s", cli.name, strings.Join(args, " "), err, errOut)
			}
			got := map[string]string{}
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				name, cmd, _ := strings.Cut(line, "|")
				got[name] = cmd
			}
			for name, w := range want {
				if got[name] != w[i] {
					t.Errorf("%s ps %v: COMMAND of %s = %s, want %s", cli.name, flags, name, got[name], w[i])
				}
			}
		}
	}
	// The table shows the same cut command.
	if out := d.mustDocker(t, "ps", "-a", "--filter", "name=cmd-loop"); !strings.Contains(out, `"sh -c 'while true; …"`) {
		t.Errorf("ps table: %q", out)
	}
}

// ps --filter volume=, publish=, expose= and is-task= as dockerd has them.
func TestPsFiltersMountsPorts(t *testing.T) {
	d, _, _ := newNetDaemon(t)
	hp, hp2 := freePort(t), freePort(t)
	d.mustDocker(t, "run", "-d", "--name", "pf1", "-v", "pfvol:/data", "--expose", "7000", "-p", "127.0.0.1:"+hp+":80", "busybox", "sleep", "300")
	d.mustDocker(t, "create", "--name", "pf2", "-p", "127.0.0.1:"+hp2+":81", "busybox", "true")
	n, _ := strconv.Atoi(hp)
	t.Cleanup(func() { d.docker(t, "rm", "-f", "-v", "pf1", "pf2"); d.docker(t, "volume", "rm", "-f", "pfvol") })
	for filter, want := range map[string]string{
		// publish= names a host port the container has published (a
		// created container has none yet), as dockerd's
		"volume=pfvol": "pf1", "volume=/data": "pf1", "publish=" + hp: "pf1", "publish=" + hp + "/tcp": "pf1",
		fmt.Sprintf("publish=%d-%d", n-1, n+1): "pf1", "publish=" + hp + "/udp": "", "publish=80": "", "publish=" + hp2: "",
		"expose=7000": "pf1", "expose=7001": "", "is-task=true": "",
	} {
		out := strings.TrimSpace(d.mustDocker(t, "ps", "-a", "--format", "{{.Names}}", "--filter", filter))
		if out != want {
			t.Errorf("ps --filter %s: %q, want %q", filter, out, want)
		}
	}
	if out := d.mustDocker(t, "ps", "-a", "--format", "{{.Names}}", "--filter", "is-task=false"); !strings.Contains(out, "pf1") || !strings.Contains(out, "pf2") {
		t.Errorf("ps --filter is-task=false: %q", out)
	}
}
