package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	sdkworker "go.temporal.io/sdk/worker"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/steward-oss/steward/api"
	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/devserver"
	"github.com/steward-oss/steward/sla"
	"github.com/steward-oss/steward/worker"
	"github.com/steward-oss/steward/workflows"
)

// temporalTarget is the cluster the SDK's environment conventions name (TEMPORAL_ADDRESS,
// TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, or a profile in the Temporal config file), with
// steward's logger, metrics and compression.
type temporalTarget struct {
	opts      client.Options
	hostPort  string
	namespace string
}

func loadTemporalTarget(logger *slog.Logger, mh client.MetricsHandler) (temporalTarget, error) {
	opts, err := envconfig.LoadDefaultClientOptions()
	if err != nil {
		return temporalTarget{}, fmt.Errorf("temporal client config: %w", err)
	}
	opts.Logger = temporalLogger(logger)
	opts.MetricsHandler = mh
	hostPort := orDefault(opts.HostPort, client.DefaultHostPort)
	if opts.ConnectionOptions.GrpcCompression == nil {
		if opts.ConnectionOptions.GrpcCompression, err = compressionFor(hostPort); err != nil {
			return temporalTarget{}, err
		}
	}
	return temporalTarget{opts: opts, hostPort: hostPort, namespace: orDefault(opts.Namespace, client.DefaultNamespace)}, nil
}

// dial connects once; it fails when the server does not answer.
func (t temporalTarget) dial(ctx context.Context) (client.Client, error) {
	c, err := client.DialContext(ctx, t.opts)
	if err != nil {
		return nil, fmt.Errorf("temporal at %s: %w", t.hostPort, err)
	}
	return c, nil
}

// dialWait dials until the server answers, logging each failed attempt (see waitFor).
func (t temporalTarget) dialWait(ctx context.Context, logger *slog.Logger, timeout time.Duration) (client.Client, error) {
	var c client.Client
	err := waitFor(ctx, logger, "the Temporal server at "+t.hostPort, timeout, func(ctx context.Context) error {
		var err error
		c, err = t.dial(ctx)
		return err
	})
	return c, err
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
	store, err := db.Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	if err := useSecretKey(store); err != nil {
		_ = store.Close()
		return nil, err
	}
	return store, nil
}

// openStoreWait opens the database, waiting while it does not answer (see waitFor).
func openStoreWait(ctx context.Context, dsn string, logger *slog.Logger, timeout time.Duration) (*db.Store, error) {
	if dsn == "" {
		return openStore(ctx, dsn)
	}
	var store *db.Store
	err := waitFor(ctx, logger, "the database at "+redactDSN(dsn), timeout, func(ctx context.Context) error {
		var err error
		store, err = openStore(ctx, dsn)
		return err
	})
	return store, err
}

// redactDSN is dsn without its password, for logs.
func redactDSN(dsn string) string {
	scheme, rest, ok := strings.Cut(dsn, "://")
	if !ok {
		return dsn
	}
	userinfo, host, ok := strings.Cut(rest, "@")
	if !ok {
		return dsn
	}
	if user, _, hasPassword := strings.Cut(userinfo, ":"); hasPassword {
		userinfo = user + ":***"
	}
	return scheme + "://" + userinfo + "@" + host
}

// Waiting at start-up: steward's processes wait for what they need and say what they wait for, once per
// attempt, with the error and when they try again; the first retry comes after waitFirst, then twice as long
// each time, up to waitMax.
const (
	waitFirst   = 500 * time.Millisecond
	waitMax     = 5 * time.Second
	waitAttempt = 10 * time.Second // one attempt's deadline
)

// permanent marks an error that waiting will not cure: waitFor returns it at once.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// waitFor calls try until it returns nil or a permanent error, ctx ends, or timeout (when positive) has
// passed since the first attempt. Every failed attempt is logged at warn level as "waiting for " + what.
func waitFor(ctx context.Context, logger *slog.Logger, what string, timeout time.Duration, try func(context.Context) error) error {
	return waitAt(ctx, logger, slog.LevelWarn, what, timeout, try)
}

// waitAt is waitFor logging its attempts at level: info for a wait that is expected, such as a new
// namespace reaching the frontend's cache.
func waitAt(ctx context.Context, logger *slog.Logger, level slog.Level, what string, timeout time.Duration, try func(context.Context) error) error {
	start := time.Now()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	backoff := waitFirst
	var last error
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, waitAttempt)
		err := try(actx)
		cancel()
		if err == nil {
			if attempt > 1 {
				logger.Info("done waiting for "+what, slog.Int("attempts", attempt), slog.Duration("waited", time.Since(start).Round(time.Millisecond)))
			}
			return nil
		}
		if p := (permanent{}); errors.As(err, &p) {
			return p.err
		}
		if ctx.Err() != nil {
			if last != nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)) {
				err = last // the attempt cut short says less than the one before it
			}
			if errors.Is(ctx.Err(), context.DeadlineExceeded) && timeout > 0 {
				return fmt.Errorf("gave up waiting for %s after %s: %w%s", what, time.Since(start).Round(time.Second), err, hint(err))
			}
			return fmt.Errorf("stopped waiting for %s: %w", what, err)
		}
		last = err
		logger.Log(ctx, level, "waiting for "+what, slog.Int("attempt", attempt), slog.String("error", err.Error()+hint(err)),
			slog.Duration("retry_in", backoff))
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, waitMax)
	}
}

// hint explains errors whose cure is not obvious from their text.
func hint(err error) string {
	if pg := (*pgconn.PgError)(nil); errors.As(err, &pg) && pg.Code == "53300" {
		return " (PostgreSQL has no connection left for this client, SQLSTATE 53300: raise max_connections or the role's" +
			" connection limit, or lower the pools — each steward process holds up to 20, Temporal's are maxConns in" +
			" deploy/temporal/config.yaml)"
	}
	if strings.Contains(err.Error(), "too many clients") || strings.Contains(err.Error(), "SQLSTATE 53300") {
		return " (PostgreSQL's max_connections is reached: raise it, or lower the pools — each steward process holds up to 20)"
	}
	return ""
}

// checkSearchAttributes fails (permanently) when the namespace does not exist or lacks one of steward's search
// attributes: both are `steward setup`'s to fix. Other errors (the server restarting) are for waitFor to retry.
func checkSearchAttributes(ctx context.Context, c client.Client, t temporalTarget, logger *slog.Logger) error {
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: t.namespace})
	var notFound *serviceerror.NamespaceNotFound
	var nf *serviceerror.NotFound
	var denied *serviceerror.PermissionDenied
	var unimplemented *serviceerror.Unimplemented
	switch {
	case errors.As(err, &notFound), errors.As(err, &nf):
		return permanent{fmt.Errorf("namespace %q does not exist on the Temporal cluster at %s: run `steward setup` (it creates the namespace and registers steward's search attributes)", t.namespace, t.hostPort)}
	case errors.As(err, &denied), errors.As(err, &unimplemented):
		logger.Warn("cannot list the namespace's search attributes; not checked (`steward setup` registers them)",
			slog.String("namespace", t.namespace), slog.String("error", err.Error()))
		return nil
	case err != nil:
		return err
	}
	var missing, wrong []string
	for name, typ := range workflows.SearchAttributes() {
		have, ok := resp.GetCustomAttributes()[name]
		switch {
		case !ok:
			missing = append(missing, name)
		case have != typ:
			wrong = append(wrong, fmt.Sprintf("%s is %s, steward needs %s", name, have, typ))
		}
	}
	slices.Sort(missing)
	slices.Sort(wrong)
	switch {
	case len(wrong) > 0:
		return permanent{fmt.Errorf("search attributes of namespace %q on the Temporal cluster at %s have the wrong type: %s (a type cannot be changed: use another namespace, then `steward setup`)",
			t.namespace, t.hostPort, strings.Join(wrong, "; "))}
	case len(missing) > 0:
		return permanent{fmt.Errorf("namespace %q on the Temporal cluster at %s lacks steward's search attributes %s: run `steward setup` to register them",
			t.namespace, t.hostPort, strings.Join(missing, ", "))}
	}
	return nil
}

// prodDeps is what the worker and the API connect to in production.
type prodDeps struct {
	calendars   *sla.Calendars
	store       *db.Store
	temporal    client.Client
	target      temporalTarget
	stopMetrics func()
}

func (d *prodDeps) close() {
	d.temporal.Close()
	d.stopMetrics()
	_ = d.store.Close()
}

// connect loads the holiday calendars, opens the database and connects to Temporal, waiting for either while
// it does not answer (up to wait, when positive). With lazy, the Temporal client is made without a connection
// (the API serves /readyz meanwhile, answering 503) and the caller waits with readyTemporal.
func connect(ctx context.Context, cfg *appConfig, dsn string, logger *slog.Logger, wait time.Duration, lazy bool) (*prodDeps, error) {
	cals, err := loadCalendars(cfg.holidaysFile, logger)
	if err != nil {
		return nil, err
	}
	if err := servePprof(cfg.pprofAddr, logger); err != nil {
		return nil, fmt.Errorf("pprof: %w", err)
	}
	store, err := openStoreWait(ctx, dsn, logger, wait)
	if err != nil {
		return nil, err
	}
	reg, stopMetrics, _, err := serveMetrics(cfg.metricsAddr, store, logger)
	if err != nil {
		_ = store.Close()
		return nil, err
	}
	fail := func(err error) (*prodDeps, error) {
		stopMetrics()
		_ = store.Close()
		return nil, err
	}
	t, err := loadTemporalTarget(logger, reg.Temporal())
	if err != nil {
		return fail(err)
	}
	var c client.Client
	if lazy {
		c, err = client.NewLazyClient(t.opts)
	} else {
		c, err = t.dialWait(ctx, logger, wait)
	}
	if err != nil {
		return fail(err)
	}
	return &prodDeps{calendars: cals, store: store, temporal: c, target: t, stopMetrics: stopMetrics}, nil
}

// readyTemporal waits until the server answers, then checks that the namespace has steward's search
// attributes.
//
// A namespace or search attributes missing are final only once the server has answered for namespaceSettle:
// a server that has just come up (or a setup that has just run) may not show them on every frontend yet.
func (d *prodDeps) readyTemporal(ctx context.Context, logger *slog.Logger, wait time.Duration) error {
	var answered time.Time
	return waitFor(ctx, logger, "the Temporal server at "+d.target.hostPort+" (namespace "+d.target.namespace+")", wait, func(ctx context.Context) error {
		if _, err := d.temporal.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
			return fmt.Errorf("temporal at %s: %w", d.target.hostPort, err)
		}
		if answered.IsZero() {
			answered = time.Now()
		}
		err := checkSearchAttributes(ctx, d.temporal, d.target, logger)
		if p := (permanent{}); errors.As(err, &p) && time.Since(answered) < namespaceSettle {
			return p.err // retried, and logged, until the settle time has passed
		}
		return err
	})
}

// namespaceSettle is how long after the Temporal server first answers a missing namespace or search
// attribute is still waited for: namespaces and search attributes reach every frontend through its cache.
const namespaceSettle = 5 * time.Second

// DefaultWorkflowCache is how many cases a worker keeps in memory between their workflow tasks (the SDK's
// sticky cache). A cached SOS case costs the worker about 160 KiB of memory: its eight coroutines' stacks,
// its state and the garbage collector's headroom (docs/benchmarks.md, figure 4 and the profile notes: 891 MiB
// with 5,000 cached of 100,000 open). 5,000 keeps the worker under its 1 GiB budget whatever the number of
// open cases, and is far more than the cases that move within minutes of each other on one worker. A case
// beyond it is evicted and replayed from its history when its next timer or step arrives.
const DefaultWorkflowCache = 5000

// workflowCacheFlag registers the worker's workflow cache size.
func workflowCacheFlag(f flags, p *int) {
	f.int(p, "workflow-cache", "STEWARD_WORKFLOW_CACHE", DefaultWorkflowCache,
		"cases kept in memory between their workflow tasks; a case beyond it is replayed from its history when it next moves")
}

// setWorkflowCache bounds the process's workflow cache (the SDK keeps one per process, before any worker starts).
func setWorkflowCache(n int) error {
	if n < 1 {
		return fmt.Errorf("--workflow-cache %d: at least 1", n)
	}
	sdkworker.SetStickyWorkflowCacheSize(n)
	return nil
}

// waitFlag registers the start-up wait of the worker and the API.
func waitFlag(f flags, p *time.Duration) {
	f.DurationVar(p, "wait", envDuration("STEWARD_WAIT", 0), "how long to wait at start for the Temporal server and the database to answer, "+
		"retrying and logging each attempt; 0 waits as long as it takes ($STEWARD_WAIT)")
}

func runWorker(ctx context.Context, args []string, stderr io.Writer) error {
	f := newFlags("worker", stderr)
	var (
		dsn, uiURL string
		cfg        appConfig
		wait       time.Duration
		cache      int
	)
	f.str(&dsn, "database-url", "DATABASE_URL", "", "PostgreSQL URL")
	f.str(&uiURL, "ui-url", "STEWARD_UI_URL", "", "Temporal Web UI base URL, for links in notifications")
	waitFlag(f, &wait)
	workflowCacheFlag(f, &cache)
	cfg.register(f)
	if err := f.Parse(args); err != nil {
		return err
	}
	if err := setWorkflowCache(cache); err != nil {
		return err
	}
	logger := newLogger(stderr, cfg.logLevel)
	d, err := connect(ctx, &cfg, dsn, logger, wait, false)
	if err != nil {
		return err
	}
	defer d.close()
	if err := d.readyTemporal(ctx, logger, wait); err != nil {
		return err
	}
	acts := newActivities(&cfg, d.store, logger, uiURL, d.target.namespace)
	w := worker.New(d.temporal, acts, sdkworker.Options{})
	stopWebhooks := startDispatcher(ctx, &cfg, acts, logger)
	defer stopWebhooks()
	stopReconciler := startReconciler(ctx, &cfg, d.temporal, d.store, logger)
	defer stopReconciler()
	logger.Info("worker started", slog.String("task_queue", workflows.TaskQueue), slog.String("temporal", d.target.hostPort),
		slog.String("namespace", d.target.namespace))
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
		dsn, addr, uiURL string
		cfg              appConfig
		limits           rateLimit
		market           marketplaceSecrets
		wait             time.Duration
	)
	f.str(&dsn, "database-url", "DATABASE_URL", "", "PostgreSQL URL")
	f.str(&addr, "addr", "STEWARD_API_ADDR", ":8080", "address to serve the API on")
	f.str(&uiURL, "ui-url", "STEWARD_UI_URL", "", "Temporal Web UI base URL, for the reports page's links")
	market.register(f)
	waitFlag(f, &wait)
	cfg.register(f)
	limits.register(f)
	if err := f.Parse(args); err != nil {
		return err
	}
	if err := limits.validate(); err != nil {
		return err
	}
	secrets, err := market.resolve()
	if err != nil {
		return err
	}
	logger := newLogger(stderr, cfg.logLevel)
	d, err := connect(ctx, &cfg, dsn, logger, wait, true)
	if err != nil {
		return err
	}
	defer d.close()
	stop, bound, err := serveAPI(ctx, addr, api.New(api.Config{
		Temporal: d.temporal, Store: d.store, Logger: logger, MarketplaceSecrets: secrets,
		HolidayWarnings: holidayWarnings(d.calendars), AcceptTimeout: cfg.accept,
		RateLimit: limits.perSecond, RateBurst: limits.burst, WebUIURL: uiURL, Namespace: d.target.namespace,
		AuthFailureLimit: limits.authPerSecond, AuthFailureBurst: limits.authBurst, TrustedProxies: limits.proxies,
		PDF: cfg.pdf.renderer(logger),
	}), logger)
	if err != nil {
		return err
	}
	defer stop()
	// Serving already: /readyz answers 503 until Temporal answers.
	logger.Info("api serving", slog.String("addr", bound))
	if err := d.readyTemporal(ctx, logger, wait); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	logger.Info("api ready", slog.String("temporal", d.target.hostPort), slog.String("namespace", d.target.namespace))
	<-ctx.Done()
	return nil
}

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("migrate", stderr)
	var (
		dsn  string
		wait time.Duration
	)
	f.str(&dsn, "database-url", "DATABASE_URL", "", "database URL (postgres://… or sqlite:PATH)")
	f.DurationVar(&wait, "wait", envDuration("STEWARD_SETUP_WAIT", 2*time.Minute), "how long to wait for the database to answer, retrying and logging each attempt ($STEWARD_SETUP_WAIT)")
	if err := f.Parse(args); err != nil {
		return err
	}
	store, err := openStoreWait(ctx, dsn, newLogger(stderr, "info"), wait)
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

// DefaultRetention is how long a namespace `steward setup` creates keeps closed cases' histories.
const DefaultRetention = 30 * 24 * time.Hour

// retention is a duration flag that also takes whole days ("30d").
type retention struct{ d *time.Duration }

func (r retention) String() string {
	if r.d == nil {
		return ""
	}
	return formatRetention(*r.d)
}

func (r retention) Set(s string) error {
	d, err := parseRetention(s)
	if err != nil {
		return err
	}
	*r.d = d
	return nil
}

func parseRetention(s string) (time.Duration, error) {
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, fmt.Errorf("retention %q: want days (30d) or a Go duration (720h)", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("retention %q: want days (30d) or a Go duration (720h)", s)
		}
	}
	if d < 24*time.Hour {
		return 0, fmt.Errorf("retention %q: Temporal keeps closed workflows at least a day", s)
	}
	return d, nil
}

func formatRetention(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	}
	return d.String()
}

func runSetup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("setup", stderr)
	var (
		keep     = DefaultRetention
		create   bool
		wait     time.Duration
		logLevel string
	)
	if v, ok := os.LookupEnv("STEWARD_NAMESPACE_RETENTION"); ok {
		if d, err := parseRetention(v); err == nil {
			keep = d
		}
	}
	f.Var(retention{&keep}, "retention", "how long the namespace keeps closed cases' histories, when setup creates it: days (30d) or a duration ($STEWARD_NAMESPACE_RETENTION)")
	f.boolean(&create, "create-namespace", "STEWARD_CREATE_NAMESPACE", true, "create the namespace (TEMPORAL_NAMESPACE) when it does not exist; false fails instead")
	f.DurationVar(&wait, "wait", envDuration("STEWARD_SETUP_WAIT", 2*time.Minute), "how long to wait for the server, the namespace and the search attributes, retrying and logging each attempt ($STEWARD_SETUP_WAIT)")
	f.str(&logLevel, "log-level", "STEWARD_LOG_LEVEL", "info", "debug, info, warn or error")
	if err := f.Parse(args); err != nil {
		return err
	}
	logger := newLogger(stderr, logLevel)
	t, err := loadTemporalTarget(logger, nil)
	if err != nil {
		return err
	}
	start := time.Now()
	deadline := func() time.Duration { // what is left of wait, for the next step
		if wait <= 0 {
			return 0
		}
		return max(wait-time.Since(start), time.Second)
	}
	c, err := t.dialWait(ctx, logger, deadline())
	if err != nil {
		return err
	}
	defer c.Close()

	created, err := ensureNamespace(ctx, c, t, keep, create, logger, deadline())
	if err != nil {
		return err
	}
	if created {
		fmt.Fprintf(stdout, "created namespace %q on %s (retention %s)\n", t.namespace, t.hostPort, formatRetention(keep))
	} else {
		fmt.Fprintf(stdout, "namespace %q exists on %s\n", t.namespace, t.hostPort)
	}
	// A namespace just created reaches the frontend's namespace cache within its refresh interval.
	if err := waitAt(ctx, logger, slog.LevelInfo, fmt.Sprintf("namespace %q to be usable on the frontend", t.namespace), deadline(), func(ctx context.Context) error {
		_, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: t.namespace})
		return err
	}); err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(ctx, max(deadline(), 30*time.Second))
	added, err := devserver.EnsureSearchAttributes(sctx, c, t.namespace, workflows.SearchAttributes())
	cancel()
	if err != nil {
		return err
	}
	if len(added) == 0 {
		fmt.Fprintln(stdout, "search attributes already registered")
	} else {
		fmt.Fprintln(stdout, "registered search attributes:", added)
	}
	// Until the frontend knows the new attributes, a start that sets them is refused: wait for a query on them.
	if err := waitAt(ctx, logger, slog.LevelInfo, "the search attributes to be usable on the frontend", deadline(), func(ctx context.Context) error {
		if err := checkSearchAttributes(ctx, c, t, logger); err != nil {
			if p := (permanent{}); errors.As(err, &p) {
				return p.err // here, not yet visible: wait
			}
			return err
		}
		return countOnSearchAttributes(ctx, c, t.namespace)
	}); err != nil {
		return err
	}
	return nil
}

// ensureNamespace creates the namespace when it does not exist and create is set, and reports whether it did.
// Without create, or when the server refuses to create it (Temporal Cloud), a missing namespace is an error at
// once, naming it and how to create it.
func ensureNamespace(ctx context.Context, c client.Client, t temporalTarget, keep time.Duration, create bool, logger *slog.Logger, wait time.Duration) (bool, error) {
	how := fmt.Sprintf("create it with `temporal operator namespace create --namespace %s --retention %s --address %s` (or in Temporal Cloud), or run `steward setup` with -create-namespace=true",
		t.namespace, formatRetention(keep), t.hostPort)
	created := false
	err := waitFor(ctx, logger, fmt.Sprintf("namespace %q on %s", t.namespace, t.hostPort), wait, func(ctx context.Context) error {
		_, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: t.namespace})
		var notFound *serviceerror.NamespaceNotFound
		var nf *serviceerror.NotFound
		if err == nil || !(errors.As(err, &notFound) || errors.As(err, &nf)) {
			return err
		}
		if !create {
			return permanent{fmt.Errorf("namespace %q does not exist on the Temporal cluster at %s: %s", t.namespace, t.hostPort, how)}
		}
		_, err = c.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
			Namespace:                        t.namespace,
			Description:                      "steward: managed-security service cases",
			WorkflowExecutionRetentionPeriod: durationpb.New(keep),
		})
		var exists *serviceerror.NamespaceAlreadyExists
		var denied *serviceerror.PermissionDenied
		var unimplemented *serviceerror.Unimplemented
		var invalid *serviceerror.InvalidArgument
		switch {
		case err == nil:
			created = true
			return nil
		case errors.As(err, &exists):
			return nil
		case errors.As(err, &denied), errors.As(err, &unimplemented), errors.As(err, &invalid):
			return permanent{fmt.Errorf("namespace %q does not exist on the Temporal cluster at %s and steward could not create it (%v): %s", t.namespace, t.hostPort, err, how)}
		}
		return fmt.Errorf("register namespace %q: %w", t.namespace, err)
	})
	return created, err
}

// countOnSearchAttributes runs a visibility query naming every steward search attribute: the frontend accepts
// it only once its namespace cache knows them.
func countOnSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	want := workflows.SearchAttributes()
	terms := make([]string, 0, len(want))
	for _, name := range slices.Sorted(maps.Keys(want)) {
		terms = append(terms, fmt.Sprintf("`%s` IS NULL", name))
	}
	_, err := c.WorkflowService().CountWorkflowExecutions(ctx, &workflowservice.CountWorkflowExecutionsRequest{
		Namespace: namespace, Query: strings.Join(terms, " OR "),
	})
	return err
}
