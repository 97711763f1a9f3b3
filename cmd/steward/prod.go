package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/steward-oss/steward/api"
	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/devserver"
	"github.com/steward-oss/steward/sla"
	"github.com/steward-oss/steward/worker"
	"github.com/steward-oss/steward/workflows"
)

// dialTemporal connects to the cluster named by the SDK's environment conventions (TEMPORAL_ADDRESS,
// TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, or a profile in the Temporal config file).
func dialTemporal(ctx context.Context, logger *slog.Logger, mh client.MetricsHandler) (client.Client, error) {
	opts, err := envconfig.LoadDefaultClientOptions()
	if err != nil {
		return nil, fmt.Errorf("temporal client config: %w", err)
	}
	opts.Logger = temporalLogger(logger)
	opts.MetricsHandler = mh
	if opts.ConnectionOptions.GrpcCompression == nil {
		if opts.ConnectionOptions.GrpcCompression, err = compressionFor(orDefault(opts.HostPort, client.DefaultHostPort)); err != nil {
			return nil, err
		}
	}
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("temporal at %s: %w", orDefault(opts.HostPort, client.DefaultHostPort), err)
	}
	return c, nil
}

// compressionFor is the gRPC compression for a server at hostPort: none on loopback, where gzip only
// costs CPU on both ends (about a tenth of the worker's), else the SDK's default, gzip.
// STEWARD_TEMPORAL_COMPRESSION=gzip or none overrides it.
func compressionFor(hostPort string) (client.GrpcCompression, error) {
	switch v := os.Getenv(envCompression); v {
	case "gzip":
		return &client.GrpcCompressionGzip{}, nil
	case "none":
		return &client.GrpcCompressionNone{}, nil
	case "":
	default:
		return nil, fmt.Errorf("%s=%q: want gzip or none", envCompression, v)
	}
	host, _, err := net.SplitHostPort(hostPort)
	if err != nil {
		host = hostPort
	}
	if ip, err := netip.ParseAddr(host); host == "localhost" || (err == nil && ip.IsLoopback()) {
		return &client.GrpcCompressionNone{}, nil
	}
	return &client.GrpcCompressionGzip{}, nil
}

const envCompression = "STEWARD_TEMPORAL_COMPRESSION"

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func openStore(ctx context.Context, dsn string) (*db.Store, error) {
	if dsn == "" {
		return nil, errors.New("DATABASE_URL is not set (postgres://user@host:5432/db)")
	}
	return db.Open(ctx, dsn)
}

// prodDeps is what the worker and the API connect to in production.
type prodDeps struct {
	calendars   *sla.Calendars
	store       *db.Store
	temporal    client.Client
	stopMetrics func()
}

func (d *prodDeps) close() {
	d.temporal.Close()
	d.stopMetrics()
	_ = d.store.Close()
}

// connect loads the holiday calendars, opens the database and dials Temporal.
func connect(ctx context.Context, cfg *appConfig, dsn string, logger *slog.Logger) (*prodDeps, error) {
	cals, err := loadCalendars(cfg.holidaysFile, logger)
	if err != nil {
		return nil, err
	}
	if err := servePprof(cfg.pprofAddr, logger); err != nil {
		return nil, fmt.Errorf("pprof: %w", err)
	}
	store, err := openStore(ctx, dsn)
	if err != nil {
		return nil, err
	}
	reg, stopMetrics, _, err := serveMetrics(cfg.metricsAddr, store, logger)
	if err != nil {
		_ = store.Close()
		return nil, err
	}
	c, err := dialTemporal(ctx, logger, reg.Temporal())
	if err != nil {
		stopMetrics()
		_ = store.Close()
		return nil, err
	}
	return &prodDeps{calendars: cals, store: store, temporal: c, stopMetrics: stopMetrics}, nil
}

func runWorker(ctx context.Context, args []string, stderr io.Writer) error {
	f := newFlags("worker", stderr)
	var (
		dsn, uiURL string
		cfg        appConfig
	)
	f.str(&dsn, "database-url", "DATABASE_URL", "", "PostgreSQL URL")
	f.str(&uiURL, "ui-url", "STEWARD_UI_URL", "", "Temporal Web UI base URL, for links in notifications")
	cfg.register(f)
	if err := f.Parse(args); err != nil {
		return err
	}
	logger := newLogger(stderr, cfg.logLevel)
	d, err := connect(ctx, &cfg, dsn, logger)
	if err != nil {
		return err
	}
	defer d.close()
	w := worker.New(d.temporal, newActivities(&cfg, d.store, logger, uiURL, os.Getenv("TEMPORAL_NAMESPACE")), sdkworker.Options{})
	stopWebhooks := startDispatcher(ctx, &cfg, d.store, logger)
	defer stopWebhooks()
	logger.Info("worker started", slog.String("task_queue", workflows.TaskQueue))
	return w.Run(ctxInterrupt(ctx))
}

// ctxInterrupt turns ctx's end into the worker's stop signal.
func ctxInterrupt(ctx context.Context) <-chan any {
	ch := make(chan any)
	go func() {
		<-ctx.Done()
		close(ch)
	}()
	return ch
}

func runAPI(ctx context.Context, args []string, stderr io.Writer) error {
	f := newFlags("api", stderr)
	var (
		dsn, addr, secret, uiURL string
		cfg                      appConfig
		limits                   rateLimit
	)
	f.str(&dsn, "database-url", "DATABASE_URL", "", "PostgreSQL URL")
	f.str(&addr, "addr", "STEWARD_API_ADDR", ":8080", "address to serve the API on")
	f.str(&uiURL, "ui-url", "STEWARD_UI_URL", "", "Temporal Web UI base URL, for the reports page's links")
	f.str(&secret, "marketplace-secret", "STEWARD_MARKETPLACE_SECRET", "", "marketplace HMAC secret (required)")
	cfg.register(f)
	limits.register(f)
	if err := f.Parse(args); err != nil {
		return err
	}
	if err := limits.validate(); err != nil {
		return err
	}
	if len(secret) < 16 {
		return errors.New("STEWARD_MARKETPLACE_SECRET must be set, at least 16 characters")
	}
	logger := newLogger(stderr, cfg.logLevel)
	d, err := connect(ctx, &cfg, dsn, logger)
	if err != nil {
		return err
	}
	defer d.close()
	stop, bound, err := serveAPI(ctx, addr, api.New(api.Config{
		Temporal: d.temporal, Store: d.store, Logger: logger, MarketplaceSecret: []byte(secret),
		HolidayWarnings: holidayWarnings(d.calendars), AcceptTimeout: cfg.accept,
		RateLimit: limits.perSecond, RateBurst: limits.burst, WebUIURL: uiURL, Namespace: os.Getenv("TEMPORAL_NAMESPACE"),
	}), logger)
	if err != nil {
		return err
	}
	logger.Info("api serving", slog.String("addr", bound))
	<-ctx.Done()
	stop()
	return nil
}

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("migrate", stderr)
	var dsn string
	f.str(&dsn, "database-url", "DATABASE_URL", "", "database URL (postgres://… or sqlite:PATH)")
	if err := f.Parse(args); err != nil {
		return err
	}
	store, err := openStore(ctx, dsn)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "database migrated")
	return nil
}

func runSetup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("setup", stderr)
	if err := f.Parse(args); err != nil {
		return err
	}
	logger := newLogger(stderr, "warn")
	opts, err := envconfig.LoadDefaultClientOptions()
	if err != nil {
		return err
	}
	c, err := dialTemporal(ctx, logger, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	added, err := devserver.EnsureSearchAttributes(ctx, c, orDefault(opts.Namespace, client.DefaultNamespace), workflows.SearchAttributes())
	if err != nil {
		return err
	}
	if len(added) == 0 {
		fmt.Fprintln(stdout, "search attributes already registered")
	} else {
		fmt.Fprintln(stdout, "registered search attributes:", added)
	}
	return nil
}
