package workflows

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"
)

func hostingInput(paid time.Time, ecs int) CaseInput {
	return CaseInput{CaseID: "hosting:O-1", OrderID: "O-1", CustomerID: "C-1", Service: ServiceHosting, Quantity: ecs,
		AmountCents: 1_200_000, Currency: "CNY", PaidAt: paid}
}

func (h *sosHarness) runHosting(in HostingInput) HostingResult {
	h.t.Helper()
	h.env.RegisterWorkflow(HostingWorkflow)
	h.env.ExecuteWorkflow(HostingWorkflow, in)
	require.True(h.t, h.env.IsWorkflowCompleted())
	require.NoError(h.t, h.env.GetWorkflowError())
	var res HostingResult
	require.NoError(h.t, h.env.GetWorkflowResult(&res))
	return res
}

// runHostingUntil runs a hosting case and stops it at start+d.
func (h *sosHarness) runHostingUntil(in CaseInput, d time.Duration) {
	h.t.Helper()
	h.at(d, func() { h.env.CancelWorkflow() })
	h.env.RegisterWorkflow(HostingWorkflow)
	h.env.ExecuteWorkflow(HostingWorkflow, HostingInput{CaseInput: in})
}

func req(kind, instance string) HostingRequestInput {
	return HostingRequestInput{Kind: kind, InstanceID: instance, Summary: "please " + kind}
}

func TestHostingQuota(t *testing.T) {
	for _, tt := range []struct {
		kind string
		want int
	}{{HostingSecurityCheck, 1}, {HostingHardening, 1}, {HostingPatching, Unlimited}, {HostingIncident, 2}, {"backup", -2}} {
		if got := HostingQuota(tt.kind); got != tt.want {
			t.Errorf("HostingQuota(%q) = %d; want %d", tt.kind, got, tt.want)
		}
	}
	paid := cst(2024, 2, 29, 9)
	for _, tt := range []struct {
		n    int
		want time.Time
	}{{1, cst(2025, 3, 1, 9)}, {2, cst(2026, 3, 1, 9)}, {4, cst(2028, 2, 29, 9)}} {
		if got := HostingTermEnd(paid, tt.n); !got.Equal(tt.want) {
			t.Errorf("HostingTermEnd(%v, %d) = %v; want %v", paid, tt.n, got.In(chinaZone), tt.want)
		}
	}
}

// TestHostingQuotas: one security check and one hardening per ECS per year, at most two incidents,
// patching as needed, and no more ECS than the order's quantity; refusals show the quota state.
func TestHostingQuotas(t *testing.T) {
	paid := cst(2025, 3, 3, 10)
	h := newSOS(t, paid, "p1")
	h.partner(time.Minute, "p1", StepAccept, struct{}{})
	h.market(2*time.Minute, StepRequest, req(HostingSecurityCheck, "i-1"))
	h.market(3*time.Minute, StepRequest, req(HostingSecurityCheck, "i-1"))
	h.market(4*time.Minute, StepRequest, req(HostingIncident, "i-1"))
	h.market(5*time.Minute, StepRequest, req(HostingIncident, "i-1"))
	h.market(6*time.Minute, StepRequest, req(HostingIncident, "i-1"))
	for i := range 5 {
		h.market(7*time.Minute+time.Duration(i)*time.Second, StepRequest, req(HostingPatching, "i-1"))
	}
	h.market(8*time.Minute, StepRequest, req(HostingSecurityCheck, "i-2")) // the second ECS has its own quota
	h.market(9*time.Minute, StepRequest, req(HostingHardening, "i-3"))     // a third ECS on an order for two
	h.partner(10*time.Minute, "p1", StepComplete, CompleteInput{RequestID: "r1", Summary: "scanned; 2 findings fixed"})
	h.partner(11*time.Minute, "p1", StepComplete, CompleteInput{RequestID: "r1", Summary: "again"})
	h.partner(12*time.Minute, "p1", StepComplete, CompleteInput{RequestID: "r99", Summary: "x"})
	h.partner(13*time.Minute, "p2", StepComplete, CompleteInput{RequestID: "r2", Summary: "x"})
	h.runHostingUntil(hostingInput(paid, 2), 20*time.Minute)

	for _, id := range []string{"accept@1m0s", "request@2m0s", "request@4m0s", "request@5m0s", "request@8m0s", "complete@10m0s"} {
		assert.NoError(t, h.results[id], id)
	}
	for i := range 5 {
		assert.NoError(t, h.results["request@"+(7*time.Minute+time.Duration(i)*time.Second).String()], "patching %d", i+1)
	}
	conflicts := map[string]string{
		"request@3m0s":   "security_check quota used up for i-1 this term: 1 of 1 (security_check 1/1, hardening 0/1, incident 0/2)",
		"request@6m0s":   "incident quota used up for i-1 this term: 2 of 2 (security_check 1/1, hardening 0/1, incident 2/2)",
		"request@9m0s":   "all 2 hosted ECS are in use: i-1, i-2",
		"complete@11m0s": "request r1 was completed",
		"complete@12m0s": "no open request r99",
	}
	for id, msg := range conflicts {
		assert.Equal(t, RejectConflict, rejectionType(h.results[id]), "%s: %v", id, h.results[id])
		assert.ErrorContains(t, h.results[id], msg, id)
	}
	assert.Equal(t, RejectConflict, rejectionType(h.results["complete@13m0s"]), "another partner")

	v := h.views["complete@10m0s"]
	st, ok := v.Details.(HostingState)
	require.True(t, ok, "details %T", v.Details)
	assert.Equal(t, StageHosted, v.Stage)
	require.Len(t, st.Requests, 9)
	assert.Equal(t, "r1", st.Requests[0].ID)
	assert.NotNil(t, st.Requests[0].CompletedAt)
	assert.Equal(t, "scanned; 2 findings fixed", st.Requests[0].Resolution)
	assert.Equal(t, []HostedInstance{
		{InstanceID: "i-1", SecurityCheck: 1, Incident: 2, Patching: 5},
		{InstanceID: "i-2", SecurityCheck: 1},
	}, st.Instances)
	assert.Equal(t, 9, countNotes(h, "服务器安全托管 request r"), "the partner hears of each accepted request")
	for _, n := range h.notes {
		if n.Message.Title == "服务器安全托管 request r1: security_check on i-1" {
			assert.Equal(t, "p1", n.PartnerID)
		}
	}
}

// TestHostingRenewal: a renewal during the first year starts a second year at its end with the quotas
// reset and no reminders in the first year; the second ends without renewal, with both reminders.
func TestHostingRenewal(t *testing.T) {
	paid := cst(2025, 3, 3, 10)
	h := newSOS(t, paid, "p1")
	h.partner(time.Minute, "p1", StepAccept, struct{}{})
	h.market(time.Hour, StepRequest, req(HostingSecurityCheck, "i-1"))
	h.partner(2*time.Hour, "p1", StepComplete, CompleteInput{RequestID: "r1", Summary: "done"})
	h.market(3*time.Hour, StepRequest, req(HostingIncident, "i-1")) // left open across the renewal
	h.market(100*24*time.Hour, StepRenew, RenewInput{OrderID: "O-2"})
	term2 := cst(2026, 3, 3, 11).Sub(paid)
	h.market(term2, StepRequest, req(HostingSecurityCheck, "i-1"))
	h.market(term2+time.Hour, StepRequest, req(HostingSecurityCheck, "i-1"))
	res := h.runHosting(HostingInput{CaseInput: hostingInput(paid, 1)})

	h.requireOK("request@1h0m0s", "complete@2h0m0s", "request@3h0m0s", "renew@2400h0m0s", "request@"+term2.String())
	assert.ErrorContains(t, h.results["request@"+(term2+time.Hour).String()], "security_check quota used up for i-1 this term: 1 of 1")
	assert.True(t, h.eventAt("term_renewed").Equal(cst(2026, 3, 3, 10)), "renewed at %v", h.eventAt("term_renewed"))
	assert.Equal(t, StageExpired, res.Stage)
	assert.Equal(t, cst(2027, 3, 3, 10), h.env.Now().In(chinaZone))
	assert.Equal(t, 2, res.State.Term)
	assert.True(t, res.State.TermStart.Equal(cst(2026, 3, 3, 10)))
	assert.Equal(t, []HostedInstance{{InstanceID: "i-1", SecurityCheck: 1}}, res.State.Instances)
	var ids []string
	for _, r := range res.State.Requests {
		ids = append(ids, r.ID)
	}
	assert.Equal(t, []string{"r2", "r3"}, ids, "the done request of year 1 left; the open one stayed")
	var reminders []time.Time
	for _, e := range h.events {
		if e.Event == "term_reminder_30d" || e.Event == "term_reminder_7d" {
			reminders = append(reminders, e.At)
		}
	}
	require.Len(t, reminders, 2, "reminders only in the year without a renewal")
	assert.True(t, reminders[0].Equal(cst(2027, 2, 1, 10)), "30-day reminder at %v", reminders[0].In(chinaZone))
	assert.True(t, reminders[1].Equal(cst(2027, 2, 24, 10)), "7-day reminder at %v", reminders[1].In(chinaZone))
}

// TestHostingExpires: without a renewal the case closes at the end of the year, after reminders 30 and
// 7 days before, with the open requests in the reason.
func TestHostingExpires(t *testing.T) {
	paid := cst(2025, 3, 3, 10)
	h := newSOS(t, paid, "p1")
	h.partner(time.Minute, "p1", StepAccept, struct{}{})
	h.market(time.Hour, StepRequest, req(HostingHardening, "i-1"))
	res := h.runHosting(HostingInput{CaseInput: hostingInput(paid, 3)})
	assert.Equal(t, StageExpired, res.Stage)
	assert.Equal(t, StatusClosed, res.State.Status)
	assert.Equal(t, cst(2026, 3, 3, 10), h.env.Now().In(chinaZone))
	assert.True(t, h.eventAt("term_reminder_30d").Equal(cst(2026, 2, 1, 10)))
	assert.True(t, h.eventAt("term_reminder_7d").Equal(cst(2026, 2, 24, 10)))
	assert.Equal(t, 2, countNotes(h, "服务器安全托管 term ends in"))
	last := h.events[len(h.events)-1]
	assert.Equal(t, "term_ended", last.Event)
	assert.Contains(t, last.Detail, "without a renewal")
	assert.Contains(t, last.Detail, "r1")
	assert.Equal(t, StageExpired, h.rows[len(h.rows)-1].Stage)
}

// TestHostingStepValidation: malformed, foreign and out-of-order steps are refused before they touch
// history.
func TestHostingStepValidation(t *testing.T) {
	paid := cst(2025, 3, 3, 10)
	h := newSOS(t, paid, "p1")
	h.partner(30*time.Second, "p1", StepComplete, CompleteInput{RequestID: "r1", Summary: "x"}) // not accepted yet
	h.market(40*time.Second, StepRequest, req(HostingPatching, "i-1"))                          // taken while assigning
	h.partner(time.Minute, "p1", StepAccept, struct{}{})
	h.market(2*time.Minute, StepRequest, HostingRequestInput{Kind: "backup", InstanceID: "i-1", Summary: "x"})
	h.market(3*time.Minute, StepRequest, HostingRequestInput{Kind: HostingIncident, Summary: "x"})
	h.market(4*time.Minute, StepRequest, HostingRequestInput{Kind: HostingIncident, InstanceID: "i 1", Summary: "x"})
	h.market(5*time.Minute, StepRequest, HostingRequestInput{Kind: HostingIncident, InstanceID: "i-1"})
	h.send(6*time.Minute, "unknown-field", StepInput{Step: StepRequest, Actor: ActorMarketplace, Payload: []byte(`{"kind":"incident","instance_id":"i-1","summary":"x","urgent":true}`)})
	h.send(7*time.Minute, "partner-request", StepInput{Step: StepRequest, Actor: ActorPartner, PartnerID: "p1", Payload: mustJSON(req(HostingIncident, "i-1"))})
	h.partner(8*time.Minute, "p1", StepComplete, CompleteInput{RequestID: "r1"})
	h.partner(9*time.Minute, "p1", StepRenew, RenewInput{})
	h.market(10*time.Minute, StepRenew, RenewInput{OrderID: "bad order"})
	h.partner(11*time.Minute, "p1", "close", struct{}{})
	h.runHostingUntil(hostingInput(paid, 1), 20*time.Minute)
	want := map[string]string{
		"complete@30s": RejectConflict, "request@40s": "", "accept@1m0s": "",
		"request@2m0s": RejectInvalid, "request@3m0s": RejectInvalid, "request@4m0s": RejectInvalid, "request@5m0s": RejectInvalid,
		"unknown-field": RejectInvalid, "partner-request": RejectConflict, "complete@8m0s": RejectInvalid,
		"renew@9m0s": RejectConflict, "renew@10m0s": RejectInvalid, "close@11m0s": RejectConflict,
	}
	for id, kind := range want {
		if kind == "" {
			assert.NoError(t, h.results[id], id)
		} else {
			assert.Equal(t, kind, rejectionType(h.results[id]), "%s: %v", id, h.results[id])
		}
	}
	assert.Equal(t, []string{"opened", "offered", "request_received", "partner_accepted"}, h.eventNames())
	assert.Contains(t, h.events[3].Detail, "requests waiting: r1")
}

// TestHostingContinueAsNew: the next run carries the term, the quotas used and the timeline sequence.
func TestHostingContinueAsNew(t *testing.T) {
	paid := cst(2025, 3, 3, 10)
	h := newSOS(t, paid, "p1")
	h.partner(time.Minute, "p1", StepAccept, struct{}{})
	h.market(2*time.Minute, StepRequest, req(HostingSecurityCheck, "i-1"))
	h.market(150*time.Second, StepRequest, req(HostingPatching, "i-1"))
	h.at(3*time.Minute, func() { h.env.SetCurrentHistoryLength(DefaultHistoryLimit) })
	h.env.RegisterWorkflow(HostingWorkflow)
	h.env.ExecuteWorkflow(HostingWorkflow, HostingInput{CaseInput: hostingInput(paid, 1)})
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(h.env.GetWorkflowError(), &can), "want continue-as-new, got %v", h.env.GetWorkflowError())
	var next HostingInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.NotNil(t, next.State)
	assert.Equal(t, StageHosted, next.State.Stage)
	assert.Equal(t, "p1", next.State.PartnerID)
	assert.Equal(t, 3, next.State.NextRequest)

	h2 := newSOS(t, h.env.Now(), "p1")
	h2.market(time.Hour, StepRequest, req(HostingSecurityCheck, "i-1"))
	h2.partner(2*time.Hour, "p1", StepComplete, CompleteInput{RequestID: "r2", Summary: "patched"})
	res := h2.runHosting(next)
	assert.ErrorContains(t, h2.results["request@1h0m0s"], "security_check quota used up for i-1")
	h2.requireOK("complete@2h0m0s")
	assert.Equal(t, 2, res.State.Runs)
	assert.Equal(t, StageExpired, res.Stage)
	assert.NotContains(t, h2.eventNames(), "opened")
	keys := map[string]bool{}
	for _, e := range append(h.events, h2.events...) {
		assert.False(t, keys[e.Key], "timeline key %s written by both runs", e.Key)
		keys[e.Key] = true
	}
}
