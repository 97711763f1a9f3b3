package dengbao

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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

// harness runs Workflow with the shared recording harness; run decodes the 等保整改 Result.
type harness struct{ *casetest.Harness }

func newHarness(t *testing.T, start time.Time, partners ...string) harness {
	return harness{casetest.New(t, start, partners, Lifecycle.Workflows...)}
}

func (h harness) run(in Input) Result {
	h.T.Helper()
	var res Result
	h.Run(WorkflowName, in, &res)
	return res
}

func caseInput(paid time.Time) Input {
	return Input{CaseInput: workflows.CaseInput{CaseID: "dengbao:O-1", OrderID: "O-1", CustomerID: "C-1", Service: workflows.ServiceDengbao,
		Quantity: 8, AmountCents: 3_000_000, Currency: "CNY", PaidAt: paid}}
}

// start accepts, kicks off, signs off the gap plan and delivers the proposal, in the first 26 hours.
func start(h harness) {
	h.Partner(time.Minute, "p1", workflows.StepAccept, struct{}{})
	h.Partner(24*time.Hour, "p1", StepKickoff, struct{}{})
	h.Partner(25*time.Hour, "p1", StepWorkItem, WorkItemInput{Item: WorkGapPlan, Owner: "Li", Status: WorkDone, Evidence: "plan v1 signed"})
	h.Partner(26*time.Hour, "p1", workflows.StepDeliverable, DeliverableInput{Kind: DeliverableProposal, Summary: "12 gaps, 9 fixable by config", Items: []string{"enable audit logs"}})
}

func TestTermEnd(t *testing.T) {
	for _, tt := range []struct{ paid, want time.Time }{
		{casetest.CST(2018, 5, 1, 10), casetest.CST(2019, 5, 1, 10)},
		{casetest.CST(2024, 2, 29, 9), casetest.CST(2025, 3, 1, 9)},
		{time.Date(2025, 12, 31, 20, 0, 0, 0, time.UTC), casetest.CST(2027, 1, 1, 4)}, // already 2026-01-01 in China
	} {
		if got := sla.DengbaoTermEnd(tt.paid); !got.Equal(tt.want) {
			t.Errorf("DengbaoTermEnd(%v) = %v; want %v", tt.paid, got.In(sla.China), tt.want)
		}
	}
}

// TestPassInMonth3 is SPEC's example: bought 2018-05-01, passed 2018-08-01 → the term ends 2018-08-01;
// the partner delivers the service report and closes; no refund, no reminder.
func TestPassInMonth3(t *testing.T) {
	paid := casetest.CST(2018, 5, 1, 10)
	h := newHarness(t, paid, "p1")
	start(h)
	passAt := casetest.CST(2018, 8, 1, 16).Sub(paid)
	h.Partner(passAt, "p1", StepAssessment, AssessmentInput{Result: AssessmentPassed, Assessor: "某测评中心", Date: "2018-08-01"})
	h.Partner(passAt+time.Hour, "p1", workflows.StepClose, workflows.CloseInput{FollowUp: "x"}) // no service report yet
	h.Partner(passAt+2*time.Hour, "p1", workflows.StepDeliverable, DeliverableInput{Kind: DeliverableServiceReport, Summary: "passed level 3"})
	h.Partner(passAt+3*time.Hour, "p1", workflows.StepClose, workflows.CloseInput{FollowUp: "customer archived the reports"})
	res := h.run(caseInput(paid))
	early := fmt.Sprintf("%s@%s", workflows.StepClose, passAt+time.Hour)
	for id, err := range h.Results {
		if id != early {
			require.NoError(t, err, id)
		}
	}
	assert.Equal(t, workflows.RejectConflict, casetest.RejectionType(h.Results[early]))
	assert.Equal(t, workflows.StageClosed, res.Stage)
	assert.True(t, res.State.TermEnd.Equal(casetest.CST(2018, 8, 1, 0)), "term end %v", res.State.TermEnd.In(sla.China))
	assert.Equal(t, workflows.Refund{}, res.Refund)
	assert.NotContains(t, h.EventNames(), workflows.EventTermReminder)
	require.Len(t, h.Docs(), 2)
	assert.Equal(t, DeliverableProposal, h.Docs()[0].Kind)
	assert.Equal(t, DeliverableServiceReport, h.Docs()[1].Kind)
	assert.Equal(t, "等保整改服务报告", h.Docs()[1].Title)
	assert.Equal(t, WorkDone, res.State.WorkItems[0].Status)
	assert.Equal(t, "plan v1 signed", res.State.WorkItems[0].Evidence)
}

// TestFailThenPass: a failed assessment keeps the service going; the next pass ends it.
func TestFailThenPass(t *testing.T) {
	paid := casetest.CST(2018, 5, 1, 10)
	h := newHarness(t, paid, "p1")
	start(h)
	failAt := casetest.CST(2018, 7, 2, 10).Sub(paid)
	h.Partner(failAt, "p1", StepAssessment, AssessmentInput{Result: AssessmentFailed, Assessor: "A", Date: "2018-07-02", Findings: []string{"no DB audit"}})
	h.Partner(failAt+time.Hour, "p1", StepAssessment, AssessmentInput{Result: AssessmentFailed, Assessor: "A", Date: "2018-07-02"}) // a fail needs findings
	h.Partner(failAt+2*time.Hour, "p1", StepWorkItem, WorkItemInput{Item: WorkSystemRectification, Owner: "Li", Status: WorkDone, Evidence: "DB audit on"})
	passAt := casetest.CST(2018, 9, 3, 10).Sub(paid)
	h.Partner(passAt, "p1", StepAssessment, AssessmentInput{Result: AssessmentPassed, Assessor: "A", Date: "2018-09-03"})
	h.Partner(passAt+time.Hour, "p1", workflows.StepDeliverable, DeliverableInput{Kind: DeliverableServiceReport, Summary: "passed"})
	h.Partner(passAt+2*time.Hour, "p1", workflows.StepClose, workflows.CloseInput{FollowUp: "done"})
	res := h.run(caseInput(paid))
	assert.Equal(t, workflows.RejectInvalid, casetest.RejectionType(h.Result(StepAssessment, failAt+time.Hour)))
	assert.Equal(t, workflows.StageClosed, res.Stage)
	require.Len(t, res.State.Assessments, 2)
	var told []map[string]string
	for _, e := range h.EventsNamed(workflows.EventAssessmentRecorded) {
		require.NotNil(t, e.Customer)
		told = append(told, e.Customer.Args)
	}
	assert.Equal(t, []map[string]string{{"attempt": "1", "passed": "no"}, {"attempt": "2", "passed": "yes"}}, told, "the customer hears each attempt")
	assert.Equal(t, AssessmentFailed, res.State.Assessments[0].Result)
	assert.True(t, res.State.TermEnd.Equal(casetest.CST(2018, 9, 3, 0)))
	// The service report lists both attempts.
	last := h.Docs()[len(h.Docs())-1]
	var rows int
	for _, sec := range last.Sections {
		if sec.Table != nil && len(sec.Table.Header) > 0 && sec.Table.Header[0] == "日期 Date" {
			rows = len(sec.Table.Rows)
		}
	}
	assert.Equal(t, 2, rows)
}

// TestNeverAssessed is SPEC's other example: bought 2018-05-01 and never assessed → reminders 30 and 7
// days before the year ends, then the case closes on 2019-05-01 with the reason.
func TestNeverAssessed(t *testing.T) {
	paid := casetest.CST(2018, 5, 1, 10)
	h := newHarness(t, paid, "p1")
	start(h)
	res := h.run(caseInput(paid))
	assert.Equal(t, workflows.StageExpired, res.Stage)
	assert.Equal(t, casetest.CST(2019, 5, 1, 10), h.Env.Now().In(sla.China))
	reminders := h.EventsNamed(workflows.EventTermReminder)
	require.Len(t, reminders, 2)
	assert.True(t, reminders[0].At.Equal(casetest.CST(2019, 4, 1, 10)), "30-day reminder at %v", reminders[0].At.In(sla.China))
	assert.Contains(t, reminders[0].Detail, "30 days left")
	assert.True(t, reminders[1].At.Equal(casetest.CST(2019, 4, 24, 10)), "7-day reminder at %v", reminders[1].At.In(sla.China))
	assert.Contains(t, reminders[1].Detail, "7 days left")
	for i, days := range []string{"30", "7"} {
		require.NotNil(t, reminders[i].Customer, "the customer is reminded too")
		assert.Equal(t, string(workflows.NoticeTermReminder), reminders[i].Customer.Kind)
		assert.Equal(t, map[string]string{"days": days, "end": "2019-05-01"}, reminders[i].Customer.Args)
	}
	assert.Contains(t, h.EventNames(), workflows.EventTermEnded)
	assert.Equal(t, 2, h.CountNotes("等保整改 term ends in"))
	assert.Subset(t, h.NoteKeys(), []string{"dengbao:O-1/term-reminder/30", "dengbao:O-1/term-reminder/7"})
}

// TestCancel: a full refund before kickoff; after kickoff, 409 with the reason and nothing refunded.
func TestCancel(t *testing.T) {
	paid := casetest.CST(2018, 5, 1, 10)
	t.Run("before kickoff", func(t *testing.T) {
		h := newHarness(t, paid, "p1")
		h.Partner(time.Minute, "p1", workflows.StepAccept, struct{}{})
		h.Market(2*time.Hour, workflows.StepCancel, workflows.CancelInput{Reason: "bought twice"})
		res := h.run(caseInput(paid))
		assert.Equal(t, workflows.StageCancelled, res.Stage)
		assert.Equal(t, workflows.Refund{Percent: 100, AmountCents: 3_000_000}, res.Refund)
		require.Len(t, h.Refunds(), 1)
		assert.Equal(t, int64(3_000_000), h.Refunds()[0].AmountCents)
		assert.Equal(t, sla.ClauseCancellation, h.Refunds()[0].Clause)
		assert.Contains(t, h.EventNames(), workflows.EventCaseCancelled)
	})
	t.Run("in the Web UI before kickoff", func(t *testing.T) {
		h := newHarness(t, paid, "p1")
		h.Partner(time.Minute, "p1", workflows.StepAccept, struct{}{})
		h.At(2*time.Hour, h.Env.CancelWorkflow)
		res := h.run(caseInput(paid))
		assert.Equal(t, workflows.StageCancelled, res.Stage, "the service's rule applies: a full refund before kickoff")
		assert.Equal(t, workflows.Refund{Percent: 100, AmountCents: 3_000_000}, res.Refund)
		require.Len(t, h.Refunds(), 1)
		cancelled := h.EventsNamed(workflows.EventCaseCancelled)
		require.Len(t, cancelled, 1)
		assert.Equal(t, workflows.ActorManager, cancelled[0].Actor)
		assert.Contains(t, cancelled[0].Detail, "cancellation requested in the Temporal Web UI")
	})
	t.Run("in the Web UI after kickoff", func(t *testing.T) {
		h := newHarness(t, paid, "p1")
		h.Partner(time.Minute, "p1", workflows.StepAccept, struct{}{})
		h.Partner(2*time.Hour, "p1", StepKickoff, struct{}{})
		h.At(3*time.Hour, h.Env.CancelWorkflow)
		h.RunUntil(WorkflowName, caseInput(paid), 4*time.Hour)
		assert.Empty(t, h.Refunds())
		refused := h.EventsNamed(workflows.EventCancelRefused)
		require.Len(t, refused, 1)
		assert.Contains(t, refused[0].Detail, "not refundable once work has begun")
		assert.Equal(t, StageRectification, h.LastRow().Stage, "the case goes on")
	})
	t.Run("after kickoff", func(t *testing.T) {
		h := newHarness(t, paid, "p1")
		h.Partner(time.Minute, "p1", workflows.StepAccept, struct{}{})
		h.Partner(2*time.Hour, "p1", StepKickoff, struct{}{})
		h.Market(3*time.Hour, workflows.StepCancel, workflows.CancelInput{})
		h.RunUntil(WorkflowName, caseInput(paid), 4*time.Hour)
		err := h.Results[workflows.StepCancel+"@3h0m0s"]
		assert.Equal(t, workflows.RejectConflict, casetest.RejectionType(err))
		assert.ErrorContains(t, err, "not refundable once work has begun")
		assert.Empty(t, h.Refunds())
	})
}

// TestContinueAsNew: a long case continues as new before its history grows large, and the next run
// carries its state: partner, kickoff, work items, the term, the timeline sequence.
func TestContinueAsNew(t *testing.T) {
	paid := casetest.CST(2018, 5, 1, 10)
	h := newHarness(t, paid, "p1")
	start(h)
	for i := range 40 {
		status := []string{WorkPending, WorkInProgress}[i%2]
		h.Partner(30*time.Hour+time.Duration(i)*time.Minute, "p1", StepWorkItem, WorkItemInput{Item: WorkPolicyGuidance, Owner: "Wang", Status: status})
	}
	// The test environment keeps no history length of its own: report the real server's as it grows.
	h.At(30*time.Hour+41*time.Minute, func() { h.Env.SetCurrentHistoryLength(workflows.DefaultHistoryLimit) })
	h.Partner(30*time.Hour+42*time.Minute, "p1", StepWorkItem, WorkItemInput{Item: WorkPolicyGuidance, Owner: "Wang", Status: WorkInProgress})
	h.Execute(WorkflowName, caseInput(paid))
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(h.Env.GetWorkflowError(), &can), "want continue-as-new, got %v", h.Env.GetWorkflowError())
	assert.Equal(t, WorkflowName, can.WorkflowType.Name)
	var next Input
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.NotNil(t, next.State)
	st := *next.State
	assert.Equal(t, StageRectification, st.Core.Stage)
	assert.Equal(t, "p1", st.Core.PartnerID)
	assert.True(t, st.Core.Accepted)
	require.NotNil(t, st.KickoffAt)
	assert.True(t, st.TermEnd.Equal(casetest.CST(2019, 5, 1, 10)))
	assert.Equal(t, 1, st.Core.Runs)
	assert.Greater(t, st.Core.Seq, 5)
	assert.Equal(t, WorkInProgress, st.WorkItems[3].Status)

	// The next run picks up where the first stopped: a pass and a close finish the case, and the
	// timeline keys continue the sequence instead of repeating it.
	h2 := newHarness(t, h.Env.Now(), "p1")
	passAt := casetest.CST(2018, 8, 1, 16).Sub(h.Env.Now())
	h2.Partner(passAt, "p1", StepAssessment, AssessmentInput{Result: AssessmentPassed, Assessor: "A", Date: "2018-08-01"})
	h2.Partner(passAt+time.Hour, "p1", workflows.StepDeliverable, DeliverableInput{Kind: DeliverableServiceReport, Summary: "passed"})
	h2.Partner(passAt+2*time.Hour, "p1", workflows.StepClose, workflows.CloseInput{FollowUp: "done"})
	res := h2.run(next)
	assert.Equal(t, workflows.StageClosed, res.Stage)
	assert.Equal(t, 2, res.State.Core.Runs)
	assert.NotContains(t, h2.EventNames(), workflows.EventCaseOpened, "the opening is recorded once, in the first run")
	keys := map[string]bool{}
	for _, e := range append(h.Events(), h2.Events()...) {
		assert.False(t, keys[e.Key], "timeline key %s written by both runs", e.Key)
		keys[e.Key] = true
	}
	assert.True(t, slices.ContainsFunc(h2.Docs(), func(d activities.Document) bool { return d.Kind == DeliverableServiceReport }))
}

// TestDetails: the case view's details keep the JSON names the API and e2e read, and the term is the one
// SLA entry, completed by a pass.
func TestDetails(t *testing.T) {
	paid := casetest.CST(2018, 5, 1, 10)
	h := newHarness(t, paid, "p1")
	start(h)
	var before, after workflows.CaseView
	query := func(v *workflows.CaseView) func() {
		return func() {
			enc, err := h.Env.QueryWorkflow(workflows.QueryCaseView)
			require.NoError(t, err)
			require.NoError(t, enc.Get(v))
		}
	}
	h.At(27*time.Hour, query(&before))
	passAt := casetest.CST(2018, 8, 1, 16).Sub(paid)
	h.Partner(passAt, "p1", StepAssessment, AssessmentInput{Result: AssessmentPassed, Assessor: "A", Date: "2018-08-01"})
	h.At(passAt+time.Hour, query(&after))
	h.RunUntil(WorkflowName, caseInput(paid), passAt+2*time.Hour)

	assert.Equal(t, StageRectification, before.Stage)
	require.Len(t, before.SLA, 1)
	assert.Equal(t, sla.ClauseTerm, before.SLA[0].Clause)
	assert.True(t, before.SLA[0].DueAt.Equal(casetest.CST(2019, 5, 1, 10)))
	assert.Nil(t, before.SLA[0].CompletedAt)
	var d map[string]any
	b, err := json.Marshal(before.Details)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &d))
	for _, k := range []string{"runs", "work_items", "term_end", "kickoff_at", "assessments", "deliverables"} {
		assert.Contains(t, d, k)
	}
	assert.EqualValues(t, 1, d["runs"])

	assert.Equal(t, StageClosing, after.Stage)
	require.Len(t, after.SLA, 1)
	require.NotNil(t, after.SLA[0].CompletedAt)
	assert.True(t, after.SLA[0].CompletedAt.Equal(casetest.CST(2018, 8, 1, 0)))
	b, err = json.Marshal(after.Details)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &d))
	assert.Contains(t, d, "passed_at")
}
