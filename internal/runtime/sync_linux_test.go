package runtime

import (
	"encoding/json"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestInitSpecRoundTrip checks that what the init reads of the spec
// survives the trip through initSpec and JSON, and that what it does not
// read stays out of the message.
func TestInitSpecRoundTrip(t *testing.T) {
	s := DefaultSpec()
	s.Domainname = "example.org"
	s.Hooks = &specs.Hooks{
		CreateContainer: []specs.Hook{{Path: "/bin/true", Args: []string{"true", "cc"}}},
		StartContainer:  []specs.Hook{{Path: "/bin/true", Env: []string{"A=1"}}},
	}
	s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229}}
	s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
	s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
		Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActErrno}}}
	s.Linux.RootfsPropagation = "rslave"
	s.Linux.CgroupsPath = "/not/for/the/init"
	s.Annotations = map[string]string{"not": "for the init"}

	b, err := json.Marshal(newInitSpec(s))
	if err != nil {
		t.Fatal(err)
	}
	var is initSpec
	if err := json.Unmarshal(b, &is); err != nil {
		t.Fatal(err)
	}
	got := is.spec()

	want := *s
	want.Annotations = nil
	wl := *s.Linux
	want.Linux = &specs.Linux{Namespaces: wl.Namespaces, Devices: wl.Devices, Sysctl: wl.Sysctl, Seccomp: wl.Seccomp,
		RootfsPropagation: wl.RootfsPropagation, MaskedPaths: wl.MaskedPaths, ReadonlyPaths: wl.ReadonlyPaths}
	if !reflect.DeepEqual(got, &want) {
		gb, _ := json.Marshal(got)
		wb, _ := json.Marshal(&want)
		t.Errorf("after the round trip:\n got %s\nwant %s", gb, wb)
	}
	if got.Linux.Resources != nil || got.Linux.CgroupsPath != "" {
		t.Errorf("the init was sent linux.resources or cgroupsPath: %s", b)
	}
	if newInitSpec(nil) != nil {
		t.Error("newInitSpec(nil) != nil")
	}
}

// TestHostCgroupMounts checks what the parent sends the init for a v1
// cgroup view: the host's v1 hierarchies under /sys/fs/cgroup, and only
// when the spec mounts one on a host that has them.
func TestHostCgroupMounts(t *testing.T) {
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil || st.Type == unix.CGROUP2_SUPER_MAGIC {
		t.Skip("no cgroup v1 hierarchies on this host")
	}
	mounts, err := hostCgroupMounts()
	if err != nil {
		t.Fatal(err)
	}
	if len(mounts) == 0 {
		t.Fatal("no cgroup v1 mounts found under /sys/fs/cgroup")
	}
	memory := false
	for _, m := range mounts {
		if !pathWithin(m.MountPoint, "/sys/fs/cgroup") || m.SuperOptions == "" || m.Root == "" {
			t.Errorf("bad cgroup mount %+v", m)
		}
		memory = memory || cgroupControllers(m.SuperOptions) == "memory"
	}
	if !memory {
		t.Errorf("no memory hierarchy in %+v", mounts)
	}
	s := DefaultSpec()
	if !needsHostCgroupMounts(s) {
		t.Error("the default spec mounts a cgroup view, but needsHostCgroupMounts is false")
	}
	s.Mounts = s.Mounts[:1]
	if needsHostCgroupMounts(s) {
		t.Error("a spec without a cgroup mount needs no host cgroup mounts")
	}
}

// TestJoinCgroupTasks checks the init's side of its own v1 cgroup join:
// "0" written to each tasks file, by path or through a descriptor (then
// closed), and an empty cgroup message, or, when a write fails, a message
// naming the file and a wait for the parent's continue (the parent then
// moves the whole process).
func TestJoinCgroupTasks(t *testing.T) {
	pair := func(t *testing.T) (parent, init *syncConn) {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		p, c := os.NewFile(uintptr(fds[0]), "parent"), os.NewFile(uintptr(fds[1]), "init")
		t.Cleanup(func() { p.Close(); c.Close() })
		return newSyncConn(p), newSyncConn(c)
	}

	t.Run("joined", func(t *testing.T) {
		parent, init := pair(t)
		a, b, c := t.TempDir(), t.TempDir(), t.TempDir()
		for _, d := range []string{a, b, c} {
			if err := os.WriteFile(d+"/tasks", nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		fd, err := unix.Open(c+"/tasks", unix.O_WRONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := joinCgroupTasks(init, []string{a + "/tasks", b + "/tasks"}, []int{fd}, false); err != nil {
			t.Fatal(err)
		}
		m, err := parent.expect(msgCgroup)
		if err != nil || m.Message != "" {
			t.Fatalf("parent got %+v, %v; want an empty cgroup message", m, err)
		}
		for _, d := range []string{a, b, c} {
			if got, _ := os.ReadFile(d + "/tasks"); string(got) != "0" {
				t.Errorf("%s/tasks = %q, want \"0\"", d, got)
			}
		}
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil {
			t.Errorf("the tasks descriptor %d is still open", fd)
		}
	})

	t.Run("failed", func(t *testing.T) {
		parent, init := pair(t)
		missing := t.TempDir() + "/gone/tasks"
		done := make(chan error, 1)
		go func() { done <- joinCgroupTasks(init, []string{missing}, nil, false) }()
		m, err := parent.expect(msgCgroup)
		if err != nil || !strings.Contains(m.Message, "join "+missing) {
			t.Fatalf("parent got %+v, %v; want a message naming %s", m, err, missing)
		}
		select {
		case err := <-done:
			t.Fatalf("the init went on (%v) before the parent's continue", err)
		case <-time.After(50 * time.Millisecond):
		}
		if err := parent.send(syncMsg{Type: msgContinue}); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatalf("after continue: %v", err)
		}
	})
}

// TestParentMoves: the parent moves a new process itself when its v2 (or
// unified) cgroup was not joined at birth (no CLONE_INTO_CGROUP, or given
// up: dropFD) and it is not to be moved later, or when the process does
// not join its v1 hierarchies; the join is never left nil by a fallback.
func TestParentMoves(t *testing.T) {
	hybrid := map[string]string{"": "/u/c", "pids": "/p/c"}
	v2only := map[string]string{"": "/u/c"}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	fd := &cgroupJoin{v1: []string{"/p/c"}, v2: devnull}
	dropped := &cgroupJoin{v1: []string{"/p/c"}}
	for _, tc := range []struct {
		name  string
		paths map[string]string
		join  *cgroupJoin
		v1    bool
		want  bool
	}{
		{"born in v2, v1 by the process", hybrid, fd, true, false},
		{"born in v2, v1 not by the process", hybrid, fd, false, true},
		{"CLONE_INTO_CGROUP given up", hybrid, dropped, true, true},
		{"no join at all (user namespace)", hybrid, nil, false, true},
		{"v2 with a pids limit: moved later", v2only, &cgroupJoin{late: true}, false, false},
	} {
		if got := parentMoves(tc.paths, tc.join, tc.v1); got != tc.want {
			t.Errorf("%s: parentMoves = %v, want %v", tc.name, got, tc.want)
		}
	}
	d := &cgroupJoin{v1: []string{"/p/c"}}
	d.dropFD()
	if d.v2 != nil || len(d.v1) != 1 {
		t.Errorf("dropFD: %+v, want the v1 list kept and no fd", d)
	}
}

// send writes what encoding/json writes for a message without a config
// (the same values read back), and "continue" exactly as the C init's
// expect_continue compares it.
func TestSyncSend(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	c := newSyncConn(w)
	msgs := []syncMsg{{Type: msgContinue}, {Type: msgPid, Pid: 42}, {Type: msgError, Message: "mount \"/x\": <&> \u2028\x01\xff"}, {Type: msgCgroup}}
	for _, m := range msgs {
		if err := c.send(m); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	lines := strings.SplitAfter(readAll(t, r), "\n")
	if lines[0] != "{\"type\":\"continue\"}\n" {
		t.Errorf("continue sent as %q", lines[0])
	}
	for i, m := range msgs {
		want, _ := json.Marshal(struct {
			Type    string `json:"type"`
			Pid     int    `json:"pid,omitempty"`
			Message string `json:"message,omitempty"`
		}{m.Type, m.Pid, m.Message})
		var got, w2 syncMsg
		if err := json.Unmarshal([]byte(lines[i]), &got); err != nil {
			t.Fatalf("%q: %v", lines[i], err)
		}
		if err := json.Unmarshal(want, &w2); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, w2) {
			t.Errorf("sent %q, encoding/json writes %s", lines[i], want)
		}
	}
}

func readAll(t *testing.T, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
