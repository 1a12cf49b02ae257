package integration

import (
	"encoding/json"
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// A seccomp filter with SCMP_ACT_NOTIFY hands its listener to the agent at
// listenerPath, with the container's state. The agent here takes it and
// closes it, so the notified syscall fails with ENOSYS in the container.
func TestSeccompNotify(t *testing.T) {
	runParity(t, []parityCase{{"Agent", caseSeccompNotify}})
}

func caseSeccompNotify(t *testing.T, r *runtimeCLI) any {
	sock := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type got struct {
		state specs.ContainerProcessState
		fds   int
		err   error
	}
	gotc := make(chan got, 1)
	go func() {
		c, err := ln.AcceptUnix()
		if err != nil {
			gotc <- got{err: err}
			return
		}
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
		buf := make([]byte, 1<<16)
		oob := make([]byte, syscall.CmsgSpace(4*4))
		n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
		if err != nil {
			gotc <- got{err: err}
			return
		}
		var g got
		g.err = json.Unmarshal(buf[:n], &g.state)
		msgs, _ := syscall.ParseSocketControlMessage(oob[:oobn])
		for _, m := range msgs {
			fds, _ := syscall.ParseUnixRights(&m)
			for _, fd := range fds {
				g.fds++
				syscall.Close(fd) // the notified syscalls now fail with ENOSYS
			}
		}
		gotc <- g
	}()
	c := busyboxContainer(t, r, func(s *specs.Spec) {
		s.Linux.Seccomp = &specs.LinuxSeccomp{
			DefaultAction:    specs.ActAllow,
			ListenerPath:     sock,
			ListenerMetadata: "berth-test",
			Architectures:    []specs.Arch{specs.ArchX86_64},
			Syscalls: []specs.LinuxSyscall{{
				Names:  []string{"mkdir", "mkdirat"},
				Action: specs.ActNotify,
			}},
		}
	}, "sh", "-c", "mkdir /tmp/x 2>&1; echo rc=$?")
	res := runContainer(t, r, c)
	var g got
	select {
	case g = <-gotc:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: the agent got no listener; run: %s", r.name, res)
	}
	if g.err != nil {
		t.Fatalf("%s: agent: %v", r.name, g.err)
	}
	out := strings.TrimSpace(res.Stdout)
	if res.Code != 0 || !strings.HasSuffix(out, "rc=1") {
		t.Errorf("%s run: %s; want mkdir to fail", r.name, res)
	}
	if g.fds != 1 || g.state.State.ID != c.id || g.state.Pid == 0 || g.state.Metadata != "berth-test" {
		t.Errorf("%s: agent got %d fds and state %+v", r.name, g.fds, g.state)
	}
	return []any{g.fds, g.state.Metadata, g.state.State.ID == c.id, out}
}
