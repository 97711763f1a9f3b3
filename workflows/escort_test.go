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

func escortInput(paid time.Time, days int) CaseInput {
	return CaseInput{CaseID: "escort:O-1", OrderID: "O-1", CustomerID: "C-1", Service: ServiceEscort, Quantity: days,
		AmountCents: 900_000, Currency: "CNY", PaidAt: paid}
}

var escortPlan = EscortPlanInput{StartsOn: "2026-05-01", Summary: "National Day launch: 7x24 monitoring of the shop",
	Items: []string{"WAF rules reviewed", "DDoS protection raised", "daily log review"}}

func (h *sosHarness) runEscort(in EscortInput) EscortResult {
	h.t.Helper()
	h.env.RegisterWorkflow(EscortWorkflow)
	h.env.ExecuteWorkflow(EscortWorkflow, in)
	require.True(h.t, h.env.IsWorkflowCompleted())
	require.NoError(h.t, h.env.GetWorkflowError())
	var res EscortResult
	require.NoError(h.t, h.env.GetWorkflowResult(&res))
	return res
}

// checkin sends a check-in for day at the China-time instant at.
func (h *sosHarness) escortCheckin(at time.Time, day string) string {
	d := at.Sub(h.start)
	h.partner(d, "p1", StepCheckin, CheckinInput{Day: day, Engineer: "Zhang Wei", Notes: "all quiet"})
	return StepCheckin + "@" + d.String()
}

func (h *sosHarness) eventTimes(name string) []time.Time {
	var at []time.Time
	for _, e := range h.events {
		if e.Event == name {
			at = append(at, e.At)
		}
	}
	return at
}

func TestEscortDays(t *testing.T) {
	days, err := EscortDays("2026-02-27", 3)
	require.NoError(t, err)
	var names []string
	for _, d := range days {
		names = append(names, d.Day)
	}
	assert.Equal(t, []string{"2026-02-27", "2026-02-28", "2026-03-01"}, names)
	assert.True(t, days[2].Start.Equal(cst(2026, 3, 1, 0)), "start %v", days[2].Start)
	if _, err := EscortDays("2026-13-01", 1); err == nil {
		t.Errorf("EscortDays(2026-13-01) = nil error; want one")
	}
}

// TestEscortAllCheckedIn: every covered day checked in before 10:00 → closed after the last day, no alert.
func TestEscortAllCheckedIn(t *testing.T) {
	paid := cst(2026, 4, 20, 10)
	h := newSOS(t, paid, "p1")
	h.partner(time.Minute, "p1", StepAccept, struct{}{})
	h.partner(time.Hour, "p1", StepPlan, escortPlan)
	ids := []string{h.escortCheckin(cst(2026, 5, 1, 8), "2026-05-01"), h.escortCheckin(cst(2026, 5, 2, 9), "2026-05-02"), h.escortCheckin(cst(2026, 5, 3, 0), "2026-05-03")}
	res := h.runEscort(EscortInput{CaseInput: escortInput(paid, 3)})
	h.requireOK(append(ids, "accept@1m0s", "plan@1h0m0s")...)
	assert.Equal(t, StageClosed, res.Stage)
	assert.Equal(t, cst(2026, 5, 4, 0), h.env.Now().In(chinaZone), "closes at the end of the last covered day")
	assert.Empty(t, h.eventTimes("checkin_missed"))
	assert.Empty(t, h.eventTimes("day_missed"))
	assert.Zero(t, countNotes(h, "安全护航 check-in missing"))
	assert.Equal(t, "3 covered days (2026-05-01 to 2026-05-03): 3 checked in, 0 missed", res.State.Summary)
	assert.True(t, h.eventAt("escort_started").Equal(cst(2026, 5, 1, 0)))
	for _, d := range res.State.Days {
		assert.NotNil(t, d.CheckedInAt, d.Day)
		assert.False(t, d.Late || d.Alerted || d.Missed, d.Day)
	}
	assert.Equal(t, SLAOnTrack, h.rows[len(h.rows)-1].SLAStatus)
	assert.Equal(t, []string{"opened", "offered", "partner_accepted", "plan_submitted", "escort_started", "checked_in", "checked_in", "checked_in", "closed"}, h.eventNames())
}

// TestEscortMissedAndLate: a day without a check-in alerts at exactly 10:00 and is recorded as missed at
// its end; a check-in after the alert is accepted but counted late; wrong days are refused.
func TestEscortMissedAndLate(t *testing.T) {
	paid := cst(2026, 4, 20, 10)
	h := newSOS(t, paid, "p1")
	h.partner(time.Minute, "p1", StepAccept, struct{}{})
	h.partner(time.Hour, "p1", StepPlan, escortPlan)
	ok1 := h.escortCheckin(cst(2026, 5, 1, 8), "2026-05-01")
	twice := h.escortCheckin(cst(2026, 5, 1, 9), "2026-05-01")
	early := h.escortCheckin(cst(2026, 5, 1, 10), "2026-05-02")
	uncovered := h.escortCheckin(cst(2026, 5, 1, 11), "2026-05-05")
	over := h.escortCheckin(cst(2026, 5, 3, 1), "2026-05-02")
	late := h.escortCheckin(cst(2026, 5, 3, 11), "2026-05-03")
	res := h.runEscort(EscortInput{CaseInput: escortInput(paid, 3)})

	h.requireOK(ok1, late)
	for id, msg := range map[string]string{twice: "already checked in", early: "has not begun", uncovered: "not a covered day", over: "over and was recorded as missed"} {
		assert.Equal(t, RejectConflict, rejectionType(h.results[id]), "%s: %v", id, h.results[id])
		assert.ErrorContains(t, h.results[id], msg, id)
	}
	alerts := h.eventTimes("checkin_missed")
	require.Len(t, alerts, 2)
	assert.True(t, alerts[0].Equal(cst(2026, 5, 2, 10)), "first alert at %v", alerts[0].In(chinaZone))
	assert.True(t, alerts[1].Equal(cst(2026, 5, 3, 10)), "second alert at %v", alerts[1].In(chinaZone))
	missed := h.eventTimes("day_missed")
	require.Len(t, missed, 1)
	assert.True(t, missed[0].Equal(cst(2026, 5, 3, 0)))
	assert.Equal(t, 2, countNotes(h, "安全护航 check-in missing"))
	for _, n := range h.notes {
		if n.Message.Title == "安全护航 check-in missing for 2026-05-02" {
			assert.Equal(t, "p1", n.PartnerID, "the alert goes to the partner too")
		}
	}

	assert.Equal(t, StageClosed, res.Stage)
	days := res.State.Days
	require.Len(t, days, 3)
	assert.False(t, days[0].Late || days[0].Missed)
	assert.True(t, days[1].Missed && days[1].Alerted && days[1].CheckedInAt == nil)
	assert.True(t, days[2].Late && days[2].Alerted && !days[2].Missed)
	assert.Equal(t, "3 covered days (2026-05-01 to 2026-05-03): 2 checked in (1 late: 2026-05-03), 1 missed (2026-05-02)", res.State.Summary)
	assert.Equal(t, SLABreached, h.rows[len(h.rows)-1].SLAStatus)

	v := h.views[late]
	require.Len(t, v.SLA, 3)
	assert.False(t, v.SLA[0].Breached)
	assert.True(t, v.SLA[1].Breached)
	assert.True(t, v.SLA[2].Breached)
	assert.Equal(t, "checkin 2026-05-03", v.SLA[2].Clause)
	assert.True(t, v.SLA[2].DueAt.Equal(cst(2026, 5, 3, 10)))
}

// TestEscortPlanValidation: the plan needs the partner holding the case, a real future date, a summary
// and items; it can be revised until the first covered day begins, which moves the days.
func TestEscortPlanValidation(t *testing.T) {
	paid := cst(2026, 4, 20, 10)
	h := newSOS(t, paid, "p1")
	h.partner(10*time.Second, "p1", StepPlan, escortPlan) // not accepted yet
	h.partner(time.Minute, "p1", StepAccept, struct{}{})
	h.partner(2*time.Minute, "p1", StepCheckin, CheckinInput{Day: "2026-05-01", Engineer: "x"}) // no plan yet
	h.partner(3*time.Minute, "p1", StepPlan, EscortPlanInput{StartsOn: "2026-5-1", Summary: "x", Items: []string{"x"}})
	h.partner(4*time.Minute, "p1", StepPlan, EscortPlanInput{StartsOn: "2026-04-19", Summary: "x", Items: []string{"x"}})
	h.partner(5*time.Minute, "p1", StepPlan, EscortPlanInput{StartsOn: "2026-05-01", Items: []string{"x"}})
	h.partner(6*time.Minute, "p1", StepPlan, EscortPlanInput{StartsOn: "2026-05-01", Summary: "x"})
	h.partner(7*time.Minute, "p1", StepPlan, EscortPlanInput{StartsOn: "2027-06-01", Summary: "x", Items: []string{"x"}})
	h.send(8*time.Minute, "unknown-field", StepInput{Step: StepPlan, Actor: ActorPartner, PartnerID: "p1", Payload: []byte(`{"starts_on":"2026-05-01","summary":"x","items":["x"],"ends_on":"2026-05-03"}`)})
	h.partner(9*time.Minute, "p2", StepPlan, escortPlan) // another partner
	h.partner(10*time.Minute, "p1", StepPlan, escortPlan)
	h.partner(11*time.Minute, "p1", StepPlan, EscortPlanInput{StartsOn: "2026-05-04", Summary: "moved after the launch slipped", Items: []string{"x"}})
	h.partner(cst(2026, 5, 4, 1).Sub(paid), "p1", StepPlan, escortPlan) // the escort has begun
	h.partner(cst(2026, 5, 4, 2).Sub(paid), "p1", StepCheckin, CheckinInput{Day: "2026-05-04"})
	h.partner(cst(2026, 5, 4, 3).Sub(paid), "p1", "close", struct{}{})
	h.env.RegisterWorkflow(EscortWorkflow)
	h.at(cst(2026, 5, 4, 4).Sub(paid), func() { h.env.CancelWorkflow() })
	h.env.ExecuteWorkflow(EscortWorkflow, EscortInput{CaseInput: escortInput(paid, 2)})
	want := map[string]string{
		"plan@10s": RejectConflict, "accept@1m0s": "", "checkin@2m0s": RejectConflict,
		"plan@3m0s": RejectInvalid, "plan@4m0s": RejectInvalid, "plan@5m0s": RejectInvalid, "plan@6m0s": RejectInvalid,
		"plan@7m0s": RejectInvalid, "unknown-field": RejectInvalid, "plan@9m0s": RejectConflict, "plan@10m0s": "", "plan@11m0s": "",
		"plan@" + cst(2026, 5, 4, 1).Sub(paid).String(): RejectConflict, "checkin@" + cst(2026, 5, 4, 2).Sub(paid).String(): RejectInvalid,
		"close@" + cst(2026, 5, 4, 3).Sub(paid).String(): RejectConflict,
	}
	for id, kind := range want {
		if kind == "" {
			assert.NoError(t, h.results[id], id)
		} else {
			assert.Equal(t, kind, rejectionType(h.results[id]), "%s: %v", id, h.results[id])
		}
	}
	st, ok := h.views["plan@11m0s"].Details.(EscortState)
	require.True(t, ok)
	assert.Equal(t, 2, st.Plan.Version)
	assert.Equal(t, "2026-05-05", st.Plan.EndsOn)
	assert.Equal(t, StageScheduled, h.views["plan@11m0s"].Stage)
	assert.Empty(t, h.eventTimes("checkin_missed"), "no alert for the days the first plan named")
	assert.True(t, h.eventAt("escort_started").Equal(cst(2026, 5, 4, 0)))
	assert.Equal(t, []string{"opened", "offered", "partner_accepted", "plan_submitted", "plan_revised", "escort_started"}, h.eventNames())
}

// TestEscortContinueAsNew: a run that continues as new mid-escort keeps the days, the alerts already
// sent and the check-ins.
func TestEscortContinueAsNew(t *testing.T) {
	paid := cst(2026, 4, 20, 10)
	h := newSOS(t, paid, "p1")
	h.partner(time.Minute, "p1", StepAccept, struct{}{})
	h.partner(time.Hour, "p1", StepPlan, escortPlan)
	h.escortCheckin(cst(2026, 5, 1, 8), "2026-05-01")
	h.at(cst(2026, 5, 2, 11).Sub(paid), func() { h.env.SetCurrentHistoryLength(DefaultHistoryLimit) })
	h.env.RegisterWorkflow(EscortWorkflow)
	h.env.ExecuteWorkflow(EscortWorkflow, EscortInput{CaseInput: escortInput(paid, 3)})
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(h.env.GetWorkflowError(), &can), "want continue-as-new, got %v", h.env.GetWorkflowError())
	var next EscortInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.NotNil(t, next.State)
	assert.Equal(t, StageOnDuty, next.State.Stage)
	assert.True(t, next.State.Days[1].Alerted)

	h2 := newSOS(t, h.env.Now(), "p1")
	late := h2.escortCheckin(cst(2026, 5, 2, 12), "2026-05-02")
	res := h2.runEscort(next)
	h2.requireOK(late)
	assert.Len(t, h2.eventTimes("checkin_missed"), 1, "only 05-03's alert is new")
	assert.True(t, res.State.Days[1].Late)
	assert.True(t, res.State.Days[2].Missed)
	assert.Equal(t, 2, res.State.Runs)
}
