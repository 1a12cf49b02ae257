package engine

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestSecurityOptions(t *testing.T) {
	d := newDaemon(t)
	for _, tc := range []struct {
		name string
		args []string
		want []string // substrings of the output
	}{
		{"seccomp default", []string{"busybox", "grep", "Seccomp:", "/proc/self/status"}, []string{"Seccomp:\t2"}},
		{"seccomp unconfined", []string{"--security-opt", "seccomp=unconfined", "busybox", "grep", "Seccomp:", "/proc/self/status"}, []string{"Seccomp:\t0"}},
		{"no-new-privileges", []string{"--security-opt", "no-new-privileges", "busybox", "grep", "NoNewPrivs", "/proc/self/status"}, []string{"NoNewPrivs:\t1"}},
		// Compose's spelling, and the = form with a boolean.
		{"no-new-privileges:true", []string{"--security-opt", "no-new-privileges:true", "busybox", "grep", "NoNewPrivs", "/proc/self/status"}, []string{"NoNewPrivs:\t1"}},
		{"no-new-privileges=false", []string{"--security-opt", "no-new-privileges=false", "busybox", "grep", "NoNewPrivs", "/proc/self/status"}, []string{"NoNewPrivs:\t0"}},
		// The cgroup mount: read-only, but writable with writable-cgroups
		// and for privileged containers, as dockerd mounts it.
		{"cgroup ro", []string{"busybox", "sh", "-c", "grep ' /sys/fs/cgroup ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1"}, []string{"ro\n"}},
		{"writable-cgroups", []string{"--security-opt", "writable-cgroups=true", "busybox", "sh", "-c", "grep ' /sys/fs/cgroup ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1"}, []string{"rw\n"}},
		{"read-only with tmpfs", []string{"--read-only", "--tmpfs", "/scratch", "busybox", "sh", "-c", "touch /x 2>&1; touch /scratch/y && echo tmpfs-ok"}, []string{"Read-only file system", "tmpfs-ok"}},
		{"masked paths", []string{"busybox", "sh", "-c", "wc -c < /proc/timer_list; (echo 0 > /proc/sys/vm/swappiness) 2>&1; true"}, []string{"0\n", "Read-only file system"}},
		{"privileged", []string{"--privileged", "busybox", "sh", "-c", "grep CapEff /proc/self/status; test -e /dev/kmsg && echo all-devices; echo > /proc/sys/kernel/ns_last_pid 2>&1 || true"}, []string{"all-devices"}},
		{"device", []string{"--device", "/dev/fuse", "busybox", "ls", "-l", "/dev/fuse"}, []string{"10, 229"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, err := d.docker(t, append([]string{"run", "--rm"}, tc.args...)...)
			if err != nil {
				t.Fatalf("%v: %s", err, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output %q lacks %q", out, w)
				}
			}
		})
	}
	// Privileged: unconfined unless a profile is named (dockerd 25+ keeps
	// it); "builtin" is the default profile.
	prof := filepath.Join(t.TempDir(), "nochown.json")
	if err := os.WriteFile(prof, []byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["chown","fchown","fchownat","lchown"],"action":"SCMP_ACT_ERRNO"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		opts []string
		cmd  string
		want string
	}{
		{nil, "grep Seccomp: /proc/self/status", "Seccomp:\t0"},
		{[]string{"--security-opt", "seccomp=builtin"}, "grep Seccomp: /proc/self/status", "Seccomp:\t2"},
		{[]string{"--security-opt", "seccomp=" + prof}, "chown 42 /tmp 2>&1; echo rc=$?", "rc=1"},
	} {
		args := append(append([]string{"run", "--rm", "--privileged"}, c.opts...), "busybox", "sh", "-c", c.cmd)
		if out, errOut, err := d.docker(t, args...); err != nil || !strings.Contains(out, c.want) {
			t.Errorf("run --privileged %v: %q %v %s; want %q", c.opts, out, err, errOut, c.want)
		}
	}
	// Inspect shows the masked and read-only paths applied (none for a
	// privileged container), as dockerd's.
	d.mustDocker(t, "create", "--name", "mp", "busybox", "true")
	d.mustDocker(t, "create", "--name", "mpp", "--privileged", "busybox", "true")
	if got := d.mustDocker(t, "inspect", "-f", "{{json .HostConfig.MaskedPaths}} {{json .HostConfig.ReadonlyPaths}}", "mp"); !strings.Contains(got, `"/proc/kcore"`) || !strings.Contains(got, `"/proc/sys"`) {
		t.Errorf("masked and read-only paths of a container: %s", got)
	}
	if got := strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{json .HostConfig.MaskedPaths}} {{json .HostConfig.ReadonlyPaths}}", "mpp")); got != "null null" {
		t.Errorf("masked and read-only paths of a privileged container: %s", got)
	}
	// "writable-cgroups" alone (the API's; the docker CLI wants a value)
	// is true, as dockerd reads it.
	if code, body := rawRequest(t, d, "POST", "/v1.47/containers/create?name=wcg", "application/json",
		`{"Image":"busybox","Cmd":["sh","-c","grep ' /sys/fs/cgroup ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1"],"HostConfig":{"SecurityOpt":["writable-cgroups"]}}`); code != 201 {
		t.Errorf("create with writable-cgroups alone: %d %s", code, body)
	} else if _, errOut, err := d.docker(t, "start", "-a", "wcg"); err != nil {
		t.Errorf("start: %v %s", err, errOut)
	} else if out := d.mustDocker(t, "logs", "wcg"); out != "rw\n" {
		t.Errorf("cgroup mount with writable-cgroups alone: %q, want rw", out)
	}
	// A client before API 1.40 gets a shareable IPC namespace by default.
	for v, want := range map[string]string{"1.39": "shareable", "1.40": "private"} {
		name := "ipc" + strings.ReplaceAll(v, ".", "")
		if code, body := rawRequest(t, d, "POST", "/v"+v+"/containers/create?name="+name, "application/json", `{"Image":"busybox","Cmd":["true"]}`); code != 201 {
			t.Fatalf("create at API %s: %d %s", v, code, body)
		}
		if got := strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{.HostConfig.IpcMode}}", name)); got != want {
			t.Errorf("IPC mode of a container made at API %s: %q, want %q", v, got, want)
		}
	}
	if out := d.mustDocker(t, "run", "--rm", "--privileged", "busybox", "grep", "CapEff", "/proc/self/status"); strings.Contains(out, "00000000a80425fb") {
		t.Errorf("--privileged kept the default capabilities: %q", out)
	}
	// An exec into a container with no-new-privileges has it too.
	d.mustDocker(t, "run", "-d", "--name", "nnp", "--security-opt", "no-new-privileges:true", "busybox", "sleep", "300")
	if out := d.mustDocker(t, "exec", "nnp", "grep", "NoNewPrivs", "/proc/self/status"); !strings.Contains(out, "NoNewPrivs:\t1") {
		t.Errorf("exec into a no-new-privileges:true container: %q", out)
	}
	d.mustDocker(t, "rm", "-f", "nnp")
	// What dockerd cannot read is refused at create (exit 125), not ignored.
	for opt, want := range map[string]string{
		"no-new-privileges:bogus": `invalid --security-opt 2: "no-new-privileges:bogus"`,
		"colour=red":              `invalid --security-opt 2: "colour=red"`,
	} {
		_, errOut, err := d.docker(t, "run", "--rm", "--security-opt", opt, "busybox", "true")
		if exitCode(err) != 125 || !strings.Contains(errOut, want) {
			t.Errorf("--security-opt %s: exit %d, %q; want 125 and %q", opt, exitCode(err), errOut, want)
		}
	}
}

func TestRuntimeRunc(t *testing.T) {
	if _, err := exec.LookPath("runc"); err != nil {
		t.Skip("runc is not installed")
	}
	d := newDaemon(t)
	if out := d.mustDocker(t, "run", "--rm", "--runtime", "runc", "busybox", "echo", "hi-runc"); out != "hi-runc\n" {
		t.Fatalf("--runtime runc: %q", out)
	}
	d.mustDocker(t, "run", "-d", "--runtime", "runc", "--name", "rc1", "busybox", "sleep", "300")
	if out := d.mustDocker(t, "exec", "rc1", "echo", "in-runc"); out != "in-runc\n" {
		t.Fatalf("exec with runc: %q", out)
	}
	if rt := strings.TrimSpace(d.mustDocker(t, "inspect", "-f", "{{.HostConfig.Runtime}}", "rc1")); rt != "runc" {
		t.Fatalf("HostConfig.Runtime %q", rt)
	}
	d.mustDocker(t, "stop", "-t", "1", "rc1")
	if code := strings.TrimSpace(d.mustDocker(t, "wait", "rc1")); code != "137" {
		t.Fatalf("exit code after stop of sleep under runc: %s", code)
	}
	if _, errOut, err := d.docker(t, "run", "--rm", "--runtime", "nosuch", "busybox", "true"); exitCode(err) != 125 || !strings.Contains(errOut, "unknown or invalid runtime name: nosuch") {
		t.Fatalf("unknown runtime: %v %s", err, errOut)
	}
}
