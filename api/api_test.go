package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/mocks"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/db/dbtest"
)

type fixture struct {
	srv      *Server
	store    *db.Store
	temporal *mocks.Client
	secret   []byte
	now      time.Time
	manager  string
	partner  string
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{store: dbtest.MustOpen(t), temporal: &mocks.Client{}, secret: []byte("fixture-secret"), now: time.Now()}
	f.srv = New(Config{Temporal: f.temporal, Store: f.store, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), MarketplaceSecret: f.secret, Now: func() time.Time { return f.now },
		HolidayWarnings: func(time.Time) []string { return []string{"no holiday data for 2027"} }})
	require.NoError(t, f.store.AddPartner(ctx, &db.Partner{ID: "p1", Name: "P1", Services: []string{"sos"}, Capacity: 1, Active: true, CreatedAt: f.now}))
	var err error
	f.partner, _, err = f.store.IssueToken(ctx, db.RolePartner, "p1", "eng")
	require.NoError(t, err)
	f.manager, _, err = f.store.IssueToken(ctx, db.RoleManager, "", "mgr")
	require.NoError(t, err)
	return f
}

func (f *fixture) call(t *testing.T, method, path string, body []byte, header map[string]string) (*httptest.ResponseRecorder, Problem) {
	t.Helper()
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	f.srv.Handler().ServeHTTP(rec, req)
	var p Problem
	if strings.HasPrefix(rec.Header().Get("Content-Type"), "application/problem+json") {
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p), "%s", rec.Body)
	}
	return rec, p
}

// signedFor signs with v2, bound to the method and path.
func (f *fixture) signedFor(method, path string, ts time.Time, body []byte) map[string]string {
	return map[string]string{HeaderTimestamp: strconv.FormatInt(ts.Unix(), 10), HeaderSignature: SignRequest(f.secret, ts, method, path, body)}
}

func (f *fixture) signed(ts time.Time, body []byte) map[string]string {
	return map[string]string{HeaderTimestamp: strconv.FormatInt(ts.Unix(), 10), HeaderSignature: Sign(f.secret, ts, body)}
}

func TestProblemResponses(t *testing.T) {
	f := newFixture(t)
	big := bytes.Repeat([]byte("a"), 2<<20)
	tests := []struct {
		name         string
		method, path string
		body         []byte
		header       map[string]string
		status       int
		code         string
	}{
		{"unknown route", http.MethodGet, "/v2/nothing", nil, nil, 404, CodeNotFound},
		{"wrong method", http.MethodDelete, "/v1/purchases", nil, nil, 405, CodeMethodNotAllowed},
		{"unsigned purchase", http.MethodPost, "/v1/purchases", []byte(`{}`), nil, 401, CodeUnauthorized},
		{"expired signature", http.MethodPost, "/v1/purchases", []byte(`{}`), f.signed(f.now.Add(-10*time.Minute), []byte(`{}`)), 401, CodeUnauthorized},
		{"oversize body", http.MethodPost, "/v1/purchases", big, f.signed(f.now, big), 413, CodeTooLarge},
		{"empty purchase", http.MethodPost, "/v1/purchases", []byte(` `), f.signed(f.now, []byte(` `)), 400, CodeBadRequest},
		{"invalid utf-8", http.MethodPost, "/v1/purchases", []byte("{\"order_id\":\"\xff\"}"), f.signed(f.now, []byte("{\"order_id\":\"\xff\"}")), 400, CodeBadRequest},
		{"trailing data", http.MethodPost, "/v1/purchases", []byte(`{} {}`), f.signed(f.now, []byte(`{} {}`)), 400, CodeBadRequest},
		{"no token", http.MethodGet, "/v1/cases", nil, nil, 401, CodeUnauthorized},
		{"unknown token", http.MethodGet, "/v1/cases", nil, map[string]string{"Authorization": "Bearer stw_nope"}, 401, CodeUnauthorized},
		{"basic auth", http.MethodGet, "/v1/cases", nil, map[string]string{"Authorization": "Basic Zm9vOmJhcg=="}, 401, CodeUnauthorized},
		{"partner lists cases", http.MethodGet, "/v1/cases", nil, map[string]string{"Authorization": "Bearer " + f.partner}, 403, CodeForbidden},
		{"bad sla filter", http.MethodGet, "/v1/cases?sla=late", nil, map[string]string{"Authorization": "Bearer " + f.manager}, 422, CodeInvalid},
		{"bad service filter", http.MethodGet, "/v1/cases?service=spa", nil, map[string]string{"Authorization": "Bearer " + f.manager}, 422, CodeInvalid},
		{"bad limit", http.MethodGet, "/v1/cases?limit=0", nil, map[string]string{"Authorization": "Bearer " + f.manager}, 422, CodeInvalid},
		{"unknown filter", http.MethodGet, "/v1/cases?customer=x", nil, map[string]string{"Authorization": "Bearer " + f.manager}, 422, CodeInvalid},
		{"missing case", http.MethodGet, "/v1/cases/sos:NOPE", nil, map[string]string{"Authorization": "Bearer " + f.manager}, 404, CodeNotFound},
		{"malformed case id", http.MethodGet, "/v1/cases/nope", nil, map[string]string{"Authorization": "Bearer " + f.manager}, 404, CodeNotFound},
		{"manager sends a step", http.MethodPost, "/v1/cases/sos:NOPE/steps/contact", []byte(`{}`), map[string]string{"Authorization": "Bearer " + f.manager}, 403, CodeForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, p := f.call(t, tt.method, tt.path, tt.body, tt.header)
			assert.Equal(t, tt.status, rec.Code, "%s", rec.Body)
			assert.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
			assert.Equal(t, tt.code, p.Code)
			assert.Equal(t, ProblemTypeBase+tt.code, p.Type)
			assert.Equal(t, tt.status, p.Status)
			assert.NotEmpty(t, p.RequestID)
			assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))
		})
	}
}

func TestRevokedTokenRejected(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	secret, tok, err := f.store.IssueToken(ctx, db.RoleManager, "", "leaver")
	require.NoError(t, err)
	h := map[string]string{"Authorization": "Bearer " + secret}
	rec, _ := f.call(t, http.MethodGet, "/v1/cases", nil, h)
	require.Equal(t, http.StatusOK, rec.Code, "%s", rec.Body)
	require.NoError(t, f.store.RevokeToken(ctx, tok.ID))
	rec, p := f.call(t, http.MethodGet, "/v1/cases", nil, h)
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
	assert.Equal(t, CodeTokenRevoked, p.Code, "a revoked token's problem says so")
}

func TestListCasesFilters(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for i, c := range []db.Case{
		{CaseID: "sos:A", Service: "sos", Stage: "assignment", Status: "open", PartnerID: "p1", SLAStatus: "breached", RefundPercent: 50},
		{CaseID: "sos:B", Service: "sos", Stage: "report", Status: "open", PartnerID: "p2", SLAStatus: "on_track"},
		{CaseID: "dengbao:C", Service: "dengbao", Stage: "kickoff", Status: "open", SLAStatus: "on_track"},
	} {
		c.WorkflowID, c.CustomerID, c.OrderID = c.CaseID, "cust", c.CaseID[strings.Index(c.CaseID, ":")+1:]
		c.OpenedAt = f.now.Add(time.Duration(i) * time.Minute)
		c.UpdatedAt = c.OpenedAt
		require.NoError(t, f.store.UpsertCase(ctx, &c))
	}
	h := map[string]string{"Authorization": "Bearer " + f.manager}
	tests := []struct {
		query string
		want  []string
	}{
		{"", []string{"dengbao:C", "sos:B", "sos:A"}},
		{"?service=sos", []string{"sos:B", "sos:A"}},
		{"?service=sos&sla=breached", []string{"sos:A"}},
		{"?partner_id=p2", []string{"sos:B"}},
		{"?stage=kickoff", []string{"dengbao:C"}},
		{"?limit=1", []string{"dengbao:C"}},
		{"?limit=1&offset=1", []string{"sos:B"}},
	}
	for _, tt := range tests {
		rec, _ := f.call(t, http.MethodGet, "/v1/cases"+tt.query, nil, h)
		require.Equal(t, http.StatusOK, rec.Code, "%s", rec.Body)
		var l CaseList
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &l))
		var got []string
		for _, c := range l.Cases {
			got = append(got, c.CaseID)
		}
		assert.Equal(t, tt.want, got, "GET /v1/cases%s", tt.query)
	}
}

func TestReadyz(t *testing.T) {
	f := newFixture(t)
	f.temporal.On("CheckHealth", mock.Anything, mock.Anything).Return(&client.CheckHealthResponse{}, nil).Once()
	rec, _ := f.call(t, http.MethodGet, "/readyz", nil, nil)
	require.Equal(t, http.StatusOK, rec.Code, "%s", rec.Body)
	var r Readiness
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &r))
	assert.Equal(t, "ready", r.Status)
	assert.Equal(t, "incomplete", r.Checks["holidays"])
	assert.Equal(t, []string{"no holiday data for 2027"}, r.Warnings)

	f.temporal.On("CheckHealth", mock.Anything, mock.Anything).Return(nil, errors.New("connection refused")).Once()
	rec, _ = f.call(t, http.MethodGet, "/readyz", nil, nil)
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &r))
	assert.Equal(t, "unreachable", r.Checks["temporal"])
}

// TestSignatureBoundToRequest: signed headers replayed on another case are refused; the same request
// again is not.
func TestSignatureBoundToRequest(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, id := range []string{"sos:A", "sos:B"} {
		require.NoError(t, f.store.UpsertCase(ctx, &db.Case{CaseID: id, WorkflowID: id, Service: "sos", Status: "open", OpenedAt: f.now, UpdatedAt: f.now}))
	}
	h := f.signed(f.now, nil)
	rec, _ := f.call(t, http.MethodGet, "/v1/cases/sos:A/report", nil, h)
	assert.Equal(t, http.StatusNotFound, rec.Code, "no report yet, but signed correctly: %s", rec.Body)
	rec, _ = f.call(t, http.MethodGet, "/v1/cases/sos:A/report", nil, h)
	assert.Equal(t, http.StatusNotFound, rec.Code, "the same request again: %s", rec.Body)
	rec, p := f.call(t, http.MethodGet, "/v1/cases/sos:B/report", nil, h)
	assert.Equal(t, http.StatusUnauthorized, rec.Code, "%s", rec.Body)
	assert.Contains(t, p.Detail, "already used")
	// v2 signatures are bound to their request already: two cases in the same second are fine.
	for _, id := range []string{"sos:A", "sos:B"} {
		path := "/v1/cases/" + id + "/report"
		rec, _ = f.call(t, http.MethodGet, path, nil, f.signedFor(http.MethodGet, path, f.now, nil))
		assert.Equal(t, http.StatusNotFound, rec.Code, "%s", rec.Body)
	}
	path := "/v1/cases/sos:A/report"
	rec, _ = f.call(t, http.MethodGet, "/v1/cases/sos:B/report", nil, f.signedFor(http.MethodGet, path, f.now, nil))
	assert.Equal(t, http.StatusUnauthorized, rec.Code, "a v2 signature for another path")
}

func TestIdempotencyKeyTooLong(t *testing.T) {
	f := newFixture(t)
	require.NoError(t, f.store.UpsertCase(context.Background(), &db.Case{CaseID: "sos:K", WorkflowID: "sos:K", Service: "sos", Status: "open", PartnerID: "p1", OpenedAt: f.now, UpdatedAt: f.now}))
	rec, p := f.call(t, http.MethodPost, "/v1/cases/sos:K/steps/contact", []byte(`{}`), map[string]string{
		"Authorization": "Bearer " + f.partner, "Idempotency-Key": strings.Repeat("k", 129)})
	assert.Equal(t, http.StatusUnprocessableEntity, rec.Code, "%s", rec.Body)
	assert.Equal(t, CodeInvalid, p.Code)
}
