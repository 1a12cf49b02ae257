package runtime

import (
	"encoding/binary"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth/berth/internal/testutil"
)

// TestFastPlanCovers: which specs the parent encodes for the C init, and
// why it leaves the others to the Go init. What the C init then does is
// checked with real containers (test/integration TestCInitCovers and the
// berth-goinit parity runs).
func TestFastPlanCovers(t *testing.T) {
	cfg := func() *initConfig {
		return &initConfig{ID: "c1", Rootfs: t.TempDir(), ExecSockFd: syncFd + 1}
	}
	ok := func(edit func(*specs.Spec)) *specs.Spec {
		s := testutil.DefaultSpec("true")
		if edit != nil {
			edit(s)
		}
		return s
	}
	covered := []struct {
		name string
		spec *specs.Spec
	}{
		{"default", ok(nil)},
		{"seccomp", ok(func(s *specs.Spec) {
			s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
				Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActErrno}}}
		})},
		{"poststart hook (run by the parent)", ok(func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{Poststart: []specs.Hook{{Path: "/bin/true"}}}
		})},
		{"rprivate", ok(func(s *specs.Spec) { s.Linux.RootfsPropagation = "rprivate" })},
	}
	for _, c := range covered {
		plan, why := fastPlan(c.spec, cfg(), "/")
		if why != "" || len(plan) == 0 {
			t.Errorf("%s: not covered: %q", c.name, why)
		}
	}

	notCovered := []struct {
		name string
		spec *specs.Spec
		cfg  func(*initConfig)
		want string
	}{
		{"createContainer hook", ok(func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{{Path: "/bin/true"}}}
		}), nil, "hooks"},
		{"terminal", ok(func(s *specs.Spec) { s.Process.Terminal = true }), nil, "terminal"},
		{"user namespace", ok(func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		}), nil, "user namespace"},
		{"no mount namespace", ok(func(s *specs.Spec) {
			s.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.PIDNamespace}}
		}), nil, "mount namespace"},
		{"shared propagation", ok(func(s *specs.Spec) { s.Linux.RootfsPropagation = "shared" }), nil, "rootfsPropagation"},
		{"tmpcopyup", ok(func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Type: "tmpfs", Options: []string{"tmpcopyup"}})
		}), nil, "mounts[7]"},
		{"missing bind source", ok(func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Type: "bind", Source: "/no/such/dir", Options: []string{"bind"}})
		}), nil, "bind source"},
		{"NUL in an argument", ok(func(s *specs.Spec) { s.Process.Args = []string{"true", "a\x00b"} }), nil, "NUL"},
		{"unknown rlimit", ok(func(s *specs.Spec) {
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOPE"}}
		}), nil, "rlimits"},
		{"preserved descriptors", ok(nil), func(c *initConfig) { c.PreserveFds = []int{5} }, "preserve-fds"},
		{"parent moves the init", ok(nil), func(c *initConfig) { c.CgroupAwaitMove = true }, "moves the init"},
	}
	for _, c := range notCovered {
		cf := cfg()
		if c.cfg != nil {
			c.cfg(cf)
		}
		plan, why := fastPlan(c.spec, cf, "/")
		if plan != nil || !strings.Contains(why, c.want) {
			t.Errorf("%s: plan of %d bytes, reason %q; want none and a reason naming %q", c.name, len(plan), why, c.want)
		}
	}
}

// TestPlanHeader: what the init reads first on the sync socket.
func TestPlanHeader(t *testing.T) {
	h := planHeader(300)
	if string(h[:4]) != "BFI1" || binary.LittleEndian.Uint32(h[4:]) != 300 {
		t.Errorf("header %q", h)
	}
}

func TestFastJoins(t *testing.T) {
	for _, tc := range []struct {
		joins []string
		want  bool
	}{
		{nil, true},
		{[]string{"net:/run/netns/x"}, true},
		{[]string{"ipc:/proc/1/ns/ipc", "uts:/proc/1/ns/uts", "net:/proc/1/ns/net"}, true},
		{[]string{"net:/proc/1/ns/net", "pid:/proc/1/ns/pid"}, false},
		{[]string{"mnt:/proc/1/ns/mnt"}, false},
		{[]string{"user:/proc/1/ns/user"}, false},
		{[]string{"cgroup:/proc/1/ns/cgroup"}, false},
	} {
		if got := fastJoins(tc.joins); got != tc.want {
			t.Errorf("fastJoins(%q) = %v, want %v", tc.joins, got, tc.want)
		}
	}
}
