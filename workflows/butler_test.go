package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-oss/steward/activities"
)

const butlerCaseID = "butler:O-1"

// butlerHarness runs ButlerWorkflow and its request children on the SOS harness's recording mocks, with
// a SendEmail mock besides.
type butlerHarness struct {
	*sosHarness
	emails   []activities.EmailInput
	reqViews map[string]ButlerRequestView
}

func newButler(t *testing.T, start time.Time, partners ...string) *butlerHarness {
	h := &butlerHarness{sosHarness: newSOS(t, start, partners...), reqViews: map[string]ButlerRequestView{}}
	h.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: butlerCaseID})
	h.env.RegisterWorkflow(ButlerWorkflow)
	h.env.RegisterWorkflow(ButlerRequestWorkflow)
	var a *activities.Activities
	h.env.RegisterActivity(a.SendEmail)
	h.env.OnActivity(a.SendEmail, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.EmailInput) error {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.emails = append(h.emails, in)
		return nil
	})
	return h
}

func butlerInput(edition string, paid time.Time) CaseInput {
	return CaseInput{CaseID: butlerCaseID, OrderID: "O-1", CustomerID: "C-1", Service: ServiceButler, Spec: edition, Quantity: 1,
		AmountCents: 2_000_000, Currency: "CNY", PaidAt: paid}
}

func (h *butlerHarness) runButler(in ButlerInput) ButlerResult {
	h.t.Helper()
	h.env.ExecuteWorkflow(ButlerWorkflow, in)
	require.True(h.t, h.env.IsWorkflowCompleted())
	require.NoError(h.t, h.env.GetWorkflowError())
	var res ButlerResult
	require.NoError(h.t, h.env.GetWorkflowResult(&res))
	return res
}

// req sends a step to request rid at start+d; its outcome lands in h.results[rid+":"+step+"@"+d].
func (h *butlerHarness) req(d time.Duration, rid, step string, in StepInput) string {
	id := rid + ":" + step + "@" + d.String()
	in.Step = step
	h.results[id] = errors.New("not sent")
	h.at(d, func() {
		in.At = h.env.Now()
		err := h.env.UpdateWorkflowByID(RequestWorkflowID(butlerCaseID, rid), UpdateStep, id, &testsuite.TestUpdateCallback{
			OnAccept: func() {},
			OnReject: func(err error) { h.results[id] = err },
			OnComplete: func(v any, err error) {
				h.results[id] = err
				if rv, ok := v.(ButlerRequestView); ok {
					h.reqViews[id] = rv
				}
			},
		}, in)
		if err != nil {
			h.results[id] = err
		}
	})
	return id
}

func (h *butlerHarness) rpartner(d time.Duration, rid, step string, payload any) string {
	return h.req(d, rid, step, StepInput{Actor: ActorPartner, PartnerID: "p1", ActorName: "eng", Payload: mustJSON(payload)})
}

// onboard accepts, contacts and agrees the plan within the first hour.
func (h *butlerHarness) onboard() {
	h.partner(time.Minute, "p1", StepAccept, struct{}{})
	h.partner(30*time.Minute, "p1", StepContact, ButlerContactInput{Note: "WeChat group opened"})
	h.partner(50*time.Minute, "p1", StepPlan, ButlerPlanInput{Summary: "key business: the shop", Items: []string{"WAF policy", "host baseline"}})
}

func (h *butlerHarness) ask(d time.Duration, r ButlerRequestStepInput) string {
	h.market(d, StepRequest, r)
	return StepRequest + "@" + d.String()
}

// requestEvents are the timeline entries a request reported, by event name.
func (h *butlerHarness) requestEvents(rid string) []activities.Event {
	var out []activities.Event
	for _, e := range h.events {
		if strings.HasPrefix(e.Key, RequestWorkflowID(butlerCaseID, rid)+"/") {
			out = append(out, e)
		}
	}
	return out
}

func (h *butlerHarness) requestBreachAt(rid, clause string) (time.Time, bool) {
	for _, e := range h.events {
		if e.Key == RequestWorkflowID(butlerCaseID, rid)+"/breach/"+clause {
			return e.At, true
		}
	}
	return time.Time{}, false
}

func findRequest(t *testing.T, st ButlerState, id string) ButlerRequest {
	for _, r := range st.Requests {
		if r.ID == id {
			return r
		}
	}
	t.Fatalf("no request %s in %+v", id, st.Requests)
	return ButlerRequest{}
}

func TestButlerTermEnd(t *testing.T) {
	for _, tt := range []struct {
		edition    string
		paid, want time.Time
	}{
		{ButlerEscort, cst(2026, 3, 2, 10), cst(2027, 3, 2, 10)},
		{ButlerEmergency, cst(2026, 3, 2, 10), cst(2026, 3, 17, 10)},
		{ButlerEnterprise, time.Date(2025, 12, 31, 20, 0, 0, 0, time.UTC), cst(2027, 1, 1, 4)},
	} {
		if got := ButlerTermEnd(tt.edition, tt.paid); !got.Equal(tt.want) {
			t.Errorf("ButlerTermEnd(%s, %v) = %v; want %v", tt.edition, tt.paid, got.In(chinaZone), tt.want)
		}
	}
}

func TestButlerRejectsUnknownEdition(t *testing.T) {
	h := newButler(t, cst(2026, 3, 2, 10), "p1")
	h.env.ExecuteWorkflow(ButlerWorkflow, ButlerInput{CaseInput: butlerInput("gold", cst(2026, 3, 2, 10))})
	assert.Equal(t, RejectInvalid, rejectionType(h.env.GetWorkflowError()))
}

// TestButlerOnboardingContact: the 5x8 contact clock runs 1 working day from payment, across a weekend:
// paid Friday 16:00 → due Monday 16:00. A late contact is recorded and alerted, with no refund.
func TestButlerOnboardingContact(t *testing.T) {
	paid := cst(2026, 3, 6, 16) // a Friday
	due := cst(2026, 3, 9, 16)
	tests := []struct {
		name      string
		contactAt time.Time
		breached  bool
	}{
		{"met on Monday", cst(2026, 3, 9, 15), false},
		{"breached on Monday", cst(2026, 3, 9, 17), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newButler(t, paid, "p1")
			h.partner(time.Minute, "p1", StepAccept, struct{}{})
			h.partner(tt.contactAt.Sub(paid), "p1", StepContact, ButlerContactInput{Note: "called"})
			h.partner(tt.contactAt.Sub(paid)+time.Hour, "p1", StepPlan, ButlerPlanInput{Summary: "plan", Items: []string{"a"}})
			res := h.runButler(ButlerInput{CaseInput: butlerInput(ButlerEscort, paid)})
			for id, err := range h.results {
				require.NoError(t, err, id)
			}
			c := res.State.Clocks.Clocks[0]
			assert.Equal(t, ClauseOnboardingContact, c.Clause)
			assert.True(t, c.DueAt().Equal(due), "due %v", c.DueAt().In(chinaZone))
			assert.Equal(t, tt.breached, c.BreachedAt != nil)
			if tt.breached {
				assert.True(t, h.breachAtKey(butlerCaseID+"/breach/"+ClauseOnboardingContact).Equal(due))
				assert.Equal(t, 1, countNotes(h.sosHarness, "安全管家 onboarding_contact clause breached"))
			} else {
				assert.NotContains(t, h.eventNames(), "sla_breached")
			}
			assert.Empty(t, h.refunds)
			assert.Equal(t, Refund{}, res.State.Refund)
			assert.Equal(t, StageClosed, res.Stage)
			assert.True(t, h.env.Now().Equal(cst(2027, 3, 6, 16)), "closed at %v", h.env.Now().In(chinaZone))
		})
	}
}

func (h *butlerHarness) breachAtKey(key string) time.Time {
	for _, e := range h.events {
		if e.Key == key {
			return e.At
		}
	}
	h.t.Fatalf("no event %s in %v", key, h.eventNames())
	return time.Time{}
}

// TestButlerIncident: urgent incidents respond in 15 minutes, met or breached; the whole incident flow
// renders the 《应急报告》 and closes the request; the case's details follow it.
func TestButlerIncident(t *testing.T) {
	paid := cst(2026, 3, 2, 10)
	t.Run("met, full flow", func(t *testing.T) {
		h := newButler(t, paid, "p1")
		h.onboard()
		h.ask(2*time.Hour, ButlerRequestStepInput{Kind: RequestIncident, Summary: "webshell on www", Urgency: UrgencyUrgent})
		base := 2 * time.Hour
		steps := []struct {
			step    string
			payload any
		}{
			{StepRespond, RespondInput{Note: "on it"}},
			{StepClassify, ClassifyInput{IncidentClass: ClassMalware, Summary: "upload vulnerability in the CMS"}},
			{StepContain, ContainInput{Actions: []string{"took the upload dir offline"}}},
			{StepEliminate, ActionsInput{Actions: []string{"removed the webshell"}}},
			{StepRestore, SummaryInput{Summary: "site back"}},
			{StepHarden, HardenInput{Recommendations: []string{"patch the CMS"}}},
			{StepReassess, SummaryInput{Summary: "clean"}},
			{StepReport, SummaryInput{Summary: "webshell removed"}},
			{StepFollowUp, FollowUpInput{Note: "no recurrence"}},
		}
		var ids []string
		for i, s := range steps {
			ids = append(ids, h.rpartner(base+10*time.Minute+time.Duration(i)*time.Hour, "inc-1", s.step, s.payload))
		}
		early := h.rpartner(base+5*time.Minute, "inc-1", StepRestore, SummaryInput{Summary: "x"}) // out of order
		res := h.runButler(ButlerInput{CaseInput: butlerInput(ButlerEnterprise, paid)})
		for _, id := range ids {
			require.NoError(t, h.results[id], id)
		}
		assert.Equal(t, RejectConflict, rejectionType(h.results[early]))
		r := findRequest(t, res.State, "inc-1")
		assert.Equal(t, StatusClosed, r.Status)
		assert.Equal(t, "resolved", r.Outcome)
		assert.Equal(t, "upload vulnerability in the CMS", r.Cause)
		assert.False(t, r.Breached)
		require.Len(t, r.SLA, 1)
		assert.Equal(t, ClauseIncidentUrgent, r.SLA[0].Clause)
		assert.True(t, r.SLA[0].DueAt.Equal(paid.Add(base+15*time.Minute)))
		require.Len(t, h.docs, 1)
		assert.Equal(t, "incident_report", h.docs[0].Kind)
		assert.Equal(t, "应急报告", h.docs[0].Title)
		assert.Equal(t, butlerCaseID, h.docs[0].CaseID)
		var names []string
		for _, e := range h.requestEvents("inc-1") {
			names = append(names, e.Event)
		}
		// Responding after 10 of 15 minutes passed the 50% warning.
		assert.Equal(t, []string{"request_opened", "sla_at_risk", "responded", "classified", "contained", "eliminated", "restored",
			"hardening_advised", "reassessed", "report_submitted", "followed_up"}, names)
		// Every row written is the parent's: the request writes no projection of its own.
		for _, row := range h.rows {
			require.Equal(t, butlerCaseID, row.CaseID)
		}
	})
	t.Run("breached", func(t *testing.T) {
		h := newButler(t, paid, "p1")
		h.onboard()
		h.ask(2*time.Hour, ButlerRequestStepInput{Kind: RequestIncident, Summary: "DDoS", Urgency: UrgencyUrgent})
		late := h.rpartner(2*time.Hour+20*time.Minute, "inc-1", StepRespond, RespondInput{})
		res := h.runButler(ButlerInput{CaseInput: butlerInput(ButlerEscort, paid)})
		require.NoError(t, h.results[late])
		at, ok := h.requestBreachAt("inc-1", ClauseIncidentUrgent)
		require.True(t, ok, "no breach in %v", h.eventNames())
		assert.True(t, at.Equal(paid.Add(2*time.Hour+15*time.Minute)), "breach at %v", at.In(chinaZone))
		assert.True(t, findRequest(t, res.State, "inc-1").Breached)
		assert.Equal(t, 1, countNotes(h.sosHarness, "Butler inc-1 incident_urgent clause breached"))
		assert.Empty(t, h.refunds)
		assert.Equal(t, []string{"sla_at_risk", "sla_at_risk"}, eventsNamed(h.requestEvents("inc-1"), "sla_at_risk"))
	})
}

func eventsNamed(events []activities.Event, name string) []string {
	var out []string
	for _, e := range events {
		if e.Event == name {
			out = append(out, e.Event)
		}
	}
	return out
}

// TestButlerUrgencyRetarget: raising and lowering an incident's urgency re-targets its response clock
// with the elapsed time carried.
func TestButlerUrgencyRetarget(t *testing.T) {
	paid := cst(2026, 3, 2, 10)
	base := 2 * time.Hour
	t.Run("normal to urgent after 20 minutes: breached at once", func(t *testing.T) {
		h := newButler(t, paid, "p1")
		h.onboard()
		h.ask(base, ButlerRequestStepInput{Kind: RequestIncident, Summary: "brute force", Urgency: UrgencyNormal})
		up := h.req(base+20*time.Minute, "inc-1", StepUrgency, StepInput{Actor: ActorMarketplace, Payload: mustJSON(UrgencyInput{Urgency: UrgencyUrgent})})
		same := h.req(base+21*time.Minute, "inc-1", StepUrgency, StepInput{Actor: ActorMarketplace, Payload: mustJSON(UrgencyInput{Urgency: UrgencyUrgent})})
		h.rpartner(base+25*time.Minute, "inc-1", StepRespond, RespondInput{})
		res := h.runButler(ButlerInput{CaseInput: butlerInput(ButlerEscort, paid)})
		require.NoError(t, h.results[up])
		assert.Equal(t, RejectConflict, rejectionType(h.results[same]))
		at, ok := h.requestBreachAt("inc-1", ClauseIncidentUrgent)
		require.True(t, ok)
		assert.True(t, at.Equal(paid.Add(base+20*time.Minute)), "breach at %v", at.In(chinaZone))
		r := findRequest(t, res.State, "inc-1")
		assert.Equal(t, UrgencyUrgent, r.Urgency)
		assert.True(t, r.Breached)
		assert.Equal(t, ClauseIncidentUrgent, r.SLA[0].Clause)
	})
	t.Run("normal to urgent after 5 minutes: 10 minutes left", func(t *testing.T) {
		h := newButler(t, paid, "p1")
		h.onboard()
		h.ask(base, ButlerRequestStepInput{Kind: RequestIncident, Summary: "brute force", Urgency: UrgencyNormal})
		h.req(base+5*time.Minute, "inc-1", StepUrgency, StepInput{Actor: ActorMarketplace, Payload: mustJSON(UrgencyInput{Urgency: UrgencyUrgent})})
		h.runButler(ButlerInput{CaseInput: butlerInput(ButlerEscort, paid)})
		at, ok := h.requestBreachAt("inc-1", ClauseIncidentUrgent)
		require.True(t, ok)
		assert.True(t, at.Equal(paid.Add(base+15*time.Minute)), "breach at %v", at.In(chinaZone))
	})
	t.Run("urgent to normal extends", func(t *testing.T) {
		h := newButler(t, paid, "p1")
		h.onboard()
		h.ask(base, ButlerRequestStepInput{Kind: RequestIncident, Summary: "odd logins", Urgency: UrgencyUrgent})
		down := h.req(base+10*time.Minute, "inc-1", StepUrgency, StepInput{Actor: ActorMarketplace, Payload: mustJSON(UrgencyInput{Urgency: UrgencyNormal})})
		resp := h.rpartner(base+40*time.Minute, "inc-1", StepRespond, RespondInput{})
		res := h.runButler(ButlerInput{CaseInput: butlerInput(ButlerEscort, paid)})
		require.NoError(t, h.results[down])
		require.NoError(t, h.results[resp])
		_, breached := h.requestBreachAt("inc-1", ClauseIncidentNormal)
		assert.False(t, breached)
		r := findRequest(t, res.State, "inc-1")
		assert.False(t, r.Breached)
		assert.Equal(t, ClauseIncidentNormal, r.SLA[0].Clause)
		assert.True(t, r.SLA[0].DueAt.Equal(paid.Add(base+time.Hour)), "due %v", r.SLA[0].DueAt.In(chinaZone))
	})
}

// TestButlerVulnerability: high 15 min, medium 1 h, low 4 h response, met and breached; the full VLM
// flow with a failed retest; a severity change on verify judges the response against the new target.
func TestButlerVulnerability(t *testing.T) {
	paid := cst(2026, 3, 2, 10)
	base := 2 * time.Hour
	tests := []struct {
		severity string
		target   time.Duration
	}{
		{SeverityHigh, 15 * time.Minute},
		{SeverityMedium, time.Hour},
		{SeverityLow, 4 * time.Hour},
	}
	for _, tt := range tests {
		for _, met := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s met=%t", tt.severity, met), func(t *testing.T) {
				h := newButler(t, paid, "p1")
				h.onboard()
				h.ask(base, ButlerRequestStepInput{Kind: RequestVulnerability, Summary: "Tomcat manager exposed", Severity: tt.severity})
				respondAt := base + tt.target*9/10
				if !met {
					respondAt = base + tt.target + time.Minute
				}
				h.rpartner(respondAt, "vul-1", StepRespond, RespondInput{})
				res := h.runButler(ButlerInput{CaseInput: butlerInput(ButlerEnterprise, paid)})
				r := findRequest(t, res.State, "vul-1")
				assert.Equal(t, "vuln_"+tt.severity, r.SLA[0].Clause)
				assert.Equal(t, !met, r.Breached)
				at, ok := h.requestBreachAt("vul-1", "vuln_"+tt.severity)
				assert.Equal(t, !met, ok)
				if !met {
					assert.True(t, at.Equal(paid.Add(base+tt.target)), "breach at %v", at.In(chinaZone))
				}
			})
		}
	}
	t.Run("full flow, retest fails once", func(t *testing.T) {
		h := newButler(t, paid, "p1")
		h.onboard()
		h.ask(base, ButlerRequestStepInput{Kind: RequestVulnerability, Summary: "weak SSH passwords", Severity: SeverityMedium})
		var ids []string
		for i, s := range []struct {
			step    string
			payload any
		}{
			{StepRespond, RespondInput{}},
			{StepIdentify, SummaryInput{Summary: "root with password 123456"}},
			{StepImpact, ImpactInput{Scope: "2 hosts"}},
			{StepVerify, VerifyInput{Exists: yes(), Severity: SeverityMedium}},
			{StepFixPlan, FixPlanInput{Steps: []string{"keys only"}}},
			{StepRetest, RetestInput{Fixed: no(), Note: "one host missed"}},
			{StepFixPlan, FixPlanInput{Steps: []string{"second host"}}},
			{StepRetest, RetestInput{Fixed: yes()}},
		} {
			ids = append(ids, h.rpartner(base+time.Duration(i+1)*10*time.Minute, "vul-1", s.step, s.payload))
		}
		res := h.runButler(ButlerInput{CaseInput: butlerInput(ButlerEnterprise, paid)})
		for _, id := range ids {
			require.NoError(t, h.results[id], id)
		}
		r := findRequest(t, res.State, "vul-1")
		assert.Equal(t, "fixed", r.Outcome)
		assert.Equal(t, RequestDone, r.Stage)
		assert.Contains(t, eventsNamed(h.requestEvents("vul-1"), "retest_failed"), "retest_failed")
	})
	t.Run("not present", func(t *testing.T) {
		h := newButler(t, paid, "p1")
		h.onboard()
		h.ask(base, ButlerRequestStepInput{Kind: RequestVulnerability, Summary: "scanner says XSS", Severity: SeverityLow})
		h.rpartner(base+10*time.Minute, "vul-1", StepRespond, RespondInput{})
		h.rpartner(base+20*time.Minute, "vul-1", StepIdentify, SummaryInput{Summary: "reflected XSS"})
		h.rpartner(base+30*time.Minute, "vul-1", StepImpact, ImpactInput{Scope: "search page"})
		h.rpartner(base+40*time.Minute, "vul-1", StepVerify, VerifyInput{Exists: no()})
		res := h.runButler(ButlerInput{CaseInput: butlerInput(ButlerEnterprise, paid)})
		assert.Equal(t, "not_present", findRequest(t, res.State, "vul-1").Outcome)
	})
	t.Run("verified high after a 30-minute response to a low", func(t *testing.T) {
		h := newButler(t, paid, "p1")
		h.onboard()
		h.ask(base, ButlerRequestStepInput{Kind: RequestVulnerability, Summary: "Redis without password", Severity: SeverityLow})
		h.rpartner(base+30*time.Minute, "vul-1", StepRespond, RespondInput{})
		h.rpartner(base+40*time.Minute, "vul-1", StepIdentify, SummaryInput{Summary: "unauthenticated Redis"})
		h.rpartner(base+50*time.Minute, "vul-1", StepImpact, ImpactInput{Scope: "cache host", ZeroDay: false})
		verify := h.rpartner(base+60*time.Minute, "vul-1", StepVerify, VerifyInput{Exists: yes(), Severity: SeverityHigh})
		res := h.runButler(ButlerInput{CaseInput: butlerInput(ButlerEnterprise, paid)})
		require.NoError(t, h.results[verify])
		r := findRequest(t, res.State, "vul-1")
		assert.Equal(t, SeverityHigh, r.Severity)
		assert.Equal(t, ClauseVulnHigh, r.SLA[0].Clause)
		assert.True(t, r.Breached)
		at, ok := h.requestBreachAt("vul-1", ClauseVulnHigh)
		require.True(t, ok)
		assert.True(t, at.Equal(paid.Add(base+60*time.Minute)))
	})
	t.Run("verified low after a 30-minute response to a high: the breach stays", func(t *testing.T) {
		h := newButler(t, paid, "p1")
		h.onboard()
		h.ask(base, ButlerRequestStepInput{Kind: RequestVulnerability, Summary: "Struts RCE?", Severity: SeverityHigh})
		h.rpartner(base+30*time.Minute, "vul-1", StepRespond, RespondInput{})
		h.rpartner(base+40*time.Minute, "vul-1", StepIdentify, SummaryInput{Summary: "old Struts"})
		h.rpartner(base+50*time.Minute, "vul-1", StepImpact, ImpactInput{Scope: "none exposed"})
		h.rpartner(base+60*time.Minute, "vul-1", StepVerify, VerifyInput{Exists: yes(), Severity: SeverityLow})
		res := h.runButler(ButlerInput{CaseInput: butlerInput(ButlerEnterprise, paid)})
		r := findRequest(t, res.State, "vul-1")
		assert.Equal(t, ClauseVulnLow, r.SLA[0].Clause)
		assert.True(t, r.Breached)
	})
}

// TestButlerConsulting: architecture consulting responds within 1 hour.
func TestButlerConsulting(t *testing.T) {
	paid := cst(2026, 3, 2, 10)
	h := newButler(t, paid, "p1")
	h.onboard()
	h.ask(2*time.Hour, ButlerRequestStepInput{Kind: RequestConsulting, Summary: "how to segment the DB network"})
	h.ask(3*time.Hour, ButlerRequestStepInput{Kind: RequestConsulting, Summary: "WAF or CDN first?"})
	h.rpartner(2*time.Hour+50*time.Minute, "con-1", StepRespond, RespondInput{})
	answer := h.rpartner(2*time.Hour+55*time.Minute, "con-1", StepAnswer, SummaryInput{Summary: "put the DB in its own VPC subnet"})
	var view CaseView
	h.at(4*time.Hour+time.Minute, func() {
		v, err := h.env.QueryWorkflow(QueryCaseView)
		require.NoError(t, err)
		require.NoError(t, v.Get(&view))
	})
	res := h.runButler(ButlerInput{CaseInput: butlerInput(ButlerEscort, paid)})
	assert.Equal(t, StageService, view.Stage)
	assert.Equal(t, SLABreached, slaEntry(t, view.SLA, "con-2/"+ClauseArchitectureConsulting).Status)
	assert.Equal(t, SLAOnTrack, slaEntry(t, view.SLA, "con-1/"+ClauseArchitectureConsulting).Status)
	assert.Equal(t, SLAOnTrack, slaEntry(t, view.SLA, ClauseOnboardingContact).Status)
	details, err := json.Marshal(view.Details)
	require.NoError(t, err)
	assert.Contains(t, string(details), `"id":"con-2"`)
	require.NoError(t, h.results[answer])
	c1 := findRequest(t, res.State, "con-1")
	assert.Equal(t, ClauseArchitectureConsulting, c1.SLA[0].Clause)
	assert.False(t, c1.Breached)
	assert.Equal(t, "answered", c1.Outcome)
	c2 := findRequest(t, res.State, "con-2")
	assert.True(t, c2.Breached)
	at, ok := h.requestBreachAt("con-2", ClauseArchitectureConsulting)
	require.True(t, ok)
	assert.True(t, at.Equal(paid.Add(4*time.Hour)))
	assert.Equal(t, "cancelled at the end of the term", c2.Outcome)
	assert.Contains(t, h.eventNames(), "request_cancelled")
}

// TestButlerEmergency: 15-minute response whatever the urgency; resolved within 5 natural days; a
// recurrence inside the 15 days is handled again without a new purchase; after them a new purchase is
// needed; no vulnerabilities or consulting.
func TestButlerEmergency(t *testing.T) {
	paid := cst(2026, 3, 2, 10)
	incident := func(h *butlerHarness, rid string, start time.Duration, restoreAt time.Duration) []string {
		var ids []string
		for _, s := range []struct {
			d       time.Duration
			step    string
			payload any
		}{
			{10 * time.Minute, StepRespond, RespondInput{}},
			{time.Hour, StepClassify, ClassifyInput{IncidentClass: ClassNetworkAttack, Summary: "weak Redis password"}},
			{2 * time.Hour, StepEliminate, ActionsInput{Actions: []string{"removed miner"}}},
			{restoreAt, StepRestore, SummaryInput{Summary: "service back"}},
			{restoreAt + time.Hour, StepHarden, HardenInput{Recommendations: []string{"bind Redis to localhost"}}},
			{restoreAt + 2*time.Hour, StepReassess, SummaryInput{Summary: "clean"}},
			{restoreAt + 3*time.Hour, StepReport, SummaryInput{Summary: "miner removed"}},
			{restoreAt + 4*time.Hour, StepFollowUp, FollowUpInput{Note: "watching for 15 days"}},
		} {
			ids = append(ids, h.rpartner(start+s.d, rid, s.step, s.payload))
		}
		return ids
	}
	t.Run("resolved in time; recurrence reopens; after 15 days a new purchase", func(t *testing.T) {
		h := newButler(t, paid, "p1")
		h.onboard()
		first := h.ask(time.Hour, ButlerRequestStepInput{Kind: RequestIncident, Summary: "cryptominer", Urgency: UrgencyNormal})
		ids := incident(h, "inc-1", time.Hour, 2*24*time.Hour)
		second := h.ask(3*24*time.Hour, ButlerRequestStepInput{Kind: RequestIncident, Summary: "another", Urgency: UrgencyNormal})
		vuln := h.ask(3*24*time.Hour+time.Minute, ButlerRequestStepInput{Kind: RequestVulnerability, Summary: "x", Severity: SeverityLow})
		cons := h.ask(3*24*time.Hour+2*time.Minute, ButlerRequestStepInput{Kind: RequestConsulting, Summary: "x"})
		urg := h.req(time.Hour+5*time.Minute, "inc-1", StepUrgency, StepInput{Actor: ActorMarketplace, Payload: mustJSON(UrgencyInput{Urgency: UrgencyUrgent})})
		insp := "inspection@" + (4 * 24 * time.Hour).String()
		h.partner(4*24*time.Hour, "p1", StepInspection, InspectionInput{Date: "2026-03-06", Checks: []InspectionCheck{{Item: InspectHosts, OK: true}}})
		recur := h.ask(10*24*time.Hour, ButlerRequestStepInput{Kind: RequestIncident, RecurrenceOf: "inc-1"})
		ids = append(ids, incident(h, "inc-2", 10*24*time.Hour, 3*time.Hour)...)
		after := h.ask(15*24*time.Hour, ButlerRequestStepInput{Kind: RequestIncident, RecurrenceOf: "inc-1"})
		res := h.runButler(ButlerInput{CaseInput: butlerInput(ButlerEmergency, paid)})
		require.NoError(t, h.results[first])
		require.NoError(t, h.results[recur])
		for _, id := range ids {
			require.NoError(t, h.results[id], id)
		}
		assert.ErrorContains(t, h.results[second], "a new incident needs a new purchase")
		assert.ErrorContains(t, h.results[vuln], "no vulnerability handling")
		assert.ErrorContains(t, h.results[cons], "no architecture consulting")
		assert.Equal(t, RejectConflict, rejectionType(h.results[urg]))
		assert.ErrorContains(t, h.results[insp], "no daily inspection")
		assert.Equal(t, RejectConflict, rejectionType(h.results[after]))
		assert.ErrorContains(t, h.results[after], "the 15-day guarantee ended on 2026-03-17; a new purchase is needed")

		inc1 := findRequest(t, res.State, "inc-1")
		assert.Equal(t, ClauseIncidentUrgent, inc1.SLA[0].Clause, "15 minutes whatever the urgency")
		assert.True(t, inc1.SLA[0].DueAt.Equal(paid.Add(time.Hour+15*time.Minute)))
		assert.Equal(t, ClauseIncidentResolve, inc1.SLA[1].Clause)
		assert.True(t, inc1.SLA[1].DueAt.Equal(paid.Add(time.Hour+5*24*time.Hour)))
		assert.False(t, inc1.Breached)
		inc2 := findRequest(t, res.State, "inc-2")
		assert.Equal(t, "inc-1", inc2.RecurrenceOf)
		assert.Equal(t, "resolved", inc2.Outcome)
		assert.Contains(t, inc2.Summary, "recurrence of inc-1")
		opened := h.requestEvents("inc-2")[0]
		assert.Contains(t, opened.Detail, "cause: weak Redis password")
		require.Len(t, h.docs, 2)
		assert.Equal(t, []int{1, 2}, []int{h.docs[0].Version, h.docs[1].Version})
		assert.Equal(t, StageClosed, res.Stage)
		assert.True(t, h.env.Now().Equal(cst(2026, 3, 17, 10)))
	})
	t.Run("not resolved within 5 days", func(t *testing.T) {
		h := newButler(t, paid, "p1")
		h.onboard()
		h.ask(time.Hour, ButlerRequestStepInput{Kind: RequestIncident, Summary: "ransomware"})
		ids := incident(h, "inc-1", time.Hour, 6*24*time.Hour)
		res := h.runButler(ButlerInput{CaseInput: butlerInput(ButlerEmergency, paid)})
		for _, id := range ids {
			require.NoError(t, h.results[id], id)
		}
		at, ok := h.requestBreachAt("inc-1", ClauseIncidentResolve)
		require.True(t, ok)
		assert.True(t, at.Equal(paid.Add(time.Hour+5*24*time.Hour)), "breach at %v", at.In(chinaZone))
		assert.True(t, findRequest(t, res.State, "inc-1").Breached)
		_, responseBreached := h.requestBreachAt("inc-1", ClauseIncidentUrgent)
		assert.False(t, responseBreached)
	})
}

// TestButlerProfessional: servers bind irreversibly; the monthly report is e-mailed to the recipients.
func TestButlerProfessional(t *testing.T) {
	paid := cst(2026, 3, 2, 10)
	h := newButler(t, paid, "p1")
	h.onboard()
	h.market(2*time.Hour, StepServers, ServersInput{Bind: []string{"i-web1", "i-db1"}})
	h.market(3*time.Hour, StepServers, ServersInput{Bind: []string{"i-db1", "i-cache1"}})
	h.market(4*time.Hour, StepServers, ServersInput{Unbind: []string{"i-web1"}})
	h.market(5*time.Hour, StepRecipients, RecipientsInput{Emails: []string{"ops@example.com", "Bob <bob@example.com>"}})
	h.market(6*time.Hour, StepRecipients, RecipientsInput{Emails: []string{"ops@example.com", "sec@example.com"}})
	reportAt := cst(2026, 4, 2, 15).Sub(paid)
	h.partner(reportAt, "p1", StepReport, ButlerReportInput{Period: "2026-03", Summary: "quiet month", Items: []string{"2 vulns fixed"}})
	res := h.runButler(ButlerInput{CaseInput: butlerInput(ButlerProfessional, paid)})
	require.NoError(t, h.results["servers@2h0m0s"])
	require.NoError(t, h.results["servers@3h0m0s"])
	assert.ErrorContains(t, h.results["servers@4h0m0s"], "server binding cannot be undone (SPEC)")
	assert.Equal(t, RejectConflict, rejectionType(h.results["servers@4h0m0s"]))
	assert.Equal(t, RejectInvalid, rejectionType(h.results["recipients@5h0m0s"]))
	require.NoError(t, h.results["recipients@6h0m0s"])
	require.NoError(t, h.results[fmt.Sprintf("report@%s", reportAt)])
	assert.Equal(t, []string{"i-web1", "i-db1", "i-cache1"}, res.State.Servers)

	require.Len(t, h.emails, 1)
	m := h.emails[0]
	assert.Equal(t, []string{"ops@example.com", "sec@example.com"}, m.To)
	assert.Equal(t, butlerCaseID, m.CaseID)
	assert.Contains(t, m.Subject, "2026-03")
	assert.Contains(t, m.Text, "quiet month")
	assert.Contains(t, m.HTML, "<li>2 vulns fixed</li>")
	assert.Contains(t, h.eventNames(), "report_emailed")
	require.Len(t, res.State.Reports, 1)
	assert.Equal(t, m.To, res.State.Reports[0].EmailedTo)
	require.Len(t, h.docs, 1)
	assert.Equal(t, "service_report", h.docs[0].Kind)
	// Report 1 came in time; every later month due inside the term is missing and alerted 3 days after
	// it fell due (the 12th would fall due after the term).
	assert.Equal(t, []int{2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, res.State.Overdue)
	var overdue []time.Time
	for _, e := range h.events {
		if e.Event == "report_overdue" {
			overdue = append(overdue, e.At)
		}
	}
	require.NotEmpty(t, overdue)
	assert.True(t, overdue[0].Equal(cst(2026, 5, 5, 10).Add(50*time.Minute)), "first overdue alert at %v", overdue[0].In(chinaZone))
}

// TestButlerNotProfessional: binding servers and e-mail recipients belong to the professional edition.
func TestButlerNotProfessional(t *testing.T) {
	paid := cst(2026, 3, 2, 10)
	h := newButler(t, paid, "p1")
	h.onboard()
	h.market(2*time.Hour, StepServers, ServersInput{Bind: []string{"i-web1"}})
	h.market(3*time.Hour, StepRecipients, RecipientsInput{Emails: []string{"ops@example.com"}})
	h.partner(cst(2026, 4, 2, 15).Sub(paid), "p1", StepReport, ButlerReportInput{Period: "2026-03", Summary: "quiet"})
	h.runButler(ButlerInput{CaseInput: butlerInput(ButlerEnterprise, paid)})
	assert.Equal(t, RejectConflict, rejectionType(h.results["servers@2h0m0s"]))
	assert.Equal(t, RejectConflict, rejectionType(h.results["recipients@3h0m0s"]))
	assert.Empty(t, h.emails)
}

// TestButlerInspection: a daily inspection's finding opens a vulnerability request; the same day twice
// is refused.
func TestButlerInspection(t *testing.T) {
	paid := cst(2026, 3, 2, 10)
	h := newButler(t, paid, "p1")
	h.onboard()
	early := "inspection@" + (40 * time.Minute).String()
	h.partner(40*time.Minute, "p1", StepInspection, InspectionInput{Date: "2026-03-02", Checks: []InspectionCheck{{Item: InspectHosts, OK: true}}})
	at := cst(2026, 3, 3, 18).Sub(paid)
	h.partner(at, "p1", StepInspection, InspectionInput{Date: "2026-03-03",
		Checks: []InspectionCheck{
			{Item: InspectSecurityProducts, OK: true}, {Item: InspectNetwork, OK: true},
			{Item: InspectHosts, OK: false, Note: "3389 open to the internet"}, {Item: InspectApplication, OK: true}, {Item: InspectData, OK: true},
		},
		Findings: []InspectionFinding{
			{Summary: "RDP exposed on i-win1", Severity: SeverityHigh, OpenVuln: true},
			{Summary: "old nginx banner", Severity: SeverityLow},
		}})
	again := fmt.Sprintf("inspection@%s", at+time.Hour)
	h.partner(at+time.Hour, "p1", StepInspection, InspectionInput{Date: "2026-03-03", Checks: []InspectionCheck{{Item: InspectHosts, OK: true}}})
	bad := fmt.Sprintf("inspection@%s", at+2*time.Hour)
	h.partner(at+2*time.Hour, "p1", StepInspection, InspectionInput{Date: "2026-03-04", Checks: []InspectionCheck{{Item: "coffee", OK: true}}})
	h.rpartner(at+10*time.Minute, "vul-1", StepRespond, RespondInput{Note: "closing 3389"})
	res := h.runButler(ButlerInput{CaseInput: butlerInput(ButlerEscort, paid)})
	require.NoError(t, h.results[fmt.Sprintf("inspection@%s", at)])
	assert.Equal(t, RejectConflict, rejectionType(h.results[early]), "inspections start after the plan")
	assert.Equal(t, RejectConflict, rejectionType(h.results[again]))
	assert.Equal(t, RejectInvalid, rejectionType(h.results[bad]))
	require.Len(t, res.State.Inspections, 1)
	assert.Equal(t, []string{"vul-1"}, res.State.Inspections[0].Opened)
	v := findRequest(t, res.State, "vul-1")
	assert.Equal(t, RequestVulnerability, v.Kind)
	assert.Equal(t, SeverityHigh, v.Severity)
	assert.Equal(t, ClauseVulnHigh, v.SLA[0].Clause)
	assert.False(t, v.Breached)
	assert.Len(t, res.State.Requests, 1)
}

// TestButlerContinueAsNew: a long subscription continues as new once no request runs, and the next run
// carries its state: partner, plan, requests, servers, the timeline sequence.
func TestButlerContinueAsNew(t *testing.T) {
	paid := cst(2026, 3, 2, 10)
	h := newButler(t, paid, "p1")
	h.onboard()
	h.ask(2*time.Hour, ButlerRequestStepInput{Kind: RequestConsulting, Summary: "zero trust?"})
	h.at(2*time.Hour+time.Minute, func() { h.env.SetCurrentHistoryLength(DefaultHistoryLimit) })
	// The run waits for the open request before it continues as new.
	h.rpartner(2*time.Hour+10*time.Minute, "con-1", StepRespond, RespondInput{})
	h.rpartner(2*time.Hour+20*time.Minute, "con-1", StepAnswer, SummaryInput{Summary: "start with SSO"})
	h.env.ExecuteWorkflow(ButlerWorkflow, ButlerInput{CaseInput: butlerInput(ButlerEnterprise, paid)})
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(h.env.GetWorkflowError(), &can), "want continue-as-new, got %v", h.env.GetWorkflowError())
	assert.True(t, h.env.Now().Equal(paid.Add(2*time.Hour+20*time.Minute)), "continued at %v", h.env.Now().In(chinaZone))
	var next ButlerInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.NotNil(t, next.State)
	st := *next.State
	assert.Equal(t, StageService, st.Stage)
	assert.Equal(t, "p1", st.PartnerID)
	require.NotNil(t, st.Plan)
	assert.Equal(t, 2, st.NextRequest)
	assert.Equal(t, "answered", findRequest(t, st, "con-1").Outcome)

	h2 := newButler(t, h.env.Now(), "p1")
	h2.ask(time.Hour, ButlerRequestStepInput{Kind: RequestIncident, Summary: "defacement", Urgency: UrgencyUrgent})
	h2.rpartner(time.Hour+5*time.Minute, "inc-2", StepRespond, RespondInput{})
	res := h2.runButler(next)
	assert.Equal(t, StageClosed, res.Stage)
	assert.Equal(t, 2, res.State.Runs)
	assert.NotContains(t, h2.eventNames(), "opened")
	assert.False(t, findRequest(t, res.State, "inc-2").Breached)
	keys := map[string]bool{}
	for _, e := range append(h.events, h2.events...) {
		assert.False(t, keys[e.Key], "timeline key %s written twice", e.Key)
		keys[e.Key] = true
	}
}

// TestButlerRequestBeforeAcceptance: a request opened while the case waits for a partner runs its clock
// from receipt; the partner who accepts handles it; a foreign partner is refused.
func TestButlerRequestBeforeAcceptance(t *testing.T) {
	paid := cst(2026, 3, 2, 10)
	h := newButler(t, paid, "p1")
	h.ask(10*time.Second, ButlerRequestStepInput{Kind: RequestIncident, Summary: "site down, defaced", Urgency: UrgencyUrgent})
	noUrgency := h.ask(20*time.Second, ButlerRequestStepInput{Kind: RequestIncident, Summary: "x"})
	tooEarly := h.rpartner(30*time.Second, "inc-1", StepRespond, RespondInput{})
	h.partner(time.Minute, "p1", StepAccept, struct{}{})
	foreign := h.req(2*time.Minute, "inc-1", StepRespond, StepInput{Actor: ActorPartner, PartnerID: "p2", Payload: mustJSON(RespondInput{})})
	ok := h.rpartner(3*time.Minute, "inc-1", StepRespond, RespondInput{Note: "calling"})
	res := h.runButler(ButlerInput{CaseInput: butlerInput(ButlerEscort, paid)})
	assert.Equal(t, RejectInvalid, rejectionType(h.results[noUrgency]))
	assert.Equal(t, RejectConflict, rejectionType(h.results[tooEarly]))
	assert.Equal(t, RejectConflict, rejectionType(h.results[foreign]))
	require.NoError(t, h.results[ok])
	assert.Equal(t, "p1", h.reqViews[ok].PartnerID)
	r := findRequest(t, res.State, "inc-1")
	assert.False(t, r.Breached)
	assert.True(t, r.SLA[0].DueAt.Equal(paid.Add(10*time.Second+15*time.Minute)))
}
