package metrics_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/db/dbtest"
	"github.com/steward-oss/steward/metrics"
)

// value is the value of the series of family name with exactly labels (counter, gauge or a histogram's
// count); found is false when there is no such series.
func value(t *testing.T, r *metrics.Registry, name string, labels map[string]string) (v float64, found bool) {
	t.Helper()
	fams, err := r.Gather()
	require.NoError(t, err)
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.Metric {
			if len(m.Label) != len(labels) {
				continue
			}
			for _, l := range m.Label {
				if want, ok := labels[l.GetName()]; !ok || want != l.GetValue() {
					continue series
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue(), true
			case m.Gauge != nil:
				return m.Gauge.GetValue(), true
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount()), true
			}
		}
	}
	return 0, false
}

func must(t *testing.T, r *metrics.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	v, ok := value(t, r, name, labels)
	require.True(t, ok, "no series %s%v", name, labels)
	return v
}

func tp(t time.Time) *time.Time { return &t }

// seed writes a small hand-made set: three SOS cases (one open in assignment, one open in report, one
// closed) and a closed 等保 one, with their clocks, refunds in CNY and USD, notifications and webhook
// deliveries.
func seed(t *testing.T, s *db.Store, now time.Time) {
	ctx := context.Background()
	require.NoError(t, s.AddWebhookSubscription(ctx, &db.WebhookSubscription{ID: "whs_1", URL: "https://example.test/hook", Events: db.EventList{db.AllEvents}, Secret: "s3cret-s3cret-s3cret"}))
	type seeded struct {
		id, service, stage, status, currency string
		clocks                               []db.SLAClock
		refunds                              []db.Refund
	}
	h := now.Add(-72 * time.Hour)
	for i, c := range []seeded{
		{id: "sos:1", service: "sos", stage: "assignment", status: "open", currency: "CNY", clocks: []db.SLAClock{
			{Clause: "response", State: "completed", Status: "breached", BreachedAt: tp(h.Add(time.Hour))},
			{Clause: "handling", State: "running", Status: "on_track"},
		}, refunds: []db.Refund{{Key: "sos:1/refund/response", Clause: "response", Percent: 50, AmountCents: 250000}}},
		{id: "sos:2", service: "sos", stage: "report", status: "open", currency: "CNY", clocks: []db.SLAClock{
			{Clause: "response", State: "completed", Status: "met", CompletedAt: tp(h.Add(10 * time.Minute))},
			{Clause: "handling", State: "completed", Status: "breached", BreachedAt: tp(h.Add(5 * time.Hour))},
		}, refunds: []db.Refund{{Key: "sos:2/refund/handling", Clause: "handling", Percent: 20, AmountCents: 100000}}},
		{id: "sos:3", service: "sos", stage: "closed", status: "closed", currency: "USD", clocks: []db.SLAClock{
			{Clause: "response", State: "completed", Status: "met", CompletedAt: tp(h.Add(5 * time.Minute))},
			{Clause: "handling", State: "completed", Status: "paused"},
		}, refunds: []db.Refund{{Key: "sos:3/refund/report", Clause: "report", Percent: 10, AmountCents: 3000}}},
		{id: "dengbao:4", service: "dengbao", stage: "cancelled", status: "closed", currency: "CNY"},
	} {
		order := "O-" + c.id
		_, _, err := s.PutOrder(ctx, &db.Order{OrderID: order, CustomerID: "cust", Service: c.service, Quantity: 1, AmountCents: 500000, Currency: c.currency, PaidAt: h, BodyHash: c.id})
		require.NoError(t, err)
		row := &db.Case{CaseID: c.id, WorkflowID: c.id, Service: c.service, Stage: c.stage, Status: c.status, CustomerID: "cust", OrderID: order,
			AmountCents: 500000, OpenedAt: h, UpdatedAt: now, Revision: 1}
		if c.status == "closed" {
			row.ClosedAt = tp(now)
		}
		for j := range c.clocks {
			k := &c.clocks[j]
			k.Key, k.CaseID, k.Service, k.StartedAt, k.UpdatedAt = c.id+"/clock/"+k.Clause, c.id, c.service, h, now
		}
		for j := range c.refunds {
			c.refunds[j].CaseID, c.refunds[j].CreatedAt = c.id, h.Add(time.Duration(i)*time.Hour)
		}
		out := []db.OutboxEvent{{Key: c.id + "/opened", Type: "case.opened", CreatedAt: now.Add(-time.Duration(i+1) * time.Hour), Data: map[string]string{}}}
		require.NoError(t, s.RecordCase(ctx, row, nil, c.refunds, out, c.clocks...))
	}
	// sos:3's refund paid, sos:2's waived; sos:1's owed.
	_, _, err := s.MarkRefundPaid(ctx, db.RefundID("sos:3/refund/report"), now, "PAY-1")
	require.NoError(t, err)
	_, _, err = s.WaiveRefund(ctx, db.RefundID("sos:2/refund/handling"), "manager", "goodwill", now)
	require.NoError(t, err)
	// One delivery delivered, one given up; the rest pending.
	require.NoError(t, s.CompleteDelivery(ctx, db.WebhookDeliveryID(db.WebhookEventID("sos:1/opened"), "whs_1"), 200, now))
	_, err = s.FailDelivery(ctx, db.WebhookDeliveryID(db.WebhookEventID("dengbao:4/opened"), "whs_1"), 500, "HTTP 500", now)
	require.NoError(t, err)
	// Notifications: one sent, one failed, two pending (the oldest 30 min old).
	for i, key := range []string{"n-sent", "n-failed", "n-pending-old", "n-pending-new"} {
		_, _, err := s.RecordNotification(ctx, &db.Notification{Key: key, CaseID: "sos:1", CreatedAt: now.Add(-30*time.Minute + time.Duration(i)*time.Minute)})
		require.NoError(t, err)
	}
	require.NoError(t, s.MarkNotificationSent(ctx, "n-sent", now))
	_, err = s.MarkNotificationUndeliverable(ctx, "n-failed", "slack channel_not_found", now)
	require.NoError(t, err)
}

// TestStoreFigures: every figure read from the database matches the hand-made set.
func TestStoreFigures(t *testing.T) {
	s := dbtest.MustOpen(t)
	now := time.Now().UTC()
	seed(t, s, now)
	r := metrics.New(metrics.Options{Store: s})

	l := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	assert.Equal(t, 1.0, must(t, r, "steward_store_up", nil))
	assert.Equal(t, 3.0, must(t, r, "steward_cases_opened_total", l("service", "sos")))
	assert.Equal(t, 1.0, must(t, r, "steward_cases_opened_total", l("service", "dengbao")))
	assert.Equal(t, 1.0, must(t, r, "steward_cases_closed_total", l("service", "sos", "outcome", "closed")))
	assert.Equal(t, 1.0, must(t, r, "steward_cases_closed_total", l("service", "dengbao", "outcome", "cancelled")))
	assert.Equal(t, 1.0, must(t, r, "steward_cases_open", l("service", "sos", "stage", "assignment")))
	assert.Equal(t, 1.0, must(t, r, "steward_cases_open", l("service", "sos", "stage", "report")))
	_, found := value(t, r, "steward_cases_open", l("service", "dengbao", "stage", "cancelled"))
	assert.False(t, found, "a closed case is not open")

	assert.Equal(t, 3.0, must(t, r, "steward_sla_clocks_started_total", l("service", "sos", "clause", "response")))
	assert.Equal(t, 2.0, must(t, r, "steward_sla_clocks_met_total", l("service", "sos", "clause", "response")))
	assert.Equal(t, 1.0, must(t, r, "steward_sla_clocks_breached_total", l("service", "sos", "clause", "response")))
	assert.Equal(t, 0.0, must(t, r, "steward_sla_clocks_open", l("service", "sos", "clause", "response")))
	assert.Equal(t, 3.0, must(t, r, "steward_sla_clocks_started_total", l("service", "sos", "clause", "handling")))
	assert.Equal(t, 0.0, must(t, r, "steward_sla_clocks_met_total", l("service", "sos", "clause", "handling")))
	assert.Equal(t, 1.0, must(t, r, "steward_sla_clocks_breached_total", l("service", "sos", "clause", "handling")))
	assert.Equal(t, 1.0, must(t, r, "steward_sla_clocks_open", l("service", "sos", "clause", "handling")), "running counts; paused and completed do not")

	assert.Equal(t, 350000.0, must(t, r, "steward_refunds_owed_cents_total", l("currency", "CNY")))
	assert.Equal(t, 0.0, must(t, r, "steward_refunds_paid_cents_total", l("currency", "CNY")))
	assert.Equal(t, 100000.0, must(t, r, "steward_refunds_waived_cents_total", l("currency", "CNY")))
	assert.Equal(t, 250000.0, must(t, r, "steward_refunds_unpaid_cents", l("currency", "CNY")))
	assert.Equal(t, 3000.0, must(t, r, "steward_refunds_owed_cents_total", l("currency", "USD")))
	assert.Equal(t, 3000.0, must(t, r, "steward_refunds_paid_cents_total", l("currency", "USD")))
	assert.Equal(t, 0.0, must(t, r, "steward_refunds_unpaid_cents", l("currency", "USD")))

	assert.Equal(t, 1.0, must(t, r, "steward_notifications_total", l("status", "sent")))
	assert.Equal(t, 1.0, must(t, r, "steward_notifications_total", l("status", "failed")))
	assert.Equal(t, 2.0, must(t, r, "steward_notifications_pending", nil))
	assert.InDelta(t, 28*60, must(t, r, "steward_notifications_oldest_pending_age_seconds", nil), 60, "the oldest pending is 28 min old")

	assert.Equal(t, 1.0, must(t, r, "steward_webhook_deliveries_total", l("state", "delivered")))
	assert.Equal(t, 1.0, must(t, r, "steward_webhook_deliveries_total", l("state", "failed")))
	assert.Equal(t, 4.0, must(t, r, "steward_webhook_deliveries_pending", nil), "sos:2's and sos:3's case.opened, refund.paid and refund.waived")
	assert.InDelta(t, 3*3600, must(t, r, "steward_webhook_deliveries_oldest_pending_age_seconds", nil), 60, "sos:3's case.opened, 3 h old")

	// Nothing lint complains of in steward's families.
	problems, err := testutil.GatherAndLint(r, "steward_cases_open", "steward_sla_clocks_breached_total", "steward_refunds_owed_cents_total",
		"steward_webhook_deliveries_oldest_pending_age_seconds")
	require.NoError(t, err)
	assert.Empty(t, problems)
}

// TestStoreFiguresCached: within CacheFor a scrape reuses the last read; a database that fails is
// store_up 0, and the other metrics are still served.
func TestStoreFiguresCached(t *testing.T) {
	s := dbtest.MustOpen(t)
	ctx := context.Background()
	r := metrics.New(metrics.Options{Store: s, CacheFor: time.Hour})
	_, found := value(t, r, "steward_cases_opened_total", map[string]string{"service": "sos"})
	assert.False(t, found)
	require.NoError(t, s.UpsertCase(ctx, &db.Case{CaseID: "sos:x", WorkflowID: "sos:x", Service: "sos", Stage: "assignment", Status: "open", OpenedAt: time.Now(), UpdatedAt: time.Now(), Revision: 1}))
	_, found = value(t, r, "steward_cases_opened_total", map[string]string{"service": "sos"})
	assert.False(t, found, "the cached read")
	fresh := metrics.New(metrics.Options{Store: s})
	assert.Equal(t, 1.0, must(t, fresh, "steward_cases_opened_total", map[string]string{"service": "sos"}))

	require.NoError(t, s.Close())
	assert.Equal(t, 0.0, must(t, fresh, "steward_store_up", nil))
	srv := httptest.NewServer(fresh.Handler())
	defer srv.Close()
	body := get(t, srv.URL)
	assert.Contains(t, body, "steward_store_up 0")
	assert.Contains(t, body, "go_goroutines")
}

func get(t *testing.T, url string) string {
	t.Helper()
	res, err := http.Get(url)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode, "%s", b)
	return string(b)
}

// TestEchoMiddleware: requests are counted by the route's pattern and the status the error handler gave,
// timed, and a URL no route has is "unmatched", whatever its path or method.
func TestEchoMiddleware(t *testing.T) {
	e := echo.New()
	e.Use(metrics.Echo())
	e.GET("/v1/things/:id", func(c echo.Context) error {
		if c.Param("id") == "missing" {
			return echo.NewHTTPError(http.StatusNotFound, "no such thing")
		}
		if c.Param("id") == "boom" {
			return errors.New("boom")
		}
		return c.String(http.StatusOK, "ok")
	})
	r := metrics.New(metrics.Options{})
	route := func(method, route, status string) map[string]string {
		return map[string]string{"method": method, "route": route, "status": status}
	}
	before := map[string]float64{}
	for _, k := range []map[string]string{route("GET", "/v1/things/:id", "200"), route("GET", "/v1/things/:id", "404"),
		route("GET", "/v1/things/:id", "500"), route("GET", "unmatched", "404"), route("OTHER", "unmatched", "405"), route("POST", "unmatched", "405")} {
		before[k["method"]+k["route"]+k["status"]], _ = value(t, r, "steward_api_requests_total", k)
	}
	do := func(method, path string) int {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
		return rec.Code
	}
	assert.Equal(t, 200, do("GET", "/v1/things/1"))
	assert.Equal(t, 200, do("GET", "/v1/things/2"))
	assert.Equal(t, 404, do("GET", "/v1/things/missing"))
	assert.Equal(t, 500, do("GET", "/v1/things/boom"))
	assert.Equal(t, 404, do("GET", "/no/such/"+strings.Repeat("x", 10)))
	assert.Equal(t, 405, do("POST", "/v1/things/3"))
	assert.Equal(t, 405, do("BREW", "/v1/things/4"))

	delta := func(k map[string]string) float64 {
		return must(t, r, "steward_api_requests_total", k) - before[k["method"]+k["route"]+k["status"]]
	}
	assert.Equal(t, 2.0, delta(route("GET", "/v1/things/:id", "200")))
	assert.Equal(t, 1.0, delta(route("GET", "/v1/things/:id", "404")), "the handler's 404 is the route's")
	assert.Equal(t, 1.0, delta(route("GET", "/v1/things/:id", "500")), "an error is counted with the status it was answered with")
	assert.Equal(t, 1.0, delta(route("GET", "unmatched", "404")))
	assert.Equal(t, 1.0, delta(route("POST", "unmatched", "405")))
	assert.Equal(t, 1.0, delta(route("OTHER", "unmatched", "405")), "an unknown method adds no series of its own")
	assert.GreaterOrEqual(t, must(t, r, "steward_api_request_duration_seconds", map[string]string{"method": "GET", "route": "/v1/things/:id"}), 4.0)
	fams, err := r.Gather()
	require.NoError(t, err)
	for _, f := range fams {
		if f.GetName() == "steward_api_requests_total" {
			for _, m := range f.Metric {
				for _, l := range m.Label {
					assert.NotContains(t, l.GetValue(), "xxxxxxxxxx", "no raw URL in a label")
				}
			}
		}
	}
}

// TestTemporalHandler: the SDK's counters, gauges and timers become Prometheus counters, gauges and
// histograms under Prometheus's names, and a metric used with different tags gets the union of the tag
// names, empty where a use did not set one.
func TestTemporalHandler(t *testing.T) {
	r := metrics.New(metrics.Options{})
	h := r.Temporal().WithTags(map[string]string{"namespace": "default", "task_queue": "steward"})
	h.Counter("temporal_request").Inc(2)
	h.WithTags(map[string]string{"operation": "StartWorkflowExecution"}).Counter("temporal_request").Inc(1)
	h.Counter("temporal_request").Inc(1)
	h.Gauge("temporal_sticky_cache_size").Update(7)
	tm := h.WithTags(map[string]string{"workflow_type": "sos"}).Timer("temporal_workflow_task_execution_latency")
	tm.Record(3 * time.Millisecond)
	tm.Record(2 * time.Second)
	tm.Record(time.Hour)

	assert.Equal(t, 3.0, must(t, r, "temporal_request_total", map[string]string{"namespace": "default", "task_queue": "steward", "operation": ""}))
	assert.Equal(t, 1.0, must(t, r, "temporal_request_total", map[string]string{"namespace": "default", "task_queue": "steward", "operation": "StartWorkflowExecution"}))
	assert.Equal(t, 7.0, must(t, r, "temporal_sticky_cache_size", map[string]string{"namespace": "default", "task_queue": "steward"}))
	fams, err := r.Gather()
	require.NoError(t, err)
	var hist *dto.Histogram
	for _, f := range fams {
		if f.GetName() == "temporal_workflow_task_execution_latency_seconds" {
			require.Equal(t, dto.MetricType_HISTOGRAM, f.GetType())
			hist = f.Metric[0].Histogram
		}
	}
	require.NotNil(t, hist)
	assert.Equal(t, uint64(3), hist.GetSampleCount())
	assert.InDelta(t, 3602.003, hist.GetSampleSum(), 1e-6)
	for _, b := range hist.Bucket {
		switch b.GetUpperBound() {
		case 0.0025:
			assert.Equal(t, uint64(0), b.GetCumulativeCount())
		case 0.005:
			assert.Equal(t, uint64(1), b.GetCumulativeCount())
		case 2.5, 600:
			assert.Equal(t, uint64(2), b.GetCumulativeCount(), "an hour is past the last bucket")
		}
	}
}
