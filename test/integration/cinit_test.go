package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestCInitCovers runs containers with BERTH_INIT=c, which makes a
// container the C init does not cover an error instead of a quiet fall back
// to the Go init: the usual specs (a default `runc spec`, docker's
// options) must take the fast path, and what it does must be what the
// container asked for. The parity tests compare both inits on everything
// else (the "berth" and "berth-goinit" runtimes).
func TestCInitCovers(t *testing.T) {
	r := newRuntime(t, "berth")
	r.env = []string{"BERTH_INIT=c"}
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "file"), []byte("from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	umask := uint32(0o077)
	cases := []struct {
		name string
		edit func(*specs.Spec)
		sh   string
		want string
	}{
		{"default", nil, `echo $HOME; hostname; id -u; umask`, "/root\nruncn\n0\n0022\n"},
		{"user and groups", func(s *specs.Spec) {
			s.Process.User = specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{5, 7}, Umask: &umask}
			s.Process.Env = append(s.Process.Env, "HOME=")
		}, `echo $HOME; id -u; id -G; umask`, "/\n1000\n1000 5 7\n0077\n"},
		{"binds, tmpfs, cwd made", func(s *specs.Spec) {
			s.Process.Cwd = "/made/here"
			s.Mounts = append(s.Mounts,
				specs.Mount{Destination: "/h/file", Type: "bind", Source: filepath.Join(host, "file"), Options: []string{"bind", "ro"}},
				specs.Mount{Destination: "/hdir", Type: "bind", Source: host, Options: []string{"rbind", "nosuid"}},
				specs.Mount{Destination: "/scratch", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m", "mode=1777"}})
		}, `pwd; cat /h/file; ls /hdir; echo x > /h/file 2>/dev/null || echo ro; stat -c %a /scratch`,
			"/made/here\nfrom the host\nfile\nro\n1777\n"},
		{"sysctl, rlimit, caps, seccomp", func(s *specs.Spec) {
			s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1", "kernel.msgmax": "4096"}
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 512, Soft: 256}}
			s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_SYS_CHROOT")
			s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchX86_64},
				Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: &[]uint{1}[0]}}}
		}, `cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/msgmax; ulimit -n; ulimit -Hn; grep CapBnd /proc/self/status; mkdir /tmp/x 2>&1 | grep -c "not permitted"`,
			"1\n4096\n256\n512\nCapBnd:\t0000000020040420\n1\n"},
		{"devices and masks", func(s *specs.Spec) {
			mode := os.FileMode(0o640)
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/mydev", Type: "c", Major: 1, Minor: 3, FileMode: &mode}}
			s.Linux.MaskedPaths = append(s.Linux.MaskedPaths, "/etc/passwd", "/nonexistent")
		}, `stat -c '%t:%T %a' /dev/mydev; wc -c < /etc/passwd; ls -l /dev/ptmx | grep -c 'pts/ptmx'; readlink /dev/fd`,
			"1:3 640\n0\n1\n/proc/self/fd\n"},
		{"many devices, made under their rules", func(s *specs.Spec) {
			// The device rules are in place before the init makes the
			// nodes: on v1 they are written as "deny all" then each rule,
			// and a node made meanwhile would be refused (and bound from
			// the host instead, a mount where a node was asked for).
			for i := 0; i < 128; i++ {
				s.Linux.Devices = append(s.Linux.Devices, specs.LinuxDevice{Path: fmt.Sprintf("/dev/n%d", i), Type: "c", Major: 1, Minor: 3})
			}
		}, `ls /dev | grep -c '^n[0-9]'; grep -c ' /dev/n[0-9]' /proc/self/mountinfo; echo x > /dev/n127 && echo written`,
			"128\n0\nwritten\n"},
	}
	// A network namespace joined by path, as the daemon's containers
	// join the one it made, and a UTS namespace: both joined before the
	// C init runs.
	_, sleeper := startSleeper(t, r, nil)
	netns := "/proc/" + strconv.Itoa(sleeper) + "/ns/net"
	utsns := "/proc/" + strconv.Itoa(sleeper) + "/ns/uts"
	cases = append(cases, struct {
		name string
		edit func(*specs.Spec)
		sh   string
		want string
	}{"net and uts joined by path", func(s *specs.Spec) {
		s.Hostname = ""
		for i, ns := range s.Linux.Namespaces {
			switch ns.Type {
			case specs.NetworkNamespace:
				s.Linux.Namespaces[i].Path = netns
			case specs.UTSNamespace:
				s.Linux.Namespaces[i].Path = utsns
			}
		}
	}, `readlink /proc/self/ns/net; readlink /proc/self/ns/uts`, nsLink(t, sleeper, "net") + "\n" + nsLink(t, sleeper, "uts") + "\n"})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := busyboxContainer(t, r, func(s *specs.Spec) {
				s.Hostname = "runcn"
				if tc.edit != nil {
					tc.edit(s)
				}
			}, "sh", "-c", tc.sh)
			res := runContainer(t, r, c)
			if res.Code != 0 || res.Stdout != tc.want {
				t.Fatalf("run: %s; want stdout %q", res, tc.want)
			}
			assertNothingLeft(t, r, c)
		})
	}

	t.Run("errors", func(t *testing.T) {
		c := busyboxContainer(t, r, nil, "no-such-program")
		res := runContainer(t, r, c)
		if res.Code == 0 || !strings.Contains(res.Stderr, `exec: "no-such-program": executable file not found in $PATH`) {
			t.Errorf("run of a missing program: %s", res)
		}
		assertNothingLeft(t, r, c)
		c = busyboxContainer(t, r, func(s *specs.Spec) {
			s.Linux.Sysctl = map[string]string{"net.ipv4.no_such_key": "1"}
		}, "true")
		res = runContainer(t, r, c)
		if res.Code == 0 || !strings.Contains(res.Stderr, `sysctl "net.ipv4.no_such_key"`) {
			t.Errorf("run with an unknown sysctl: %s", res)
		}
		assertNothingLeft(t, r, c)
		// `run` has the C init exec the process as soon as it is ready:
		// an exec that fails then is reported as start reports it.
		c = busyboxContainer(t, r, nil, "/notelf")
		if err := os.WriteFile(filepath.Join(c.bundle, "rootfs", "notelf"), []byte("not a program\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		res = runContainer(t, r, c)
		if res.Code == 0 || !strings.Contains(res.Stderr, "start "+c.id+": exec /notelf: exec format error") {
			t.Errorf("run of a file that is no program: %s", res)
		}
		assertNothingLeft(t, r, c)
		// The limits are written while the C init works: one the kernel
		// refuses still fails the create, and nothing is left.
		c = busyboxContainer(t, r, func(s *specs.Spec) {
			s.Linux.Resources.CPU = &specs.LinuxCPU{Cpus: "4095"}
		}, "true")
		res = runContainer(t, r, c)
		if res.Code == 0 || !strings.Contains(res.Stderr, "cpuset.cpus") {
			t.Errorf("run with a cpuset the host lacks: %s", res)
		}
		assertNothingLeft(t, r, c)

		// Without no_new_privs seccomp is loaded before the rlimits are
		// set: a profile that refuses prlimit64 fails the create, under
		// both inits alike.
		goInit := newRuntime(t, "berth-goinit")
		var stderr []string
		for _, rt := range []*runtimeCLI{r, goInit} {
			c := busyboxContainer(t, rt, func(s *specs.Spec) {
				s.Process.NoNewPrivileges = false
				s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchX86_64},
					Syscalls: []specs.LinuxSyscall{{Names: []string{"prlimit64", "setrlimit"}, Action: specs.ActErrno, ErrnoRet: &[]uint{1}[0]}}}
			}, "true")
			res := runContainer(t, rt, c)
			if res.Code == 0 || !strings.Contains(res.Stderr, "set rlimit RLIMIT_NOFILE") {
				t.Errorf("%s: run with prlimit refused by seccomp: %s", rt.name, res)
			}
			stderr = append(stderr, res.Stderr)
			assertNothingLeft(t, rt, c)
		}
		if stderr[0] != stderr[1] {
			t.Errorf("the C and Go inits differ: %q, %q", stderr[0], stderr[1])
		}
	})

	// A `run` has the C init exec the process as soon as it is ready, and
	// the limits other than the device rules are written while it works:
	// the process must still never run before they are all in place.
	// A thousand throttle entries for one disk, each a rate of its own,
	// take longer to write than the init takes to be ready; the process
	// reads which one its cgroup holds.
	t.Run("limits in place before a run's process", func(t *testing.T) {
		disk := blockDevice(t)
		var rates []specs.LinuxThrottleDevice
		for i := 1; i <= 1000; i++ {
			d := specs.LinuxThrottleDevice{Rate: uint64(1<<20 + i)}
			d.Major, d.Minor = disk[0], disk[1]
			rates = append(rates, d)
		}
		c := busyboxContainer(t, r, func(s *specs.Spec) {
			s.Linux.Resources.BlockIO = &specs.LinuxBlockIO{ThrottleReadBpsDevice: rates}
		}, "cat", "/sys/fs/cgroup/blkio/blkio.throttle.read_bps_device")
		res := runContainer(t, r, c)
		want := fmt.Sprintf("%d:%d %d\n", disk[0], disk[1], 1<<20+1000)
		if res.Code != 0 || res.Stdout != want {
			t.Errorf("run: %s; want stdout %q (the last of the limits)", res, want)
		}
		assertNothingLeft(t, r, c)
	})

	// What the C init leaves to the Go init is refused under BERTH_INIT=c
	// (and taken by the Go init otherwise: the parity tests).
	// A container started for the C init that it turns out not to cover
	// (a prestart hook, known once the spec is decoded) goes to the Go
	// init, which joins its v1 cgroups itself once its runtime started:
	// its threads must not count against a tight pids limit.
	t.Run("the Go init after all, tight pids limit", func(t *testing.T) {
		def := newRuntime(t, "berth")
		c := busyboxContainer(t, def, func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{Prestart: []specs.Hook{{Path: "/bin/true"}}}
			s.Linux.Resources.Pids = &specs.LinuxPids{Limit: ptr(int64(2))}
		}, "sh", "-c", "echo ok")
		res := runContainer(t, def, c)
		if res.Code != 0 || res.Stdout != "ok\n" {
			t.Errorf("run with a prestart hook under pids.max 2: %s", res)
		}
		assertNothingLeft(t, def, c)
	})

	t.Run("not covered", func(t *testing.T) {
		c := busyboxContainer(t, r, func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{{Path: "/bin/true"}}}
		}, "true")
		res := runContainer(t, r, c)
		if res.Code == 0 || !strings.Contains(res.Stderr, "the C init does not cover this container: hooks") {
			t.Errorf("run with a createContainer hook under BERTH_INIT=c: %s", res)
		}
		assertNothingLeft(t, r, c)
		c = busyboxContainer(t, r, func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		}, "true")
		res = runContainer(t, r, c)
		if res.Code == 0 || !strings.Contains(res.Stderr, "user namespace") {
			t.Errorf("run with a user namespace under BERTH_INIT=c: %s", res)
		}
		assertNothingLeft(t, r, c)
		c = busyboxContainer(t, r, func(s *specs.Spec) {
			for i, ns := range s.Linux.Namespaces {
				if ns.Type == specs.PIDNamespace {
					s.Linux.Namespaces[i].Path = "/proc/" + strconv.Itoa(sleeper) + "/ns/pid"
				}
			}
		}, "true")
		res = runContainer(t, r, c)
		if res.Code == 0 || !strings.Contains(res.Stderr, "namespace joined by path") {
			t.Errorf("run joining a pid namespace under BERTH_INIT=c: %s", res)
		}
		assertNothingLeft(t, r, c)
	})
}

// nsLink is what /proc/<pid>/ns/<ns> reads, "net:[4026532008]".
func nsLink(t *testing.T, pid int, ns string) string {
	t.Helper()
	l, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/" + ns)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// blockDevice is the major and minor number of a whole disk of this host
// (what blkio throttles), or skips the test.
func blockDevice(t *testing.T) [2]int64 {
	t.Helper()
	if _, err := os.Stat("/sys/fs/cgroup/blkio/blkio.throttle.read_bps_device"); err != nil {
		t.Skip("no cgroup v1 blkio throttling here")
	}
	ents, _ := os.ReadDir("/sys/block")
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "loop") || strings.HasPrefix(e.Name(), "ram") || strings.HasPrefix(e.Name(), "zram") {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/sys/block", e.Name(), "dev"))
		if err != nil {
			continue
		}
		var d [2]int64
		if _, err := fmt.Sscanf(strings.TrimSpace(string(b)), "%d:%d", &d[0], &d[1]); err == nil {
			return d
		}
	}
	t.Skip("no disk in /sys/block")
	return [2]int64{}
}
