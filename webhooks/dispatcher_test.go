package webhooks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/db/dbtest"
	"github.com/steward-oss/steward/signing"
	"github.com/steward-oss/steward/webhooks"
	"github.com/steward-oss/steward/workflows"
)

var t0 = time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)

const secret = "whsec_test_0123456789abcdef"

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// clock is a fake clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// request is what a receiver got.
type request struct {
	Header http.Header
	URI    string
	Body   []byte
	At     time.Time
}

// receiver is an httptest server that records requests and answers with handle (200 when nil).
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	reqs   []request
	handle func(n int, w http.ResponseWriter, r *http.Request)
}

func newReceiver(t *testing.T, handle func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	rc := &receiver{handle: handle}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		n := len(rc.reqs)
		rc.reqs = append(rc.reqs, request{Header: r.Header.Clone(), URI: r.URL.RequestURI(), Body: body, At: time.Now()})
		rc.mu.Unlock()
		if rc.handle != nil {
			rc.handle(n, w, r)
		}
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) requests() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]request(nil), rc.reqs...)
}

func status(code int) func(int, http.ResponseWriter, *http.Request) {
	return func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }
}

// subscribe adds a subscription of every event to u.
func subscribe(t *testing.T, s *db.Store, id, u string, allowPrivate bool) *db.WebhookSubscription {
	t.Helper()
	sub := &db.WebhookSubscription{ID: id, URL: u, Events: db.EventList{"*"}, Secret: secret, AllowPrivate: allowPrivate, CreatedAt: t0}
	require.NoError(t, s.AddWebhookSubscription(ctxT(t), sub))
	return sub
}

// record writes n case.opened-like events of caseID at `at`, and returns their ids.
func record(t *testing.T, s *db.Store, caseID string, n int, at time.Time) []string {
	t.Helper()
	c := &db.Case{CaseID: caseID, WorkflowID: "wf-" + caseID, Service: "sos", OrderID: "o-" + caseID, CustomerID: "c-1", OpenedAt: at, UpdatedAt: at}
	out := make([]db.OutboxEvent, n)
	ids := make([]string, n)
	for i := range out {
		key := fmt.Sprintf("%s/%d", caseID, i)
		out[i] = db.OutboxEvent{Key: key, Type: "case.opened", CreatedAt: at, Data: map[string]string{"detail": "private-marker"}}
		ids[i] = db.WebhookEventID(key)
	}
	require.NoError(t, s.RecordCase(ctxT(t), c, nil, nil, out))
	return ids
}

func delivery(t *testing.T, s *db.Store, eventID, subID string) *db.WebhookDelivery {
	t.Helper()
	d, err := s.GetDelivery(ctxT(t), db.WebhookDeliveryID(eventID, subID))
	require.NoError(t, err)
	return d
}

// fixedBackoff is 1 s × 2^(attempt-1), without jitter.
func fixedBackoff(attempt int) time.Duration { return time.Second << (attempt - 1) }

func newDispatcher(s webhooks.Store, c *clock) *webhooks.Dispatcher {
	return &webhooks.Dispatcher{Store: s, Clock: c.Now, Backoff: fixedBackoff, Logger: slog.New(slog.DiscardHandler)}
}

func deliverDue(t *testing.T, d *webhooks.Dispatcher) int {
	t.Helper()
	n, err := d.DeliverDue(ctxT(t))
	require.NoError(t, err)
	return n
}

// TestDelivered: a 2xx is delivered; the receiver gets the payload with the headers, and verifies the v2
// signature over POST, the URL's path and query and the body with the subscription's secret.
func TestDelivered(t *testing.T) {
	s, c := dbtest.MustOpen(t), newClock(t0)
	rc := newReceiver(t, status(http.StatusNoContent))
	sub := subscribe(t, s, "whs_a", rc.URL+"/hooks/steward?tenant=7", true)
	ids := record(t, s, "sos:1", 1, t0)
	c.Set(t0.Add(time.Second))

	assert.Equal(t, 1, deliverDue(t, newDispatcher(s, c)))
	reqs := rc.requests()
	require.Len(t, reqs, 1)
	r := reqs[0]
	ev, err := s.GetWebhookEvent(ctxT(t), ids[0])
	require.NoError(t, err)
	assert.Equal(t, []byte(ev.Payload), r.Body)
	assert.Equal(t, ids[0], r.Header.Get(webhooks.HeaderEventID))
	assert.Equal(t, "case.opened", r.Header.Get(webhooks.HeaderEventType))
	assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
	assert.Equal(t, "steward-webhooks", r.Header.Get("User-Agent"))
	assert.Equal(t, fmt.Sprint(c.Now().Unix()), r.Header.Get(signing.HeaderTimestamp))
	assert.Equal(t, "/hooks/steward?tenant=7", r.URI)
	bound, err := signing.Verify([]byte(sub.Secret), c.Now(), r.Header.Get(signing.HeaderTimestamp), r.Header.Get(signing.HeaderSignature),
		http.MethodPost, r.URI, r.Body)
	require.NoError(t, err)
	assert.True(t, bound, "v2")

	d := delivery(t, s, ids[0], sub.ID)
	assert.Equal(t, db.DeliveryDelivered, d.State)
	assert.Equal(t, http.StatusNoContent, d.LastStatus)
	assert.Equal(t, 1, d.Attempts)
	require.NotNil(t, d.DeliveredAt)
	assert.Equal(t, c.Now(), *d.DeliveredAt)
	assert.Equal(t, 0, deliverDue(t, newDispatcher(s, c)), "nothing left")
}

// TestRetryThenDelivered: a 500 is retried after the backoff (not before), then a 200 is delivered.
func TestRetryThenDelivered(t *testing.T) {
	s, c := dbtest.MustOpen(t), newClock(t0)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n < 2 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	subscribe(t, s, "whs_a", rc.URL, true)
	ids := record(t, s, "sos:1", 1, t0)
	d := newDispatcher(s, c)

	assert.Equal(t, 1, deliverDue(t, d))
	got := delivery(t, s, ids[0], "whs_a")
	assert.Equal(t, db.DeliveryPending, got.State)
	assert.Equal(t, 500, got.LastStatus)
	assert.Equal(t, "HTTP 500", got.LastError)
	assert.Equal(t, t0.Add(time.Second), got.NextAttemptAt, "1 s after the first failure")

	c.Set(t0.Add(999 * time.Millisecond))
	assert.Equal(t, 0, deliverDue(t, d), "not before the backoff")
	c.Set(t0.Add(time.Second))
	assert.Equal(t, 1, deliverDue(t, d))
	got = delivery(t, s, ids[0], "whs_a")
	assert.Equal(t, t0.Add(3*time.Second), got.NextAttemptAt, "2 s after the second")

	c.Set(t0.Add(3 * time.Second))
	assert.Equal(t, 1, deliverDue(t, d))
	got = delivery(t, s, ids[0], "whs_a")
	assert.Equal(t, db.DeliveryDelivered, got.State)
	assert.Equal(t, 3, got.Attempts)
	assert.Empty(t, got.LastError)
	assert.Len(t, rc.requests(), 3)
}

func TestBackoff(t *testing.T) {
	for attempt, base := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 5: 16 * time.Second, 12: 2048 * time.Second, 13: time.Hour, 40: time.Hour} {
		for range 50 {
			d := webhooks.Backoff(attempt)
			assert.GreaterOrEqual(t, d, base/2, "attempt %d", attempt)
			assert.LessOrEqual(t, d, min(base, time.Hour), "attempt %d", attempt)
		}
	}
}

// TestHangingReceiverTimesOut: a receiver that never answers is cut off at Timeout and retried.
func TestHangingReceiverTimesOut(t *testing.T) {
	s, c := dbtest.MustOpen(t), newClock(t0)
	var hang atomic.Bool
	hang.Store(true)
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		if hang.Load() {
			<-r.Context().Done()
		}
	})
	subscribe(t, s, "whs_a", rc.URL, true)
	ids := record(t, s, "sos:1", 1, t0)
	d := newDispatcher(s, c)
	d.Timeout = 150 * time.Millisecond

	start := time.Now()
	assert.Equal(t, 1, deliverDue(t, d))
	took := time.Since(start)
	assert.GreaterOrEqual(t, took, 150*time.Millisecond)
	assert.Less(t, took, 2*time.Second)
	got := delivery(t, s, ids[0], "whs_a")
	assert.Equal(t, db.DeliveryPending, got.State)
	assert.Equal(t, 0, got.LastStatus)
	assert.Equal(t, "timeout after 150ms without an answer", got.LastError)

	hang.Store(false)
	c.Set(got.NextAttemptAt)
	assert.Equal(t, 1, deliverDue(t, d))
	assert.Equal(t, db.DeliveryDelivered, delivery(t, s, ids[0], "whs_a").State)
}

// TestRedirectNotFollowed: a 3xx is a failed attempt; its target is never called.
func TestRedirectNotFollowed(t *testing.T) {
	s, c := dbtest.MustOpen(t), newClock(t0)
	target := newReceiver(t, nil)
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/elsewhere", http.StatusTemporaryRedirect)
	})
	subscribe(t, s, "whs_a", rc.URL, true)
	ids := record(t, s, "sos:1", 1, t0)

	assert.Equal(t, 1, deliverDue(t, newDispatcher(s, c)))
	assert.Empty(t, target.requests())
	got := delivery(t, s, ids[0], "whs_a")
	assert.Equal(t, db.DeliveryPending, got.State)
	assert.Equal(t, http.StatusTemporaryRedirect, got.LastStatus)
	assert.Equal(t, "HTTP 307: redirects are not followed", got.LastError)
	assert.Equal(t, t0.Add(time.Second), got.NextAttemptAt)
}

// TestClientErrorRetried: a 4xx is retried like any failure (a receiver may be misconfigured for a while).
func TestClientErrorRetried(t *testing.T) {
	s, c := dbtest.MustOpen(t), newClock(t0)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 0 {
			w.WriteHeader(http.StatusUnauthorized)
		}
	})
	subscribe(t, s, "whs_a", rc.URL, true)
	ids := record(t, s, "sos:1", 1, t0)
	d := newDispatcher(s, c)

	deliverDue(t, d)
	got := delivery(t, s, ids[0], "whs_a")
	assert.Equal(t, db.DeliveryPending, got.State)
	assert.Equal(t, "HTTP 401", got.LastError)
	c.Set(got.NextAttemptAt)
	deliverDue(t, d)
	assert.Equal(t, db.DeliveryDelivered, delivery(t, s, ids[0], "whs_a").State)
}

// TestConnectionRefusedRetried: an unreachable receiver is retried.
func TestConnectionRefusedRetried(t *testing.T) {
	s, c := dbtest.MustOpen(t), newClock(t0)
	rc := newReceiver(t, nil)
	u := rc.URL
	rc.Close()
	subscribe(t, s, "whs_a", u, true)
	ids := record(t, s, "sos:1", 1, t0)

	deliverDue(t, newDispatcher(s, c))
	got := delivery(t, s, ids[0], "whs_a")
	assert.Equal(t, db.DeliveryPending, got.State)
	assert.Contains(t, got.LastError, "connection failed")
	assert.Contains(t, got.LastError, "refused")
}

// alerts records Alert calls.
type alerts struct {
	mu     sync.Mutex
	titles []string
	texts  []string
}

func (a *alerts) alert(_ context.Context, title, text string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.titles, a.texts = append(a.titles, title), append(a.texts, text)
}

func (a *alerts) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.titles)
}

// TestGiveUp: a receiver that always fails is retried until GiveUp after the event, the last attempt at
// the deadline; then the delivery is failed and ops are alerted exactly once. Logs never show the secret
// or the payload.
func TestGiveUp(t *testing.T) {
	s, c := dbtest.MustOpen(t), newClock(t0)
	rc := newReceiver(t, status(http.StatusServiceUnavailable))
	subscribe(t, s, "whs_a", rc.URL+"/in?token=receiver-token", true)
	ids := record(t, s, "sos:1", 1, t0)
	var logs bytes.Buffer
	var al alerts
	d := newDispatcher(s, c)
	d.GiveUp, d.Backoff, d.Alert = time.Hour, func(int) time.Duration { return 25 * time.Minute }, al.alert
	d.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	var times []time.Time
	for range 10 {
		got := delivery(t, s, ids[0], "whs_a")
		if got.State != db.DeliveryPending {
			break
		}
		c.Set(got.NextAttemptAt)
		times = append(times, c.Now())
		assert.Equal(t, 1, deliverDue(t, d))
	}
	assert.Equal(t, []time.Time{t0, t0.Add(25 * time.Minute), t0.Add(50 * time.Minute), t0.Add(time.Hour)}, times)
	got := delivery(t, s, ids[0], "whs_a")
	assert.Equal(t, db.DeliveryFailed, got.State)
	assert.Equal(t, "HTTP 503", got.LastError)
	require.NotNil(t, got.FailedAt)
	require.NotNil(t, got.AlertedAt)
	assert.Equal(t, t0.Add(time.Hour), *got.FailedAt)
	assert.Equal(t, 4, got.Attempts)

	require.Equal(t, 1, al.count())
	host := strings.TrimPrefix(rc.URL, "http://")
	assert.Equal(t, "webhook delivery failed: case.opened for sos:1 to "+host+": HTTP 503", al.titles[0])
	assert.Contains(t, al.texts[0], "steward webhooks redeliver "+got.ID)
	assert.NotContains(t, al.texts[0]+al.titles[0], "receiver-token")

	c.Set(t0.Add(10 * time.Hour))
	assert.Equal(t, 0, deliverDue(t, d), "given up: not sent again")
	assert.Equal(t, 1, al.count(), "alerted once")

	for _, leak := range []string{secret, "private-marker", "receiver-token"} {
		assert.NotContains(t, logs.String(), leak)
	}
	assert.Contains(t, logs.String(), "delivery given up")
}

// TestRedeliver: a redelivery sends the same event id again, and runs a new give-up period.
func TestRedeliver(t *testing.T) {
	s, c := dbtest.MustOpen(t), newClock(t0)
	var fail atomic.Bool
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		if fail.Load() {
			w.WriteHeader(http.StatusBadGateway)
		}
	})
	subscribe(t, s, "whs_a", rc.URL, true)
	ids := record(t, s, "sos:1", 1, t0)
	d := newDispatcher(s, c)
	d.GiveUp = time.Hour

	deliverDue(t, d)
	id := db.WebhookDeliveryID(ids[0], "whs_a")
	later := t0.Add(100 * time.Hour) // long past the event's give-up period
	c.Set(later)
	fail.Store(true)
	_, err := s.RedeliverDelivery(ctxT(t), id, later)
	require.NoError(t, err)
	assert.Equal(t, 1, deliverDue(t, d))
	got := delivery(t, s, ids[0], "whs_a")
	assert.Equal(t, db.DeliveryPending, got.State, "retried: the give-up period runs from the redelivery")
	assert.Equal(t, later.Add(time.Second), got.NextAttemptAt)

	fail.Store(false)
	c.Set(got.NextAttemptAt)
	assert.Equal(t, 1, deliverDue(t, d))
	assert.Equal(t, db.DeliveryDelivered, delivery(t, s, ids[0], "whs_a").State)
	reqs := rc.requests()
	require.Len(t, reqs, 3)
	for _, r := range reqs {
		assert.Equal(t, ids[0], r.Header.Get(webhooks.HeaderEventID))
		assert.Equal(t, reqs[0].Body, r.Body)
	}
}

// TestPrivateAddresses: CheckURL refuses loopback, private, link-local, unspecified and multicast
// addresses unless allowed, and URLs that are not http(s), carry user info or do not resolve.
func TestPrivateAddresses(t *testing.T) {
	for _, tc := range []struct{ url, refused string }{
		{"http://127.0.0.1:8080/hook", "loopback"},
		{"http://localhost/hook", "loopback"},
		{"http://[::1]/hook", "loopback"},
		{"http://10.1.2.3/hook", "private"},
		{"https://192.168.1.10/hook", "private"},
		{"https://172.16.0.1/hook", "private"},
		{"https://[fd00::1]/hook", "private"},
		{"http://100.100.100.200/latest/meta-data", "private"},
		{"http://169.254.169.254/latest/meta-data", "link-local"},
		{"http://[fe80::1]/", "link-local"},
		{"http://0.0.0.0/", "unspecified"},
		{"http://224.0.0.1/", "multicast"},
		{"http://239.1.2.3/", "multicast"},
		{"http://[ff02::1]/", "multicast"},
		{"http://[::ffff:127.0.0.1]/", "loopback"},
	} {
		err := webhooks.CheckURL(tc.url, false)
		if assert.Error(t, err, tc.url) {
			assert.Contains(t, err.Error(), tc.refused, tc.url)
			assert.Contains(t, err.Error(), "-allow-private", tc.url)
		}
		assert.NoError(t, webhooks.CheckURL(tc.url, true), tc.url)
	}
	for _, tc := range []struct{ url, why string }{
		{"ftp://example.com/x", "only http and https"},
		{"https://user:pass@203.0.113.9/x", "user info"},
		{"/relative", "only http and https"},
		{"https:///nohost", "no host"},
		{"https://nonexistent.invalid/x", "does not resolve"},
	} {
		err := webhooks.CheckURL(tc.url, true)
		if assert.Error(t, err, tc.url) {
			assert.Contains(t, err.Error(), tc.why, tc.url)
		}
	}
	assert.NoError(t, webhooks.CheckURL("https://203.0.113.9/hooks?x=1", false), "a public address")
}

// TestPrivateAddressAtSend: a subscription to a loopback receiver is refused at send time unless it allows
// private addresses; the dialer itself refuses them too (so a redirect or a DNS rebinding cannot reach one).
func TestPrivateAddressAtSend(t *testing.T) {
	s, c := dbtest.MustOpen(t), newClock(t0)
	rc := newReceiver(t, nil)
	subscribe(t, s, "whs_closed", rc.URL, false)
	subscribe(t, s, "whs_open", rc.URL, true)
	ids := record(t, s, "sos:1", 1, t0)

	assert.Equal(t, 2, deliverDue(t, newDispatcher(s, c)))
	closed := delivery(t, s, ids[0], "whs_closed")
	assert.Equal(t, db.DeliveryPending, closed.State)
	assert.Contains(t, closed.LastError, "loopback address")
	assert.Equal(t, db.DeliveryDelivered, delivery(t, s, ids[0], "whs_open").State)
	assert.Len(t, rc.requests(), 1, "only the allowed one reached the receiver")

	// The dialer, checked on the address it connects to, whatever the URL said.
	client := &http.Client{Transport: webhooks.NewTransport(false)}
	_, err := client.Get(rc.URL)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "refused to connect to 127.0.0.1, a loopback address")
	resp, err := (&http.Client{Transport: webhooks.NewTransport(true)}).Get(rc.URL)
	require.NoError(t, err)
	_ = resp.Body.Close()
}

// TestRotateWhilePending: a secret rotated while a delivery is pending signs its next attempt.
func TestRotateWhilePending(t *testing.T) {
	s, c := dbtest.MustOpen(t), newClock(t0)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 0 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	subscribe(t, s, "whs_a", rc.URL, true)
	ids := record(t, s, "sos:1", 1, t0)
	d := newDispatcher(s, c)
	deliverDue(t, d)

	const rotated = "whsec_rotated_fedcba9876543210"
	require.NoError(t, s.RotateWebhookSecret(ctxT(t), "whs_a", rotated))
	c.Set(delivery(t, s, ids[0], "whs_a").NextAttemptAt)
	deliverDue(t, d)
	assert.Equal(t, db.DeliveryDelivered, delivery(t, s, ids[0], "whs_a").State)

	reqs := rc.requests()
	require.Len(t, reqs, 2)
	verify := func(r request, key string) error {
		_, err := signing.Verify([]byte(key), c.Now(), r.Header.Get(signing.HeaderTimestamp), r.Header.Get(signing.HeaderSignature), http.MethodPost, r.URI, r.Body)
		return err
	}
	assert.NoError(t, verify(reqs[0], secret), "first attempt: the old secret")
	assert.NoError(t, verify(reqs[1], rotated), "after the rotation: the new secret")
	assert.Error(t, verify(reqs[1], secret), "not the old one")
}

// TestRefundInstructed: a delivered refund.owed event marks its refund instructed.
func TestRefundInstructed(t *testing.T) {
	s, c := dbtest.MustOpen(t), newClock(t0)
	rc := newReceiver(t, nil)
	subscribe(t, s, "whs_a", rc.URL, true)
	ctx := ctxT(t)
	cs := &db.Case{CaseID: "sos:1", WorkflowID: "wf-sos:1", Service: "sos", OrderID: "o-1", CustomerID: "c-1", OpenedAt: t0, UpdatedAt: t0}
	ref := db.Refund{Key: "sos:1/refund/response", CaseID: "sos:1", Clause: "response", Percent: 50, AmountCents: 250000, CreatedAt: t0}
	refundID := db.RefundID(ref.Key)
	require.NoError(t, s.RecordCase(ctx, cs, nil, []db.Refund{ref}, []db.OutboxEvent{
		{Key: "sos:1/refund/response/owed", Type: workflows.WebhookRefundOwed, CreatedAt: t0, Data: map[string]any{"refund_id": refundID}},
	}))
	rs, err := s.ListRefunds(ctx, "sos:1")
	require.NoError(t, err)
	require.Len(t, rs, 1)
	assert.Equal(t, db.RefundOwed, rs[0].State)

	c.Set(t0.Add(2 * time.Second))
	assert.Equal(t, 1, deliverDue(t, newDispatcher(s, c)))
	rs, err = s.ListRefunds(ctx, "sos:1")
	require.NoError(t, err)
	assert.Equal(t, db.RefundInstructed, rs[0].State)
	require.NotNil(t, rs[0].InstructedAt)
	assert.Equal(t, c.Now(), *rs[0].InstructedAt)
}

// twoStores opens one database through two connection pools, as two worker processes would.
func twoStores(t *testing.T) (*db.Store, *db.Store) {
	t.Helper()
	ctx := ctxT(t)
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "steward.db")
	if base := os.Getenv(dbtest.EnvURL); base != "" {
		dsn, _ = dbtest.SchemaURL(ctx, t, base, "test_")
	}
	open := func() *db.Store {
		s, err := db.Open(ctx, dsn)
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	s1 := open()
	require.NoError(t, s1.Migrate(ctx))
	return s1, open()
}

// waitDelivered waits until no delivery is pending.
func waitDelivered(t *testing.T, s *db.Store, want int) {
	t.Helper()
	require.Eventually(t, func() bool {
		ds, err := s.ListDeliveries(ctxT(t), db.DeliveryFilter{State: db.DeliveryDelivered, Limit: 10_000})
		return err == nil && len(ds) == want
	}, 30*time.Second, 20*time.Millisecond)
}

// TestTwoDispatchers: two dispatchers on one database (two pools, as two workers) never send one attempt
// twice: every event reaches the receiver exactly once. PostgreSQL when TEST_DATABASE_URL is set.
func TestTwoDispatchers(t *testing.T) {
	s1, s2 := twoStores(t)
	var mu sync.Mutex
	seen := map[string]int{}
	rc := newReceiver(t, func(_ int, _ http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.Header.Get(webhooks.HeaderEventID)]++
		mu.Unlock()
		time.Sleep(2 * time.Millisecond)
	})
	subscribe(t, s1, "whs_a", rc.URL, true)
	const n = 40
	now := time.Now().UTC()
	var ids []string
	for i := range 4 {
		ids = append(ids, record(t, s1, fmt.Sprintf("sos:%d", i), n/4, now)...)
	}

	ctx, cancel := context.WithCancel(ctxT(t))
	var wg sync.WaitGroup
	for _, s := range []*db.Store{s1, s2} {
		d := &webhooks.Dispatcher{Store: s, Logger: slog.New(slog.DiscardHandler), Batch: 3, PollInterval: 10 * time.Millisecond}
		wg.Go(func() { _ = d.Run(ctx) })
	}
	waitDelivered(t, s1, n)
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	assert.Len(t, seen, n)
	for _, id := range ids {
		assert.Equal(t, 1, seen[id], id)
		assert.Equal(t, 1, delivery(t, s1, id, "whs_a").Attempts, id)
	}
}

// TestConcurrencyBound: at most Concurrency attempts run at once per subscriber, and a slow subscriber
// does not hold up another.
func TestConcurrencyBound(t *testing.T) {
	s := dbtest.MustOpen(t)
	var cur, peak atomic.Int32
	release := make(chan struct{})
	slow := newReceiver(t, func(_ int, _ http.ResponseWriter, _ *http.Request) {
		n := cur.Add(1)
		defer cur.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-release
	})
	fast := newReceiver(t, nil)
	subscribe(t, s, "whs_slow", slow.URL, true)
	sub := &db.WebhookSubscription{ID: "whs_fast", URL: fast.URL, Events: db.EventList{"*"}, Secret: secret, AllowPrivate: true}
	require.NoError(t, s.AddWebhookSubscription(ctxT(t), sub))
	record(t, s, "sos:1", 12, time.Now().UTC())

	ctx, cancel := context.WithCancel(ctxT(t))
	d := &webhooks.Dispatcher{Store: s, Logger: slog.New(slog.DiscardHandler), Concurrency: 3, PollInterval: 10 * time.Millisecond}
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(ctx) }()

	// The fast subscriber gets all 12 while the slow one holds 3 attempts.
	waitDelivered(t, s, 12)
	assert.Len(t, fast.requests(), 12)
	require.Eventually(t, func() bool { return cur.Load() == 3 }, 10*time.Second, 5*time.Millisecond)
	time.Sleep(50 * time.Millisecond) // a fourth would have started by now
	assert.Equal(t, int32(3), cur.Load())

	close(release)
	waitDelivered(t, s, 24)
	assert.Equal(t, int32(3), peak.Load())
	cancel()
	<-done
}

// TestStopCutsAttemptsShort: when Run's context ends, an attempt under way is cut short and its delivery
// is left due at once for the next worker.
func TestStopCutsAttemptsShort(t *testing.T) {
	s := dbtest.MustOpen(t)
	started := make(chan struct{}, 1)
	rc := newReceiver(t, func(_ int, _ http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-r.Context().Done()
	})
	subscribe(t, s, "whs_a", rc.URL, true)
	ids := record(t, s, "sos:1", 1, time.Now().UTC())
	ctx, cancel := context.WithCancel(ctxT(t))
	d := &webhooks.Dispatcher{Store: s, Logger: slog.New(slog.DiscardHandler), PollInterval: 10 * time.Millisecond}
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(ctx) }()
	<-started
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop")
	}
	got := delivery(t, s, ids[0], "whs_a")
	assert.Equal(t, db.DeliveryPending, got.State)
	assert.Equal(t, "attempt cut short: the worker stopped", got.LastError)
	assert.False(t, got.NextAttemptAt.After(time.Now()), "due at once")
}

// TestSendTestEvent: the webhook.test event is an envelope, signed like the others.
func TestSendTestEvent(t *testing.T) {
	rc := newReceiver(t, status(http.StatusAccepted))
	sub := &db.WebhookSubscription{ID: "whs_a", URL: rc.URL + "/t", Secret: secret, AllowPrivate: true}
	ev := webhooks.TestEvent(time.Now())
	code, err := (&webhooks.Dispatcher{}).Send(ctxT(t), sub, ev)
	require.NoError(t, err)
	assert.Equal(t, http.StatusAccepted, code)
	r := rc.requests()[0]
	var env db.Envelope
	require.NoError(t, json.Unmarshal(r.Body, &env))
	assert.Equal(t, workflows.WebhookTest, env.Type)
	assert.Equal(t, ev.ID, env.ID)
	assert.True(t, strings.HasPrefix(env.ID, "evt_test_"))
	_, err = signing.Verify([]byte(secret), time.Now(), r.Header.Get(signing.HeaderTimestamp), r.Header.Get(signing.HeaderSignature), http.MethodPost, "/t", r.Body)
	assert.NoError(t, err)

	code, err = (&webhooks.Dispatcher{}).Send(ctxT(t), &db.WebhookSubscription{URL: rc.URL, Secret: secret}, ev)
	require.Error(t, err, "loopback without allow-private")
	assert.Zero(t, code)
}

func TestParseEvents(t *testing.T) {
	got, err := webhooks.ParseEvents("sla.breached, refund.owed,sla.breached")
	require.NoError(t, err)
	assert.Equal(t, db.EventList{"sla.breached", "refund.owed"}, got)
	got, err = webhooks.ParseEvents("*")
	require.NoError(t, err)
	assert.Equal(t, db.EventList{"*"}, got)
	for _, typ := range workflows.WebhookTypes() {
		_, err := webhooks.ParseEvents(typ)
		assert.NoError(t, err, typ)
	}
	_, err = webhooks.ParseEvents("sla.breached,sla_breached")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown event type "sla_breached"`)
	_, err = webhooks.ParseEvents(" , ")
	require.Error(t, err)
}

func TestNewSubscription(t *testing.T) {
	sub, err := webhooks.NewSubscription("https://203.0.113.9/hook", "*", "", false, t0)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(sub.ID, "whs_"))
	assert.True(t, strings.HasPrefix(sub.Secret, "whsec_"))
	assert.Len(t, sub.Secret, len("whsec_")+48)
	_, err = webhooks.NewSubscription("http://127.0.0.1:9/hook", "*", "", false, t0)
	require.ErrorContains(t, err, "loopback")
	sub, err = webhooks.NewSubscription("http://127.0.0.1:9/hook", "case.opened", "a-secret-of-16-chars", true, t0)
	require.NoError(t, err)
	assert.True(t, sub.AllowPrivate)
	assert.Equal(t, "a-secret-of-16-chars", sub.Secret)
	_, err = webhooks.NewSubscription("https://203.0.113.9/hook", "*", "short", false, t0)
	require.ErrorContains(t, err, "at least 16")
	_, err = webhooks.NewSubscription("https://203.0.113.9/hook", "nope", "", false, t0)
	require.ErrorContains(t, err, "unknown event type")
}
