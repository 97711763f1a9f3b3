package engagement

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-oss/steward/activities"
	"github.com/steward-oss/steward/sla"
	"github.com/steward-oss/steward/workflows"
	"github.com/steward-oss/steward/workflows/casetest"
)

// harness is the shared case harness with engagement's run and the checks its tests repeat.
type harness struct{ *casetest.Harness }

func newHarness(t *testing.T, start time.Time, partners ...string) *harness {
	return &harness{casetest.New(t, start, partners, Lifecycle.Workflows...)}
}

// run runs Workflow with in to completion and returns its result.
func (h *harness) run(in Input) Result {
	h.T.Helper()
	var res Result
	h.Run(WorkflowName, in, &res)
	return res
}

func caseInput(service string, quantity int, amount int64, paid time.Time) Input {
	return Input{CaseInput: workflows.CaseInput{CaseID: workflows.CaseWorkflowID(service, "O-1"), OrderID: "O-1", CustomerID: "C-1",
		Service: service, Quantity: quantity, AmountCents: amount, Currency: "CNY", PaidAt: paid}}
}

var (
	schedule    = ScheduleInput{StartsOn: "2026-03-10", EndsOn: "2026-03-12", Summary: "three days on site"}
	deliverable = DeliverableInput{Title: "服务报告", Summary: "done as planned", Items: []string{"finding 1", "advice 2"}}
)

// path drives a case from accept to the deliverable, from offset d.
func path(h *harness, d time.Duration) {
	h.Partner(d+time.Minute, "p1", workflows.StepAccept, struct{}{})
	h.Partner(d+time.Hour, "p1", StepSchedule, schedule)
	h.Partner(d+48*time.Hour, "p1", StepDeliver, DeliverInput{Summary: "work delivered"})
	h.Partner(d+50*time.Hour, "p1", workflows.StepDeliverable, deliverable)
}

// TestServices: every per-engagement service runs the same path: accept, schedule, deliver, the
// deliverable rendered as a service report, the customer's acceptance.
func TestServices(t *testing.T) {
	paid := casetest.CST(2026, 3, 2, 10)
	tests := []struct {
		name     string
		service  string
		quantity int
		amount   int64
		kloc     int
	}{
		{"consulting", sla.ServiceConsulting, 1, 2_000_000, 0},
		{"training", sla.ServiceTraining, 1, 800_000, 0},
		{"assessment", sla.ServiceAssessment, 1, 1_500_000, 0},
		{"code audit by volume", sla.ServiceCodeAudit, 120, 3_600_000, 120},
		{"onboarding is free", sla.ServiceOnboarding, 1, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, paid, "p1")
			path(h, 0)
			h.Market(60*time.Hour, StepAcceptDelivery, AcceptDeliveryInput{Rating: 5, Comment: "thorough"})
			res := h.run(caseInput(tt.service, tt.quantity, tt.amount, paid))
			h.RequireOK("accept@1m0s", "schedule@1h0m0s", "deliver@48h0m0s", "deliverable@50h0m0s", "accept_delivery@60h0m0s")
			assert.Equal(t, workflows.StageClosed, res.Stage)
			assert.Equal(t, workflows.StatusClosed, res.State.Core.Status)
			assert.Equal(t, tt.kloc, res.State.KLOC)
			assert.Equal(t, 5, res.State.Rating)
			require.NotNil(t, res.State.AcceptedAt)
			assert.False(t, res.State.DeemedAccept)
			assert.Equal(t, []workflows.Event{workflows.EventCaseOpened, workflows.EventPartnerOffered, workflows.EventPartnerAccepted,
				workflows.EventScheduleSet, workflows.EventWorkDelivered, workflows.EventDocumentDelivered, workflows.EventDeliveryAccepted}, h.EventNames())
			docs := h.Docs()
			require.Len(t, docs, 1)
			doc := docs[0]
			assert.Equal(t, DocumentKind, doc.Kind)
			assert.Equal(t, "服务报告", doc.Title)
			assert.Equal(t, 1, doc.Version)
			assert.Equal(t, Label(tt.service), doc.Meta[0].Value)
			if tt.service == sla.ServiceCodeAudit {
				assert.Contains(t, doc.Meta, activities.DocField{Label: "代码量 Code volume", Value: "120 KLOC"})
			}
			assert.Equal(t, tt.service, h.Rows()[0].Service)
			v := h.Views["deliverable@50h0m0s"]
			assert.Equal(t, StageAcceptance, v.Stage)
			require.Len(t, v.SLA, 2)
			assert.True(t, casetest.SLAEntry(t, v.SLA, ClauseAcceptance).DueAt.Equal(paid.Add(50*time.Hour+sla.VerdictWindow)))
			sched := casetest.SLAEntry(t, v.SLA, ClauseSchedule)
			assert.Equal(t, workflows.SLAMet, sched.Status, "scheduled an hour after acceptance")
			assert.True(t, sched.DueAt.Equal(casetest.CST(2026, 3, 9, 10).Add(time.Minute)), "5 working days after Monday 10:01: %v", sched.DueAt.In(sla.China))
			assert.Empty(t, h.EventsNamed(workflows.EventScheduleOverdue))
			assert.Equal(t, 1, v.Details.(Details).Runs)
		})
	}
}

// TestRejection: a rejected deliverable goes back to delivery; the second version carries the
// customer's feedback and is accepted.
func TestRejection(t *testing.T) {
	paid := casetest.CST(2026, 3, 2, 10)
	h := newHarness(t, paid, "p1")
	path(h, 0)
	h.Market(60*time.Hour, StepRejectDelivery, RejectDeliveryInput{Comment: "the web app was not tested"})
	h.Partner(61*time.Hour, "p1", workflows.StepDeliverable, deliverable) // deliver again first
	h.Partner(70*time.Hour, "p1", StepDeliver, DeliverInput{Summary: "web app tested"})
	h.Partner(71*time.Hour, "p1", workflows.StepDeliverable, DeliverableInput{Title: "服务报告", Summary: "now with the web app"})
	h.Market(80*time.Hour, StepAcceptDelivery, AcceptDeliveryInput{})
	res := h.run(caseInput(sla.ServiceAssessment, 1, 1_500_000, paid))
	h.RequireOK("reject_delivery@60h0m0s", "deliver@70h0m0s", "deliverable@71h0m0s", "accept_delivery@80h0m0s")
	assert.Equal(t, workflows.RejectConflict, casetest.RejectionType(h.Results["deliverable@61h0m0s"]))
	assert.Equal(t, StageDelivery, h.Views["reject_delivery@60h0m0s"].Stage)
	assert.Equal(t, workflows.StageClosed, res.Stage)
	require.Len(t, res.State.Rejections, 1)
	assert.Equal(t, 1, res.State.Rejections[0].Version)
	require.Len(t, res.State.Deliveries, 2)
	docs := h.Docs()
	require.Len(t, docs, 2)
	assert.Equal(t, 2, docs[1].Version)
	var feedback []string
	for _, s := range docs[1].Sections {
		if s.Heading == "客户意见 Feedback" {
			for _, r := range s.Table.Rows {
				feedback = append(feedback, r[2])
			}
		}
	}
	assert.Equal(t, []string{"the web app was not tested"}, feedback)
	assert.Equal(t, 1, h.CountNotes("安全评估 delivery rejected"))
	assert.Contains(t, h.EventNames(), workflows.EventDeliveryRejected)
}

// TestDeemedAccepted: no verdict within the verdict window closes the case as accepted.
func TestDeemedAccepted(t *testing.T) {
	paid := casetest.CST(2026, 3, 2, 10)
	h := newHarness(t, paid, "p1")
	path(h, 0)
	res := h.run(caseInput(sla.ServiceTraining, 1, 800_000, paid))
	assert.Equal(t, workflows.StageClosed, res.Stage)
	assert.True(t, res.State.DeemedAccept)
	assert.True(t, h.Env.Now().Equal(paid.Add(50*time.Hour+sla.VerdictWindow)), "closed at %v", h.Env.Now())
	events := h.Events()
	assert.Equal(t, string(workflows.EventDeliveryDeemedAccepted), events[len(events)-1].Event)
	assert.Equal(t, 1, h.CountNotes("安全培训 delivery deemed accepted"))
}

// TestStepValidation: steps out of order, from the wrong actor or malformed are refused before they
// touch history.
func TestStepValidation(t *testing.T) {
	paid := casetest.CST(2026, 3, 2, 10)
	h := newHarness(t, paid, "p1")
	h.Partner(10*time.Second, "p1", StepSchedule, schedule) // not accepted
	h.Partner(time.Minute, "p1", workflows.StepAccept, struct{}{})
	h.Partner(2*time.Minute, "p1", StepDeliver, DeliverInput{Summary: "x"}) // before the schedule
	h.Partner(3*time.Minute, "p1", workflows.StepDeliverable, deliverable)  // before delivery
	h.Market(4*time.Minute, StepAcceptDelivery, AcceptDeliveryInput{})      // nothing to accept
	h.Partner(5*time.Minute, "p1", StepSchedule, ScheduleInput{StartsOn: "2026-03-12", EndsOn: "2026-03-10", Summary: "x"})
	h.Partner(6*time.Minute, "p1", StepSchedule, ScheduleInput{StartsOn: "2026-03-01", EndsOn: "2026-03-10", Summary: "x"}) // before purchase
	h.Partner(7*time.Minute, "p1", StepSchedule, ScheduleInput{StartsOn: "2026-03-10", EndsOn: "2026-03-12"})
	h.Partner(8*time.Minute, "p1", StepSchedule, schedule)
	h.Partner(9*time.Minute, "p1", StepSchedule, ScheduleInput{StartsOn: "2026-03-16", EndsOn: "2026-03-17", Summary: "moved"})
	h.Partner(10*time.Minute, "p1", StepDeliver, DeliverInput{})
	h.Partner(11*time.Minute, "p2", StepDeliver, DeliverInput{Summary: "x"})
	h.Partner(12*time.Minute, "p1", StepDeliver, DeliverInput{Summary: "x"})
	h.Partner(13*time.Minute, "p1", StepSchedule, schedule) // after delivery
	h.Partner(14*time.Minute, "p1", workflows.StepDeliverable, DeliverableInput{Summary: "no title"})
	h.Partner(15*time.Minute, "p1", workflows.StepDeliverable, deliverable)
	h.Send(16*time.Minute, "partner-accepts", workflows.StepInput{Step: StepAcceptDelivery, Actor: workflows.ActorPartner, PartnerID: "p1", Payload: casetest.MustJSON(AcceptDeliveryInput{})})
	h.Market(17*time.Minute, StepRejectDelivery, RejectDeliveryInput{}) // a rejection needs a comment
	h.Market(18*time.Minute, StepAcceptDelivery, AcceptDeliveryInput{Rating: 9})
	h.Market(19*time.Minute, StepAcceptDelivery, AcceptDeliveryInput{Rating: 4})
	h.Market(20*time.Minute, StepRejectDelivery, RejectDeliveryInput{Comment: "too late"}) // closed
	res := h.run(caseInput(sla.ServiceConsulting, 1, 2_000_000, paid))
	conflict, invalid := workflows.RejectConflict, workflows.RejectInvalid
	want := map[string]string{
		"schedule@10s": conflict, "accept@1m0s": "", "deliver@2m0s": conflict, "deliverable@3m0s": conflict,
		"accept_delivery@4m0s": conflict, "schedule@5m0s": invalid, "schedule@6m0s": invalid, "schedule@7m0s": invalid,
		"schedule@8m0s": "", "schedule@9m0s": "", "deliver@10m0s": invalid, "deliver@11m0s": conflict, "deliver@12m0s": "",
		"schedule@13m0s": conflict, "deliverable@14m0s": invalid, "deliverable@15m0s": "", "partner-accepts": conflict,
		"reject_delivery@17m0s": invalid, "accept_delivery@18m0s": invalid, "accept_delivery@19m0s": "",
		"reject_delivery@20m0s": "not sent",
	}
	for id, kind := range want {
		switch kind {
		case "":
			assert.NoError(t, h.Results[id], id)
		case "not sent":
			assert.Error(t, h.Results[id], id) // the case finished before it arrived
		default:
			assert.Equal(t, kind, casetest.RejectionType(h.Results[id]), "%s: %v", id, h.Results[id])
		}
	}
	assert.Equal(t, workflows.StageClosed, res.Stage)
	assert.Equal(t, 2, res.State.Schedule.Version)
	assert.Equal(t, "2026-03-16", res.State.Schedule.StartsOn)
	assert.Equal(t, []workflows.Event{workflows.EventCaseOpened, workflows.EventPartnerOffered, workflows.EventPartnerAccepted,
		workflows.EventScheduleSet, workflows.EventScheduleSet, workflows.EventWorkDelivered, workflows.EventDocumentDelivered,
		workflows.EventDeliveryAccepted}, h.EventNames())
	events := h.Events()
	assert.True(t, strings.HasPrefix(events[4].Detail, "rescheduled, 2026-03-16 to 2026-03-17"), events[4].Detail)
}

// TestRefusesOtherServices: the workflow runs only the per-engagement services.
func TestRefusesOtherServices(t *testing.T) {
	h := newHarness(t, casetest.CST(2026, 3, 2, 10), "p1")
	h.Execute(WorkflowName, caseInput(sla.ServiceHosting, 1, 1, casetest.CST(2026, 3, 2, 10)))
	require.Error(t, h.Env.GetWorkflowError())
	assert.ErrorContains(t, h.Env.GetWorkflowError(), "is not one of")
}

// TestContinuesAsNew: a run asked to continue as new while the deliverable awaits its verdict carries
// the work and the core into the next run, which deems the delivery accepted at the same instant the
// first run would have.
func TestContinuesAsNew(t *testing.T) {
	paid := casetest.CST(2026, 3, 2, 10)
	h := newHarness(t, paid, "p1")
	path(h, 0)
	h.At(51*time.Hour, func() { h.Env.SetContinueAsNewSuggested(true) })
	h.Partner(52*time.Hour, "p1", StepDeliver, DeliverInput{Summary: "wakes the run"}) // refused: awaiting the verdict
	h.Execute(WorkflowName, caseInput(sla.ServiceCodeAudit, 40, 1_200_000, paid))
	require.True(t, h.Env.IsWorkflowCompleted())
	var can *workflow.ContinueAsNewError
	require.ErrorAs(t, h.Env.GetWorkflowError(), &can)
	assert.Equal(t, WorkflowName, can.WorkflowType.Name)
	var next Input
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.NotNil(t, next.State)
	assert.Equal(t, 1, next.State.Core.Runs)
	assert.Equal(t, StageAcceptance, next.State.Core.Stage)
	assert.Equal(t, 40, next.State.KLOC)
	assert.Len(t, next.State.Documents, 1)
	assert.Equal(t, workflows.DefaultAcceptTimeout, next.AcceptTimeout)

	h2 := newHarness(t, paid.Add(52*time.Hour), "p1")
	res := h2.run(next)
	assert.Equal(t, workflows.StageClosed, res.Stage)
	assert.Equal(t, 2, res.State.Core.Runs)
	assert.True(t, res.State.DeemedAccept)
	assert.True(t, h2.Env.Now().Equal(paid.Add(50*time.Hour+sla.VerdictWindow)), "closed at %v", h2.Env.Now())
	assert.Equal(t, []workflows.Event{workflows.EventDeliveryDeemedAccepted}, h2.EventNames(), "no second case_opened")
	run1, run2 := h.Events(), h2.Events()
	assert.Greater(t, run2[0].Key, run1[len(run1)-1].Key, "the timeline's sequence carries on")
}

// TestScheduleOverdue: a schedule still missing 5 working days (5x8, China's holidays and make-up days)
// after the partner accepted alerts operations and the partner once, at the due instant; the schedule that
// comes later is taken, marked late, and the case runs on. Accepted on 30 September 2026 at 16:00, the
// National Day holiday (1–7 October) does not count and Saturday 10 October, a make-up day, does: due
// Tuesday 13 October 16:00.
func TestScheduleOverdue(t *testing.T) {
	paid := casetest.CST(2026, 9, 30, 15).Add(59 * time.Minute)
	due := casetest.CST(2026, 10, 13, 16)
	lateBy := time.Hour
	h := newHarness(t, paid, "p1")
	h.Partner(time.Minute, "p1", workflows.StepAccept, struct{}{})
	at := due.Add(lateBy).Sub(paid)
	h.Partner(at, "p1", StepSchedule, ScheduleInput{StartsOn: "2026-10-20", EndsOn: "2026-10-21", Summary: "two days on site"})
	h.Partner(at+sla.Day, "p1", StepDeliver, DeliverInput{Summary: "work delivered"})
	h.Partner(at+2*sla.Day, "p1", workflows.StepDeliverable, deliverable)
	h.Market(at+3*sla.Day, StepAcceptDelivery, AcceptDeliveryInput{Rating: 4})
	res := h.run(caseInput(sla.ServiceConsulting, 1, 2_000_000, paid))

	assert.Equal(t, workflows.StageClosed, res.Stage)
	overdue := h.EventsNamed(workflows.EventScheduleOverdue)
	require.Len(t, overdue, 1)
	assert.True(t, overdue[0].At.Equal(due), "alerted at %v; want %v", overdue[0].At.In(sla.China), due)
	assert.Equal(t, "no schedule 5 working days after the partner accepted (due 2026-10-13 16:00 CST); operations and the partner were alerted", overdue[0].Detail)
	assert.True(t, res.State.ScheduleOverdue)
	require.Equal(t, 1, h.CountNotes("安全咨询 schedule overdue"))
	for _, n := range h.Notes() {
		if n.Message.Title == "安全咨询 schedule overdue" {
			assert.Equal(t, "p1", n.PartnerID, "the partner is alerted too")
		}
	}
	assert.Contains(t, h.EventsNamed(workflows.EventPartnerAccepted)[0].Detail, "schedule due by 2026-10-13 16:00 CST")
	assert.Contains(t, h.EventsNamed(workflows.EventScheduleSet)[0].Detail, "(late: due 2026-10-13 16:00 CST)")
	e := casetest.SLAEntry(t, h.Views[StepSchedule+"@"+at.String()].SLA, ClauseSchedule)
	assert.True(t, e.Breached)
	assert.Equal(t, "late by 1 h", e.Margin)
	assert.Equal(t, workflows.SLABreached, h.LastRow().SLAStatus, "the overdue schedule stays on the case")
	var sawDue bool
	for _, r := range h.Rows() {
		if r.NextDeadline != nil && r.NextDeadline.Equal(due) {
			sawDue = true
		}
	}
	assert.True(t, sawDue, "the schedule's due instant was the case's next deadline while it was awaited")
}

// TestScheduleInTime: a schedule before its due instant cancels the alert; none is raised later.
func TestScheduleInTime(t *testing.T) {
	paid := casetest.CST(2026, 3, 2, 10)
	h := newHarness(t, paid, "p1")
	h.Partner(time.Minute, "p1", workflows.StepAccept, struct{}{})
	h.Partner(4*sla.Day, "p1", StepSchedule, schedule) // Friday: inside the 5 working days
	h.Partner(20*sla.Day, "p1", StepDeliver, DeliverInput{Summary: "work delivered"})
	h.Partner(20*sla.Day+time.Hour, "p1", workflows.StepDeliverable, deliverable)
	h.Market(21*sla.Day, StepAcceptDelivery, AcceptDeliveryInput{})
	res := h.run(caseInput(sla.ServiceTraining, 1, 800_000, paid))
	assert.Equal(t, workflows.StageClosed, res.Stage)
	assert.True(t, h.Env.Now().Equal(paid.Add(21*sla.Day)), "closed at the acceptance, %v", h.Env.Now())
	assert.Empty(t, h.EventsNamed(workflows.EventScheduleOverdue))
	assert.Zero(t, h.CountNotes("安全培训 schedule overdue"))
	assert.False(t, res.State.ScheduleOverdue)
	assert.Equal(t, workflows.SLAMet, h.LastRow().SLAStatus)
}

// TestVerdictWindowFromInput: a case started with its own verdict window is deemed accepted at its end;
// a run that continues as new keeps it; a window out of range fails the case.
func TestVerdictWindowFromInput(t *testing.T) {
	paid := casetest.CST(2026, 3, 2, 10)
	h := newHarness(t, paid, "p1")
	path(h, 0)
	in := caseInput(sla.ServiceAssessment, 1, 1_500_000, paid)
	in.VerdictWindow = 3 * sla.Day
	res := h.run(in)
	assert.True(t, res.State.DeemedAccept)
	assert.True(t, h.Env.Now().Equal(paid.Add(50*time.Hour+3*sla.Day)), "deemed accepted at %v", h.Env.Now())
	assert.Contains(t, h.EventsNamed(workflows.EventDeliveryDeemedAccepted)[0].Detail, "within 3 days")

	h = newHarness(t, paid, "p1")
	in.VerdictWindow = sla.MaxVerdictWindow + sla.Day
	h.Execute(WorkflowName, in)
	require.True(t, h.Env.IsWorkflowCompleted())
	assert.Equal(t, workflows.RejectInvalid, casetest.RejectionType(h.Env.GetWorkflowError()))
}
