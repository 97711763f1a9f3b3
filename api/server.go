// Package api is steward's HTTP API (v1): the marketplace's signed callbacks, partner engineers' steps and
// managers' views, over the Temporal client and the database. Errors are application/problem+json.
package api

import (
	"context"
	_ "embed"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"go.temporal.io/sdk/client"

	"github.com/steward-oss/steward/activities"
	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/metrics"
	"github.com/steward-oss/steward/workflows"
	"github.com/steward-oss/steward/workflows/butler"
	"github.com/steward-oss/steward/workflows/engagement"
	"github.com/steward-oss/steward/workflows/hosting"
	"github.com/steward-oss/steward/workflows/sos"
)

// bodyLimit bounds every request body.
const bodyLimit = "1M"

//go:embed openapi.yaml
var openapiYAML []byte

// Config is what the API needs.
type Config struct {
	Temporal client.Client
	Store    *db.Store
	Logger   *slog.Logger
	// MarketplaceSecret signs marketplace calls (STEWARD_MARKETPLACE_SECRET).
	MarketplaceSecret []byte
	// MarketplaceSecrets, when set, are the secrets marketplace calls may be signed with, the current one
	// first and the previous one while a rotation lasts (STEWARD_MARKETPLACE_SECRETS); it replaces
	// MarketplaceSecret.
	MarketplaceSecrets [][]byte
	// Now is the clock; nil means time.Now. Tests set it to check the signature window.
	Now func() time.Time
	// HolidayWarnings lists what is missing from the holiday calendars (e.g. a year with no data); /readyz
	// shows it.
	HolidayWarnings func(now time.Time) []string
	// AcceptTimeout is how long an offered partner has to accept a case; zero means the workflows' default.
	AcceptTimeout time.Duration
	// RateLimit is how many requests per second each credential may make: each bearer token, by its token
	// ID, and the marketplace's signed calls together. Zero turns rate limiting off.
	RateLimit float64
	// RateBurst is how many requests a credential may make at once before RateLimit applies; zero means
	// RateLimit rounded up.
	RateBurst int
	// AuthFailureLimit is how many requests a second each client address may fail authentication (an
	// unknown, expired or revoked token, a bad signature) once AuthFailureBurst is spent; over it the API
	// answers 429 with Retry-After without checking the credential. Zero turns it off.
	AuthFailureLimit float64
	// AuthFailureBurst is how many of an address's requests may fail authentication at once; zero means
	// AuthFailureLimit rounded up.
	AuthFailureBurst int
	// TrustedProxies are the proxies whose X-Forwarded-For names the client address (the rightmost entry
	// not one of them); without any, the client address is the connection's peer and the header is ignored.
	TrustedProxies []netip.Prefix
	// WebUIURL is the Temporal Web UI's base URL: the managers' page (/reports) links each figure to the UI's
	// list of the matching workflows. Empty: no links.
	WebUIURL string
	// Namespace is the cases' Temporal namespace, for those links; empty means "default".
	Namespace string
	// PDF renders reports as PDF (GET /v1/cases/{id}/report?format=pdf); nil answers such requests 503.
	PDF *activities.PDF
}

// Server holds the API's dependencies; its methods are the handlers.
type Server struct {
	temporal client.Client
	store    *db.Store
	logger   *slog.Logger
	secrets  [][]byte
	clock    func() time.Time
	holidays func(time.Time) []string
	accept   time.Duration
	pdf      *activities.PDF
	echo     *echo.Echo
	// authLimit bounds the requests each client address may fail authentication with; nil: no bound.
	authLimit *authLimiter
	// previousLogged is when (Unix nanoseconds) a call signed with the previous marketplace secret was last
	// logged.
	previousLogged atomic.Int64
}

// New builds the API and its routes.
func New(cfg Config) *Server {
	s := &Server{
		temporal: cfg.Temporal, store: cfg.Store, logger: cfg.Logger, secrets: cfg.MarketplaceSecrets,
		clock: cfg.Now, holidays: cfg.HolidayWarnings, accept: cfg.AcceptTimeout, pdf: cfg.PDF,
		authLimit: newAuthLimiter(cfg.AuthFailureLimit, cfg.AuthFailureBurst),
	}
	if len(s.secrets) == 0 && len(cfg.MarketplaceSecret) > 0 {
		s.secrets = [][]byte{cfg.MarketplaceSecret}
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.errorHandler
	// The client address (the auth failure limit, a token's last use) is the peer's unless a trusted proxy
	// says otherwise: Echo's default would believe any client's X-Forwarded-For.
	e.IPExtractor = echo.ExtractIPDirect()
	if len(cfg.TrustedProxies) > 0 {
		e.IPExtractor = echo.ExtractIPFromXFFHeader(trustProxies(cfg.TrustedProxies)...)
	}
	e.Use(metrics.Echo())
	e.Use(middleware.RequestID())
	e.Use(s.requestLogger())
	e.Use(middleware.Recover())
	e.Use(middleware.SecureWithConfig(middleware.SecureConfig{
		XSSProtection: "0", ContentTypeNosniff: "nosniff", XFrameOptions: "DENY",
		ContentSecurityPolicy: "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
		ReferrerPolicy:        "no-referrer",
	}))
	e.Use(middleware.BodyLimit(bodyLimit))

	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/v1/openapi.yaml", s.openapi)

	// Middleware is attached per route, not per group, so an unknown method or path is a 404/405 rather
	// than an authentication failure. The rate limit comes after authentication: it counts a credential's
	// requests, and a request without a valid credential spends no one's budget. Before authentication,
	// preAuth bounds the failures of each client address (authlimit.go).
	limit := rateLimiter(cfg.RateLimit, cfg.RateBurst)
	market := []echo.MiddlewareFunc{s.preAuth, s.marketplaceAuth, limit}
	partner := []echo.MiddlewareFunc{s.preAuth, s.tokenAuth, limit, requireRole(RolePartner)}
	manager := []echo.MiddlewareFunc{s.preAuth, s.tokenAuth, limit, requireRole(RoleManager)}
	both := []echo.MiddlewareFunc{s.preAuth, s.tokenAuth, limit, requireRole(RolePartner, RoleManager)}
	e.POST("/v1/purchases", s.purchase, market...)
	e.POST("/v1/cases/:id/assets", s.submitAssets, market...)
	e.POST("/v1/cases/:id/cancel", s.cancel, market...)
	e.PUT("/v1/cases/:id/customer-channel", s.putCustomerChannel, market...)
	e.POST("/v1/cases/:id/requests", s.marketStep(workflows.StepRequest), market...)
	e.POST("/v1/cases/:id/renew", s.marketStep(hosting.StepRenew), market...)
	e.POST("/v1/cases/:id/servers", s.marketStep(butler.StepServers), market...)
	e.POST("/v1/cases/:id/recipients", s.marketStep(butler.StepRecipients), market...)
	e.POST("/v1/cases/:id/requests/:rid/urgency", s.requestStep(workflows.ActorMarketplace), market...)
	e.POST("/v1/cases/:id/requests/:rid/steps/:step", s.requestStep(workflows.ActorPartner), partner...)
	e.POST("/v1/cases/:id/delivery/accept", s.marketStep(engagement.StepAcceptDelivery), market...)
	e.POST("/v1/cases/:id/delivery/reject", s.marketStep(engagement.StepRejectDelivery), market...)
	e.POST("/v1/cases/:id/report/confirm", s.verdict(sos.StepReportConfirm), market...)
	e.POST("/v1/cases/:id/report/dispute", s.verdict(sos.StepReportDispute), market...)
	e.GET("/v1/cases", s.listCases, manager...)
	e.GET("/v1/cases/:id", s.readCase, s.preAuth, s.caseAuth, limit)
	e.GET("/v1/customers/:customer_id/cases", s.customerCases, s.preAuth, requireV2, s.marketplaceAuth, limit)
	e.GET("/v1/refunds", s.listRefunds, manager...)
	e.GET("/v1/reports/sla", s.slaReport, manager...)
	e.GET("/v1/reports/partners", s.partnerReport, manager...)
	e.POST("/v1/refunds/:id/paid", s.refundPaid, market...)
	e.POST("/v1/refunds/:id/waive", s.waiveRefund, manager...)
	e.POST("/v1/webhooks/deliveries/:id/redeliver", s.redeliver, manager...)
	e.GET("/v1/cases/:id/contact", s.contact, both...)
	e.POST("/v1/cases/:id/steps/:step", s.step, partner...)
	e.GET("/v1/cases/:id/report", s.getReport, s.preAuth, s.reportAuth, limit)
	newReportsPage(s, cfg, cfg.Store).routes(e, limit) // the managers' page: /reports, /reports/login, /reports/logout
	s.echo = e
	return s
}

// trustProxies turns the trusted proxies' prefixes into Echo's trust options; loopback, link-local and
// private addresses are trusted only when listed.
func trustProxies(prefixes []netip.Prefix) []echo.TrustOption {
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range prefixes {
		p = p.Masked()
		opts = append(opts, echo.TrustIPRange(&net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}))
	}
	return opts
}

// Handler is the API as an http.Handler.
func (s *Server) Handler() http.Handler { return s.echo }

// Echo exposes the router, for tests that list routes.
func (s *Server) Echo() *echo.Echo { return s.echo }

func (s *Server) now() time.Time { return s.clock() }

// requestLogger logs one line per request: method, route, status, latency and request ID. Never the
// query string, body or headers, which may carry tokens or personal data.
func (s *Server) requestLogger() echo.MiddlewareFunc {
	return middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		LogStatus: true, LogMethod: true, LogRoutePath: true, LogLatency: true, LogRequestID: true, LogError: true,
		HandleError: true,
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			level := slog.LevelInfo
			if v.Status >= 500 {
				level = slog.LevelError
			}
			s.logger.LogAttrs(c.Request().Context(), level, "request",
				slog.String("method", v.Method), slog.String("route", v.RoutePath), slog.Int("status", v.Status),
				slog.Duration("latency", v.Latency), slog.String("request_id", v.RequestID))
			return nil
		},
	})
}

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// Readiness is /readyz's body.
type Readiness struct {
	Status   string            `json:"status"`
	Checks   map[string]string `json:"checks"`
	Warnings []string          `json:"warnings,omitempty"`
}

func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 3*time.Second)
	defer cancel()
	r := Readiness{Status: "ready", Checks: map[string]string{"database": "ok", "temporal": "ok", "holidays": "ok"}}
	if err := s.store.Ping(ctx); err != nil {
		r.Status, r.Checks["database"] = "unavailable", "unreachable"
		s.logger.WarnContext(ctx, "readiness: database", slog.Any("error", err))
	}
	if _, err := s.temporal.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		r.Status, r.Checks["temporal"] = "unavailable", "unreachable"
		s.logger.WarnContext(ctx, "readiness: temporal", slog.Any("error", err))
	}
	if s.holidays != nil {
		if w := s.holidays(s.now()); len(w) > 0 {
			r.Checks["holidays"], r.Warnings = "incomplete", w
		}
	}
	status := http.StatusOK
	if r.Status != "ready" {
		status = http.StatusServiceUnavailable
	}
	return c.JSON(status, r)
}

func (s *Server) openapi(c echo.Context) error {
	return c.Blob(http.StatusOK, "application/yaml", openapiYAML)
}

func jsonEncode(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	return enc.Encode(v)
}
