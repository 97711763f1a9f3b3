package escort

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-oss/steward/activities"
	"github.com/steward-oss/steward/notifications"
	"github.com/steward-oss/steward/sla"
	"github.com/steward-oss/steward/workflows"
	"github.com/steward-oss/steward/workflows/casetest"
)

// harness is the shared casetest harness running Workflow, with the escort-specific helpers: check-ins
// (which need the run's start instant), typed runs, and queries on events and notifications.
type harness struct {
	*casetest.Harness
	start time.Time
}

func newHarness(t *testing.T, start time.Time, partners ...string) *harness {
	return &harness{Harness: casetest.New(t, start, partners, Lifecycle.Workflows...), start: start}
}

// checkin sends a check-in for day at the instant at; it returns the step's name.
func (h *harness) checkin(at time.Time, day string) string {
	d := at.Sub(h.start)
	h.Partner(d, "p1", StepCheckin, CheckinInput{Day: day, Engineer: "Zhang Wei", Notes: "all quiet"})
	return StepCheckin + "@" + d.String()
}

func (h *harness) run(in Input) Result {
	h.T.Helper()
	var res Result
	h.Run(WorkflowName, in, &res)
	return res
}

func (h *harness) eventTimes(name workflows.Event) []time.Time {
	var at []time.Time
	for _, e := range h.EventsNamed(name) {
		at = append(at, e.At)
	}
	return at
}

func (h *harness) eventAt(name workflows.Event) time.Time {
	h.T.Helper()
	at := h.eventTimes(name)
	if len(at) == 0 {
		h.T.Fatalf("no %s event in %v", name, h.EventNames())
	}
	return at[0]
}

// note is the notification titled title.
func (h *harness) note(title string) activities.NotifyInput {
	h.T.Helper()
	for _, n := range h.Notes() {
		if n.Message.Title == title {
			return n
		}
	}
	h.T.Fatalf("no notification %q", title)
	return activities.NotifyInput{}
}

func escortInput(paid time.Time, days int) workflows.CaseInput {
	return workflows.CaseInput{CaseID: "escort:O-1", OrderID: "O-1", CustomerID: "C-1", Service: workflows.ServiceEscort, Quantity: days,
		AmountCents: 900_000, Currency: "CNY", PaidAt: paid}
}

var escortPlan = PlanInput{StartsOn: "2026-05-01", Summary: "National Day launch: 7x24 monitoring of the shop",
	Items: []string{"WAF rules reviewed", "DDoS protection raised", "daily log review"}}

func TestDays(t *testing.T) {
	days, err := Days("2026-02-27", 3)
	require.NoError(t, err)
	var names []string
	for _, d := range days {
		names = append(names, d.Day)
	}
	assert.Equal(t, []string{"2026-02-27", "2026-02-28", "2026-03-01"}, names)
	assert.True(t, days[2].Start.Equal(casetest.CST(2026, 3, 1, 0)), "start %v", days[2].Start)
	if _, err := Days("2026-13-01", 1); err == nil {
		t.Errorf("Days(2026-13-01) = nil error; want one")
	}
}

// TestAllCheckedIn: every covered day checked in before 10:00 → closed after the last day, no alert.
func TestAllCheckedIn(t *testing.T) {
	paid := casetest.CST(2026, 4, 20, 10)
	h := newHarness(t, paid, "p1")
	h.Partner(time.Minute, "p1", workflows.StepAccept, struct{}{})
	h.Partner(time.Hour, "p1", workflows.StepPlan, escortPlan)
	ids := []string{h.checkin(casetest.CST(2026, 5, 1, 8), "2026-05-01"), h.checkin(casetest.CST(2026, 5, 2, 9), "2026-05-02"), h.checkin(casetest.CST(2026, 5, 3, 0), "2026-05-03")}
	res := h.run(Input{CaseInput: escortInput(paid, 3)})
	h.RequireOK(append(ids, "accept@1m0s", "plan@1h0m0s")...)
	assert.Equal(t, workflows.StageClosed, res.Stage)
	assert.Equal(t, casetest.CST(2026, 5, 4, 0), h.Env.Now().In(sla.China), "closes at the end of the last covered day")
	assert.Empty(t, h.eventTimes(workflows.EventCheckinMissed))
	assert.Empty(t, h.eventTimes(workflows.EventDayMissed))
	assert.Zero(t, h.CountNotes("安全护航 check-in missing"))
	assert.Equal(t, "3 covered days (2026-05-01 to 2026-05-03): 3 checked in, 0 missed", res.State.Summary)
	assert.True(t, h.eventAt(workflows.EventEscortStarted).Equal(casetest.CST(2026, 5, 1, 0)))
	for _, d := range res.State.Days {
		assert.NotNil(t, d.CheckedInAt, d.Day)
		assert.False(t, d.Late || d.Alerted || d.Missed, d.Day)
	}
	assert.Equal(t, workflows.SLAMet, h.LastRow().SLAStatus, "every day checked in by 10:00")
	assert.Equal(t, notifications.SeverityInfo, h.note("安全护航 escort ended").Message.Severity)
	assert.Equal(t, []workflows.Event{workflows.EventCaseOpened, workflows.EventPartnerOffered, workflows.EventPartnerAccepted,
		workflows.EventPlanAgreed, workflows.EventEscortStarted, workflows.EventCheckedIn, workflows.EventCheckedIn,
		workflows.EventCheckedIn, workflows.EventCaseClosed}, h.EventNames())
	plan := casetest.SLAEntry(t, h.Views["plan@1h0m0s"].SLA, ClausePlan)
	assert.Equal(t, workflows.SLAMet, plan.Status, "a plan an hour after acceptance is in time")
	assert.True(t, plan.DueAt.Equal(casetest.CST(2026, 4, 22, 10).Add(time.Minute)), "2 working days after Monday 10:01: %v", plan.DueAt.In(sla.China))
}

// TestMissedAndLate: a day without a check-in alerts at exactly 10:00 and is recorded as missed at its
// end; a check-in after the alert is accepted but counted late; wrong days are refused.
func TestMissedAndLate(t *testing.T) {
	paid := casetest.CST(2026, 4, 20, 10)
	h := newHarness(t, paid, "p1")
	h.Partner(time.Minute, "p1", workflows.StepAccept, struct{}{})
	h.Partner(time.Hour, "p1", workflows.StepPlan, escortPlan)
	ok1 := h.checkin(casetest.CST(2026, 5, 1, 8), "2026-05-01")
	twice := h.checkin(casetest.CST(2026, 5, 1, 9), "2026-05-01")
	early := h.checkin(casetest.CST(2026, 5, 1, 10), "2026-05-02")
	uncovered := h.checkin(casetest.CST(2026, 5, 1, 11), "2026-05-05")
	over := h.checkin(casetest.CST(2026, 5, 3, 1), "2026-05-02")
	late := h.checkin(casetest.CST(2026, 5, 3, 11), "2026-05-03")
	res := h.run(Input{CaseInput: escortInput(paid, 3)})

	h.RequireOK(ok1, late)
	for id, msg := range map[string]string{twice: "already checked in", early: "has not begun", uncovered: "not a covered day", over: "over and was recorded as missed"} {
		assert.Equal(t, workflows.RejectConflict, casetest.RejectionType(h.Results[id]), "%s: %v", id, h.Results[id])
		assert.ErrorContains(t, h.Results[id], msg, id)
	}
	alerts := h.eventTimes(workflows.EventCheckinMissed)
	require.Len(t, alerts, 2)
	assert.True(t, alerts[0].Equal(casetest.CST(2026, 5, 2, 10)), "first alert at %v", alerts[0].In(sla.China))
	assert.True(t, alerts[1].Equal(casetest.CST(2026, 5, 3, 10)), "second alert at %v", alerts[1].In(sla.China))
	missed := h.eventTimes(workflows.EventDayMissed)
	require.Len(t, missed, 1)
	assert.True(t, missed[0].Equal(casetest.CST(2026, 5, 3, 0)))
	assert.Equal(t, 2, h.CountNotes("安全护航 check-in missing"))
	for _, n := range h.Notes() {
		if n.Message.Title == "安全护航 check-in missing for 2026-05-02" {
			assert.Equal(t, "p1", n.PartnerID, "the alert goes to the partner too")
		}
	}

	assert.Equal(t, workflows.StageClosed, res.Stage)
	days := res.State.Days
	require.Len(t, days, 3)
	assert.False(t, days[0].Late || days[0].Missed)
	assert.True(t, days[1].Missed && days[1].Alerted && days[1].CheckedInAt == nil)
	assert.True(t, days[2].Late && days[2].Alerted && !days[2].Missed)
	assert.Equal(t, "3 covered days (2026-05-01 to 2026-05-03): 2 checked in (1 late: 2026-05-03), 1 missed (2026-05-02)", res.State.Summary)
	assert.Equal(t, workflows.SLABreached, h.LastRow().SLAStatus)
	assert.Equal(t, notifications.SeverityWarning, h.note("安全护航 escort ended").Message.Severity, "a missed day")

	var checkins []workflows.SLAEntry
	for _, e := range h.Views[late].SLA {
		if strings.HasPrefix(e.Clause, ClauseCheckin+" ") {
			checkins = append(checkins, e)
		}
	}
	require.Len(t, checkins, 3)
	assert.False(t, checkins[0].Breached)
	assert.True(t, checkins[1].Breached)
	assert.True(t, checkins[2].Breached)
	assert.Equal(t, "checkin 2026-05-03", checkins[2].Clause)
	assert.True(t, checkins[2].DueAt.Equal(casetest.CST(2026, 5, 3, 10)))
	assert.False(t, casetest.SLAEntry(t, h.Views[late].SLA, ClausePlan).Breached, "the plan came in time")
}

// TestPlanValidation: the plan needs the partner holding the case, a real future date, a summary and
// items; it can be revised until the first covered day begins, which moves the days.
func TestPlanValidation(t *testing.T) {
	paid := casetest.CST(2026, 4, 20, 10)
	h := newHarness(t, paid, "p1")
	h.Partner(10*time.Second, "p1", workflows.StepPlan, escortPlan) // not accepted yet
	h.Partner(time.Minute, "p1", workflows.StepAccept, struct{}{})
	h.Partner(2*time.Minute, "p1", StepCheckin, CheckinInput{Day: "2026-05-01", Engineer: "x"}) // no plan yet
	h.Partner(3*time.Minute, "p1", workflows.StepPlan, PlanInput{StartsOn: "2026-5-1", Summary: "x", Items: []string{"x"}})
	h.Partner(4*time.Minute, "p1", workflows.StepPlan, PlanInput{StartsOn: "2026-04-19", Summary: "x", Items: []string{"x"}})
	h.Partner(5*time.Minute, "p1", workflows.StepPlan, PlanInput{StartsOn: "2026-05-01", Items: []string{"x"}})
	h.Partner(6*time.Minute, "p1", workflows.StepPlan, PlanInput{StartsOn: "2026-05-01", Summary: "x"})
	h.Partner(7*time.Minute, "p1", workflows.StepPlan, PlanInput{StartsOn: "2027-06-01", Summary: "x", Items: []string{"x"}})
	h.Send(8*time.Minute, "unknown-field", workflows.StepInput{Step: workflows.StepPlan, Actor: workflows.ActorPartner, PartnerID: "p1",
		Payload: []byte(`{"starts_on":"2026-05-01","summary":"x","items":["x"],"ends_on":"2026-05-03"}`)})
	h.Partner(9*time.Minute, "p2", workflows.StepPlan, escortPlan) // another partner
	h.Partner(10*time.Minute, "p1", workflows.StepPlan, escortPlan)
	h.Partner(11*time.Minute, "p1", workflows.StepPlan, PlanInput{StartsOn: "2026-05-04", Summary: "moved after the launch slipped", Items: []string{"x"}})
	h.Partner(casetest.CST(2026, 5, 4, 1).Sub(paid), "p1", workflows.StepPlan, PlanInput{Days: []string{"2026-05-05", "2026-05-06"},
		Summary: "x", Items: []string{"x"}}) // the escort has begun: 2026-05-04 cannot move
	h.Partner(casetest.CST(2026, 5, 4, 2).Sub(paid), "p1", StepCheckin, CheckinInput{Day: "2026-05-04"})
	h.Partner(casetest.CST(2026, 5, 4, 3).Sub(paid), "p1", workflows.StepClose, struct{}{})
	h.RunUntil(WorkflowName, Input{CaseInput: escortInput(paid, 2)}, casetest.CST(2026, 5, 4, 4).Sub(paid))
	want := map[string]string{
		"plan@10s": workflows.RejectConflict, "accept@1m0s": "", "checkin@2m0s": workflows.RejectConflict,
		"plan@3m0s": workflows.RejectInvalid, "plan@4m0s": workflows.RejectInvalid, "plan@5m0s": workflows.RejectInvalid,
		"plan@6m0s": workflows.RejectInvalid, "plan@7m0s": workflows.RejectInvalid, "unknown-field": workflows.RejectInvalid,
		"plan@9m0s": workflows.RejectConflict, "plan@10m0s": "", "plan@11m0s": "",
		"plan@" + casetest.CST(2026, 5, 4, 1).Sub(paid).String():    workflows.RejectConflict,
		"checkin@" + casetest.CST(2026, 5, 4, 2).Sub(paid).String(): workflows.RejectInvalid,
		"close@" + casetest.CST(2026, 5, 4, 3).Sub(paid).String():   casetest.UnknownStep,
	}
	for id, kind := range want {
		if kind == "" {
			assert.NoError(t, h.Results[id], id)
		} else {
			assert.Equal(t, kind, casetest.RejectionType(h.Results[id]), "%s: %v", id, h.Results[id])
		}
	}
	d, ok := h.Views["plan@11m0s"].Details.(Details)
	require.True(t, ok)
	assert.Equal(t, 2, d.Plan.Version)
	assert.Equal(t, "2026-05-05", d.Plan.EndsOn)
	assert.ErrorContains(t, h.Results["plan@"+casetest.CST(2026, 5, 4, 1).Sub(paid).String()], "2026-05-04 has begun and cannot move")
	assert.ErrorContains(t, h.Results["plan@4m0s"], "starts_on: 2026-04-19 is in the past (today is 2026-04-20 in China)")
	assert.Equal(t, StageScheduled, h.Views["plan@11m0s"].Stage)
	assert.Empty(t, h.eventTimes(workflows.EventCheckinMissed), "no alert for the days the first plan named")
	assert.True(t, h.eventAt(workflows.EventEscortStarted).Equal(casetest.CST(2026, 5, 4, 0)))
	assert.Equal(t, []workflows.Event{workflows.EventCaseOpened, workflows.EventPartnerOffered, workflows.EventPartnerAccepted,
		workflows.EventPlanAgreed, workflows.EventPlanRevised, workflows.EventEscortStarted}, h.EventNames())
}

// TestContinueAsNew: a run that continues as new mid-escort keeps the days, the alerts already sent and
// the check-ins.
func TestContinueAsNew(t *testing.T) {
	paid := casetest.CST(2026, 4, 20, 10)
	h := newHarness(t, paid, "p1")
	h.Partner(time.Minute, "p1", workflows.StepAccept, struct{}{})
	h.Partner(time.Hour, "p1", workflows.StepPlan, escortPlan)
	h.checkin(casetest.CST(2026, 5, 1, 8), "2026-05-01")
	h.At(casetest.CST(2026, 5, 2, 11).Sub(paid), func() { h.Env.SetCurrentHistoryLength(workflows.DefaultHistoryLimit) })
	h.Execute(WorkflowName, Input{CaseInput: escortInput(paid, 3)})
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(h.Env.GetWorkflowError(), &can), "want continue-as-new, got %v", h.Env.GetWorkflowError())
	assert.Equal(t, WorkflowName, can.WorkflowType.Name)
	var next Input
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.NotNil(t, next.State)
	assert.Equal(t, StageOnDuty, next.State.Stage)
	assert.True(t, next.State.Days[1].Alerted)

	h2 := newHarness(t, h.Env.Now(), "p1")
	late := h2.checkin(casetest.CST(2026, 5, 2, 12), "2026-05-02")
	res := h2.run(next)
	h2.RequireOK(late)
	assert.Len(t, h2.eventTimes(workflows.EventCheckinMissed), 1, "only 05-03's alert is new")
	assert.True(t, res.State.Days[1].Late)
	assert.True(t, res.State.Days[2].Missed)
	assert.Equal(t, 2, res.State.Runs)
}

// TestPlanOverdue: no protection plan 2 working days (5x8, China's holidays) after the partner accepted
// alerts operations and the partner once, at the due instant; the plan that comes later is taken, marked
// late, and the escort runs. Accepted on Thursday 30 April 2026 at 17:01, the Labour Day holiday (1–5 May)
// does not count: due Thursday 7 May 17:01.
func TestPlanOverdue(t *testing.T) {
	paid := casetest.CST(2026, 4, 30, 17)
	due := casetest.CST(2026, 5, 7, 17).Add(time.Minute)
	h := newHarness(t, paid, "p1")
	h.Partner(time.Minute, "p1", workflows.StepAccept, struct{}{})
	planAt := due.Add(2 * time.Hour).Sub(paid)
	h.Partner(planAt, "p1", workflows.StepPlan, PlanInput{StartsOn: "2026-05-10", Summary: "launch", Items: []string{"WAF rules"}})
	h.checkin(casetest.CST(2026, 5, 10, 9), "2026-05-10")
	res := h.run(Input{CaseInput: escortInput(paid, 1)})

	assert.Equal(t, workflows.StageClosed, res.Stage)
	assert.Equal(t, casetest.CST(2026, 5, 11, 0), h.Env.Now().In(sla.China))
	overdue := h.eventTimes(workflows.EventPlanOverdue)
	require.Len(t, overdue, 1, "alerted once")
	assert.True(t, overdue[0].Equal(due), "alerted at %v; want %v", overdue[0].In(sla.China), due)
	assert.Equal(t, "no protection plan 2 working days after the partner accepted (due 2026-05-07 17:01 CST); operations and the partner were alerted",
		h.EventsNamed(workflows.EventPlanOverdue)[0].Detail)
	n := h.note("安全护航 protection plan overdue")
	assert.Equal(t, "p1", n.PartnerID, "the partner is alerted too")
	assert.Equal(t, notifications.SeverityCritical, n.Message.Severity)
	assert.Contains(t, h.EventsNamed(workflows.EventPartnerAccepted)[0].Detail, "protection plan due by 2026-05-07 17:01 CST")
	assert.Contains(t, h.EventsNamed(workflows.EventPlanAgreed)[0].Detail, "(late: due 2026-05-07 17:01 CST)")
	plan := casetest.SLAEntry(t, h.Views[workflows.StepPlan+"@"+planAt.String()].SLA, ClausePlan)
	assert.True(t, plan.Breached)
	assert.Equal(t, "late by 2 h", plan.Margin)
	assert.True(t, res.State.PlanOverdue)
	assert.Equal(t, workflows.SLABreached, h.LastRow().SLAStatus, "the overdue plan stays on the case")
	var sawDue bool
	for _, r := range h.Rows() {
		sawDue = sawDue || (r.NextDeadline != nil && r.NextDeadline.Equal(due))
	}
	assert.True(t, sawDue, "the plan's due instant was the case's next deadline while it was awaited")
}

// TestPlanRevisions: revisions reschedule, extend and split the covered days within the days bought; a
// day that has begun (and its check-in) stays; a revision that moves it or covers more days than bought
// is refused; a dropped day raises nothing and takes no check-in.
func TestPlanRevisions(t *testing.T) {
	paid := casetest.CST(2026, 4, 20, 10)
	h := newHarness(t, paid, "p1")
	plan := func(at time.Time, p PlanInput) string {
		p.Summary, p.Items = "launch, then the sale", []string{"WAF rules"}
		h.Partner(at.Sub(paid), "p1", workflows.StepPlan, p)
		return workflows.StepPlan + "@" + at.Sub(paid).String()
	}
	h.Partner(time.Minute, "p1", workflows.StepAccept, struct{}{})
	v1 := plan(paid.Add(time.Hour), PlanInput{Days: []string{"2026-05-01", "2026-05-02"}}) // 2 of the 4 days bought
	in1 := h.checkin(casetest.CST(2026, 5, 1, 8), "2026-05-01")
	v2 := plan(casetest.CST(2026, 5, 1, 12), PlanInput{StartsOn: "2026-05-05"}) // the rest, from the 5th: 3 days
	moved := plan(casetest.CST(2026, 5, 1, 13), PlanInput{Days: []string{"2026-05-05", "2026-05-06", "2026-05-07", "2026-05-08"}})
	tooMany := plan(casetest.CST(2026, 5, 1, 14), PlanInput{Days: []string{"2026-05-01", "2026-05-05", "2026-05-06", "2026-05-07", "2026-05-08"}})
	in5 := h.checkin(casetest.CST(2026, 5, 5, 9), "2026-05-05")
	v3 := plan(casetest.CST(2026, 5, 5, 12), PlanInput{Days: []string{"2026-05-10", "2026-05-01", "2026-05-05", "2026-05-08"}}) // split
	dropped := h.checkin(casetest.CST(2026, 5, 6, 9), "2026-05-06")
	in8 := h.checkin(casetest.CST(2026, 5, 8, 9), "2026-05-08")
	in10 := h.checkin(casetest.CST(2026, 5, 10, 9), "2026-05-10")
	res := h.run(Input{CaseInput: escortInput(paid, 4)})

	h.RequireOK(v1, in1, v2, in5, v3, in8, in10)
	assert.Equal(t, workflows.RejectConflict, casetest.RejectionType(h.Results[moved]))
	assert.ErrorContains(t, h.Results[moved], "2026-05-01 has begun and cannot move")
	assert.Equal(t, workflows.RejectConflict, casetest.RejectionType(h.Results[tooMany]))
	assert.ErrorContains(t, h.Results[tooMany], "5 covered days; the order bought 4")
	assert.ErrorContains(t, h.Results[dropped], "2026-05-06 is not a covered day; the escort covers 2026-05-01, 2026-05-05, 2026-05-08, 2026-05-10")

	assert.Equal(t, workflows.StageClosed, res.Stage)
	assert.Equal(t, casetest.CST(2026, 5, 11, 0), h.Env.Now().In(sla.China), "closes after the last covered day")
	var days []string
	for _, d := range res.State.Days {
		days = append(days, d.Day)
		assert.NotNil(t, d.CheckedInAt, d.Day)
		assert.False(t, d.Alerted || d.Missed || d.Late, d.Day)
	}
	assert.Equal(t, []string{"2026-05-01", "2026-05-05", "2026-05-08", "2026-05-10"}, days)
	assert.True(t, res.State.Days[0].CheckedInAt.Equal(casetest.CST(2026, 5, 1, 8)), "the begun day keeps its check-in")
	assert.Empty(t, h.eventTimes(workflows.EventCheckinMissed), "no alert for a day dropped before it began")
	assert.Empty(t, h.eventTimes(workflows.EventDayMissed))
	started := h.eventTimes(workflows.EventEscortStarted)
	require.Len(t, started, 1, "started once")
	assert.True(t, started[0].Equal(casetest.CST(2026, 5, 1, 0)))
	revised := h.EventsNamed(workflows.EventPlanRevised)
	require.Len(t, revised, 2)
	assert.Equal(t, "plan v2: 4 covered days, 2026-05-01, 2026-05-05, 2026-05-06, 2026-05-07 (added 2026-05-05, 2026-05-06, 2026-05-07; dropped 2026-05-02); 1 checks: WAF rules", revised[0].Detail)
	assert.Contains(t, revised[1].Detail, "plan v3: 4 covered days, 2026-05-01, 2026-05-05, 2026-05-08, 2026-05-10 (added 2026-05-08, 2026-05-10; dropped 2026-05-06, 2026-05-07)")
	assert.Equal(t, 3, res.State.Plan.Version)
	assert.Equal(t, "2026-05-01", res.State.Plan.StartsOn)
	assert.Equal(t, "2026-05-10", res.State.Plan.EndsOn)
	assert.Equal(t, "4 covered days (2026-05-01, 2026-05-05, 2026-05-08, 2026-05-10): 4 checked in, 0 missed", res.State.Summary)
	assert.Equal(t, StageOnDuty, h.Views[v3].Stage, "a revision on duty stays on duty")
	assert.Equal(t, workflows.SLAMet, h.LastRow().SLAStatus)
}

// TestPlanShortOfTheDaysBought: a plan may cover fewer days than bought; the case closes after its last
// covered day and says how many were not used.
func TestPlanShortOfTheDaysBought(t *testing.T) {
	paid := casetest.CST(2026, 4, 20, 10)
	h := newHarness(t, paid, "p1")
	h.Partner(time.Minute, "p1", workflows.StepAccept, struct{}{})
	h.Partner(time.Hour, "p1", workflows.StepPlan, PlanInput{Days: []string{"2026-05-01"}, Summary: "launch day", Items: []string{"WAF rules"}})
	h.checkin(casetest.CST(2026, 5, 1, 9), "2026-05-01")
	res := h.run(Input{CaseInput: escortInput(paid, 3)})
	assert.Equal(t, workflows.StageClosed, res.Stage)
	assert.Equal(t, casetest.CST(2026, 5, 2, 0), h.Env.Now().In(sla.China))
	assert.Equal(t, "1 covered days (2026-05-01): 1 checked in, 0 missed; 2 of the 3 days bought not used", res.State.Summary)
}
