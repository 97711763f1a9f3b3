// Package metrics is steward's Prometheus instrumentation: a registry per process served on /metrics
// (--metrics-addr), holding the Go runtime's and the process's metrics, the Temporal SDK's (through
// Registry.Temporal, the client's metrics handler), steward's own counters of what this process does (API
// requests, webhook and notification attempts) and the business figures read from the database at each
// scrape (cases, SLA clocks, refunds, the notification and webhook queues).
//
// The figures from the database are the same in every process that serves them: a dashboard takes
// max() over instances, not sum(). Everything this process counts itself is per process, to sum().
package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.temporal.io/sdk/client"

	"github.com/steward-oss/steward/db"
)

// Namespace prefixes steward's own metric names.
const Namespace = "steward"

// DefaultCacheFor is how long the figures read from the database are reused between scrapes in production,
// so several scrapers (or a fast scrape interval) cost the database one read per interval.
const DefaultCacheFor = 15 * time.Second

// The counters of what this process does. They live for the process and are registered in every Registry
// it makes (there is one per process, besides tests).
var (
	apiRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "api_requests_total",
		Help: "API requests answered, by method, route (the route's pattern, never the URL) and status.",
	}, []string{"method", "route", "status"})
	apiDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "api_request_duration_seconds",
		Help:    "Time to answer an API request, by method and route.",
		Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
	}, []string{"method", "route"})
	webhookAttempts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "webhook_attempts_total",
		Help: "Webhook delivery attempts made by this process's dispatcher, by result: delivered, retry (failed, to be retried), failed (given up), interrupted (cut short by a stop).",
	}, []string{"result"})
	webhookDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "webhook_attempt_duration_seconds",
		Help:    "Time a webhook receiver took to answer an attempt (or to fail it).",
		Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
	})
	notificationAttempts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "notification_attempts_total",
		Help: "Notification deliveries attempted by this process's activities, by result: sent, retry (a temporary failure, retried), undeliverable (given up).",
	}, []string{"result"})
)

// Results of a webhook attempt (WebhookAttempt).
const (
	WebhookDelivered   = "delivered"
	WebhookRetry       = "retry"
	WebhookFailed      = "failed"
	WebhookInterrupted = "interrupted"
)

// Results of a notification attempt (NotificationAttempt).
const (
	NotificationSent          = "sent"
	NotificationRetry         = "retry"
	NotificationUndeliverable = "undeliverable"
)

// WebhookAttempt counts one webhook delivery attempt and how long the receiver took.
func WebhookAttempt(result string, took time.Duration) {
	webhookAttempts.WithLabelValues(result).Inc()
	webhookDuration.Observe(took.Seconds())
}

// NotificationAttempt counts one notification delivery attempt.
func NotificationAttempt(result string) {
	notificationAttempts.WithLabelValues(result).Inc()
}

// Echo is the API's middleware counting each request by method, route and status, and timing it. The
// route is the pattern the request matched (c.Path(), "/v1/cases/:id"), or "unmatched" when no route has
// that method and pattern (a 404 or 405 of the router), so a scan of random URLs adds no series. Register
// it first (outermost), so it sees the status the error handler answers with.
func Echo() echo.MiddlewareFunc {
	var (
		once   sync.Once
		routes map[string]bool
	)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			if err != nil && !c.Response().Committed {
				c.Error(err) // what Echo does with it, now, so the status is known
				err = nil
			}
			once.Do(func() { // the routes are all added before the first request
				routes = map[string]bool{}
				for _, r := range c.Echo().Routes() {
					routes[r.Method+" "+r.Path] = true
				}
			})
			method, route := c.Request().Method, c.Path()
			if !routes[method+" "+route] {
				route = "unmatched"
				if !knownMethod(method) {
					method = "OTHER"
				}
			}
			apiRequests.WithLabelValues(method, route, strconv.Itoa(c.Response().Status)).Inc()
			apiDuration.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
			return err
		}
	}
}

func knownMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return true
	}
	return false
}

// Options configure a Registry.
type Options struct {
	// Store is the database the business figures are read from; nil leaves them out.
	Store *db.Store
	// CacheFor is how long a read of the database serves scrapes; zero reads at every scrape.
	CacheFor time.Duration
	// Timeout bounds one read of the database (default 5 s).
	Timeout time.Duration
	// Logger logs a failed read (default slog.Default()).
	Logger *slog.Logger
}

// Registry is one process's metrics.
type Registry struct {
	*prometheus.Registry
	temporal *temporalCollector
}

// New returns a registry with the Go runtime's and the process's collectors, the Temporal SDK's metrics
// (fed by Temporal()), the process's own counters and, when o.Store is set, the figures of the database.
func New(o Options) *Registry {
	r := &Registry{Registry: prometheus.NewRegistry(), temporal: newTemporalCollector()}
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		apiRequests, apiDuration, webhookAttempts, webhookDuration, notificationAttempts, r.temporal)
	if o.Store != nil {
		r.MustRegister(newStoreCollector(o))
	}
	return r
}

// Temporal is the metrics handler to give the Temporal client (client.Options.MetricsHandler): the SDK's
// metrics (workflow task latency, schedule-to-start, sticky cache, requests, pollers, slots, …) go into r.
// A nil Registry gives nil, which the SDK takes for no metrics.
func (r *Registry) Temporal() client.MetricsHandler {
	if r == nil {
		return nil
	}
	return &sdkHandler{c: r.temporal}
}

// Handler serves r in Prometheus's exposition formats (promhttp): a collector that fails is left out of
// the answer, not the whole answer.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r, promhttp.HandlerOpts{Registry: r, ErrorHandling: promhttp.ContinueOnError, Timeout: 30 * time.Second})
}

// Serve serves r's Handler on addr at /metrics until stop is called; it returns the address it listens on.
func (r *Registry) Serve(addr string, logger *slog.Logger) (stop func(), bound string, err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", fmt.Errorf("metrics: listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", r.Handler())
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: time.Minute}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && logger != nil {
			logger.Error("metrics server stopped", slog.Any("error", err))
		}
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
		<-done
	}, ln.Addr().String(), nil
}
