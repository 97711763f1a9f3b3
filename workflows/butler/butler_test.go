package butler

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-oss/steward/activities"
	"github.com/steward-oss/steward/sla"
	"github.com/steward-oss/steward/workflows"
	"github.com/steward-oss/steward/workflows/casetest"
)

const caseID = "butler:O-1"

// harness runs a Security Butler case on casetest's harness. The case runs as the child of a driver
// workflow, as on a server: a run that continues as new is followed by the next run under the same
// workflow ID, its requests still running and reporting to it. So steps go to the case or to a request by
// workflow ID (send), not to the driver, the root workflow. The test environment keeps no history, so
// meter counts each run's events (historyMeter).
type harness struct {
	*casetest.Harness
	meter    *historyMeter
	reqViews map[string]RequestView
}

func newHarness(t *testing.T, start time.Time, partners ...string) *harness {
	h := &harness{Harness: casetest.New(t, start, partners,
		workflows.Registration{Name: "driver", Workflow: driver},
		workflows.Registration{Name: WorkflowName, Workflow: Workflow},
		workflows.Registration{Name: RequestWorkflowName, Workflow: RequestWorkflow}),
		meter: &historyMeter{}, reqViews: map[string]RequestView{}}
	h.Env.SetWorkerOptions(worker.Options{Interceptors: []interceptorT{h.meter}})
	h.Env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: "driver"})
	return h
}

// driver runs the case as a child under its own workflow ID, and returns how it ended.
func driver(ctx workflow.Context, in Input) (Result, error) {
	var res Result
	err := workflow.ExecuteChildWorkflow(workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{WorkflowID: in.CaseID}), WorkflowName, in).Get(ctx, &res)
	return res, err
}

func input(edition string, paid time.Time) Input {
	return Input{CaseInput: workflows.CaseInput{CaseID: caseID, OrderID: "O-1", CustomerID: "C-1", Service: sla.ServiceButler, Spec: edition,
		Quantity: 1, AmountCents: 2_000_000, Currency: "CNY", PaidAt: paid}}
}

// run runs the case under the driver to its end.
func (h *harness) run(in Input) Result {
	h.T.Helper()
	var res Result
	h.Run("driver", in, &res)
	return res
}

// send sends a step to workflow wfID at start+d under the name id; its outcome lands in h.Results[id].
func (h *harness) send(d time.Duration, wfID, id string, in workflows.StepInput) string {
	h.Results[id] = errors.New("not sent")
	h.At(d, func() {
		in.At = h.Env.Now()
		err := h.Env.UpdateWorkflowByID(wfID, in.Step, id, &testsuite.TestUpdateCallback{
			OnAccept: func() {},
			OnReject: func(err error) { h.Results[id] = err },
			OnComplete: func(v any, err error) {
				h.Results[id] = err
				if rv, ok := v.(RequestView); ok {
					h.reqViews[id] = rv
				}
			},
		}, in)
		if err != nil {
			h.Results[id] = err
		}
	})
	return id
}

// partner and market send a step to the case, under the ID "step@d" (casetest's would go to the driver).
func (h *harness) partner(d time.Duration, partner, step string, payload any) string {
	return h.send(d, caseID, step+"@"+d.String(), workflows.StepInput{Step: step, Actor: workflows.ActorPartner, PartnerID: partner, ActorName: "eng", Payload: casetest.MustJSON(payload)})
}

func (h *harness) market(d time.Duration, step string, payload any) string {
	return h.send(d, caseID, step+"@"+d.String(), workflows.StepInput{Step: step, Actor: workflows.ActorMarketplace, Payload: casetest.MustJSON(payload)})
}

func (h *harness) ask(d time.Duration, r RequestStepInput) string {
	return h.market(d, workflows.StepRequest, r)
}

// req sends a step to request rid at start+d.
func (h *harness) req(d time.Duration, rid, step string, in workflows.StepInput) string {
	in.Step = step
	return h.send(d, RequestWorkflowID(caseID, rid), rid+":"+step+"@"+d.String(), in)
}

func (h *harness) rpartner(d time.Duration, rid, step string, payload any) string {
	return h.req(d, rid, step, workflows.StepInput{Actor: workflows.ActorPartner, PartnerID: "p1", ActorName: "eng", Payload: casetest.MustJSON(payload)})
}

func (h *harness) urgency(d time.Duration, rid, urgency string) string {
	return h.req(d, rid, StepUrgency, workflows.StepInput{Actor: workflows.ActorMarketplace, Payload: casetest.MustJSON(UrgencyInput{Urgency: urgency})})
}

// termReport sends the term report at start+d.
func (h *harness) termReport(d time.Duration) string {
	return h.partner(d, "p1", workflows.StepReport, ReportInput{Kind: ReportTerm, Summary: "a quiet year", Items: []string{"12 monthly reviews"}})
}

// termReportDue is when the term report of a yearly case paid at paid is due, in the calendars in use.
func termReportDue(t *testing.T, edition string, paid time.Time) time.Time {
	t.Helper()
	due, err := sla.TermReportDeadline.From(workflows.Calendars(), sla.ButlerTermEnd(edition, paid))
	require.NoError(t, err)
	return due
}

// onboard accepts, contacts and agrees the plan within the first hour.
func (h *harness) onboard() {
	h.partner(time.Minute, "p1", workflows.StepAccept, struct{}{})
	h.partner(30*time.Minute, "p1", workflows.StepContact, ContactInput{Note: "WeChat group opened"})
	h.partner(50*time.Minute, "p1", workflows.StepPlan, PlanInput{Summary: "key business: the shop", Items: []string{"WAF policy", "host baseline"}})
}

func names(events []activities.Event) []workflows.Event {
	out := make([]workflows.Event, len(events))
	for i, e := range events {
		out[i] = workflows.Event(e.Event)
	}
	return out
}

// requestEvents are the timeline lines a request reported.
func (h *harness) requestEvents(rid string) []activities.Event {
	var out []activities.Event
	for _, e := range h.Events() {
		if strings.HasPrefix(e.Key, RequestWorkflowID(caseID, rid)+"/") {
			out = append(out, e)
		}
	}
	return out
}

func (h *harness) eventAtKey(key string) (time.Time, bool) {
	for _, e := range h.Events() {
		if e.Key == key {
			return e.At, true
		}
	}
	return time.Time{}, false
}

func (h *harness) requestBreachAt(rid, clause string) (time.Time, bool) {
	return h.eventAtKey(RequestWorkflowID(caseID, rid) + "/breach/" + clause)
}

func findRequest(t *testing.T, st State, id string) Request {
	t.Helper()
	for _, r := range st.Requests {
		if r.ID == id {
			return r
		}
	}
	t.Fatalf("no request %s in %+v", id, st.Requests)
	return Request{}
}

func count(events []workflows.Event, name workflows.Event) int {
	n := 0
	for _, e := range events {
		if e == name {
			n++
		}
	}
	return n
}

func yes() *bool { b := true; return &b }
func no() *bool  { b := false; return &b }

func TestButlerTermEnd(t *testing.T) {
	for _, tt := range []struct {
		edition    string
		paid, want time.Time
	}{
		{sla.EditionEscort, casetest.CST(2026, 3, 2, 10), casetest.CST(2027, 3, 2, 10)},
		{sla.EditionEmergency, casetest.CST(2026, 3, 2, 10), casetest.CST(2026, 3, 17, 10)},
		{sla.EditionEnterprise, time.Date(2025, 12, 31, 20, 0, 0, 0, time.UTC), casetest.CST(2027, 1, 1, 4)},
	} {
		if got := sla.ButlerTermEnd(tt.edition, tt.paid); !got.Equal(tt.want) {
			t.Errorf("ButlerTermEnd(%s, %v) = %v; want %v", tt.edition, tt.paid, got.In(sla.China), tt.want)
		}
	}
}

func TestButlerRejectsUnknownEdition(t *testing.T) {
	h := newHarness(t, casetest.CST(2026, 3, 2, 10), "p1")
	h.Execute("driver", input("gold", casetest.CST(2026, 3, 2, 10)))
	assert.Equal(t, workflows.RejectInvalid, casetest.RejectionType(h.Env.GetWorkflowError()))
}

// TestButlerOnboardingContact: the 5x8 contact clock runs 1 working day from payment, across a weekend:
// paid Friday 16:00 → due Monday 16:00. A late contact is recorded and alerted, with no refund.
func TestButlerOnboardingContact(t *testing.T) {
	paid := casetest.CST(2026, 3, 6, 16) // a Friday
	due := casetest.CST(2026, 3, 9, 16)
	tests := []struct {
		name      string
		contactAt time.Time
		breached  bool
	}{
		{"met on Monday", casetest.CST(2026, 3, 9, 15), false},
		{"breached on Monday", casetest.CST(2026, 3, 9, 17), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, paid, "p1")
			h.partner(time.Minute, "p1", workflows.StepAccept, struct{}{})
			h.partner(tt.contactAt.Sub(paid), "p1", workflows.StepContact, ContactInput{Note: "called"})
			h.partner(tt.contactAt.Sub(paid)+time.Hour, "p1", workflows.StepPlan, PlanInput{Summary: "plan", Items: []string{"a"}})
			res := h.run(input(sla.EditionEscort, paid))
			for id, err := range h.Results {
				require.NoError(t, err, id)
			}
			c := res.State.Core.Clocks.Clocks[0]
			assert.Equal(t, sla.ClauseOnboardingContact, c.Clause)
			assert.True(t, c.DueAt().Equal(due), "due %v", c.DueAt().In(sla.China))
			assert.Equal(t, tt.breached, c.BreachedAt != nil)
			if tt.breached {
				// The watch raises a breach one sla.Resolution after the due instant (a step at it meets).
				at, ok := h.eventAtKey(caseID + "/breach/" + sla.ClauseOnboardingContact)
				require.True(t, ok, "no breach in %v", h.EventNames())
				assert.True(t, at.Equal(due.Add(sla.Resolution)), "breach at %v", at.In(sla.China))
				assert.Equal(t, 1, h.CountNotes("安全管家 onboarding_contact clause breached"))
			} else {
				assert.NotContains(t, h.EventNames(), workflows.EventSLABreached)
			}
			assert.Empty(t, h.Refunds())
			assert.Equal(t, workflows.Refund{}, res.State.Core.Refund)
			assert.Equal(t, workflows.StageClosed, res.Stage)
			// No term report: the case closes when it is due, 5 working days after the term.
			assert.True(t, h.Env.Now().Equal(termReportDue(t, sla.EditionEscort, paid)), "closed at %v", h.Env.Now().In(sla.China))
		})
	}
}

// TestButlerIncident: urgent incidents respond in 15 minutes, met or breached; the whole incident flow
// renders the 《应急报告》 and closes the request; the case's details follow it.
func TestButlerIncident(t *testing.T) {
	paid := casetest.CST(2026, 3, 2, 10)
	base := 2 * time.Hour
	t.Run("met, full flow", func(t *testing.T) {
		h := newHarness(t, paid, "p1")
		h.onboard()
		h.ask(base, RequestStepInput{Kind: sla.RequestIncident, Summary: "webshell on www", Urgency: sla.UrgencyUrgent})
		steps := []struct {
			step    string
			payload any
		}{
			{StepRespond, RespondInput{Note: "on it"}},
			{StepClassify, ClassifyInput{IncidentClass: sla.ClassMalware, Summary: "upload vulnerability in the CMS"}},
			{workflows.StepContain, ActionsInput{Actions: []string{"took the upload dir offline"}}},
			{StepEliminate, ActionsInput{Actions: []string{"removed the webshell"}}},
			{StepRestore, SummaryInput{Summary: "site back"}},
			{StepHarden, HardenInput{Recommendations: []string{"patch the CMS"}}},
			{StepReassess, SummaryInput{Summary: "clean"}},
			{workflows.StepReport, SummaryInput{Summary: "webshell removed"}},
			{StepFollowUp, FollowUpInput{Note: "no recurrence"}},
		}
		var ids []string
		for i, s := range steps {
			ids = append(ids, h.rpartner(base+10*time.Minute+time.Duration(i)*time.Hour, "inc-1", s.step, s.payload))
		}
		early := h.rpartner(base+5*time.Minute, "inc-1", StepRestore, SummaryInput{Summary: "x"}) // out of order
		res := h.run(input(sla.EditionEnterprise, paid))
		h.RequireOK(ids...)
		assert.Equal(t, workflows.RejectConflict, casetest.RejectionType(h.Results[early]))
		r := findRequest(t, res.State, "inc-1")
		assert.Equal(t, workflows.StatusClosed, r.Status)
		assert.Equal(t, OutcomeResolved, r.Outcome)
		assert.Equal(t, "upload vulnerability in the CMS", r.Cause)
		assert.False(t, r.Breached)
		require.Len(t, r.SLA, 1)
		assert.Equal(t, sla.ClauseIncidentUrgent, r.SLA[0].Clause)
		assert.True(t, r.SLA[0].DueAt.Equal(paid.Add(base+15*time.Minute)))
		require.Len(t, h.Docs(), 1)
		assert.Equal(t, "incident_report", h.Docs()[0].Kind)
		assert.Equal(t, "应急报告", h.Docs()[0].Title)
		assert.Equal(t, caseID, h.Docs()[0].CaseID)
		// Responding after 10 of 15 minutes passed the 50% warning.
		assert.Equal(t, []workflows.Event{workflows.EventRequestOpened, workflows.EventSLAAtRisk, workflows.EventResponded,
			workflows.EventClassified, workflows.EventContained, workflows.EventEliminated, workflows.EventRestored,
			workflows.EventHardeningAdvised, workflows.EventReassessed, workflows.EventReportSubmitted, workflows.EventFollowedUp},
			names(h.requestEvents("inc-1")))
		// Every row written is the case's: the request writes no projection of its own.
		for _, row := range h.Rows() {
			require.Equal(t, caseID, row.CaseID)
		}
	})
	t.Run("breached", func(t *testing.T) {
		h := newHarness(t, paid, "p1")
		h.onboard()
		h.ask(base, RequestStepInput{Kind: sla.RequestIncident, Summary: "DDoS", Urgency: sla.UrgencyUrgent})
		late := h.rpartner(base+20*time.Minute, "inc-1", StepRespond, RespondInput{})
		res := h.run(input(sla.EditionEscort, paid))
		h.RequireOK(late)
		at, ok := h.requestBreachAt("inc-1", sla.ClauseIncidentUrgent)
		require.True(t, ok, "no breach in %v", h.EventNames())
		assert.True(t, at.Equal(paid.Add(base+15*time.Minute+sla.Resolution)), "breach at %v", at.In(sla.China))
		assert.True(t, findRequest(t, res.State, "inc-1").Breached)
		assert.Equal(t, 1, h.CountNotes("Butler inc-1 incident_urgent clause breached"))
		assert.Empty(t, h.Refunds())
		assert.Equal(t, 2, count(names(h.requestEvents("inc-1")), workflows.EventSLAAtRisk))
	})
}

// TestButlerUrgencyRetarget: raising and lowering an incident's urgency re-targets its response clock
// with the elapsed time carried.
func TestButlerUrgencyRetarget(t *testing.T) {
	paid := casetest.CST(2026, 3, 2, 10)
	base := 2 * time.Hour
	t.Run("normal to urgent after 20 minutes: breached at once", func(t *testing.T) {
		h := newHarness(t, paid, "p1")
		h.onboard()
		h.ask(base, RequestStepInput{Kind: sla.RequestIncident, Summary: "brute force", Urgency: sla.UrgencyNormal})
		up := h.urgency(base+20*time.Minute, "inc-1", sla.UrgencyUrgent)
		same := h.urgency(base+21*time.Minute, "inc-1", sla.UrgencyUrgent)
		h.rpartner(base+25*time.Minute, "inc-1", StepRespond, RespondInput{})
		res := h.run(input(sla.EditionEscort, paid))
		h.RequireOK(up)
		assert.Equal(t, workflows.RejectConflict, casetest.RejectionType(h.Results[same]))
		at, ok := h.requestBreachAt("inc-1", sla.ClauseIncidentUrgent)
		require.True(t, ok)
		assert.True(t, at.Equal(paid.Add(base+20*time.Minute)), "breach at %v", at.In(sla.China))
		r := findRequest(t, res.State, "inc-1")
		assert.Equal(t, sla.UrgencyUrgent, r.Urgency)
		assert.True(t, r.Breached)
		assert.Equal(t, sla.ClauseIncidentUrgent, r.SLA[0].Clause)
	})
	t.Run("normal to urgent after 5 minutes: 10 minutes left", func(t *testing.T) {
		h := newHarness(t, paid, "p1")
		h.onboard()
		h.ask(base, RequestStepInput{Kind: sla.RequestIncident, Summary: "brute force", Urgency: sla.UrgencyNormal})
		h.urgency(base+5*time.Minute, "inc-1", sla.UrgencyUrgent)
		h.run(input(sla.EditionEscort, paid))
		at, ok := h.requestBreachAt("inc-1", sla.ClauseIncidentUrgent)
		require.True(t, ok)
		assert.True(t, at.Equal(paid.Add(base+15*time.Minute+sla.Resolution)), "breach at %v", at.In(sla.China))
	})
	t.Run("urgent to normal extends", func(t *testing.T) {
		h := newHarness(t, paid, "p1")
		h.onboard()
		h.ask(base, RequestStepInput{Kind: sla.RequestIncident, Summary: "odd logins", Urgency: sla.UrgencyUrgent})
		down := h.urgency(base+10*time.Minute, "inc-1", sla.UrgencyNormal)
		resp := h.rpartner(base+40*time.Minute, "inc-1", StepRespond, RespondInput{})
		res := h.run(input(sla.EditionEscort, paid))
		h.RequireOK(down, resp)
		_, breached := h.requestBreachAt("inc-1", sla.ClauseIncidentNormal)
		assert.False(t, breached)
		r := findRequest(t, res.State, "inc-1")
		assert.False(t, r.Breached)
		assert.Equal(t, sla.ClauseIncidentNormal, r.SLA[0].Clause)
		assert.True(t, r.SLA[0].DueAt.Equal(paid.Add(base+time.Hour)), "due %v", r.SLA[0].DueAt.In(sla.China))
	})
}

// TestButlerVulnerability: high 15 min, medium 1 h, low 4 h response, met and breached; the full VLM
// flow with a failed retest; a severity change on verify judges the response against the new target.
func TestButlerVulnerability(t *testing.T) {
	paid := casetest.CST(2026, 3, 2, 10)
	base := 2 * time.Hour
	for _, tt := range []struct {
		severity, clause string
		target           time.Duration
	}{
		{sla.SeverityHigh, sla.ClauseVulnHigh, 15 * time.Minute},
		{sla.SeverityMedium, sla.ClauseVulnMedium, time.Hour},
		{sla.SeverityLow, sla.ClauseVulnLow, 4 * time.Hour},
	} {
		for _, met := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s met=%t", tt.severity, met), func(t *testing.T) {
				h := newHarness(t, paid, "p1")
				h.onboard()
				h.ask(base, RequestStepInput{Kind: sla.RequestVulnerability, Summary: "Tomcat manager exposed", Severity: tt.severity})
				respondAt := base + tt.target*9/10
				if !met {
					respondAt = base + tt.target + time.Minute
				}
				h.rpartner(respondAt, "vul-1", StepRespond, RespondInput{})
				res := h.run(input(sla.EditionEnterprise, paid))
				r := findRequest(t, res.State, "vul-1")
				assert.Equal(t, tt.clause, r.SLA[0].Clause)
				assert.Equal(t, !met, r.Breached)
				at, ok := h.requestBreachAt("vul-1", tt.clause)
				assert.Equal(t, !met, ok)
				if !met {
					assert.True(t, at.Equal(paid.Add(base+tt.target+sla.Resolution)), "breach at %v", at.In(sla.China))
				}
			})
		}
	}
	t.Run("full flow, retest fails once", func(t *testing.T) {
		h := newHarness(t, paid, "p1")
		h.onboard()
		h.ask(base, RequestStepInput{Kind: sla.RequestVulnerability, Summary: "weak SSH passwords", Severity: sla.SeverityMedium})
		var ids []string
		for i, s := range []struct {
			step    string
			payload any
		}{
			{StepRespond, RespondInput{}},
			{StepIdentify, SummaryInput{Summary: "root with password 123456"}},
			{StepImpact, ImpactInput{Scope: "2 hosts"}},
			{StepVerify, VerifyInput{Exists: yes(), Severity: sla.SeverityMedium}},
			{StepFixPlan, FixPlanInput{Steps: []string{"keys only"}}},
			{StepRetest, RetestInput{Fixed: no(), Note: "one host missed"}},
			{StepFixPlan, FixPlanInput{Steps: []string{"second host"}}},
			{StepRetest, RetestInput{Fixed: yes()}},
		} {
			ids = append(ids, h.rpartner(base+time.Duration(i+1)*10*time.Minute, "vul-1", s.step, s.payload))
		}
		res := h.run(input(sla.EditionEnterprise, paid))
		h.RequireOK(ids...)
		r := findRequest(t, res.State, "vul-1")
		assert.Equal(t, OutcomeFixed, r.Outcome)
		assert.Equal(t, RequestDone, r.Stage)
		assert.Contains(t, names(h.requestEvents("vul-1")), workflows.EventRetestFailed)
	})
	t.Run("not present", func(t *testing.T) {
		h := newHarness(t, paid, "p1")
		h.onboard()
		h.ask(base, RequestStepInput{Kind: sla.RequestVulnerability, Summary: "scanner says XSS", Severity: sla.SeverityLow})
		h.rpartner(base+10*time.Minute, "vul-1", StepRespond, RespondInput{})
		h.rpartner(base+20*time.Minute, "vul-1", StepIdentify, SummaryInput{Summary: "reflected XSS"})
		h.rpartner(base+30*time.Minute, "vul-1", StepImpact, ImpactInput{Scope: "search page"})
		h.rpartner(base+40*time.Minute, "vul-1", StepVerify, VerifyInput{Exists: no()})
		res := h.run(input(sla.EditionEnterprise, paid))
		assert.Equal(t, OutcomeNotPresent, findRequest(t, res.State, "vul-1").Outcome)
	})
	t.Run("verified high after a 30-minute response to a low", func(t *testing.T) {
		h := newHarness(t, paid, "p1")
		h.onboard()
		h.ask(base, RequestStepInput{Kind: sla.RequestVulnerability, Summary: "Redis without password", Severity: sla.SeverityLow})
		h.rpartner(base+30*time.Minute, "vul-1", StepRespond, RespondInput{})
		h.rpartner(base+40*time.Minute, "vul-1", StepIdentify, SummaryInput{Summary: "unauthenticated Redis"})
		h.rpartner(base+50*time.Minute, "vul-1", StepImpact, ImpactInput{Scope: "cache host"})
		verify := h.rpartner(base+60*time.Minute, "vul-1", StepVerify, VerifyInput{Exists: yes(), Severity: sla.SeverityHigh})
		res := h.run(input(sla.EditionEnterprise, paid))
		h.RequireOK(verify)
		r := findRequest(t, res.State, "vul-1")
		assert.Equal(t, sla.SeverityHigh, r.Severity)
		assert.Equal(t, sla.ClauseVulnHigh, r.SLA[0].Clause)
		assert.True(t, r.Breached)
		at, ok := h.requestBreachAt("vul-1", sla.ClauseVulnHigh)
		require.True(t, ok)
		assert.True(t, at.Equal(paid.Add(base+60*time.Minute)))
	})
	t.Run("verified low after a 30-minute response to a high: the breach stays", func(t *testing.T) {
		h := newHarness(t, paid, "p1")
		h.onboard()
		h.ask(base, RequestStepInput{Kind: sla.RequestVulnerability, Summary: "Struts RCE?", Severity: sla.SeverityHigh})
		h.rpartner(base+30*time.Minute, "vul-1", StepRespond, RespondInput{})
		h.rpartner(base+40*time.Minute, "vul-1", StepIdentify, SummaryInput{Summary: "old Struts"})
		h.rpartner(base+50*time.Minute, "vul-1", StepImpact, ImpactInput{Scope: "none exposed"})
		h.rpartner(base+60*time.Minute, "vul-1", StepVerify, VerifyInput{Exists: yes(), Severity: sla.SeverityLow})
		res := h.run(input(sla.EditionEnterprise, paid))
		r := findRequest(t, res.State, "vul-1")
		assert.Equal(t, sla.ClauseVulnLow, r.SLA[0].Clause)
		assert.True(t, r.Breached)
	})
}

// TestButlerConsulting: architecture consulting responds within 1 hour; a request still open at the end
// of the term is cancelled.
func TestButlerConsulting(t *testing.T) {
	paid := casetest.CST(2026, 3, 2, 10)
	h := newHarness(t, paid, "p1")
	h.onboard()
	h.ask(2*time.Hour, RequestStepInput{Kind: sla.RequestConsulting, Summary: "how to segment the DB network"})
	h.ask(3*time.Hour, RequestStepInput{Kind: sla.RequestConsulting, Summary: "WAF or CDN first?"})
	h.rpartner(2*time.Hour+50*time.Minute, "con-1", StepRespond, RespondInput{})
	answer := h.rpartner(2*time.Hour+55*time.Minute, "con-1", StepAnswer, SummaryInput{Summary: "put the DB in its own VPC subnet"})
	h.termReport(sla.ButlerTermEnd(sla.EditionEscort, paid).Sub(paid) - 10*sla.Day) // so the case closes at the term's end
	var view workflows.CaseView
	h.At(4*time.Hour+time.Minute, func() {
		v, err := h.Env.QueryWorkflowByID(caseID, workflows.QueryCaseView)
		require.NoError(t, err)
		require.NoError(t, v.Get(&view))
	})
	res := h.run(input(sla.EditionEscort, paid))
	assert.Equal(t, StageService, view.Stage)
	assert.Equal(t, workflows.SLABreached, casetest.SLAEntry(t, view.SLA, "con-2/"+sla.ClauseArchitectureConsulting).Status)
	assert.Equal(t, workflows.SLAMet, casetest.SLAEntry(t, view.SLA, "con-1/"+sla.ClauseArchitectureConsulting).Status)
	assert.Equal(t, workflows.SLAMet, casetest.SLAEntry(t, view.SLA, sla.ClauseOnboardingContact).Status)
	details, err := json.Marshal(view.Details)
	require.NoError(t, err)
	assert.Contains(t, string(details), `"id":"con-2"`)
	assert.Contains(t, string(details), `"runs":1`)
	h.RequireOK(answer)
	c1 := findRequest(t, res.State, "con-1")
	assert.Equal(t, sla.ClauseArchitectureConsulting, c1.SLA[0].Clause)
	// The reports read the requests' clocks too, counted against the partner holding the case.
	clocks := h.ClockRows()
	met, late := clocks["request/con-1/0"], clocks["request/con-2/0"]
	assert.Equal(t, activities.ClockRow{Key: "request/con-1/0", Clause: sla.ClauseArchitectureConsulting, PartnerID: "p1", State: sla.ClockCompleted,
		Status: workflows.SLAMet, StartedAt: c1.ReceivedAt, DueAt: c1.SLA[0].DueAt, CompletedAt: c1.SLA[0].CompletedAt}, met)
	assert.Equal(t, workflows.SLABreached, late.Status)
	assert.Equal(t, "p1", late.PartnerID)
	assert.False(t, c1.Breached)
	assert.Equal(t, OutcomeAnswered, c1.Outcome)
	c2 := findRequest(t, res.State, "con-2")
	assert.True(t, c2.Breached)
	at, ok := h.requestBreachAt("con-2", sla.ClauseArchitectureConsulting)
	require.True(t, ok)
	assert.True(t, at.Equal(paid.Add(4*time.Hour+sla.Resolution)))
	assert.Equal(t, OutcomeCancelled, c2.Outcome)
	assert.Equal(t, workflows.StatusClosed, c2.Status)
	assert.Contains(t, h.EventNames(), workflows.EventRequestCancelled)
	// The cancelled request reported before the case closed, right at the end of the term.
	assert.True(t, h.Env.Now().Equal(sla.ButlerTermEnd(sla.EditionEscort, paid)), "closed at %v", h.Env.Now().In(sla.China))
}

// TestButlerEmergency: 15-minute response whatever the urgency; resolved within 5 natural days; a
// recurrence inside the 15 days is handled again without a new purchase; after them a new purchase is
// needed; no vulnerabilities or consulting.
func TestButlerEmergency(t *testing.T) {
	paid := casetest.CST(2026, 3, 2, 10)
	day := sla.Day
	incident := func(h *harness, rid string, start, restoreAt time.Duration) []string {
		var ids []string
		for _, s := range []struct {
			d       time.Duration
			step    string
			payload any
		}{
			{10 * time.Minute, StepRespond, RespondInput{}},
			{time.Hour, StepClassify, ClassifyInput{IncidentClass: sla.ClassNetworkAttack, Summary: "weak Redis password"}},
			{2 * time.Hour, StepEliminate, ActionsInput{Actions: []string{"removed miner"}}},
			{restoreAt, StepRestore, SummaryInput{Summary: "service back"}},
			{restoreAt + time.Hour, StepHarden, HardenInput{Recommendations: []string{"bind Redis to localhost"}}},
			{restoreAt + 2*time.Hour, StepReassess, SummaryInput{Summary: "clean"}},
			{restoreAt + 3*time.Hour, workflows.StepReport, SummaryInput{Summary: "miner removed"}},
			{restoreAt + 4*time.Hour, StepFollowUp, FollowUpInput{Note: "watching for 15 days"}},
		} {
			ids = append(ids, h.rpartner(start+s.d, rid, s.step, s.payload))
		}
		return ids
	}
	t.Run("resolved in time; recurrence reopens; after 15 days a new purchase", func(t *testing.T) {
		h := newHarness(t, paid, "p1")
		h.onboard()
		first := h.ask(time.Hour, RequestStepInput{Kind: sla.RequestIncident, Summary: "cryptominer", Urgency: sla.UrgencyNormal})
		ids := incident(h, "inc-1", time.Hour, 2*day)
		second := h.ask(3*day, RequestStepInput{Kind: sla.RequestIncident, Summary: "another", Urgency: sla.UrgencyNormal})
		vuln := h.ask(3*day+time.Minute, RequestStepInput{Kind: sla.RequestVulnerability, Summary: "x", Severity: sla.SeverityLow})
		cons := h.ask(3*day+2*time.Minute, RequestStepInput{Kind: sla.RequestConsulting, Summary: "x"})
		urg := h.urgency(time.Hour+5*time.Minute, "inc-1", sla.UrgencyUrgent)
		insp := h.partner(4*day, "p1", StepInspection, InspectionInput{Date: "2026-03-06", Checks: []InspectionCheck{{Item: InspectHosts, OK: true}}})
		recur := h.ask(10*day, RequestStepInput{Kind: sla.RequestIncident, RecurrenceOf: "inc-1"})
		ids = append(ids, incident(h, "inc-2", 10*day, 3*time.Hour)...)
		after := h.ask(15*day, RequestStepInput{Kind: sla.RequestIncident, RecurrenceOf: "inc-1"})
		res := h.run(input(sla.EditionEmergency, paid))
		h.RequireOK(first, recur)
		h.RequireOK(ids...)
		assert.ErrorContains(t, h.Results[second], "a new incident needs a new purchase")
		assert.ErrorContains(t, h.Results[vuln], "no vulnerability handling")
		assert.ErrorContains(t, h.Results[cons], "no architecture consulting")
		assert.Equal(t, workflows.RejectConflict, casetest.RejectionType(h.Results[urg]))
		assert.ErrorContains(t, h.Results[insp], "no daily inspection")
		assert.Equal(t, workflows.RejectConflict, casetest.RejectionType(h.Results[after]))
		assert.ErrorContains(t, h.Results[after], "the 15-day guarantee ended on 2026-03-17; a new purchase is needed")

		inc1 := findRequest(t, res.State, "inc-1")
		assert.Equal(t, sla.ClauseIncidentUrgent, inc1.SLA[0].Clause, "15 minutes whatever the urgency")
		assert.True(t, inc1.SLA[0].DueAt.Equal(paid.Add(time.Hour+15*time.Minute)))
		assert.Equal(t, sla.ClauseIncidentResolve, inc1.SLA[1].Clause)
		assert.True(t, inc1.SLA[1].DueAt.Equal(paid.Add(time.Hour+5*day)))
		assert.False(t, inc1.Breached)
		inc2 := findRequest(t, res.State, "inc-2")
		assert.Equal(t, "inc-1", inc2.RecurrenceOf)
		assert.Equal(t, OutcomeResolved, inc2.Outcome)
		assert.Contains(t, inc2.Summary, "recurrence of inc-1")
		assert.Contains(t, h.requestEvents("inc-2")[0].Detail, "cause: weak Redis password")
		require.Len(t, h.Docs(), 2)
		assert.Equal(t, []int{1, 2}, []int{h.Docs()[0].Version, h.Docs()[1].Version})
		assert.Equal(t, workflows.StageClosed, res.Stage)
		assert.True(t, h.Env.Now().Equal(casetest.CST(2026, 3, 17, 10)))
	})
	t.Run("not resolved within 5 days", func(t *testing.T) {
		h := newHarness(t, paid, "p1")
		h.onboard()
		h.ask(time.Hour, RequestStepInput{Kind: sla.RequestIncident, Summary: "ransomware"})
		ids := incident(h, "inc-1", time.Hour, 6*day)
		res := h.run(input(sla.EditionEmergency, paid))
		h.RequireOK(ids...)
		at, ok := h.requestBreachAt("inc-1", sla.ClauseIncidentResolve)
		require.True(t, ok)
		assert.True(t, at.Equal(paid.Add(time.Hour+5*day+sla.Resolution)), "breach at %v", at.In(sla.China))
		assert.True(t, findRequest(t, res.State, "inc-1").Breached)
		_, responseBreached := h.requestBreachAt("inc-1", sla.ClauseIncidentUrgent)
		assert.False(t, responseBreached)
	})
}

// TestButlerProfessional: servers bind irreversibly; the monthly report is e-mailed to the recipients.
func TestButlerProfessional(t *testing.T) {
	paid := casetest.CST(2026, 3, 2, 10)
	h := newHarness(t, paid, "p1")
	h.onboard()
	bind1 := h.market(2*time.Hour, StepServers, ServersInput{Bind: []string{"i-web1", "i-db1"}})
	bind2 := h.market(3*time.Hour, StepServers, ServersInput{Bind: []string{"i-db1", "i-cache1"}})
	unbind := h.market(4*time.Hour, StepServers, ServersInput{Unbind: []string{"i-web1"}})
	named := h.market(5*time.Hour, StepRecipients, RecipientsInput{Emails: []string{"ops@example.com", "Bob <bob@example.com>"}})
	plain := h.market(6*time.Hour, StepRecipients, RecipientsInput{Emails: []string{"ops@example.com", "sec@example.com"}})
	report := h.partner(casetest.CST(2026, 4, 2, 15).Sub(paid), "p1", workflows.StepReport, ReportInput{Period: "2026-03", Summary: "quiet month", Items: []string{"2 vulns fixed"}})
	res := h.run(input(sla.EditionProfessional, paid))
	h.RequireOK(bind1, bind2, plain, report)
	assert.ErrorContains(t, h.Results[unbind], "server binding cannot be undone (SPEC)")
	assert.Equal(t, workflows.RejectConflict, casetest.RejectionType(h.Results[unbind]))
	assert.Equal(t, workflows.RejectInvalid, casetest.RejectionType(h.Results[named]))
	assert.Equal(t, []string{"i-web1", "i-db1", "i-cache1"}, res.State.Servers)

	require.Len(t, h.Emails(), 1)
	m := h.Emails()[0]
	assert.Equal(t, []string{"ops@example.com", "sec@example.com"}, m.To)
	assert.Equal(t, caseID, m.CaseID)
	assert.Contains(t, m.Subject, "2026-03")
	assert.Contains(t, m.Text, "quiet month")
	assert.Contains(t, m.HTML, "<li>2 vulns fixed</li>")
	assert.Contains(t, h.EventNames(), workflows.EventReportEmailed)
	require.Len(t, res.State.Reports, 1)
	assert.Equal(t, m.To, res.State.Reports[0].EmailedTo)
	require.Len(t, h.Docs(), 1)
	assert.Equal(t, "service_report", h.Docs()[0].Kind)
	// Report 1 came in time; every later month due inside the term is missing and alerted 3 days after
	// it fell due (the 12th would fall due after the term).
	assert.Equal(t, []int{2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, res.State.Overdue)
	var overdue []time.Time
	for _, e := range h.Events() {
		if e.Event == string(workflows.EventReportOverdue) {
			overdue = append(overdue, e.At)
		}
	}
	require.NotEmpty(t, overdue)
	assert.True(t, overdue[0].Equal(casetest.CST(2026, 5, 5, 10).Add(50*time.Minute)), "first overdue alert at %v", overdue[0].In(sla.China))
}

// TestButlerNotProfessional: binding servers and e-mail recipients belong to the professional edition.
func TestButlerNotProfessional(t *testing.T) {
	paid := casetest.CST(2026, 3, 2, 10)
	h := newHarness(t, paid, "p1")
	h.onboard()
	servers := h.market(2*time.Hour, StepServers, ServersInput{Bind: []string{"i-web1"}})
	recipients := h.market(3*time.Hour, StepRecipients, RecipientsInput{Emails: []string{"ops@example.com"}})
	h.partner(casetest.CST(2026, 4, 2, 15).Sub(paid), "p1", workflows.StepReport, ReportInput{Period: "2026-03", Summary: "quiet"})
	h.run(input(sla.EditionEnterprise, paid))
	assert.Equal(t, workflows.RejectConflict, casetest.RejectionType(h.Results[servers]))
	assert.Equal(t, workflows.RejectConflict, casetest.RejectionType(h.Results[recipients]))
	assert.Empty(t, h.Emails())
}

// TestButlerInspection: a daily inspection's finding opens a vulnerability request; the same day twice
// is refused.
func TestButlerInspection(t *testing.T) {
	paid := casetest.CST(2026, 3, 2, 10)
	h := newHarness(t, paid, "p1")
	h.onboard()
	early := h.partner(40*time.Minute, "p1", StepInspection, InspectionInput{Date: "2026-03-02", Checks: []InspectionCheck{{Item: InspectHosts, OK: true}}})
	at := casetest.CST(2026, 3, 3, 18).Sub(paid)
	ok := h.partner(at, "p1", StepInspection, InspectionInput{Date: "2026-03-03",
		Checks: []InspectionCheck{
			{Item: InspectSecurityProducts, OK: true}, {Item: InspectNetwork, OK: true},
			{Item: InspectHosts, OK: false, Note: "3389 open to the internet"}, {Item: InspectApplication, OK: true}, {Item: InspectData, OK: true},
		},
		Findings: []InspectionFinding{
			{Summary: "RDP exposed on i-win1", Severity: sla.SeverityHigh, OpenVuln: true},
			{Summary: "old nginx banner", Severity: sla.SeverityLow},
		}})
	again := h.partner(at+time.Hour, "p1", StepInspection, InspectionInput{Date: "2026-03-03", Checks: []InspectionCheck{{Item: InspectHosts, OK: true}}})
	bad := h.partner(at+2*time.Hour, "p1", StepInspection, InspectionInput{Date: "2026-03-04", Checks: []InspectionCheck{{Item: "coffee", OK: true}}})
	h.rpartner(at+10*time.Minute, "vul-1", StepRespond, RespondInput{Note: "closing 3389"})
	res := h.run(input(sla.EditionEscort, paid))
	h.RequireOK(ok)
	assert.Equal(t, workflows.RejectConflict, casetest.RejectionType(h.Results[early]), "inspections start after the plan")
	assert.Equal(t, workflows.RejectConflict, casetest.RejectionType(h.Results[again]))
	assert.Equal(t, workflows.RejectInvalid, casetest.RejectionType(h.Results[bad]))
	require.Len(t, res.State.Inspections, 1)
	assert.Equal(t, []string{"vul-1"}, res.State.Inspections[0].Opened)
	v := findRequest(t, res.State, "vul-1")
	assert.Equal(t, sla.RequestVulnerability, v.Kind)
	assert.Equal(t, sla.SeverityHigh, v.Severity)
	assert.Equal(t, sla.ClauseVulnHigh, v.SLA[0].Clause)
	assert.False(t, v.Breached)
	assert.Len(t, res.State.Requests, 1)
}

// TestButlerContinueAsNew: a long subscription continues as new at its next wake-up though a request is
// open; the request reports to the next run, which carries the state: partner, plan, requests, the
// timeline sequence. (The old case waited for no request to be open, which a busy subscription never is.)
func TestButlerContinueAsNew(t *testing.T) {
	paid := casetest.CST(2026, 3, 2, 10)
	h := newHarness(t, paid, "p1")
	h.onboard()
	h.ask(2*time.Hour, RequestStepInput{Kind: sla.RequestConsulting, Summary: "zero trust?"})
	h.At(2*time.Hour+time.Minute, func() { h.meter.force(workflows.DefaultHistoryLimit) })
	respond := h.rpartner(2*time.Hour+10*time.Minute, "con-1", StepRespond, RespondInput{})
	answer := h.rpartner(2*time.Hour+20*time.Minute, "con-1", StepAnswer, SummaryInput{Summary: "start with SSO"})
	inc := h.ask(3*time.Hour, RequestStepInput{Kind: sla.RequestIncident, Summary: "defacement", Urgency: sla.UrgencyUrgent})
	respond2 := h.rpartner(3*time.Hour+5*time.Minute, "inc-2", StepRespond, RespondInput{})
	res := h.run(input(sla.EditionEnterprise, paid))
	h.RequireOK(respond, answer, inc, respond2)

	runs := h.meter.snapshot()
	// A year without a daily inspection alerts every working day: the history grows and continues as new again.
	require.GreaterOrEqual(t, len(runs), 2)
	// The first run ended when con-1's response woke it, con-1 still open, and carried it.
	assert.True(t, runs[1].started.Equal(paid.Add(2*time.Hour+10*time.Minute)), "second run at %v", runs[1].started.In(sla.China))
	assert.Equal(t, []string{"con-1"}, runs[1].open)
	assert.Equal(t, len(runs), res.State.Core.Runs)
	assert.Equal(t, workflows.StageClosed, res.Stage)
	assert.Equal(t, "p1", res.State.Core.PartnerID)
	require.NotNil(t, res.State.Plan)
	assert.Equal(t, 3, res.State.NextRequest)
	assert.Equal(t, OutcomeAnswered, findRequest(t, res.State, "con-1").Outcome)
	assert.False(t, findRequest(t, res.State, "inc-2").Breached)
	assert.Equal(t, 1, count(h.EventNames(), workflows.EventCaseOpened))
	keys := map[string]bool{}
	for _, e := range h.Events() {
		assert.False(t, keys[e.Key], "timeline key %s written twice", e.Key)
		keys[e.Key] = true
	}
}

// TestButlerRequestBeforeAcceptance: a request opened while the case waits for a partner runs its clock
// from receipt; the partner who accepts handles it; a foreign partner is refused.
func TestButlerRequestBeforeAcceptance(t *testing.T) {
	paid := casetest.CST(2026, 3, 2, 10)
	h := newHarness(t, paid, "p1")
	h.ask(10*time.Second, RequestStepInput{Kind: sla.RequestIncident, Summary: "site down, defaced", Urgency: sla.UrgencyUrgent})
	noUrgency := h.ask(20*time.Second, RequestStepInput{Kind: sla.RequestIncident, Summary: "x"})
	tooEarly := h.rpartner(30*time.Second, "inc-1", StepRespond, RespondInput{})
	h.partner(time.Minute, "p1", workflows.StepAccept, struct{}{})
	foreign := h.req(2*time.Minute, "inc-1", StepRespond, workflows.StepInput{Actor: workflows.ActorPartner, PartnerID: "p2", Payload: casetest.MustJSON(RespondInput{})})
	ok := h.rpartner(3*time.Minute, "inc-1", StepRespond, RespondInput{Note: "calling"})
	res := h.run(input(sla.EditionEscort, paid))
	assert.Equal(t, workflows.RejectInvalid, casetest.RejectionType(h.Results[noUrgency]))
	assert.Equal(t, workflows.RejectConflict, casetest.RejectionType(h.Results[tooEarly]))
	assert.Equal(t, workflows.RejectConflict, casetest.RejectionType(h.Results[foreign]))
	h.RequireOK(ok)
	assert.Equal(t, "p1", h.reqViews[ok].PartnerID)
	r := findRequest(t, res.State, "inc-1")
	assert.False(t, r.Breached)
	assert.True(t, r.SLA[0].DueAt.Equal(paid.Add(10*time.Second+15*time.Minute)))
}

// TestRequestTimersCancelled (defect 4): a request answered before its clock's warning and due instants
// leaves no timer behind to fire later. The old watcher waited with the SDK's timed Await, which does not
// cancel its timer when the condition wins, so the 50% warning and due timers still fired after the
// response and woke the request for nothing; workflows.Watch cancels its timer whenever the clocks change.
// The request runs on its own here, its signals to the case caught by a mock.
func TestRequestTimersCancelled(t *testing.T) {
	received := casetest.CST(2026, 3, 2, 10)
	tests := []struct {
		name      string
		kind      string
		severity  string
		respondAt time.Duration // before the first (50%) warning
	}{
		{"consultation, 1 hour", sla.RequestConsulting, "", 20 * time.Minute},
		{"high vulnerability, 15 minutes", sla.RequestVulnerability, sla.SeverityHigh, 5 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The request's Notify calls go to casetest's recording mock.
			h := casetest.New(t, received, nil, workflows.Registration{Name: RequestWorkflowName, Workflow: RequestWorkflow})
			env := h.Env
			env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: RequestWorkflowID(caseID, "r-1")})
			var mu sync.Mutex
			var emitted []activities.Event
			env.OnSignalExternalWorkflow(mock.Anything, caseID, "", SignalRequestEvent, mock.Anything).Return(
				func(_, _, _, _ string, arg any) error {
					mu.Lock()
					defer mu.Unlock()
					emitted = append(emitted, arg.(RequestEvent).Events...)
					return nil
				})
			var scheduled, cancelled int
			var fired []time.Time
			env.SetOnTimerScheduledListener(func(string, time.Duration) { scheduled++ })
			env.SetOnTimerFiredListener(func(string) { fired = append(fired, env.Now()) })
			env.SetOnTimerCanceledListener(func(string) { cancelled++ })
			step := func(d time.Duration, name string, payload any) {
				env.RegisterDelayedCallback(func() {
					env.UpdateWorkflowNoRejection(name, name, t, workflows.StepInput{Step: name, Actor: workflows.ActorPartner,
						PartnerID: "p1", At: env.Now(), Payload: casetest.MustJSON(payload)})
				}, d)
			}
			step(tt.respondAt, StepRespond, RespondInput{})
			if tt.kind == sla.RequestConsulting {
				step(3*time.Hour, StepAnswer, SummaryInput{Summary: "use a bastion host"})
			} else {
				step(3*time.Hour, StepIdentify, SummaryInput{Summary: "CVE-2024-6387"})
				step(3*time.Hour+time.Minute, StepImpact, ImpactInput{Scope: "one host"})
				step(3*time.Hour+2*time.Minute, StepVerify, VerifyInput{Exists: no()})
			}
			var res RequestResult
			h.Run(RequestWorkflowName, RequestInput{CaseID: caseID, RequestID: "r-1", Number: 1, Kind: tt.kind, Edition: sla.EditionEnterprise,
				PartnerID: "p1", Summary: "a question", Severity: tt.severity, ReceivedAt: received}, &res)
			assert.False(t, res.Breached)
			assert.Empty(t, fired, "timers fired after the response")
			assert.GreaterOrEqual(t, scheduled, 1, "the warning timer was set")
			assert.Equal(t, scheduled, cancelled, "every timer was cancelled")
			mu.Lock()
			defer mu.Unlock()
			assert.NotContains(t, names(emitted), workflows.EventSLAAtRisk)
			assert.NotContains(t, names(emitted), workflows.EventSLABreached)
			assert.Contains(t, names(emitted), workflows.EventResponded)
		})
	}
}

// TestButlerRequestEndsUnreported: a request whose workflow stops on an error without reporting (here its
// workflow is replaced by one that fails at once) is closed as failed, recorded and alerted once, so it
// no longer counts as open (it would hold a place of MaxOpenRequests for the rest of the term).
func TestButlerRequestEndsUnreported(t *testing.T) {
	paid := casetest.CST(2026, 3, 2, 10)
	h := newHarness(t, paid, "p1")
	h.Env.OnWorkflow(RequestWorkflowName, mock.Anything, mock.Anything).Return(RequestResult{}, errors.New("worker lost the request"))
	h.onboard()
	h.ask(2*time.Hour, RequestStepInput{Kind: sla.RequestConsulting, Summary: "how to segment the DB network"})
	var open int
	h.At(3*time.Hour, func() {
		v, err := h.Env.QueryWorkflowByID(caseID, workflows.QueryCaseView)
		require.NoError(t, err)
		var view workflows.CaseView
		require.NoError(t, v.Get(&view))
		var d Details
		b, _ := json.Marshal(view.Details)
		require.NoError(t, json.Unmarshal(b, &d))
		for _, r := range d.Requests {
			if r.Status != workflows.StatusClosed {
				open++
			}
		}
	})
	res := h.run(input(sla.EditionEscort, paid))
	assert.Equal(t, 0, open, "the failed request is closed at once, not at the end of the term")
	c1 := findRequest(t, res.State, "con-1")
	assert.Equal(t, OutcomeFailed, c1.Outcome)
	assert.Equal(t, workflows.StatusClosed, c1.Status)
	assert.Len(t, h.EventsNamed(workflows.EventRequestFailed), 1)
	assert.Equal(t, 1, h.CountNotes(label+" request failed"))
}

// TestButlerInspectionSameDayTwice: two inspections of one day sent at the same instant, each opening a
// vulnerability: the first is recorded, the second refused, though the first was still opening its
// request when the second was validated.
func TestButlerInspectionSameDayTwice(t *testing.T) {
	paid := casetest.CST(2026, 3, 2, 10)
	h := newHarness(t, paid, "p1")
	h.onboard()
	at := casetest.CST(2026, 3, 3, 18).Sub(paid)
	x := InspectionInput{Date: "2026-03-03", Checks: []InspectionCheck{{Item: InspectHosts, OK: false, Note: "3389 open"}},
		Findings: []InspectionFinding{{Summary: "RDP exposed on i-win1", Severity: sla.SeverityHigh, OpenVuln: true}}}
	in := workflows.StepInput{Step: StepInspection, Actor: workflows.ActorPartner, PartnerID: "p1", ActorName: "eng", Payload: casetest.MustJSON(x)}
	first := h.send(at, caseID, "inspection-1", in)
	second := h.send(at, caseID, "inspection-2", in)
	h.rpartner(at+10*time.Minute, "vul-1", StepRespond, RespondInput{Note: "closing 3389"})
	res := h.run(input(sla.EditionEscort, paid))
	h.RequireOK(first)
	assert.Equal(t, workflows.RejectConflict, casetest.RejectionType(h.Results[second]))
	assert.Len(t, res.State.Inspections, 1)
	assert.Len(t, res.State.Requests, 1, "one vulnerability request, not two")
}

// TestButlerCustomerNotices: the customer hears that the service channel is open, of each service report,
// and 30 and 7 days before a yearly term ends; the emergency edition's 15 days have no reminders.
func TestButlerCustomerNotices(t *testing.T) {
	paid := casetest.CST(2026, 3, 2, 10)
	h := newHarness(t, paid, "p1")
	h.onboard()
	h.partner(20*24*time.Hour, "p1", workflows.StepReport, ReportInput{Period: "2026-03", Summary: "all quiet"})
	h.run(input(sla.EditionEnterprise, paid))
	var kinds []string
	var reminders []activities.Event
	for _, e := range h.Events() {
		if e.Customer != nil {
			kinds = append(kinds, e.Customer.Kind)
		}
		if e.Event == string(workflows.EventTermReminder) {
			reminders = append(reminders, e)
		}
	}
	assert.Equal(t, []string{string(workflows.NoticePartnerAssigned), string(workflows.NoticeOnboarding), string(workflows.NoticeMonthlyReport),
		string(workflows.NoticeTermReminder), string(workflows.NoticeTermReminder)}, kinds)
	require.Len(t, reminders, 2)
	end := sla.ButlerTermEnd(sla.EditionEnterprise, paid)
	assert.True(t, reminders[0].At.Equal(end.AddDate(0, 0, -30)), "at %v", reminders[0].At.In(sla.China))
	assert.True(t, reminders[1].At.Equal(end.AddDate(0, 0, -7)), "at %v", reminders[1].At.In(sla.China))
	assert.Equal(t, map[string]string{"days": "7", "end": sla.ChinaDate(end)}, reminders[1].Customer.Args)

	h = newHarness(t, paid, "p1")
	h.onboard()
	h.run(input(sla.EditionEmergency, paid))
	for _, e := range h.Events() {
		assert.NotEqual(t, string(workflows.EventTermReminder), e.Event, "no reminders for the emergency edition")
	}
}
