package api

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/moby/moby/api/types/registry"
)

// POST /auth (routed by routeImages): `docker login` checks credentials
// through the daemon, which stores nothing (the CLI keeps them in its own
// config.json).

// authResponse is /auth's answer; dockerd sends IdentityToken even empty.
type authResponse struct {
	IdentityToken string
	Status        string
}

// loginTimeout bounds one login attempt.
const loginTimeout = 30 * time.Second

// registryHost turns docker's serveraddress ("127.0.0.1:5000",
// "http://host:port/", "https://index.docker.io/v1/", "") into the
// registry's host.
func registryHost(addr string) string {
	a := strings.TrimSpace(addr)
	if i := strings.Index(a, "://"); i >= 0 {
		a = a[i+3:]
	}
	a, _, _ = strings.Cut(a, "/")
	switch a {
	case "", "index.docker.io", "registry-1.docker.io", "docker.io":
		return name.DefaultRegistry
	}
	return a
}

// loopbackHost reports whether host names this machine (plain HTTP is
// allowed there, as the image service allows it).
func loopbackHost(host string) bool {
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

// login answers POST /auth as dockerd: the registry's /v2/ is fetched
// with the credentials (basic, or the token flow the registry's challenge
// asks for, through go-containerregistry's transport); 200 {"Status":
// "Login Succeeded"} when it answers 200, else 401 "login attempt to
// <url> failed with status: 401 Unauthorized". A registry that cannot be
// reached is a 500 naming the URL.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var ac registry.AuthConfig
	if err := decodeJSON(r, &ac); err != nil {
		writeError(w, r, err)
		return
	}
	host := registryHost(ac.ServerAddress)
	var opts []name.Option
	scheme := "https"
	if loopbackHost(host) {
		opts = append(opts, name.Insecure)
		scheme = "http"
	}
	reg, err := name.NewRegistry(host, opts...)
	if err != nil {
		writeError(w, r, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid registry address %q: %v", ac.ServerAddress, err)))
		return
	}
	endpoint := scheme + "://" + reg.RegistryStr() + "/v2/"
	if reg.RegistryStr() == name.DefaultRegistry {
		endpoint = "https://registry-1.docker.io/v2/"
	}
	auth := authn.FromConfig(authn.AuthConfig{Username: ac.Username, Password: ac.Password, Auth: ac.Auth,
		IdentityToken: ac.IdentityToken, RegistryToken: ac.RegistryToken})
	ctx := r.Context()
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.ResponseHeaderTimeout = loginTimeout
	failed := func(status int) error {
		return errdefs.ErrUnauthenticated.WithMessage(fmt.Sprintf("login attempt to %s failed with status: %d %s", endpoint, status, http.StatusText(status)))
	}
	rt, err := transport.NewWithContext(ctx, reg, auth, base, nil)
	if err != nil {
		var te *transport.Error
		if errors.As(err, &te) && (te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden) {
			writeError(w, r, failed(te.StatusCode))
			return
		}
		writeError(w, r, fmt.Errorf("login to %s: %w", endpoint, err))
		return
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		writeError(w, r, err)
		return
	}
	resp, err := (&http.Client{Transport: rt, Timeout: loginTimeout}).Do(req)
	if err != nil {
		var te *transport.Error
		if errors.As(err, &te) && (te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden) {
			writeError(w, r, failed(te.StatusCode))
			return
		}
		writeError(w, r, fmt.Errorf("login to %s: %w", endpoint, err))
		return
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		writeError(w, r, failed(resp.StatusCode))
		return
	}
	writeJSON(w, http.StatusOK, authResponse{Status: "Login Succeeded"})
}
