package api

import (
	"bytes"
	"errors"
	"io"
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

// marketplaceAuth verifies the HMAC signature over the raw body, then hands the body on.
func (s *Server) marketplaceAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		body, err := readBody(c)
		if err != nil {
			return err
		}
		req := c.Request()
		bound, err := VerifySignature(s.secret, s.now(), req.Header.Get(HeaderTimestamp), req.Header.Get(HeaderSignature), req.Method, req.URL.Path, body)
		if err != nil {
			return problem(CodeUnauthorized, "marketplace signature rejected: %v", err)
		}
		if !bound {
			// A v1 signature covers timestamp and body only, so headers captured from one call would
			// verify on another with the same body (an empty GET, say). Each v1 signature is bound to the
			// first method and path it was used for. It is claimed in its canonical spelling: hex is
			// case-insensitive, and the same MAC in upper case must not pass for a new signature. The path is
			// kept escaped, in ASCII: a decoded one may hold bytes the database cannot store.
			ok, err := s.store.ClaimSignature(req.Context(), strings.ToLower(req.Header.Get(HeaderSignature)), req.Method+" "+req.URL.EscapedPath(), s.now())
			if err != nil {
				return unavailable(err, "the signature store")
			}
			if !ok {
				return problem(CodeUnauthorized, "marketplace signature rejected: this v1 signature was already used for another request; sign with v2= (covers method and path) or a new timestamp")
			}
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		c.Set("principal", Principal{Role: RoleMarketplace, Name: "marketplace"})
		c.Set("raw_body", body)
		return next(c)
	}
}

// tokenAuth resolves a bearer token to a partner engineer or manager.
func (s *Server) tokenAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header.Get(echo.HeaderAuthorization)
		secret, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || strings.TrimSpace(secret) == "" {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="steward"`)
			return problem(CodeUnauthorized, "send Authorization: Bearer <token>")
		}
		tok, err := s.store.Authenticate(c.Request().Context(), strings.TrimSpace(secret))
		if errors.Is(err, db.ErrNotFound) {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="steward", error="invalid_token"`)
			return problem(CodeUnauthorized, "unknown or revoked token")
		}
		if err != nil {
			return unavailable(err, "the token store")
		}
		c.Set("principal", Principal{Role: string(tok.Role), PartnerID: tok.PartnerID, TokenID: tok.ID, Name: tok.Name})
		return next(c)
	}
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
