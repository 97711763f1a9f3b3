package sos

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/steward-oss/steward/activities"
	"github.com/steward-oss/steward/notifications"
	"github.com/steward-oss/steward/sla"
	"github.com/steward-oss/steward/workflows"
	"github.com/steward-oss/steward/workflows/casetest"
)

// harness is the shared case harness with SOS's order and its run helpers.
type harness struct{ *casetest.Harness }

func newHarness(t *testing.T, start time.Time, partners ...string) *harness {
	return &harness{casetest.New(t, start, partners, Lifecycle.Workflows...)}
}

func order(spec string, paidAt time.Time, amountCents int64) workflows.CaseInput {
	return workflows.CaseInput{CaseID: "sos:O-1", OrderID: "O-1", CustomerID: "C-1", Service: workflows.ServiceSOS, Spec: spec,
		Quantity: 1, AmountCents: amountCents, Currency: "CNY", PaidAt: paidAt}
}

// runUntil runs the case and cancels it at start+d.
func (h *harness) runUntil(spec string, paidAt time.Time, amountCents int64, d time.Duration) {
	h.RunUntil(WorkflowName, order(spec, paidAt, amountCents), d)
}

// run runs the case to its end and returns its result.
func (h *harness) run(spec string, paidAt time.Time) Result {
	h.T.Helper()
	var res Result
	h.Run(WorkflowName, order(spec, paidAt, 500000), &res)
	return res
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
	confirmMalware = ConfirmInput{SecurityIncident: yes(), IncidentClass: sla.ClassMalware, IncidentType: "cryptominer", Summary: "CPU at 100%, outbound to a mining pool"}
	eradicated     = EradicateInput{Cleaned: []string{"removed xmrig", "deleted cron entry"}, MalwareRemoved: yes()}
	reportBody     = ReportInput{Summary: "miner removed", Recommendations: []string{"rotate SSH keys", "close port 6379"}}
)

// routingEvents leaves out the clocks' warnings and breaches.
func (h *harness) routingEvents() []workflows.Event {
	var out []workflows.Event
	for _, e := range h.EventNames() {
		if e != workflows.EventSLAAtRisk && e != workflows.EventSLABreached {
			out = append(out, e)
		}
	}
	return out
}

func (h *harness) event(name workflows.Event) activities.Event {
	for _, e := range h.Events() {
		if e.Event == string(name) {
			return e
		}
	}
	h.T.Fatalf("no %s event in %v", name, h.EventNames())
	return activities.Event{}
}

// breachAt is when a clause's breach was recorded.
func (h *harness) breachAt(clause string) time.Time {
	for _, e := range h.Events() {
		if e.Key == "sos:O-1/breach/"+clause {
			return e.At
		}
	}
	h.T.Fatalf("no breach of %s in %v", clause, h.EventNames())
	return time.Time{}
}

func refundSum(rows []activities.RefundRow) (pct int, cents int64) {
	for _, r := range rows {
		pct += r.Percent
		cents += r.AmountCents
	}
	return
}

// fullCase drives a case through every step; the handling spec skips analysis.
func fullCase(h *harness, p string, spec string, reportAt time.Duration) {
	h.Partner(2*time.Minute, p, workflows.StepAccept, struct{}{})
	h.Market(3*time.Minute, StepAssets, hosts(1))
	h.Partner(5*time.Minute, p, workflows.StepContact, ContactInput{Note: "called the customer"})
	h.Partner(30*time.Minute, p, StepConfirm, ConfirmInput{SecurityIncident: yes(), IncidentClass: sla.ClassMalware, IncidentType: "cryptominer", Summary: "miner", AttackOngoing: true})
	h.Partner(40*time.Minute, p, workflows.StepContain, ContainInput{Actions: []string{"blocked outbound 3333/tcp"}})
	h.Partner(2*time.Hour, p, StepEradicate, eradicated)
	if spec != sla.SpecHandling {
		h.Partner(3*time.Hour, p, StepAnalyze, AnalyzeInput{Cause: "weak Redis password"})
	}
	h.Partner(reportAt, p, workflows.StepReport, reportBody)
	h.Market(reportAt+time.Hour, StepReportConfirm, VerdictInput{Rating: 5})
	h.Partner(reportAt+2*time.Hour, p, workflows.StepClose, workflows.CloseInput{FollowUp: "no recurrence after 7 days"})
}

// TestHappyPath: every step in order, every clause met, no refund; the report is rendered once.
func TestHappyPath(t *testing.T) {
	paid := time.Date(2026, 3, 2, 10, 0, 0, 0, sla.China) // a Monday
	h := newHarness(t, paid, "p1")
	fullCase(h, "p1", sla.SpecAnalysisRemote, 20*time.Hour)
	res := h.run(sla.SpecAnalysisRemote, paid)
	for id := range h.Results {
		require.NoError(t, h.Results[id], id)
	}
	assert.Equal(t, workflows.StageClosed, res.Stage)
	assert.Equal(t, "p1", res.PartnerID)
	assert.Equal(t, workflows.Refund{}, res.Refund)
	assert.Equal(t, []workflows.Event{workflows.EventCaseOpened, workflows.EventPartnerOffered, workflows.EventPartnerAccepted,
		workflows.EventAssetsSubmitted, workflows.EventCustomerContacted, workflows.EventIncidentConfirmed, workflows.EventContained,
		workflows.EventEradicated, workflows.EventCauseAnalyzed, workflows.EventReportSubmitted, workflows.EventReportConfirmed,
		workflows.EventCaseClosed}, h.EventNames())
	for _, c := range []string{sla.ClauseResponse, sla.ClauseHandling, sla.ClauseEffect} {
		e := casetest.SLAEntry(t, res.SLA, c)
		assert.False(t, e.Breached, c)
		assert.NotNil(t, e.CompletedAt, c)
	}
	reports := h.Reports()
	require.Len(t, reports, 1)
	r := reports[0]
	assert.Equal(t, 1, r.Version)
	assert.Equal(t, "weak Redis password", r.Cause)
	assert.Equal(t, []string{"blocked outbound 3333/tcp"}, r.Containment)
	assert.True(t, r.MalwareRemoved)
	assert.Len(t, r.Hosts, 1)
	assert.Empty(t, h.Refunds())
	last := h.LastRow()
	assert.Equal(t, workflows.StatusClosed, last.Status)
	assert.Equal(t, workflows.SLAMet, last.SLAStatus, "every clause met")
	assert.Nil(t, last.NextDeadline)
}

// TestResponseClock holds SPEC's 20 business minutes (5x8) against weekends and holidays, met and
// breached: a contact at the due instant meets the clause, and the breach lands one sla.Resolution after
// the due instant and refunds 50%.
func TestResponseClock(t *testing.T) {
	tests := []struct {
		name      string
		paid      time.Time
		contactIn time.Duration
		wantDue   time.Time
		breached  bool
	}{
		{"business hours, met", time.Date(2026, 3, 2, 10, 0, 0, 0, sla.China), 15 * time.Minute, time.Date(2026, 3, 2, 10, 20, 0, 0, sla.China), false},
		{"at the due instant, met", time.Date(2026, 3, 2, 10, 0, 0, 0, sla.China), 20 * time.Minute, time.Date(2026, 3, 2, 10, 20, 0, 0, sla.China), false},
		{"just after the due instant, breached", time.Date(2026, 3, 2, 10, 0, 0, 0, sla.China), 20*time.Minute + sla.Resolution, time.Date(2026, 3, 2, 10, 20, 0, 0, sla.China), true},
		{"across lunch, breached", time.Date(2026, 3, 2, 11, 50, 0, 0, sla.China), 90 * time.Minute, time.Date(2026, 3, 2, 13, 10, 0, 0, sla.China), true},
		{"Friday evening to Monday, met", time.Date(2026, 3, 6, 17, 50, 0, 0, sla.China), 63*time.Hour + 15*time.Minute, time.Date(2026, 3, 9, 9, 10, 0, 0, sla.China), false},
		{"National Day 2025, breached", time.Date(2025, 9, 30, 17, 50, 0, 0, sla.China), 9*24*time.Hour + 20*time.Minute, time.Date(2025, 10, 9, 9, 10, 0, 0, sla.China), true},
		{"Spring Festival 2026 make-up Saturday", time.Date(2026, 2, 13, 17, 55, 0, 0, sla.China), 24 * time.Hour, time.Date(2026, 2, 14, 9, 15, 0, 0, sla.China), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.paid, "p1")
			h.Partner(time.Minute, "p1", workflows.StepAccept, struct{}{})
			h.Market(2*time.Minute, StepAssets, hosts(1))
			h.Partner(tt.contactIn, "p1", workflows.StepContact, ContactInput{})
			h.runUntil(sla.SpecHandling, tt.paid, 500000, tt.contactIn+time.Minute)
			id := workflows.StepContact + "@" + tt.contactIn.String()
			h.RequireOK(id)
			v := h.Views[id]
			e := casetest.SLAEntry(t, v.SLA, sla.ClauseResponse)
			require.NotNil(t, e.DueAt)
			assert.True(t, e.DueAt.Equal(tt.wantDue), "response due %v; want %v", e.DueAt.In(sla.China), tt.wantDue)
			assert.Equal(t, tt.breached, e.Breached)
			require.NotNil(t, e.CompletedAt)
			assert.True(t, e.CompletedAt.Equal(tt.paid.Add(tt.contactIn)), "response completed %v", e.CompletedAt)
			if tt.breached {
				at := h.breachAt(sla.ClauseResponse)
				want := tt.wantDue.Add(sla.Resolution)
				assert.True(t, at.Equal(want), "breach recorded at %v; want just after the due instant, %v", at, want)
				var resp []activities.RefundRow
				for _, r := range h.Refunds() {
					if r.Clause == sla.ClauseResponse {
						resp = append(resp, r)
					}
				}
				require.Len(t, resp, 1)
				assert.Equal(t, "sos:O-1/refund/response", resp[0].Key)
				assert.Equal(t, 50, resp[0].Percent)
				assert.Equal(t, int64(250000), resp[0].AmountCents)
				assert.Equal(t, 50, e.RefundPercent)
			} else {
				assert.Empty(t, h.Refunds())
				assert.NotContains(t, h.EventNames(), workflows.EventSLABreached)
				assert.Contains(t, h.event(workflows.EventCustomerContacted).Detail, "response met ")
				assert.Equal(t, workflows.Refund{}, v.Refund)
			}
		})
	}
}

// TestHandlingClock holds 3 natural days for ≤5 hosts, +1 per further 5 or part, judged at the first
// report: met just inside, breached just outside.
func TestHandlingClock(t *testing.T) {
	paid := time.Date(2026, 3, 2, 10, 0, 0, 0, sla.China)
	assetsIn := 3 * time.Minute
	for _, tt := range []struct {
		hosts, days int
	}{{5, 3}, {6, 4}, {10, 4}, {11, 5}} {
		for _, late := range []bool{false, true} {
			name := map[bool]string{false: "met", true: "breached"}[late]
			t.Run(name+"/"+string(rune('0'+tt.hosts/10))+string(rune('0'+tt.hosts%10))+" hosts", func(t *testing.T) {
				h := newHarness(t, paid, "p1")
				due := assetsIn + time.Duration(tt.days)*sla.Day
				reportAt := due - time.Minute
				if late {
					reportAt = due + time.Minute
				}
				h.Partner(time.Minute, "p1", workflows.StepAccept, struct{}{})
				h.Market(assetsIn, StepAssets, hosts(tt.hosts))
				h.Partner(5*time.Minute, "p1", workflows.StepContact, ContactInput{})
				h.Partner(10*time.Minute, "p1", StepConfirm, confirmMalware)
				h.Partner(20*time.Minute, "p1", StepEradicate, eradicated)
				h.Partner(reportAt, "p1", workflows.StepReport, reportBody)
				h.runUntil(sla.SpecHandling, paid, 500000, reportAt+time.Minute)
				id := workflows.StepReport + "@" + reportAt.String()
				h.RequireOK(id)
				e := casetest.SLAEntry(t, h.Views[id].SLA, sla.ClauseHandling)
				require.NotNil(t, e.DueAt)
				assert.True(t, e.DueAt.Equal(paid.Add(due)), "handling due %v; want %v", e.DueAt, paid.Add(due))
				assert.Equal(t, late, e.Breached)
				pct, cents := refundSum(h.Refunds())
				if late {
					assert.Equal(t, 50, pct)
					assert.Equal(t, int64(250000), cents)
					assert.True(t, h.breachAt(sla.ClauseHandling).Equal(paid.Add(due).Add(sla.Resolution)))
				} else {
					assert.Zero(t, pct)
				}
			})
		}
	}
}

// TestRefundsCap: response and handling breached and malware not removed add up to 150%, capped at
// 100%; each clause's refund row is written once and the rows sum to the cap.
func TestRefundsCap(t *testing.T) {
	paid := time.Date(2026, 3, 2, 10, 0, 0, 0, sla.China)
	h := newHarness(t, paid, "p1")
	h.Partner(time.Minute, "p1", workflows.StepAccept, struct{}{})
	h.Market(2*time.Minute, StepAssets, hosts(1))
	h.Partner(2*time.Hour, "p1", workflows.StepContact, ContactInput{}) // response breached (20 business minutes)
	h.Partner(3*time.Hour, "p1", StepConfirm, confirmMalware)
	h.Partner(4*time.Hour, "p1", StepEradicate, EradicateInput{Cleaned: []string{"killed process"}, MalwareRemoved: no()})
	h.Partner(5*sla.Day, "p1", workflows.StepReport, reportBody) // handling breached (3 days)
	h.Market(5*sla.Day+time.Hour, StepReportConfirm, VerdictInput{})
	h.Partner(5*sla.Day+2*time.Hour, "p1", workflows.StepClose, workflows.CloseInput{FollowUp: "customer rebuilt the host"})
	res := h.run(sla.SpecHandling, paid)
	assert.Equal(t, workflows.Refund{Percent: 100, AmountCents: 500000}, res.Refund)
	pct, cents := refundSum(h.Refunds())
	assert.Equal(t, 100, pct)
	assert.Equal(t, int64(500000), cents)
	var clauses []string
	for _, r := range h.Refunds() {
		clauses = append(clauses, r.Clause)
	}
	assert.Equal(t, []string{sla.ClauseResponse, sla.ClauseEffect}, clauses, "handling adds nothing once the cap is reached")
	assert.True(t, casetest.SLAEntry(t, res.SLA, sla.ClauseEffect).Breached)
	assert.True(t, casetest.SLAEntry(t, res.SLA, sla.ClauseHandling).Breached)
	last := h.LastRow()
	assert.Equal(t, workflows.SLABreached, last.SLAStatus)
	assert.Equal(t, 100, last.RefundPercent)
}

// TestSpecs: handling skips analysis; both analysis specs require it; on-site needs an on-site partner.
func TestSpecs(t *testing.T) {
	paid := time.Date(2026, 3, 2, 10, 0, 0, 0, sla.China)
	for _, spec := range Specs {
		t.Run(spec, func(t *testing.T) {
			h := newHarness(t, paid, "p1")
			fullCase(h, "p1", spec, 20*time.Hour)
			res := h.run(spec, paid)
			assert.Equal(t, workflows.StageClosed, res.Stage)
			assert.Equal(t, spec != sla.SpecHandling, slices.Contains(h.EventNames(), workflows.EventCauseAnalyzed))
			require.Len(t, h.Choices(), 1)
			assert.Equal(t, spec == sla.SpecAnalysisOnsite, h.Choices()[0].NeedOnsite, "assignment asks for on-site capability")
		})
	}
	// Analysis is refused for the handling spec: after eradication the case is in stage report.
	h := newHarness(t, paid, "p1")
	fullCase(h, "p1", sla.SpecHandling, 20*time.Hour)
	h.Partner(150*time.Minute, "p1", StepAnalyze, AnalyzeInput{Cause: "x"})
	h.run(sla.SpecHandling, paid)
	assert.Equal(t, workflows.RejectConflict, casetest.RejectionType(h.Results["analyze@2h30m0s"]))
}

// TestOutOfScope: not a security incident closes the case with the reason.
func TestOutOfScope(t *testing.T) {
	paid := time.Date(2026, 3, 2, 10, 0, 0, 0, sla.China)
	h := newHarness(t, paid, "p1")
	h.Partner(time.Minute, "p1", workflows.StepAccept, struct{}{})
	h.Market(2*time.Minute, StepAssets, hosts(2))
	h.Partner(5*time.Minute, "p1", workflows.StepContact, ContactInput{})
	h.Partner(10*time.Minute, "p1", StepConfirm, ConfirmInput{SecurityIncident: no(), Summary: "disk full, not an attack"})
	res := h.run(sla.SpecHandling, paid)
	assert.Equal(t, StageOutOfScope, res.Stage)
	assert.Equal(t, workflows.Refund{}, res.Refund)
	assert.Contains(t, h.EventNames(), workflows.EventOutOfScope)
	assert.Equal(t, paid.Add(10*time.Minute), h.Env.Now().In(sla.China))
}

// TestAssetWindow: no asset list within 5 natural days of payment expires the case at exactly
// paid_at + 5 days; a late callback (paid long ago) expires at once; a list after the window is refused.
func TestAssetWindow(t *testing.T) {
	paid := time.Date(2026, 3, 2, 10, 0, 0, 0, sla.China)
	t.Run("expires", func(t *testing.T) {
		h := newHarness(t, paid, "p1")
		h.Partner(time.Minute, "p1", workflows.StepAccept, struct{}{})
		h.Partner(5*time.Minute, "p1", workflows.StepContact, ContactInput{})
		h.Partner(10*time.Minute, "p1", StepConfirm, confirmMalware)
		res := h.run(sla.SpecHandling, paid)
		assert.Equal(t, workflows.StageExpired, res.Stage)
		assert.Equal(t, paid.Add(sla.AssetWindow), h.Env.Now().In(sla.China))
		assert.Equal(t, workflows.RejectConflict, casetest.RejectionType(h.Results["confirm@10m0s"]), "confirm waits for the asset list")
		assert.Contains(t, h.EventNames(), workflows.EventCaseExpired)
		assert.True(t, slices.ContainsFunc(h.Notes(), func(n activities.NotifyInput) bool { return n.Message.Title == "SOS case expired: no asset list" }))
	})
	t.Run("late callback", func(t *testing.T) {
		h := newHarness(t, paid.Add(6*sla.Day), "p1")
		res := h.run(sla.SpecHandling, paid)
		assert.Equal(t, workflows.StageExpired, res.Stage)
		assert.Equal(t, paid.Add(6*sla.Day), h.Env.Now().In(sla.China))
		// The response clock counted from payment and breached long before the callback arrived.
		assert.Equal(t, workflows.Refund{Percent: 50, AmountCents: 250000}, res.Refund)
	})
	t.Run("list after the window", func(t *testing.T) {
		h := newHarness(t, paid, "p1")
		h.Market(sla.AssetWindow-time.Second, StepAssets, hosts(1))
		h.runUntil(sla.SpecHandling, paid, 1, sla.AssetWindow+time.Second)
		assert.NotContains(t, h.EventNames(), workflows.EventCaseExpired)
		require.NoError(t, h.Results["assets@"+(sla.AssetWindow-time.Second).String()], "one second before the window closes is in time")
	})
}

// TestPartnerRouting: an offer not accepted in time goes to the next partner; a decline too; with
// none left, operations are alerted and assignment retries until a partner appears.
func TestPartnerRouting(t *testing.T) {
	paid := time.Date(2026, 3, 2, 10, 0, 0, 0, sla.China)
	t.Run("timeout then accept", func(t *testing.T) {
		h := newHarness(t, paid, "p1", "p2")
		h.Partner(workflows.DefaultAcceptTimeout+time.Minute, "p1", workflows.StepAccept, struct{}{}) // too late
		h.Partner(workflows.DefaultAcceptTimeout+2*time.Minute, "p2", workflows.StepAccept, struct{}{})
		h.runUntil(sla.SpecHandling, paid, 1, workflows.DefaultAcceptTimeout+3*time.Minute)
		assert.Equal(t, workflows.RejectConflict, casetest.RejectionType(h.Results["accept@11m0s"]))
		h.RequireOK("accept@12m0s")
		assert.Equal(t, []workflows.Event{workflows.EventCaseOpened, workflows.EventPartnerOffered, workflows.EventOfferTimedOut,
			workflows.EventPartnerOffered, workflows.EventPartnerAccepted}, h.routingEvents())
		assert.True(t, h.event(workflows.EventOfferTimedOut).At.Equal(paid.Add(workflows.DefaultAcceptTimeout)))
		assert.Equal(t, "p2", h.Views["accept@12m0s"].PartnerID)
	})
	t.Run("decline", func(t *testing.T) {
		h := newHarness(t, paid, "p1", "p2")
		h.Partner(time.Minute, "p1", workflows.StepDecline, workflows.DeclineInput{Reason: "no one free"})
		h.Partner(2*time.Minute, "p1", workflows.StepAccept, struct{}{})
		h.Partner(3*time.Minute, "p2", workflows.StepAccept, struct{}{})
		h.runUntil(sla.SpecHandling, paid, 1, 4*time.Minute)
		h.RequireOK("decline@1m0s", "accept@3m0s")
		assert.Equal(t, workflows.RejectConflict, casetest.RejectionType(h.Results["accept@2m0s"]), "a partner that declined cannot accept")
		assert.Equal(t, []workflows.Event{workflows.EventCaseOpened, workflows.EventPartnerOffered, workflows.EventPartnerDeclined,
			workflows.EventPartnerOffered, workflows.EventPartnerAccepted}, h.routingEvents())
	})
	t.Run("none available", func(t *testing.T) {
		h := newHarness(t, paid)
		// Capacity appears.
		h.At(workflows.ReassignInterval/2, func() { h.SetPartners("p9") })
		h.Partner(workflows.ReassignInterval+time.Minute, "p9", workflows.StepAccept, struct{}{})
		h.runUntil(sla.SpecHandling, paid, 1, workflows.ReassignInterval+2*time.Minute)
		h.RequireOK("accept@16m0s")
		assert.Equal(t, []workflows.Event{workflows.EventCaseOpened, workflows.EventNoPartnerAvailable, workflows.EventPartnerOffered,
			workflows.EventPartnerAccepted}, h.routingEvents())
		assert.True(t, h.event(workflows.EventPartnerOffered).At.Equal(paid.Add(workflows.ReassignInterval)))
		assert.True(t, slices.ContainsFunc(h.Notes(), func(n activities.NotifyInput) bool {
			return n.Message.Title == "No partner available for this SOS case" && n.PartnerID == ""
		}), "operations alerted")
	})
}

// TestWebUICancelRefused: a cancellation requested of the workflow (the Web UI's Cancel) while the case
// waits on its timers is taken as a manager's cancel step; an SOS case takes none, so it is recorded as
// refused, operations are told, and the case goes on: the offer still times out on time, the clocks keep
// running, and the workflow does not end as cancelled.
func TestWebUICancelRefused(t *testing.T) {
	paid := time.Date(2026, 3, 2, 10, 0, 0, 0, sla.China) // a Monday, inside business hours: the clock runs
	h := newHarness(t, paid, "p1", "p2")
	h.At(3*time.Minute, h.Env.CancelWorkflow)
	h.runUntil(sla.SpecHandling, paid, 500000, 12*time.Minute)
	var canceled *temporal.CanceledError
	assert.False(t, errors.As(h.Env.GetWorkflowError(), &canceled), "the case did not end cancelled: %v", h.Env.GetWorkflowError())
	assert.Equal(t, []workflows.Event{workflows.EventCaseOpened, workflows.EventPartnerOffered, workflows.EventCancelRefused,
		workflows.EventOfferTimedOut, workflows.EventPartnerOffered}, h.routingEvents())
	refused := h.event(workflows.EventCancelRefused)
	assert.True(t, refused.At.Equal(paid.Add(3*time.Minute)))
	assert.Equal(t, workflows.ActorManager, refused.Actor)
	assert.Contains(t, refused.Detail, "an SOS case cannot be cancelled")
	assert.Equal(t, 1, h.CountNotes("SOS case: Web UI cancellation refused"))
	assert.True(t, h.event(workflows.EventOfferTimedOut).At.Equal(paid.Add(workflows.DefaultAcceptTimeout)), "the offer timed out on its own timer")
	assert.Equal(t, workflows.StatusOpen, h.LastRow().Status)
}

// TestDispute: a disputed report goes back to stage report; the handling clock is judged at the first
// submission, so a late second version breaches nothing.
func TestDispute(t *testing.T) {
	paid := time.Date(2026, 3, 2, 10, 0, 0, 0, sla.China)
	h := newHarness(t, paid, "p1")
	h.Partner(time.Minute, "p1", workflows.StepAccept, struct{}{})
	h.Market(2*time.Minute, StepAssets, hosts(1))
	h.Partner(5*time.Minute, "p1", workflows.StepContact, ContactInput{})
	h.Partner(10*time.Minute, "p1", StepConfirm, confirmMalware)
	h.Partner(20*time.Minute, "p1", StepEradicate, eradicated)
	h.Partner(24*time.Hour, "p1", workflows.StepReport, reportBody)
	h.Partner(25*time.Hour, "p1", workflows.StepClose, workflows.CloseInput{FollowUp: "x"}) // before the verdict: refused
	h.Market(26*time.Hour, StepReportDispute, VerdictInput{Comment: "the webshell is still there"})
	h.Market(27*time.Hour, StepReportConfirm, VerdictInput{}) // nothing to confirm now
	h.Partner(5*sla.Day, "p1", workflows.StepReport, ReportInput{Summary: "webshell removed too", Recommendations: []string{"WAF"}})
	h.Market(5*sla.Day+time.Hour, StepReportConfirm, VerdictInput{Rating: 4})
	h.Partner(5*sla.Day+2*time.Hour, "p1", workflows.StepClose, workflows.CloseInput{FollowUp: "clean for 7 days"})
	res := h.run(sla.SpecHandling, paid)
	assert.Equal(t, workflows.StageClosed, res.Stage)
	assert.Equal(t, workflows.RejectConflict, casetest.RejectionType(h.Results["close@25h0m0s"]))
	assert.Equal(t, workflows.RejectConflict, casetest.RejectionType(h.Results["report_confirm@27h0m0s"]))
	assert.False(t, casetest.SLAEntry(t, res.SLA, sla.ClauseHandling).Breached)
	assert.Empty(t, h.Refunds())
	reports := h.Reports()
	require.Len(t, reports, 2)
	assert.Equal(t, 2, reports[1].Version)
	assert.Contains(t, h.EventNames(), workflows.EventReportDisputed)
}

// TestReportNotifiedPerVersion: while the first report's record is still running, a dispute and a second
// report land; each version still renders and notifies under its own key (report/1, report/2), with the
// case as it was when that version was submitted. Reading the version after the record yielded gave the
// first report the second's key, and the notification outbox dropped it as a duplicate.
func TestReportNotifiedPerVersion(t *testing.T) {
	paid := time.Date(2026, 3, 2, 10, 0, 0, 0, sla.China)
	h := newHarness(t, paid, "p1")
	// The first report's record takes a second of workflow time (a slow database, a retry); the test
	// environment lets the clock and the other steps run meanwhile. A failing attempt would do in a real
	// worker, but the test environment's local-activity retry deadline counts from the wall clock.
	firstReport := mock.MatchedBy(func(in activities.RecordInput) bool {
		return slices.ContainsFunc(in.Events, func(e activities.Event) bool {
			return e.Event == string(workflows.EventReportSubmitted) && strings.HasPrefix(e.Detail, "report v1 ")
		})
	})
	slow := 0
	var a *activities.Activities
	h.Env.OnActivity(a.Record, mock.Anything, firstReport).Return(func(ctx context.Context, in activities.RecordInput) error {
		slow++
		return h.Record(ctx, in)
	}).After(time.Second).Once()
	reportAt := 24 * time.Hour
	h.Partner(time.Minute, "p1", workflows.StepAccept, struct{}{})
	h.Market(2*time.Minute, StepAssets, hosts(1))
	h.Partner(5*time.Minute, "p1", workflows.StepContact, ContactInput{})
	h.Partner(10*time.Minute, "p1", StepConfirm, confirmMalware)
	h.Partner(20*time.Minute, "p1", StepEradicate, eradicated)
	h.Partner(reportAt, "p1", workflows.StepReport, reportBody)
	h.Market(reportAt+100*time.Millisecond, StepReportDispute, VerdictInput{Comment: "the webshell is still there"})
	h.Partner(reportAt+200*time.Millisecond, "p1", workflows.StepReport, ReportInput{Summary: "webshell removed too", Recommendations: []string{"WAF"}})
	h.Market(reportAt+time.Hour, StepReportConfirm, VerdictInput{Rating: 4})
	h.Partner(reportAt+2*time.Hour, "p1", workflows.StepClose, workflows.CloseInput{FollowUp: "clean for 7 days"})
	res := h.run(sla.SpecHandling, paid)
	assert.Equal(t, workflows.StageClosed, res.Stage)
	require.Equal(t, 1, slow, "the first report's record was the slow one")
	h.RequireOK("report@24h0m0s", "report_dispute@24h0m0.1s", "report@24h0m0.2s")
	var first, second *activities.NotifyInput
	notes := h.Notes()
	for i, n := range notes {
		switch n.Message.Key {
		case "sos:O-1/report/1":
			first = &notes[i]
		case "sos:O-1/report/2":
			second = &notes[i]
		}
	}
	require.NotNil(t, first, "report v1 notified under its own key")
	require.NotNil(t, second, "report v2 notified under its own key")
	assert.Equal(t, "SOS report v1 submitted", first.Message.Title)
	assert.Equal(t, "SOS report v2 submitted", second.Message.Title)
	assert.Contains(t, first.Message.Fields, notifications.Field{Name: "Stage", Value: StageReview}, "the case as v1 left it")
	versions := map[int]string{}
	for _, r := range h.Reports() {
		versions[r.Version] = r.Summary
	}
	assert.Equal(t, map[int]string{1: "miner removed", 2: "webshell removed too"}, versions)
}

// TestStepValidation: wrong partner, wrong stage, repeated and malformed steps are refused with a
// reason before they touch history.
func TestStepValidation(t *testing.T) {
	paid := time.Date(2026, 3, 2, 10, 0, 0, 0, sla.China)
	h := newHarness(t, paid, "p1")
	h.Partner(30*time.Second, "p1", workflows.StepContact, ContactInput{}) // not accepted yet
	h.Partner(time.Minute, "p2", workflows.StepAccept, struct{}{})         // not offered to p2
	h.Partner(90*time.Second, "p1", workflows.StepAccept, struct{}{})
	h.Market(2*time.Minute, StepAssets, AssetsInput{})                                                      // empty list
	h.Market(150*time.Second, StepAssets, AssetsInput{Hosts: []Host{{InstanceID: "i-1", IP: "not-an-ip"}}}) // bad IP
	h.Market(3*time.Minute, StepAssets, hosts(1))
	h.Market(4*time.Minute, StepAssets, hosts(1)) // again
	h.Send(5*time.Minute, "partner-assets", workflows.StepInput{Step: StepAssets, Actor: workflows.ActorPartner, PartnerID: "p1", Payload: casetest.MustJSON(hosts(1))})
	h.Partner(6*time.Minute, "p2", workflows.StepContact, ContactInput{}) // another partner
	h.Partner(7*time.Minute, "p1", StepConfirm, confirmMalware)           // before contact
	h.Partner(8*time.Minute, "p1", workflows.StepContact, ContactInput{})
	h.Partner(9*time.Minute, "p1", workflows.StepContact, ContactInput{}) // again
	h.Partner(10*time.Minute, "p1", StepConfirm, ConfirmInput{SecurityIncident: yes(), IncidentClass: "ufo", IncidentType: "x", Summary: "x"})
	h.Partner(11*time.Minute, "p1", StepConfirm, ConfirmInput{IncidentClass: sla.ClassMalware, IncidentType: "x", Summary: "x"}) // no security_incident
	h.Send(12*time.Minute, "unknown-field", workflows.StepInput{Step: StepConfirm, Actor: workflows.ActorPartner, PartnerID: "p1", Payload: []byte(`{"security_incident":true,"incident_class":"malware","incident_type":"x","summary":"x","extra":1}`)})
	h.Partner(13*time.Minute, "p1", StepEradicate, eradicated) // wrong stage
	h.Partner(14*time.Minute, "p1", StepConfirm, confirmMalware)
	h.Partner(15*time.Minute, "p1", StepEradicate, EradicateInput{Cleaned: []string{"x"}}) // malware_removed missing
	h.Market(15*time.Minute+30*time.Second, workflows.StepCancel, workflows.CancelInput{}) // SOS cases are not cancelled
	h.runUntil(sla.SpecHandling, paid, 1, 16*time.Minute)
	want := map[string]string{
		"contact@30s": workflows.RejectConflict, "accept@1m0s": workflows.RejectConflict, "accept@1m30s": "",
		"assets@2m0s": workflows.RejectInvalid, "assets@2m30s": workflows.RejectInvalid, "assets@3m0s": "", "assets@4m0s": workflows.RejectConflict,
		"partner-assets": workflows.RejectConflict, "contact@6m0s": workflows.RejectConflict, "confirm@7m0s": workflows.RejectConflict,
		"contact@8m0s": "", "contact@9m0s": workflows.RejectConflict, "confirm@10m0s": workflows.RejectInvalid, "confirm@11m0s": workflows.RejectInvalid,
		"unknown-field": workflows.RejectInvalid, "eradicate@13m0s": workflows.RejectConflict, "confirm@14m0s": "", "eradicate@15m0s": workflows.RejectInvalid,
		"cancel@15m30s": workflows.RejectConflict,
	}
	for id, kind := range want {
		if kind == "" {
			assert.NoError(t, h.Results[id], id)
		} else {
			assert.Equal(t, kind, casetest.RejectionType(h.Results[id]), "%s: %v", id, h.Results[id])
		}
	}
	// Refused steps left no trace in the timeline.
	assert.Equal(t, []workflows.Event{workflows.EventCaseOpened, workflows.EventPartnerOffered, workflows.EventPartnerAccepted,
		workflows.EventAssetsSubmitted, workflows.EventCustomerContacted, workflows.EventIncidentConfirmed, workflows.EventContainmentSkipped},
		h.EventNames())
}

// TestWarnings: each clock warns at 50% and 80%, once, with an at-risk search status in between.
func TestWarnings(t *testing.T) {
	paid := time.Date(2026, 3, 2, 10, 0, 0, 0, sla.China)
	h := newHarness(t, paid, "p1")
	h.Partner(time.Minute, "p1", workflows.StepAccept, struct{}{})
	h.Partner(17*time.Minute, "p1", workflows.StepContact, ContactInput{})
	h.runUntil(sla.SpecHandling, paid, 1, 18*time.Minute)
	var warns []time.Time
	for _, e := range h.Events() {
		if e.Event == string(workflows.EventSLAAtRisk) {
			warns = append(warns, e.At)
		}
	}
	require.Len(t, warns, 2)
	assert.True(t, warns[0].Equal(paid.Add(10*time.Minute)), "50%% warning at %v", warns[0])
	assert.True(t, warns[1].Equal(paid.Add(16*time.Minute)), "80%% warning at %v", warns[1])
	var sawAtRisk bool
	for _, r := range h.Rows() {
		sawAtRisk = sawAtRisk || r.SLAStatus == workflows.SLAAtRisk
	}
	assert.True(t, sawAtRisk)
	assert.Equal(t, workflows.SLAMet, h.LastRow().SLAStatus, "met in time")
}

// TestLifecycle: the worker registers the case under its old type name, and orders are checked for an SOS spec.
func TestLifecycle(t *testing.T) {
	require.Len(t, Lifecycle.Workflows, 1)
	assert.Equal(t, "SOSWorkflow", Lifecycle.Workflows[0].Name)
	in := order(sla.SpecAnalysisOnsite, time.Date(2026, 3, 2, 10, 0, 0, 0, sla.China), 1)
	assert.Equal(t, Input{CaseInput: in}, Lifecycle.Input(in), "the API starts a case with the service's verdict terms")
	assert.NoError(t, Lifecycle.Validate(in))
	in.Spec = "deluxe"
	assert.Error(t, Lifecycle.Validate(in))
}

// TestRefusesUnknownSpec: a case started with a spec that is not an SOS spec fails at once, as invalid,
// whoever started it (the API refuses it before, with the same words).
func TestRefusesUnknownSpec(t *testing.T) {
	h := newHarness(t, time.Date(2026, 3, 2, 10, 0, 0, 0, sla.China), "p1")
	h.Execute(WorkflowName, order("deluxe", time.Date(2026, 3, 2, 10, 0, 0, 0, sla.China), 100))
	require.True(t, h.Env.IsWorkflowCompleted())
	assert.Equal(t, workflows.RejectInvalid, casetest.RejectionType(h.Env.GetWorkflowError()))
	assert.Empty(t, h.Events(), "nothing recorded")
}

// TestNextDeadlineAfterBreach: once the response clock breaches, the case's next deadline (the projection's
// and the NextDeadline search attribute's) moves to the live handling deadline, not the breached one, so a
// "due soon" filter finds the case by the clock still running.
func TestNextDeadlineAfterBreach(t *testing.T) {
	paid := time.Date(2026, 3, 2, 10, 0, 0, 0, sla.China) // response due 10:20
	h := newHarness(t, paid, "p1")
	h.Partner(time.Minute, "p1", workflows.StepAccept, struct{}{})
	h.Market(2*time.Minute, StepAssets, hosts(1)) // handling: 3 natural days from 10:02
	var attr time.Time                            // NextDeadline as last upserted
	h.Env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		if sa, ok := args.Get(0).(temporal.SearchAttributes); ok && sa.ContainsKey(workflows.AttrNextDeadline) {
			attr, _ = sa.GetTime(workflows.AttrNextDeadline)
		}
	}).Return(nil)
	h.runUntil(sla.SpecHandling, paid, 500000, time.Hour+time.Minute)
	handlingDue := paid.Add(2*time.Minute + 3*sla.Day)
	last := h.LastRow()
	assert.Equal(t, workflows.SLABreached, last.SLAStatus)
	require.NotNil(t, last.NextDeadline)
	assert.True(t, last.NextDeadline.Equal(handlingDue), "projection's next deadline %v; want the handling deadline %v", last.NextDeadline.In(sla.China), handlingDue)
	assert.True(t, attr.Equal(handlingDue), "NextDeadline search attribute %v; want %v", attr.In(sla.China), handlingDue)
}

// notices are the customer notices the case's records carried, in order.
func (h *harness) notices() []workflows.Notice {
	var out []workflows.Notice
	for _, e := range h.Events() {
		if e.Customer != nil {
			out = append(out, workflows.Notice(e.Customer.Kind))
		}
	}
	return out
}

func (h *harness) notice(n workflows.Notice) *activities.CustomerNotice {
	for _, e := range h.Events() {
		if e.Customer != nil && e.Customer.Kind == string(n) {
			return e.Customer
		}
	}
	return nil
}

// TestCustomerNotices: a case tells its customer each moment that matters to them, in order: the partner
// company that took it, the first contact (in time), the incident's class, the report, the close.
func TestCustomerNotices(t *testing.T) {
	paid := time.Date(2026, 3, 2, 10, 0, 0, 0, sla.China)
	h := newHarness(t, paid, "p1")
	fullCase(h, "p1", sla.SpecHandling, 20*time.Hour)
	h.run(sla.SpecHandling, paid)
	assert.Equal(t, []workflows.Notice{workflows.NoticePartnerAssigned, workflows.NoticeContacted, workflows.NoticeIncidentConfirmed,
		workflows.NoticeReportReady, workflows.NoticeCaseClosed}, h.notices())
	assert.Equal(t, map[string]string{"met": "yes", "due": workflows.When(paid.Add(20 * time.Minute))}, h.notice(workflows.NoticeContacted).Args)
	assert.Equal(t, "有害程序事件", h.notice(workflows.NoticeIncidentConfirmed).Args["class"])
	assert.Equal(t, "1", h.notice(workflows.NoticeReportReady).Args["version"])
	assert.Equal(t, "no recurrence after 7 days", h.notice(workflows.NoticeCaseClosed).Args["follow_up"])

	t.Run("late contact and its refund", func(t *testing.T) {
		h := newHarness(t, paid, "p1")
		h.Partner(time.Minute, "p1", workflows.StepAccept, struct{}{})
		h.Partner(time.Hour, "p1", workflows.StepContact, ContactInput{})
		h.runUntil(sla.SpecHandling, paid, 500000, 2*time.Hour)
		assert.Equal(t, "no", h.notice(workflows.NoticeContacted).Args["met"])
		assert.Equal(t, map[string]string{"amount": "¥2,500.00", "clause": "响应时效"}, h.notice(workflows.NoticeRefundOwed).Args)
	})
	t.Run("out of scope", func(t *testing.T) {
		h := newHarness(t, paid, "p1")
		h.Partner(time.Minute, "p1", workflows.StepAccept, struct{}{})
		h.Market(2*time.Minute, StepAssets, hosts(1))
		h.Partner(5*time.Minute, "p1", workflows.StepContact, ContactInput{})
		h.Partner(10*time.Minute, "p1", StepConfirm, ConfirmInput{SecurityIncident: no(), Summary: "a forgotten password"})
		h.run(sla.SpecHandling, paid)
		assert.Equal(t, []workflows.Notice{workflows.NoticePartnerAssigned, workflows.NoticeContacted, workflows.NoticeOutOfScope}, h.notices())
	})
}

// TestAssetReminders: without an asset list the customer is reminded after 3 and after 4 of the window's 5
// days, then told it closed; a list in time stops the reminders; a case started late skips those past.
func TestAssetReminders(t *testing.T) {
	paid := time.Date(2026, 3, 2, 10, 0, 0, 0, sla.China)
	t.Run("missed", func(t *testing.T) {
		h := newHarness(t, paid, "p1")
		h.run(sla.SpecHandling, paid)
		var at []time.Time
		var days []string
		for _, e := range h.Events() {
			if e.Event == string(workflows.EventAssetsReminded) {
				at = append(at, e.At.In(sla.China))
				days = append(days, e.Customer.Args["day"])
				assert.Equal(t, string(workflows.NoticeAssetsReminder), e.Customer.Kind)
				assert.Equal(t, workflows.When(paid.Add(sla.AssetWindow)), e.Customer.Args["due"])
			}
		}
		assert.Equal(t, []time.Time{paid.Add(3 * sla.Day), paid.Add(4 * sla.Day)}, at)
		assert.Equal(t, []string{"3", "4"}, days)
		ns := h.notices()
		assert.Equal(t, workflows.NoticeAssetsWindowClosed, ns[len(ns)-1], "the window closed, last")
	})
	t.Run("list on day 4", func(t *testing.T) {
		h := newHarness(t, paid, "p1")
		h.Market(3*sla.Day+time.Hour, StepAssets, hosts(1))
		h.runUntil(sla.SpecHandling, paid, 1, 6*sla.Day)
		n := 0
		for _, x := range h.notices() {
			if x == workflows.NoticeAssetsReminder {
				n++
			}
		}
		assert.Equal(t, 1, n, "one reminder, then none")
		assert.NotContains(t, h.notices(), workflows.NoticeAssetsWindowClosed)
	})
	t.Run("late callback", func(t *testing.T) {
		h := newHarness(t, paid.Add(3*sla.Day+2*time.Hour), "p1")
		h.runUntil(sla.SpecHandling, paid, 1, time.Minute)
		assert.NotContains(t, h.notices(), workflows.NoticeAssetsReminder, "day 3's reminder is past; day 4's not yet due")
	})
}

// toReview drives a case to its first report at reportAt, every clause met.
func toReview(h *harness, reportAt time.Duration) {
	h.Partner(time.Minute, "p1", workflows.StepAccept, struct{}{})
	h.Market(2*time.Minute, StepAssets, hosts(1))
	h.Partner(5*time.Minute, "p1", workflows.StepContact, ContactInput{})
	h.Partner(10*time.Minute, "p1", StepConfirm, confirmMalware)
	h.Partner(20*time.Minute, "p1", StepEradicate, eradicated)
	h.Partner(reportAt, "p1", workflows.StepReport, reportBody)
}

// eventTimes are when the lines named name were recorded, in China time.
func (h *harness) eventTimes(name workflows.Event) []time.Time {
	var out []time.Time
	for _, e := range h.EventsNamed(name) {
		out = append(out, e.At.In(sla.China))
	}
	return out
}

// TestVerdictDeemed: a customer who neither confirms nor disputes the report is reminded 3 natural days
// after it was submitted and told 7 natural days after it that it counts as confirmed; the partner is
// told to close, and does.
func TestVerdictDeemed(t *testing.T) {
	paid := time.Date(2026, 3, 2, 10, 0, 0, 0, sla.China)
	reportAt := 20 * time.Hour
	h := newHarness(t, paid, "p1")
	toReview(h, reportAt)
	h.Partner(reportAt+sla.VerdictReminder+time.Hour, "p1", workflows.StepClose, workflows.CloseInput{FollowUp: "x"}) // no verdict yet
	closeAt := reportAt + sla.VerdictWindow + time.Hour
	h.Market(closeAt-time.Minute, StepReportDispute, VerdictInput{Comment: "too late to dispute"})
	h.Partner(closeAt, "p1", workflows.StepClose, workflows.CloseInput{FollowUp: "no recurrence in a week"})
	res := h.run(sla.SpecHandling, paid)

	assert.Equal(t, workflows.StageClosed, res.Stage)
	assert.Equal(t, paid.Add(closeAt), h.Env.Now().In(sla.China), "the case ends at the partner's close")
	assert.Equal(t, workflows.RejectConflict, casetest.RejectionType(h.Result(workflows.StepClose, reportAt+sla.VerdictReminder+time.Hour)))
	assert.Equal(t, workflows.RejectConflict, casetest.RejectionType(h.Result(StepReportDispute, closeAt-time.Minute)), "a report deemed confirmed is no longer disputed")
	h.RequireOK(workflows.StepClose + "@" + closeAt.String())
	submitted := paid.Add(reportAt)
	assert.Equal(t, []time.Time{submitted.Add(3 * sla.Day)}, h.eventTimes(workflows.EventReportReminded))
	assert.Equal(t, []time.Time{submitted.Add(7 * sla.Day)}, h.eventTimes(workflows.EventReportDeemedAccepted))
	assert.Equal(t, []workflows.Event{workflows.EventReportSubmitted, workflows.EventReportReminded, workflows.EventReportDeemedAccepted,
		workflows.EventCaseClosed}, h.EventNames()[len(h.EventNames())-4:])
	due := workflows.When(submitted.Add(sla.VerdictWindow))
	assert.Equal(t, map[string]string{"report": activities.ReportTitle, "version": "1", "days": "3", "due": due},
		h.notice(workflows.NoticeReportReminder).Args)
	assert.Equal(t, map[string]string{"report": activities.ReportTitle, "version": "1", "due": due},
		h.notice(workflows.NoticeReportDeemedAccepted).Args)
	assert.Equal(t, "no verdict on report v1 within 7 d (by "+due+"): deemed confirmed; the partner may close the case",
		h.event(workflows.EventReportDeemedAccepted).Detail)
	var told *activities.NotifyInput
	for _, n := range h.Notes() {
		if n.Message.Title == "SOS report v1 deemed confirmed" {
			told = &n
		}
	}
	require.NotNil(t, told, "the partner is told to close")
	assert.Equal(t, "p1", told.PartnerID)
	assert.Contains(t, told.Message.Text, "/steps/close")

	e := casetest.SLAEntry(t, res.SLA, ClauseVerdict)
	assert.Equal(t, workflows.SLAMet, e.Status)
	assert.False(t, e.Breached, "the customer's window carries no refund")
	assert.True(t, e.DueAt.Equal(submitted.Add(sla.VerdictWindow)))
	assert.Equal(t, "deemed confirmed at the window's end", e.Margin)
	assert.Empty(t, h.Refunds())
	assert.Zero(t, res.Refund.Percent)
	for _, r := range h.Reports() {
		assert.False(t, slices.ContainsFunc(r.SLA, func(x activities.ReportSLA) bool { return x.Clause == ClauseVerdict }), "the report leaves out its own verdict")
	}
	var nextAtReminder *time.Time
	for _, r := range h.Rows() {
		if r.UpdatedAt.Equal(submitted.Add(3 * sla.Day)) {
			nextAtReminder = r.NextDeadline
		}
	}
	require.NotNil(t, nextAtReminder, "the verdict's end is the case's next deadline while it waits")
	assert.True(t, nextAtReminder.Equal(submitted.Add(sla.VerdictWindow)))
}

// TestVerdictInTime: a confirmation or a dispute before the deadline cancels the reminder and the
// deemed confirmation; a new version after a dispute has a window of its own.
func TestVerdictInTime(t *testing.T) {
	paid := time.Date(2026, 3, 2, 10, 0, 0, 0, sla.China)
	reportAt := 20 * time.Hour
	t.Run("confirmed before the reminder", func(t *testing.T) {
		h := newHarness(t, paid, "p1")
		toReview(h, reportAt)
		h.Market(reportAt+2*sla.Day, StepReportConfirm, VerdictInput{Rating: 4})
		closeAt := reportAt + 10*sla.Day // long after both would have fired
		h.Partner(closeAt, "p1", workflows.StepClose, workflows.CloseInput{FollowUp: "x"})
		res := h.run(sla.SpecHandling, paid)
		assert.Equal(t, workflows.StageClosed, res.Stage)
		assert.Equal(t, paid.Add(closeAt), h.Env.Now().In(sla.China))
		assert.Empty(t, h.eventTimes(workflows.EventReportReminded))
		assert.Empty(t, h.eventTimes(workflows.EventReportDeemedAccepted))
		assert.NotContains(t, h.notices(), workflows.NoticeReportReminder)
		e := casetest.SLAEntry(t, res.SLA, ClauseVerdict)
		assert.Equal(t, workflows.SLAMet, e.Status)
		assert.True(t, e.CompletedAt.Equal(paid.Add(reportAt+2*sla.Day)))
		v := h.Views[StepReportConfirm+"@"+(reportAt+2*sla.Day).String()]
		assert.Equal(t, StageReview, v.Stage)
		for _, r := range h.Rows() {
			if r.UpdatedAt.After(paid.Add(reportAt + 2*sla.Day)) {
				assert.Nil(t, r.NextDeadline, "no deadline after the verdict (row at %v)", r.UpdatedAt)
			}
		}
	})
	t.Run("disputed after the reminder", func(t *testing.T) {
		h := newHarness(t, paid, "p1")
		toReview(h, reportAt)
		disputeAt := reportAt + 4*sla.Day
		v2At := reportAt + 5*sla.Day
		h.Market(disputeAt, StepReportDispute, VerdictInput{Comment: "the webshell is still there"})
		h.Partner(v2At, "p1", workflows.StepReport, ReportInput{Summary: "webshell removed too", Recommendations: []string{"WAF"}})
		h.Partner(v2At+8*sla.Day, "p1", workflows.StepClose, workflows.CloseInput{FollowUp: "x"})
		res := h.run(sla.SpecHandling, paid)
		assert.Equal(t, workflows.StageClosed, res.Stage)
		v1, v2 := paid.Add(reportAt), paid.Add(v2At)
		assert.Equal(t, []time.Time{v1.Add(3 * sla.Day), v2.Add(3 * sla.Day)}, h.eventTimes(workflows.EventReportReminded), "one reminder per version")
		assert.Equal(t, []time.Time{v2.Add(7 * sla.Day)}, h.eventTimes(workflows.EventReportDeemedAccepted), "v1's window ended with the dispute")
		assert.Contains(t, h.event(workflows.EventReportDeemedAccepted).Detail, "report v2")
		assert.Equal(t, "1", h.EventsNamed(workflows.EventReportReminded)[0].Customer.Args["version"])
		assert.Equal(t, "2", h.EventsNamed(workflows.EventReportReminded)[1].Customer.Args["version"])
		h.RequireOK(StepReportDispute+"@"+disputeAt.String(), workflows.StepClose+"@"+(v2At+8*sla.Day).String())
	})
}

// TestVerdictTermsFromInput: a case started with its own verdict window (shorter than the service's
// reminder) is deemed confirmed at that window's end, without a reminder; bad terms fail the case.
func TestVerdictTermsFromInput(t *testing.T) {
	paid := time.Date(2026, 3, 2, 10, 0, 0, 0, sla.China)
	reportAt := 20 * time.Hour
	h := newHarness(t, paid, "p1")
	toReview(h, reportAt)
	h.Partner(reportAt+2*sla.Day+time.Minute, "p1", workflows.StepClose, workflows.CloseInput{FollowUp: "x"})
	var res Result
	h.Run(WorkflowName, Input{CaseInput: order(sla.SpecHandling, paid, 500000), VerdictWindow: 2 * sla.Day}, &res)
	assert.Equal(t, workflows.StageClosed, res.Stage)
	assert.Empty(t, h.eventTimes(workflows.EventReportReminded))
	assert.Equal(t, []time.Time{paid.Add(reportAt + 2*sla.Day)}, h.eventTimes(workflows.EventReportDeemedAccepted))
	assert.Contains(t, h.event(workflows.EventReportDeemedAccepted).Detail, "within 2 d")

	h = newHarness(t, paid, "p1")
	h.Execute(WorkflowName, Input{CaseInput: order(sla.SpecHandling, paid, 1), VerdictWindow: -time.Hour})
	require.True(t, h.Env.IsWorkflowCompleted())
	assert.Equal(t, workflows.RejectInvalid, casetest.RejectionType(h.Env.GetWorkflowError()))
}
