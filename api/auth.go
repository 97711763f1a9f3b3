package api

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"golang.org/x/time/rate"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/signing"
)

// Marketplace signature headers: X-Steward-Signature is "v1=" + hex(HMAC-SHA256(secret, timestamp + "." + body)).
const (
	HeaderTimestamp = signing.HeaderTimestamp
	HeaderSignature = signing.HeaderSignature
	// SignatureWindow is how far a signed request's timestamp may be from the server's clock.
	SignatureWindow = signing.Window
)

// Sign returns the v1 X-Steward-Signature value for a body sent at ts (signing.V1).
func Sign(secret []byte, ts time.Time, body []byte) string { return signing.V1(secret, ts, body) }

// SignRequest returns the v2 X-Steward-Signature value, which also covers the method and path
// (signing.V2). A v2 signature cannot be replayed on another call; prefer it, and use it for calls whose
// body is empty.
func SignRequest(secret []byte, ts time.Time, method, path string, body []byte) string {
	return signing.V2(secret, ts, method, path, body)
}

// VerifySignature checks a marketplace request's timestamp header and v1 or v2 signature against the
// request (signing.Verify). It reports whether the signature was v2 (bound to method and path).
func VerifySignature(secret []byte, now time.Time, tsHeader, sigHeader, method, path string, body []byte) (bound bool, err error) {
	return signing.Verify(secret, now, tsHeader, sigHeader, method, path, body)
}

// previousSecretLogEvery is how often, at most, the API logs that a marketplace call was signed with the
// previous secret: the operator's sign that the marketplace has not switched yet.
const previousSecretLogEvery = time.Minute

// Principal is who sent a request.
type Principal struct {
	Role      string // "marketplace", "partner" or "manager"
	PartnerID string // for partners
	TokenID   string // for partners and managers
	Name      string // the token's name, for the timeline
}

// Roles of a Principal.
const (
	RoleMarketplace = "marketplace"
	RolePartner     = string(db.RolePartner)
	RoleManager     = string(db.RoleManager)
)

func principalOf(c echo.Context) Principal {
	p, _ := c.Get("principal").(Principal)
	return p
}

// marketplaceAuth verifies the HMAC signature over the raw body, with the current marketplace secret or
// the previous one while a rotation lasts (STEWARD_MARKETPLACE_SECRETS), then hands the body on.
func (s *Server) marketplaceAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		body, err := readBody(c)
		if err != nil {
			return err
		}
		req := c.Request()
		if len(s.secrets) == 0 {
			return problem(CodeUnauthorized, "marketplace signature rejected: no marketplace secret is configured")
		}
		m, err := signing.VerifyAny(s.secrets, s.now(), req.Header.Get(HeaderTimestamp), req.Header.Get(HeaderSignature), req.Method, req.URL.Path, body)
		if err != nil {
			return problem(CodeUnauthorized, "marketplace signature rejected: %v", err)
		}
		if m.Secret > 0 {
			s.notePreviousSecret(c)
		}
		if !m.Bound {
			// A v1 signature covers timestamp and body only, so headers captured from one call would
			// verify on another with the same body (an empty GET, say). Each v1 signature is bound to the
			// first method and path it was used for. It is claimed in its canonical spelling, alone: hex is
			// case-insensitive, and the same MAC in upper case, or beside another signature in the header,
			// must not pass for a new signature. The path is kept escaped, in ASCII: a decoded one may hold
			// bytes the database cannot store.
			ok, err := s.store.ClaimSignature(req.Context(), m.Signature, req.Method+" "+req.URL.EscapedPath(), s.now())
			if err != nil {
				return unavailable(err, "the signature store")
			}
			if !ok {
				return problem(CodeUnauthorized, "marketplace signature rejected: this v1 signature was already used for another request; sign with v2= (covers method and path) or a new timestamp")
			}
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		s.authenticated(c)
		c.Set("principal", Principal{Role: RoleMarketplace, Name: "marketplace"})
		c.Set("raw_body", body)
		return next(c)
	}
}

// notePreviousSecret logs, at most once a minute per process, that a marketplace call verified only with
// the previous secret: until these lines stop, the marketplace still signs with it.
func (s *Server) notePreviousSecret(c echo.Context) {
	now := time.Now().UnixNano()
	last := s.previousLogged.Load()
	if now-last < int64(previousSecretLogEvery) || !s.previousLogged.CompareAndSwap(last, now) {
		return
	}
	s.logger.InfoContext(c.Request().Context(), "marketplace call signed with the previous marketplace secret",
		slog.String("route", c.Path()), slog.String("request_id", c.Response().Header().Get(echo.HeaderXRequestID)))
}

// tokenAuth resolves a bearer token to a partner engineer or manager. Every request reads the token from
// the database, so a revocation or a partner's disabling holds on the next request in every API process.
// An expired, revoked or disabled partner's token is answered with a problem type saying which. A
// token's use is noted with the client's address at most once a minute.
func (s *Server) tokenAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header.Get(echo.HeaderAuthorization)
		secret, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || strings.TrimSpace(secret) == "" {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="steward"`)
			return problem(CodeUnauthorized, "send Authorization: Bearer <token>")
		}
		ctx := c.Request().Context()
		now := s.now()
		tok, err := s.store.AuthenticateAt(ctx, strings.TrimSpace(secret), now)
		if errors.Is(err, db.ErrNotFound) {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="steward", error="invalid_token"`)
			return tokenProblem(err)
		}
		if err != nil {
			return unavailable(err, "the token store")
		}
		if db.TokenUseDue(tok, now) {
			if _, err := s.store.RecordTokenUse(ctx, tok.ID, c.RealIP(), now); err != nil {
				s.logger.WarnContext(ctx, "recording a token's use failed", slog.String("token_id", tok.ID), slog.Any("error", err))
			}
		}
		s.authenticated(c)
		c.Set("principal", Principal{Role: string(tok.Role), PartnerID: tok.PartnerID, TokenID: tok.ID, Name: tok.Name})
		return next(c)
	}
}

// tokenProblem is the 401 of a refused bearer token: expired, revoked, its partner disabled, or unknown.
// It names the token's id (never its secret) and when, so its holder knows which to renew.
func tokenProblem(err error) *Error {
	var r *db.TokenRefusal
	if !errors.As(err, &r) {
		return problem(CodeUnauthorized, "unknown token")
	}
	t := r.Token
	switch {
	case errors.Is(r.Reason, db.ErrTokenRevoked):
		return problem(CodeTokenRevoked, "token %s was revoked at %s; ask for a new one", t.ID, t.RevokedAt.Format(time.RFC3339))
	case errors.Is(r.Reason, db.ErrTokenExpired) && t.ReplacedBy != "":
		return problem(CodeTokenExpired, "token %s was rotated: it expired at %s, at the end of its grace period; use its successor %s",
			t.ID, t.ExpiresAt.Format(time.RFC3339), t.ReplacedBy)
	case errors.Is(r.Reason, db.ErrTokenExpired):
		return problem(CodeTokenExpired, "token %s expired at %s; ask for a new one", t.ID, t.ExpiresAt.Format(time.RFC3339))
	case errors.Is(r.Reason, db.ErrPartnerDisabled):
		return problem(CodePartnerDisabled, "the partner company of token %s is disabled", t.ID)
	}
	return problem(CodeUnauthorized, "unknown token")
}

// requireRole admits only the given roles; others get 403.
func requireRole(roles ...string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			p := principalOf(c)
			for _, r := range roles {
				if p.Role == r {
					return next(c)
				}
			}
			return problem(CodeForbidden, "this call is for %s", strings.Join(roles, " or "))
		}
	}
}

// rateLimiter limits each credential to perSecond requests a second, in bursts of up to burst (zero: perSecond
// rounded up): a bearer token by its token ID, never its secret, and the marketplace's signed calls as one.
// It runs after authentication, so a request without a valid credential is counted against no one. A
// request over the limit is answered 429 with Retry-After. perSecond zero or less turns it off.
func rateLimiter(perSecond float64, burst int) echo.MiddlewareFunc {
	if perSecond <= 0 {
		return func(next echo.HandlerFunc) echo.HandlerFunc { return next }
	}
	retryAfter := strconv.FormatFloat(math.Max(1, math.Ceil(1/perSecond)), 'f', 0, 64)
	store := middleware.NewRateLimiterMemoryStoreWithConfig(middleware.RateLimiterMemoryStoreConfig{
		Rate: rate.Limit(perSecond), Burst: burst,
	})
	return middleware.RateLimiterWithConfig(middleware.RateLimiterConfig{
		Skipper:             func(c echo.Context) bool { return rateKey(c) == "" },
		IdentifierExtractor: func(c echo.Context) (string, error) { return rateKey(c), nil },
		Store:               store,
		DenyHandler: func(c echo.Context, _ string, _ error) error {
			c.Response().Header().Set("Retry-After", retryAfter)
			return problem(CodeRateLimited, "too many requests with this credential (at most %g a second); retry after %s s", perSecond, retryAfter)
		},
	})
}

// rateKey names the credential a request is counted against, or "" when it has none.
func rateKey(c echo.Context) string {
	switch p := principalOf(c); {
	case p.Role == RoleMarketplace:
		return "marketplace"
	case p.TokenID != "":
		return "token:" + p.TokenID
	}
	return ""
}
