package api

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types"
)

// TestHijackHalfClose plays a non-TTY attach: the server upgrades, sends
// framed stdout and stderr, reads stdin to the client's half-close, echoes
// it on stdout, and only then ends the stream.
func TestHijackHalfClose(t *testing.T) {
	handlerErr := make(chan error, 1)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Api-Version", APIVersion)
		conn, err := Hijack(w, r, types.MediaTypeMultiplexedStream)
		if err != nil {
			handlerErr <- err
			return
		}
		defer conn.Close()
		mux := NewMuxWriter(conn)
		_, _ = mux.Stream(Stdout).Write([]byte("hello-stdout\n"))
		_, _ = mux.Stream(Stderr).Write([]byte("hello-stderr\n"))
		stdin, err := io.ReadAll(conn)
		if err != nil {
			handlerErr <- err
			return
		}
		_, _ = mux.Stream(Stdout).Write(append([]byte("stdin:"), stdin...))
		handlerErr <- conn.CloseWrite()
	}))
	t.Cleanup(ts.Close)

	c, err := net.Dial("tcp", strings.TrimPrefix(ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	req := "POST /v1.50/containers/x/attach?stream=1&stdin=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: api.moby.localhost\r\n" +
		"Connection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 101 || resp.Status != "101 UPGRADED" || resp.Header.Get("Upgrade") != "tcp" ||
		resp.Header.Get("Content-Type") != types.MediaTypeMultiplexedStream || resp.Header.Get("Api-Version") != APIVersion {
		t.Fatalf("upgrade response %q %v", resp.Status, resp.Header)
	}
	if _, err := io.WriteString(c, "typed"); err != nil {
		t.Fatal(err)
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if _, err := stdcopy.StdCopy(&stdout, &stderr, br); err != nil {
		t.Fatalf("demultiplex: %v", err)
	}
	if stdout.String() != "hello-stdout\nstdin:typed" || stderr.String() != "hello-stderr\n" {
		t.Errorf("stdout %q stderr %q", stdout.String(), stderr.String())
	}
	if err := <-handlerErr; err != nil {
		t.Errorf("handler: %v", err)
	}
}

func TestHijackWithoutUpgradeAnswers200(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := Hijack(w, r, types.MediaTypeRawStream)
		if err != nil {
			return
		}
		_, _ = conn.Write([]byte("raw tty bytes"))
		conn.Close()
	}))
	t.Cleanup(ts.Close)
	resp, err := http.Post(ts.URL+"/exec/x/start", "application/json", strings.NewReader(`{"Tty":true}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != types.MediaTypeRawStream || string(b) != "raw tty bytes" {
		t.Errorf("got %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
}

// An Upgrade header alone asks for the upgrade, as dockerd reads it (some
// Go clients send no Connection: Upgrade): 101.
func TestHijackUpgradeHeaderAlone(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := Hijack(w, r, types.MediaTypeRawStream)
		if err != nil {
			return
		}
		conn.Close()
	}))
	t.Cleanup(ts.Close)
	c, err := net.Dial("tcp", strings.TrimPrefix(ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "POST /containers/x/attach?stream=1 HTTP/1.1\r\nHost: x\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 101") {
		t.Errorf("status line %q, %v; want 101", line, err)
	}
}
