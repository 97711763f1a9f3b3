package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"
	sdklog "go.temporal.io/sdk/log"

	"github.com/steward-oss/steward/activities"
	"github.com/steward-oss/steward/api"
	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/metrics"
	"github.com/steward-oss/steward/notifications"
	"github.com/steward-oss/steward/sla"
	"github.com/steward-oss/steward/workflows"
)

// appConfig is what both the dev stack and production commands configure.
type appConfig struct {
	slackToken  string
	slackOps    string
	slackAPIURL string
	// dingtalkAPIURL sends every DingTalk robot call to another base URL (a proxy, a fake robot server).
	dingtalkAPIURL string
	holidaysFile   string
	logLevel       string
	pprofAddr      string
	metricsAddr    string // its default is set before register: off in production, on in steward dev
	accept         time.Duration
	smtp           notifications.SMTP
	pdf            pdfConfig // pdf.go

	dingOnce sync.Once
	ding     *notifications.DingTalk
}

func (c *appConfig) register(f flags) {
	f.str(&c.slackToken, "slack-token", "SLACK_BOT_TOKEN", "", "Slack bot token; without one, notifications go to the log")
	f.str(&c.slackOps, "slack-ops-channel", "STEWARD_SLACK_OPS_CHANNEL", "#steward-ops", "Slack channel for operations")
	f.str(&c.slackAPIURL, "slack-api-url", "STEWARD_SLACK_API_URL", "", "Slack Web API base URL (default: Slack's own; set for a proxy or a test peer)")
	f.str(&c.dingtalkAPIURL, "dingtalk-api-url", "STEWARD_DINGTALK_API_URL", "", "base URL for every DingTalk robot call, keeping the webhook's path and query (default: the webhook's own; set for a proxy or a test peer)")
	f.str(&c.holidaysFile, "holiday-files", sla.EnvHolidayFiles, "", "extra holiday data files, comma-separated (a year not built in)")
	f.DurationVar(&c.accept, "accept-timeout", envDuration("STEWARD_ACCEPT_TIMEOUT", workflows.DefaultAcceptTimeout), "how long an offered partner has to accept a case ($STEWARD_ACCEPT_TIMEOUT)")
	f.str(&c.smtp.Addr, "smtp-addr", "STEWARD_SMTP_ADDR", "", "SMTP server host:port for report e-mail; without one, e-mail goes to the log")
	f.str(&c.smtp.From, "smtp-from", "STEWARD_SMTP_FROM", "steward@localhost", "sender of report e-mail")
	f.str(&c.smtp.Username, "smtp-username", "STEWARD_SMTP_USERNAME", "", "SMTP user (AUTH PLAIN)")
	f.str(&c.smtp.Password, "smtp-password", "STEWARD_SMTP_PASSWORD", "", "SMTP password")
	f.str(&c.logLevel, "log-level", "STEWARD_LOG_LEVEL", "info", "debug, info, warn or error")
	f.str(&c.pprofAddr, "pprof-addr", "STEWARD_PPROF_ADDR", "", "serve Go profiles (/debug/pprof/) on this address, e.g. 127.0.0.1:6060; off when empty")
	f.str(&c.metricsAddr, "metrics-addr", "STEWARD_METRICS_ADDR", c.metricsAddr, "serve Prometheus metrics (/metrics) on this address, e.g. :9464; off when empty")
	c.pdf.register(f)
}

// serveMetrics serves the process's Prometheus metrics, with the figures read from store, on addr until
// stop is called. With no addr it serves nothing and returns a nil registry, whose Temporal() handler is
// nil (no SDK metrics).
func serveMetrics(addr string, store *db.Store, logger *slog.Logger) (reg *metrics.Registry, stop func(), bound string, err error) {
	if addr == "" {
		return nil, func() {}, "", nil
	}
	reg = metrics.New(metrics.Options{Store: store, CacheFor: metrics.DefaultCacheFor, Logger: logger})
	stop, bound, err = reg.Serve(addr, logger)
	if err != nil {
		return nil, nil, "", err
	}
	logger.Info("metrics serving", slog.String("addr", bound), slog.String("path", "/metrics"))
	return reg, stop, bound, nil
}

// notifier is where ops and partner notifications go: Slack with a token (else the log), and the partner's
// DingTalk robot when it has one.
func (c *appConfig) notifier(logger *slog.Logger) notifications.Notifier {
	var base notifications.Notifier = &notifications.Log{Logger: logger}
	if c.slackToken != "" {
		var opts []slack.Option
		if c.slackAPIURL != "" {
			opts = append(opts, slack.OptionAPIURL(strings.TrimSuffix(c.slackAPIURL, "/")+"/"))
		}
		base = notifications.NewSlack(c.slackToken, c.slackOps, opts...)
	}
	return notifications.WithDingTalk(base, c.dingTalk(logger))
}

// dingTalk is the process's one DingTalk robot client, so that every robot's per-minute limit is kept
// across whatever sends to it.
func (c *appConfig) dingTalk(logger *slog.Logger) *notifications.DingTalk {
	c.dingOnce.Do(func() {
		c.ding = notifications.NewDingTalk(notifications.DingTalkOptions{APIURL: c.dingtalkAPIURL, Logger: logger})
	})
	return c.ding
}

// useSecretKey makes store seal and open secrets (DingTalk robots' webhooks and secrets) with the key in
// STEWARD_SECRET_KEY; a malformed key fails the command at start, not at the first secret.
func useSecretKey(store *db.Store) error {
	return store.SetSecretKey(os.Getenv(db.SecretKeyEnv))
}

func (c *appConfig) mailer(logger *slog.Logger) notifications.Mailer {
	if c.smtp.Addr == "" {
		return &notifications.LogMailer{Logger: logger}
	}
	m := c.smtp
	return &m
}

func newActivities(c *appConfig, store *db.Store, logger *slog.Logger, uiURL, namespace string) *activities.Activities {
	return &activities.Activities{Store: store, Notifier: c.notifier(logger), Mailer: c.mailer(logger), PDF: c.pdf.renderer(logger),
		UIBaseURL: uiURL, Namespace: namespace, Logger: logger, Wakeup: make(chan struct{}, 1)}
}

// serveAPI serves the API on addr (port 0 picks a free one) until stop is called, then shuts down
// gracefully. It returns the address it listens on.
func serveAPI(ctx context.Context, addr string, srv *api.Server, logger *slog.Logger) (stop func(), bound string, err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", fmt.Errorf("api: listen on %s: %w", addr, err)
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(ln); err != nil && err != http.ErrServerClosed {
			logger.Error("api server stopped", slog.Any("error", err))
		}
	}()
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
		<-done
	}, ln.Addr().String(), nil
}

// temporalLogger quiets the SDK's own logging to warnings.
func temporalLogger(logger *slog.Logger) sdklog.Logger {
	return sdklog.NewStructuredLogger(slog.New(&minLevel{Handler: logger.Handler(), min: slog.LevelWarn}))
}

type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h *minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h *minLevel) WithAttrs(a []slog.Attr) slog.Handler {
	return &minLevel{Handler: h.Handler.WithAttrs(a), min: h.min}
}

func (h *minLevel) WithGroup(n string) slog.Handler {
	return &minLevel{Handler: h.Handler.WithGroup(n), min: h.min}
}

func envDuration(env string, def time.Duration) time.Duration {
	if v, ok := os.LookupEnv(env); ok {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return def
}
