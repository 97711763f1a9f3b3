package api

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/steward-oss/steward/db"
)

// Marketplace signature headers: X-Steward-Signature is "v1=" + hex(HMAC-SHA256(secret, timestamp + "." + body)).
const (
	HeaderTimestamp = "X-Steward-Timestamp"
	HeaderSignature = "X-Steward-Signature"
	// SignatureWindow is how far a signed request's timestamp may be from the server's clock.
	SignatureWindow = 300 * time.Second
)

// Sign returns the X-Steward-Signature value for a body sent at ts. Scripts and tests use it.
func Sign(secret []byte, ts time.Time, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(strconv.FormatInt(ts.Unix(), 10)))
	mac.Write([]byte("."))
	mac.Write(body)
	return "v1=" + hex.EncodeToString(mac.Sum(nil))
}

// VerifySignature checks a marketplace request's timestamp header and signature against the body.
func VerifySignature(secret []byte, now time.Time, tsHeader, sigHeader string, body []byte) error {
	if tsHeader == "" || sigHeader == "" {
		return errors.New("missing " + HeaderTimestamp + " or " + HeaderSignature)
	}
	ts, err := strconv.ParseInt(tsHeader, 10, 64)
	if err != nil {
		return errors.New(HeaderTimestamp + " must be unix seconds")
	}
	if d := now.Sub(time.Unix(ts, 0)); d > SignatureWindow || d < -SignatureWindow {
		return errors.New("timestamp outside the allowed window of 300 seconds")
	}
	got, ok := strings.CutPrefix(sigHeader, "v1=")
	if !ok {
		return errors.New("unsupported signature version; use v1=")
	}
	gotMAC, err := hex.DecodeString(got)
	if err != nil {
		return errors.New("signature is not hex")
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(tsHeader))
	mac.Write([]byte("."))
	mac.Write(body)
	if !hmac.Equal(gotMAC, mac.Sum(nil)) {
		return errors.New("signature does not match")
	}
	return nil
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
		if err := VerifySignature(s.secret, s.now(), req.Header.Get(HeaderTimestamp), req.Header.Get(HeaderSignature), body); err != nil {
			return problem(CodeUnauthorized, "marketplace signature rejected: %v", err)
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
