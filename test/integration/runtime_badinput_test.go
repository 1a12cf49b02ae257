package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth/berth/internal/testutil"
)

// badInputCase is a bundle `create` must refuse. breakBundle spoils a fresh
// busybox bundle. Berth must fail with a one-line error containing one of
// words (naming the field or path) and leave nothing behind; runc's exit
// status is compared with Berth's, except where runcAccepts records that
// runc 1.1 takes the input.
type badInputCase struct {
	name        string
	breakBundle func(t *testing.T, bundle string)
	words       []string
	runcAccepts bool
}

func editSpec(t *testing.T, bundle string, edit func(*specs.Spec)) {
	t.Helper()
	spec := testutil.LoadSpec(t, bundle)
	edit(spec)
	testutil.WriteSpec(t, bundle, spec)
}

var badInputCases = []badInputCase{
	{
		name: "MissingConfig",
		breakBundle: func(t *testing.T, bundle string) {
			if err := os.Remove(filepath.Join(bundle, "config.json")); err != nil {
				t.Fatal(err)
			}
		},
		words: []string{"config.json"},
	},
	{
		name: "InvalidJSON",
		breakBundle: func(t *testing.T, bundle string) {
			if err := os.WriteFile(filepath.Join(bundle, "config.json"), []byte(`{"ociVersion": "1.0.2", "process": {`), 0o644); err != nil {
				t.Fatal(err)
			}
		},
		words: []string{"config.json"},
	},
	{
		name: "MissingRootfs",
		breakBundle: func(t *testing.T, bundle string) {
			if err := os.RemoveAll(filepath.Join(bundle, "rootfs")); err != nil {
				t.Fatal(err)
			}
		},
		words: []string{"root.path", "rootfs"},
	},
	{
		name: "UnknownNamespace",
		breakBundle: func(t *testing.T, bundle string) {
			editSpec(t, bundle, func(s *specs.Spec) {
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "bogus"})
			})
		},
		words: []string{"namespace"},
	},
	{
		name: "UnknownCapability",
		breakBundle: func(t *testing.T, bundle string) {
			editSpec(t, bundle, func(s *specs.Spec) {
				s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_BOGUS")
			})
		},
		words:       []string{"CAP_BOGUS"},
		runcAccepts: true, // runc 1.1 warns about unknown capabilities and drops them
	},
	{
		name: "UnsupportedOCIVersion",
		breakBundle: func(t *testing.T, bundle string) {
			editSpec(t, bundle, func(s *specs.Spec) { s.Version = "2.0.0" })
		},
		words:       []string{"ociVersion"},
		runcAccepts: true, // runc 1.1 does not check the version
	},
}

func TestRuntimeBadInput(t *testing.T) {
	for _, bc := range badInputCases {
		t.Run(bc.name, func(t *testing.T) {
			codes := map[string]int{}
			for _, name := range selectedRuntimes() {
				t.Run(name, func(t *testing.T) {
					r := newRuntime(t, name)
					bundle := testutil.BusyboxBundle(t, "true")
					c := newContainer(t, r, bundle)
					bc.breakBundle(t, bundle)
					res := r.run(t, "create", "--bundle", bundle, c.id)
					codes[name] = res.Code
					if r.name == "runc" {
						if bc.runcAccepts && res.Code != 0 {
							t.Errorf("runc now refuses this input (update runcAccepts): %s", res)
						}
						if !bc.runcAccepts && res.Code == 0 {
							t.Errorf("runc accepted the bad input")
						}
						if res.Code != 0 {
							assertNothingLeft(t, r, c)
						}
						return
					}
					assertRefused(t, r, res, bc.words)
					assertNothingLeft(t, r, c)
				})
			}
			if b, ok := codes["berth"]; ok {
				if rc, ok := codes["runc"]; ok && rc != 0 && b == 0 {
					t.Errorf("runc refuses this input (exit %d), berth accepts it", rc)
				}
			}
		})
	}
}

// assertRefused checks that the command failed with a one-line error that
// contains one of words.
func assertRefused(t *testing.T, r *runtimeCLI, res result, words []string) {
	t.Helper()
	if res.Code == 0 {
		t.Fatalf("%s create accepted the bad input: %s", r.name, res)
	}
	msg := strings.TrimSpace(res.Stderr)
	t.Logf("%s refused with exit %d: %s", r.name, res.Code, msg)
	if msg == "" || !oneLine(msg) {
		t.Errorf("%s error is not one line: %q", r.name, msg)
	}
	found := false
	for _, w := range words {
		if strings.Contains(strings.ToLower(msg), strings.ToLower(w)) {
			found = true
		}
	}
	if !found {
		t.Errorf("%s error %q names none of %q", r.name, msg, words)
	}
}

// TestRuntimeDuplicateID: a second create with an id in use fails, leaves the
// first container as it was and leaves nothing of the second behind.
func TestRuntimeDuplicateID(t *testing.T) {
	for _, name := range selectedRuntimes() {
		t.Run(name, func(t *testing.T) {
			r := newRuntime(t, name)
			first := newContainer(t, r, testutil.BusyboxBundle(t, "sleep", "1000"))
			r.mustRun(t, "create", "--bundle", first.bundle, first.id)
			before := r.state(t, first.id)

			second := testutil.BusyboxBundle(t, "sleep", "1000")
			editSpec(t, second, func(s *specs.Spec) { s.Linux.CgroupsPath = first.cgroupParent + "/second" })
			res := r.run(t, "create", "--bundle", second, first.id)
			if r.name == "runc" {
				if res.Code == 0 {
					t.Errorf("runc accepted a duplicate id")
				}
			} else {
				assertRefused(t, r, res, []string{first.id, "exist"})
			}
			after := r.state(t, first.id)
			if after.Status != "created" || after.Pid != before.Pid || after.Bundle != first.bundle {
				t.Errorf("first container changed: before %+v, after %+v", before, after)
			}
			for _, l := range leftovers(r, &container{id: "", bundle: second, cgroupParent: first.cgroupParent + "/second"}) {
				if !strings.HasPrefix(l, "state directory") {
					t.Errorf("%s left behind by the refused create: %s", r.name, l)
				}
			}
			if r.name == "runc" {
				return
			}
			// A bad spec under an id in use is reported as the bad spec,
			// as when the spec is checked before anything else.
			editSpec(t, second, func(s *specs.Spec) {
				s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_BOGUS")
			})
			assertRefused(t, r, r.run(t, "create", "--bundle", second, first.id), []string{"CAP_BOGUS"})
			if after := r.state(t, first.id); after.Status != "created" || after.Pid != before.Pid {
				t.Errorf("first container changed: before %+v, after %+v", before, after)
			}
		})
	}
}

// TestRuntimeMountEscape: mount destinations that climb out of the rootfs
// with ".." or through an absolute symlink must land inside the rootfs or be
// refused; the host directory they point at stays untouched.
func TestRuntimeMountEscape(t *testing.T) {
	for _, variant := range []string{"dotdot", "symlink"} {
		t.Run(variant, func(t *testing.T) {
			for _, name := range selectedRuntimes() {
				t.Run(name, func(t *testing.T) {
					r := newRuntime(t, name)
					host := t.TempDir() // the directory an escape would reach
					bundle := testutil.BusyboxBundle(t, "true")
					rootfs := filepath.Join(bundle, "rootfs")
					var dest string
					switch variant {
					case "dotdot":
						dest = strings.Repeat("/..", 20) + host + "/sub"
					case "symlink":
						if err := os.Symlink(host, filepath.Join(rootfs, "escape")); err != nil {
							t.Fatal(err)
						}
						dest = "/escape/sub"
					}
					editSpec(t, bundle, func(s *specs.Spec) {
						s.Mounts = append(s.Mounts, specs.Mount{Destination: dest, Type: "tmpfs", Source: "tmpfs"})
					})
					c := newContainer(t, r, bundle)
					res := r.run(t, "create", "--bundle", bundle, c.id)
					if entries, _ := os.ReadDir(host); len(entries) != 0 {
						t.Errorf("%s: mount destination %q escaped: %s now holds %v", r.name, dest, host, entries)
					}
					if mountedAt(host) {
						t.Errorf("%s: %s is a mount point on the host", r.name, host)
					}
					if res.Code != 0 {
						t.Logf("%s refused: %s", r.name, strings.TrimSpace(res.Stderr))
						if r.name != "runc" {
							assertRefused(t, r, res, []string{dest, "mounts"})
						}
						assertNothingLeft(t, r, c)
						return
					}
					inside := filepath.Join(rootfs, host, "sub")
					if _, err := os.Stat(inside); err != nil {
						t.Errorf("%s accepted %q but the mount point is not inside the rootfs: %v", r.name, dest, err)
					}
				})
			}
		})
	}
}

// mountedAt reports whether some mount of the caller's namespace is at or
// below dir.
func mountedAt(dir string) bool {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			return true
		}
	}
	return false
}

// TestRuntimeVersionAndUnknownCommand: --version prints runc's lines
// (NAME version V, commit:, spec:), and a word that is no command exits 3
// as runc does, for berth and runc alike.
func TestRuntimeVersionAndUnknownCommand(t *testing.T) {
	for _, name := range selectedRuntimes() {
		t.Run(name, func(t *testing.T) {
			r := newRuntime(t, name)
			v := r.run(t, "--version")
			lines := strings.Split(strings.TrimSpace(v.Stdout), "\n")
			product := strings.TrimSuffix(name, "-goinit") // berth-goinit is berth
			if v.Code != 0 || len(lines) < 3 || !strings.HasPrefix(lines[0], product+" version ") ||
				!strings.HasPrefix(lines[1], "commit:") || !strings.HasPrefix(lines[2], "spec: 1.") {
				t.Errorf("--version: %s", v)
			}
			if res := r.run(t, "nosuchcommand"); res.Code != 3 || !strings.Contains(res.Stdout+res.Stderr, "No help topic for 'nosuchcommand'") {
				t.Errorf("nosuchcommand: %s; want exit 3, No help topic", res)
			}
			// Berth has no checkpoint/restore (runc's need CRIU): they
			// must fail, not print help and succeed.
			if res := r.run(t, "restore", "some-id"); res.Code == 0 {
				t.Errorf("restore: %s; want a failure", res)
			}
		})
	}
}

// TestRuntimeConsoleSocketFails: a console socket that cannot be reached
// (missing, a plain file) fails create and run -d with an error naming it,
// exit 1 as runc's, and leaves nothing behind (berth panicked here and left
// a "creating" container whose id stayed taken).
func TestRuntimeConsoleSocketFails(t *testing.T) {
	for _, name := range selectedRuntimes() {
		t.Run(name, func(t *testing.T) {
			r := newRuntime(t, name)
			bundle := testutil.BusyboxBundle(t, "sh")
			editSpec(t, bundle, func(s *specs.Spec) { s.Process.Terminal = true })
			plain := filepath.Join(t.TempDir(), "plain")
			if err := os.WriteFile(plain, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			for _, sock := range []string{filepath.Join(t.TempDir(), "missing.sock"), plain} {
				for _, cmd := range [][]string{{"create"}, {"run", "-d"}} {
					c := newContainer(t, r, bundle)
					args := append(append([]string{}, cmd...), "--console-socket", sock, "--bundle", bundle, c.id)
					res := r.run(t, args...)
					if res.Code != 1 || !strings.Contains(res.Stderr, sock) && !strings.Contains(strings.ToLower(res.Stderr), "console") {
						t.Errorf("%s %v with console socket %s: %s; want exit 1 naming the socket", name, cmd, sock, res)
					}
					assertNothingLeft(t, r, c)
				}
			}
		})
	}
}

// TestRuntimeStoppedContainerErrors: kill, pause and update of a stopped
// container fail with runc's words, which containerd and podman look for.
func TestRuntimeStoppedContainerErrors(t *testing.T) {
	for _, name := range selectedRuntimes() {
		t.Run(name, func(t *testing.T) {
			r := newRuntime(t, name)
			bundle := testutil.BusyboxBundle(t, "true")
			c := newContainer(t, r, bundle)
			r.mustRun(t, "run", "-d", "--bundle", bundle, c.id)
			r.waitStatus(t, c.id, "stopped", 10*time.Second)
			for _, args := range [][]string{{"kill", c.id, "TERM"}, {"pause", c.id}, {"update", "--pids-limit", "50", c.id}} {
				res := r.run(t, args...)
				if res.Code == 0 || !strings.Contains(res.Stderr, "container not running") {
					t.Errorf("%s %v of a stopped container: %s; want an error with \"container not running\"", name, args, res)
				}
			}
		})
	}
}

// TestRuntimePauseCreated: a created container can be paused (state
// "paused", as runc's), resumed to created, and paused again it is removed
// by delete --force (it used to stay frozen, undeletable).
func TestRuntimePauseCreated(t *testing.T) {
	for _, name := range selectedRuntimes() {
		t.Run(name, func(t *testing.T) {
			r := newRuntime(t, name)
			bundle := testutil.BusyboxBundle(t, "sleep", "100")
			c := newContainer(t, r, bundle)
			r.mustRun(t, "create", "--bundle", bundle, c.id)
			r.mustRun(t, "pause", c.id)
			if st := r.state(t, c.id).Status; st != "paused" {
				t.Errorf("%s: a paused created container is %q, want paused", name, st)
			}
			r.mustRun(t, "resume", c.id)
			if st := r.state(t, c.id).Status; st != "created" {
				t.Errorf("%s: resumed, it is %q, want created", name, st)
			}
			r.mustRun(t, "pause", c.id)
			if res := r.run(t, "delete", "--force", c.id); res.Code != 0 {
				t.Errorf("%s delete --force of a paused created container: %s", name, res)
			}
			assertNothingLeft(t, r, c)
		})
	}
}

// TestRuntimeCLIFlags: runc's spelling update --cpu-share works, events
// --interval 0 is refused (it busy-looped), and berth refuses spec
// --rootless instead of writing a rootful spec.
func TestRuntimeCLIFlags(t *testing.T) {
	for _, name := range selectedRuntimes() {
		t.Run(name, func(t *testing.T) {
			r := newRuntime(t, name)
			bundle := testutil.BusyboxBundle(t, "sleep", "100")
			c := newContainer(t, r, bundle)
			r.mustRun(t, "run", "-d", "--bundle", bundle, c.id)
			if res := r.run(t, "update", "--cpu-share", "512", c.id); res.Code != 0 {
				t.Errorf("%s update --cpu-share: %s", name, res)
			}
			if res := r.run(t, "events", "--interval", "0s", c.id); res.Code == 0 {
				t.Errorf("%s events --interval 0s: %s", name, res)
			}
			r.mustRun(t, "delete", "--force", c.id)
			c2 := newContainer(t, r, testutil.BusyboxBundle(t, "true"))
			if res := r.run(t, "run", "--no-subreaper", "--bundle", c2.bundle, c2.id); res.Code != 0 {
				t.Errorf("%s run --no-subreaper: %s", name, res)
			}
			if name == "berth" {
				dir := t.TempDir()
				res := r.run(t, "spec", "--rootless", "--bundle", dir)
				if _, err := os.Stat(filepath.Join(dir, "config.json")); res.Code == 0 || err == nil {
					t.Errorf("berth spec --rootless: %s (a spec written: %v)", res, err == nil)
				}
			}
		})
	}
}
