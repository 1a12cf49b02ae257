package volume

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/berth/berth/internal/testutil"
)

// step is one CLI invocation of a parity script.
type step struct {
	stdin string
	args  []string
}

func s(args ...string) step { return step{args: args} }

// script exercises every volume command, its flags, output formats and
// errors, from an empty daemon. It ends with nothing left.
var script = []step{
	s("volume", "create", "v1"),
	// One label each: docker 28 joins .Labels in map order.
	s("volume", "create", "--label", "k=v", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=1m", "tv"),
	// Named past "f": the anonymous volume's random hex name then sorts
	// before it in both runs (as "elabel", 1 run in 16 put it after).
	s("volume", "create", "--label", "e", "labeled"),
	s("volume", "create", "--name", "named2"),
	s("volume", "create", "v1"), // an existing name is no error
	s("volume", "create"),       // anonymous
	s("volume", "create", "a"),
	s("volume", "create", "a*b"),
	s("volume", "create", "../../etc"),
	s("volume", "create", "-o", "foo=bar", "x1"),
	s("volume", "create", "-o", "type=tmpfs", "x2"),
	s("volume", "create", "--driver", "nope", "zz"),
	s("volume", "create", "--name", "x", "y"),
	s("volume", "create", "--label", "bad label", "x3"),
	s("volume", "create", "a1", "b1"),
	s("volume", "ls"),
	s("volume", "list", "-q"),
	s("volume", "ls", "--format", "json"),
	s("volume", "ls", "--format", "{{json .}}"),
	s("volume", "ls", "--format", "table {{.Name}}\t{{.Labels}}\t{{.Scope}}\t{{.Links}}\t{{.Size}}"),
	s("volume", "ls", "--format", "{{.Name}} k={{.Label \"k\"}}"),
	s("volume", "ls", "--format", "{{.Name}}: {{.Mountpoint}}"),
	s("volume", "ls", "-f", "label=k"),
	s("volume", "ls", "-f", "label=k=v", "-f", "name=t"),
	s("volume", "ls", "-f", "label=e"),
	s("volume", "ls", "-q", "-f", "name=^t"),
	s("volume", "ls", "-q", "-f", "name=v."),
	s("volume", "ls", "-f", "dangling=true", "-q"),
	s("volume", "ls", "-f", "dangling=false"),
	s("volume", "ls", "-f", "driver=local", "-f", "name=v1"),
	s("volume", "ls", "-f", "bogus=1"),
	s("volume", "ls", "-f", "dangling=maybe"),
	s("volume", "ls", "-f", "dangling"),
	s("volume", "ls", "extra"),
	s("volume", "inspect", "tv"),
	s("volume", "inspect", "v1", "tv"),
	s("volume", "inspect", "--format", "{{.Name}} {{.Driver}} {{.Scope}} {{.Options}} {{.Labels}}", "tv"),
	s("volume", "inspect", "--format", "{{json .Labels}}", "v1"),
	s("volume", "inspect", "nosuch"),
	s("volume", "inspect", "v1", "nosuch"),
	s("volume", "inspect"),
	s("volume", "rm", "v1", "nosuch"),
	s("volume", "rm", "-f", "nosuch"),
	s("volume", "remove", "named2", "labeled"),
	s("volume", "rm"),
	{stdin: "n\n", args: []string{"volume", "prune"}},
	s("volume", "prune", "-f"), // the anonymous volume only (API 1.42 and later)
	s("volume", "ls", "-q"),
	s("volume", "prune", "-a", "-f", "--filter", "label=nope"),
	s("volume", "prune", "-a", "--filter", "all=1", "-f"),
	s("volume", "prune", "-f", "--filter", "until=1h"),
	{stdin: "y\n", args: []string{"volume", "prune", "-a"}},
	s("volume", "ls"),
	s("volume", "prune", "extra"),
}

var (
	hex64     = regexp.MustCompile(`\b[0-9a-f]{64}\b`)
	createdAt = regexp.MustCompile(`"CreatedAt": "[^"]*"`)
)

// normalize makes two runs comparable: the data root, anonymous names,
// creation times, and the program name in usage messages.
func normalize(out, dataRoot string) string {
	out = strings.ReplaceAll(out, dataRoot, "<DATA>")
	out = hex64.ReplaceAllString(out, "<ANON>")
	out = createdAt.ReplaceAllString(out, `"CreatedAt": "<TIME>"`)
	for _, p := range []string{"docker: '", "'docker ", "Usage:  docker ", "See 'docker ", "Run 'docker "} {
		out = strings.ReplaceAll(out, p, strings.ReplaceAll(p, "docker", "berth"))
	}
	return out
}

// TestCLIParity runs the script with the docker CLI and with `berth`, each
// against a fresh berth daemon, and wants the same stdout, stderr and exit
// code at every step. The docker CLI's answers were also checked against
// dockerd 20.10 where its API version allows (create, ls, inspect, rm, and
// their messages).
func TestCLIParity(t *testing.T) {
	dd := newDaemon(t)
	bd := newDaemon(t)
	for i, st := range script {
		want := run(t, dd, dockerCLI, st.stdin, st.args...)
		got := run(t, bd, env.berth, st.stdin, st.args...)
		w := result{normalize(want.stdout, dd.DataRoot), normalize(want.stderr, dd.DataRoot), want.code}
		g := result{normalize(got.stdout, bd.DataRoot), normalize(got.stderr, bd.DataRoot), got.code}
		if w != g {
			t.Errorf("step %d %q (stdin %q):\n--- docker CLI:\n%s\n--- berth:\n%s", i, st.args, st.stdin, w, g)
		}
	}
	// Both scripts end with every volume removed, directories included.
	for _, d := range []*testutil.Daemon{dd, bd} {
		des, err := os.ReadDir(filepath.Join(d.DataRoot, "volumes"))
		if err != nil || len(des) != 0 {
			t.Errorf("%s/volumes after the script: %v entries, %v", d.DataRoot, len(des), err)
		}
	}
}

// TestVolumesOutliveTheDaemon creates volumes with content, restarts the
// daemon and finds them as they were; a tmpfs volume's options come back.
func TestVolumesOutliveTheDaemon(t *testing.T) {
	d := newDaemon(t)
	for _, args := range [][]string{
		{"volume", "create", "--label", "team=db", "keep"},
		{"volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=2m", "tmp"},
	} {
		if r := run(t, d, env.berth, "", args...); r.code != 0 {
			t.Fatalf("%v: %s", args, r)
		}
	}
	data := filepath.Join(d.DataRoot, "volumes", "keep", "_data", "file")
	if err := os.WriteFile(data, []byte("kept"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := run(t, d, env.berth, "", "volume", "inspect", "keep", "tmp")
	d.Restart(t)
	after := run(t, d, env.berth, "", "volume", "inspect", "keep", "tmp")
	if before != after || after.code != 0 {
		t.Errorf("inspect before the restart:\n%s\nafter:\n%s", before, after)
	}
	if b, err := os.ReadFile(data); err != nil || string(b) != "kept" {
		t.Errorf("content after the restart: %q, %v", b, err)
	}
	if r := run(t, d, dockerCLI, "", "volume", "ls", "-q", "-f", "label=team=db"); r.stdout != "keep\n" {
		t.Errorf("ls -f label=team=db after the restart: %s", r)
	}
	if r := run(t, d, dockerCLI, "", "volume", "rm", "keep", "tmp"); r.code != 0 || r.stdout != "keep\ntmp\n" {
		t.Errorf("rm: %s", r)
	}
}
