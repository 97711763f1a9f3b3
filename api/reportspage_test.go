package api

import (
	"context"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/sla"
	"github.com/steward-oss/steward/workflows"
)

const pageUI = "http://ui.test:8233"

// pageFixture is the API with a Web UI address, its clock in mid-November 2026 (Beijing), and a seeded set
// of SOS cases: October's response clock breached (p1, refund ¥2,500.00 owed), November's two met (p1, p2).
func pageFixture(t *testing.T) *fixture {
	t.Helper()
	f := newFixture(t)
	f.now = time.Date(2026, 11, 15, 10, 0, 0, 0, sla.China)
	f.srv = New(Config{Temporal: f.temporal, Store: f.store, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), MarketplaceSecret: f.secret,
		Now: func() time.Time { return f.now }, WebUIURL: pageUI + "/", Namespace: "steward"})
	ctx := context.Background()
	require.NoError(t, f.store.AddPartner(ctx, &db.Partner{ID: "p2", Name: "Second Co", Services: []string{"sos"}, Capacity: 3, Active: true, CreatedAt: f.now}))

	oct := time.Date(2026, 10, 5, 9, 0, 0, 0, sla.China)
	nov := time.Date(2026, 11, 3, 9, 0, 0, 0, sla.China)
	seed := func(order, partner string, opened time.Time, response string, refund int64) {
		caseID := f.seedCase(t, order, "c-"+order, workflows.ServiceSOS, partner, "CNY", 500000, opened)
		c, err := f.store.GetCase(ctx, caseID)
		require.NoError(t, err)
		c.Revision++
		done := opened.Add(15 * time.Minute)
		clocks := []db.SLAClock{
			{Key: caseID + "/response", CaseID: caseID, Service: c.Service, Clause: "response", PartnerID: partner, State: "completed", Status: response,
				StartedAt: opened, CompletedAt: &done},
			{Key: caseID + "/handling", CaseID: caseID, Service: c.Service, Clause: "handling", PartnerID: partner, State: "running", Status: "on_track",
				StartedAt: opened},
		}
		if response == "breached" {
			clocks[0].BreachedAt = &done
		}
		events := []db.CaseEvent{
			{Key: caseID + "/offer", CaseID: caseID, At: opened, Actor: "steward", Event: "partner_offered", PartnerID: partner},
			{Key: caseID + "/accept", CaseID: caseID, At: opened.Add(10 * time.Minute), Actor: partner, Event: "partner_accepted", PartnerID: partner, OfferedAt: &opened},
		}
		var refunds []db.Refund
		if refund > 0 {
			refunds = append(refunds, db.Refund{Key: caseID + "/refund/response", CaseID: caseID, Clause: "response", Percent: 50, AmountCents: refund,
				Reason: "response breached", CreatedAt: done})
		}
		require.NoError(t, f.store.RecordCase(ctx, c, events, refunds, nil, clocks...))
	}
	seed("PG-1", "p1", oct, "breached", 250000)
	seed("PG-2", "p1", nov, "met", 0)
	seed("PG-3", "p2", nov.Add(time.Hour), "met", 0)
	return f
}

// pageReq sends a page request with the cookie, if any.
func pageReq(t *testing.T, f *fixture, method, target string, form url.Values, cookie *http.Cookie, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, target, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	f.srv.Handler().ServeHTTP(rec, req)
	return rec
}

func sessionCookie(rec *httptest.ResponseRecorder) *http.Cookie {
	for _, c := range rec.Result().Cookies() {
		if c.Name == ReportsCookie {
			return c
		}
	}
	return nil
}

// signIn posts the manager token through the form and returns the session cookie.
func signIn(t *testing.T, f *fixture) *http.Cookie {
	t.Helper()
	rec := pageReq(t, f, http.MethodPost, "/reports/login", url.Values{"token": {f.manager}}, nil, map[string]string{"Origin": "http://example.com"})
	require.Equal(t, http.StatusSeeOther, rec.Code, rec.Body.String())
	ck := sessionCookie(rec)
	require.NotNil(t, ck)
	return ck
}

var (
	pageTags   = regexp.MustCompile(`(?s)<[^>]*>`)
	pageSpaces = regexp.MustCompile(`\s+`)
)

// visible is the page's text without its tags, spaces squeezed.
func visible(body string) string {
	body = regexp.MustCompile(`(?s)<(style|title)[^>]*>.*?</(style|title)>`).ReplaceAllString(body, " ")
	return strings.TrimSpace(pageSpaces.ReplaceAllString(html.UnescapeString(pageTags.ReplaceAllString(body, " ")), " "))
}

// TestReportsPageLogin: without a session the page is the sign-in form; a wrong, partner's or revoked token
// is refused without a cookie; the manager's token sets an HttpOnly, SameSite=Strict cookie scoped to
// /reports (Secure over TLS) holding a random session id, not the token; logout and revoking the token end
// the session; a form posted from another site is refused.
func TestReportsPageLogin(t *testing.T) {
	f := pageFixture(t)
	rec := pageReq(t, f, http.MethodGet, "/reports", nil, nil, nil)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), `name="token"`)
	assert.Contains(t, rec.Body.String(), `action="/reports/login"`)
	assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	assert.NotContains(t, rec.Body.String(), "SLA 达成率")

	for name, tok := range map[string]string{"wrong": "stw_not-a-token", "empty": "", "partner": f.partner} {
		rec = pageReq(t, f, http.MethodPost, "/reports/login", url.Values{"token": {tok}}, nil, nil)
		assert.Equal(t, http.StatusUnauthorized, rec.Code, name)
		assert.Nil(t, sessionCookie(rec), name)
		assert.Contains(t, rec.Body.String(), `role="alert"`, name)
	}
	rec = pageReq(t, f, http.MethodPost, "/reports/login", url.Values{"token": {f.manager}}, nil, map[string]string{"Origin": "https://evil.test"})
	assert.Equal(t, http.StatusForbidden, rec.Code, "a cross-site login")
	assert.Nil(t, sessionCookie(rec))
	for _, site := range []string{"cross-site", "same-site"} {
		rec = pageReq(t, f, http.MethodPost, "/reports/login", url.Values{"token": {f.manager}}, nil, map[string]string{"Sec-Fetch-Site": site, "Origin": "null"})
		assert.Equal(t, http.StatusForbidden, rec.Code, "a %s login", site)
	}
	// A browser's own form: same-origin, its Origin "null" under Referrer-Policy no-referrer.
	rec = pageReq(t, f, http.MethodPost, "/reports/login", url.Values{"token": {f.manager}}, nil, map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "null"})
	assert.Equal(t, http.StatusSeeOther, rec.Code)

	rec = pageReq(t, f, http.MethodPost, "/reports/login", url.Values{"token": {f.manager}}, nil, nil)
	require.Equal(t, http.StatusSeeOther, rec.Code, rec.Body.String())
	assert.Equal(t, "/reports", rec.Header().Get("Location"))
	ck := sessionCookie(rec)
	require.NotNil(t, ck)
	assert.True(t, ck.HttpOnly)
	assert.Equal(t, http.SameSiteStrictMode, ck.SameSite)
	assert.False(t, ck.Secure, "plain HTTP")
	assert.Equal(t, "/reports", ck.Path)
	assert.Equal(t, int(reportsSessionTTL/time.Second), ck.MaxAge)
	assert.NotContains(t, ck.Value, f.manager)
	assert.NotContains(t, rec.Header().Get("Set-Cookie"), strings.TrimPrefix(f.manager, db.TokenPrefix))
	assert.Len(t, ck.Value, 43, "32 random bytes, base64url")

	rec = pageReq(t, f, http.MethodPost, "https://steward.test/reports/login", url.Values{"token": {f.manager}}, nil, nil)
	require.Equal(t, http.StatusSeeOther, rec.Code)
	tlsCk := sessionCookie(rec)
	require.NotNil(t, tlsCk)
	assert.True(t, tlsCk.Secure, "over TLS")
	assert.NotEqual(t, ck.Value, tlsCk.Value, "each sign-in is a new session")

	rec = pageReq(t, f, http.MethodGet, "/reports", nil, ck, nil)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), "SLA 达成率 attainment")
	assert.Contains(t, rec.Body.String(), "mgr", "the signed-in token's name")
	assert.NotContains(t, rec.Body.String(), `name="token"`)

	// A made-up session id is no session.
	rec = pageReq(t, f, http.MethodGet, "/reports", nil, &http.Cookie{Name: ReportsCookie, Value: f.manager}, nil)
	assert.Contains(t, rec.Body.String(), `name="token"`)

	// Logout forgets the session: the old cookie shows the form again.
	rec = pageReq(t, f, http.MethodGet, "/reports/logout", nil, ck, nil)
	assert.Equal(t, http.StatusSeeOther, rec.Code)
	cleared := sessionCookie(rec)
	require.NotNil(t, cleared)
	assert.Empty(t, cleared.Value)
	assert.Negative(t, cleared.MaxAge)
	rec = pageReq(t, f, http.MethodGet, "/reports", nil, ck, nil)
	assert.Contains(t, rec.Body.String(), `name="token"`, "after logout")

	// Revoking the token ends its sessions; an expired session is gone too.
	ck = signIn(t, f)
	toks, err := f.store.ListTokens(context.Background())
	require.NoError(t, err)
	for _, tok := range toks {
		if tok.Role == db.RoleManager {
			require.NoError(t, f.store.RevokeToken(context.Background(), tok.ID))
		}
	}
	rec = pageReq(t, f, http.MethodGet, "/reports", nil, ck, nil)
	assert.Contains(t, rec.Body.String(), `name="token"`, "after the token was revoked")

	f.manager, _, err = f.store.IssueToken(context.Background(), db.RoleManager, "", "mgr2")
	require.NoError(t, err)
	ck = signIn(t, f)
	f.now = f.now.Add(reportsSessionTTL)
	rec = pageReq(t, f, http.MethodGet, "/reports", nil, ck, nil)
	assert.Contains(t, rec.Body.String(), `name="token"`, "after the session expired")
}

// TestReportsPageFigures: the page shows the seeded figures — attainment per service and clause overall and
// per month, the refund per month in yuan, the partner rows — over the default window (the last 12 months),
// links each figure to the matching Web UI query, and links nowhere else outside the page.
func TestReportsPageFigures(t *testing.T) {
	f := pageFixture(t)
	ck := signIn(t, f)
	rec := pageReq(t, f, http.MethodGet, "/reports", nil, ck, nil)
	require.Equal(t, http.StatusOK, rec.Code)
	body := rec.Body.String()
	text := visible(body)

	assert.Contains(t, body, `value="2025-12-01"`, "the window starts 11 months back")
	assert.Contains(t, body, `value="2026-11-30"`, "and ends with this month")
	// sos · response: October 0 of 1, November 2 of 2 → 66.7% overall; handling runs, nothing judged.
	assert.Regexp(t, `sos · response 66\.7% 达成率 attainment · 开始 started 3 · 达成 met 2 · 违约 breached 1 · 进行中 open 0`, text)
	assert.Regexp(t, `sos · handling — 达成率 attainment · 开始 started 3 · 达成 met 0 · 违约 breached 0 · 进行中 open 3`, text)
	assert.Contains(t, body, `<title>sos response 2026-10: 0% (0 met, 1 breached, 0 open)</title>`)
	assert.Contains(t, body, `<title>sos response 2026-11: 100% (2 met, 0 breached, 0 open)</title>`)
	assert.Regexp(t, `CNY ?: 应退 owed ¥2,500\.00 · 已付 paid ¥0\.00`, text)
	assert.Contains(t, body, `<title>CNY 2026-10: ¥2,500.00 refunded, ¥0.00 paid</title>`)
	// The scorecard: p1 was offered and accepted two cases, breached once and caused the refund, holds two
	// open cases against a capacity of one; p2 met its one.
	assert.Contains(t, text, "p1 (P1) 2 2 0 0 10 min 15 min 50% — 1 ¥2,500.00 0 — 2 / 1")
	assert.Contains(t, text, "p2 (Second Co) 1 1 0 0 10 min 15 min 100% — 0 — 0 — 1 / 3")

	// Links to the Web UI: the service's breached cases in the window and in a month, a partner's cases.
	uiQ := func(q string) string {
		return pageUI + "/namespaces/steward/workflows?query=" + strings.ReplaceAll(url.QueryEscape(q), "+", "%20")
	}
	window := "StartTime >= '2025-12-01T00:00:00+08:00' AND StartTime < '2026-12-01T00:00:00+08:00'"
	for _, want := range []string{
		uiQ("ServiceType = 'sos' AND SlaStatus = 'breached' AND " + window),
		uiQ("ServiceType = 'sos' AND SlaStatus = 'breached' AND StartTime >= '2026-10-01T00:00:00+08:00' AND StartTime < '2026-11-01T00:00:00+08:00'"),
		uiQ("RefundCents > 0 AND StartTime >= '2026-10-01T00:00:00+08:00' AND StartTime < '2026-11-01T00:00:00+08:00'"),
		uiQ("PartnerId = 'p1' AND " + window),
		uiQ("PartnerId = 'p1' AND SlaStatus = 'breached' AND " + window),
	} {
		assert.Contains(t, body, `href="`+html.EscapeString(want)+`"`)
	}
	// Nothing outside the page but the configured UI: no fonts, scripts or images from elsewhere.
	for _, m := range regexp.MustCompile(`(?i)(?:https?:)?//[^\s"'<>)]+`).FindAllString(body, -1) {
		assert.True(t, strings.HasPrefix(m, pageUI+"/"), "an external URL in the page: %s", m)
	}
	assert.NotContains(t, body, "<script")
	assert.NotContains(t, body, "<img")
	assert.NotContains(t, body, "@import")

	// Without a UI the page has no links to one.
	f.srv = New(Config{Temporal: f.temporal, Store: f.store, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return f.now }})
	ck = signIn(t, f)
	rec = pageReq(t, f, http.MethodGet, "/reports", nil, ck, nil)
	assert.NotContains(t, rec.Body.String(), "workflows?query=")
	assert.Contains(t, visible(rec.Body.String()), "sos · response 66.7%")

	// A window: November only; a window that makes no sense says so and shows the default one.
	rec = pageReq(t, f, http.MethodGet, "/reports?from=2026-11-01&to=2026-11-30", nil, ck, nil)
	assert.Contains(t, visible(rec.Body.String()), "sos · response 100% 达成率 attainment · 开始 started 2")
	assert.Contains(t, visible(rec.Body.String()), "窗口内没有退款 No refunds in the window.")
	rec = pageReq(t, f, http.MethodGet, "/reports?from=2026-11-30&to=2026-11-01", nil, ck, nil)
	assert.Contains(t, rec.Body.String(), "截止日期须晚于起始日期")
	assert.Contains(t, visible(rec.Body.String()), "sos · response 66.7%")
	rec = pageReq(t, f, http.MethodGet, "/reports?from=yesterday", nil, ck, nil)
	assert.Contains(t, rec.Body.String(), "起始日期无效")
}

// TestReportsPageSort: the scorecard sorts on the server by ?sort=column&dir=asc|desc; each header links to
// its column's sort (the other way for the current one) within the window, and says which is current.
func TestReportsPageSort(t *testing.T) {
	f := pageFixture(t)
	ck := signIn(t, f)
	order := func(q string) []string {
		rec := pageReq(t, f, http.MethodGet, "/reports"+q, nil, ck, nil)
		require.Equal(t, http.StatusOK, rec.Code)
		table := rec.Body.String()[strings.Index(rec.Body.String(), `id="partners"`):]
		var ids []string
		for _, m := range regexp.MustCompile(`<tr><td><a [^>]*>(p\d)`).FindAllStringSubmatch(table, -1) {
			ids = append(ids, m[1])
		}
		return ids
	}
	assert.Equal(t, []string{"p1", "p2"}, order(""), "by partner by default")
	assert.Equal(t, []string{"p2", "p1"}, order("?sort=partner&dir=desc"))
	assert.Equal(t, []string{"p1", "p2"}, order("?sort=breaches&dir=desc"))
	assert.Equal(t, []string{"p2", "p1"}, order("?sort=breaches&dir=asc"))
	assert.Equal(t, []string{"p2", "p1"}, order("?sort=response&dir=desc"))
	assert.Equal(t, []string{"p2", "p1"}, order("?sort=refunds"), "ascending without dir")
	assert.Equal(t, []string{"p1", "p2"}, order("?sort=nonsense&dir=sideways"), "an unknown column sorts by partner")

	rec := pageReq(t, f, http.MethodGet, "/reports?from=2026-01-01&to=2026-11-30&sort=breaches&dir=desc", nil, ck, nil)
	body := rec.Body.String()
	assert.Contains(t, body, `<th scope="col" aria-sort="descending"><a href="/reports?dir=asc&amp;from=2026-01-01&amp;sort=breaches&amp;to=2026-11-30#partners">违约 breaches ▼</a></th>`)
	assert.Contains(t, body, `<th scope="col" aria-sort="none"><a href="/reports?dir=asc&amp;from=2026-01-01&amp;sort=rating&amp;to=2026-11-30#partners">客户评分 rating</a></th>`)
	rec = pageReq(t, f, http.MethodGet, "/reports?sort=rating", nil, ck, nil)
	assert.Contains(t, rec.Body.String(), `aria-sort="ascending"><a href="/reports?dir=desc&amp;from=2025-12-01&amp;sort=rating&amp;to=2026-11-30#partners">客户评分 rating ▲</a>`)
}

func TestReportsPageHelpers(t *testing.T) {
	assert.Equal(t, "¥2,500.00", money(250000, "CNY"))
	assert.Equal(t, "USD 1,234,567.05", money(123456705, "USD"))
	assert.Equal(t, "-¥0.50", money(-50, "CNY"))
	assert.Equal(t, int64(100), niceCeil(0))
	assert.Equal(t, int64(500000), niceCeil(250001))
	assert.Equal(t, int64(200000), niceCeil(200000))
	from, to, err := reportWindow("", "", time.Date(2026, 1, 31, 20, 0, 0, 0, time.UTC)) // 2026-02-01 04:00 in Beijing
	require.NoError(t, err)
	assert.Equal(t, time.Date(2025, 3, 1, 0, 0, 0, 0, sla.China), from)
	assert.Equal(t, time.Date(2026, 3, 1, 0, 0, 0, 0, sla.China), to)
	assert.Len(t, monthsOf(from, to), 12)
	_, _, err = reportWindow("2020-01-01", "2026-01-01", time.Now())
	assert.Error(t, err, "more than five years")
}
