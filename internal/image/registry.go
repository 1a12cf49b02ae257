package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/errdefs"
	dockerconfig "github.com/docker/cli/cli/config"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/berth/berth/internal/metadata"
)

// remoteRepo is one repository of one registry, with an authenticated
// client for the scopes it was opened with.
type remoteRepo struct {
	ref    name.Reference
	repo   name.Repository
	base   string // scheme://host/v2/<repo path>
	client *http.Client
}

// isLoopbackHost reports whether host (with or without port) names this
// machine: localhost, 127.0.0.0/8 or ::1.
func isLoopbackHost(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	h = strings.Trim(h, "[]")
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func (s *Service) insecure(host string) bool {
	if isLoopbackHost(host) {
		return true
	}
	hostOnly := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		hostOnly = h
	}
	ip := net.ParseIP(strings.Trim(hostOnly, "[]"))
	for _, h := range s.reg.Insecure {
		if strings.EqualFold(h, host) {
			return true
		}
		// As dockerd's insecure-registries: a CIDR takes every registry
		// at an address in it.
		if _, n, err := net.ParseCIDR(h); err == nil && ip != nil && n.Contains(ip) {
			return true
		}
	}
	return false
}

// schemeGuard is the registry transport under go-containerregistry's: that
// library speaks plain HTTP to registries at private (RFC 1918) addresses
// of its own accord; dockerd does so only for loopback and
// insecure-registries. A plain-HTTP request to any other registry goes
// out as HTTPS instead (and fails as it does with dockerd against a
// plain-HTTP registry).
type schemeGuard struct {
	inner    http.RoundTripper
	insecure func(host string) bool
}

func (g *schemeGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && g.insecure != nil && !g.insecure(req.URL.Host) {
		r := req.Clone(req.Context())
		r.URL.Scheme = "https"
		return g.inner.RoundTrip(r)
	}
	return g.inner.RoundTrip(req)
}

// parseRemote parses ref as docker does and returns it as a
// go-containerregistry reference, insecure only for loopback and listed
// registries.
func (s *Service) parseRemote(ref string) (name.Reference, error) {
	named, err := metadata.ParseReference(ref)
	if err != nil {
		return nil, err
	}
	str := named.String()
	host := strings.SplitN(str, "/", 2)[0]
	var opts []name.Option
	opts = append(opts, name.StrictValidation)
	if s.insecure(host) {
		opts = append(opts, name.Insecure)
	}
	r, err := name.ParseReference(str, opts...)
	if err != nil {
		return nil, fmt.Errorf("invalid reference %q: %v: %w", ref, err, errdefs.ErrInvalidArgument)
	}
	return r, nil
}

// keychain resolves credentials from a docker-compatible config.json,
// credential helpers included.
type keychain struct{ dir string }

func (k keychain) Resolve(target authn.Resource) (authn.Authenticator, error) {
	if k.dir == "" {
		return authn.DefaultKeychain.Resolve(target)
	}
	cf, err := dockerconfig.Load(k.dir)
	if err != nil {
		return nil, fmt.Errorf("load registry credentials from %s: %w", k.dir, err)
	}
	for _, key := range []string{target.String(), target.RegistryStr()} {
		if key == name.DefaultRegistry {
			key = authn.DefaultAuthKey
		}
		ac, err := cf.GetAuthConfig(key)
		if err != nil {
			return nil, fmt.Errorf("registry credentials for %s: %w", key, err)
		}
		if ac.Username != "" || ac.Password != "" || ac.Auth != "" || ac.IdentityToken != "" || ac.RegistryToken != "" {
			return authn.FromConfig(authn.AuthConfig{Username: ac.Username, Password: ac.Password, Auth: ac.Auth,
				IdentityToken: ac.IdentityToken, RegistryToken: ac.RegistryToken}), nil
		}
	}
	return authn.Anonymous, nil
}

func (s *Service) authenticator(reg name.Registry, ac *AuthConfig) (authn.Authenticator, error) {
	if ac != nil && (ac.Username != "" || ac.Password != "" || ac.Auth != "" || ac.IdentityToken != "" || ac.RegistryToken != "") {
		return authn.FromConfig(authn.AuthConfig{Username: ac.Username, Password: ac.Password, Auth: ac.Auth,
			IdentityToken: ac.IdentityToken, RegistryToken: ac.RegistryToken}), nil
	}
	if s.reg.NoKeychain {
		return authn.Anonymous, nil
	}
	return keychain{dir: s.reg.AuthConfigDir}.Resolve(reg)
}

// openRemote authenticates against ref's registry for the given actions on
// its repository (and pull on each of the extra repositories, for
// cross-repository mounts).
func (s *Service) openRemote(ctx context.Context, ref name.Reference, ac *AuthConfig, action string, extra ...name.Repository) (*remoteRepo, error) {
	repo := ref.Context()
	auth, err := s.authenticator(repo.Registry, ac)
	if err != nil {
		return nil, err
	}
	scopes := []string{repo.Scope(action)}
	for _, r := range extra {
		scopes = append(scopes, r.Scope(transport.PullScope))
	}
	var rt http.RoundTripper
	err = retry(ctx, func() error {
		var err error
		rt, err = transport.NewWithContext(ctx, repo.Registry, auth, s.reg.Transport, scopes)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("registry %s: %w", repo.RegistryStr(), classify(err))
	}
	scheme := "https"
	if s.insecure(repo.RegistryStr()) {
		scheme = "http"
	}
	return &remoteRepo{
		ref:    ref,
		repo:   repo,
		base:   fmt.Sprintf("%s://%s/v2/%s", scheme, repo.RegistryStr(), repo.RepositoryStr()),
		client: &http.Client{Transport: rt},
	}, nil
}

// classify maps registry errors to errdefs classes.
func classify(err error) error {
	var te *transport.Error
	if errors.As(err, &te) {
		switch te.StatusCode {
		case http.StatusUnauthorized:
			return fmt.Errorf("%w: %w", err, errdefs.ErrUnauthenticated)
		case http.StatusForbidden:
			return fmt.Errorf("%w: %w", err, errdefs.ErrPermissionDenied)
		case http.StatusNotFound:
			return fmt.Errorf("%w: %w", err, errdefs.ErrNotFound)
		}
	}
	return err
}

// temporary reports whether err is worth a retry: 5xx and 429 answers,
// connection resets, unexpected EOFs, timeouts. A refused connection is
// not: nothing listens there, and dockerd says so at once rather than
// after seconds of retries.
func temporary(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var te *transport.Error
	if errors.As(err, &te) {
		return te.Temporary()
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return false
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, io.EOF) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// retryAttempts and retryBase shape the backoff: 5 attempts, 200 ms,
// 400 ms, 800 ms, 1.6 s between them.
var (
	retryAttempts = 5
	retryBase     = 200 * time.Millisecond
)

// retry runs fn until it succeeds, fails with an error that is not
// temporary, ctx ends, or retryAttempts are used.
func retry(ctx context.Context, fn func() error) error {
	wait := retryBase
	var err error
	for i := 0; i < retryAttempts; i++ {
		err = fn()
		if !temporary(err) {
			return err
		}
		if i == retryAttempts-1 {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (after: %v)", ctx.Err(), err)
		case <-time.After(wait):
		}
		wait *= 2
	}
	return err
}

// do sends one request and checks its status.
func (r *remoteRepo) do(ctx context.Context, method, u string, hdr http.Header, body io.Reader, size int64, codes ...int) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if body != nil {
		req.ContentLength = size
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, err
	}
	if err := transport.CheckError(resp, codes...); err != nil {
		resp.Body.Close()
		return nil, err
	}
	return resp, nil
}

// resolveURL makes a Location header absolute.
func (r *remoteRepo) resolveURL(resp *http.Response, loc string) (string, error) {
	u, err := url.Parse(loc)
	if err != nil {
		return "", fmt.Errorf("registry location %q: %w", loc, err)
	}
	return resp.Request.URL.ResolveReference(u).String(), nil
}
