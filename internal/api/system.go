package api

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	goruntime "runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/api/types/volume"
)

func (s *Server) routeSystem(mux *http.ServeMux) {
	mux.HandleFunc("GET /_ping", s.ping) // GET patterns also match HEAD
	mux.HandleFunc("GET /version", s.version)
	mux.HandleFunc("GET /info", s.info)
	mux.HandleFunc("GET /system/df", s.diskUsage)
	// Managed plugins: berth has none (its volume, network and log
	// drivers are built in); the list is empty, as a dockerd's without
	// plugins, so `docker plugin ls` works.
	mux.HandleFunc("GET /plugins", func(w http.ResponseWriter, r *http.Request) {
		if _, err := parseListFilters(r.URL.Query().Get("filters")); err != nil {
			writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, []struct{}{})
	})
	mux.HandleFunc("GET /plugins/{rest...}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("rest") == "privileges" { // the first step of `docker plugin install`
			writeError(w, r, errPluginsNotBuilt)
			return
		}
		name, ok := strings.CutSuffix(r.PathValue("rest"), "/json") // names have slashes: vieux/sshfs
		if !ok || name == "" {
			writeError(w, r, errdefs.ErrNotFound.WithMessage("page not found"))
			return
		}
		writeError(w, r, errdefs.ErrNotFound.WithMessage(fmt.Sprintf("plugin %q not found", name)))
	})
	// Installing or building one is not offered; acting on one by name
	// finds none.
	for _, p := range []string{"POST /plugins/pull", "POST /plugins/create"} {
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) { writeError(w, r, errPluginsNotBuilt) })
	}
	mux.HandleFunc("POST /plugins/{rest...}", s.pluginByName)
	mux.HandleFunc("DELETE /plugins/{rest...}", s.pluginByName)
}

// errPluginsNotBuilt answers the requests that would install or build a
// managed plugin.
var errPluginsNotBuilt = errdefs.ErrNotImplemented.WithMessage("managed plugins are not supported by berth: its volume, network and log drivers are built in")

// pluginByName answers POST /plugins/{name}/{enable,disable,push,set,
// upgrade} and DELETE /plugins/{name} as a dockerd without plugins: the
// plugin is not found.
func (s *Server) pluginByName(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("rest")
	if r.Method == http.MethodPost {
		i := strings.LastIndex(name, "/")
		if i <= 0 {
			writeError(w, r, errNotFound)
			return
		}
		switch name[i+1:] {
		case "enable", "disable", "push", "set", "upgrade":
			name = name[:i]
		default:
			writeError(w, r, errNotFound)
			return
		}
	}
	writeError(w, r, errdefs.ErrNotFound.WithMessage(fmt.Sprintf("plugin %q not found", name)))
}

// ping answers HEAD and GET /_ping as dockerd: 200, no caching, body "OK"
// for GET. Builder-Version 1 says only the classic builder (POST /build)
// is offered.
func (s *Server) ping(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-cache, no-store, must-revalidate")
	h.Set("Pragma", "no-cache")
	h.Set("Builder-Version", "1")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	if r.Method == http.MethodHead {
		h.Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return
	}
	h.Set("Content-Length", "2")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("OK"))
}

func (s *Server) version(w http.ResponseWriter, r *http.Request) {
	rts, _ := s.snapshot()
	kernel := kernelVersion()
	details := map[string]string{
		"ApiVersion":    APIVersion,
		"Arch":          goruntime.GOARCH,
		"BuildTime":     s.cfg.BuildTime,
		"Experimental":  fmt.Sprint(s.cfg.Experimental),
		"GitCommit":     s.cfg.GitCommit,
		"GoVersion":     goruntime.Version(),
		"KernelVersion": kernel,
		"MinAPIVersion": s.minAPIVersion(),
		"Os":            goruntime.GOOS,
	}
	comps := []system.ComponentVersion{{Name: "Engine", Version: s.cfg.Version, Details: details}}
	if rts.Default != "" {
		rtCommit := ""
		if rts.Default == "berth" { // the built-in runtime is this binary
			rtCommit = s.cfg.GitCommit
		}
		comps = append(comps, system.ComponentVersion{
			Name:    rts.Default,
			Version: rts.Versions[rts.Default],
			Details: map[string]string{"GitCommit": rtCommit},
		})
	}
	writeJSON(w, http.StatusOK, system.VersionResponse{
		Platform:      system.PlatformInfo{Name: "Berth Engine"},
		Version:       s.cfg.Version,
		APIVersion:    APIVersion,
		MinAPIVersion: s.minAPIVersion(),
		Os:            goruntime.GOOS,
		Arch:          goruntime.GOARCH,
		Components:    comps,
		GitCommit:     s.cfg.GitCommit,
		GoVersion:     goruntime.Version(),
		KernelVersion: kernel,
		Experimental:  s.cfg.Experimental,
		BuildTime:     s.cfg.BuildTime,
	})
}

// Info gathers what /info reports; the daemon's own `berth info` and the
// tests use it too.
func (s *Server) Info(ctx context.Context) (system.Info, error) {
	rts, debug := s.snapshot()
	var counts Counts
	if s.cfg.Counts != nil {
		var err error
		if counts, err = s.cfg.Counts(ctx); err != nil {
			return system.Info{}, fmt.Errorf("count containers and images: %w", err)
		}
	}
	host := readHost(s.cfg.DataRoot)
	runtimes := map[string]system.RuntimeWithStatus{}
	for name, rt := range rts.All {
		runtimes[name] = rt
	}
	warnings := append([]string(nil), s.cfg.Warnings...)
	warnings = append(warnings, host.warnings...)
	sort.Strings(warnings)
	return system.Info{
		ID:                s.cfg.ID,
		Containers:        counts.Containers,
		ContainersRunning: counts.Running,
		ContainersPaused:  counts.Paused,
		ContainersStopped: counts.Stopped,
		Images:            counts.Images,
		Driver:            "overlay2",
		DriverStatus:      [][2]string{{"Backing Filesystem", host.backingFS}, {"Supports d_type", "true"}},
		Plugins: system.PluginsInfo{
			Volume:  []string{"local"},
			Network: []string{"bridge", "host", "none"},
			Log:     []string{"json-file", "local", "none"},
		},
		MemoryLimit:        host.memoryLimit,
		SwapLimit:          host.swapLimit,
		CPUCfsPeriod:       host.cpuCfs,
		CPUCfsQuota:        host.cpuCfs,
		CPUShares:          host.cpuShares,
		CPUSet:             host.cpuSet,
		PidsLimit:          host.pidsLimit,
		IPv4Forwarding:     host.ipv4Forwarding,
		Debug:              debug,
		NFd:                openFDs(),
		OomKillDisable:     host.oomKillDisable,
		NGoroutines:        goruntime.NumGoroutine(),
		SystemTime:         time.Now().Format(time.RFC3339Nano),
		LoggingDriver:      cmp.Or(s.cfg.LoggingDriver, "json-file"),
		CgroupDriver:       "cgroupfs",
		CgroupVersion:      host.cgroupVersion,
		NEventsListener:    s.cfg.Events.Listeners(),
		KernelVersion:      host.kernel,
		OperatingSystem:    host.osName,
		OSVersion:          host.osVersion,
		OSType:             goruntime.GOOS,
		Architecture:       host.arch,
		IndexServerAddress: "https://index.docker.io/v1/",
		RegistryConfig:     s.registryConfig(),
		NCPU:               goruntime.NumCPU(),
		MemTotal:           host.memTotal,
		DockerRootDir:      s.cfg.DataRoot,
		Name:               host.hostname,
		Labels:             s.daemonLabels(),
		ExperimentalBuild:  s.cfg.Experimental,
		ServerVersion:      s.cfg.Version,
		Runtimes:           runtimes,
		DefaultRuntime:     rts.Default,
		Swarm:              swarm.Info{LocalNodeState: swarm.LocalNodeStateInactive},
		// Always: a container's parent is its shim, not the daemon, and
		// the daemon stops none at shutdown; a new daemon reconnects to
		// the shims (docker's --live-restore, which berth cannot turn off).
		LiveRestoreEnabled:  true,
		Isolation:           container.IsolationDefault,
		InitBinary:          "docker-init", // dockerd's name; tini-static where docker-init is missing
		DefaultAddressPools: slices.Clone(s.cfg.DefaultAddressPools),
		SecurityOptions:     append([]string(nil), s.cfg.SecurityOptions...),
		CDISpecDirs:         []string{},
		// The bridge networks' rules are iptables' (and ip6tables'),
		// without firewalld.
		FirewallBackend: &system.FirewallInfo{Driver: "iptables"},
		Warnings:        warnings,
	}, nil
}

func (s *Server) info(w http.ResponseWriter, r *http.Request) {
	info, err := s.Info(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	if CompareVersions(VersionFrom(r.Context()), "1.49") < 0 {
		info.FirewallBackend = nil // as dockerd: new in 1.49
	}
	if CompareVersions(VersionFrom(r.Context()), "1.50") < 0 {
		// Before API 1.50 the answer has the bridge-nf fields, always
		// false, as dockerd 28 sends them.
		b, err := marshalJSON(info)
		var m map[string]json.RawMessage
		if err == nil && json.Unmarshal(b, &m) == nil {
			m["BridgeNfIptables"], m["BridgeNfIp6tables"] = json.RawMessage("false"), json.RawMessage("false")
			writeJSON(w, http.StatusOK, m)
			return
		}
	}
	writeJSON(w, http.StatusOK, info)
}

// legacyDiskUsage is the /system/df body before API 1.52 (and, with the
// new fields added, at 1.52): lists per object kind plus LayersSize. A
// kind the type query left out is left out (nil).
type legacyDiskUsage struct {
	LayersSize int64
	Images     []image.Summary     `json:",omitzero"`
	Containers []container.Summary `json:",omitzero"`
	Volumes    []volume.Volume     `json:",omitzero"`
	BuildCache []build.CacheRecord `json:",omitzero"`
	system.DiskUsage
}

// diskUsage answers /system/df: images (ImageUsage), containers
// (ContainerUsage), volumes (VolumeUsage) and the build cache, or the
// kinds the type query names. The shape follows the request's API
// version as dockerd's: the legacy lists before 1.52; at 1.52 those and
// the totals, or only the totals once verbose is given; from 1.53 the
// totals. The totals carry their Items unless verbose is false (or the
// lists carry them).
func (s *Server) diskUsage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	want, err := diskUsageKinds(q["type"])
	if err != nil {
		writeError(w, r, err)
		return
	}
	v := VersionFrom(ctx)
	legacyFields, verbose := CompareVersions(v, "1.53") < 0, true
	if p := q.Get("verbose"); p != "" && CompareVersions(v, "1.52") >= 0 {
		if verbose, err = strconv.ParseBool(p); err != nil {
			writeError(w, r, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid value for verbose: %s", p)))
			return
		}
		legacyFields = false
	}
	keepItems := verbose && !legacyFields
	var current system.DiskUsage
	var legacy legacyDiskUsage
	if want["image"] {
		iu, err := s.ImageUsage(ctx)
		if err != nil {
			writeError(w, r, err)
			return
		}
		legacy.LayersSize, legacy.Images = iu.TotalSize, iu.Items
		totals := *iu
		if !keepItems {
			totals.Items = nil
		}
		current.ImageUsage = &totals
	}
	if want["container"] {
		cu, err := s.ContainerUsage(ctx)
		if err != nil {
			writeError(w, r, err)
			return
		}
		legacy.Containers = cu.Items
		totals := *cu
		if !keepItems {
			totals.Items = nil
		}
		current.ContainerUsage = &totals
	}
	if want["volume"] {
		vu, err := s.VolumeUsage(ctx)
		if err != nil {
			writeError(w, r, err)
			return
		}
		legacy.Volumes = vu.Items
		totals := *vu
		if !keepItems {
			totals.Items = nil
		}
		current.VolumeUsage = &totals
	}
	if want["build-cache"] {
		bu, err := s.BuildCacheUsage(ctx)
		if err != nil {
			writeError(w, r, err)
			return
		}
		legacy.BuildCache = bu.Items
		totals := *bu
		if !keepItems {
			totals.Items = nil
		}
		current.BuildCacheUsage = &totals
	}
	switch {
	case CompareVersions(v, "1.52") < 0:
		writeJSON(w, http.StatusOK, legacy)
	case legacyFields:
		legacy.DiskUsage = current
		writeJSON(w, http.StatusOK, legacy)
	default:
		writeJSON(w, http.StatusOK, current)
	}
}

// BuildCacheUsage is system df's build cache part: the builder's step
// entries and RUN cache mounts (none without a builder). Entries held by
// a tagged image are Shared and not Reclaimable, as builder prune would
// not free their bytes.
func (s *Server) BuildCacheUsage(ctx context.Context) (*build.DiskUsage, error) {
	du := &build.DiskUsage{Items: []build.CacheRecord{}}
	if s.cfg.Builder == nil {
		return du, nil
	}
	recs, err := s.cfg.Builder.CacheRecords(ctx)
	if err != nil {
		return nil, err
	}
	for _, rec := range recs {
		last := rec.LastUsedAt
		du.Items = append(du.Items, build.CacheRecord{
			ID: rec.ID, Type: rec.Type, Description: rec.Description, Shared: rec.Shared, Size: rec.Size,
			CreatedAt: rec.CreatedAt, LastUsedAt: &last, UsageCount: rec.UsageCount,
		})
		du.TotalCount++
		du.TotalSize += rec.Size
		if !rec.Shared {
			du.Reclaimable += rec.Size
		}
	}
	return du, nil
}

// registryConfig is info's RegistryConfig, as dockerd's: the insecure
// registries (loopback always; CIDRs and names from daemon.json), docker.io
// with the mirrors.
func (s *Server) registryConfig() *registry.ServiceConfig {
	mirrors := append([]string{}, s.cfg.RegistryMirrors...)
	rc := &registry.ServiceConfig{
		InsecureRegistryCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")},
		IndexConfigs: map[string]*registry.IndexInfo{
			"docker.io": {Name: "docker.io", Mirrors: mirrors, Secure: true, Official: true},
		},
		Mirrors: mirrors,
	}
	for _, r := range s.cfg.InsecureRegistries {
		if p, err := netip.ParsePrefix(r); err == nil {
			rc.InsecureRegistryCIDRs = append(rc.InsecureRegistryCIDRs, p.Masked())
			continue
		}
		rc.IndexConfigs[r] = &registry.IndexInfo{Name: r, Mirrors: []string{}, Secure: false}
	}
	return rc
}
