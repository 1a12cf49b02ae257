package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	mevents "github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/mount"
	"github.com/opencontainers/go-digest"

	"github.com/berth/berth/internal/image"
	"github.com/berth/berth/internal/network"
	"github.com/berth/berth/internal/shim"
	"github.com/berth/berth/internal/volume"
)

// Config is what New needs.
type Config struct {
	// DataRoot is the daemon's --data-root; containers live in
	// DataRoot/containers.
	DataRoot string
	// ExecRoot is the daemon's --exec-root (shim state, runtime state).
	ExecRoot string
	// Images resolves images and prepares container snapshots.
	Images *image.Service
	// Publish sends an event to the daemon's bus (nil: events dropped).
	Publish func(mevents.Message)
	// DefaultRuntime is used when a container names none ("berth" when
	// empty). RuntimePath maps runtime names to binaries (runc, crun and
	// daemon.json's runtimes); berth is built in.
	DefaultRuntime string
	RuntimePath    func(name string) (path string, ok bool)
	// ShimBinary is the berth binary shims run as (/proc/self/exe when
	// empty).
	ShimBinary string
	// Networks attaches containers to networks and publishes their ports
	// (nil: containers get a loopback-only namespace, --bridge none).
	Networks *network.Manager
	// Volumes holds named and anonymous volumes (nil: -v NAME:/path and
	// anonymous volumes are refused).
	Volumes *volume.Store
	// Defaults are what daemon.json gives containers that set none.
	Defaults Defaults
}

// Defaults are the daemon's container defaults (daemon.json's log-driver,
// log-opts, default-shm-size and default-ulimits), applied at create as
// dockerd applies them.
type Defaults struct {
	LogConfig container.LogConfig
	ShmSize   int64
	Ulimits   []*container.Ulimit
	// DNS, DNSSearch and DNSOptions are the resolv.conf entries of a
	// container that sets none of its own (daemon.json's dns, dns-search,
	// dns-opts); they are not written into its HostConfig.
	DNS, DNSSearch, DNSOptions []string
}

// apply fills hc's unset fields from d: the log driver (and its options
// when hc names the same driver without options), the /dev/shm size, and
// each default ulimit hc does not set itself.
func (d Defaults) apply(hc *container.HostConfig) {
	if hc.LogConfig.Type == "" && d.LogConfig.Type != "" {
		hc.LogConfig.Type = d.LogConfig.Type
	}
	if len(hc.LogConfig.Config) == 0 && hc.LogConfig.Type == d.LogConfig.Type && len(d.LogConfig.Config) > 0 {
		hc.LogConfig.Config = maps.Clone(d.LogConfig.Config)
	}
	if hc.ShmSize == 0 && d.ShmSize > 0 {
		hc.ShmSize = d.ShmSize
	}
	for _, u := range d.Ulimits {
		set := false
		for _, h := range hc.Ulimits {
			set = set || h != nil && h.Name == u.Name
		}
		if !set {
			cp := *u
			hc.Ulimits = append(hc.Ulimits, &cp)
		}
	}
}

// Engine manages the containers of one data root. It is safe for
// concurrent use.
type Engine struct {
	cfg  Config
	root string // DataRoot/containers

	mu         sync.Mutex
	containers map[string]*Container // by ID
	names      map[string]string     // name without "/" -> ID
	execs      map[string]*Exec      // by exec ID

	// shims starts the containers' shims, with a spare ready while
	// containers are being started (shim.Pool).
	shims *shim.Pool

	ctx    context.Context // lives as long as the engine
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// dockerenv is the empty file bound at every container's /.dockerenv,
// the file by which programs tell they run in a container (dockerd's
// init layer has it).
func (e *Engine) dockerenv() string { return filepath.Join(e.cfg.ExecRoot, "dockerenv") }

// spareIdle is how long the shim pool keeps a spare shim nobody used.
const spareIdle = time.Minute

// New opens the containers of cfg.DataRoot, reconnects to the shims of
// running containers and collects the exits that happened while no engine
// was watching (see Restore).
func New(ctx context.Context, cfg Config) (*Engine, error) {
	if cfg.Images == nil {
		return nil, fmt.Errorf("engine: image service is required")
	}
	if cfg.DataRoot == "" || cfg.ExecRoot == "" {
		return nil, fmt.Errorf("engine: data root and exec root are required")
	}
	if cfg.DefaultRuntime == "" {
		cfg.DefaultRuntime = shim.RuntimeBerth
	}
	e := &Engine{
		cfg:        cfg,
		root:       filepath.Join(cfg.DataRoot, "containers"),
		containers: map[string]*Container{},
		shims:      shim.NewPool(spareIdle),
		names:      map[string]string{},
		execs:      map[string]*Exec{},
	}
	e.ctx, e.cancel = context.WithCancel(context.WithoutCancel(ctx))
	for _, d := range []string{e.root, filepath.Join(cfg.ExecRoot, "shims"), filepath.Join(cfg.ExecRoot, "netns")} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			return nil, fmt.Errorf("engine: %w", err)
		}
	}
	// One empty /.dockerenv for every container (a read-only bind), 0755
	// as dockerd's.
	if err := os.WriteFile(e.dockerenv(), nil, 0o755); err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	if err := os.Chmod(e.dockerenv(), 0o755); err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	if err := e.restore(ctx); err != nil {
		return nil, err
	}
	return e, nil
}

// Close stops watching containers; they keep running under their shims.
func (e *Engine) Close() error {
	e.cancel()
	e.wg.Wait()
	e.shims.Close()
	return nil
}

// SetDefaultRuntime changes the runtime of containers that name none (on
// SIGHUP).
func (e *Engine) SetDefaultRuntime(name string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if name != "" {
		e.cfg.DefaultRuntime = name
	}
}

func (e *Engine) publish(c *Container, action mevents.Action, extra map[string]string) {
	if e.cfg.Publish == nil {
		return
	}
	attrs := map[string]string{"name": strings.TrimPrefix(c.Name, "/"), "image": c.Config.Image}
	for k, v := range c.Config.Labels {
		attrs[k] = v
	}
	for k, v := range extra {
		attrs[k] = v
	}
	now := time.Now()
	e.cfg.Publish(mevents.Message{
		Type:     mevents.ContainerEventType,
		Action:   action,
		Actor:    mevents.Actor{ID: c.ID, Attributes: attrs},
		Scope:    "local",
		Time:     now.Unix(),
		TimeNano: now.UnixNano(),
	})
}

// Get finds a container by full ID, name (with or without "/") or unique
// ID prefix, as dockerd does.
func (e *Engine) Get(ref string) (*Container, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.lookup(ref)
}

func (e *Engine) lookup(ref string) (*Container, error) {
	if ref == "" {
		return nil, errdefs.ErrInvalidArgument.WithMessage("no container name or ID given")
	}
	if c, ok := e.containers[ref]; ok {
		return c, nil
	}
	if id, ok := e.names[strings.TrimPrefix(ref, "/")]; ok {
		return e.containers[id], nil
	}
	// /<container>/<alias>: the container a legacy link of that one names.
	if linker, alias, ok := strings.Cut(strings.TrimPrefix(ref, "/"), "/"); ok && alias != "" {
		if id, ok := e.names[linker]; ok {
			// LinkIDs changes only under e.mu too (RemoveLink), which
			// is held here: no c.mu (taken under e.mu it would invert
			// the order others take them in).
			if l := e.containers[id]; l != nil {
				if c, ok := e.containers[l.LinkIDs[alias]]; ok {
					return c, nil
				}
			}
		}
	}
	var found *Container
	for id, c := range e.containers {
		if strings.HasPrefix(id, ref) {
			if found != nil {
				return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("multiple IDs found with provided prefix: %s", ref))
			}
			found = c
		}
	}
	if found == nil {
		return nil, errdefs.ErrNotFound.WithMessage("No such container: " + ref)
	}
	return found, nil
}

// List returns every container, newest first.
func (e *Engine) List() []*Container {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]*Container, 0, len(e.containers))
	for _, c := range e.containers {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out
}

// Counts returns the number of containers by state.
func (e *Engine) Counts() (total, running, paused, stopped int) {
	for _, c := range e.List() {
		c.mu.Lock()
		switch {
		case c.State.Paused:
			paused++
		case c.State.Running:
			running++
		default:
			stopped++
		}
		c.mu.Unlock()
		total++
	}
	return
}

func (e *Engine) dir(id string) string { return filepath.Join(e.root, id) }

func (e *Engine) shimDir(id string) string { return filepath.Join(e.cfg.ExecRoot, "shims", id) }

// save writes c's record atomically; c.mu must be held.
func (e *Engine) save(c *Container) error {
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("save container %s: %w", c.ID, err)
	}
	p := filepath.Join(e.dir(c.ID), "config.v2.json")
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("save container %s: %w", c.ID, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return fmt.Errorf("save container %s: %w", c.ID, err)
	}
	return nil
}

func (e *Engine) saveLogged(c *Container) {
	if err := e.save(c); err != nil {
		slog.Error("persist container state", "id", c.ID, "err", err)
	}
}

// ImageInUse tells whether a container uses image id (rmi's conflict,
// image prune).
func (e *Engine) ImageInUse(_ context.Context, id digest.Digest) (string, bool) {
	user := ""
	for _, c := range e.List() {
		c.mu.Lock()
		used, running := c.ImageID == id.String(), c.State.Running
		for _, r := range c.MountPoints {
			used = used || r.Type == mount.TypeImage && r.ImageID == id.String() // an image mount's
		}
		c.mu.Unlock()
		if used && running {
			return c.ID, true // a running one first: it decides what -f can do
		}
		if used && user == "" {
			user = c.ID
		}
	}
	return user, false
}

// dns returns the DNS servers, search domains and options c's resolv.conf
// gets: its own, or the daemon's where it sets none.
func (e *Engine) dns(c *Container) (servers, search, options []string) {
	servers, search, options = dnsStrings(c.HostConfig.DNS), c.HostConfig.DNSSearch, c.HostConfig.DNSOptions
	d := e.cfg.Defaults
	if len(servers) == 0 {
		servers = d.DNS
	}
	if len(search) == 0 {
		search = d.DNSSearch
	}
	if len(options) == 0 {
		options = d.DNSOptions
	}
	return servers, search, options
}
