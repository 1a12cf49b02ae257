package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
)

const (
	// APIVersion is the highest Engine API version Berth serves: the one
	// whose types github.com/moby/moby/api (v1.56.x) provides.
	APIVersion = "1.56"
	// MinAPIVersion is the lowest version accepted in a /vX.Y prefix, unless
	// Config.MinAPIVersion lowers it.
	MinAPIVersion = "1.24"
	// OldestAPIVersion is as low as Config.MinAPIVersion may go: dockerd's
	// floor for DOCKER_MIN_API_VERSION.
	OldestAPIVersion = "1.12"
)

// ParseMinAPIVersion checks a lowered minimum API version, as dockerd
// checks its DOCKER_MIN_API_VERSION: from OldestAPIVersion to
// MinAPIVersion. "" is MinAPIVersion.
func ParseMinAPIVersion(v string) (string, error) {
	if v == "" {
		return MinAPIVersion, nil
	}
	v = strings.TrimPrefix(v, "v")
	if _, _, err := parseVersion(v); err != nil {
		return "", fmt.Errorf("invalid minimum API version %q: %w", v, err)
	}
	if CompareVersions(v, OldestAPIVersion) < 0 {
		return "", fmt.Errorf("invalid minimum API version %s: the oldest supported is %s", v, OldestAPIVersion)
	}
	if CompareVersions(v, MinAPIVersion) > 0 {
		return "", fmt.Errorf("invalid minimum API version %s: it may not be above the default, %s", v, MinAPIVersion)
	}
	return v, nil
}

// minAPIVersion is the lowest version this server accepts.
func (s *Server) minAPIVersion() string {
	if s.cfg.MinAPIVersion != "" {
		return s.cfg.MinAPIVersion
	}
	return MinAPIVersion
}

// composeV1Version is the highest API version requests of docker-compose
// 1.x (Debian 12's 1.29) are answered at. Compose v1 negotiates the
// server's highest version for a compose file without "version:", then
// reads fields that version no longer has: image inspect's
// ContainerConfig (gone in 1.45) when it recreates a container, so a
// changed service fails with KeyError: 'ContainerConfig', as it does
// against dockerd 25 and later. Debian's docker.io (20.10, API 1.41), its
// peer on Debian 12, answered it in the old shape; so does Berth, at the
// last version that has those fields.
const composeV1Version = "1.44"

type versionKey struct{}

// VersionFrom returns the API version of the request being served: the
// /vX.Y prefix it came with, or APIVersion when it had none.
func VersionFrom(ctx context.Context) string {
	if v, ok := ctx.Value(versionKey{}).(string); ok {
		return v
	}
	return APIVersion
}

// splitVersion cuts a leading /vX.Y from path. ok is false when the path
// starts with /v<digits> but the rest is not a version (dockerd's router
// treats that as an unknown path).
func splitVersion(path string) (version, rest string, ok bool) {
	if !strings.HasPrefix(path, "/v") || len(path) < 3 || path[2] < '0' || path[2] > '9' {
		return "", path, true
	}
	seg, after, _ := strings.Cut(path[2:], "/")
	if _, _, err := parseVersion(seg); err != nil {
		return "", path, false
	}
	return seg, "/" + after, true
}

func parseVersion(v string) (major, minor int, err error) {
	ma, mi, found := strings.Cut(v, ".")
	if !found {
		return 0, 0, fmt.Errorf("api version %q: want MAJOR.MINOR", v)
	}
	if major, err = strconv.Atoi(ma); err != nil {
		return 0, 0, fmt.Errorf("api version %q: %w", v, err)
	}
	if minor, err = strconv.Atoi(mi); err != nil {
		return 0, 0, fmt.Errorf("api version %q: %w", v, err)
	}
	return major, minor, nil
}

// CompareVersions returns -1, 0 or 1 as a is lower than, equal to or higher
// than b; unparsable versions compare as 0.0.
func CompareVersions(a, b string) int {
	amaj, amin, _ := parseVersion(a)
	bmaj, bmin, _ := parseVersion(b)
	switch {
	case amaj != bmaj:
		if amaj < bmaj {
			return -1
		}
		return 1
	case amin < bmin:
		return -1
	case amin > bmin:
		return 1
	}
	return 0
}

// checkVersion refuses versions outside [min, APIVersion] with dockerd's
// messages.
func checkVersion(v, min string) error {
	if CompareVersions(v, APIVersion) > 0 {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("client version %s is too new. Maximum supported API version is %s", v, APIVersion))
	}
	if CompareVersions(v, min) < 0 {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("client version %s is too old. Minimum supported API version is %s, please upgrade your client to a newer version", v, min))
	}
	return nil
}

// withVersion sets the headers every response carries, strips the /vX.Y
// prefix (recording the version in the context) and rejects unsupported
// versions before next sees the request.
func (s *Server) withVersion(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Api-Version", APIVersion)
		h.Set("Docker-Experimental", strconv.FormatBool(s.cfg.Experimental))
		h.Set("Ostype", "linux")
		h.Set("Server", "Berth/"+s.cfg.Version+" (linux)")
		v, rest, ok := splitVersion(r.URL.Path)
		if !ok {
			writeError(w, r, errNotFound)
			return
		}
		if v != "" {
			if err := checkVersion(v, s.minAPIVersion()); err != nil {
				writeError(w, r, err)
				return
			}
		} else {
			v = APIVersion
		}
		if CompareVersions(v, composeV1Version) > 0 && strings.HasPrefix(r.UserAgent(), "docker-compose/1.") {
			v = composeV1Version
		}
		slog.DebugContext(r.Context(), "api request", "method", r.Method, "path", r.URL.Path, "version", v)
		r2 := r.WithContext(context.WithValue(r.Context(), versionKey{}, v))
		r2.URL.Path = rest
		r2.URL.RawPath = ""
		next.ServeHTTP(w, r2)
	})
}
