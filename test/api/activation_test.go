package api

import (
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestSocketActivation: with -H fd:// the daemon serves the sockets systemd
// passes it (Debian's docker.service runs dockerd so), here through
// systemd-socket-activate, which starts the daemon on the first connection.
func TestSocketActivation(t *testing.T) {
	activate, err := exec.LookPath("systemd-socket-activate")
	if err != nil {
		t.Skip("systemd-socket-activate is not installed (Debian package systemd)")
	}
	d := newDaemonDirs(t)
	d.Host = "fd://"
	d.SetWrap([]string{activate, "-l", d.Sock})
	// The first connection makes systemd-socket-activate start the daemon.
	go func() {
		for range 500 {
			if c, err := net.Dial("unix", d.Sock); err == nil {
				c.Close()
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	startDaemon(t, d)
	r := run(t, nil, berthBin, "-H", "unix://"+d.Sock, "version", "--format", "{{.Server.APIVersion}}")
	if r.code != 0 || r.stdout != "1.56\n" {
		t.Errorf("berth version through the passed socket: exit %d, %q %s", r.code, r.stdout, r.stderr)
	}
	r = run(t, nil, berthBin, "-H", "unix://"+d.Sock, "info", "--format", "{{.ID}}")
	if r.code != 0 || strings.TrimSpace(r.stdout) == "" {
		t.Errorf("berth info through the passed socket: exit %d, %q %s", r.code, r.stdout, r.stderr)
	}
}

// TestSocketActivationWithoutSockets: -H fd:// in a daemon started by hand
// (no LISTEN_FDS) or naming a descriptor not passed is refused at start,
// with the reason.
func TestSocketActivationWithoutSockets(t *testing.T) {
	d := newDaemonDirs(t)
	d.Host = "fd://"
	err := d.TryStart()
	if err == nil {
		t.Fatal("berth daemon -H fd:// without sockets started")
	}
	if !strings.Contains(err.Error(), "no sockets passed by systemd") {
		t.Errorf("error does not say why: %v", err)
	}
}
