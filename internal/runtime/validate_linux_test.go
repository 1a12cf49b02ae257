package runtime

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/berth/berth/internal/testutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// testBundle makes a bundle directory with an empty rootfs/ and returns it.
func testBundle(t *testing.T) string {
	t.Helper()
	bundle := t.TempDir()
	if err := os.Mkdir(filepath.Join(bundle, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	return bundle
}

// validTestSpec is a config that validateSpec accepts; table rows break it
// one field at a time.
func validTestSpec() *specs.Spec {
	limit := int64(64 << 20)
	return &specs.Spec{
		Version:  "1.2.0",
		Root:     &specs.Root{Path: "rootfs"},
		Hostname: "box",
		Process: &specs.Process{
			Args: []string{"/bin/sh"},
			Env:  []string{"PATH=/bin"},
			Cwd:  "/",
			Capabilities: &specs.LinuxCapabilities{
				Bounding:  []string{"CAP_CHOWN", "CAP_KILL"},
				Effective: []string{"CAP_CHOWN"},
				Permitted: []string{"CAP_CHOWN"},
			},
			Rlimits: []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 1024}},
		},
		Mounts: []specs.Mount{{Destination: "/proc", Type: "proc", Source: "proc"}},
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace}, {Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace}, {Type: specs.MountNamespace},
			},
			Sysctl: map[string]string{
				"net.ipv4.ip_forward": "1", "kernel.shmmax": "1000", "fs.mqueue.msg_max": "10",
				"kernel.domainname": "example.org",
			},
			Resources:     &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}},
			MaskedPaths:   []string{"/proc/kcore"},
			ReadonlyPaths: []string{"/proc/sys"},
		},
	}
}

func TestValidateSpecAcceptsValidConfig(t *testing.T) {
	bundle := testBundle(t)
	if err := validateSpec(validTestSpec(), bundle); err != nil {
		t.Fatalf("validateSpec(valid config) = %v, want nil", err)
	}
	// Relative mount destinations are resolved against / as in runc.
	s := validTestSpec()
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "tmp", Type: "tmpfs", Source: "tmpfs"})
	if err := validateSpec(s, bundle); err != nil {
		t.Fatalf("validateSpec(relative mount destination) = %v, want nil", err)
	}
	// A user namespace with mappings that cover the process's ids.
	s = validTestSpec()
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	s.Process.User = specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{10}}
	if err := validateSpec(s, bundle); err != nil {
		t.Fatalf("validateSpec(user namespace) = %v, want nil", err)
	}
	// Joining the caller's own namespaces by path.
	s = validTestSpec()
	s.Linux.Sysctl = nil
	s.Linux.Namespaces[1].Path = "/proc/self/ns/net"
	s.Linux.Namespaces[2].Path = "/proc/self/ns/ipc"
	if err := validateSpec(s, bundle); err != nil {
		t.Fatalf("validateSpec(namespace paths) = %v, want nil", err)
	}
}

// TestValidateSpecAcceptsRuncDefault: the config `runc spec` writes must pass,
// also after a round trip through config.json.
func TestValidateSpecAcceptsRuncDefault(t *testing.T) {
	bundle := testBundle(t)
	testutil.WriteSpec(t, bundle, testutil.DefaultSpec("sh"))
	spec, err := loadSpec(bundle)
	if err != nil {
		t.Fatalf("loadSpec(runc default) = %v", err)
	}
	if err := validateSpec(spec, bundle); err != nil {
		t.Fatalf("validateSpec(runc default) = %v, want nil", err)
	}
}

func TestValidateSpecRejects(t *testing.T) {
	bundle := testBundle(t)
	notDir := filepath.Join(bundle, "file")
	if err := os.WriteFile(notDir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	neg := int64(-2)
	swap := int64(1 << 20)
	adj := 1001
	umask := uint32(0o1777)
	timeout := 0

	tests := []struct {
		name   string
		mutate func(s *specs.Spec)
		want   string
	}{
		{"no ociVersion", func(s *specs.Spec) { s.Version = "" }, `config.json: ociVersion is required`},
		{"ociVersion 2", func(s *specs.Spec) { s.Version = "2.0.0" }, `config.json: ociVersion "2.0.0" is not supported (want 1.x)`},
		{"ociVersion junk", func(s *specs.Spec) { s.Version = "latest" }, `config.json: ociVersion "latest" is not supported`},
		{"no root", func(s *specs.Spec) { s.Root = nil }, `config.json: root is required`},
		{"empty root path", func(s *specs.Spec) { s.Root.Path = "" }, `config.json: root.path is required`},
		{"missing rootfs", func(s *specs.Spec) { s.Root.Path = "/nonexistent/rootfs" }, `config.json: root.path: /nonexistent/rootfs: no such directory`},
		{"relative missing rootfs", func(s *specs.Spec) { s.Root.Path = "nope" }, `config.json: root.path: ` + filepath.Join(bundle, "nope") + `: no such directory`},
		{"rootfs is a file", func(s *specs.Spec) { s.Root.Path = notDir }, `config.json: root.path: ` + notDir + `: not a directory`},
		{"no process", func(s *specs.Spec) { s.Process = nil }, `config.json: process is required`},
		{"empty args", func(s *specs.Spec) { s.Process.Args = nil }, `config.json: process.args must not be empty`},
		{"empty args[0]", func(s *specs.Spec) { s.Process.Args = []string{""} }, `config.json: process.args[0] must not be empty`},
		{"NUL in env", func(s *specs.Spec) { s.Process.Env = []string{"A=1", "B=\x00"} }, `config.json: process.env[1]: contains a NUL byte`},
		{"no cwd", func(s *specs.Spec) { s.Process.Cwd = "" }, `config.json: process.cwd is required`},
		{"relative cwd", func(s *specs.Spec) { s.Process.Cwd = "home" }, `config.json: process.cwd: "home" is not an absolute path`},
		{"unknown bounding cap", func(s *specs.Spec) { s.Process.Capabilities.Bounding = []string{"CAP_CHOWN", "CAP_FOO"} },
			`config.json: process.capabilities.bounding: unknown capability "CAP_FOO"`},
		{"unknown ambient cap", func(s *specs.Spec) { s.Process.Capabilities.Ambient = []string{"chown"} },
			`config.json: process.capabilities.ambient: unknown capability "chown"`},
		{"unknown rlimit", func(s *specs.Spec) { s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_FOO"}} },
			`config.json: process.rlimits[0].type: unknown rlimit type "RLIMIT_FOO"`},
		{"duplicate rlimit", func(s *specs.Spec) {
			s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_NOFILE", Soft: 1, Hard: 1})
		}, `config.json: process.rlimits[1].type: duplicate rlimit RLIMIT_NOFILE`},
		{"rlimit soft above hard", func(s *specs.Spec) { s.Process.Rlimits[0].Soft = 2048 },
			`config.json: process.rlimits[0]: RLIMIT_NOFILE soft limit 2048 is above the hard limit 1024`},
		{"oomScoreAdj out of range", func(s *specs.Spec) { s.Process.OOMScoreAdj = &adj }, `config.json: process.oomScoreAdj: 1001 is outside -1000..1000`},
		{"umask too large", func(s *specs.Spec) { s.Process.User.Umask = &umask }, `config.json: process.user.umask: 01777 is not a permission mask`},
		{"ioPriority class", func(s *specs.Spec) { s.Process.IOPriority = &specs.LinuxIOPriority{Class: "IOPRIO_CLASS_X"} },
			`config.json: process.ioPriority.class: unknown class "IOPRIO_CLASS_X"`},
		{"unknown namespace", func(s *specs.Spec) { s.Linux.Namespaces[2].Type = "foo" }, `config.json: linux.namespaces[2].type: unknown namespace "foo"`},
		{"duplicate namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.PIDNamespace})
		}, `config.json: linux.namespaces[5].type: duplicate namespace "pid" (also linux.namespaces[0])`},
		{"namespace path missing", func(s *specs.Spec) { s.Linux.Namespaces[0].Path = "/nonexistent/ns/pid" },
			`config.json: linux.namespaces[0].path: /nonexistent/ns/pid: no such namespace file`},
		{"namespace path relative", func(s *specs.Spec) { s.Linux.Namespaces[0].Path = "ns/pid" },
			`config.json: linux.namespaces[0].path: "ns/pid" is not an absolute path`},
		{"namespace path not a namespace", func(s *specs.Spec) { s.Linux.Namespaces[0].Path = notDir },
			`config.json: linux.namespaces[0].path: ` + notDir + `: not a namespace file`},
		{"namespace path is a device", func(s *specs.Spec) { s.Linux.Namespaces[0].Path = "/dev/null" },
			`config.json: linux.namespaces[0].path: /dev/null: not a namespace file`},
		{"namespace path of another type", func(s *specs.Spec) { s.Linux.Namespaces[0].Path = "/proc/self/ns/net" },
			`config.json: linux.namespaces[0].path: /proc/self/ns/net: is a network namespace`},
		{"uid mappings without user namespace", func(s *specs.Spec) {
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}
		}, `config.json: linux.uidMappings: set but there is no user namespace`},
		{"gid mappings without user namespace", func(s *specs.Spec) {
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}
		}, `config.json: linux.gidMappings: set but there is no user namespace`},
		{"user namespace without mappings", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		}, `config.json: linux.uidMappings: a new user namespace needs uid mappings`},
		{"user not mapped", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 1000}}
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 1000}}
			s.Process.User.UID = 1000
		}, `config.json: process.user.uid: 1000 is not mapped in linux.uidMappings`},
		{"time offsets without time namespace", func(s *specs.Spec) {
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"monotonic": {Secs: 10}}
		}, `config.json: linux.timeOffsets: set but there is no time namespace`},
		{"hostname without uts", func(s *specs.Spec) {
			s.Linux.Namespaces = s.Linux.Namespaces[:3]
			s.Linux.Sysctl = nil
		}, `config.json: hostname: cannot be set without a uts namespace`},
		{"ipc sysctl without ipc namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = s.Linux.Namespaces[:2]
			s.Linux.Sysctl = map[string]string{"kernel.shmmax": "1"}
			s.Hostname = ""
		}, `config.json: linux.sysctl["kernel.shmmax"]: not allowed in the host's ipc namespace`},
		{"mqueue sysctl without ipc namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = s.Linux.Namespaces[:2]
			s.Linux.Sysctl = map[string]string{"fs.mqueue.queues_max": "1"}
			s.Hostname = ""
		}, `config.json: linux.sysctl["fs.mqueue.queues_max"]: not allowed in the host's ipc namespace`},
		{"net sysctl without net namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.MountNamespace}, {Type: specs.UTSNamespace}}
			s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
		}, `config.json: linux.sysctl["net.ipv4.ip_forward"]: not allowed in the host's network namespace`},
		{"net sysctl in the caller's net namespace by path", func(s *specs.Spec) {
			s.Linux.Namespaces[1].Path = "/proc/self/ns/net"
			s.Linux.Sysctl = map[string]string{"net/ipv4/ip_forward": "1"}
		}, `config.json: linux.sysctl["net/ipv4/ip_forward"]: not allowed in the host's network namespace`},
		{"kernel.hostname sysctl", func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"kernel.hostname": "x"} },
			`config.json: linux.sysctl["kernel.hostname"]: not allowed, it conflicts with the hostname field`},
		{"domainname sysctl without uts", func(s *specs.Spec) {
			s.Linux.Namespaces = s.Linux.Namespaces[:3]
			s.Linux.Sysctl = map[string]string{"kernel.domainname": "x"}
			s.Hostname = ""
		}, `config.json: linux.sysctl["kernel.domainname"]: not in a separate kernel namespace`},
		{"host-wide sysctl", func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"vm.overcommit_memory": "1"} },
			`config.json: linux.sysctl["vm.overcommit_memory"]: not in a separate kernel namespace`},
		{"sysctl key with ..", func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"net/../../x": "1"} },
			`config.json: linux.sysctl["net/../../x"]: invalid key`},
		{"mount without destination", func(s *specs.Spec) { s.Mounts[0].Destination = "" }, `config.json: mounts[0].destination is required`},
		{"relative masked path", func(s *specs.Spec) { s.Linux.MaskedPaths = []string{"proc/kcore"} },
			`config.json: linux.maskedPaths[0]: "proc/kcore" is not an absolute path`},
		{"relative readonly path", func(s *specs.Spec) { s.Linux.ReadonlyPaths = []string{"/a", "b"} },
			`config.json: linux.readonlyPaths[1]: "b" is not an absolute path`},
		{"rootfs propagation", func(s *specs.Spec) { s.Linux.RootfsPropagation = "sideways" },
			`config.json: linux.rootfsPropagation: unknown propagation "sideways"`},
		{"personality", func(s *specs.Spec) { s.Linux.Personality = &specs.LinuxPersonality{Domain: "BSD"} },
			`config.json: linux.personality.domain: unknown domain "BSD"`},
		{"device type", func(s *specs.Spec) { s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/x", Type: "z"}} },
			`config.json: linux.devices[0].type: unknown device type "z"`},
		{"device path relative", func(s *specs.Spec) { s.Linux.Devices = []specs.LinuxDevice{{Path: "dev/x", Type: "c"}} },
			`config.json: linux.devices[0].path: "dev/x" is not an absolute path`},
		{"device cgroup access", func(s *specs.Spec) {
			s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwx"}}
		}, `config.json: linux.resources.devices[0].access: "rwx" is not a combination of r, w and m`},
		{"negative memory limit", func(s *specs.Spec) { s.Linux.Resources.Memory.Limit = &neg },
			`config.json: linux.resources.memory.limit: -2 is negative (only -1, unlimited, is allowed)`},
		{"negative memory reservation", func(s *specs.Spec) { s.Linux.Resources.Memory.Reservation = &neg },
			`config.json: linux.resources.memory.reservation: -2 is negative`},
		{"swap below limit", func(s *specs.Spec) { s.Linux.Resources.Memory.Swap = &swap },
			`config.json: linux.resources.memory.swap: 1048576 is below memory.limit 67108864`},
		{"negative pids limit", func(s *specs.Spec) { s.Linux.Resources.Pids = &specs.LinuxPids{Limit: &neg} },
			`config.json: linux.resources.pids.limit: -2 is negative`},
		{"relative hook path", func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "hook.sh"}}}
		}, `config.json: hooks.createRuntime[0].path: "hook.sh" is not an absolute path`},
		{"hook timeout", func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{Poststop: []specs.Hook{{Path: "/bin/true", Timeout: &timeout}}}
		}, `config.json: hooks.poststop[0].timeout: 0 must be positive`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validTestSpec()
			tt.mutate(s)
			err := validateSpec(s, bundle)
			if err == nil {
				t.Fatalf("validateSpec = nil, want error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("validateSpec error:\n got  %q\n want it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("validateSpec error spans lines: %q", err)
			}
		})
	}
}

func TestLoadSpec(t *testing.T) {
	write := func(t *testing.T, data []byte) string {
		t.Helper()
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}

	t.Run("valid", func(t *testing.T) {
		dir := write(t, []byte(`{"ociVersion":"1.2.0","process":{"args":["/bin/true"],"cwd":"/","user":{"uid":1}},"root":{"path":"rootfs"}}`+"\n"))
		spec, err := loadSpec(dir)
		if err != nil {
			t.Fatalf("loadSpec: %v", err)
		}
		if spec.Version != "1.2.0" || spec.Process.Args[0] != "/bin/true" || spec.Process.User.UID != 1 || spec.Root.Path != "rootfs" {
			t.Fatalf("loadSpec parsed %+v", spec)
		}
	})

	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"syntax error", []byte(`{"ociVersion": "1.0.0",, }`), `config.json: invalid JSON at offset 24: invalid character ','`},
		{"truncated", []byte(`{"ociVersion": "1.0.0"`), `config.json: invalid JSON at offset 22: unexpected end of input`},
		{"empty file", nil, `config.json: invalid JSON at offset 0: unexpected end of input`},
		{"array", []byte(`[{"ociVersion": "1.0.0"}]`), `config.json: invalid JSON at offset 0: top-level value must be an object, got an array`},
		{"null", []byte(`null`), `config.json: invalid JSON at offset 0: top-level value must be an object, got null`},
		{"string", []byte(`"config"`), `config.json: invalid JSON at offset 0: top-level value must be an object, got a string`},
		{"wrong field type", []byte(`{"ociVersion": "1.0.0", "process": {"args": "sh"}}`), `config.json: invalid JSON at offset 48: process.args: cannot use a JSON string as []string`},
		{"trailing data", []byte(`{"ociVersion": "1.0.0"} {}`), `config.json: invalid JSON at offset 25: data after the top-level object`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadSpec(write(t, tt.data))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("loadSpec error = %v, want it to contain %q", err, tt.want)
			}
		})
	}

	t.Run("missing", func(t *testing.T) {
		dir := t.TempDir()
		_, err := loadSpec(dir)
		want := "config.json: no such file in bundle " + dir
		if err == nil || err.Error() != want {
			t.Fatalf("loadSpec error = %v, want %q", err, want)
		}
	})

	t.Run("oversized", func(t *testing.T) {
		// Valid JSON that is too large: the size is refused, not parsed.
		data := append([]byte(`{"ociVersion":"1.0.0","annotations":{"a":"`), bytes.Repeat([]byte("x"), maxSpecSize)...)
		data = append(data, `"}}`...)
		_, err := loadSpec(write(t, data))
		if err == nil || !strings.Contains(err.Error(), "is larger than 16 MiB") {
			t.Fatalf("loadSpec error = %v, want it to say the file is larger than 16 MiB", err)
		}
	})

	t.Run("unreadable", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.Symlink("config.json", filepath.Join(dir, "config.json")); err != nil {
			t.Fatal(err)
		}
		_, err := loadSpec(dir)
		if err == nil || !strings.Contains(err.Error(), "config.json: open "+filepath.Join(dir, "config.json")+": too many levels of symbolic links") {
			t.Fatalf("loadSpec error = %v, want the open's error with the path", err)
		}
	})

	// Anything but a regular file is refused; a FIFO is not waited on for
	// a writer.
	for name, mk := range map[string]func(string) error{
		"fifo":      func(p string) error { return unix.Mkfifo(p, 0o644) },
		"directory": func(p string) error { return os.Mkdir(p, 0o755) },
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := mk(filepath.Join(dir, "config.json")); err != nil {
				t.Fatal(err)
			}
			_, err := loadSpec(dir)
			if err == nil || !strings.Contains(err.Error(), "is not a regular file") {
				t.Fatalf("loadSpec error = %v, want it to say not a regular file", err)
			}
		})
	}
}

// TestParseLaunchSpec checks the part of config.json Create reads before it
// starts the init: the fields it needs, and nil (the whole spec is then
// decoded and validated first) for input it cannot use.
func TestParseLaunchSpec(t *testing.T) {
	five := int64(5)
	got := parseLaunchSpec([]byte(`{"ociVersion":"1.0.2","process":{"terminal":true,"args":["sh"]},
		"linux":{"namespaces":[{"type":"pid"},{"type":"network","path":"/proc/1/ns/net"}],
		"uidMappings":[{"containerID":0,"hostID":1000,"size":1}],"gidMappings":[{"containerID":0,"hostID":1000,"size":2}],
		"cgroupsPath":"/a/b","resources":{"pids":{"limit":5},"memory":{"limit":1000000}}}}`))
	want := &specs.Spec{
		Process: &specs.Process{Terminal: true},
		Linux: &specs.Linux{
			Namespaces:  []specs.LinuxNamespace{{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace, Path: "/proc/1/ns/net"}},
			UIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}},
			GIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 2}},
			CgroupsPath: "/a/b",
			Resources:   &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: &five}},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseLaunchSpec = %+v, want %+v", got, want)
	}
	for _, bad := range []string{`{"process":{`, `null`, `[]`, `{"linux":{}}`, `{"process":{}}`,
		`{"process":{"terminal":"yes"},"linux":{}}`, `{"process":{},"linux":{}} {}`} {
		if s := parseLaunchSpec([]byte(bad)); s != nil {
			t.Errorf("parseLaunchSpec(%s) = %+v, want nil", bad, s)
		}
	}
}
