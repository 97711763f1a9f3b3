package api

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steward-oss/steward/db"
)

// TestSignatureReplayInOtherSpelling: hex is case-insensitive, so a v1 signature re-spelt in upper case is
// the same signature; replayed on another case it is refused like the original.
func TestSignatureReplayInOtherSpelling(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, id := range []string{"sos:A", "sos:B"} {
		require.NoError(t, f.store.UpsertCase(ctx, &db.Case{CaseID: id, WorkflowID: id, Service: "sos", Status: "open", OpenedAt: f.now, UpdatedAt: f.now}))
	}
	h := f.signed(f.now, nil)
	rec, _ := f.call(t, http.MethodGet, "/v1/cases/sos:A/report", nil, h)
	require.Equal(t, http.StatusNotFound, rec.Code, "signed correctly, no report yet: %s", rec.Body)
	upper := map[string]string{HeaderTimestamp: h[HeaderTimestamp], HeaderSignature: "v1=" + strings.ToUpper(strings.TrimPrefix(h[HeaderSignature], "v1="))}
	require.NotEqual(t, h[HeaderSignature], upper[HeaderSignature])
	rec, p := f.call(t, http.MethodGet, "/v1/cases/sos:B/report", nil, upper)
	assert.Equal(t, http.StatusUnauthorized, rec.Code, "%s", rec.Body)
	assert.Contains(t, p.Detail, "already used")
	// The same request in the other spelling is a retry, not a replay.
	rec, _ = f.call(t, http.MethodGet, "/v1/cases/sos:A/report", nil, upper)
	assert.Equal(t, http.StatusNotFound, rec.Code, "%s", rec.Body)
}

// TestCaseIDWithControlCharacters: a case ID with a NUL or another control character is no case, on every
// database (PostgreSQL would drop the NUL and find the case without it).
func TestCaseIDWithControlCharacters(t *testing.T) {
	f := newFixture(t)
	require.NoError(t, f.store.UpsertCase(context.Background(), &db.Case{CaseID: "sos:A", WorkflowID: "sos:A", Service: "sos", Status: "open", OpenedAt: f.now, UpdatedAt: f.now}))
	h := map[string]string{"Authorization": "Bearer " + f.manager}
	for _, path := range []string{"/v1/cases/sos:A%00", "/v1/cases/sos:%00A", "/v1/cases/sos:A%0A", "/v1/cases/sos:A%FF", "/v1/cases/sos:" + strings.Repeat("A", 200)} {
		rec, p := f.call(t, http.MethodGet, path+"/contact", nil, h)
		assert.Equal(t, http.StatusNotFound, rec.Code, "%s: %s", path, rec.Body)
		assert.Equal(t, CodeNotFound, p.Code, path)
	}
}

// TestListFiltersWithControlCharacters: a list filter that no stage or partner ID can match — invalid
// UTF-8, a control character, too long — is 422 on every database.
func TestListFiltersWithControlCharacters(t *testing.T) {
	f := newFixture(t)
	h := map[string]string{"Authorization": "Bearer " + f.manager}
	for _, q := range []string{"stage=%00", "stage=a%FF", "partner_id=p%00", "partner_id=%0D%0A", "stage=" + strings.Repeat("a", 129)} {
		rec, p := f.call(t, http.MethodGet, "/v1/cases?"+q, nil, h)
		assert.Equal(t, http.StatusUnprocessableEntity, rec.Code, "%s: %s", q, rec.Body)
		assert.Equal(t, CodeInvalid, p.Code, q)
	}
	rec, _ := f.call(t, http.MethodGet, "/v1/cases?stage=report&partner_id=p1", nil, h)
	assert.Equal(t, http.StatusOK, rec.Code, "%s", rec.Body)
}

// TestSignedRequestToMalformedPath: a v1-signed call to a path with a NUL or invalid UTF-8 is answered like
// any unknown case; binding its signature to the path does not trip the database.
func TestSignedRequestToMalformedPath(t *testing.T) {
	f := newFixture(t)
	for i, path := range []string{"/v1/cases/sos:A%00/report", "/v1/cases/sos:A%FF/report"} {
		ts := f.now.Add(time.Duration(i) * time.Second) // a signature of its own for each
		rec, p := f.call(t, http.MethodGet, path, nil, f.signed(ts, nil))
		assert.Equal(t, http.StatusNotFound, rec.Code, "%s: %s", path, rec.Body)
		assert.Equal(t, CodeNotFound, p.Code, path)
	}
}

// TestSecurityHeaders: every answer — JSON, problem, health, the contact — tells browsers not to sniff,
// frame, refer or run anything, and the contact is not cached.
func TestSecurityHeaders(t *testing.T) {
	f := newFixture(t)
	require.NoError(t, f.store.UpsertCase(context.Background(), &db.Case{CaseID: "sos:H", WorkflowID: "sos:H", Service: "sos", Stage: "confirmation",
		Status: "open", PartnerID: "p1", OrderID: "H", OpenedAt: f.now, UpdatedAt: f.now}))
	_, _, err := f.store.PutOrder(context.Background(), &db.Order{OrderID: "H", CustomerID: "c", Service: "sos", Spec: "handling", Quantity: 1,
		Currency: "CNY", PaidAt: f.now, Contact: db.Contact{Name: "Li", Phone: "110"}, BodyHash: "h", CaseID: "sos:H", WorkflowID: "sos:H", CreatedAt: f.now})
	require.NoError(t, err)
	mgr := map[string]string{"Authorization": "Bearer " + f.manager}
	for _, c := range []struct {
		path   string
		header map[string]string
		status int
	}{
		{"/healthz", nil, http.StatusOK},
		{"/v1/cases", mgr, http.StatusOK},
		{"/v1/cases", nil, http.StatusUnauthorized},
		{"/v1/cases/sos:NOPE", mgr, http.StatusNotFound},
		{"/v1/cases/sos:H/contact", mgr, http.StatusOK},
	} {
		rec, _ := f.call(t, http.MethodGet, c.path, nil, c.header)
		require.Equal(t, c.status, rec.Code, "%s: %s", c.path, rec.Body)
		h := rec.Header()
		assert.Equal(t, "nosniff", h.Get("X-Content-Type-Options"), c.path)
		assert.Equal(t, "DENY", h.Get("X-Frame-Options"), c.path)
		assert.Equal(t, "no-referrer", h.Get("Referrer-Policy"), c.path)
		assert.Contains(t, h.Get("Content-Security-Policy"), "default-src 'none'", c.path)
		assert.Contains(t, h.Get("Content-Security-Policy"), "frame-ancestors 'none'", c.path)
		assert.NotEmpty(t, h.Get("X-Request-Id"), c.path)
	}
	rec, _ := f.call(t, http.MethodGet, "/v1/cases/sos:H/contact", nil, mgr)
	assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
}
