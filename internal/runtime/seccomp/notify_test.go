package seccomp

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// notifyChild is the child's side of TestLoadListener: install a filter
// notifying mkdir/mkdirat, send the listener to the agent, then mkdir.
func notifyChild(f *Filter, dir string) int {
	listener, err := f.LoadListener()
	if err != nil {
		fmt.Println("load:", err)
		return 3
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	state := specs.ContainerProcessState{Pid: os.Getpid(), Metadata: f.ListenerMetadata(), State: specs.State{ID: "notify-test"}}
	if err := SendListener(ctx, f.ListenerPath(), listener, state); err != nil {
		fmt.Println("send:", err)
		return 3
	}
	listener.Close()
	err = os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	fmt.Printf("mkdir errno=%d\n", errnoOf(err))
	return 0
}

// seccompNotif and seccompNotifResp are struct seccomp_notif and
// struct seccomp_notif_resp.
type seccompNotif struct {
	id    uint64
	pid   uint32
	flags uint32
	nr    int32
	arch  uint32
	ip    uint64
	args  [6]uint64
}

type seccompNotifResp struct {
	id    uint64
	val   int64
	error int32
	flags uint32
}

func TestLoadListener(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "agent.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })

	s := &specs.LinuxSeccomp{
		DefaultAction:    specs.ActAllow,
		ListenerPath:     sock,
		ListenerMetadata: "hello agent",
		Syscalls:         []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActNotify}},
	}
	js, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), childConfigEnv+"="+string(js), childActionEnv+"=notify", "BERTH_SECCOMP_TEST_DIR="+dir)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := false
	t.Cleanup(func() {
		if !waited {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})

	// The agent: receive the listener and the state.
	if err := l.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	c, err := l.AcceptUnix()
	if err != nil {
		t.Fatalf("accept: %v (child: %s)", err, out.String())
	}
	defer c.Close()
	buf, oob := make([]byte, 4096), make([]byte, unix.CmsgSpace(4*4))
	n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		t.Fatalf("read from the runtime: %v", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		t.Fatalf("control messages %v: %v", msgs, err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		t.Fatalf("fds %v: %v", fds, err)
	}
	listener := os.NewFile(uintptr(fds[0]), "listener")
	defer listener.Close()
	var state specs.ContainerProcessState
	if err := json.Unmarshal(buf[:n], &state); err != nil {
		t.Fatalf("state %q: %v", buf[:n], err)
	}
	if len(state.Fds) != 1 || state.Fds[0] != ListenerFdName || state.Pid != cmd.Process.Pid ||
		state.Metadata != "hello agent" || state.State.ID != "notify-test" || state.Version != specs.Version {
		t.Errorf("state %+v, want fds [%s], pid %d, the metadata and the id", state, ListenerFdName, cmd.Process.Pid)
	}

	// Answer the child's mkdir with ENOMEDIUM.
	pfd := []unix.PollFd{{Fd: int32(listener.Fd()), Events: unix.POLLIN}}
	if n, err := unix.Poll(pfd, 10000); err != nil || n != 1 || pfd[0].Revents&unix.POLLIN == 0 {
		t.Fatalf("poll listener: %d %v revents %#x (child: %s)", n, err, pfd[0].Revents, out.String())
	}
	var req seccompNotif
	if err := ioctl(listener.Fd(), unix.SECCOMP_IOCTL_NOTIF_RECV, unsafe.Pointer(&req)); err != nil {
		t.Fatalf("SECCOMP_IOCTL_NOTIF_RECV: %v", err)
	}
	if a := NativeArch(); uint32(req.nr) != nr(t, a, "mkdirat") && uint32(req.nr) != nr(t, a, "mkdir") {
		t.Errorf("notified syscall %d, want mkdir or mkdirat", req.nr)
	}
	// The notification names the calling thread; any thread of the (Go,
	// multi-threaded) child may make the call.
	if _, err := os.Stat(fmt.Sprintf("/proc/%d/task/%d", cmd.Process.Pid, req.pid)); err != nil {
		t.Errorf("notified thread %d is not a thread of the child %d: %v", req.pid, cmd.Process.Pid, err)
	}
	resp := seccompNotifResp{id: req.id, error: -int32(unix.ENOMEDIUM)}
	if err := ioctl(listener.Fd(), unix.SECCOMP_IOCTL_NOTIF_SEND, unsafe.Pointer(&resp)); err != nil {
		t.Fatalf("SECCOMP_IOCTL_NOTIF_SEND: %v", err)
	}
	err = cmd.Wait()
	waited = true
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out.String())
	}
	if want := fmt.Sprintf("mkdir errno=%d\n", unix.ENOMEDIUM); !strings.Contains(out.String(), want) {
		t.Errorf("child output lacks %q:\n%s", want, out.String())
	}
}

func ioctl(fd uintptr, req uint, arg unsafe.Pointer) error {
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, fd, uintptr(req), uintptr(arg)); e != 0 {
		return e
	}
	return nil
}
