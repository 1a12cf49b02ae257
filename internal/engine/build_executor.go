package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/build"
	"github.com/berth/berth/internal/runtime"
	"github.com/berth/berth/internal/snapshot/mount"
)

// BuildExecutor runs the RUN steps of builds (build.Executor) with the
// engine's spec defaults: docker's capabilities, masked paths, seccomp
// profile, /etc/hosts, /etc/hostname and /etc/resolv.conf.
//
// A RUN container is not an engine container: it has no record, no log
// and no shim. Its process runs under the built-in runtime
// (internal/runtime) as a child of the daemon, with its stdio wired
// straight to the request's writers, and the daemon waits for it: a RUN
// step never outlives the build that started it, so nothing has to be
// reconnected after a daemon restart (Cleanup removes what a crashed
// daemon left). The daemon's default runtime does not apply: RUN steps
// always use the built-in one. Its cgroup is /berth/<id>.
//
//	<exec-root>/build/<id>/         the bundle: config.json, rootfs/ (mounted
//	                                while it runs), hostname, hosts, resolv.conf
//	<exec-root>/netns/<id>          its network namespace
//	<exec-root>/runtime/<id>        the runtime's state while it runs
//
// Network "default" joins the engine's default network as a container
// would (loopback only when the daemon runs with --bridge none), "none"
// gives a namespace with only loopback, "host" shares the host's.
type BuildExecutor struct {
	e *Engine
}

// BuildExecutor returns the engine's executor of RUN steps.
func (e *Engine) BuildExecutor() *BuildExecutor { return &BuildExecutor{e: e} }

// Cleanup removes what RUN steps of a daemon that died mid-build left:
// their processes (killed), runtime state, mounts, bundles and network
// namespaces. Call it before the first build.
func (x *BuildExecutor) Cleanup() error {
	dir := filepath.Join(x.e.cfg.ExecRoot, "build")
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("build runs cleanup: %w", err)
	}
	var errs []error
	for _, de := range ents {
		id := de.Name()
		if rc, err := runtime.Load(filepath.Join(x.e.cfg.ExecRoot, "runtime"), id); err == nil {
			if err := rc.Delete(true); err != nil {
				errs = append(errs, fmt.Errorf("build run %s: delete container: %w", id, err))
			}
		}
		if err := mount.UnmountAll(filepath.Join(dir, id, "rootfs")); err != nil {
			errs = append(errs, fmt.Errorf("build run %s: unmount rootfs: %w", id, err))
			continue
		}
		removeNetNS(filepath.Join(x.e.cfg.ExecRoot, "netns", id))
		if err := os.RemoveAll(filepath.Join(dir, id)); err != nil {
			errs = append(errs, fmt.Errorf("build run %s: %w", id, err))
		}
		slog.Info("removed the RUN step of an interrupted build", "id", id)
	}
	return errors.Join(errs...)
}

var _ build.Executor = (*BuildExecutor)(nil)

// buildShmSize is the /dev/shm size of RUN containers (docker's default).
const buildShmSize = 64 << 20

// buildHostConfig is the host config of a RUN container with the build's
// limits.
func buildHostConfig(l build.RunLimits) *container.HostConfig {
	hc := &container.HostConfig{ShmSize: buildShmSize}
	if l.ShmSize > 0 {
		hc.ShmSize = l.ShmSize
	}
	hc.Memory, hc.MemorySwap = l.Memory, l.MemorySwap
	hc.CPUShares, hc.CPUPeriod, hc.CPUQuota = l.CPUShares, l.CPUPeriod, l.CPUQuota
	hc.CpusetCpus, hc.CpusetMems = l.CPUSetCPUs, l.CPUSetMems
	hc.CgroupParent = l.CgroupParent
	for _, u := range l.Ulimits {
		hc.Ulimits = append(hc.Ulimits, &container.Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard})
	}
	return hc
}

// removeMountStubs removes from an overlay rootfs's writable directory what
// the runtime created there only as a mount point for one of dests: an
// empty file or directory that no lower layer has, then each parent
// directory of one that is left empty and is not opaque (it was copied up
// or made for the mount point alone). Nothing is done for other snapshots.
func removeMountStubs(rootfs []mount.Mount, dests []string) {
	upper, overlay, err := mount.WritableDir(rootfs)
	lowers := mount.LowerDirs(rootfs)
	if err != nil || !overlay || len(lowers) == 0 {
		return
	}
	inLowers := func(rel string) bool {
		for _, l := range lowers {
			if _, err := os.Lstat(filepath.Join(l, rel)); err == nil {
				return true
			}
		}
		return false
	}
	// lowerOf is rel in the topmost lower layer that has it, or "".
	lowerOf := func(rel string) string {
		for _, l := range lowers {
			if _, err := os.Lstat(filepath.Join(l, rel)); err == nil {
				return filepath.Join(l, rel)
			}
		}
		return ""
	}
	for _, d := range dests {
		rel := strings.TrimPrefix(filepath.Clean("/"+d), "/")
		if rel == "" || inLowers(rel) || !isStub(filepath.Join(upper, rel)) {
			continue
		}
		if os.Remove(filepath.Join(upper, rel)) != nil {
			continue
		}
		for dir := filepath.Dir(rel); dir != "."; dir = filepath.Dir(dir) {
			p := filepath.Join(upper, dir)
			if !isStub(p) || isOpaque(p) || !sameOwnerMode(p, lowerOf(dir)) || os.Remove(p) != nil {
				break
			}
		}
	}
}

// isStub reports whether p is an empty regular file or an empty
// directory, not a symbolic link.
func isStub(p string) bool {
	fi, err := os.Lstat(p)
	if err != nil {
		return false
	}
	switch {
	case fi.Mode().IsRegular():
		return fi.Size() == 0
	case fi.IsDir():
		ents, err := os.ReadDir(p)
		return err == nil && len(ents) == 0
	}
	return false
}

// sameOwnerMode reports whether the directory p has lower's mode and owner
// (the step changed no more than its times), or lower is "" (p was made
// for a mount point).
func sameOwnerMode(p, lower string) bool {
	if lower == "" {
		return true
	}
	var a, b unix.Stat_t
	if unix.Lstat(p, &a) != nil || unix.Lstat(lower, &b) != nil {
		return false
	}
	return a.Mode == b.Mode && a.Uid == b.Uid && a.Gid == b.Gid
}

// isOpaque reports whether the overlay directory p hides its lower
// layers' directory.
func isOpaque(p string) bool {
	buf := make([]byte, 1)
	n, err := unix.Lgetxattr(p, "trusted.overlay.opaque", buf)
	return err == nil && n == 1 && buf[0] == 'y'
}

// ValidateBuildLimits checks a build's limits as a container's are
// checked at create ("Minimum memory limit allowed is 6MB", ...).
func ValidateBuildLimits(l build.RunLimits) error {
	if l.ShmSize < 0 {
		return errdefs.ErrInvalidArgument.WithMessage("SHM size can not be less than 0")
	}
	return validateHostConfig(buildHostConfig(l))
}

// Run runs req's command to its end; see build.Executor.
func (x *BuildExecutor) Run(ctx context.Context, req build.RunRequest) (err error) {
	if req.ID == "" || strings.ContainsAny(req.ID, "/\x00") || req.ID == "." || req.ID == ".." {
		return fmt.Errorf("build run: invalid id %q", req.ID)
	}
	if len(req.Args) == 0 {
		return fmt.Errorf("build run %s: no command", req.ID)
	}
	network := req.Network
	switch network {
	case "", "default", "bridge":
		network = "bridge"
	case "none", "host":
	default:
		return fmt.Errorf("build run %s: network %q: only default, none and host are supported", req.ID, req.Network)
	}
	bundle := filepath.Join(x.e.cfg.ExecRoot, "build", req.ID)
	rootfs := filepath.Join(bundle, "rootfs")
	if err := os.MkdirAll(rootfs, 0o700); err != nil {
		return fmt.Errorf("build run %s: bundle: %w", req.ID, err)
	}
	defer func() {
		if rerr := os.RemoveAll(bundle); rerr != nil && err == nil {
			err = fmt.Errorf("build run %s: remove bundle: %w", req.ID, rerr)
		}
	}()
	if err := mount.All(req.Rootfs, rootfs); err != nil {
		_ = mount.UnmountAll(rootfs)
		return fmt.Errorf("build run %s: mount rootfs: %w", req.ID, err)
	}
	// What the runtime makes in the rootfs only to mount onto (an empty
	// /etc/hostname, say) is not part of the step's layer, as with
	// dockerd's init layer: removed from the writable directory once the
	// rootfs is unmounted (the deferred calls run in reverse order).
	var stubs []string
	defer func() {
		if err == nil {
			removeMountStubs(req.Rootfs, stubs)
		}
	}()
	defer func() {
		if uerr := mount.UnmountAll(rootfs); uerr != nil && err == nil {
			err = fmt.Errorf("build run %s: unmount rootfs: %w", req.ID, uerr)
		}
	}()
	if wd := strings.TrimPrefix(filepath.Clean("/"+req.WorkingDir), "/"); wd != "" {
		r, err := os.OpenRoot(rootfs)
		if err != nil {
			return fmt.Errorf("build run %s: %w", req.ID, err)
		}
		err = r.MkdirAll(wd, 0o755)
		r.Close()
		if err != nil {
			return fmt.Errorf("build run %s: working dir %s: %w", req.ID, req.WorkingDir, err)
		}
	}

	hostname := strings.TrimPrefix(req.ID, "build-")
	if len(hostname) > 12 {
		hostname = hostname[:12]
	}
	c := &Container{
		ID:        req.ID,
		Name:      "/" + req.ID,
		buildStep: true,
		Config: &container.Config{
			Hostname:   hostname,
			Env:        req.Env,
			Cmd:        req.Args,
			WorkingDir: req.WorkingDir,
			User:       req.User,
		},
		HostConfig: buildHostConfig(req.Limits),
	}
	c.HostConfig.NetworkMode = container.NetworkMode(network)
	c.HostConfig.ExtraHosts = req.ExtraHosts
	if err := validateHostConfig(c.HostConfig); err != nil {
		return fmt.Errorf("build run %s: %w", req.ID, err)
	}
	if network == "host" {
		c.Config.Hostname = ""
	}
	if err := os.MkdirAll(filepath.Join(x.e.cfg.ExecRoot, "netns"), 0o711); err != nil {
		return fmt.Errorf("build run %s: %w", req.ID, err)
	}
	// The container's network as an engine container's: its namespace,
	// the default network's endpoint (loopback only with --bridge none),
	// hosts and resolv.conf.
	defer func() {
		if c.NetNS != "" {
			x.e.disconnectNetworks(context.WithoutCancel(ctx), c)
			removeNetNS(c.NetNS)
			c.NetNS = ""
		}
	}()
	netns, err := x.e.setupNetwork(ctx, c, bundle)
	if err != nil {
		return fmt.Errorf("build run %s: network: %w", req.ID, err)
	}
	spec, err := x.e.specFor(c, bundle, netns)
	if err != nil {
		return fmt.Errorf("build run %s: spec: %w", req.ID, err)
	}
	for _, m := range req.Mounts {
		sm := specs.Mount{Destination: m.Target, Type: m.Type, Source: m.Source}
		switch m.Type {
		case "bind":
			sm.Options = []string{"rbind", "rprivate"}
		case "tmpfs":
			sm.Source = "tmpfs"
			sm.Options = []string{"nosuid", "nodev"}
		default:
			return fmt.Errorf("build run %s: mount %s: type %q is not supported", req.ID, m.Target, m.Type)
		}
		if m.ReadOnly {
			sm.Options = append(sm.Options, "ro")
		}
		spec.Mounts = append(spec.Mounts, sm)
	}
	for _, m := range spec.Mounts {
		stubs = append(stubs, m.Destination)
	}
	data, err := json.Marshal(spec)
	if err != nil {
		return fmt.Errorf("build run %s: spec: %w", req.ID, err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), data, 0o600); err != nil {
		return fmt.Errorf("build run %s: %w", req.ID, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	rc, err := runtime.Create(runtime.CreateOpts{
		Root: filepath.Join(x.e.cfg.ExecRoot, "runtime"), ID: req.ID, Bundle: bundle,
		Stdin: req.Stdin, Stdout: req.Stdout, Stderr: req.Stderr,
	})
	if err != nil {
		return fmt.Errorf("build run %s: create: %w", req.ID, err)
	}
	defer func() {
		if derr := rc.Delete(true); derr != nil {
			slog.Error("build run: delete container", "id", req.ID, "err", derr)
		}
	}()
	stop := context.AfterFunc(ctx, func() { _ = rc.Signal(unix.SIGKILL, true) })
	defer stop()
	if err := rc.Start(); err != nil {
		return fmt.Errorf("build run %s: start: %w", req.ID, err)
	}
	code, err := rc.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("build run %s: wait: %w", req.ID, err)
	}
	if code != 0 {
		return &build.ExitError{Code: code}
	}
	return nil
}
