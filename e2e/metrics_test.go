package e2e

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/steward-oss/steward/activities"
	"github.com/steward-oss/steward/metrics"
	"github.com/steward-oss/steward/notifications"
	"github.com/steward-oss/steward/worker"
)

// TestMetricsAfterBreach scrapes /metrics over HTTP, as Prometheus does, after an SOS case paid for 72 h
// ago breaches its response clause on arrival: the breach, the refund it owes (250,000 fen) and the case
// are counted from the database, the API's requests by route, and the Temporal SDK's own metrics reach
// the same registry through a client's metrics handler (here a second worker's).
func TestMetricsAfterBreach(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	reg := metrics.New(metrics.Options{Store: s.store})
	srv := httptest.NewServer(reg.Handler())
	t.Cleanup(srv.Close)

	// A client with the registry's metrics handler, on the stack's connection, and a worker on it.
	mc, err := client.NewClientFromExisting(s.temporal, client.Options{MetricsHandler: reg.Temporal()})
	require.NoError(t, err)
	t.Cleanup(mc.Close)
	w := worker.New(mc, &activities.Activities{Store: s.store, Notifier: &notifications.Recorder{}}, sdkworker.Options{})
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)

	before := scrape(t, srv.URL)
	body := purchaseBody("ORD-METRICS")
	body["spec"] = "handling"
	body["paid_at"] = time.Now().UTC().Add(-72 * time.Hour).Truncate(time.Second).Format(time.RFC3339)
	res := s.signed(http.MethodPost, "/v1/purchases", mustJSON(t, body))
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Body)
	caseID := "sos:ORD-METRICS"
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		rs, err := s.store.ListRefunds(ctx, caseID)
		assert.NoError(c, err)
		assert.NotEmpty(c, rs, "the breach's refund is recorded")
	}, 30*time.Second, 100*time.Millisecond)
	require.Equal(t, http.StatusOK, s.bearer(http.MethodGet, "/v1/cases/"+caseID, s.manager, nil).Status)

	after := scrape(t, srv.URL)
	breached := `steward_sla_clocks_breached_total{clause="response",service="sos"}`
	assert.GreaterOrEqual(t, after[breached], 1.0, "the response clause breached")
	assert.Greater(t, after[breached], before[breached], "the breach counter moved")
	assert.GreaterOrEqual(t, after[`steward_sla_clocks_started_total{clause="response",service="sos"}`], 1.0)
	assert.GreaterOrEqual(t, after[`steward_refunds_owed_cents_total{currency="CNY"}`], 250000.0)
	assert.GreaterOrEqual(t, after[`steward_refunds_unpaid_cents{currency="CNY"}`], 250000.0)
	assert.GreaterOrEqual(t, after[`steward_cases_opened_total{service="sos"}`], 1.0)
	assert.Equal(t, 1.0, after["steward_store_up"])

	purchases := `steward_api_requests_total{method="POST",route="/v1/purchases",status="201"}`
	assert.Equal(t, before[purchases]+1, after[purchases], "the purchase is counted by its route")
	readCase := `steward_api_requests_total{method="GET",route="/v1/cases/:id",status="200"}`
	assert.GreaterOrEqual(t, after[readCase]-before[readCase], 1.0, "the case read is counted by its route, not its URL")
	assert.Greater(t, after[`steward_api_request_duration_seconds_count{method="POST",route="/v1/purchases"}`], 0.0)
	for k := range after {
		assert.NotContains(t, k, "ORD-METRICS", "no URL in a label")
	}

	// The Temporal SDK's metrics, from the metrics handler: the worker's start, pollers and slots, and the
	// requests it makes. (A client made from an existing one keeps that one's handler for its own gRPC
	// calls; steward's processes dial theirs with the registry's handler, so those are counted too.)
	assert.Contains(t, keys(after, "temporal_worker_start_total{"), `worker_type="WorkflowWorker"`, "the worker's start is counted")
	assert.NotEmpty(t, keys(after, "temporal_num_pollers{"), "the worker's pollers")
	assert.NotEmpty(t, keys(after, "temporal_worker_task_slots_available{"), "the worker's task slots")
	var requests float64
	for k, v := range after {
		if strings.HasPrefix(k, "temporal_request_total{") {
			requests += v
		}
	}
	assert.GreaterOrEqual(t, requests, 1.0, "the worker's requests are counted: %s", keys(after, "temporal_request_total{"))
}

// scrape GETs the metrics page and returns every sample as name{labels} → value, labels sorted by name as
// Prometheus's text format writes them.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	res, err := http.Get(url + "/metrics")
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(b)))
	require.NoError(t, err, "%s", b)
	out := map[string]float64{}
	for name, f := range fams {
		for _, m := range f.Metric {
			var ls []string
			for _, l := range m.Label {
				ls = append(ls, l.GetName()+`="`+l.GetValue()+`"`)
			}
			key := name
			if len(ls) > 0 {
				key += "{" + strings.Join(ls, ",") + "}"
			}
			switch {
			case m.Counter != nil:
				out[key] = m.Counter.GetValue()
			case m.Gauge != nil:
				out[key] = m.Gauge.GetValue()
			case m.Histogram != nil:
				out[strings.Replace(key, name, name+"_count", 1)] = float64(m.Histogram.GetSampleCount())
			case m.Untyped != nil:
				out[key] = m.Untyped.GetValue()
			}
		}
	}
	return out
}

// keys lists the keys of m starting with prefix, joined.
func keys(m map[string]float64, prefix string) string {
	var ks []string
	for k := range m {
		if strings.HasPrefix(k, prefix) {
			ks = append(ks, k)
		}
	}
	return strings.Join(ks, " ")
}
