package daemon

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// listenAll opens a listener for every -H address. It returns the
// warnings `info` should show (plain TCP). On error, what was opened is
// closed again.
func listenAll(cfg Config) (ls []net.Listener, warnings []string, err error) {
	defer func() {
		if err != nil {
			for _, l := range ls {
				l.Close()
			}
			ls = nil
		}
	}()
	var tlsCfg *tls.Config
	if cfg.TLS {
		if tlsCfg, err = serverTLS(cfg); err != nil {
			return nil, nil, err
		}
	}
	for _, h := range cfg.Hosts {
		proto, addr, err := parseHost(h)
		if err != nil {
			return ls, nil, err
		}
		switch proto {
		case "fd":
			fls, err := activationListeners(addr)
			if err != nil {
				return ls, nil, fmt.Errorf("-H %s: %w", h, err)
			}
			ls = append(ls, fls...)
		case "unix":
			l, err := listenUnix(addr, cfg.Group, cfg.Group != DefaultGroup)
			if err != nil {
				return ls, nil, err
			}
			ls = append(ls, l)
		case "tcp":
			if tlsCfg == nil && !cfg.InsecureTCP && !isLoopback(addr) {
				return ls, nil, fmt.Errorf("-H %s: refusing to serve the API on a non-loopback address without TLS: whoever reaches it controls this host as root; use --tlsverify with --tlscacert, --tlscert and --tlskey, or --insecure-tcp to force it", h)
			}
			l, err := net.Listen("tcp", addr)
			if err != nil {
				return ls, nil, fmt.Errorf("-H %s: %w", h, err)
			}
			if tlsCfg != nil {
				l = tls.NewListener(l, tlsCfg)
				if !cfg.TLSVerify {
					warnings = append(warnings, fmt.Sprintf("WARNING: API is accessible on https://%s without client certificate verification (--tls without --tlsverify)", addr))
				}
			} else {
				warnings = append(warnings, fmt.Sprintf("WARNING: API is accessible on http://%s without encryption. Access to the API is equivalent to root access on the host", addr))
			}
			ls = append(ls, l)
		}
		slog.Info("API listening", "host", h)
	}
	return ls, warnings, nil
}

// parseHost splits a -H value into "unix" + path or "tcp" + host:port
// (the port defaults to 2376 with TLS and 2375 without, as dockerd).
func parseHost(h string) (proto, addr string, err error) {
	u, err := url.Parse(h)
	if err != nil {
		return "", "", fmt.Errorf("-H %q: %w", h, err)
	}
	switch u.Scheme {
	case "fd":
		// systemd's socket activation (Debian's docker.service uses
		// -H fd://): every socket passed, or fd://N alone.
		return "fd", u.Host, nil
	case "unix":
		p := u.Path
		if u.Host != "" {
			p = u.Host + u.Path
		}
		if p == "" || !filepath.IsAbs(p) {
			return "", "", fmt.Errorf("-H %q: want unix:///absolute/path", h)
		}
		return "unix", p, nil
	case "tcp":
		host, port, err := net.SplitHostPort(u.Host)
		if err != nil {
			host, port = u.Host, ""
		}
		if port == "" {
			port = "2375"
		}
		if host == "" {
			return "", "", fmt.Errorf("-H %q: want tcp://HOST:PORT", h)
		}
		return "tcp", net.JoinHostPort(host, port), nil
	}
	return "", "", fmt.Errorf("-H %q: unsupported scheme %q (want unix://, tcp:// or fd://)", h, u.Scheme)
}

func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// listenUnix listens on path, replacing a stale socket from a crash only if
// nothing answers on it. The socket is mode 0660, group group when that
// group exists (an explicitly named group that does not exist is an error).
func listenUnix(path, group string, groupRequired bool) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("socket directory %s: %w", filepath.Dir(path), err)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != os.ModeSocket {
			return nil, fmt.Errorf("socket %s: exists and is not a socket; remove it or choose another -H", path)
		}
		c, err := net.DialTimeout("unix", path, 2*time.Second)
		if err == nil {
			c.Close()
			return nil, fmt.Errorf("socket %s: another daemon is listening on it", path)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("socket %s: cannot tell whether a daemon still listens: %w", path, err)
		}
		slog.Warn("removing stale socket left by a previous daemon", "path", path)
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove stale socket %s: %w", path, err)
		}
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	gid := -1
	if group != "" {
		g, err := lookupGroup(group)
		switch {
		case err == nil:
			gid = g
		case groupRequired:
			l.Close()
			return nil, fmt.Errorf("--group %s: %w", group, err)
		}
	}
	if gid >= 0 {
		if err := os.Chown(path, 0, gid); err != nil {
			l.Close()
			return nil, fmt.Errorf("chown socket %s to group %s: %w", path, group, err)
		}
	}
	if err := os.Chmod(path, 0o660); err != nil {
		l.Close()
		return nil, fmt.Errorf("chmod socket %s: %w", path, err)
	}
	return l, nil
}

func lookupGroup(name string) (int, error) {
	if id, err := strconv.Atoi(name); err == nil {
		return id, nil
	}
	g, err := user.LookupGroup(name)
	if err != nil {
		return -1, err
	}
	return strconv.Atoi(g.Gid)
}

// serverTLS builds the TLS configuration of the TCP listeners: the server's
// certificate and key, and with --tlsverify the CA that client certificates
// must chain to.
func serverTLS(cfg Config) (*tls.Config, error) {
	if cfg.TLSCert == "" || cfg.TLSKey == "" {
		return nil, fmt.Errorf("--tls: --tlscert and --tlskey are required")
	}
	pair, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("--tlscert %s, --tlskey %s: %w", cfg.TLSCert, cfg.TLSKey, err)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair}}
	if cfg.TLSVerify {
		if cfg.TLSCACert == "" {
			return nil, fmt.Errorf("--tlsverify: --tlscacert is required")
		}
		pem, err := os.ReadFile(cfg.TLSCACert)
		if err != nil {
			return nil, fmt.Errorf("--tlscacert: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tlscacert %s: no PEM certificate in it", cfg.TLSCACert)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return tc, nil
}

// hostsString lists the hosts for logs.
func hostsString(hosts []string) string { return strings.Join(hosts, ", ") }

// activationListeners returns the sockets systemd passed (LISTEN_PID,
// LISTEN_FDS, from descriptor 3 on): all of them, or descriptor which
// alone. The variables are unset, so nothing this daemon starts sees them.
func activationListeners(which string) ([]net.Listener, error) {
	pid, _ := strconv.Atoi(os.Getenv("LISTEN_PID"))
	n, _ := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if pid != os.Getpid() || n <= 0 {
		return nil, errors.New("no sockets passed by systemd (LISTEN_PID, LISTEN_FDS)")
	}
	const first = 3
	fds := make([]int, 0, n)
	for fd := first; fd < first+n; fd++ {
		syscall.CloseOnExec(fd) // those not used too
		fds = append(fds, fd)
	}
	if which != "" {
		want, err := strconv.Atoi(which)
		if err != nil || want < first || want >= first+n {
			return nil, fmt.Errorf("descriptor %q was not passed by systemd (%d to %d were)", which, first, first+n-1)
		}
		fds = []int{want}
	}
	var out []net.Listener
	for _, fd := range fds {
		f := os.NewFile(uintptr(fd), "LISTEN_FD_"+strconv.Itoa(fd))
		l, err := net.FileListener(f)
		f.Close()
		if err != nil {
			for _, o := range out {
				o.Close()
			}
			return nil, fmt.Errorf("descriptor %d: %w", fd, err)
		}
		out = append(out, l)
	}
	os.Unsetenv("LISTEN_PID")
	os.Unsetenv("LISTEN_FDS")
	os.Unsetenv("LISTEN_FDNAMES")
	return out, nil
}
