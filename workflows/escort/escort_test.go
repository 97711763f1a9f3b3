package escort

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-oss/steward/activities"
	"github.com/steward-oss/steward/notifications"
	"github.com/steward-oss/steward/sla"
	"github.com/steward-oss/steward/workflows"
)

// harness runs Workflow in the time-skipping test environment with recording activity mocks.
type harness struct {
	mu       sync.Mutex // activity mocks run on their own goroutines, concurrently
	t        *testing.T
	env      *testsuite.TestWorkflowEnvironment
	start    time.Time
	partners []string // available, in order of preference
	events   []activities.Event
	rows     []activities.CaseRow
	notes    []activities.NotifyInput
	results  map[string]error
	views    map[string]workflows.CaseView
}

func newHarness(t *testing.T, start time.Time, partners ...string) *harness {
	var ts testsuite.WorkflowTestSuite
	ts.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	h := &harness{t: t, env: ts.NewTestWorkflowEnvironment(), start: start, partners: partners,
		results: map[string]error{}, views: map[string]workflows.CaseView{}}
	h.env.SetStartTime(start)
	h.env.RegisterWorkflowWithOptions(Workflow, workflow.RegisterOptions{Name: WorkflowName})
	var a *activities.Activities
	h.env.RegisterActivity(a.Record)
	h.env.RegisterActivity(a.Notify)
	h.env.RegisterActivity(a.ChoosePartner)
	h.env.OnActivity(a.Record, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RecordInput) error {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.events = append(h.events, in.Events...)
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
		for _, p := range h.partners {
			if !slices.Contains(in.Exclude, p) {
				return activities.ChoosePartnerResult{PartnerID: p, PartnerName: p, Capacity: 3}, nil
			}
		}
		return activities.ChoosePartnerResult{}, nil
	})
	return h
}

// at runs fn at start+d.
func (h *harness) at(d time.Duration, fn func()) { h.env.RegisterDelayedCallback(fn, d) }

// send sends a step at start+d under the name id; its outcome lands in h.results[id].
func (h *harness) send(d time.Duration, id string, in workflows.StepInput) {
	h.at(d, func() {
		in.At = h.env.Now()
		h.env.UpdateWorkflow(workflows.UpdateStep, id, &testsuite.TestUpdateCallback{
			OnAccept: func() {},
			OnReject: func(err error) { h.results[id] = err },
			OnComplete: func(v any, err error) {
				h.results[id] = err
				if cv, ok := v.(workflows.CaseView); ok {
					h.views[id] = cv
				}
			},
		}, in)
	})
	h.results[id] = errors.New("not sent")
}

// partner sends a partner's step at start+d, named "<step>@<d>".
func (h *harness) partner(d time.Duration, partner, step string, payload any) {
	b, err := json.Marshal(payload)
	require.NoError(h.t, err)
	h.send(d, step+"@"+d.String(), workflows.StepInput{Step: step, Actor: workflows.ActorPartner, PartnerID: partner, ActorName: "eng", Payload: b})
}

// checkin sends a check-in for day at the instant at; it returns the step's name.
func (h *harness) checkin(at time.Time, day string) string {
	d := at.Sub(h.start)
	h.partner(d, "p1", StepCheckin, CheckinInput{Day: day, Engineer: "Zhang Wei", Notes: "all quiet"})
	return StepCheckin + "@" + d.String()
}

func (h *harness) run(in Input) Result {
	h.t.Helper()
	h.env.ExecuteWorkflow(WorkflowName, in)
	require.True(h.t, h.env.IsWorkflowCompleted(), "workflow still running at %v", h.env.Now())
	require.NoError(h.t, h.env.GetWorkflowError())
	var res Result
	require.NoError(h.t, h.env.GetWorkflowResult(&res))
	return res
}

func (h *harness) requireOK(ids ...string) {
	h.t.Helper()
	for _, id := range ids {
		require.NoError(h.t, h.results[id], "step %s", id)
	}
}

func (h *harness) eventNames() []workflows.Event {
	out := make([]workflows.Event, len(h.events))
	for i, e := range h.events {
		out[i] = workflows.Event(e.Event)
	}
	return out
}

func (h *harness) eventTimes(name workflows.Event) []time.Time {
	var at []time.Time
	for _, e := range h.events {
		if e.Event == string(name) {
			at = append(at, e.At)
		}
	}
	return at
}

func (h *harness) eventAt(name workflows.Event) time.Time {
	h.t.Helper()
	at := h.eventTimes(name)
	if len(at) == 0 {
		h.t.Fatalf("no %s event in %v", name, h.eventNames())
	}
	return at[0]
}

func (h *harness) countNotes(prefix string) int {
	n := 0
	for _, m := range h.notes {
		if strings.HasPrefix(m.Message.Title, prefix) {
			n++
		}
	}
	return n
}

// note is the notification titled title.
func (h *harness) note(title string) activities.NotifyInput {
	h.t.Helper()
	for _, n := range h.notes {
		if n.Message.Title == title {
			return n
		}
	}
	h.t.Fatalf("no notification %q", title)
	return activities.NotifyInput{}
}

func rejectionType(err error) string {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return ae.Type()
	}
	return ""
}

// cst is hour h of a day in China.
func cst(y int, m time.Month, d, h int) time.Time { return time.Date(y, m, d, h, 0, 0, 0, sla.China) }

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
	assert.True(t, days[2].Start.Equal(cst(2026, 3, 1, 0)), "start %v", days[2].Start)
	if _, err := Days("2026-13-01", 1); err == nil {
		t.Errorf("Days(2026-13-01) = nil error; want one")
	}
}

// TestAllCheckedIn: every covered day checked in before 10:00 → closed after the last day, no alert.
func TestAllCheckedIn(t *testing.T) {
	paid := cst(2026, 4, 20, 10)
	h := newHarness(t, paid, "p1")
	h.partner(time.Minute, "p1", workflows.StepAccept, struct{}{})
	h.partner(time.Hour, "p1", workflows.StepPlan, escortPlan)
	ids := []string{h.checkin(cst(2026, 5, 1, 8), "2026-05-01"), h.checkin(cst(2026, 5, 2, 9), "2026-05-02"), h.checkin(cst(2026, 5, 3, 0), "2026-05-03")}
	res := h.run(Input{CaseInput: escortInput(paid, 3)})
	h.requireOK(append(ids, "accept@1m0s", "plan@1h0m0s")...)
	assert.Equal(t, workflows.StageClosed, res.Stage)
	assert.Equal(t, cst(2026, 5, 4, 0), h.env.Now().In(sla.China), "closes at the end of the last covered day")
	assert.Empty(t, h.eventTimes(workflows.EventCheckinMissed))
	assert.Empty(t, h.eventTimes(workflows.EventDayMissed))
	assert.Zero(t, h.countNotes("安全护航 check-in missing"))
	assert.Equal(t, "3 covered days (2026-05-01 to 2026-05-03): 3 checked in, 0 missed", res.State.Summary)
	assert.True(t, h.eventAt(workflows.EventEscortStarted).Equal(cst(2026, 5, 1, 0)))
	for _, d := range res.State.Days {
		assert.NotNil(t, d.CheckedInAt, d.Day)
		assert.False(t, d.Late || d.Alerted || d.Missed, d.Day)
	}
	assert.Equal(t, workflows.SLAOnTrack, h.rows[len(h.rows)-1].SLAStatus)
	assert.Equal(t, notifications.SeverityInfo, h.note("安全护航 escort ended").Message.Severity)
	assert.Equal(t, []workflows.Event{workflows.EventCaseOpened, workflows.EventPartnerOffered, workflows.EventPartnerAccepted,
		workflows.EventPlanAgreed, workflows.EventEscortStarted, workflows.EventCheckedIn, workflows.EventCheckedIn,
		workflows.EventCheckedIn, workflows.EventCaseClosed}, h.eventNames())
}

// TestMissedAndLate: a day without a check-in alerts at exactly 10:00 and is recorded as missed at its
// end; a check-in after the alert is accepted but counted late; wrong days are refused.
func TestMissedAndLate(t *testing.T) {
	paid := cst(2026, 4, 20, 10)
	h := newHarness(t, paid, "p1")
	h.partner(time.Minute, "p1", workflows.StepAccept, struct{}{})
	h.partner(time.Hour, "p1", workflows.StepPlan, escortPlan)
	ok1 := h.checkin(cst(2026, 5, 1, 8), "2026-05-01")
	twice := h.checkin(cst(2026, 5, 1, 9), "2026-05-01")
	early := h.checkin(cst(2026, 5, 1, 10), "2026-05-02")
	uncovered := h.checkin(cst(2026, 5, 1, 11), "2026-05-05")
	over := h.checkin(cst(2026, 5, 3, 1), "2026-05-02")
	late := h.checkin(cst(2026, 5, 3, 11), "2026-05-03")
	res := h.run(Input{CaseInput: escortInput(paid, 3)})

	h.requireOK(ok1, late)
	for id, msg := range map[string]string{twice: "already checked in", early: "has not begun", uncovered: "not a covered day", over: "over and was recorded as missed"} {
		assert.Equal(t, workflows.RejectConflict, rejectionType(h.results[id]), "%s: %v", id, h.results[id])
		assert.ErrorContains(t, h.results[id], msg, id)
	}
	alerts := h.eventTimes(workflows.EventCheckinMissed)
	require.Len(t, alerts, 2)
	assert.True(t, alerts[0].Equal(cst(2026, 5, 2, 10)), "first alert at %v", alerts[0].In(sla.China))
	assert.True(t, alerts[1].Equal(cst(2026, 5, 3, 10)), "second alert at %v", alerts[1].In(sla.China))
	missed := h.eventTimes(workflows.EventDayMissed)
	require.Len(t, missed, 1)
	assert.True(t, missed[0].Equal(cst(2026, 5, 3, 0)))
	assert.Equal(t, 2, h.countNotes("安全护航 check-in missing"))
	for _, n := range h.notes {
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
	assert.Equal(t, workflows.SLABreached, h.rows[len(h.rows)-1].SLAStatus)
	assert.Equal(t, notifications.SeverityWarning, h.note("安全护航 escort ended").Message.Severity, "a missed day")

	v := h.views[late]
	require.Len(t, v.SLA, 3)
	assert.False(t, v.SLA[0].Breached)
	assert.True(t, v.SLA[1].Breached)
	assert.True(t, v.SLA[2].Breached)
	assert.Equal(t, "checkin 2026-05-03", v.SLA[2].Clause)
	assert.True(t, v.SLA[2].DueAt.Equal(cst(2026, 5, 3, 10)))
}

// TestPlanValidation: the plan needs the partner holding the case, a real future date, a summary and
// items; it can be revised until the first covered day begins, which moves the days.
func TestPlanValidation(t *testing.T) {
	paid := cst(2026, 4, 20, 10)
	h := newHarness(t, paid, "p1")
	h.partner(10*time.Second, "p1", workflows.StepPlan, escortPlan) // not accepted yet
	h.partner(time.Minute, "p1", workflows.StepAccept, struct{}{})
	h.partner(2*time.Minute, "p1", StepCheckin, CheckinInput{Day: "2026-05-01", Engineer: "x"}) // no plan yet
	h.partner(3*time.Minute, "p1", workflows.StepPlan, PlanInput{StartsOn: "2026-5-1", Summary: "x", Items: []string{"x"}})
	h.partner(4*time.Minute, "p1", workflows.StepPlan, PlanInput{StartsOn: "2026-04-19", Summary: "x", Items: []string{"x"}})
	h.partner(5*time.Minute, "p1", workflows.StepPlan, PlanInput{StartsOn: "2026-05-01", Items: []string{"x"}})
	h.partner(6*time.Minute, "p1", workflows.StepPlan, PlanInput{StartsOn: "2026-05-01", Summary: "x"})
	h.partner(7*time.Minute, "p1", workflows.StepPlan, PlanInput{StartsOn: "2027-06-01", Summary: "x", Items: []string{"x"}})
	h.send(8*time.Minute, "unknown-field", workflows.StepInput{Step: workflows.StepPlan, Actor: workflows.ActorPartner, PartnerID: "p1",
		Payload: []byte(`{"starts_on":"2026-05-01","summary":"x","items":["x"],"ends_on":"2026-05-03"}`)})
	h.partner(9*time.Minute, "p2", workflows.StepPlan, escortPlan) // another partner
	h.partner(10*time.Minute, "p1", workflows.StepPlan, escortPlan)
	h.partner(11*time.Minute, "p1", workflows.StepPlan, PlanInput{StartsOn: "2026-05-04", Summary: "moved after the launch slipped", Items: []string{"x"}})
	h.partner(cst(2026, 5, 4, 1).Sub(paid), "p1", workflows.StepPlan, escortPlan) // the escort has begun
	h.partner(cst(2026, 5, 4, 2).Sub(paid), "p1", StepCheckin, CheckinInput{Day: "2026-05-04"})
	h.partner(cst(2026, 5, 4, 3).Sub(paid), "p1", workflows.StepClose, struct{}{})
	h.at(cst(2026, 5, 4, 4).Sub(paid), func() { h.env.CancelWorkflow() })
	h.env.ExecuteWorkflow(WorkflowName, Input{CaseInput: escortInput(paid, 2)})
	want := map[string]string{
		"plan@10s": workflows.RejectConflict, "accept@1m0s": "", "checkin@2m0s": workflows.RejectConflict,
		"plan@3m0s": workflows.RejectInvalid, "plan@4m0s": workflows.RejectInvalid, "plan@5m0s": workflows.RejectInvalid,
		"plan@6m0s": workflows.RejectInvalid, "plan@7m0s": workflows.RejectInvalid, "unknown-field": workflows.RejectInvalid,
		"plan@9m0s": workflows.RejectConflict, "plan@10m0s": "", "plan@11m0s": "",
		"plan@" + cst(2026, 5, 4, 1).Sub(paid).String():    workflows.RejectConflict,
		"checkin@" + cst(2026, 5, 4, 2).Sub(paid).String(): workflows.RejectInvalid,
		"close@" + cst(2026, 5, 4, 3).Sub(paid).String():   workflows.RejectConflict,
	}
	for id, kind := range want {
		if kind == "" {
			assert.NoError(t, h.results[id], id)
		} else {
			assert.Equal(t, kind, rejectionType(h.results[id]), "%s: %v", id, h.results[id])
		}
	}
	d, ok := h.views["plan@11m0s"].Details.(Details)
	require.True(t, ok)
	assert.Equal(t, 2, d.Plan.Version)
	assert.Equal(t, "2026-05-05", d.Plan.EndsOn)
	assert.Equal(t, StageScheduled, h.views["plan@11m0s"].Stage)
	assert.Empty(t, h.eventTimes(workflows.EventCheckinMissed), "no alert for the days the first plan named")
	assert.True(t, h.eventAt(workflows.EventEscortStarted).Equal(cst(2026, 5, 4, 0)))
	assert.Equal(t, []workflows.Event{workflows.EventCaseOpened, workflows.EventPartnerOffered, workflows.EventPartnerAccepted,
		workflows.EventPlanAgreed, workflows.EventPlanRevised, workflows.EventEscortStarted}, h.eventNames())
}

// TestContinueAsNew: a run that continues as new mid-escort keeps the days, the alerts already sent and
// the check-ins.
func TestContinueAsNew(t *testing.T) {
	paid := cst(2026, 4, 20, 10)
	h := newHarness(t, paid, "p1")
	h.partner(time.Minute, "p1", workflows.StepAccept, struct{}{})
	h.partner(time.Hour, "p1", workflows.StepPlan, escortPlan)
	h.checkin(cst(2026, 5, 1, 8), "2026-05-01")
	h.at(cst(2026, 5, 2, 11).Sub(paid), func() { h.env.SetCurrentHistoryLength(workflows.DefaultHistoryLimit) })
	h.env.ExecuteWorkflow(WorkflowName, Input{CaseInput: escortInput(paid, 3)})
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(h.env.GetWorkflowError(), &can), "want continue-as-new, got %v", h.env.GetWorkflowError())
	assert.Equal(t, WorkflowName, can.WorkflowType.Name)
	var next Input
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.NotNil(t, next.State)
	assert.Equal(t, StageOnDuty, next.State.Stage)
	assert.True(t, next.State.Days[1].Alerted)

	h2 := newHarness(t, h.env.Now(), "p1")
	late := h2.checkin(cst(2026, 5, 2, 12), "2026-05-02")
	res := h2.run(next)
	h2.requireOK(late)
	assert.Len(t, h2.eventTimes(workflows.EventCheckinMissed), 1, "only 05-03's alert is new")
	assert.True(t, res.State.Days[1].Late)
	assert.True(t, res.State.Days[2].Missed)
	assert.Equal(t, 2, res.State.Runs)
}
