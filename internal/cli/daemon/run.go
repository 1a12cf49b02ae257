package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	mevents "github.com/moby/moby/api/types/events"
	"github.com/spf13/pflag"

	"github.com/berth/berth/internal/api"
	"github.com/berth/berth/internal/api/events"
	"github.com/berth/berth/internal/cli/version"
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
}

// run serves until SIGTERM or SIGINT (nil) or a listener fails (error).
func run(ctx context.Context, flags Config, fs *pflag.FlagSet, stderr io.Writer) error {
	cfg, err := load(flags, fs)
	if err != nil {
		return err
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
	eng, err := openEngine(ctx, cfg, images, d.bus, rts, nets, vols)
	if err != nil {
		return err
	}
	defer eng.Close()
	builder, err := openBuilder(cfg, images, eng)
	if err != nil {
		return err
	}
	d.server = api.New(api.Config{
		Version:         version.Version,
		GitCommit:       version.GitCommit,
		BuildTime:       version.BuildTime,
		Experimental:    cfg.Experimental,
		ID:              d.id,
		DataRoot:        cfg.DataRoot,
		SecurityOptions: []string{"name=seccomp,profile=builtin"},
		Warnings:        warnings,
		Events:          d.bus,
		Images:          images,
		Counts:          countsOf(images, eng),
		Engine:          eng,
		ImageInUse:      eng.ImageInUse,
		Volumes:         vols,
		Networks:        nets,
		NetworkAttacher: eng,
		Builder:         builder,
	})
	d.server.SetRuntimes(withVersions(ctx, rts))
	d.server.SetDebug(d.level.Level() <= slog.LevelDebug)

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
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

func (d *daemon) shutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := d.server.Shutdown(ctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	slog.Info("daemon stopped")
	return nil
}

// reload re-reads the configuration file and applies the reloadable part:
// log level and debug, runtimes and the default runtime. Anything else
// changed in the file waits for a restart (and is logged as such). A bad
// file leaves the running configuration untouched.
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
	lvl, _ := parseLevel(cfg)
	d.level.Set(lvl)
	d.server.SetDebug(lvl <= slog.LevelDebug)
	d.server.SetRuntimes(withVersions(ctx, rts))
	var ignored []string
	if strings.Join(cfg.Hosts, ",") != strings.Join(d.cfg.Hosts, ",") {
		ignored = append(ignored, "hosts")
	}
	if cfg.DataRoot != d.cfg.DataRoot {
		ignored = append(ignored, "data-root")
	}
	if cfg.ExecRoot != d.cfg.ExecRoot {
		ignored = append(ignored, "exec-root")
	}
	if cfg.TLS != d.cfg.TLS || cfg.TLSVerify != d.cfg.TLSVerify || cfg.TLSCert != d.cfg.TLSCert || cfg.TLSKey != d.cfg.TLSKey || cfg.TLSCACert != d.cfg.TLSCACert {
		ignored = append(ignored, "tls")
	}
	keep := d.cfg
	keep.LogLevel, keep.Debug, keep.Runtimes, keep.DefaultRuntime = cfg.LogLevel, cfg.Debug, cfg.Runtimes, cfg.DefaultRuntime
	d.cfg = keep
	names := make([]string, 0, len(rts.All))
	for n := range rts.All {
		names = append(names, n)
	}
	sort.Strings(names)
	slog.Info("configuration reloaded", "log-level", strings.ToLower(lvl.String()), "default-runtime", rts.Default,
		"runtimes", strings.Join(names, ","), "needs-restart", strings.Join(ignored, ","))
	host, _ := os.Hostname()
	d.bus.Publish(mevents.Message{
		Type:   mevents.DaemonEventType,
		Action: mevents.ActionReload,
		Actor: mevents.Actor{ID: d.id, Attributes: map[string]string{
			"name":            host,
			"debug":           fmt.Sprint(lvl <= slog.LevelDebug),
			"log-level":       strings.ToLower(lvl.String()),
			"default-runtime": rts.Default,
			"runtimes":        strings.Join(names, " "),
		}},
	})
}
