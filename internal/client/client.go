package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"

	mobyclient "github.com/moby/moby/client"
)

const (
	// DefaultHost is where `berth daemon` listens unless told otherwise.
	DefaultHost = "unix:///run/berth/berth.sock"
	// EnvHost selects the daemon; it wins over DOCKER_HOST.
	EnvHost = "BERTH_HOST"
)

// Options say which daemon to reach and how.
type Options struct {
	// Host is the -H value; empty means BERTH_HOST, DOCKER_HOST, DefaultHost.
	Host string
	// TLS uses TLS (without verifying the server unless TLSVerify).
	TLS bool
	// TLSVerify uses TLS and verifies the server against CACert.
	TLSVerify         bool
	CACert, Cert, Key string
	// Headers are sent with every request of the client.
	Headers map[string]string
}

// ExpectContinueTimeout is how long a request sent with "Expect:
// 100-continue" waits for the daemon's go-ahead before it sends its body
// anyway (a daemon that ignores the header).
const ExpectContinueTimeout = 2 * time.Second

// The headers with which the berth CLI offers a daemon on this host to
// read a build's context directory in place (see the api package's
// localContextDir): its absolute path, and "DEV:INO" as stat(2) gives it.
// They go with Expect: 100-continue, so a daemon that does not take the
// offer reads the body, and the context is sent as a tar after all.
const (
	HeaderContextDir = "X-Berth-Context-Dir"
	HeaderContextID  = "X-Berth-Context-Id"
)

// ResolveHost returns the daemon address for a -H value: the value itself,
// else $BERTH_HOST, else $DOCKER_HOST, else DefaultHost.
func ResolveHost(flagHost string) string {
	for _, h := range []string{flagHost, os.Getenv(EnvHost), os.Getenv(mobyclient.EnvOverrideHost)} {
		if h != "" {
			return h
		}
	}
	return DefaultHost
}

// Client is a moby Engine API client bound to one daemon, with API version
// negotiation on its first request.
type Client struct {
	*mobyclient.Client
	host string
}

// New returns a client for opts. It does not connect yet.
func New(opts Options) (*Client, error) {
	host := ResolveHost(opts.Host)
	u, err := mobyclient.ParseHostURL(host)
	if err != nil {
		return nil, fmt.Errorf("daemon host %q: %w", host, err)
	}
	ops := []mobyclient.Opt{mobyclient.WithTLSClientConfigFromEnv()}
	if opts.TLS || opts.TLSVerify || opts.CACert != "" || opts.Cert != "" || opts.Key != "" {
		hc, err := tlsHTTPClient(opts)
		if err != nil {
			return nil, err
		}
		ops = append(ops, mobyclient.WithHTTPClient(hc))
	} else {
		// moby's own default, with a wait for 100 Continue. A non-nil
		// TLSNextProto keeps the transport from setting itself up for
		// HTTP/2 when moby clones it, which would give it a TLS config
		// and moby the idea to speak https.
		ops = append(ops, mobyclient.WithHTTPClient(&http.Client{
			Transport: &http.Transport{
				MaxIdleConns:          6,
				IdleConnTimeout:       30 * time.Second,
				ExpectContinueTimeout: ExpectContinueTimeout,
				TLSNextProto:          map[string]func(string, *tls.Conn) http.RoundTripper{},
			},
			CheckRedirect: mobyclient.CheckRedirect,
		}))
	}
	if len(opts.Headers) > 0 {
		ops = append(ops, mobyclient.WithHTTPHeaders(opts.Headers))
	}
	ops = append(ops,
		mobyclient.WithHost(host),
		mobyclient.WithAPIVersionFromEnv(),
		mobyclient.WithAPIVersionNegotiation(),
		mobyclient.WithUserAgent("Berth-Client (linux)"),
		mobyclient.WithDialContext(dialer(host, u.Scheme, u.Host)),
	)
	c, err := mobyclient.New(ops...)
	if err != nil {
		return nil, fmt.Errorf("client for %s: %w", host, err)
	}
	return &Client{Client: c, host: host}, nil
}

// Host returns the daemon address this client talks to.
func (c *Client) Host() string { return c.host }

// dialer connects to the daemon's socket and reports failure as an
// *UnreachableError, which travels up through the moby client's wrapping.
func dialer(host, proto, addr string) func(ctx context.Context, network, a string) (net.Conn, error) {
	var d net.Dialer
	return func(ctx context.Context, _, _ string) (net.Conn, error) {
		conn, err := d.DialContext(ctx, proto, addr)
		if err != nil {
			return nil, &UnreachableError{Host: host, Err: err}
		}
		return conn, nil
	}
}

// UnreachableError says that no daemon answered at Host.
type UnreachableError struct {
	Host string
	Err  error
}

func (e *UnreachableError) Error() string {
	if errors.Is(e.Err, syscall.EACCES) || errors.Is(e.Err, syscall.EPERM) {
		return fmt.Sprintf("permission denied while trying to connect to the Berth daemon at %s: %v", e.Host, e.Err)
	}
	return fmt.Sprintf("Cannot connect to the Berth daemon at %s. Is the daemon running? Start it with: berth daemon", e.Host)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// Cause returns the *UnreachableError inside err when there is one (so the
// user reads one sentence, not the HTTP client's wrapping), err otherwise.
func Cause(err error) error {
	var ue *UnreachableError
	if errors.As(err, &ue) {
		return ue
	}
	return err
}
