package engine

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth/berth/internal/image"
)

func TestValidName(t *testing.T) {
	for name, want := range map[string]bool{
		"ab": true, "/ab": true, "a_b.c-d": true, "A9": true,
		"a": false, "": false, "-ab": false, "_ab": false, "a b": false, "a/b": false, "ä1": false,
	} {
		if got := validName(name); got != want {
			t.Errorf("validName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestGenerateNameAvoidsTaken(t *testing.T) {
	taken := map[string]bool{}
	for range 300 {
		n := generateName(func(s string) bool { return taken[s] })
		if taken[n] || !validName(n) || !strings.Contains(n, "_") {
			t.Fatalf("generated %q: taken or invalid", n)
		}
		taken[n] = true
	}
}

func TestMergeImageConfig(t *testing.T) {
	img := image.Image{Config: ocispec.Image{Config: ocispec.ImageConfig{
		User: "nobody", Env: []string{"PATH=/bin", "A=image"}, Entrypoint: []string{"/entry"}, Cmd: []string{"default"},
		WorkingDir: "/w", ExposedPorts: map[string]struct{}{"80/tcp": {}}, Volumes: map[string]struct{}{"/data": {}},
		StopSignal: "SIGQUIT", Labels: map[string]string{"a": "image", "b": "image"},
	}}}
	img.ConfigRaw, _ = json.Marshal(map[string]any{"config": map[string]any{"Healthcheck": map[string]any{"Test": []string{"CMD", "true"}, "Retries": 4}}})

	cfg := &container.Config{Env: []string{"A=req", "C=req"}, Cmd: []string{"arg"}, Labels: map[string]string{"b": "req"},
		Healthcheck: &container.HealthConfig{Interval: time.Second}}
	mergeImageConfig(cfg, img)
	if !reflect.DeepEqual(cfg.Env, []string{"A=req", "C=req", "PATH=/bin"}) { // dockerd's order: the request's first
		t.Errorf("Env %v", cfg.Env)
	}
	if !reflect.DeepEqual(cfg.Entrypoint, []string{"/entry"}) || !reflect.DeepEqual(cfg.Cmd, []string{"arg"}) {
		t.Errorf("Entrypoint %v Cmd %v: the request's Cmd replaces the image's", cfg.Entrypoint, cfg.Cmd)
	}
	if cfg.User != "nobody" || cfg.WorkingDir != "/w" || cfg.StopSignal != "SIGQUIT" || len(cfg.ExposedPorts) != 1 || len(cfg.Volumes) != 1 {
		t.Errorf("merged %+v", cfg)
	}
	if cfg.Labels["a"] != "image" || cfg.Labels["b"] != "req" {
		t.Errorf("Labels %v", cfg.Labels)
	}
	if h := cfg.Healthcheck; h == nil || !reflect.DeepEqual(h.Test, []string{"CMD", "true"}) || h.Retries != 4 || h.Interval != time.Second {
		t.Errorf("Healthcheck %+v", h)
	}

	// An Entrypoint in the request drops the image's Cmd.
	cfg = &container.Config{Entrypoint: []string{"/other"}}
	mergeImageConfig(cfg, img)
	if !reflect.DeepEqual(cfg.Entrypoint, []string{"/other"}) || len(cfg.Cmd) != 0 {
		t.Errorf("Entrypoint %v Cmd %v", cfg.Entrypoint, cfg.Cmd)
	}
}

func TestCapabilities(t *testing.T) {
	caps, err := capabilities(&container.HostConfig{CapAdd: []string{"net_admin", "CAP_SYS_TIME"}, CapDrop: []string{"chown"}})
	if err != nil {
		t.Fatal(err)
	}
	has := map[string]bool{}
	for _, c := range caps {
		has[c] = true
	}
	if !has["CAP_NET_ADMIN"] || !has["CAP_SYS_TIME"] || has["CAP_CHOWN"] || !has["CAP_KILL"] || has["CAP_SYS_ADMIN"] {
		t.Errorf("caps %v", caps)
	}
	if caps, _ := capabilities(&container.HostConfig{CapDrop: []string{"ALL"}, CapAdd: []string{"KILL"}}); !reflect.DeepEqual(caps, []string{"CAP_KILL"}) {
		t.Errorf("drop ALL add KILL: %v", caps)
	}
	if _, err := capabilities(&container.HostConfig{CapAdd: []string{"NOPE"}}); err == nil || !strings.Contains(err.Error(), "CAP_NOPE") {
		t.Errorf("unknown capability: %v", err)
	}
}

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]int{"": 15, "9": 9, "KILL": 9, "sigusr1": 10, "SIGHUP": 1} {
		got, err := ParseSignal(in, 15)
		if err != nil || int(got) != want {
			t.Errorf("ParseSignal(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"NOPE", "0", "65", "-1"} {
		if _, err := ParseSignal(bad, 15); err == nil {
			t.Errorf("ParseSignal(%q) accepted", bad)
		}
	}
}

func TestParsePS(t *testing.T) {
	out := []byte("UID          PID    PPID  C STIME TTY          TIME CMD\nroot           1       0  0 06:00 ?        00:00:01 /sbin/init\nroot        4242    4200  0 06:01 ?        00:00:00 sleep 300 now\n")
	resp, err := parsePS(out, []int{4242})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Titles) != 8 || len(resp.Processes) != 1 || resp.Processes[0][1] != "4242" || resp.Processes[0][7] != "sleep 300 now" {
		t.Fatalf("%+v", resp)
	}
	if _, err := parsePS([]byte("USER COMMAND\nroot x\n"), nil); err == nil {
		t.Fatal("ps output without PID accepted")
	}
}

func TestStatusText(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		s    State
		want string
	}{
		{State{Status: container.StateCreated}, "Created"},
		{State{Running: true, StartedAt: now.Add(-3 * time.Second)}, "Up 3 seconds"},
		{State{Running: true, Paused: true, StartedAt: now.Add(-2 * time.Hour)}, "Up 2 hours (Paused)"},
		{State{Running: true, StartedAt: now.Add(-3 * time.Second), Health: &container.Health{Status: container.Starting}}, "Up 3 seconds (health: starting)"},
		{State{Running: true, StartedAt: now.Add(-3 * time.Second), Health: &container.Health{Status: container.Healthy}}, "Up 3 seconds (healthy)"},
		{State{Running: true, Paused: true, StartedAt: now.Add(-3 * time.Second), Health: &container.Health{Status: container.Unhealthy}}, "Up 3 seconds (Paused)"},
		{State{Status: container.StateExited, ExitCode: 3, StartedAt: now.Add(-time.Hour), FinishedAt: now.Add(-90 * time.Second)}, "Exited (3) About a minute ago"},
	} {
		if got := statusText(tc.s, now); got != tc.want {
			t.Errorf("statusText(%+v) = %q, want %q", tc.s, got, tc.want)
		}
	}
}

func TestResolveInStaysInRoot(t *testing.T) {
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	must(os.Symlink("/etc", filepath.Join(root, "abs")))
	must(os.Symlink("../../../..", filepath.Join(root, "etc", "up")))
	must(os.Symlink("loop2", filepath.Join(root, "loop1")))
	must(os.Symlink("loop1", filepath.Join(root, "loop2")))
	for in, want := range map[string]string{
		"/abs/passwd":   "/etc/passwd",
		"/etc/up/x":     "/x",
		"../../etc":     "/etc",
		"/etc/up/../up": "/",
	} {
		got, err := resolveIn(root, in, false)
		if err != nil || got != filepath.Join(root, want) {
			t.Errorf("resolveIn(%q) = %q, %v; want %q", in, got, err, filepath.Join(root, want))
		}
	}
	if got, _ := resolveIn(root, "/abs", true); got != filepath.Join(root, "abs") {
		t.Errorf("noFollowLast followed: %q", got)
	}
	if _, err := resolveIn(root, "/loop1", false); err == nil {
		t.Error("symlink loop resolved")
	}
}

func TestResolveUser(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	_ = os.WriteFile(filepath.Join(root, "etc", "passwd"), []byte("root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n"), 0o644)
	_ = os.WriteFile(filepath.Join(root, "etc", "group"), []byte("root:x:0:\nalice:x:1000:\nwheel:x:10:alice,bob\nstaff:x:50:\n"), 0o644)
	for in, want := range map[string][3]any{
		// The primary group first, as docker lists it among the groups.
		"":      {uint32(0), uint32(0), []uint32{0}},
		"alice": {uint32(1000), uint32(1000), []uint32{1000, 10}},
		"1000":  {uint32(1000), uint32(1000), []uint32{1000, 10}},
		// A group given explicitly is the only one (docker's explicit
		// form): the groups that list alice are not added.
		"alice:staff": {uint32(1000), uint32(50), []uint32{50}},
		"alice:1000":  {uint32(1000), uint32(1000), []uint32{1000}},
		"1000:0":      {uint32(1000), uint32(0), []uint32{0}},
		"4242:7":      {uint32(4242), uint32(7), []uint32{7}},
	} {
		u, err := resolveUser(root, in)
		if err != nil || u.UID != want[0] || u.GID != want[1] || !reflect.DeepEqual(u.AdditionalGids, want[2]) {
			t.Errorf("resolveUser(%q) = %+v, %v; want %v", in, u, err, want)
		}
	}
	for _, bad := range []string{"nobody", "alice:nogroup"} {
		if _, err := resolveUser(root, bad); err == nil {
			t.Errorf("resolveUser(%q) accepted", bad)
		}
	}

	// An image's /etc/passwd that links out of its rootfs is not read.
	outside := t.TempDir()
	_ = os.WriteFile(filepath.Join(outside, "passwd"), []byte("mallory:x:7:7::/:/bin/sh\n"), 0o644)
	evil := filepath.Join(t.TempDir(), "rootfs")
	if err := os.MkdirAll(filepath.Join(evil, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	rel, _ := filepath.Rel(filepath.Join(evil, "etc"), filepath.Join(outside, "passwd"))
	for _, target := range []string{rel, filepath.Join(outside, "passwd")} {
		_ = os.Remove(filepath.Join(evil, "etc", "passwd"))
		if err := os.Symlink(target, filepath.Join(evil, "etc", "passwd")); err != nil {
			t.Fatal(err)
		}
		if u, err := resolveUser(evil, "mallory"); err == nil {
			t.Errorf("resolveUser read /etc/passwd through a symlink to %s: %+v", target, u)
		}
	}
}
