package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/steward-oss/steward/activities"
)

var shanghai = time.FixedZone("CST", 8*3600)

// sosHarness runs SOSWorkflow in the time-skipping test environment with recording activity mocks.
type sosHarness struct {
	mu       sync.Mutex // activity mocks run on their own goroutines, concurrently
	t        *testing.T
	env      *testsuite.TestWorkflowEnvironment
	start    time.Time
	partners []string // available, in order of preference
	events   []activities.Event
	refunds  []activities.RefundRow
	rows     []activities.CaseRow
	notes    []activities.NotifyInput
	reports  []activities.ReportInput
	docs     []activities.Document
	results  map[string]error
	views    map[string]CaseView
}

func newSOS(t *testing.T, start time.Time, partners ...string) *sosHarness {
	var ts testsuite.WorkflowTestSuite
	ts.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	h := &sosHarness{t: t, env: ts.NewTestWorkflowEnvironment(), start: start, partners: partners,
		results: map[string]error{}, views: map[string]CaseView{}}
	h.env.SetStartTime(start)
	h.env.RegisterWorkflow(SOSWorkflow)
	h.env.RegisterWorkflow(DengbaoWorkflow)
	var a *activities.Activities
	h.env.RegisterActivity(a.Record)
	h.env.RegisterActivity(a.Notify)
	h.env.RegisterActivity(a.ChoosePartner)
	h.env.RegisterActivity(a.RenderReport)
	h.env.RegisterActivity(a.RenderDocument)
	h.env.OnActivity(a.RenderDocument, mock.Anything, mock.Anything).Return(func(_ context.Context, d activities.Document) (activities.ReportRef, error) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.docs = append(h.docs, d)
		return activities.ReportRef{CaseID: d.CaseID, Version: d.Version}, nil
	})
	h.env.OnActivity(a.Record, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RecordInput) error {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.events = append(h.events, in.Events...)
		h.refunds = append(h.refunds, in.Refunds...)
		h.rows = append(h.rows, in.Case)
		return nil
	})
	h.env.OnActivity(a.Notify, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.NotifyInput) error {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.notes = append(h.notes, in)
		return nil
	})
	h.env.OnActivity(a.ChoosePartner, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.ChoosePartnerInput) (activities.ChoosePartnerResult, error) {
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, p := range h.partners {
			if !slices.Contains(in.Exclude, p) {
				return activities.ChoosePartnerResult{PartnerID: p, PartnerName: p, Capacity: 3}, nil
			}
		}
		return activities.ChoosePartnerResult{}, nil
	})
	h.env.OnActivity(a.RenderReport, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.ReportInput) (activities.ReportRef, error) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.reports = append(h.reports, in)
		return activities.ReportRef{CaseID: in.CaseID, Version: in.Version}, nil
	})
	return h
}

// at runs fn at start+d.
func (h *sosHarness) at(d time.Duration, fn func()) { h.env.RegisterDelayedCallback(fn, d) }

// send sends a step at start+d under the name id; its outcome lands in h.results[id].
func (h *sosHarness) send(d time.Duration, id string, in StepInput) {
	h.at(d, func() {
		in.At = h.env.Now()
		h.env.UpdateWorkflow(UpdateStep, id, &testsuite.TestUpdateCallback{
			OnAccept: func() {},
			OnReject: func(err error) { h.results[id] = err },
			OnComplete: func(v any, err error) {
				h.results[id] = err
				if cv, ok := v.(CaseView); ok {
					h.views[id] = cv
				}
			},
		}, in)
	})
	h.results[id] = errors.New("not sent")
}

func (h *sosHarness) partner(d time.Duration, partner, step string, payload any) {
	h.send(d, step+"@"+d.String(), StepInput{Step: step, Actor: ActorPartner, PartnerID: partner, ActorName: "eng", Payload: mustJSON(payload)})
}

func (h *sosHarness) market(d time.Duration, step string, payload any) {
	h.send(d, step+"@"+d.String(), StepInput{Step: step, Actor: ActorMarketplace, Payload: mustJSON(payload)})
}

func hosts(n int) AssetsInput {
	var a AssetsInput
	for i := range n {
		a.Hosts = append(a.Hosts, Host{InstanceID: "i-" + string(rune('a'+i%26)) + string(rune('a'+i/26)), IP: "10.0.0.1", OS: "Linux"})
	}
	return a
}

func yes() *bool { b := true; return &b }
func no() *bool  { b := false; return &b }

var (
	confirmMalware = ConfirmInput{SecurityIncident: yes(), IncidentClass: ClassMalware, IncidentType: "cryptominer", Summary: "CPU at 100%, outbound to a mining pool"}
	eradicated     = EradicateInput{Cleaned: []string{"removed xmrig", "deleted cron entry"}, MalwareRemoved: yes()}
	reportBody     = ReportInput{Summary: "miner removed", Recommendations: []string{"rotate SSH keys", "close port 6379"}}
)

func (h *sosHarness) run(spec string, paidAt time.Time) SOSResult {
	h.t.Helper()
	in := CaseInput{CaseID: "sos:O-1", OrderID: "O-1", CustomerID: "C-1", Service: ServiceSOS, Spec: spec, Quantity: 1,
		AmountCents: 500000, Currency: "CNY", PaidAt: paidAt}
	h.env.ExecuteWorkflow(SOSWorkflow, in)
	require.True(h.t, h.env.IsWorkflowCompleted(), "workflow still running at %v", h.env.Now())
	require.NoError(h.t, h.env.GetWorkflowError())
	var res SOSResult
	require.NoError(h.t, h.env.GetWorkflowResult(&res))
	return res
}

func (h *sosHarness) eventNames() []string {
	out := make([]string, len(h.events))
	for i, e := range h.events {
		out[i] = e.Event
	}
	return out
}

// routingEvents leaves out the clocks' warnings and breaches.
func (h *sosHarness) routingEvents() []string {
	var out []string
	for _, e := range h.events {
		if e.Event != "sla_at_risk" && e.Event != "sla_breached" {
			out = append(out, e.Event)
		}
	}
	return out
}

func (h *sosHarness) eventAt(name string) time.Time {
	for _, e := range h.events {
		if e.Event == name {
			return e.At
		}
	}
	h.t.Fatalf("no %s event in %v", name, h.eventNames())
	return time.Time{}
}

// breachAt is when a clause's breach was recorded.
func (h *sosHarness) breachAt(clause string) time.Time {
	for _, e := range h.events {
		if e.Key == "sos:O-1/breach/"+clause {
			return e.At
		}
	}
	h.t.Fatalf("no breach of %s in %v", clause, h.eventNames())
	return time.Time{}
}

func (h *sosHarness) requireOK(ids ...string) {
	h.t.Helper()
	for _, id := range ids {
		require.NoError(h.t, h.results[id], "step %s", id)
	}
}

func rejectionType(err error) string {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return ae.Type()
	}
	return ""
}

func slaEntry(t *testing.T, entries []SLAEntry, clause string) SLAEntry {
	for _, e := range entries {
		if e.Clause == clause {
			return e
		}
	}
	t.Fatalf("no %s clause in %+v", clause, entries)
	return SLAEntry{}
}

func refundSum(rows []activities.RefundRow) (pct int, cents int64) {
	for _, r := range rows {
		pct += r.Percent
		cents += r.AmountCents
	}
	return
}

// fullCase drives a case through every step; the handling spec skips analysis.
func fullCase(h *sosHarness, p string, spec string, reportAt time.Duration) {
	h.partner(2*time.Minute, p, StepAccept, struct{}{})
	h.market(3*time.Minute, StepAssets, hosts(1))
	h.partner(5*time.Minute, p, StepContact, ContactInput{Note: "called the customer"})
	h.partner(30*time.Minute, p, StepConfirm, ConfirmInput{SecurityIncident: yes(), IncidentClass: ClassMalware, IncidentType: "cryptominer", Summary: "miner", AttackOngoing: true})
	h.partner(40*time.Minute, p, StepContain, ContainInput{Actions: []string{"blocked outbound 3333/tcp"}})
	h.partner(2*time.Hour, p, StepEradicate, eradicated)
	if spec != SpecHandling {
		h.partner(3*time.Hour, p, StepAnalyze, AnalyzeInput{Cause: "weak Redis password"})
	}
	h.partner(reportAt, p, StepReport, reportBody)
	h.market(reportAt+time.Hour, StepReportConfirm, VerdictInput{Rating: 5})
	h.partner(reportAt+2*time.Hour, p, StepClose, CloseInput{FollowUp: "no recurrence after 7 days"})
}

// TestSOSHappyPath: every step in order, every clause met, no refund; the report is rendered once.
func TestSOSHappyPath(t *testing.T) {
	paid := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai) // a Monday
	h := newSOS(t, paid, "p1")
	fullCase(h, "p1", SpecAnalysisRemote, 20*time.Hour)
	res := h.run(SpecAnalysisRemote, paid)
	for id := range h.results {
		require.NoError(t, h.results[id], id)
	}
	assert.Equal(t, StageClosed, res.Stage)
	assert.Equal(t, "p1", res.PartnerID)
	assert.Equal(t, Refund{}, res.Refund)
	assert.Equal(t, []string{"opened", "offered", "partner_accepted", "assets_submitted", "contacted", "confirmed",
		"contained", "eradicated", "analyzed", "report_submitted", "customer_confirmed", "closed"}, h.eventNames())
	for _, c := range []string{ClauseResponse, ClauseHandling, ClauseEffect} {
		e := slaEntry(t, res.SLA, c)
		assert.False(t, e.Breached, c)
		assert.NotNil(t, e.CompletedAt, c)
	}
	require.Len(t, h.reports, 1)
	r := h.reports[0]
	assert.Equal(t, 1, r.Version)
	assert.Equal(t, "weak Redis password", r.Cause)
	assert.Equal(t, []string{"blocked outbound 3333/tcp"}, r.Containment)
	assert.True(t, r.MalwareRemoved)
	assert.Len(t, r.Hosts, 1)
	assert.Empty(t, h.refunds)
	last := h.rows[len(h.rows)-1]
	assert.Equal(t, StatusClosed, last.Status)
	assert.Equal(t, SLAOnTrack, last.SLAStatus)
	assert.Nil(t, last.NextDeadline)
}

// TestSOSResponseClock holds SPEC's 20 business minutes (5x8) against weekends and holidays, met and
// breached: the breach lands exactly at the due instant and refunds 50%.
func TestSOSResponseClock(t *testing.T) {
	tests := []struct {
		name      string
		paid      time.Time
		contactIn time.Duration
		wantDue   time.Time
		breached  bool
	}{
		{"business hours, met", time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai), 15 * time.Minute, time.Date(2026, 3, 2, 10, 20, 0, 0, shanghai), false},
		{"across lunch, breached", time.Date(2026, 3, 2, 11, 50, 0, 0, shanghai), 90 * time.Minute, time.Date(2026, 3, 2, 13, 10, 0, 0, shanghai), true},
		{"Friday evening to Monday, met", time.Date(2026, 3, 6, 17, 50, 0, 0, shanghai), 63*time.Hour + 15*time.Minute, time.Date(2026, 3, 9, 9, 10, 0, 0, shanghai), false},
		{"National Day 2025, breached", time.Date(2025, 9, 30, 17, 50, 0, 0, shanghai), 9*24*time.Hour + 20*time.Minute, time.Date(2025, 10, 9, 9, 10, 0, 0, shanghai), true},
		{"Spring Festival 2026 make-up Saturday", time.Date(2026, 2, 13, 17, 55, 0, 0, shanghai), 24 * time.Hour, time.Date(2026, 2, 14, 9, 15, 0, 0, shanghai), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newSOS(t, tt.paid, "p1")
			h.partner(time.Minute, "p1", StepAccept, struct{}{})
			h.market(2*time.Minute, StepAssets, hosts(1))
			h.partner(tt.contactIn, "p1", StepContact, ContactInput{})
			h.at(tt.contactIn+time.Minute, func() { h.env.CancelWorkflow() })
			h.env.ExecuteWorkflow(SOSWorkflow, CaseInput{CaseID: "sos:O-1", OrderID: "O-1", CustomerID: "C-1", Service: ServiceSOS,
				Spec: SpecHandling, Quantity: 1, AmountCents: 500000, Currency: "CNY", PaidAt: tt.paid})
			h.requireOK("contact@" + tt.contactIn.String())
			v := h.views["contact@"+tt.contactIn.String()]
			e := slaEntry(t, v.SLA, ClauseResponse)
			require.NotNil(t, e.DueAt)
			assert.True(t, e.DueAt.Equal(tt.wantDue), "response due %v; want %v", e.DueAt.In(shanghai), tt.wantDue)
			assert.Equal(t, tt.breached, e.Breached)
			if tt.breached {
				at := h.breachAt(ClauseResponse)
				assert.True(t, at.Equal(tt.wantDue), "breach recorded at %v; want the due instant %v", at, tt.wantDue)
				var resp []activities.RefundRow
				for _, r := range h.refunds {
					if r.Clause == ClauseResponse {
						resp = append(resp, r)
					}
				}
				require.Len(t, resp, 1)
				assert.Equal(t, "sos:O-1/refund/response", resp[0].Key)
				assert.Equal(t, 50, resp[0].Percent)
				assert.Equal(t, int64(250000), resp[0].AmountCents)
				assert.Equal(t, 50, slaEntry(t, v.SLA, ClauseResponse).RefundPercent)
			} else {
				assert.Empty(t, h.refunds)
				assert.NotContains(t, h.eventNames(), "sla_breached")
			}
		})
	}
}

// TestSOSHandlingClock holds 3 natural days for ≤5 hosts, +1 per further 5 or part, judged at the first
// report: met just inside, breached just outside.
func TestSOSHandlingClock(t *testing.T) {
	paid := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
	assetsIn := 3 * time.Minute
	for _, tt := range []struct {
		hosts, days int
	}{{5, 3}, {6, 4}, {10, 4}, {11, 5}} {
		for _, late := range []bool{false, true} {
			name := map[bool]string{false: "met", true: "breached"}[late]
			t.Run(name+"/"+string(rune('0'+tt.hosts/10))+string(rune('0'+tt.hosts%10))+" hosts", func(t *testing.T) {
				h := newSOS(t, paid, "p1")
				due := assetsIn + time.Duration(tt.days)*24*time.Hour
				reportAt := due - time.Minute
				if late {
					reportAt = due + time.Minute
				}
				h.partner(time.Minute, "p1", StepAccept, struct{}{})
				h.market(assetsIn, StepAssets, hosts(tt.hosts))
				h.partner(5*time.Minute, "p1", StepContact, ContactInput{})
				h.partner(10*time.Minute, "p1", StepConfirm, confirmMalware)
				h.partner(20*time.Minute, "p1", StepEradicate, eradicated)
				h.partner(reportAt, "p1", StepReport, reportBody)
				h.at(reportAt+time.Minute, func() { h.env.CancelWorkflow() })
				h.env.ExecuteWorkflow(SOSWorkflow, CaseInput{CaseID: "sos:O-1", OrderID: "O-1", CustomerID: "C-1", Service: ServiceSOS,
					Spec: SpecHandling, Quantity: 1, AmountCents: 500000, Currency: "CNY", PaidAt: paid})
				id := "report@" + reportAt.String()
				h.requireOK(id)
				e := slaEntry(t, h.views[id].SLA, ClauseHandling)
				require.NotNil(t, e.DueAt)
				assert.True(t, e.DueAt.Equal(paid.Add(due)), "handling due %v; want %v", e.DueAt, paid.Add(due))
				assert.Equal(t, late, e.Breached)
				pct, cents := refundSum(h.refunds)
				if late {
					assert.Equal(t, 50, pct)
					assert.Equal(t, int64(250000), cents)
					assert.True(t, h.breachAt(ClauseHandling).Equal(paid.Add(due)))
				} else {
					assert.Zero(t, pct)
				}
			})
		}
	}
}

// TestSOSRefundsCap: response and handling breached and malware not removed add up to 150%, capped at
// 100%; each clause's refund row is written once and the rows sum to the cap.
func TestSOSRefundsCap(t *testing.T) {
	paid := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
	h := newSOS(t, paid, "p1")
	h.partner(time.Minute, "p1", StepAccept, struct{}{})
	h.market(2*time.Minute, StepAssets, hosts(1))
	h.partner(2*time.Hour, "p1", StepContact, ContactInput{}) // response breached (20 business minutes)
	h.partner(3*time.Hour, "p1", StepConfirm, confirmMalware)
	h.partner(4*time.Hour, "p1", StepEradicate, EradicateInput{Cleaned: []string{"killed process"}, MalwareRemoved: no()})
	h.partner(5*24*time.Hour, "p1", StepReport, reportBody) // handling breached (3 days)
	h.market(5*24*time.Hour+time.Hour, StepReportConfirm, VerdictInput{})
	h.partner(5*24*time.Hour+2*time.Hour, "p1", StepClose, CloseInput{FollowUp: "customer rebuilt the host"})
	res := h.run(SpecHandling, paid)
	assert.Equal(t, Refund{Percent: 100, AmountCents: 500000}, res.Refund)
	pct, cents := refundSum(h.refunds)
	assert.Equal(t, 100, pct)
	assert.Equal(t, int64(500000), cents)
	var clauses []string
	for _, r := range h.refunds {
		clauses = append(clauses, r.Clause)
	}
	assert.Equal(t, []string{ClauseResponse, ClauseEffect}, clauses, "handling adds nothing once the cap is reached")
	assert.True(t, slaEntry(t, res.SLA, ClauseEffect).Breached)
	assert.True(t, slaEntry(t, res.SLA, ClauseHandling).Breached)
	last := h.rows[len(h.rows)-1]
	assert.Equal(t, SLABreached, last.SLAStatus)
	assert.Equal(t, 100, last.RefundPercent)
}

// TestSOSSpecs: handling skips analysis; both analysis specs require it; on-site needs an on-site partner.
func TestSOSSpecs(t *testing.T) {
	paid := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
	for _, spec := range SOSSpecs {
		t.Run(spec, func(t *testing.T) {
			h := newSOS(t, paid, "p1")
			fullCase(h, "p1", spec, 20*time.Hour)
			res := h.run(spec, paid)
			assert.Equal(t, StageClosed, res.Stage)
			assert.Equal(t, spec != SpecHandling, slices.Contains(h.eventNames(), "analyzed"))
		})
	}
	// Analysis is refused for the handling spec: after eradication the case is in stage report.
	h := newSOS(t, paid, "p1")
	fullCase(h, "p1", SpecHandling, 20*time.Hour)
	h.partner(150*time.Minute, "p1", StepAnalyze, AnalyzeInput{Cause: "x"})
	h.run(SpecHandling, paid)
	assert.Equal(t, RejectConflict, rejectionType(h.results["analyze@2h30m0s"]))
}

// TestSOSOutOfScope: not a security incident closes the case with the reason.
func TestSOSOutOfScope(t *testing.T) {
	paid := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
	h := newSOS(t, paid, "p1")
	h.partner(time.Minute, "p1", StepAccept, struct{}{})
	h.market(2*time.Minute, StepAssets, hosts(2))
	h.partner(5*time.Minute, "p1", StepContact, ContactInput{})
	h.partner(10*time.Minute, "p1", StepConfirm, ConfirmInput{SecurityIncident: no(), Summary: "disk full, not an attack"})
	res := h.run(SpecHandling, paid)
	assert.Equal(t, StageOutOfScope, res.Stage)
	assert.Equal(t, Refund{}, res.Refund)
	assert.Contains(t, h.eventNames(), "out_of_scope")
	assert.Equal(t, paid.Add(10*time.Minute), h.env.Now().In(shanghai))
}

// TestSOSAssetWindow: no asset list within 5 natural days of payment expires the case at exactly
// paid_at + 5 days; a late callback (paid long ago) expires at once; a list after the window is refused.
func TestSOSAssetWindow(t *testing.T) {
	paid := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
	t.Run("expires", func(t *testing.T) {
		h := newSOS(t, paid, "p1")
		h.partner(time.Minute, "p1", StepAccept, struct{}{})
		h.partner(5*time.Minute, "p1", StepContact, ContactInput{})
		h.partner(10*time.Minute, "p1", StepConfirm, confirmMalware)
		res := h.run(SpecHandling, paid)
		assert.Equal(t, StageExpired, res.Stage)
		assert.Equal(t, paid.Add(AssetWindow), h.env.Now().In(shanghai))
		assert.Equal(t, RejectConflict, rejectionType(h.results["confirm@10m0s"]), "confirm waits for the asset list")
		assert.Contains(t, h.eventNames(), "expired")
		assert.True(t, slices.ContainsFunc(h.notes, func(n activities.NotifyInput) bool { return n.Message.Title == "SOS case expired: no asset list" }))
	})
	t.Run("late callback", func(t *testing.T) {
		h := newSOS(t, paid.Add(6*24*time.Hour), "p1")
		res := h.run(SpecHandling, paid)
		assert.Equal(t, StageExpired, res.Stage)
		assert.Equal(t, paid.Add(6*24*time.Hour), h.env.Now().In(shanghai))
		// The response clock counted from payment and breached long before the callback arrived.
		assert.Equal(t, Refund{Percent: 50, AmountCents: 250000}, res.Refund)
	})
	t.Run("list after the window", func(t *testing.T) {
		h := newSOS(t, paid, "p1")
		h.market(AssetWindow-time.Second, StepAssets, hosts(1))
		h.at(AssetWindow+time.Second, func() { h.env.CancelWorkflow() })
		h.env.ExecuteWorkflow(SOSWorkflow, CaseInput{CaseID: "sos:O-1", OrderID: "O-1", CustomerID: "C-1", Service: ServiceSOS, Spec: SpecHandling, Quantity: 1, AmountCents: 1, Currency: "CNY", PaidAt: paid})
		assert.NotContains(t, h.eventNames(), "expired")
		require.NoError(t, h.results["assets@"+(AssetWindow-time.Second).String()], "one second before the window closes is in time")
	})
}

// TestSOSPartnerRouting: an offer not accepted in time goes to the next partner; a decline too; with
// none left, operations are alerted and assignment retries until a partner appears.
func TestSOSPartnerRouting(t *testing.T) {
	paid := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
	t.Run("timeout then accept", func(t *testing.T) {
		h := newSOS(t, paid, "p1", "p2")
		h.partner(DefaultAcceptTimeout+time.Minute, "p1", StepAccept, struct{}{}) // too late
		h.partner(DefaultAcceptTimeout+2*time.Minute, "p2", StepAccept, struct{}{})
		h.at(DefaultAcceptTimeout+3*time.Minute, func() { h.env.CancelWorkflow() })
		h.env.ExecuteWorkflow(SOSWorkflow, CaseInput{CaseID: "sos:O-1", OrderID: "O-1", CustomerID: "C-1", Service: ServiceSOS, Spec: SpecHandling, Quantity: 1, AmountCents: 1, Currency: "CNY", PaidAt: paid})
		assert.Equal(t, RejectConflict, rejectionType(h.results["accept@11m0s"]))
		h.requireOK("accept@12m0s")
		assert.Equal(t, []string{"opened", "offered", "offer_timeout", "offered", "partner_accepted"}, h.routingEvents())
		assert.True(t, h.eventAt("offer_timeout").Equal(paid.Add(DefaultAcceptTimeout)))
		assert.Equal(t, "p2", h.views["accept@12m0s"].PartnerID)
	})
	t.Run("decline", func(t *testing.T) {
		h := newSOS(t, paid, "p1", "p2")
		h.partner(time.Minute, "p1", StepDecline, DeclineInput{Reason: "no one free"})
		h.partner(2*time.Minute, "p1", StepAccept, struct{}{})
		h.partner(3*time.Minute, "p2", StepAccept, struct{}{})
		h.at(4*time.Minute, func() { h.env.CancelWorkflow() })
		h.env.ExecuteWorkflow(SOSWorkflow, CaseInput{CaseID: "sos:O-1", OrderID: "O-1", CustomerID: "C-1", Service: ServiceSOS, Spec: SpecHandling, Quantity: 1, AmountCents: 1, Currency: "CNY", PaidAt: paid})
		h.requireOK("decline@1m0s", "accept@3m0s")
		assert.Equal(t, RejectConflict, rejectionType(h.results["accept@2m0s"]), "a partner that declined cannot accept")
		assert.Equal(t, []string{"opened", "offered", "offer_declined", "offered", "partner_accepted"}, h.routingEvents())
	})
	t.Run("none available", func(t *testing.T) {
		h := newSOS(t, paid)
		h.at(ReassignInterval/2, func() { h.mu.Lock(); h.partners = []string{"p9"}; h.mu.Unlock() }) // capacity appears
		h.partner(ReassignInterval+time.Minute, "p9", StepAccept, struct{}{})
		h.at(ReassignInterval+2*time.Minute, func() { h.env.CancelWorkflow() })
		h.env.ExecuteWorkflow(SOSWorkflow, CaseInput{CaseID: "sos:O-1", OrderID: "O-1", CustomerID: "C-1", Service: ServiceSOS, Spec: SpecHandling, Quantity: 1, AmountCents: 1, Currency: "CNY", PaidAt: paid})
		h.requireOK("accept@16m0s")
		assert.Equal(t, []string{"opened", "no_partner_available", "offered", "partner_accepted"}, h.routingEvents())
		assert.True(t, h.eventAt("offered").Equal(paid.Add(ReassignInterval)))
		assert.True(t, slices.ContainsFunc(h.notes, func(n activities.NotifyInput) bool {
			return n.Message.Title == "No partner available for this SOS case" && n.PartnerID == ""
		}), "operations alerted")
	})
}

// TestSOSCancelledWhileWaiting: a case cancelled while it waits on timers (the offer, the asset window, the
// response clock's next warning) ends cancelled at once: a wait's timer failing with the cancellation is
// not taken for the timer firing (which would time the offer out, or spin the clock watcher).
func TestSOSCancelledWhileWaiting(t *testing.T) {
	paid := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai) // a Monday, inside business hours: the clock runs
	h := newSOS(t, paid, "p1")
	h.at(3*time.Minute, func() { h.env.CancelWorkflow() })
	h.env.ExecuteWorkflow(SOSWorkflow, CaseInput{CaseID: "sos:O-1", OrderID: "O-1", CustomerID: "C-1", Service: ServiceSOS, Spec: SpecHandling, Quantity: 1, AmountCents: 1, Currency: "CNY", PaidAt: paid})
	require.True(t, h.env.IsWorkflowCompleted())
	var canceled *temporal.CanceledError
	require.ErrorAs(t, h.env.GetWorkflowError(), &canceled)
	assert.Equal(t, []string{"opened", "offered"}, h.routingEvents(), "the cancellation was taken for the offer timing out")
}

// TestSOSDispute: a disputed report goes back to stage report; the handling clock is judged at the first
// submission, so a late second version breaches nothing.
func TestSOSDispute(t *testing.T) {
	paid := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
	h := newSOS(t, paid, "p1")
	h.partner(time.Minute, "p1", StepAccept, struct{}{})
	h.market(2*time.Minute, StepAssets, hosts(1))
	h.partner(5*time.Minute, "p1", StepContact, ContactInput{})
	h.partner(10*time.Minute, "p1", StepConfirm, confirmMalware)
	h.partner(20*time.Minute, "p1", StepEradicate, eradicated)
	h.partner(24*time.Hour, "p1", StepReport, reportBody)
	h.partner(25*time.Hour, "p1", StepClose, CloseInput{FollowUp: "x"}) // before the verdict: refused
	h.market(26*time.Hour, StepReportDispute, VerdictInput{Comment: "the webshell is still there"})
	h.market(27*time.Hour, StepReportConfirm, VerdictInput{}) // nothing to confirm now
	h.partner(5*24*time.Hour, "p1", StepReport, ReportInput{Summary: "webshell removed too", Recommendations: []string{"WAF"}})
	h.market(5*24*time.Hour+time.Hour, StepReportConfirm, VerdictInput{Rating: 4})
	h.partner(5*24*time.Hour+2*time.Hour, "p1", StepClose, CloseInput{FollowUp: "clean for 7 days"})
	res := h.run(SpecHandling, paid)
	assert.Equal(t, StageClosed, res.Stage)
	assert.Equal(t, RejectConflict, rejectionType(h.results["close@25h0m0s"]))
	assert.Equal(t, RejectConflict, rejectionType(h.results["report_confirm@27h0m0s"]))
	assert.False(t, slaEntry(t, res.SLA, ClauseHandling).Breached)
	assert.Empty(t, h.refunds)
	require.Len(t, h.reports, 2)
	assert.Equal(t, 2, h.reports[1].Version)
	assert.Contains(t, h.eventNames(), "customer_disputed")
}

// TestSOSStepValidation: wrong partner, wrong stage, repeated and malformed steps are refused with a
// reason before they touch history.
func TestSOSStepValidation(t *testing.T) {
	paid := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
	h := newSOS(t, paid, "p1")
	h.partner(30*time.Second, "p1", StepContact, ContactInput{}) // not accepted yet
	h.partner(time.Minute, "p2", StepAccept, struct{}{})         // not offered to p2
	h.partner(90*time.Second, "p1", StepAccept, struct{}{})
	h.market(2*time.Minute, StepAssets, AssetsInput{})                                                      // empty list
	h.market(150*time.Second, StepAssets, AssetsInput{Hosts: []Host{{InstanceID: "i-1", IP: "not-an-ip"}}}) // bad IP
	h.market(3*time.Minute, StepAssets, hosts(1))
	h.market(4*time.Minute, StepAssets, hosts(1)) // again
	h.send(5*time.Minute, "partner-assets", StepInput{Step: StepAssets, Actor: ActorPartner, PartnerID: "p1", Payload: mustJSON(hosts(1))})
	h.partner(6*time.Minute, "p2", StepContact, ContactInput{}) // another partner
	h.partner(7*time.Minute, "p1", StepConfirm, confirmMalware) // before contact
	h.partner(8*time.Minute, "p1", StepContact, ContactInput{})
	h.partner(9*time.Minute, "p1", StepContact, ContactInput{}) // again
	h.partner(10*time.Minute, "p1", StepConfirm, ConfirmInput{SecurityIncident: yes(), IncidentClass: "ufo", IncidentType: "x", Summary: "x"})
	h.partner(11*time.Minute, "p1", StepConfirm, ConfirmInput{IncidentClass: ClassMalware, IncidentType: "x", Summary: "x"}) // no security_incident
	h.send(12*time.Minute, "unknown-field", StepInput{Step: StepConfirm, Actor: ActorPartner, PartnerID: "p1", Payload: []byte(`{"security_incident":true,"incident_class":"malware","incident_type":"x","summary":"x","extra":1}`)})
	h.partner(13*time.Minute, "p1", StepEradicate, eradicated) // wrong stage
	h.partner(14*time.Minute, "p1", StepConfirm, confirmMalware)
	h.partner(15*time.Minute, "p1", StepEradicate, EradicateInput{Cleaned: []string{"x"}}) // malware_removed missing
	h.at(16*time.Minute, func() { h.env.CancelWorkflow() })
	h.env.ExecuteWorkflow(SOSWorkflow, CaseInput{CaseID: "sos:O-1", OrderID: "O-1", CustomerID: "C-1", Service: ServiceSOS, Spec: SpecHandling, Quantity: 1, AmountCents: 1, Currency: "CNY", PaidAt: paid})
	want := map[string]string{
		"contact@30s": RejectConflict, "accept@1m0s": RejectConflict, "accept@1m30s": "",
		"assets@2m0s": RejectInvalid, "assets@2m30s": RejectInvalid, "assets@3m0s": "", "assets@4m0s": RejectConflict,
		"partner-assets": RejectConflict, "contact@6m0s": RejectConflict, "confirm@7m0s": RejectConflict,
		"contact@8m0s": "", "contact@9m0s": RejectConflict, "confirm@10m0s": RejectInvalid, "confirm@11m0s": RejectInvalid,
		"unknown-field": RejectInvalid, "eradicate@13m0s": RejectConflict, "confirm@14m0s": "", "eradicate@15m0s": RejectInvalid,
	}
	for id, kind := range want {
		if kind == "" {
			assert.NoError(t, h.results[id], id)
		} else {
			assert.Equal(t, kind, rejectionType(h.results[id]), "%s: %v", id, h.results[id])
		}
	}
	// Refused steps left no trace in the timeline.
	assert.Equal(t, []string{"opened", "offered", "partner_accepted", "assets_submitted", "contacted", "confirmed", "containment_skipped"}, h.eventNames())
}

// TestSOSWarnings: each clock warns at 50% and 80%, once, with an at-risk search status in between.
func TestSOSWarnings(t *testing.T) {
	paid := time.Date(2026, 3, 2, 10, 0, 0, 0, shanghai)
	h := newSOS(t, paid, "p1")
	h.partner(time.Minute, "p1", StepAccept, struct{}{})
	h.partner(17*time.Minute, "p1", StepContact, ContactInput{})
	h.at(18*time.Minute, func() { h.env.CancelWorkflow() })
	h.env.ExecuteWorkflow(SOSWorkflow, CaseInput{CaseID: "sos:O-1", OrderID: "O-1", CustomerID: "C-1", Service: ServiceSOS, Spec: SpecHandling, Quantity: 1, AmountCents: 1, Currency: "CNY", PaidAt: paid})
	var warns []time.Time
	for _, e := range h.events {
		if e.Event == "sla_at_risk" {
			warns = append(warns, e.At)
		}
	}
	require.Len(t, warns, 2)
	assert.True(t, warns[0].Equal(paid.Add(10*time.Minute)), "50%% warning at %v", warns[0])
	assert.True(t, warns[1].Equal(paid.Add(16*time.Minute)), "80%% warning at %v", warns[1])
	var sawAtRisk bool
	for _, r := range h.rows {
		sawAtRisk = sawAtRisk || r.SLAStatus == SLAAtRisk
	}
	assert.True(t, sawAtRisk)
	assert.Equal(t, SLAOnTrack, h.rows[len(h.rows)-1].SLAStatus, "met in time: back on track")
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
