package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/workflows"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// serverOn is another API process on the fixture's database and clock, configured by cfg.
func (f *fixture) serverOn(cfg Config) *Server {
	cfg.Temporal, cfg.Store, cfg.Logger, cfg.Now = f.temporal, f.store, quietLogger(), func() time.Time { return f.now }
	if cfg.MarketplaceSecrets == nil && cfg.MarketplaceSecret == nil {
		cfg.MarketplaceSecret = f.secret
	}
	return New(cfg)
}

func callOn(t *testing.T, srv *Server, method, path string, body []byte, header map[string]string) (*httptest.ResponseRecorder, Problem) {
	t.Helper()
	f := &fixture{srv: srv}
	return f.call(t, method, path, body, header)
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

// TestTokenRefusalsSayWhy: an expired token, a rotated one after its grace period, a revoked one and a
// disabled partner's are each 401 with a problem type of its own, naming the token and never its secret.
func TestTokenRefusalsSayWhy(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	short, tok, err := f.store.IssueTokenTTL(ctx, db.RoleManager, "", "temp", time.Hour)
	require.NoError(t, err)
	rec, _ := f.call(t, http.MethodGet, "/v1/cases", nil, bearer(short))
	require.Equal(t, http.StatusOK, rec.Code, "%s", rec.Body)
	f.now = tok.ExpiresAt.Add(time.Second)
	rec, p := f.call(t, http.MethodGet, "/v1/cases", nil, bearer(short))
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
	assert.Equal(t, CodeTokenExpired, p.Code)
	assert.Equal(t, ProblemTypeBase+CodeTokenExpired, p.Type)
	assert.Contains(t, p.Detail, tok.ID)
	assert.Contains(t, rec.Header().Get("WWW-Authenticate"), "invalid_token")

	// Rotation: both tokens work during the grace period, then the old one is expired, naming its successor.
	f.now = time.Now()
	oldSecret, old, err := f.store.IssueToken(ctx, db.RolePartner, "p1", "rotating engineer")
	require.NoError(t, err)
	newSecret, next, err := f.store.RotateToken(ctx, old.ID, 24*time.Hour, db.DefaultTokenTTL, f.now)
	require.NoError(t, err)
	for _, s := range []string{oldSecret, newSecret} {
		rec, _ = f.call(t, http.MethodGet, "/v1/cases/sos:NOPE", nil, bearer(s))
		assert.Equal(t, http.StatusNotFound, rec.Code, "within the grace period: %s", rec.Body)
	}
	f.now = f.now.Add(24 * time.Hour)
	rec, p = f.call(t, http.MethodGet, "/v1/cases/sos:NOPE", nil, bearer(oldSecret))
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
	assert.Equal(t, CodeTokenExpired, p.Code)
	assert.Contains(t, p.Detail, "successor "+next.ID)
	rec, _ = f.call(t, http.MethodGet, "/v1/cases/sos:NOPE", nil, bearer(newSecret))
	assert.Equal(t, http.StatusNotFound, rec.Code, "the successor: %s", rec.Body)

	require.NoError(t, f.store.SetPartnerActive(ctx, "p1", false))
	rec, p = f.call(t, http.MethodGet, "/v1/cases/sos:NOPE", nil, bearer(newSecret))
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
	assert.Equal(t, CodePartnerDisabled, p.Code)
	for _, s := range []string{short, oldSecret, newSecret} {
		assert.NotContains(t, rec.Body.String(), s)
	}
}

// TestRevocationAcrossProcesses: two API processes on one database. A revocation, a partner's disabling
// and an expiry hold on the next request in both, within a second of the change: nothing is cached.
func TestRevocationAcrossProcesses(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a, b := f.serverOn(Config{}), f.serverOn(Config{})
	secret, tok, err := f.store.IssueToken(ctx, db.RoleManager, "", "leaver")
	require.NoError(t, err)
	for _, srv := range []*Server{a, b} {
		rec, _ := callOn(t, srv, http.MethodGet, "/v1/cases", nil, bearer(secret))
		require.Equal(t, http.StatusOK, rec.Code, "%s", rec.Body)
	}
	revoked := time.Now()
	require.NoError(t, f.store.RevokeToken(ctx, tok.ID))
	for name, srv := range map[string]*Server{"a": a, "b": b} {
		rec, p := callOn(t, srv, http.MethodGet, "/v1/cases", nil, bearer(secret))
		assert.Equal(t, http.StatusUnauthorized, rec.Code, "process %s", name)
		assert.Equal(t, CodeTokenRevoked, p.Code, "process %s", name)
	}
	assert.Less(t, time.Since(revoked), time.Second, "both processes refused it within a second")

	eng := f.partner
	for _, srv := range []*Server{a, b} {
		rec, _ := callOn(t, srv, http.MethodGet, "/v1/cases/sos:NOPE", nil, bearer(eng))
		require.Equal(t, http.StatusNotFound, rec.Code, "%s", rec.Body)
	}
	require.NoError(t, f.store.SetPartnerActive(ctx, "p1", false))
	for name, srv := range map[string]*Server{"a": a, "b": b} {
		rec, p := callOn(t, srv, http.MethodGet, "/v1/cases/sos:NOPE", nil, bearer(eng))
		assert.Equal(t, http.StatusUnauthorized, rec.Code, "process %s", name)
		assert.Equal(t, CodePartnerDisabled, p.Code, "process %s: every token of the company at once", name)
	}
}

// TestTokenLastUse: a token's last use and client address are written on its first request and then at
// most once a minute, whichever API process serves it.
func TestTokenLastUse(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a, b := f.serverOn(Config{}), f.serverOn(Config{})
	start := time.Now().UTC().Truncate(time.Second)
	f.now = start
	use := func(srv *Server, from string) {
		t.Helper()
		req := httptest.NewRequest(http.MethodGet, "/v1/cases", nil)
		req.RemoteAddr = from + ":40000"
		req.Header.Set("Authorization", "Bearer "+f.manager)
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		require.Equal(t, http.StatusOK, rec.Code, "%s", rec.Body)
	}
	lastUse := func() (time.Time, string) {
		toks, err := f.store.ListTokens(ctx)
		require.NoError(t, err)
		for _, tk := range toks {
			if tk.Name == "mgr" {
				require.NotNil(t, tk.LastUsedAt, "the token's use was recorded")
				return *tk.LastUsedAt, tk.LastUsedFrom
			}
		}
		t.Fatal("no manager token")
		return time.Time{}, ""
	}
	use(a, "192.0.2.10")
	at, from := lastUse()
	assert.True(t, start.Equal(at), "first use at %v, got %v", start, at)
	assert.Equal(t, "192.0.2.10", from)
	f.now = start.Add(30 * time.Second)
	use(b, "198.51.100.20")
	use(a, "198.51.100.20")
	at, from = lastUse()
	assert.True(t, start.Equal(at), "within the minute nothing is written")
	assert.Equal(t, "192.0.2.10", from)
	f.now = start.Add(time.Minute)
	use(b, "198.51.100.20")
	at, from = lastUse()
	assert.True(t, start.Add(time.Minute).Equal(at))
	assert.Equal(t, "198.51.100.20", from)
}

// TestMarketplaceSecretOverlap: while the marketplace secret is rotated, a call signed with the current or
// the previous secret verifies; a process given the new secret alone refuses the old one, and one given the
// old secret alone refuses the new one. A v1 signature is claimed alone: another signature beside it in the
// header does not make it new.
func TestMarketplaceSecretOverlap(t *testing.T) {
	f := newFixture(t)
	cur, prev := []byte("marketplace-new-secret-01"), []byte("marketplace-old-secret-01")
	both := f.serverOn(Config{MarketplaceSecrets: [][]byte{cur, prev}})
	onlyNew := f.serverOn(Config{MarketplaceSecrets: [][]byte{cur}})
	onlyOld := f.serverOn(Config{MarketplaceSecret: prev})
	body := []byte(`{}`)
	sign := func(secret []byte) map[string]string {
		return map[string]string{HeaderTimestamp: strconv.FormatInt(f.now.Unix(), 10), HeaderSignature: SignRequest(secret, f.now, http.MethodPost, "/v1/purchases", body)}
	}
	tests := []struct {
		name   string
		srv    *Server
		secret []byte
		status int
	}{
		{"overlap, new secret", both, cur, http.StatusUnprocessableEntity},
		{"overlap, old secret", both, prev, http.StatusUnprocessableEntity},
		{"overlap, neither", both, []byte("some-other-secret-0123"), http.StatusUnauthorized},
		{"after the rotation, old secret", onlyNew, prev, http.StatusUnauthorized},
		{"after the rotation, new secret", onlyNew, cur, http.StatusUnprocessableEntity},
		{"before the rotation, new secret", onlyOld, cur, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, _ := callOn(t, tt.srv, http.MethodPost, "/v1/purchases", body, sign(tt.secret))
			assert.Equal(t, tt.status, rec.Code, "%s", rec.Body) // 422: verified, then the empty purchase refused
		})
	}

	// v1, bound to the first call: the same MAC beside a junk signature is the same signature.
	v1 := map[string]string{HeaderTimestamp: strconv.FormatInt(f.now.Unix(), 10), HeaderSignature: Sign(prev, f.now, nil)}
	require.NoError(t, f.store.UpsertCase(context.Background(), &db.Case{CaseID: "sos:A", WorkflowID: "sos:A", Service: "sos", Status: "open", OpenedAt: f.now, UpdatedAt: f.now}))
	require.NoError(t, f.store.UpsertCase(context.Background(), &db.Case{CaseID: "sos:B", WorkflowID: "sos:B", Service: "sos", Status: "open", OpenedAt: f.now, UpdatedAt: f.now}))
	rec, _ := callOn(t, both, http.MethodGet, "/v1/cases/sos:A/report", nil, v1)
	assert.Equal(t, http.StatusNotFound, rec.Code, "signed with the old secret, no report yet: %s", rec.Body)
	v1[HeaderSignature] = "v1=00,v1=" + strings.ToUpper(strings.TrimPrefix(v1[HeaderSignature], "v1="))
	rec, p := callOn(t, both, http.MethodGet, "/v1/cases/sos:B/report", nil, v1)
	assert.Equal(t, http.StatusUnauthorized, rec.Code, "%s", rec.Body)
	assert.Contains(t, p.Detail, "already used")

	// A read that must be v2 takes no v1 signature hidden behind a v2 one.
	h := map[string]string{HeaderTimestamp: strconv.FormatInt(f.now.Unix(), 10),
		HeaderSignature: "v2=" + strings.Repeat("00", 32) + "," + Sign(cur, f.now, nil)}
	rec, p = callOn(t, both, http.MethodGet, "/v1/customers/cust-1/cases", nil, h)
	assert.Equal(t, http.StatusUnauthorized, rec.Code, "%s", rec.Body)
	assert.Contains(t, p.Detail, "v2=")
}

// TestAuthFailureLimitFlood: a flood of requests with bad tokens and bad signatures from one loopback
// address costs a bounded number of credential checks — the burst, and the rate after it — however many
// requests it sends; the rest are 429 with Retry-After, answered without a credential check, so the flood
// also ends in bounded time. Another address is not affected, and without the limit every request of the
// flood is checked.
func TestAuthFailureLimitFlood(t *testing.T) {
	const (
		burst   = 10
		rate    = 2.0
		flood   = 600
		workers = 16
	)
	run := func(t *testing.T, cfg Config) (checked, limited int, took time.Duration, f *fixture, srv *httptest.Server) {
		f = newFixture(t)
		srv = httptest.NewServer(f.serverOn(cfg).Handler())
		t.Cleanup(srv.Close)
		var n401, n429 atomic.Int64
		var wg sync.WaitGroup
		jobs := make(chan int)
		start := time.Now()
		for range workers {
			wg.Go(func() {
				for i := range jobs {
					var req *http.Request
					if i%2 == 0 {
						req, _ = http.NewRequest(http.MethodGet, srv.URL+"/v1/cases", nil)
						req.Header.Set("Authorization", "Bearer stw_guess_"+strconv.Itoa(i))
					} else {
						req, _ = http.NewRequest(http.MethodPost, srv.URL+"/v1/purchases", strings.NewReader(`{}`))
						req.Header.Set(HeaderTimestamp, strconv.FormatInt(time.Now().Unix(), 10))
						req.Header.Set(HeaderSignature, "v2="+strings.Repeat("ab", 32))
					}
					res, err := http.DefaultClient.Do(req)
					if !assert.NoError(t, err) {
						continue
					}
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					switch res.StatusCode {
					case http.StatusUnauthorized:
						n401.Add(1)
					case http.StatusTooManyRequests:
						n429.Add(1)
						assert.NotEmpty(t, res.Header.Get("Retry-After"))
					default:
						t.Errorf("flood answered %d", res.StatusCode)
					}
				}
			})
		}
		for i := range flood {
			jobs <- i
		}
		close(jobs)
		wg.Wait()
		return int(n401.Load()), int(n429.Load()), time.Since(start), f, srv
	}

	t.Run("limited", func(t *testing.T) {
		checked, limited, took, f, srv := run(t, Config{AuthFailureLimit: rate, AuthFailureBurst: burst})
		bound := burst + int(rate*took.Seconds()) + 1
		t.Logf("%d requests in %s: %d checked (bound %d), %d refused with 429", flood, took.Round(time.Millisecond), checked, bound, limited)
		assert.LessOrEqual(t, checked, bound, "credential checks: the burst and the rate, no more")
		assert.Equal(t, flood, checked+limited)
		assert.Less(t, took, 20*time.Second, "the flood ends in bounded time")

		// The 429 says when to come back.
		res, err := http.Get(srv.URL + "/v1/cases")
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, http.StatusTooManyRequests, res.StatusCode)
		retry, err := strconv.Atoi(res.Header.Get("Retry-After"))
		require.NoError(t, err)
		assert.GreaterOrEqual(t, retry, 1)

		// Another address, even with a valid token, is served.
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
		other := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/cases", nil)
		req.Header.Set("Authorization", "Bearer "+f.manager)
		res, err = other.Do(req)
		if err != nil {
			t.Skipf("cannot dial from 127.0.0.2: %v", err)
		}
		res.Body.Close()
		assert.Equal(t, http.StatusOK, res.StatusCode, "another address is not limited")
	})
	t.Run("off", func(t *testing.T) {
		checked, limited, _, _, _ := run(t, Config{})
		assert.Equal(t, flood, checked, "without the limit every request of the flood costs a credential check")
		assert.Zero(t, limited)
	})
}

// TestAuthFailureLimitSpendsOnlyFailures: requests that authenticate give their token back, so a busy
// client with a valid credential is never limited by the failure bound; failures spend it, then refill.
func TestAuthFailureLimitSpendsOnlyFailures(t *testing.T) {
	f := newFixture(t)
	srv := f.serverOn(Config{AuthFailureLimit: 1, AuthFailureBurst: 3})
	clock := time.Now()
	srv.authLimit.clock = func() time.Time { return clock }
	for i := range 50 {
		rec, _ := callOn(t, srv, http.MethodGet, "/v1/cases", nil, bearer(f.manager))
		require.Equal(t, http.StatusOK, rec.Code, "request %d with a valid token: %s", i+1, rec.Body)
	}
	for i := range 3 {
		rec, p := callOn(t, srv, http.MethodGet, "/v1/cases", nil, bearer("stw_wrong"))
		require.Equal(t, http.StatusUnauthorized, rec.Code, "failure %d within the burst", i+1)
		require.Equal(t, CodeUnauthorized, p.Code)
	}
	rec, p := callOn(t, srv, http.MethodGet, "/v1/cases", nil, bearer(f.manager))
	assert.Equal(t, http.StatusTooManyRequests, rec.Code, "the address's failures are spent: even a valid token waits")
	assert.Equal(t, CodeRateLimited, p.Code)
	assert.Equal(t, "1", rec.Header().Get("Retry-After"))
	clock = clock.Add(time.Second)
	rec, _ = callOn(t, srv, http.MethodGet, "/v1/cases", nil, bearer(f.manager))
	assert.Equal(t, http.StatusOK, rec.Code, "a second later one is back")
	rec, _ = callOn(t, srv, http.MethodGet, "/v1/cases", nil, bearer(f.manager))
	assert.Equal(t, http.StatusOK, rec.Code, "and a success gave it back")

	// A bad signature and the reports' sign-in form count as failures too.
	clock = clock.Add(10 * time.Second)
	rec, _ = callOn(t, srv, http.MethodPost, "/v1/purchases", []byte(`{}`), map[string]string{HeaderTimestamp: "1", HeaderSignature: "v1=00"})
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
	req := httptest.NewRequest(http.MethodPost, ReportsLoginPath, strings.NewReader("token=stw_wrong"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	lrec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(lrec, req)
	assert.Equal(t, http.StatusUnauthorized, lrec.Code)
	rec, _ = callOn(t, srv, http.MethodGet, "/v1/cases", nil, bearer("stw_wrong"))
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
	rec, _ = callOn(t, srv, http.MethodGet, "/v1/cases", nil, bearer("stw_wrong"))
	assert.Equal(t, http.StatusTooManyRequests, rec.Code, "three failures of three kinds spent the burst")
}

// TestClientAddress: the client address is the connection's peer; X-Forwarded-For counts only from a
// trusted proxy, so a client cannot pick the address its failures are counted against.
func TestClientAddress(t *testing.T) {
	f := newFixture(t)
	direct := f.serverOn(Config{AuthFailureLimit: 0.001, AuthFailureBurst: 1})
	proxied := f.serverOn(Config{AuthFailureLimit: 0.001, AuthFailureBurst: 1, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	send := func(srv *Server, peer, xff string) int {
		req := httptest.NewRequest(http.MethodGet, "/v1/cases", nil)
		req.RemoteAddr = peer + ":5000"
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		req.Header.Set("Authorization", "Bearer stw_wrong")
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		return rec.Code
	}
	assert.Equal(t, http.StatusUnauthorized, send(direct, "203.0.113.5", "198.51.100.1"))
	assert.Equal(t, http.StatusTooManyRequests, send(direct, "203.0.113.5", "198.51.100.2"), "a forged X-Forwarded-For is ignored")
	assert.Equal(t, http.StatusUnauthorized, send(proxied, "10.1.2.3", "198.51.100.1"))
	assert.Equal(t, http.StatusUnauthorized, send(proxied, "10.1.2.3", "198.51.100.2"), "behind the trusted proxy, each client its own")
	assert.Equal(t, http.StatusTooManyRequests, send(proxied, "10.1.2.3", "198.51.100.1"))
	assert.Equal(t, http.StatusUnauthorized, send(proxied, "203.0.113.9", "198.51.100.3"))
	assert.Equal(t, http.StatusTooManyRequests, send(proxied, "203.0.113.9", "198.51.100.4"), "an untrusted peer's header is ignored")
	// IPv6 addresses are counted by their /64.
	assert.Equal(t, http.StatusUnauthorized, send(direct, "[2001:db8:1:2::1]", ""))
	assert.Equal(t, http.StatusTooManyRequests, send(direct, "[2001:db8:1:2::ffff]", ""))
	assert.Equal(t, http.StatusUnauthorized, send(direct, "[2001:db8:1:3::1]", ""))
}

// timelineCase is an SOS case first held by p1 (its engineer "eng" accepted and made contact), withdrawn
// when p1 was disabled, then accepted by p2's engineer "Zhou"; a manager cancelled nothing but refused a
// Web UI cancellation.
func timelineCase(t *testing.T) (*fixture, string, string) {
	f := newFixture(t)
	ctx := context.Background()
	require.NoError(t, f.store.AddPartner(ctx, &db.Partner{ID: "p2", Name: "P2", Services: []string{"sos"}, Capacity: 1, Active: true, CreatedAt: f.now}))
	p2, p2tok, err := f.store.IssueToken(ctx, db.RolePartner, "p2", "Zhou")
	require.NoError(t, err)
	caseID := f.seedCase(t, "TL1", "cust-1", "sos", "p2", "CNY", 1000_00, f.now.Add(-time.Hour))
	p1 := partnerToken(t, f)
	for i, e := range []db.CaseEvent{
		{Actor: workflows.ActorMarketplace, Event: string(workflows.EventCaseOpened), Detail: "order TL1 paid"},
		{Actor: workflows.ActorPartner, Event: string(workflows.EventPartnerAccepted), Detail: "p1 accepted", PartnerID: "p1", ByName: "eng", ByTokenID: p1.ID, ByPartnerID: "p1"},
		{Actor: workflows.ActorPartner, Event: string(workflows.EventCustomerContacted), Detail: "first contact", PartnerID: "p1", ByName: "eng", ByTokenID: p1.ID, ByPartnerID: "p1"},
		{Actor: workflows.ActorManager, Event: string(workflows.EventPartnerWithdrawn), Detail: "p1 withdrawn", PartnerID: "p1", ByName: "ops-lead"},
		{Actor: workflows.ActorPartner, Event: string(workflows.EventPartnerAccepted), Detail: "p2 accepted", PartnerID: "p2", ByName: "Zhou", ByTokenID: p2tok.ID, ByPartnerID: "p2"},
		{Actor: workflows.ActorSystem, Event: string(workflows.EventSLAAtRisk), Detail: "response at risk", PartnerID: "p2"},
	} {
		e.Key, e.CaseID, e.At = caseID+"/"+strconv.Itoa(i), caseID, f.now.Add(time.Duration(i-10)*time.Minute)
		_, err := f.store.AppendEvent(ctx, &e)
		require.NoError(t, err)
	}
	f.temporal.On("QueryWorkflow", mock.Anything, caseID, "", workflows.QueryCaseView).Return(nil, serviceerror.NewNotFound("archived"))
	return f, caseID, p2
}

// partnerToken is the fixture's partner token.
func partnerToken(t *testing.T, f *fixture) db.Token {
	t.Helper()
	tok, err := f.store.Authenticate(context.Background(), f.partner)
	require.NoError(t, err)
	return *tok
}

// TestTimelineNamesTheEngineer: each step's line names the token's holder and the company; managers see
// every engineer and manager, a partner only its own company's engineers (never another company's, even on
// a case it took over), and the customer, through the marketplace, no one.
func TestTimelineNamesTheEngineer(t *testing.T) {
	f, caseID, p2 := timelineCase(t)
	path := "/v1/cases/" + caseID
	byOf := func(raw []byte) map[string]*workflows.TimelineBy {
		var v struct {
			Timeline []workflows.TimelineEntry `json:"timeline"`
		}
		require.NoError(t, json.Unmarshal(raw, &v), "%s", raw)
		out := map[string]*workflows.TimelineBy{}
		for _, e := range v.Timeline {
			out[e.Event+"/"+e.Detail] = e.By
		}
		return out
	}

	rec, _ := f.call(t, http.MethodGet, path, nil, bearer(f.manager))
	require.Equal(t, http.StatusOK, rec.Code, "%s", rec.Body)
	m := byOf(rec.Body.Bytes())
	require.NotNil(t, m["customer_contacted/first contact"])
	assert.Equal(t, "eng", m["customer_contacted/first contact"].Name)
	assert.Equal(t, "p1", m["customer_contacted/first contact"].PartnerID, "the engineer's company")
	assert.NotEmpty(t, m["customer_contacted/first contact"].TokenID)
	assert.Equal(t, "Zhou", m["partner_accepted/p2 accepted"].Name)
	assert.Equal(t, "ops-lead", m["partner_withdrawn/p1 withdrawn"].Name, "a manager's action names the manager")
	assert.Nil(t, m["sla_at_risk/response at risk"], "steward's own lines name no one")
	assert.Nil(t, m["case_opened/order TL1 paid"])

	rec, _ = f.call(t, http.MethodGet, path, nil, bearer(p2))
	require.Equal(t, http.StatusOK, rec.Code, "%s", rec.Body)
	assert.NotContains(t, rec.Body.String(), `"eng"`, "p2 never sees p1's engineer")
	assert.NotContains(t, rec.Body.String(), "ops-lead", "nor the manager")
	assert.NotContains(t, rec.Body.String(), "partner_withdrawn", "nor the assignment")
	p := byOf(rec.Body.Bytes())
	assert.Nil(t, p["customer_contacted/first contact"])
	require.NotNil(t, p["partner_accepted/p2 accepted"])
	assert.Equal(t, "Zhou", p["partner_accepted/p2 accepted"].Name, "its own engineer")

	res, body, _ := f.customerGet(t, path, "?customer_id=cust-1")
	require.Equal(t, http.StatusOK, res.StatusCode, "%s", body)
	for _, name := range []string{`"eng"`, "Zhou", "ops-lead", `"by"`} {
		assert.NotContains(t, string(body), name, "the customer's view names no one")
	}
}

// TestStepCarriesTheTokenHolder: a partner's step reaches the workflow with the token's holder, its id
// (never the secret) and the company, which the step's timeline lines carry.
func TestStepCarriesTheTokenHolder(t *testing.T) {
	f := newFixture(t)
	require.NoError(t, f.store.UpsertCase(context.Background(), &db.Case{CaseID: "sos:S1", WorkflowID: "sos:S1", Service: "sos", Stage: "confirmation",
		Status: "open", PartnerID: "p1", CustomerID: "c", OrderID: "S1", OpenedAt: f.now, UpdatedAt: f.now}))
	var sent []client.UpdateWorkflowOptions
	f.temporal.On("UpdateWorkflow", mock.Anything, mock.Anything).Return(
		func(_ context.Context, o client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
			sent = append(sent, o)
			return fakeUpdate{}, nil
		})
	f.temporal.On("QueryWorkflow", mock.Anything, mock.Anything, mock.Anything, mock.Anything).Return(nil, serviceerror.NewNotFound("archived"))
	rec, _ := f.call(t, http.MethodPost, "/v1/cases/sos:S1/steps/contact", []byte(`{"note":"called"}`), bearer(f.partner))
	require.Equal(t, http.StatusOK, rec.Code, "%s", rec.Body)
	require.Len(t, sent, 1)
	in := sent[0].Args[0].(workflows.StepInput)
	tok := partnerToken(t, f)
	assert.Equal(t, "eng", in.ActorName)
	assert.Equal(t, tok.ID, in.TokenID)
	assert.Equal(t, "p1", in.PartnerID)
	raw, err := json.Marshal(in)
	require.NoError(t, err)
	assert.NotContains(t, string(raw), f.partner, "the token's secret stays out of the workflow")
}
