package engine

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"golang.org/x/net/websocket"
)

// recordingConn keeps every byte read from the daemon, so a test can look
// at the WebSocket frames themselves.
type recordingConn struct {
	net.Conn
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *recordingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.buf.Write(p[:n])
	c.mu.Unlock()
	return n, err
}

// firstFrameOpcode returns the opcode of the first frame after the
// handshake's response headers.
func (c *recordingConn) firstFrameOpcode(t *testing.T) byte {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.buf.Bytes()
	i := bytes.Index(b, []byte("\r\n\r\n"))
	if i < 0 || len(b) <= i+4 {
		t.Fatalf("no frame after the handshake in %q", b)
	}
	return b[i+4] & 0x0f
}

// dialAttachWS opens GET /<version>/containers/<id>/attach/ws?<query> on the
// daemon's socket.
func dialAttachWS(t *testing.T, d *daemon, version, id, query string) (*websocket.Conn, *recordingConn, error) {
	t.Helper()
	cfg, err := websocket.NewConfig("ws://localhost/"+version+"/containers/"+id+"/attach/ws?"+query, "http://localhost")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := net.Dial("unix", d.Sock)
	if err != nil {
		t.Fatal(err)
	}
	rc := &recordingConn{Conn: raw}
	ws, err := websocket.NewClient(cfg, rc)
	if err != nil {
		raw.Close()
		return nil, rc, err
	}
	t.Cleanup(func() { ws.Close() })
	return ws, rc, nil
}

// readAllWS reads messages until the daemon closes the WebSocket.
func readAllWS(t *testing.T, ws *websocket.Conn) string {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(20 * time.Second))
	var out strings.Builder
	for {
		var msg []byte
		if err := websocket.Message.Receive(ws, &msg); err != nil {
			if err != io.EOF {
				t.Logf("receive: %v", err)
			}
			return out.String()
		}
		out.Write(msg)
	}
}

// TestAttachWebSocket attaches to a container through
// /containers/{id}/attach/ws, as a browser terminal does: what the client
// sends is the container's stdin, stdout and stderr come back unmultiplexed
// in binary frames (text frames before API 1.28), and a container that does
// not exist is an HTTP 404 before any handshake.
func TestAttachWebSocket(t *testing.T) {
	d := newDaemon(t)
	c := d.client(t)
	ctx := context.Background()
	for _, tc := range []struct {
		version string
		opcode  byte
	}{{"v1.43", 0x2}, {"v1.27", 0x1}} {
		t.Run(tc.version, func(t *testing.T) {
			cr, err := c.ContainerCreate(ctx, client.ContainerCreateOptions{
				Config: &container.Config{
					Image: "busybox", Cmd: []string{"sh", "-c", "read line; echo got:$line; echo to-stderr >&2; exit 3"},
					OpenStdin: true, AttachStdin: true, AttachStdout: true, AttachStderr: true,
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _, _ = c.ContainerRemove(ctx, cr.ID, client.ContainerRemoveOptions{Force: true}) })
			ws, rc, err := dialAttachWS(t, d, tc.version, cr.ID, "stream=1&stdin=1&stdout=1&stderr=1")
			if err != nil {
				t.Fatalf("websocket attach: %v", err)
			}
			wr := c.ContainerWait(ctx, cr.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
			if _, err := c.ContainerStart(ctx, cr.ID, client.ContainerStartOptions{}); err != nil {
				t.Fatal(err)
			}
			if err := websocket.Message.Send(ws, []byte("hello\n")); err != nil {
				t.Fatal(err)
			}
			// stdout and stderr are two pipes: their lines may come in
			// either order.
			got := readAllWS(t, ws)
			if got != "got:hello\nto-stderr\n" && got != "to-stderr\ngot:hello\n" {
				t.Errorf("attach/ws output %q, want the lines got:hello and to-stderr, without stream headers", got)
			}
			if op := rc.firstFrameOpcode(t); op != tc.opcode {
				t.Errorf("first frame's opcode %#x, want %#x", op, tc.opcode)
			}
			if code := waitCode(t, wr); code != 3 {
				t.Errorf("exit code %d, want 3", code)
			}
		})
	}

	t.Run("logs", func(t *testing.T) {
		cr, err := c.ContainerCreate(ctx, client.ContainerCreateOptions{
			Config: &container.Config{Image: "busybox", Cmd: []string{"echo", "logged"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _, _ = c.ContainerRemove(ctx, cr.ID, client.ContainerRemoveOptions{Force: true}) })
		wr := c.ContainerWait(ctx, cr.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
		if _, err := c.ContainerStart(ctx, cr.ID, client.ContainerStartOptions{}); err != nil {
			t.Fatal(err)
		}
		waitCode(t, wr)
		ws, _, err := dialAttachWS(t, d, "v1.43", cr.ID, "logs=1&stdout=1")
		if err != nil {
			t.Fatalf("websocket attach: %v", err)
		}
		if got := readAllWS(t, ws); got != "logged\n" {
			t.Errorf("attach/ws?logs=1 of a stopped container: %q, want %q", got, "logged\n")
		}
	})

	t.Run("missing", func(t *testing.T) {
		raw, err := net.Dial("unix", d.Sock)
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		req := "GET /v1.43/containers/no-such-ctr/attach/ws?stream=1&stdout=1 HTTP/1.1\r\nHost: localhost\r\n" +
			"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
			"Sec-WebSocket-Version: 13\r\nOrigin: http://localhost\r\n\r\n"
		if _, err := raw.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
		_ = raw.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(raw), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "No such container: no-such-ctr") {
			t.Errorf("attach/ws of a missing container: %d %s, want 404 naming it", resp.StatusCode, body)
		}
	})
}
