package api

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
)

// HijackedConn is a connection taken over from the HTTP server for a raw
// stream (attach, exec start). Reads first drain what the server had
// already buffered. CloseWrite half-closes when the transport can (unix,
// TCP and TLS connections can), so the client sees the end of output while
// its stdin may still be read.
type HijackedConn struct {
	net.Conn
	r *bufio.Reader
}

// Read reads the client's stream (stdin), starting with buffered bytes.
func (c *HijackedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// CloseWrite shuts down the sending side of the connection, or closes it
// when the transport cannot half-close.
func (c *HijackedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Conn.Close()
}

// IsUpgrade reports whether r asks for the raw-stream upgrade: an Upgrade
// header, as dockerd decides it (the docker client also sends Connection:
// Upgrade; some clients send Upgrade alone).
func IsUpgrade(r *http.Request) bool {
	_, ok := r.Header["Upgrade"]
	return ok
}

// Hijack takes over the connection of r and answers it the way dockerd
// does: "101 UPGRADED" with Connection/Upgrade headers when the client
// asked for the upgrade, a plain "200 OK" otherwise (old clients), both
// with mediaType as Content-Type (types.MediaTypeRawStream for a TTY,
// types.MediaTypeMultiplexedStream otherwise). The headers the middleware
// set (Api-Version, Server, ...) are sent too. After it returns, the
// caller owns the connection and must close it.
func Hijack(w http.ResponseWriter, r *http.Request, mediaType string) (*HijackedConn, error) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return nil, fmt.Errorf("hijack %s: the response writer cannot be hijacked", r.URL.Path)
	}
	conn, rw, err := hj.Hijack()
	if err != nil {
		return nil, fmt.Errorf("hijack %s: %w", r.URL.Path, err)
	}
	var b strings.Builder
	if IsUpgrade(r) {
		b.WriteString("HTTP/1.1 101 UPGRADED\r\n")
		b.WriteString("Connection: Upgrade\r\n")
		b.WriteString("Upgrade: tcp\r\n")
	} else {
		b.WriteString("HTTP/1.1 200 OK\r\n")
	}
	b.WriteString("Content-Type: " + mediaType + "\r\n")
	for _, k := range []string{"Api-Version", "Docker-Experimental", "Ostype", "Server"} {
		if v := w.Header().Get(k); v != "" {
			b.WriteString(k + ": " + v + "\r\n")
		}
	}
	b.WriteString("\r\n")
	if _, err := rw.Writer.WriteString(b.String()); err != nil {
		conn.Close()
		return nil, fmt.Errorf("hijack %s: write upgrade response: %w", r.URL.Path, err)
	}
	if err := rw.Writer.Flush(); err != nil {
		conn.Close()
		return nil, fmt.Errorf("hijack %s: write upgrade response: %w", r.URL.Path, err)
	}
	return &HijackedConn{Conn: conn, r: rw.Reader}, nil
}
