package lifecycle

import (
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	rt "github.com/berth/berth/internal/runtime"
)

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]unix.Signal{
		"9": unix.SIGKILL, "KILL": unix.SIGKILL, "SIGKILL": unix.SIGKILL, "term": unix.SIGTERM,
		"SIGRTMIN+1": unix.Signal(35), "RTMAX-1": unix.Signal(63), "hup": unix.SIGHUP, "0": unix.Signal(0),
	} {
		got, err := ParseSignal(in)
		if err != nil || got != want {
			t.Errorf("ParseSignal(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "65", "-1", "SIGFOO", "KILLL"} {
		if _, err := ParseSignal(bad); err == nil {
			t.Errorf("ParseSignal(%q) succeeded", bad)
		}
	}
}

// The fast path takes the command lines it fully understands, with the
// command tree's meaning, and leaves every other one to the tree.
func TestParseFast(t *testing.T) {
	def := func(f func(c *fastCmd)) *fastCmd {
		c := &fastCmd{g: NewGlobal(), create: CreateOpts{Bundle: "."}}
		f(c)
		return c
	}
	for _, tc := range []struct {
		line string
		want *fastCmd // nil: not the fast path
	}{
		{"run x", def(func(c *fastCmd) { c.name, c.args = "run", []string{"x"} })},
		{"--root /r run --bundle /b x", def(func(c *fastCmd) {
			c.g.Root, c.name, c.args, c.create.Bundle = "/r", "run", []string{"x"}, "/b"
		})},
		{"--root=/r --log /l --log-format json --debug run -b /b --pid-file /p --console-socket /s -d --keep x", def(func(c *fastCmd) {
			c.g.Root, c.g.Log, c.g.LogFormat, c.g.Debug = "/r", "/l", "json", true
			c.name, c.args, c.detach, c.keep = "run", []string{"x"}, true, true
			c.create = CreateOpts{Bundle: "/b", PidFile: "/p", ConsoleSocket: "/s"}
		})},
		{"create --bundle=/b x --no-pivot --preserve-fds 3", def(func(c *fastCmd) {
			c.name, c.args = "create", []string{"x"}
			c.create = CreateOpts{Bundle: "/b", NoPivot: true, PreserveFds: 3}
		})},
		{"delete x --force", def(func(c *fastCmd) { c.name, c.args, c.force = "delete", []string{"x"}, true })},
		{"delete -f=false x", def(func(c *fastCmd) { c.name, c.args = "delete", []string{"x"} })},
		{"kill -a x KILL", def(func(c *fastCmd) { c.name, c.args, c.all = "kill", []string{"x", "KILL"}, true })},
		{"kill x", def(func(c *fastCmd) { c.name, c.args = "kill", []string{"x"} })},
		{"start x", def(func(c *fastCmd) { c.name, c.args = "start", []string{"x"} })},
		{"state x", def(func(c *fastCmd) { c.name, c.args = "state", []string{"x"} })},

		{"", nil},
		{"--root", nil},
		{"--root /r", nil},
		{"--log-format yaml state x", nil}, // the tree reports it
		{"--systemd-cgroup run x", nil},
		{"--help", nil},
		{"run --help x", nil},
		{"run -h x", nil},
		{"run", nil},
		{"run x y", nil},
		{"run --root /r x", nil}, // a global flag after the command: the tree's
		{"run -db /b x", nil},    // combined shorthands: the tree's
		{"run --bundle", nil},
		{"run --keep=maybe x", nil},
		{"run --preserve-fds many x", nil},
		{"run -- x", nil},
		{"kill x 9 more", nil},
		{"kill x -9", nil},
		{"exec x true", nil},
		{"list", nil},
		{"spec", nil},
		{"ps x", nil},
		{"update x", nil},
	} {
		got, ok := parseFast(strings.Fields(tc.line))
		if tc.want == nil {
			if ok {
				t.Errorf("%q: taken by the fast path as %+v", tc.line, got)
			}
			continue
		}
		if !ok {
			t.Errorf("%q: left to the command tree, want the fast path", tc.line)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: got %+v (%+v), want %+v (%+v)", tc.line, got, got.g, tc.want, tc.want.g)
		}
	}
	if c, _ := parseFast([]string{"state", "x"}); c.g.Root != rt.DefaultRoot {
		t.Errorf("default root %q, want %q", c.g.Root, rt.DefaultRoot)
	}
}
