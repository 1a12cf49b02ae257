package registry

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/registry"
	"github.com/berth/berth/internal/registry/storage"
)

type serveOptions struct {
	config  string
	addr    string
	root    string
	tlsCert string
	tlsKey  string
}

func newServeCommand() *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the OCI distribution API",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd.Context(), cmd, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.config, "config", "", "configuration file (JSON; see docs/registry.md)")
	f.StringVar(&o.addr, "addr", "", "listen address (default "+registry.DefaultAddr+")")
	f.StringVar(&o.root, "root", "", "data directory (default "+DefaultRoot+")")
	f.StringVar(&o.tlsCert, "tls-cert", "", "TLS certificate file (PEM)")
	f.StringVar(&o.tlsKey, "tls-key", "", "TLS private key file (PEM)")
	return cmd
}

func runServe(ctx context.Context, cmd *cobra.Command, o serveOptions) error {
	cfg, err := registry.LoadConfig(o.config)
	if err != nil {
		return err
	}
	if o.addr != "" {
		cfg.Addr = o.addr
	}
	if o.root != "" {
		cfg.Root = o.root
	}
	if cfg.Root == "" {
		cfg.Root = DefaultRoot
	}
	if o.tlsCert != "" {
		cfg.TLS.Cert = o.tlsCert
	}
	if o.tlsKey != "" {
		cfg.TLS.Key = o.tlsKey
	}
	if (cfg.TLS.Cert == "") != (cfg.TLS.Key == "") {
		return errors.New("--tls-cert and --tls-key must be given together")
	}
	drv, err := storage.NewFilesystem(cfg.Root)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
	store := registry.NewStore(drv)
	store.SetRefreshInterval(time.Duration(cfg.GC.Grace) / 10)
	opts := registry.ServerOptions{Logger: log}
	if cfg.Auth != nil {
		a, err := registry.NewAuth(*cfg.Auth)
		if err != nil {
			return err
		}
		opts.Auth = a
	}
	srv := registry.NewServer(store, opts)

	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	// Uploads a crash interrupted are removed once older than the TTL.
	ttl := time.Duration(cfg.Uploads.TTL)
	if n, err := store.PurgeUploads(ctx, time.Now().Add(-ttl)); err != nil {
		log.Warn("purge uploads", "err", err)
	} else if n > 0 {
		log.Info("purged abandoned uploads", "count", n)
	}
	go maintain(ctx, log, store, srv, cfg)

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Addr, err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 30 * time.Second}
	scheme := "http"
	if cfg.TLS.Cert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLS.Cert, cfg.TLS.Key)
		if err != nil {
			ln.Close()
			return fmt.Errorf("tls key pair %s: %w", cfg.TLS.Cert, err)
		}
		hs.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, hs.TLSConfig)
		scheme = "https"
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "berth registry listening on %s://%s (root %s)\n", scheme, ln.Addr(), cfg.Root)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return hs.Shutdown(sctx)
}

// maintain purges abandoned uploads every hour and runs GC at the
// configured interval, while the server keeps serving.
func maintain(ctx context.Context, log *slog.Logger, store *registry.Store, srv *registry.Server, cfg *registry.Config) {
	purge := time.NewTicker(time.Hour)
	defer purge.Stop()
	var gcTick <-chan time.Time
	if cfg.GC.Interval > 0 {
		t := time.NewTicker(time.Duration(cfg.GC.Interval))
		defer t.Stop()
		gcTick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-purge.C:
			if _, err := store.PurgeUploads(ctx, time.Now().Add(-time.Duration(cfg.Uploads.TTL))); err != nil {
				log.Warn("purge uploads", "err", err)
			}
		case <-gcTick:
			res, err := store.GC(ctx, registry.GCOptions{Grace: time.Duration(cfg.GC.Grace), UploadTTL: time.Duration(cfg.Uploads.TTL)})
			srv.Metrics().ObserveGC(res)
			if err != nil {
				log.Warn("gc", "err", err)
				continue
			}
			log.Info("gc", "manifests", res.Manifests, "marked", res.Marked, "deleted", len(res.Deleted), "bytes", res.BytesFreed)
		}
	}
}
