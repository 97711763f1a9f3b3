package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/steward-oss/steward/api"
	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/devserver"
	"github.com/steward-oss/steward/worker"
	"github.com/steward-oss/steward/workflows"
)

// DevCredentials is what `steward dev` writes to <data dir>/dev-credentials.json for scripts.
type DevCredentials struct {
	MarketplaceSecret string            `json:"marketplace_secret"`
	ManagerToken      string            `json:"manager_token"`
	Partners          map[string]string `json:"partners"`
	APIURL            string            `json:"api_url"`
	UIURL             string            `json:"ui_url"`
	TemporalAddress   string            `json:"temporal_address"`
	Namespace         string            `json:"namespace"`
	WebhookSecret     string            `json:"webhook_secret,omitempty"`
}

// demoPartners are the partner companies the dev stack starts with; together they serve every service, so
// every lifecycle can be walked through.
var demoPartners = []db.Partner{
	{ID: "demo-sec-a", Name: "Demo Security A", Services: []string{workflows.ServiceSOS, workflows.ServiceDengbao}, Onsite: true, Capacity: 5, SlackChannel: "#partner-demo-sec-a", Active: true},
	{ID: "demo-sec-b", Name: "Demo Security B", Services: []string{workflows.ServiceSOS}, Onsite: false, Capacity: 3, SlackChannel: "#partner-demo-sec-b", Active: true},
	{ID: "demo-sec-c", Name: "Demo Security C", Services: []string{workflows.ServiceButler, workflows.ServiceHosting, workflows.ServiceEscort,
		workflows.ServiceConsulting, workflows.ServiceTraining, workflows.ServiceAssessment, workflows.ServiceCodeAudit, workflows.ServiceOnboarding},
		Capacity: 10, SlackChannel: "#partner-demo-sec-c", Active: true},
}

func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("dev", stderr)
	var (
		dataDir, ip, secret, namespace string
		webhookURL                     string
		apiPort, uiPort, temporalPort  int
		cache                          int
		uiWrites                       bool
		cfg                            appConfig
		limits                         rateLimit
	)
	f.str(&dataDir, "data-dir", "STEWARD_DATA_DIR", "./data", "where the Temporal and app databases live")
	f.str(&ip, "ip", "STEWARD_IP", "127.0.0.1", "address to listen on")
	f.int(&apiPort, "api-port", "STEWARD_API_PORT", 8080, "API port (0: any free port)")
	f.int(&uiPort, "ui-port", "STEWARD_UI_PORT", 8233, "Temporal Web UI port (0: no UI; -1: any free port)")
	f.int(&temporalPort, "temporal-port", "STEWARD_TEMPORAL_PORT", 7233, "Temporal frontend port (-1: any free port)")
	f.boolean(&uiWrites, "ui-write-actions", "STEWARD_UI_WRITE_ACTIONS", false, "let the Web UI terminate, reset, cancel, signal, update, pause or start workflows and run batch actions; off by default, since they bypass the service's rules (refunds, cancellation) that the API applies")
	f.str(&secret, "marketplace-secret", "STEWARD_MARKETPLACE_SECRET", "", "marketplace HMAC secret (default: generated once, kept in the data dir)")
	f.str(&namespace, "namespace", "TEMPORAL_NAMESPACE", "default", "Temporal namespace")
	f.str(&webhookURL, "webhook-url", "STEWARD_WEBHOOK_URL", "", "subscribe this URL to every webhook event (loopback allowed; its secret goes to dev-credentials.json as webhook_secret)")
	workflowCacheFlag(f, &cache)
	cfg.metricsAddr = defaultDevMetricsAddr
	cfg.register(f)
	limits.register(f)
	if err := f.Parse(args); err != nil {
		return err
	}
	if err := limits.validate(); err != nil {
		return err
	}
	if err := setWorkflowCache(cache); err != nil {
		return err
	}
	logger := newLogger(stderr, cfg.logLevel)
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	cals, err := loadCalendars(cfg.holidaysFile, logger)
	if err != nil {
		return err
	}
	if _, err := compressionFor(""); err != nil { // a bad STEWARD_TEMPORAL_COMPRESSION, before anything starts
		return err
	}

	srv, err := devserver.Start(ctx, devserver.Options{
		DataDir: dataDir, IP: ip, FrontendPort: temporalPort, UIPort: uiPort, UIWriteActions: uiWrites, Namespace: namespace,
		SearchAttributes: workflows.SearchAttributes(), Logger: logger,
	})
	if err != nil {
		return fmt.Errorf("temporal: %w", err)
	}
	defer func() { _ = srv.Stop() }()

	store, err := db.Open(ctx, "sqlite:"+filepath.Join(dataDir, "steward.db"))
	if err != nil {
		return err
	}
	defer store.Close()
	if err := useSecretKey(store); err != nil {
		return err
	}
	if err := store.Migrate(ctx); err != nil {
		return err
	}
	creds, err := devCredentials(ctx, store, filepath.Join(dataDir, "dev-credentials.json"), secret)
	if err != nil {
		return err
	}
	webhookID := ""
	if webhookURL != "" {
		if webhookID, err = devWebhook(ctx, store, creds, webhookURL, logger); err != nil {
			return err
		}
	}

	// Metrics are a convenience here: an address in use (another steward dev) is a warning, not a failure.
	metricsURL := "(disabled)"
	reg, stopMetrics, metricsAddr, err := serveMetrics(cfg.metricsAddr, store, logger)
	switch {
	case err != nil:
		logger.Warn("metrics not served", slog.Any("error", err))
		metricsURL, stopMetrics = "(not served: "+err.Error()+")", func() {}
	case metricsAddr != "":
		metricsURL = "http://" + metricsAddr + "/metrics"
	}
	defer stopMetrics()

	compression, err := compressionFor(srv.FrontendHostPort())
	if err != nil {
		return err
	}
	c, err := client.Dial(client.Options{HostPort: srv.FrontendHostPort(), Namespace: namespace, Logger: temporalLogger(logger),
		ConnectionOptions: client.ConnectionOptions{GrpcCompression: compression}, MetricsHandler: reg.Temporal()})
	if err != nil {
		return fmt.Errorf("temporal client: %w", err)
	}
	defer c.Close()
	acts := newActivities(&cfg, store, logger, srv.UIURL(), namespace)
	w := worker.New(c, acts, sdkworker.Options{})
	if err := w.Start(); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	defer w.Stop()
	stopWebhooks := startDispatcher(ctx, &cfg, acts, logger)
	defer stopWebhooks()
	stopReconciler := startReconciler(ctx, &cfg, c, store, logger)
	defer stopReconciler()

	stopAPI, apiAddr, err := serveAPI(ctx, fmt.Sprintf("%s:%d", ip, apiPort), api.New(api.Config{
		Temporal: c, Store: store, Logger: logger, MarketplaceSecret: []byte(creds.MarketplaceSecret),
		HolidayWarnings: holidayWarnings(cals), AcceptTimeout: cfg.accept,
		RateLimit: limits.perSecond, RateBurst: limits.burst,
		AuthFailureLimit: limits.authPerSecond, AuthFailureBurst: limits.authBurst, TrustedProxies: limits.proxies,
		WebUIURL: srv.UIURL(), Namespace: namespace, PDF: cfg.pdf.renderer(logger),
	}), logger)
	if err != nil {
		return err
	}
	defer stopAPI()

	creds.APIURL, creds.UIURL = "http://"+apiAddr, srv.UIURL()
	creds.TemporalAddress, creds.Namespace = srv.FrontendHostPort(), namespace
	credPath := filepath.Join(dataDir, "dev-credentials.json")
	if err := writeJSON(credPath, creds); err != nil {
		return err
	}
	fmt.Fprintf(stdout, `
steward dev is running.
  API            %s   (OpenAPI: %s/v1/openapi.yaml)
  Temporal UI    %s
  Temporal       %s   namespace %s
  Metrics        %s
  Data           %s
  Marketplace secret (STEWARD_MARKETPLACE_SECRET)  %s
  Manager token                                    %s
`, creds.APIURL, creds.APIURL, orNone(creds.UIURL), creds.TemporalAddress, namespace, metricsURL, dataDir, creds.MarketplaceSecret, creds.ManagerToken)
	for _, p := range demoPartners {
		fmt.Fprintf(stdout, "  Partner %-12s token                      %s\n", p.ID, creds.Partners[p.ID])
	}
	if webhookID != "" {
		fmt.Fprintf(stdout, "  Webhooks       %s   every event (subscription %s)\n", webhookURL, webhookID)
		fmt.Fprintf(stdout, "  %-47s  %s\n", "Webhook secret (webhook_secret)", creds.WebhookSecret)
	}
	fmt.Fprintf(stdout, "  These are also in %s. Ctrl-C stops; open cases resume on the next start.\n\n", credPath)

	<-ctx.Done()
	logger.Info("stopping")
	return nil
}

// defaultDevMetricsAddr is where steward dev serves /metrics unless --metrics-addr says otherwise.
const defaultDevMetricsAddr = "127.0.0.1:9464"

func orNone(s string) string {
	if s == "" {
		return "(disabled)"
	}
	return s
}

// devCredentials keeps the dev stack's secrets stable across restarts: read from the credentials file when
// present, generated once otherwise; the demo partners and their tokens are created if missing.
func devCredentials(ctx context.Context, store *db.Store, path, secret string) (*DevCredentials, error) {
	creds := &DevCredentials{Partners: map[string]string{}}
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, creds); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if creds.Partners == nil {
			creds.Partners = map[string]string{}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if secret != "" {
		creds.MarketplaceSecret = secret
	}
	if creds.MarketplaceSecret == "" {
		creds.MarketplaceSecret = "dev_" + randomHex(24)
	}
	if creds.ManagerToken == "" {
		creds.ManagerToken = "stw_dev_manager_" + randomHex(16)
	}
	if _, err := store.IssueTokenWithSecret(ctx, db.RoleManager, "", "demo manager", creds.ManagerToken); err != nil {
		return nil, fmt.Errorf("manager token: %w", err)
	}
	for _, p := range demoPartners {
		p.CreatedAt = time.Now().UTC()
		if err := store.AddPartner(ctx, &p); err != nil && !errors.Is(err, db.ErrConflict) {
			return nil, fmt.Errorf("partner %s: %w", p.ID, err)
		}
		if creds.Partners[p.ID] == "" {
			creds.Partners[p.ID] = "stw_dev_" + p.ID + "_" + randomHex(16)
		}
		if _, err := store.IssueTokenWithSecret(ctx, db.RolePartner, p.ID, "demo engineer of "+p.ID, creds.Partners[p.ID]); err != nil {
			return nil, fmt.Errorf("partner %s token: %w", p.ID, err)
		}
	}
	return creds, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// runTemporal starts only the embedded Temporal server (and its Web UI) with steward's namespace and search
// attributes, for running `steward worker` and `steward api` as separate processes beside it.
func runTemporal(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("temporal", stderr)
	var (
		dataDir, ip, namespace, logLevel, pprofAddr string
		uiPort, temporalPort                        int
		uiWrites                                    bool
	)
	f.str(&dataDir, "data-dir", "STEWARD_DATA_DIR", "./data", "where the Temporal database lives")
	f.str(&ip, "ip", "STEWARD_IP", "127.0.0.1", "address to listen on")
	f.int(&uiPort, "ui-port", "STEWARD_UI_PORT", 8233, "Temporal Web UI port (0: no UI; -1: any free port)")
	f.int(&temporalPort, "temporal-port", "STEWARD_TEMPORAL_PORT", 7233, "Temporal frontend port (-1: any free port)")
	f.str(&namespace, "namespace", "TEMPORAL_NAMESPACE", "default", "Temporal namespace")
	f.boolean(&uiWrites, "ui-write-actions", "STEWARD_UI_WRITE_ACTIONS", false, "let the Web UI terminate, reset, cancel, signal, update, pause or start workflows and run batch actions; off by default, since they bypass the service's rules (refunds, cancellation) that the API applies")
	f.str(&logLevel, "log-level", "STEWARD_LOG_LEVEL", "info", "debug, info, warn or error")
	f.str(&pprofAddr, "pprof-addr", "STEWARD_PPROF_ADDR", "", "serve Go profiles (/debug/pprof/) on this address, e.g. 127.0.0.1:6060; off when empty")
	if err := f.Parse(args); err != nil {
		return err
	}
	logger := newLogger(stderr, logLevel)
	if err := servePprof(pprofAddr, logger); err != nil {
		return fmt.Errorf("pprof: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	srv, err := devserver.Start(ctx, devserver.Options{
		DataDir: dataDir, IP: ip, FrontendPort: temporalPort, UIPort: uiPort, UIWriteActions: uiWrites, Namespace: namespace,
		SearchAttributes: workflows.SearchAttributes(), Logger: logger,
	})
	if err != nil {
		return fmt.Errorf("temporal: %w", err)
	}
	defer func() { _ = srv.Stop() }()
	fmt.Fprintf(stdout, "temporal %s namespace %s ui %s\n", srv.FrontendHostPort(), namespace, orNone(srv.UIURL()))
	<-ctx.Done()
	logger.Info("stopping")
	return nil
}
