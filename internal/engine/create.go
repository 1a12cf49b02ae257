package engine

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"path"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	mevents "github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/network"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth/berth/internal/content"
	"github.com/berth/berth/internal/image"
	"github.com/berth/berth/internal/metadata"
	bnetwork "github.com/berth/berth/internal/network"
	"github.com/berth/berth/internal/shim"
)

// CreateRequest is what POST /containers/create carries.
type CreateRequest struct {
	Name       string
	Config     *container.Config
	HostConfig *container.HostConfig
	// NetworkingConfig carries --ip, --network-alias and --mac-address
	// per network (nil: none).
	NetworkingConfig *network.NetworkingConfig
	// Platform is --platform ("os/arch[/variant]", "" for any): the
	// image must be of it.
	Platform string
	// NonRecursiveReadOnly makes read-only binds and volumes read-only at
	// their top only, as dockerd does for clients of API < 1.44.
	NonRecursiveReadOnly bool
	// MacAddress is a container-wide MAC address (clients before API
	// 1.52): it goes to the endpoint of NetworkMode's network, which must
	// not have another one.
	MacAddress string
}

// Create makes a container from req: the image's config merged with the
// request's, a name (generated when empty), a record on disk and the
// writable snapshot. It returns the new ID and warnings.
func (e *Engine) Create(ctx context.Context, req CreateRequest) (string, []string, error) {
	if req.Config == nil {
		return "", nil, errdefs.ErrInvalidArgument.WithMessage("config cannot be empty in order to create a container")
	}
	if req.Config.Image == "" {
		if len(req.Config.Cmd) == 0 && len(req.Config.Entrypoint) == 0 {
			// dockerd checks the command first: an empty config is this.
			return "", nil, errdefs.ErrInvalidArgument.WithMessage("no command specified")
		}
		return "", nil, errdefs.ErrInvalidArgument.WithMessage("no image specified")
	}
	hc := req.HostConfig
	if hc == nil {
		hc = &container.HostConfig{}
	}
	if req.Name != "" && !validName(req.Name) {
		return "", nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", req.Name))
	}
	if err := validateHostConfig(hc); err != nil {
		return "", nil, err
	}
	// dockerd's: a hostname of its own is no use with the host's UTS
	// namespace.
	if hc.UTSMode.IsHost() && req.Config.Hostname != "" {
		return "", nil, errdefs.ErrInvalidArgument.WithMessage("conflicting options: hostname and the UTS mode")
	}
	if s := req.Config.StopSignal; s != "" {
		if _, err := ParseSignal(s, syscall.SIGTERM); err != nil {
			return "", nil, errdefs.ErrInvalidArgument.WithMessage("Invalid signal: " + s)
		}
	}
	if wd := req.Config.WorkingDir; wd != "" && !filepath.IsAbs(wd) {
		return "", nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("the working directory '%s' is invalid, it needs to be an absolute path", wd))
	}
	if err := validateContainerConfig(req.Config); err != nil {
		return "", nil, err
	}
	if wd := req.Config.WorkingDir; wd != "" {
		c := *req.Config
		c.WorkingDir = filepath.Clean(wd) // as dockerd stores it: "/tmp/" is /tmp
		req.Config = &c
	}
	if err := netModeConflicts(req.Config, hc, req.NetworkingConfig); err != nil {
		return "", nil, err
	}
	if err := checkHostPorts(hc); err != nil {
		return "", nil, err
	}
	if err := checkUserIDs(req.Config.User); err != nil {
		return "", nil, err
	}
	warnings, err := e.validateNetwork(ctx, hc)
	if err != nil {
		return "", nil, err
	}
	// dockerd's words where the host has no block I/O weight.
	if !blkioWeightSupported() {
		if hc.BlkioWeight > 0 {
			warnings = append(warnings, "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.")
		}
		if len(hc.BlkioWeightDevice) > 0 {
			warnings = append(warnings, "Your kernel does not support Block I/O weight_device or the cgroup is not mounted. Weight-device discarded.")
		}
	}
	if req.NetworkingConfig != nil {
		for name, es := range req.NetworkingConfig.EndpointsConfig {
			if err := e.validateEndpoint(ctx, name, es); err != nil {
				return "", nil, err
			}
		}
	}
	// A legacy link on the default bridge must name a container; on a user
	// network it is a DNS alias, resolved when asked, and may name one
	// that comes later, as with dockerd.
	onUserNet := isUserNetwork(e.netName(ctx, primaryNetwork(hc)))
	for _, l := range hc.Links {
		if onUserNet {
			if name, _ := splitLink(l); name == "" {
				return "", nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid link %q", l))
			}
			continue
		}
		other, _, err := e.linked(l)
		if err != nil {
			return "", nil, err
		}
		if other.Snapshot().HostConfig.NetworkMode.IsHost() {
			// dockerd's: a container on the host's network is no link target.
			return "", nil, errdefs.ErrInvalidArgument.WithMessage("conflicting options: host type networking can't be used with links. This would result in undefined behavior")
		}
	}
	// --pid container:NAME and --ipc container:NAME name a container that
	// exists (400 otherwise, as dockerd: a 404 makes the CLI pull).
	for _, ref := range []string{hc.PidMode.Container(), hc.IpcMode.Container()} {
		if ref != "" {
			if _, err := e.Get(ref); err != nil {
				return "", nil, createRefError(err)
			}
		}
	}
	e.sharedNamespaceIDs(hc)
	// A reference that is neither a name nor an image ID is a bad request
	// (the docker CLI pulls on a 404), as dockerd answers it.
	if ref := req.Config.Image; !image.IsIDRef(ref) {
		if _, err := metadata.ParseReference(ref); err != nil {
			return "", nil, errdefs.ErrInvalidArgument.WithMessage("invalid reference format")
		}
	}
	img, err := e.cfg.Images.Get(ctx, req.Config.Image)
	if err != nil {
		if errdefs.IsNotFound(err) {
			return "", nil, errdefs.ErrNotFound.WithMessage("No such image: " + req.Config.Image)
		}
		return "", nil, fmt.Errorf("create: image %s: %w", req.Config.Image, err)
	}
	if req.Platform != "" {
		want, err := content.ParsePlatform(req.Platform)
		if err != nil {
			return "", nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid platform %q: %v", req.Platform, err))
		}
		have := ocispec.Platform{OS: img.Config.OS, Architecture: img.Config.Architecture, Variant: img.Config.Variant}
		if !content.MatchPlatform(want, have) {
			// dockerd's words; the docker CLI then tries a pull.
			return "", nil, errdefs.ErrNotFound.WithMessage(fmt.Sprintf("image with reference %s was found but does not match the specified platform: wanted %s, actual: %s",
				req.Config.Image, content.FormatPlatform(want), content.FormatPlatform(have)))
		}
	}
	cfg := *req.Config
	mergeImageConfig(&cfg, img)
	// --entrypoint "" sends [""]: the image's entrypoint and command are
	// not taken (mergeImageConfig saw an entrypoint), and none is left.
	if len(cfg.Entrypoint) == 1 && cfg.Entrypoint[0] == "" {
		cfg.Entrypoint = nil
	}
	if len(cfg.Cmd) == 0 && len(cfg.Entrypoint) == 0 {
		return "", nil, errdefs.ErrInvalidArgument.WithMessage("no command specified")
	}
	e.cfg.Defaults.apply(hc)
	applyHostDefaults(hc)
	rt := hc.Runtime
	if rt == "" {
		e.mu.Lock()
		rt = e.cfg.DefaultRuntime
		e.mu.Unlock()
	}
	if err := e.checkRuntime(rt); err != nil {
		return "", nil, err
	}

	id := newID()
	c := &Container{
		ID:         id,
		Created:    time.Now().UTC(),
		Config:     &cfg,
		HostConfig: hc,
		ImageID:    img.ID.String(),
		Runtime:    rt,
		State:      State{Status: container.StateCreated},
		LogPath:    filepath.Join(e.dir(id), id+"-json.log"),
		execs:      map[string]bool{},
	}
	if req.NetworkingConfig != nil && len(req.NetworkingConfig.EndpointsConfig) > 0 {
		c.Networks = map[string]*network.EndpointSettings{}
		for name, es := range req.NetworkingConfig.EndpointsConfig {
			if es == nil {
				es = &network.EndpointSettings{}
			}
			c.Networks[name] = es.Copy()
		}
		// As dockerd: endpoint settings for some networks with the default
		// network mode join those networks only (the SDKs' way of putting
		// a container on a user network), not the default bridge too.
		if m := hc.NetworkMode; m == "" || m == "default" {
			_, b := c.Networks["bridge"]
			_, d := c.Networks["default"]
			c.PrimaryDisconnected = !b && !d
		}
	}
	e.networksByName(ctx, c)
	if err := containerWideMAC(c, req.MacAddress); err != nil {
		return "", nil, err
	}
	argv := append(append([]string{}, cfg.Entrypoint...), cfg.Cmd...)
	c.Path, c.Args = argv[0], argv[1:]

	e.mu.Lock()
	name := strings.TrimPrefix(req.Name, "/")
	if name == "" {
		name = generateName(func(n string) bool { _, ok := e.names[n]; return ok })
	} else if other, ok := e.names[name]; ok {
		e.mu.Unlock()
		return "", nil, errdefs.ErrConflict.WithMessage(fmt.Sprintf("Conflict. The container name \"/%s\" is already in use by container \"%s\". You have to remove (or rename) that container to be able to reuse that name.", name, other))
	}
	c.Name = "/" + name
	e.names[name] = id // reserved while the snapshot is prepared
	e.mu.Unlock()
	e.registerLegacyLinks(ctx, c)

	fail := func(err error) (string, []string, error) {
		e.releaseMounts(context.WithoutCancel(ctx), id, c.MountPoints, true)
		e.mu.Lock()
		delete(e.names, name)
		e.mu.Unlock()
		_ = e.cfg.Images.RemoveRootfs(context.WithoutCancel(ctx), id)
		e.removeImageViews(context.WithoutCancel(ctx), id, c.MountPoints)
		_ = os.RemoveAll(e.dir(id))
		return "", nil, err
	}
	if err := os.MkdirAll(filepath.Join(e.dir(id), "rootfs"), 0o711); err != nil {
		return fail(fmt.Errorf("create %s: %w", id, err))
	}
	t0 := time.Now()
	defer func() { slog.DebugContext(ctx, "container created", "id", id, "took", time.Since(t0)) }()
	if _, err := e.cfg.Images.Prepare(ctx, id, img); err != nil {
		return fail(fmt.Errorf("create %s: %w", id, err))
	}
	if err := e.prepareMounts(ctx, c, req.NonRecursiveReadOnly); err != nil {
		return fail(err)
	}
	if err := e.populateVolumes(ctx, c, filepath.Join(e.dir(id), "rootfs")); err != nil {
		return fail(err)
	}
	c.mu.Lock()
	err = e.save(c)
	c.mu.Unlock()
	if err != nil {
		return fail(err)
	}
	e.mu.Lock()
	e.containers[id] = c
	e.mu.Unlock()
	e.publish(c, mevents.ActionCreate, nil)
	return id, warnings, nil
}

func (e *Engine) checkRuntime(name string) error {
	switch name {
	case "berth", "runc", "crun":
		return nil
	}
	if e.cfg.RuntimePath != nil {
		if _, ok := e.cfg.RuntimePath(name); ok {
			return nil
		}
	}
	return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("unknown or invalid runtime name: %s", name))
}

// mergeImageConfig fills what the request left empty from the image's
// config, as dockerd's merge does: Env by key (the request wins),
// Entrypoint and Cmd (an Entrypoint in the request drops the image's Cmd),
// WorkingDir, User, ExposedPorts, Volumes, StopSignal, Healthcheck, Labels.
func mergeImageConfig(cfg *container.Config, img image.Image) {
	ic := img.Config.Config
	if cfg.User == "" {
		cfg.User = ic.User
	}
	if len(cfg.Env) == 0 {
		cfg.Env = append([]string{}, ic.Env...)
	} else {
		have := map[string]bool{}
		for _, kv := range cfg.Env {
			k, _, _ := strings.Cut(kv, "=")
			have[k] = true
		}
		var env []string
		for _, kv := range ic.Env {
			k, _, _ := strings.Cut(kv, "=")
			if !have[k] {
				env = append(env, kv)
			}
		}
		// The given variables first, then the image's they leave, as
		// dockerd merges them.
		cfg.Env = append(append([]string{}, cfg.Env...), env...)
	}
	if len(cfg.Entrypoint) == 0 {
		cfg.Entrypoint = ic.Entrypoint
		if len(cfg.Cmd) == 0 {
			cfg.Cmd = ic.Cmd
		}
	}
	if cfg.WorkingDir == "" {
		cfg.WorkingDir = ic.WorkingDir
	}
	for p := range ic.ExposedPorts {
		port, err := network.ParsePort(p)
		if err != nil {
			continue
		}
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = network.PortSet{}
		}
		cfg.ExposedPorts[port] = struct{}{}
	}
	for v := range ic.Volumes {
		if cfg.Volumes == nil {
			cfg.Volumes = map[string]struct{}{}
		}
		cfg.Volumes[v] = struct{}{}
	}
	if cfg.StopSignal == "" {
		cfg.StopSignal = ic.StopSignal
	}
	if len(ic.Labels) > 0 {
		labels := map[string]string{}
		for k, v := range ic.Labels {
			labels[k] = v
		}
		for k, v := range cfg.Labels {
			labels[k] = v
		}
		cfg.Labels = labels
	}
	cfg.Healthcheck = mergeHealthcheck(cfg.Healthcheck, imageHealthcheck(img))
}

// registerLegacyLinks records the --link's of a container on the default
// bridge as dockerd does: HostConfig.Links in its stored form
// "/TARGET:/NAME/ALIAS", and the targets by alias (LinkIDs). On a user
// network a link is a DNS alias only and stays as given.
func (e *Engine) registerLegacyLinks(ctx context.Context, c *Container) {
	if len(c.HostConfig.Links) == 0 || isUserNetwork(e.netName(ctx, primaryNetwork(c.HostConfig))) {
		return
	}
	links := make([]string, 0, len(c.HostConfig.Links))
	for _, l := range c.HostConfig.Links {
		other, alias, err := e.linked(l)
		if err != nil { // checked before: gone meanwhile
			links = append(links, l)
			continue
		}
		if c.LinkIDs == nil {
			c.LinkIDs = map[string]string{}
		}
		c.LinkIDs[alias] = other.ID
		links = append(links, other.Name+":"+c.Name+"/"+alias)
	}
	hc := *c.HostConfig
	hc.Links = links
	c.HostConfig = &hc
}

// LinkNames returns the names legacy links give containers, by container
// ID: /<linking container>/<alias>, as dockerd lists them.
func (e *Engine) LinkNames() map[string][]string {
	out := map[string][]string{}
	for _, c := range e.List() {
		c.mu.Lock()
		for alias, id := range c.LinkIDs { // changed under c.mu and e.mu (RemoveLink)
			out[id] = append(out[id], c.Name+"/"+alias)
		}
		c.mu.Unlock()
	}
	for _, names := range out {
		sort.Strings(names)
	}
	return out
}

// validateContainerConfig refuses what dockerd refuses in a create's
// Config: a variable without a name, health check durations below a
// millisecond (0 is the default) and negative retries.
func validateContainerConfig(cfg *container.Config) error {
	for _, kv := range cfg.Env {
		if k, _, _ := strings.Cut(kv, "="); k == "" {
			return errdefs.ErrInvalidArgument.WithMessage("invalid environment variable: " + kv)
		}
	}
	h := cfg.Healthcheck
	if h == nil {
		return nil
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"Interval", h.Interval}, {"Timeout", h.Timeout}, {"StartPeriod", h.StartPeriod}, {"StartInterval", h.StartInterval}} {
		if d.v != 0 && d.v < time.Millisecond {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("%s in Healthcheck cannot be less than 1ms", d.name))
		}
	}
	if h.Retries < 0 {
		return errdefs.ErrInvalidArgument.WithMessage("Retries in Healthcheck cannot be negative")
	}
	return nil
}

// applyHostDefaults stores what dockerd stores for fields left empty.
func applyHostDefaults(hc *container.HostConfig) {
	if hc.NetworkMode == "" {
		hc.NetworkMode = "default"
	}
	if hc.ShmSize == 0 {
		hc.ShmSize = 64 << 20
	}
	if hc.Memory > 0 && hc.MemorySwap == 0 {
		// dockerd records the swap limit it applies: twice the memory.
		hc.MemorySwap = 2 * hc.Memory
	}
	if hc.IpcMode == "" {
		hc.IpcMode = container.IPCModePrivate
	}
	if hc.CgroupnsMode == "" {
		hc.CgroupnsMode = container.CgroupnsModeHost
	}
	if hc.RestartPolicy.Name == "" {
		hc.RestartPolicy.Name = container.RestartPolicyDisabled
	}
	if hc.LogConfig.Type == "" {
		hc.LogConfig.Type = "json-file"
	}
	// The paths a container's process cannot read or write, recorded as
	// dockerd records them (inspect shows them); none when privileged.
	if !hc.Privileged {
		if hc.MaskedPaths == nil {
			hc.MaskedPaths = slices.Clone(defaultMaskedPaths)
		}
		if hc.ReadonlyPaths == nil {
			hc.ReadonlyPaths = slices.Clone(defaultReadonlyPaths)
		}
	}
}

func validateHostConfig(hc *container.HostConfig) error {
	switch hc.RestartPolicy.Name {
	case "", container.RestartPolicyDisabled, container.RestartPolicyAlways, container.RestartPolicyUnlessStopped:
		if hc.RestartPolicy.MaximumRetryCount != 0 {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid restart policy: maximum retry count can only be used with 'on-failure'"))
		}
	case container.RestartPolicyOnFailure:
		if hc.RestartPolicy.MaximumRetryCount < 0 {
			return errdefs.ErrInvalidArgument.WithMessage("invalid restart policy: maximum retry count cannot be negative")
		}
	default:
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid restart policy: unknown policy '%s'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'", hc.RestartPolicy.Name))
	}
	if hc.AutoRemove && hc.RestartPolicy.Name != "" && hc.RestartPolicy.Name != container.RestartPolicyDisabled {
		return errdefs.ErrInvalidArgument.WithMessage("can't create 'AutoRemove' container with restart policy")
	}
	if hc.Memory != 0 && hc.Memory < 6<<20 {
		return errdefs.ErrInvalidArgument.WithMessage("Minimum memory limit allowed is 6MB")
	}
	if hc.Memory > 0 && hc.MemorySwap > 0 && hc.MemorySwap < hc.Memory {
		return errdefs.ErrInvalidArgument.WithMessage("Minimum memoryswap limit should be larger than memory limit, see usage")
	}
	if hc.MemoryReservation != 0 && hc.MemoryReservation < 6<<20 {
		return errdefs.ErrInvalidArgument.WithMessage("Minimum memory reservation allowed is 6MB")
	}
	if s := hc.MemorySwappiness; s != nil && *s != -1 && (*s < 0 || *s > 100) {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Invalid value: %v, valid memory swappiness range is 0-100", *s))
	}
	if hc.Memory > 0 && hc.MemoryReservation > 0 && hc.Memory < hc.MemoryReservation {
		return errdefs.ErrInvalidArgument.WithMessage("Minimum memory limit can not be less than memory reservation limit, see usage")
	}
	if hc.ShmSize < 0 {
		return errdefs.ErrInvalidArgument.WithMessage("SHM size can not be less than 0")
	}
	if !hc.IpcMode.Valid() {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid IPC mode: %v", hc.IpcMode))
	}
	if !hc.PidMode.Valid() {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid PID mode: %v", hc.PidMode))
	}
	if !hc.UTSMode.Valid() {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid UTS mode: %v", hc.UTSMode))
	}
	if hc.CPUShares < 0 {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid CPU shares (%d): value must be a positive integer", hc.CPUShares))
	}
	if _, ok := hc.Annotations[""]; ok {
		return errdefs.ErrInvalidArgument.WithMessage("invalid Annotations: the empty string is not permitted as an annotation key")
	}
	if hc.OomScoreAdj < -1000 || hc.OomScoreAdj > 1000 {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Invalid value %d, range for oom score adj is [-1000, 1000]", hc.OomScoreAdj))
	}
	if hc.Isolation != "" && hc.Isolation != container.IsolationDefault {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid isolation: %s - on Linux only 'default' is supported", hc.Isolation))
	}
	if hc.BlkioWeight != 0 && (hc.BlkioWeight < 10 || hc.BlkioWeight > 1000) {
		return errdefs.ErrInvalidArgument.WithMessage("Range of blkio weight is from 10 to 1000")
	}
	for _, d := range hc.BlkioWeightDevice {
		if d != nil && (d.Weight < 10 || d.Weight > 1000) {
			return errdefs.ErrInvalidArgument.WithMessage("Range of blkio weight is from 10 to 1000")
		}
	}
	for _, rule := range hc.DeviceCgroupRules {
		if _, err := parseDeviceCgroupRule(rule); err != nil {
			return err
		}
	}
	for _, c := range []struct {
		field string
		caps  []string
	}{{"CapAdd", hc.CapAdd}, {"CapDrop", hc.CapDrop}} {
		for _, name := range c.caps {
			if _, err := normCap(name); err != nil {
				return errdefs.ErrInvalidArgument.WithMessage("invalid " + c.field + ": " + err.Error())
			}
		}
	}
	if _, err := parseSecurityOpts(hc.SecurityOpt); err != nil {
		return err
	}
	// What dockerd refuses at create on a host like this one, with its
	// words, rather than a container that silently lacks it.
	if len(hc.StorageOpt) > 0 {
		return errdefs.ErrInvalidArgument.WithMessage("--storage-opt is supported only for overlay over xfs with 'pquota' mount option")
	}
	if len(hc.DeviceRequests) > 0 {
		dr := hc.DeviceRequests[0]
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("could not select device driver %q with capabilities: %v", dr.Driver, dr.Capabilities))
	}
	if hc.LogConfig.Type != "none" {
		// The options of every driver, as dockerd's ValidateLogOpts.
		mode := hc.LogConfig.Config["mode"]
		if mode != "" && mode != "blocking" && mode != "non-blocking" {
			return errdefs.ErrInvalidArgument.WithMessage("logger: logging mode not supported: " + mode)
		}
		if v, ok := hc.LogConfig.Config["max-buffer-size"]; ok {
			if mode != "non-blocking" {
				return errdefs.ErrInvalidArgument.WithMessage("logger: max-buffer-size option is only supported with 'mode=non-blocking'")
			}
			if _, err := parseSize(v); err != nil {
				return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("error parsing option max-buffer-size: invalid size: '%s'", v))
			}
		}
	}
	if hc.LogConfig.Type == "" || hc.LogConfig.Type == "json-file" {
		for k := range hc.LogConfig.Config {
			switch k {
			case "max-size", "max-file", "compress", "labels", "labels-regex", "env", "env-regex", "tag", "mode", "max-buffer-size":
			default:
				return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("unknown log opt '%s' for json-file log driver", k))
			}
		}
	}
	if err := logOptions(hc.LogConfig, &shim.Config{}); err != nil {
		return err
	}
	return validateCPUs(hc)
}

// validateCPUs refuses, as dockerd does at create, a CPU count or a cpuset
// the host cannot give: the error is known now rather than at start.
func validateCPUs(hc *container.HostConfig) error {
	ncpu := int64(goruntime.NumCPU())
	// dockerd's checks of the CFS settings, with its words.
	switch {
	case hc.NanoCPUs > 0 && hc.CPUPeriod > 0:
		return errdefs.ErrInvalidArgument.WithMessage("Conflicting options: Nano CPUs and CPU Period cannot both be set")
	case hc.NanoCPUs > 0 && hc.CPUQuota > 0:
		return errdefs.ErrInvalidArgument.WithMessage("Conflicting options: Nano CPUs and CPU Quota cannot both be set")
	case hc.CPUPeriod != 0 && (hc.CPUPeriod < 1000 || hc.CPUPeriod > 1000000):
		return errdefs.ErrInvalidArgument.WithMessage("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)")
	case hc.CPUQuota > 0 && hc.CPUQuota < 1000:
		return errdefs.ErrInvalidArgument.WithMessage("CPU cfs quota can not be less than 1ms (i.e. 1000)")
	}
	if hc.NanoCPUs != 0 && (hc.NanoCPUs < 1e7 || hc.NanoCPUs > ncpu*1e9) {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available", ncpu, ncpu))
	}
	for _, c := range []struct {
		req, what, unit, file, fallback string
	}{
		{hc.CpusetCpus, "cpus", "CPUs", "cpus", fmt.Sprintf("0-%d", ncpu-1)},
		{hc.CpusetMems, "mems", "memory nodes", "mems", "0"},
	} {
		if c.req == "" {
			continue
		}
		want, err := parseCPUSet(c.req)
		if err != nil {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Invalid value %s for cpuset %s", c.req, c.what))
		}
		avail := hostCPUSet(c.file, c.fallback)
		have, err := parseCPUSet(avail)
		if err != nil {
			continue // the host's own list is unreadable: leave it to the runtime
		}
		for n := range want {
			if !have[n] {
				return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Requested %s are not available - requested %s, available: %s", c.unit, c.req, avail))
			}
		}
	}
	return nil
}

// hostCPUSet is the CPUs ("cpus") or memory nodes ("mems") containers may
// use: the root cpuset's list on cgroup v1, the effective one on v2.
func hostCPUSet(kind, fallback string) string {
	for _, p := range []string{"/sys/fs/cgroup/cpuset/cpuset." + kind, "/sys/fs/cgroup/cpuset." + kind + ".effective"} {
		if b, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(b)) != "" {
			return strings.TrimSpace(string(b))
		}
	}
	return fallback
}

// parseCPUSet parses a cpuset list such as "0-2,4".
func parseCPUSet(s string) (map[int]bool, error) {
	set := map[int]bool{}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil, fmt.Errorf("invalid cpuset %q", s)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("invalid cpuset %q", s)
			}
		}
		if b-a > 1<<16 {
			return nil, fmt.Errorf("invalid cpuset %q: range too large", s)
		}
		for n := a; n <= b; n++ {
			set[n] = true
		}
	}
	return set, nil
}

// sharedNamespaceIDs rewrites hc's --pid, --ipc and --network
// container:NAME to container:ID, as dockerd stores them: the sharing
// survives a rename of the other container, and inspect shows the ID. A
// reference that names no container is left for the checks that report it.
func (e *Engine) sharedNamespaceIDs(hc *container.HostConfig) {
	const prefix = "container:"
	if ref := hc.PidMode.Container(); ref != "" {
		if other, err := e.Get(ref); err == nil {
			hc.PidMode = container.PidMode(prefix + other.ID)
		}
	}
	if ref := hc.IpcMode.Container(); ref != "" {
		if other, err := e.Get(ref); err == nil {
			hc.IpcMode = container.IpcMode(prefix + other.ID)
		}
	}
	if ref := hc.NetworkMode.ConnectedContainer(); ref != "" {
		if other, err := e.Get(ref); err == nil {
			hc.NetworkMode = container.NetworkMode(prefix + other.ID)
		}
	}
}

// networksByName keys c's endpoint settings by network name and resolves
// a user-defined NetworkMode given by ID or ID prefix to its network's
// name (PrimaryNetwork), as dockerd stores them: a client that names the
// network by ID in NetworkMode and by name in EndpointsConfig (Watchtower
// does) gets one endpoint with those settings.
func (e *Engine) networksByName(ctx context.Context, c *Container) {
	if mode, _ := networkMode(c.HostConfig); mode != modeBridge {
		return
	}
	if p := primaryNetwork(c.HostConfig); isUserNetwork(p) {
		if name := e.netName(ctx, p); name != p {
			c.PrimaryNetwork = name
		}
	}
	for key, es := range c.Networks {
		if key == "default" {
			continue
		}
		if name := e.netName(ctx, key); name != key {
			delete(c.Networks, key)
			if _, taken := c.Networks[name]; !taken {
				c.Networks[name] = es
			}
		}
	}
}

// containerWideMAC moves a container-wide MAC address to the endpoint
// settings of c's NetworkMode network, as dockerd migrates it (after
// networksByName, so that a network named by ID in NetworkMode and by
// name in EndpointsConfig gets it once).
func containerWideMAC(c *Container, mac string) error {
	if mac == "" {
		return nil
	}
	hw, err := net.ParseMAC(mac)
	if err != nil {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid MAC address: %s", mac))
	}
	if mode, _ := networkMode(c.HostConfig); mode != modeBridge {
		return errdefs.ErrInvalidArgument.WithMessage("conflicting options: mac-address and the network mode")
	}
	if c.PrimaryDisconnected {
		return errdefs.ErrInvalidArgument.WithMessage("if a container-wide MAC address is supplied, HostConfig.NetworkMode must match the identity of a network in NetworkSettings.Networks")
	}
	if c.Networks == nil {
		c.Networks = map[string]*network.EndpointSettings{}
	}
	key := c.primaryNetwork()
	es := c.Networks[key]
	if es == nil && key == bnetwork.DefaultNetworkName {
		if es = c.Networks["default"]; es != nil {
			key = "default"
		}
	}
	if es == nil {
		es = &network.EndpointSettings{}
		c.Networks[key] = es
	}
	switch {
	case len(es.MacAddress) == 0:
		es.MacAddress = network.HardwareAddr(hw)
	case es.MacAddress.String() != hw.String():
		return errdefs.ErrInvalidArgument.WithMessage("the container-wide MAC address must match the endpoint-specific MAC address for the main network, or be left empty")
	}
	return nil
}

// RemoveLink removes the legacy link name (/LINKER/ALIAS: `docker rm
// --link`), as dockerd: the linker no longer has the alias (in its
// HostConfig.Links, its /etc/hosts if it runs, and as a name of the linked
// container); both containers stay.
func (e *Engine) RemoveLink(ctx context.Context, name string) error {
	full := "/" + strings.TrimPrefix(name, "/")
	linker, alias := path.Split(full)
	if linker == "/" {
		return errdefs.ErrInvalidArgument.WithMessage("Conflict, cannot remove the default link name of the container")
	}
	linker = strings.TrimSuffix(linker, "/")
	if _, err := e.Get(full); err != nil {
		return err
	}
	c, err := e.Get(linker)
	if err != nil {
		return errdefs.ErrNotFound.WithMessage(fmt.Sprintf("Cannot get parent %s for link name %s", linker, full))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.LinkIDs[alias]; !ok {
		return errdefs.ErrNotFound.WithMessage("No such container: " + full)
	}
	// lookup reads LinkIDs under e.mu, others under c.mu: both are held.
	ids := maps.Clone(c.LinkIDs)
	delete(ids, alias)
	e.mu.Lock()
	c.LinkIDs = ids
	e.mu.Unlock()
	hc := *c.HostConfig
	hc.Links = slices.DeleteFunc(slices.Clone(hc.Links), func(l string) bool {
		_, linkName, ok := strings.Cut(l, ":")
		return ok && strings.HasPrefix(linkName, "/") && path.Base(linkName) == alias
	})
	if len(hc.Links) == 0 {
		hc.Links = nil // inspect shows null, as dockerd's
	}
	c.HostConfig = &hc
	if c.State.Running {
		if err := e.writeNetworkEtcFiles(ctx, c, e.dir(c.ID)); err != nil {
			slog.Error("rewrite etc files", "id", c.ID, "err", err)
		}
	}
	e.saveLogged(c)
	return nil
}

// netModeConflicts refuses, with dockerd's words (its runconfig errors),
// options that a container sharing another's network namespace, or the
// host's, cannot have: they were accepted and silently ignored. cfg is the
// request's, before the image's config is merged (an image's EXPOSE is
// no conflict).
func netModeConflicts(cfg *container.Config, hc *container.HostConfig, nc *network.NetworkingConfig) error {
	if m := string(hc.NetworkMode); m == "container" || m == "container:" {
		return errdefs.ErrInvalidArgument.WithMessage("Invalid network mode: invalid container format container:<name|id>")
	}
	mode, _ := networkMode(hc)
	if mode != modeContainer && mode != modeHost {
		return nil
	}
	bad := func(msg string) error { return errdefs.ErrInvalidArgument.WithMessage(msg) }
	if nc != nil {
		for _, es := range nc.EndpointsConfig {
			if es != nil && len(es.MacAddress) > 0 {
				return bad("conflicting options: mac-address and the network mode")
			}
		}
	}
	if mode == modeHost {
		if len(hc.Links) > 0 {
			return bad("conflicting options: host type networking can't be used with links. This would result in undefined behavior")
		}
		return nil
	}
	switch {
	case cfg.Hostname != "":
		return bad("conflicting options: hostname and the network mode")
	case len(hc.Links) > 0:
		return bad("conflicting options: container type network can't be used with links. This would result in undefined behavior")
	case len(hc.DNS) > 0:
		return bad("conflicting options: dns and the network mode")
	case len(hc.ExtraHosts) > 0:
		return bad("conflicting options: custom host-to-IP mapping and the network mode")
	case len(hc.PortBindings) > 0 || hc.PublishAllPorts:
		return bad("conflicting options: port publishing and the container type network mode")
	case len(cfg.ExposedPorts) > 0:
		return bad("conflicting options: port exposing and the container type network mode")
	}
	return nil
}

// checkHostPorts refuses a host port that is no number or range at create,
// with dockerd's words (it failed only at start).
func checkHostPorts(hc *container.HostConfig) error {
	for _, bs := range hc.PortBindings {
		for _, b := range bs {
			if b.HostPort == "" {
				continue
			}
			lo, hi, isRange := strings.Cut(b.HostPort, "-")
			ok := validPort(lo) && (!isRange || validPort(hi))
			if !ok {
				return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid port specification: %q", b.HostPort))
			}
		}
	}
	return nil
}

func validPort(s string) bool {
	n, err := strconv.ParseUint(s, 10, 16)
	return err == nil && n <= 65535
}

// checkUserIDs refuses numeric user and group IDs outside 0-2147483647,
// with dockerd's words (a uid of 2147483648 ran as such).
func checkUserIDs(user string) error {
	u, g, _ := strings.Cut(user, ":")
	for _, id := range []string{u, g} {
		if id == "" {
			continue
		}
		if n, err := strconv.ParseInt(id, 10, 64); err == nil && (n < 0 || n > 2147483647) || strings.HasPrefix(id, "-") {
			return errdefs.ErrInvalidArgument.WithMessage("uids and gids must be in range 0-2147483647")
		}
	}
	return nil
}
