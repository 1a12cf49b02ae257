package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	mevents "github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/system"
	"github.com/spf13/pflag"

	"github.com/berth/berth/internal/api"
	"github.com/berth/berth/internal/api/events"
	"github.com/berth/berth/internal/cli/version"
	"github.com/berth/berth/internal/engine"
	"github.com/berth/berth/internal/runtime"
)

// shutdownGrace bounds how long requests in flight may finish after
// SIGTERM before their connections are closed.
const shutdownGrace = 10 * time.Second

// daemon is one running `berth daemon`.
type daemon struct {
	flags  Config         // as parsed from the command line
	fs     *pflag.FlagSet // to tell which flags were given
	cfg    Config         // effective: flags and file merged
	level  *slog.LevelVar
	server *api.Server
	bus    *events.Bus
	id     string
	eng    *engine.Engine
	// runtimes is the runtime set containers may choose (the engine's
	// RuntimePath reads it); replaced whole on SIGHUP.
	runtimes atomic.Pointer[api.Runtimes]
}

// run serves until SIGTERM or SIGINT (nil) or a listener fails (error).
func run(ctx context.Context, flags Config, fs *pflag.FlagSet, stderr io.Writer) error {
	cfg, err := load(flags, fs)
	if err != nil {
		return err
	}
	// Once per binary and boot, before anything is opened: a daemon maps
	// the binary for as long as it runs, which would keep the binary's page
	// cache in 4 KB folios for every berth process; this execs a refresher
	// that execs the daemon again (docs/runtime.md, "The binary's page
	// cache"), and returns at once otherwise.
	runtime.KeepBinaryCached(true)
	// As dockerd: DOCKER_MIN_API_VERSION lowers the oldest API version
	// served, for old clients (Debian 12's skopeo speaks 1.22).
	minAPI, err := api.ParseMinAPIVersion(os.Getenv("DOCKER_MIN_API_VERSION"))
	if err != nil {
		return fmt.Errorf("DOCKER_MIN_API_VERSION: %w", err)
	}
	d := &daemon{flags: flags, fs: fs, cfg: cfg, level: new(slog.LevelVar)}
	lvl, _ := parseLevel(cfg)
	d.level.Set(lvl)
	opts := &slog.HandlerOptions{Level: d.level}
	var h slog.Handler = slog.NewTextHandler(stderr, opts)
	if cfg.LogFormat == "json" {
		h = slog.NewJSONHandler(stderr, opts)
	}
	slog.SetDefault(slog.New(h))

	if err := os.MkdirAll(cfg.DataRoot, 0o711); err != nil {
		return fmt.Errorf("data root %s: %w", cfg.DataRoot, err)
	}
	if err := os.MkdirAll(cfg.ExecRoot, 0o700); err != nil {
		return fmt.Errorf("exec root %s: %w", cfg.ExecRoot, err)
	}
	lock, err := lockDataRoot(cfg.DataRoot)
	if err != nil {
		return err
	}
	defer lock.Close()
	shareDataRoot(cfg.DataRoot, cfg.ExecRoot)
	defer unshareDataRoot(cfg.DataRoot, cfg.ExecRoot)
	if err := writePidfile(cfg.Pidfile); err != nil {
		return err
	}
	defer os.Remove(cfg.Pidfile)
	if d.id, err = engineID(cfg.DataRoot); err != nil {
		return err
	}
	rts, err := runtimeSet(cfg)
	if err != nil {
		return err
	}
	listeners, warnings, err := listenAll(cfg)
	if err != nil {
		return err
	}
	images, err := openImages(cfg)
	if err != nil {
		return err
	}
	vols, err := openVolumes(cfg)
	if err != nil {
		return err
	}
	nets, err := openNetworks(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeNetworks(context.Background(), nets)
	d.bus = events.NewBus(0)
	rts = withVersions(ctx, rts)
	d.runtimes.Store(&rts)
	eng, err := openEngine(ctx, cfg, images, d.bus, &rts, runtimePath(d.runtimes.Load), nets, vols)
	if err != nil {
		return err
	}
	defer eng.Close()
	d.eng = eng
	builder, err := openBuilder(cfg, images, eng)
	if err != nil {
		return err
	}
	d.server = api.New(api.Config{
		Version:             version.Version,
		GitCommit:           version.GitCommit,
		BuildTime:           version.BuildTime,
		Experimental:        cfg.Experimental,
		ID:                  d.id,
		DataRoot:            cfg.DataRoot,
		MinAPIVersion:       minAPI,
		InsecureRegistries:  cfg.InsecureRegistries,
		RegistryMirrors:     cfg.RegistryMirrors,
		LoggingDriver:       cfg.LogDriver,
		DefaultAddressPools: infoPools(cfg),
		SecurityOptions:     []string{"name=seccomp,profile=builtin"},
		Warnings:            warnings,
		Events:              d.bus,
		Images:              images,
		Counts:              countsOf(images, eng),
		Engine:              eng,
		ImageInUse:          eng.ImageInUse,
		Volumes:             vols,
		Networks:            nets,
		NetworkAttacher:     eng,
		Builder:             builder,
	})
	d.server.SetRuntimes(rts)
	d.server.SetDebug(d.level.Level() <= slog.LevelDebug)
	d.server.SetLabels(cfg.Labels)

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1)
	defer signal.Stop(sigs)

	serveErr := make(chan error, len(listeners))
	for _, l := range listeners {
		go func(l net.Listener) {
			if err := d.server.Serve(l); err != nil {
				serveErr <- fmt.Errorf("serve %s: %w", l.Addr(), err)
			}
		}(l)
	}
	slog.Info("berth daemon ready", "version", version.Version, "api-version", api.APIVersion,
		"data-root", cfg.DataRoot, "exec-root", cfg.ExecRoot, "hosts", hostsString(cfg.Hosts),
		"default-runtime", rts.Default, "id", d.id, "pid", os.Getpid())

	for {
		select {
		case s := <-sigs:
			if s == syscall.SIGHUP {
				d.reload(ctx)
				continue
			}
			if s == syscall.SIGUSR1 {
				dumpStacks(cfg.ExecRoot)
				continue
			}
			slog.Info("shutting down: the API stops, containers keep running", "signal", s.String())
			return d.shutdown()
		case err := <-serveErr:
			slog.Error("API listener failed", "err", err)
			return errors.Join(err, d.shutdown())
		case <-ctx.Done():
			return d.shutdown()
		}
	}
}

// infoPools are the configured address pools as info reports them, as
// networkConfig reads them (it checked them at start).
func infoPools(cfg Config) []system.NetworkAddressPool {
	nc, _ := networkConfig(cfg)
	var out []system.NetworkAddressPool
	for _, p := range nc.DefaultAddressPools {
		out = append(out, system.NetworkAddressPool{Base: p.Base, Size: p.Size})
	}
	return out
}

// dumpStacks writes every goroutine's stack to a file in dir, named as
// dockerd names it on SIGUSR1, and logs its path: a daemon that hangs can
// be looked into without stopping it.
func dumpStacks(dir string) {
	buf := make([]byte, 1<<20)
	for {
		n := goruntime.Stack(buf, true)
		if n < len(buf) || len(buf) >= 64<<20 {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	name := filepath.Join(dir, "goroutine-stacks-"+time.Now().UTC().Format("2006-01-02T150405Z")+".log")
	if err := os.WriteFile(name, buf, 0o600); err != nil {
		slog.Error("write goroutine stacks", "err", err)
		return
	}
	slog.Info("goroutine stacks written to "+name, "path", name)
}

func (d *daemon) shutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := d.server.Shutdown(ctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	slog.Info("daemon stopped")
	return nil
}

// reloadable are the daemon.json keys SIGHUP applies, as dockerd reloads
// them; a change to any other key waits for a restart.
var reloadable = map[string]bool{
	"debug": true, "log-level": true, "labels": true, "default-runtime": true, "runtimes": true,
}

// reload re-reads the configuration file and applies the reloadable part:
// log level and debug, labels, runtimes and the default runtime (for the
// containers created from now on). It logs which options changed and
// which changed but cannot be applied while running (those are ignored
// until a restart). A bad file leaves the running configuration untouched.
func (d *daemon) reload(ctx context.Context) {
	cfg, err := load(d.flags, d.fs)
	if err != nil {
		slog.Error("reload: configuration not applied", "err", err)
		return
	}
	rts, err := runtimeSet(cfg)
	if err != nil {
		slog.Error("reload: configuration not applied", "err", err)
		return
	}
	rts = withVersions(ctx, rts)
	changed, ignored := configDiff(d.cfg, cfg)
	lvl, _ := parseLevel(cfg)
	d.level.Set(lvl)
	d.server.SetDebug(lvl <= slog.LevelDebug)
	d.server.SetLabels(cfg.Labels)
	d.runtimes.Store(&rts)
	d.server.SetRuntimes(rts)
	d.eng.SetDefaultRuntime(rts.Default)
	keep := d.cfg
	keep.LogLevel, keep.Debug, keep.Labels, keep.Runtimes, keep.DefaultRuntime = cfg.LogLevel, cfg.Debug, cfg.Labels, cfg.Runtimes, cfg.DefaultRuntime
	d.cfg = keep
	for _, k := range ignored {
		slog.Warn("reload: option changed in the configuration file but cannot be changed while the daemon runs; ignored until a restart", "option", k)
	}
	names := make([]string, 0, len(rts.All))
	for n := range rts.All {
		names = append(names, n)
	}
	sort.Strings(names)
	slog.Info("configuration reloaded", "changed", strings.Join(changed, ","), "ignored", strings.Join(ignored, ","),
		"log-level", strings.ToLower(lvl.String()), "labels", strings.Join(cfg.Labels, ","), "default-runtime", rts.Default,
		"runtimes", strings.Join(names, ","))
	host, _ := os.Hostname()
	d.bus.Publish(mevents.Message{
		Type:   mevents.DaemonEventType,
		Action: mevents.ActionReload,
		Actor: mevents.Actor{ID: d.id, Attributes: map[string]string{
			"name":            host,
			"debug":           fmt.Sprint(lvl <= slog.LevelDebug),
			"log-level":       strings.ToLower(lvl.String()),
			"labels":          fmt.Sprint(cfg.Labels),
			"default-runtime": rts.Default,
			"runtimes":        strings.Join(names, " "),
		}},
	})
}

// configDiff lists the daemon.json keys whose values differ between old
// and new: those SIGHUP applies (changed) and the others (ignored).
func configDiff(old, new Config) (changed, ignored []string) {
	a, b := configKeys(old), configKeys(new)
	keys := make([]string, 0, len(flagForKey))
	for k := range flagForKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if bytes.Equal(a[k], b[k]) {
			continue
		}
		if reloadable[k] {
			changed = append(changed, k)
		} else {
			ignored = append(ignored, k)
		}
	}
	return changed, ignored
}

// configKeys is c as daemon.json keys and their JSON values.
func configKeys(c Config) map[string]json.RawMessage {
	b, _ := json.Marshal(c)
	var m map[string]json.RawMessage
	_ = json.Unmarshal(b, &m)
	return m
}
