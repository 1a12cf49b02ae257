package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

func (d *daemon) client(t *testing.T) *client.Client {
	t.Helper()
	c, err := client.New(client.WithHost(d.Host), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// runAttached creates cfg, attaches with stdin, waits for next-exit and
// starts, like `docker run -i`; it returns the hijacked stream and the
// wait result.
func runAttached(t *testing.T, c *client.Client, cfg *container.Config, hc *container.HostConfig) (client.ContainerAttachResult, client.ContainerWaitResult, string) {
	t.Helper()
	ctx := context.Background()
	cr, err := c.ContainerCreate(ctx, client.ContainerCreateOptions{Config: cfg, HostConfig: hc})
	if err != nil {
		t.Fatal(err)
	}
	at, err := c.ContainerAttach(ctx, cr.ID, client.ContainerAttachOptions{Stream: true, Stdin: true, Stdout: true, Stderr: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(at.Close)
	cond := container.WaitConditionNextExit
	if hc != nil && hc.AutoRemove {
		cond = container.WaitConditionRemoved
	}
	wr := c.ContainerWait(ctx, cr.ID, client.ContainerWaitOptions{Condition: cond})
	if _, err := c.ContainerStart(ctx, cr.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	return at, wr, cr.ID
}

func waitCode(t *testing.T, wr client.ContainerWaitResult) int64 {
	t.Helper()
	select {
	case r := <-wr.Result:
		if r.Error != nil {
			t.Fatalf("wait: %s", r.Error.Message)
		}
		return r.StatusCode
	case err := <-wr.Error:
		t.Fatalf("wait: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("wait: no answer in 20 s")
	}
	return -1
}

func TestAttachWithoutTTY(t *testing.T) {
	d := newDaemon(t)
	c := d.client(t)
	at, wr, _ := runAttached(t, c, &container.Config{
		Image: "busybox", Cmd: []string{"sh", "-c", "cat; echo to-stderr >&2; exit 4"},
		OpenStdin: true, StdinOnce: true, AttachStdin: true, AttachStdout: true, AttachStderr: true,
	}, &container.HostConfig{AutoRemove: true})
	if _, err := at.Conn.Write([]byte("through stdin\n")); err != nil {
		t.Fatal(err)
	}
	if err := at.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if _, err := stdcopy.StdCopy(&stdout, &stderr, at.Reader); err != nil {
		t.Fatal(err)
	}
	if stdout.String() != "through stdin\n" || stderr.String() != "to-stderr\n" {
		t.Fatalf("stdout %q stderr %q", stdout.String(), stderr.String())
	}
	if code := waitCode(t, wr); code != 4 {
		t.Fatalf("exit code %d, want 4", code)
	}
}

func TestAttachTTY(t *testing.T) {
	d := newDaemon(t)
	c := d.client(t)
	at, wr, id := runAttached(t, c, &container.Config{
		Image: "busybox", Cmd: []string{"sh"}, Tty: true,
		OpenStdin: true, StdinOnce: true, AttachStdin: true, AttachStdout: true, AttachStderr: true,
	}, nil)
	if _, err := c.ContainerResize(context.Background(), id, client.ContainerResizeOptions{Height: 30, Width: 100}); err != nil {
		t.Fatal(err)
	}
	if _, err := at.Conn.Write([]byte("stty size; echo hi-$((40+2)); exit 3\n")); err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(at.Reader)
	if !strings.Contains(string(out), "hi-42\r\n") || !strings.Contains(string(out), "30 100") {
		t.Fatalf("tty output %q: want hi-42 with CRLF and the size 30 100", out)
	}
	if code := waitCode(t, wr); code != 3 {
		t.Fatalf("exit code %d, want 3", code)
	}
	d.mustDocker(t, "rm", id)
}

// TestAttachWithoutStreamOrLogs: an attach asking for neither the stream
// nor the logs (the Go SDK's ContainerAttach with default options) is
// upgraded and ended at once, as dockerd does, not refused.
func TestAttachWithoutStreamOrLogs(t *testing.T) {
	d := newDaemon(t)
	c := d.client(t)
	d.mustDocker(t, "run", "-d", "--name", "ns", "busybox", "sleep", "300")
	at, err := c.ContainerAttach(context.Background(), "ns", client.ContainerAttachOptions{Stdout: true, Stderr: true})
	if err != nil {
		t.Fatalf("attach without stream or logs: %v", err)
	}
	defer at.Close()
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, at.Reader)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("reading the attach: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("the attach without stream or logs did not end")
	}
}

// TestExecStartTtyFrames: the exec start's Tty, not the create's, says how
// the output is framed, as with dockerd: a terminal's output started
// without Tty comes in stdout frames, and with Tty raw.
func TestExecStartTtyFrames(t *testing.T) {
	d := newDaemon(t)
	d.mustDocker(t, "run", "-d", "--name", "ef", "busybox", "sleep", "300")
	for _, startTty := range []bool{false, true} {
		code, body := rawRequest(t, d, "POST", "/v1.44/containers/ef/exec", "application/json", `{"Cmd":["echo","hi"],"Tty":true,"AttachStdout":true}`)
		if code != 201 {
			t.Fatalf("exec create: %d %s", code, body)
		}
		var created struct{ Id string }
		if err := json.Unmarshal([]byte(body), &created); err != nil {
			t.Fatal(err)
		}
		code, out := rawRequest(t, d, "POST", "/v1.44/exec/"+created.Id+"/start", "application/json", fmt.Sprintf(`{"Tty":%v}`, startTty))
		if code != 200 {
			t.Fatalf("exec start: %d %q", code, out)
		}
		framed := len(out) >= 8 && out[0] == 1 && out[1] == 0 && strings.HasSuffix(out, "hi\r\n")
		raw := out == "hi\r\n"
		if startTty && !raw || !startTty && !framed {
			t.Errorf("exec created with a terminal, started with Tty %v: %q", startTty, out)
		}
	}
}

// TestSlowReaderGetsEverything: a client that reads its attached output
// slowly (a pipe into a slow consumer) gets every byte, with and without
// a TTY, from run and from exec, as from dockerd: the container's output
// waits for it.
func TestSlowReaderGetsEverything(t *testing.T) {
	d := newDaemon(t)
	d.mustDocker(t, "run", "-d", "--name", "ex", "busybox", "sleep", "300")
	docker := dockerCLI(t) + " -H " + d.Host
	for _, tc := range []struct{ cmd, want string }{
		{docker + ` run --rm busybox sh -c "head -c 4000000 /dev/zero | tr '\\0' a" | (sleep 2; wc -c)`, "4000000"},
		{docker + ` run --rm -t busybox seq 1 300000 | (sleep 2; wc -l)`, "300000"},
		{docker + ` exec ex seq 1 300000 | (sleep 2; wc -l)`, "300000"},
		// paused well after the container exited, then read
		{docker + ` run --rm busybox seq 1 200000 | (sleep 5; cat) | wc -l`, "200000"},
	} {
		out, err := exec.Command("sh", "-c", tc.cmd).CombinedOutput()
		if got := strings.TrimSpace(string(out)); err != nil || got != tc.want {
			t.Errorf("%s: %q %v, want %s", tc.cmd, got, err, tc.want)
		}
	}
	// A reader slow all the way (moby's TestRunSlowStdoutConsumer: 10000
	// bytes every 5 ms) of a --rm container: the removal after the exit
	// waits for it to have the output still queued.
	cmd := exec.Command(dockerCLI(t), "-H", d.Host, "run", "--rm", "busybox", "sh", "-c", "dd if=/dev/zero bs=1024 count=2000 2>/dev/null | cat -v")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n := 0
	buf := make([]byte, 10000)
	for {
		m, err := io.ReadFull(stdout, buf)
		n += m
		if err != nil {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Wait(); err != nil || n != 2*1024*2000 {
		t.Errorf("a steadily slow reader of run --rm got %d bytes (%v), want %d", n, err, 2*1024*2000)
	}
}

// TestAttachInvalidDetachKeys: an attach with invalid detach keys is
// answered as dockerd answers it: 400 and the message as the body.
func TestAttachInvalidDetachKeys(t *testing.T) {
	d := newDaemon(t)
	d.mustDocker(t, "run", "-d", "--name", "dk", "busybox", "sleep", "300")
	code, body := rawRequest(t, d, "POST", "/v1.51/containers/dk/attach?stream=1&stdout=1&detachKeys=ctrl-A,a", "", "")
	if code != 400 || body != "Invalid detach keys (ctrl-A,a) provided\r\n" {
		t.Errorf("attach with invalid detach keys: %d %q", code, body)
	}
}
