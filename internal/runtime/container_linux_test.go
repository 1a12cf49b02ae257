package runtime

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestValidateID(t *testing.T) {
	for _, ok := range []string{"a", "abc-123_x.y+z", strings.Repeat("a", 64)} {
		if err := validateID(ok); err != nil {
			t.Errorf("validateID(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "..", "a/b", "../x", "a b", "a\x00"} {
		if err := validateID(bad); err == nil {
			t.Errorf("validateID(%q) succeeded", bad)
		}
	}
}

func TestLoadAndStatus(t *testing.T) {
	root := t.TempDir()
	if _, err := Load(root, "nope"); !errors.Is(err, ErrNotExist) {
		t.Fatalf("Load of a missing container = %v, want ErrNotExist", err)
	}
	// A container whose init is this test process is running (no exec
	// socket); one with a dead pid is stopped.
	self, _, err := pidStartTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	mk := func(id string, pid int, start uint64) {
		c := &Container{dir: filepath.Join(root, id), State: State{ID: id, Pid: pid, PidStartTime: start, Spec: &specs.Spec{}}}
		if err := os.Mkdir(c.dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := c.save(); err != nil {
			t.Fatal(err)
		}
	}
	mk("live", os.Getpid(), self)
	mk("reused", os.Getpid(), self+1) // same pid, another process
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	mk("dead", cmd.Process.Pid, 1)
	cs, err := List(root)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Status{}
	for _, c := range cs {
		got[c.ID()] = c.Status()
	}
	want := map[string]Status{"dead": Stopped, "live": Running, "reused": Stopped}
	for id, st := range want {
		if got[id] != st {
			t.Errorf("status of %s = %q, want %q", id, got[id], st)
		}
	}
	if len(cs) != 3 || cs[0].ID() != "dead" {
		t.Errorf("List = %d containers, first %q; want 3 sorted", len(cs), cs[0].ID())
	}
	// A stopped container reports pid 0 in its OCI state.
	c, _ := Load(root, "dead")
	if st := c.OCIState(); st.Pid != 0 || st.Status != specs.StateStopped {
		t.Errorf("OCI state of a stopped container = %+v", st)
	}
}

func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "tool")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	noexec := filepath.Join(dir, "data")
	if err := os.WriteFile(noexec, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=/nonexistent:" + dir}
	if p, err := lookPath("tool", env); err != nil || p != exe {
		t.Errorf("lookPath(tool) = %q, %v", p, err)
	}
	if _, err := lookPath("missing", env); err == nil || !strings.Contains(err.Error(), "executable file not found in $PATH") {
		t.Errorf("lookPath(missing) = %v", err)
	}
	if _, err := lookPath(noexec, env); err == nil || !errors.Is(err, os.ErrPermission) {
		t.Errorf("lookPath(non-executable) = %v, want permission denied", err)
	}
	if _, err := lookPath(dir, env); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("lookPath(dir) = %v", err)
	}
}

func TestRunHooksOrderAndFailure(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	hook := func(name string) specs.Hook {
		return specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "read s; echo " + name + " \"$s\" >> " + log}}
	}
	st := &specs.State{ID: "c1", Status: specs.StateCreating, Pid: 42}
	if err := runHooks([]specs.Hook{hook("one"), hook("two")}, st); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(log)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "one {") || !strings.HasPrefix(lines[1], "two {") || !strings.Contains(lines[0], `"id":"c1"`) {
		t.Errorf("hooks ran as %q", lines)
	}
	fail := specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "echo broken >&2; exit 3"}}
	err := runHooks([]specs.Hook{fail, hook("never")}, st)
	if err == nil || !strings.Contains(err.Error(), "broken") || !strings.Contains(err.Error(), "hook 0") {
		t.Errorf("failing hook error = %v", err)
	}
	timeout := 1
	slow := specs.Hook{Path: "/bin/sleep", Args: []string{"sleep", "10"}, Timeout: &timeout}
	if err := runHooks([]specs.Hook{slow}, st); err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("slow hook error = %v", err)
	}
}

// The state of a container just created keeps its spec from the config.json
// it was decoded from; once the spec changes (update), the spec is encoded.
// Both load back as the spec the container runs.
func TestStateSpecSaved(t *testing.T) {
	root := t.TempDir()
	config := []byte(`{
	"ociVersion": "1.0.2",
	"process": {"args": ["sh"], "cwd": "/", "env": ["A=<&>"]},
	"root": {"path": "rootfs"},
	"linux": {"resources": {"pids": {"limit": 5}}}
}
`)
	spec, err := parseSpec(config)
	if err != nil {
		t.Fatal(err)
	}
	c := &Container{dir: filepath.Join(root, "x"), State: State{ID: "x", Spec: spec}, specJSON: config}
	if err := os.Mkdir(c.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := c.save(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(c.dir, stateFile))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "\n") || strings.Count(string(raw), `"spec"`) != 1 {
		t.Errorf("state.json is not one compact object with one spec: %s", raw)
	}
	got, err := Load(root, "x")
	if err != nil {
		t.Fatal(err)
	}
	if got.State.Spec == nil || got.State.Spec.Process.Env[0] != "A=<&>" || *got.State.Spec.Linux.Resources.Pids.Limit != 5 || got.State.ID != "x" {
		t.Fatalf("spec loaded back: %+v", got.State.Spec)
	}
	// What update does to the spec, then saves.
	*c.State.Spec.Linux.Resources.Pids.Limit = 9
	c.specJSON = nil
	if err := c.save(); err != nil {
		t.Fatal(err)
	}
	if got, err = Load(root, "x"); err != nil || *got.State.Spec.Linux.Resources.Pids.Limit != 9 {
		t.Fatalf("spec after a change: %v, %+v", err, got.State.Spec.Linux.Resources.Pids)
	}
}

func TestRemoveStateDir(t *testing.T) {
	for _, files := range [][]string{
		{stateFile},
		{stateFile, execSockName},
		{stateFile, stateFile + ".tmp", "other"},
		{},
	} {
		dir := filepath.Join(t.TempDir(), "ctr")
		if err := os.Mkdir(dir, 0o711); err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if err := removeStateDir(dir); err != nil {
			t.Errorf("removeStateDir with %q: %v", files, err)
		}
		if _, err := os.Lstat(dir); !os.IsNotExist(err) {
			t.Errorf("removeStateDir with %q left the directory (%v)", files, err)
		}
		if err := removeStateDir(dir); err != nil {
			t.Errorf("removeStateDir of a removed directory: %v", err)
		}
	}
}
