package api

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/steward-oss/steward/db"
)

// TestRateLimitPerCredential: each bearer token and the marketplace have their own budget; a request
// over it is 429 problem+json with Retry-After; requests without a valid credential spend no budget.
func TestRateLimitPerCredential(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// A rate so low that nothing refills while the test runs: each credential has its burst and no more.
	const burst = 3
	f.srv = New(Config{Temporal: f.temporal, Store: f.store, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		MarketplaceSecret: f.secret, Now: func() time.Time { return f.now }, RateLimit: 0.001, RateBurst: burst})
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	other, _, err := f.store.IssueToken(ctx, db.RoleManager, "", "second manager")
	require.NoError(t, err)
	fresh, _, err := f.store.IssueToken(ctx, db.RoleManager, "", "third manager")
	require.NoError(t, err)

	for i := range burst {
		rec, _ := f.call(t, http.MethodGet, "/v1/cases", nil, bearer(f.manager))
		require.Equal(t, http.StatusOK, rec.Code, "request %d within the burst: %s", i+1, rec.Body)
	}
	rec, p := f.call(t, http.MethodGet, "/v1/cases", nil, bearer(f.manager))
	assert.Equal(t, http.StatusTooManyRequests, rec.Code, "%s", rec.Body)
	assert.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
	assert.Equal(t, CodeRateLimited, p.Code)
	assert.Equal(t, ProblemTypeBase+CodeRateLimited, p.Type)
	assert.Equal(t, "1000", rec.Header().Get("Retry-After"), "one request refills in 1/0.001 s")
	assert.NotContains(t, p.Detail, f.manager)

	// Another manager's token and a partner's token have budgets of their own.
	rec, _ = f.call(t, http.MethodGet, "/v1/cases", nil, bearer(other))
	assert.Equal(t, http.StatusOK, rec.Code, "another token: %s", rec.Body)
	rec, _ = f.call(t, http.MethodGet, "/v1/cases/sos:NOPE", nil, bearer(f.partner))
	assert.Equal(t, http.StatusNotFound, rec.Code, "a partner's token: %s", rec.Body)

	// Unknown tokens, no token and bad signatures are refused before the limiter and count against no one:
	// a token used only now still has its whole burst, and so has the marketplace.
	for range 3 * burst {
		rec, _ = f.call(t, http.MethodGet, "/v1/cases", nil, bearer("stw_unknown"))
		require.Equal(t, http.StatusUnauthorized, rec.Code)
		rec, _ = f.call(t, http.MethodGet, "/v1/cases", nil, nil)
		require.Equal(t, http.StatusUnauthorized, rec.Code)
		rec, _ = f.call(t, http.MethodPost, "/v1/purchases", []byte(`{}`), map[string]string{HeaderTimestamp: "1", HeaderSignature: "v2=00"})
		require.Equal(t, http.StatusUnauthorized, rec.Code)
	}
	for i := range burst {
		rec, _ = f.call(t, http.MethodGet, "/v1/cases", nil, bearer(fresh))
		require.Equal(t, http.StatusOK, rec.Code, "fresh token, request %d: %s", i+1, rec.Body)
	}
	body := []byte(`{}`)
	for i := range burst {
		rec, _ = f.call(t, http.MethodPost, "/v1/purchases", body, f.signedFor(http.MethodPost, "/v1/purchases", f.now, body))
		require.Equal(t, http.StatusUnprocessableEntity, rec.Code, "marketplace, request %d: %s", i+1, rec.Body)
	}
	rec, p = f.call(t, http.MethodPost, "/v1/purchases", body, f.signedFor(http.MethodPost, "/v1/purchases", f.now, body))
	assert.Equal(t, http.StatusTooManyRequests, rec.Code, "marketplace over its burst: %s", rec.Body)
	assert.Equal(t, CodeRateLimited, p.Code)

	// Health checks carry no credential and are never limited.
	rec, _ = f.call(t, http.MethodGet, "/healthz", nil, nil)
	assert.Equal(t, http.StatusOK, rec.Code)
}

// TestRateLimitOffWhenZero: without a RateLimit every request of a token is served.
func TestRateLimitOffWhenZero(t *testing.T) {
	f := newFixture(t) // RateLimit zero
	for i := range 100 {
		rec, _ := f.call(t, http.MethodGet, "/v1/cases", nil, map[string]string{"Authorization": "Bearer " + f.manager})
		require.Equal(t, http.StatusOK, rec.Code, "request %d: %s", i+1, rec.Body)
	}
}

// TestOpenAPIDocumentsRateLimit: every call that takes a credential documents its 429.
func TestOpenAPIDocumentsRateLimit(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]struct {
			Security  []map[string]any `yaml:"security"`
			Responses map[string]any   `yaml:"responses"`
		} `yaml:"paths"`
	}
	require.NoError(t, yaml.Unmarshal(openapiYAML, &doc))
	n := 0
	for path, ops := range doc.Paths {
		for method, op := range ops {
			if len(op.Security) == 0 {
				continue
			}
			n++
			if _, ok := op.Responses["429"]; !ok {
				t.Errorf("%s %s takes a credential but documents no 429", strings.ToUpper(method), path)
			}
		}
	}
	assert.Positive(t, n, "no operation with security found")
}
