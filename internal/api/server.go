package api

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/system"

	"github.com/berth/berth/internal/api/events"
	"github.com/berth/berth/internal/build"
	"github.com/berth/berth/internal/engine"
	"github.com/berth/berth/internal/image"
	"github.com/berth/berth/internal/network"
	"github.com/berth/berth/internal/volume"
)

// Config is what the daemon tells the server about itself at start.
type Config struct {
	Version      string // berth's version, as `berth version` prints it
	GitCommit    string
	BuildTime    string
	Experimental bool
	ID           string // the daemon's persistent ID (Info.ID)
	DataRoot     string // --data-root (Info.DockerRootDir)
	// MinAPIVersion lowers the oldest API version served (the daemon's
	// DOCKER_MIN_API_VERSION, checked by ParseMinAPIVersion); "" is
	// MinAPIVersion.
	MinAPIVersion string
	// SecurityOptions lists what containers get by default, in dockerd's
	// "name=seccomp,profile=builtin" form.
	SecurityOptions []string
	// Warnings are shown by `info` (for example a TCP socket without TLS).
	Warnings []string
	// InsecureRegistries and RegistryMirrors are daemon.json's, as info
	// shows them; LoggingDriver is the containers' default log driver
	// ("json-file" when empty).
	InsecureRegistries []string
	RegistryMirrors    []string
	LoggingDriver      string
	// DefaultAddressPools are the daemon's --default-address-pool
	// settings, as info shows them (none when not configured, as dockerd).
	DefaultAddressPools []system.NetworkAddressPool
	Events              *events.Bus
	// Counts reports containers and images; nil means none yet.
	Counts func(context.Context) (Counts, error)
	// Engine runs the containers behind /containers/... and /exec/...
	// (containers*.go, exec*.go); nil leaves those routes out.
	Engine *engine.Engine
	// Images is the image service behind /images/... (images*.go).
	Images *image.Service
	// ImageInUse tells whether a container uses an image, for rmi's
	// conflict and prune; nil means none does. The engine supplies it.
	ImageInUse image.InUseFunc
	// Volumes is the local volume driver behind /volumes/... (volumes.go);
	// nil leaves those routes out.
	Volumes *volume.Store
	// Networks is the network manager behind /networks/... (networks.go);
	// nil leaves those routes out.
	Networks *network.Manager
	// NetworkAttacher connects containers to networks for
	// /networks/{id}/connect and /disconnect; nil answers 501.
	NetworkAttacher NetworkAttacher
	// Builder builds images for /build and /build/prune (build.go); nil
	// leaves those routes out.
	Builder *build.Builder
}

// Counts are the object totals /info reports.
type Counts struct {
	Containers, Running, Paused, Stopped, Images int
}

// Runtimes is the reloadable set of OCI runtimes containers may choose.
type Runtimes struct {
	Default string
	All     map[string]system.RuntimeWithStatus
	// Versions, by runtime name, shown as a /version component.
	Versions map[string]string
}

// Server serves the Engine API. Create it with New.
type Server struct {
	cfg     Config
	handler http.Handler

	mu       sync.RWMutex
	runtimes Runtimes
	debug    bool
	labels   []string

	srvMu    sync.Mutex
	servers  []*http.Server
	stopping chan struct{} // closed by Shutdown: long streams end
	stopOnce sync.Once
}

// New returns a server for cfg. cfg.Events must be set.
func New(cfg Config) *Server {
	if cfg.Events == nil {
		cfg.Events = events.NewBus(0)
	}
	s := &Server{cfg: cfg, stopping: make(chan struct{})}
	mux := http.NewServeMux()
	s.routeSystem(mux)
	s.routeEvents(mux)
	s.routeContainers(mux)
	s.routeImages(mux)
	s.routeVolumes(mux)
	s.routeNetworks(mux)
	s.routeBuild(mux)
	s.routeSwarm(mux)
	s.routeDistribution(mux)
	s.handler = s.withVersion(routed(mux))
	return s
}

// routed answers requests mux has no pattern for (unknown path or method)
// with dockerd's 404 {"message":"page not found"} instead of ServeMux's
// plain-text 404 and 405.
func routed(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A legacy link name has a leading slash of its own, which the
		// docker CLI puts after the path's ("/containers//web/db"); as
		// dockerd, such a path is read with its slashes collapsed, not
		// redirected (ServeMux's answer to an unclean path).
		if strings.Contains(r.URL.Path, "//") {
			r.URL.Path = collapseSlashes(r.URL.Path)
			r.URL.RawPath = ""
		}
		if r.Method == http.MethodOptions {
			// dockerd answers OPTIONS on any path (CORS preflights).
			w.WriteHeader(http.StatusOK)
			return
		}
		if _, pattern := mux.Handler(r); pattern == "" {
			writeError(w, r, errNotFound)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// Handler returns the API's root handler (for tests and embedding).
func (s *Server) Handler() http.Handler { return s.handler }

// SetRuntimes replaces the runtime set (at start and on SIGHUP).
func (s *Server) SetRuntimes(r Runtimes) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.runtimes = r
}

// SetDebug records whether the daemon logs at debug level (Info.Debug).
func (s *Server) SetDebug(debug bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.debug = debug
}

// SetLabels replaces the daemon's labels (Info.Labels; at start and on
// SIGHUP).
func (s *Server) SetLabels(labels []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.labels = append([]string(nil), labels...)
}

// daemonLabels returns a copy of the daemon's labels, never nil.
func (s *Server) daemonLabels() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append([]string{}, s.labels...)
}

func (s *Server) snapshot() (Runtimes, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.runtimes, s.debug
}

// connKey is the context key of a request's connection (ConnContext).
type connKey struct{}

// Serve accepts connections on l until Shutdown; it returns nil after a
// Shutdown, the listener's error otherwise.
func (s *Server) Serve(l net.Listener) error {
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute, // idle keep-alive connections
		ErrorLog:          slog.NewLogLogger(slog.Default().Handler(), slog.LevelDebug),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, connKey{}, c)
		},
	}
	s.srvMu.Lock()
	s.servers = append(s.servers, hs)
	s.srvMu.Unlock()
	err := hs.Serve(l)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops every listener, ends /events streams, then waits for
// requests in flight until ctx ends. Hijacked connections (attach, exec)
// are not tracked by the HTTP server: their owners must close them.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() { close(s.stopping) })
	s.srvMu.Lock()
	servers := s.servers
	s.srvMu.Unlock()
	var errs []error
	for _, hs := range servers {
		if err := hs.Shutdown(ctx); err != nil {
			errs = append(errs, err)
			_ = hs.Close()
		}
	}
	return errors.Join(errs...)
}

// collapseSlashes replaces each run of slashes in p by one.
func collapseSlashes(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] == '/' && i > 0 && p[i-1] == '/' {
			continue
		}
		b.WriteByte(p[i])
	}
	return b.String()
}
