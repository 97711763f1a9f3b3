package hosting

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-oss/steward/sla"
	"github.com/steward-oss/steward/workflows"
	"github.com/steward-oss/steward/workflows/casetest"
)

// harness is the shared case harness with the hosting workflow registered, and hosting's run helpers.
type harness struct{ *casetest.Harness }

func newHarness(t *testing.T, start time.Time, partners ...string) harness {
	return harness{casetest.New(t, start, partners, Lifecycle.Workflows...)}
}

func caseInput(paid time.Time, ecs int) workflows.CaseInput {
	return workflows.CaseInput{CaseID: "hosting:O-1", OrderID: "O-1", CustomerID: "C-1", Service: workflows.ServiceHosting, Quantity: ecs,
		AmountCents: 1_200_000, Currency: "CNY", PaidAt: paid}
}

// run runs a hosting case to its end and returns its result.
func (h harness) run(in Input) Result {
	h.T.Helper()
	var res Result
	h.Run(WorkflowName, in, &res)
	return res
}

// runUntil runs a hosting case and stops it at start+d.
func (h harness) runUntil(in workflows.CaseInput, d time.Duration) {
	h.T.Helper()
	h.RunUntil(WorkflowName, Input{CaseInput: in}, d)
}

func (h harness) eventAt(name workflows.Event) time.Time {
	if es := h.EventsNamed(name); len(es) > 0 {
		return es[0].At
	}
	h.T.Fatalf("no %s event in %v", name, h.EventNames())
	return time.Time{}
}

func req(kind, instance string) RequestInput {
	return RequestInput{Kind: kind, InstanceID: instance, Summary: "please " + kind}
}

// TestKinds: every request kind has its quota in sla, and the quota state shows the limited ones.
func TestKinds(t *testing.T) {
	for _, k := range Kinds {
		if _, err := sla.HostingQuota(k); err != nil {
			t.Errorf("HostingQuota(%q): %v", k, err)
		}
	}
	inst := HostedInstance{InstanceID: "i-1", SecurityCheck: 1, Patching: 7, Incident: 2}
	if got, want := inst.quotaState(), "security_check 1/1, hardening 0/1, incident 2/2"; got != want {
		t.Errorf("quotaState() = %q; want %q", got, want)
	}
}

// TestHostingQuotas: one security check and one hardening per ECS per year, at most two incidents,
// patching as needed, and no more ECS than the order's quantity; refusals show the quota state.
func TestHostingQuotas(t *testing.T) {
	paid := casetest.CST(2025, 3, 3, 10)
	h := newHarness(t, paid, "p1")
	h.Partner(time.Minute, "p1", workflows.StepAccept, struct{}{})
	h.Market(2*time.Minute, workflows.StepRequest, req(sla.HostingSecurityCheck, "i-1"))
	h.Market(3*time.Minute, workflows.StepRequest, req(sla.HostingSecurityCheck, "i-1"))
	h.Market(4*time.Minute, workflows.StepRequest, req(sla.HostingIncident, "i-1"))
	h.Market(5*time.Minute, workflows.StepRequest, req(sla.HostingIncident, "i-1"))
	h.Market(6*time.Minute, workflows.StepRequest, req(sla.HostingIncident, "i-1"))
	for i := range 5 {
		h.Market(7*time.Minute+time.Duration(i)*time.Second, workflows.StepRequest, req(sla.HostingPatching, "i-1"))
	}
	h.Market(8*time.Minute, workflows.StepRequest, req(sla.HostingSecurityCheck, "i-2")) // the second ECS has its own quota
	h.Market(9*time.Minute, workflows.StepRequest, req(sla.HostingHardening, "i-3"))     // a third ECS on an order for two
	h.Partner(10*time.Minute, "p1", StepComplete, CompleteInput{RequestID: "r1", Summary: "scanned; 2 findings fixed"})
	h.Partner(11*time.Minute, "p1", StepComplete, CompleteInput{RequestID: "r1", Summary: "again"})
	h.Partner(12*time.Minute, "p1", StepComplete, CompleteInput{RequestID: "r99", Summary: "x"})
	h.Partner(13*time.Minute, "p2", StepComplete, CompleteInput{RequestID: "r2", Summary: "x"})
	h.runUntil(caseInput(paid, 2), 20*time.Minute)

	for _, id := range []string{"accept@1m0s", "request@2m0s", "request@4m0s", "request@5m0s", "request@8m0s", "complete@10m0s"} {
		assert.NoError(t, h.Results[id], id)
	}
	for i := range 5 {
		assert.NoError(t, h.Results["request@"+(7*time.Minute+time.Duration(i)*time.Second).String()], "patching %d", i+1)
	}
	conflicts := map[string]string{
		"request@3m0s":   "security_check quota used up for i-1 this term: 1 of 1 (security_check 1/1, hardening 0/1, incident 0/2)",
		"request@6m0s":   "incident quota used up for i-1 this term: 2 of 2 (security_check 1/1, hardening 0/1, incident 2/2)",
		"request@9m0s":   "all 2 hosted ECS are in use: i-1, i-2",
		"complete@11m0s": "request r1 was completed",
		"complete@12m0s": "no open request r99",
	}
	for id, msg := range conflicts {
		want := workflows.RejectConflict
		if strings.Contains(msg, "quota used up") {
			want = workflows.RejectQuota // a conflict the API also announces as request.quota_refused
		}
		assert.Equal(t, want, casetest.RejectionType(h.Results[id]), "%s: %v", id, h.Results[id])
		assert.ErrorContains(t, h.Results[id], msg, id)
	}
	var refused *temporal.ApplicationError
	require.ErrorAs(t, h.Results["request@3m0s"], &refused)
	var q workflows.QuotaRefusal
	require.NoError(t, refused.Details(&q))
	assert.Equal(t, workflows.QuotaRefusal{Kind: sla.HostingSecurityCheck, InstanceID: "i-1", Used: 1, Quota: 1,
		QuotaState: "security_check 1/1, hardening 0/1, incident 0/2", TermEnd: q.TermEnd}, q)
	assert.NotEmpty(t, q.TermEnd)
	assert.Equal(t, workflows.RejectConflict, casetest.RejectionType(h.Results["complete@13m0s"]), "another partner")

	v := h.Views["complete@10m0s"]
	d, ok := v.Details.(Details)
	require.True(t, ok, "details %T", v.Details)
	assert.Equal(t, StageHosted, v.Stage)
	require.Len(t, d.Requests, 9)
	assert.Equal(t, "r1", d.Requests[0].ID)
	assert.NotNil(t, d.Requests[0].CompletedAt)
	assert.Equal(t, "scanned; 2 findings fixed", d.Requests[0].Resolution)
	assert.Equal(t, []HostedInstance{
		{InstanceID: "i-1", SecurityCheck: 1, Incident: 2, Patching: 5},
		{InstanceID: "i-2", SecurityCheck: 1},
	}, d.Instances)
	term := v.SLA[len(v.SLA)-1]
	assert.Equal(t, sla.ClauseTerm, term.Clause)
	assert.True(t, term.DueAt.Equal(casetest.CST(2026, 3, 3, 10)), "term due %v", term.DueAt)
	assert.Equal(t, 9, h.CountNotes("服务器安全托管 request r"), "the partner hears of each accepted request")
	for _, n := range h.Notes() {
		if n.Message.Title == "服务器安全托管 request r1: security_check on i-1" {
			assert.Equal(t, "p1", n.PartnerID)
		}
	}
}

// TestHostingRenewal: a renewal during the first year starts a second year at its end with the quotas
// reset and no reminders in the first year; the second ends without renewal, with both reminders.
func TestHostingRenewal(t *testing.T) {
	paid := casetest.CST(2025, 3, 3, 10)
	h := newHarness(t, paid, "p1")
	h.Partner(time.Minute, "p1", workflows.StepAccept, struct{}{})
	h.Market(time.Hour, workflows.StepRequest, req(sla.HostingSecurityCheck, "i-1"))
	h.Partner(2*time.Hour, "p1", StepComplete, CompleteInput{RequestID: "r1", Summary: "done"})
	h.Market(3*time.Hour, workflows.StepRequest, req(sla.HostingIncident, "i-1")) // left open across the renewal
	h.Market(100*24*time.Hour, StepRenew, RenewInput{OrderID: "O-2"})
	term2 := casetest.CST(2026, 3, 3, 11).Sub(paid)
	h.Market(term2, workflows.StepRequest, req(sla.HostingSecurityCheck, "i-1"))
	h.Market(term2+time.Hour, workflows.StepRequest, req(sla.HostingSecurityCheck, "i-1"))
	res := h.run(Input{CaseInput: caseInput(paid, 1)})

	h.RequireOK("request@1h0m0s", "complete@2h0m0s", "request@3h0m0s", "renew@2400h0m0s", "request@"+term2.String())
	assert.ErrorContains(t, h.Results["request@"+(term2+time.Hour).String()], "security_check quota used up for i-1 this term: 1 of 1")
	assert.Contains(t, h.EventsNamed(workflows.EventRenewed)[0].Detail, "runs until 2027-03-03 (order O-2)")
	assert.True(t, h.eventAt(workflows.EventTermRenewed).Equal(casetest.CST(2026, 3, 3, 10)), "renewed at %v", h.eventAt(workflows.EventTermRenewed))
	assert.Equal(t, workflows.StageExpired, res.Stage)
	assert.Equal(t, casetest.CST(2027, 3, 3, 10), h.Env.Now().In(sla.China))
	assert.Equal(t, 2, res.State.Term)
	assert.True(t, res.State.TermStart.Equal(casetest.CST(2026, 3, 3, 10)))
	assert.Equal(t, []HostedInstance{{InstanceID: "i-1", SecurityCheck: 1}}, res.State.Instances)
	var ids []string
	for _, r := range res.State.Requests {
		ids = append(ids, r.ID)
	}
	assert.Equal(t, []string{"r2", "r3"}, ids, "the done request of year 1 left; the open one stayed")
	reminders := h.EventsNamed(workflows.EventTermReminder)
	require.Len(t, reminders, 2, "reminders only in the year without a renewal")
	assert.True(t, reminders[0].At.Equal(casetest.CST(2027, 2, 1, 10)), "30-day reminder at %v", reminders[0].At.In(sla.China))
	assert.Contains(t, reminders[0].Detail, "30 days left in year 2")
	assert.True(t, reminders[1].At.Equal(casetest.CST(2027, 2, 24, 10)), "7-day reminder at %v", reminders[1].At.In(sla.China))
	assert.Contains(t, reminders[1].Detail, "7 days left in year 2")
}

// TestHostingExpires: without a renewal the case closes at the end of the year, after reminders 30 and
// 7 days before, with the open requests in the reason.
func TestHostingExpires(t *testing.T) {
	paid := casetest.CST(2025, 3, 3, 10)
	h := newHarness(t, paid, "p1")
	h.Partner(time.Minute, "p1", workflows.StepAccept, struct{}{})
	h.Market(time.Hour, workflows.StepRequest, req(sla.HostingHardening, "i-1"))
	res := h.run(Input{CaseInput: caseInput(paid, 3)})
	assert.Equal(t, workflows.StageExpired, res.Stage)
	assert.Equal(t, workflows.StatusClosed, res.State.Core.Status)
	assert.Equal(t, casetest.CST(2026, 3, 3, 10), h.Env.Now().In(sla.China))
	reminders := h.EventsNamed(workflows.EventTermReminder)
	require.Len(t, reminders, 2)
	assert.True(t, reminders[0].At.Equal(casetest.CST(2026, 2, 1, 10)))
	assert.Contains(t, reminders[0].Detail, "30 days left")
	assert.True(t, reminders[1].At.Equal(casetest.CST(2026, 2, 24, 10)))
	assert.Contains(t, reminders[1].Detail, "7 days left")
	assert.Equal(t, 2, h.CountNotes("服务器安全托管 term ends in"))
	events := h.Events()
	last := events[len(events)-1]
	assert.Equal(t, string(workflows.EventTermEnded), last.Event)
	assert.Contains(t, last.Detail, "without a renewal")
	assert.Contains(t, last.Detail, "r1")
	assert.Equal(t, workflows.StageExpired, h.LastRow().Stage)
}

// TestHostingStepValidation: malformed, foreign and out-of-order steps are refused before they touch
// history.
func TestHostingStepValidation(t *testing.T) {
	paid := casetest.CST(2025, 3, 3, 10)
	h := newHarness(t, paid, "p1")
	h.Partner(30*time.Second, "p1", StepComplete, CompleteInput{RequestID: "r1", Summary: "x"}) // not accepted yet
	h.Market(40*time.Second, workflows.StepRequest, req(sla.HostingPatching, "i-1"))            // taken while assigning
	h.Partner(time.Minute, "p1", workflows.StepAccept, struct{}{})
	h.Market(2*time.Minute, workflows.StepRequest, RequestInput{Kind: "backup", InstanceID: "i-1", Summary: "x"})
	h.Market(3*time.Minute, workflows.StepRequest, RequestInput{Kind: sla.HostingIncident, Summary: "x"})
	h.Market(4*time.Minute, workflows.StepRequest, RequestInput{Kind: sla.HostingIncident, InstanceID: "i 1", Summary: "x"})
	h.Market(5*time.Minute, workflows.StepRequest, RequestInput{Kind: sla.HostingIncident, InstanceID: "i-1"})
	h.Send(6*time.Minute, "unknown-field", workflows.StepInput{Step: workflows.StepRequest, Actor: workflows.ActorMarketplace,
		Payload: []byte(`{"kind":"incident","instance_id":"i-1","summary":"x","urgent":true}`)})
	h.Send(7*time.Minute, "partner-request", workflows.StepInput{Step: workflows.StepRequest, Actor: workflows.ActorPartner, PartnerID: "p1",
		Payload: casetest.MustJSON(req(sla.HostingIncident, "i-1"))})
	h.Partner(8*time.Minute, "p1", StepComplete, CompleteInput{RequestID: "r1"})
	h.Partner(9*time.Minute, "p1", StepRenew, RenewInput{})
	h.Market(10*time.Minute, StepRenew, RenewInput{OrderID: "bad order"})
	h.Partner(11*time.Minute, "p1", workflows.StepClose, struct{}{})
	h.runUntil(caseInput(paid, 1), 20*time.Minute)
	want := map[string]string{
		"complete@30s": workflows.RejectConflict, "request@40s": "", "accept@1m0s": "",
		"request@2m0s": workflows.RejectInvalid, "request@3m0s": workflows.RejectInvalid, "request@4m0s": workflows.RejectInvalid,
		"request@5m0s": workflows.RejectInvalid, "unknown-field": workflows.RejectInvalid, "partner-request": workflows.RejectConflict,
		"complete@8m0s": workflows.RejectInvalid, "renew@9m0s": workflows.RejectConflict, "renew@10m0s": workflows.RejectInvalid,
		"close@11m0s": casetest.UnknownStep,
	}
	for id, kind := range want {
		if kind == "" {
			assert.NoError(t, h.Results[id], id)
		} else {
			assert.Equal(t, kind, casetest.RejectionType(h.Results[id]), "%s: %v", id, h.Results[id])
		}
	}
	assert.Equal(t, []workflows.Event{workflows.EventCaseOpened, workflows.EventPartnerOffered, workflows.EventRequestReceived, workflows.EventPartnerAccepted},
		h.EventNames())
	assert.Contains(t, h.Events()[3].Detail, "requests waiting: r1")
}

// TestHostingContinueAsNew: the next run carries the term, the quotas used and the timeline sequence.
func TestHostingContinueAsNew(t *testing.T) {
	paid := casetest.CST(2025, 3, 3, 10)
	h := newHarness(t, paid, "p1")
	h.Partner(time.Minute, "p1", workflows.StepAccept, struct{}{})
	h.Market(2*time.Minute, workflows.StepRequest, req(sla.HostingSecurityCheck, "i-1"))
	h.Market(150*time.Second, workflows.StepRequest, req(sla.HostingPatching, "i-1"))
	h.At(3*time.Minute, func() { h.Env.SetCurrentHistoryLength(workflows.DefaultHistoryLimit) })
	h.Execute(WorkflowName, Input{CaseInput: caseInput(paid, 1)})
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(h.Env.GetWorkflowError(), &can), "want continue-as-new, got %v", h.Env.GetWorkflowError())
	assert.Equal(t, WorkflowName, can.WorkflowType.Name)
	var next Input
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.NotNil(t, next.State)
	assert.Equal(t, StageHosted, next.State.Core.Stage)
	assert.Equal(t, "p1", next.State.Core.PartnerID)
	assert.Equal(t, 3, next.State.NextRequest)

	h2 := newHarness(t, h.Env.Now(), "p1")
	h2.Market(time.Hour, workflows.StepRequest, req(sla.HostingSecurityCheck, "i-1"))
	h2.Partner(2*time.Hour, "p1", StepComplete, CompleteInput{RequestID: "r2", Summary: "patched"})
	h2.At(3*time.Hour, func() {
		var v struct {
			Details map[string]any `json:"details"`
		}
		res, err := h2.Env.QueryWorkflow(workflows.QueryCaseView)
		if !assert.NoError(t, err) || !assert.NoError(t, res.Get(&v)) {
			return
		}
		assert.EqualValues(t, 2, v.Details["runs"], "details %v", v.Details)
		assert.EqualValues(t, 0, v.Details["renewals"])
		assert.EqualValues(t, 1, v.Details["term"])
		assert.Len(t, v.Details["requests"], 2)
		assert.Len(t, v.Details["instances"], 1)
	})
	res := h2.run(next)
	assert.ErrorContains(t, h2.Results["request@1h0m0s"], "security_check quota used up for i-1")
	h2.RequireOK("complete@2h0m0s")
	assert.Equal(t, 2, res.State.Core.Runs)
	assert.Equal(t, workflows.StageExpired, res.Stage)
	assert.NotContains(t, h2.EventNames(), workflows.EventCaseOpened)
	keys := map[string]bool{}
	for _, e := range append(h.Events(), h2.Events()...) {
		assert.False(t, keys[e.Key], "timeline key %s written by both runs", e.Key)
		keys[e.Key] = true
	}
}
