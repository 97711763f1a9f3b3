package dengbao

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	"github.com/steward-oss/steward/sla"
	"github.com/steward-oss/steward/workflows"
)

// harness runs Workflow in the time-skipping test environment with recording activity mocks.
type harness struct {
	mu       sync.Mutex // activity mocks run on their own goroutines, concurrently
	t        *testing.T
	env      *testsuite.TestWorkflowEnvironment
	partners []string // available, in order of preference
	events   []activities.Event
	refunds  []activities.RefundRow
	notes    []activities.NotifyInput
	docs     []activities.Document
	results  map[string]error
}

func newHarness(t *testing.T, start time.Time, partners ...string) *harness {
	var ts testsuite.WorkflowTestSuite
	ts.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	h := &harness{t: t, env: ts.NewTestWorkflowEnvironment(), partners: partners, results: map[string]error{}}
	h.env.SetStartTime(start)
	h.env.RegisterWorkflowWithOptions(Workflow, workflow.RegisterOptions{Name: WorkflowName})
	var a *activities.Activities
	h.env.RegisterActivity(a.Record)
	h.env.RegisterActivity(a.Notify)
	h.env.RegisterActivity(a.ChoosePartner)
	h.env.RegisterActivity(a.RenderDocument)
	h.env.OnActivity(a.RenderDocument, mock.Anything, mock.Anything).Return(func(_ context.Context, d activities.Document) (activities.ReportRef, error) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.docs = append(h.docs, d)
		return activities.ReportRef{CaseID: d.CaseID, Version: d.Version}, nil
	})
	h.env.OnActivity(a.Record, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RecordInput) error {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.events = append(h.events, in.Events...)
		h.refunds = append(h.refunds, in.Refunds...)
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

// send sends a step at start+d under the name "<step>@<d>"; its outcome lands in h.results under that name.
func (h *harness) send(d time.Duration, in workflows.StepInput, payload any) {
	id := in.Step + "@" + d.String()
	b, err := json.Marshal(payload)
	require.NoError(h.t, err)
	in.Payload = b
	h.results[id] = errors.New("not sent")
	h.at(d, func() {
		in.At = h.env.Now()
		h.env.UpdateWorkflow(workflows.UpdateStep, id, &testsuite.TestUpdateCallback{
			OnAccept:   func() {},
			OnReject:   func(err error) { h.results[id] = err },
			OnComplete: func(_ any, err error) { h.results[id] = err },
		}, in)
	})
}

func (h *harness) partner(d time.Duration, partner, step string, payload any) {
	h.send(d, workflows.StepInput{Step: step, Actor: workflows.ActorPartner, PartnerID: partner, ActorName: "eng"}, payload)
}

func (h *harness) market(d time.Duration, step string, payload any) {
	h.send(d, workflows.StepInput{Step: step, Actor: workflows.ActorMarketplace}, payload)
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

func (h *harness) eventNames() []string {
	out := make([]string, len(h.events))
	for i, e := range h.events {
		out[i] = e.Event
	}
	return out
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

func rejectionType(err error) string {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return ae.Type()
	}
	return ""
}

func caseInput(paid time.Time) Input {
	return Input{CaseInput: workflows.CaseInput{CaseID: "dengbao:O-1", OrderID: "O-1", CustomerID: "C-1", Service: workflows.ServiceDengbao,
		Quantity: 8, AmountCents: 3_000_000, Currency: "CNY", PaidAt: paid}}
}

func cst(y int, m time.Month, d, h int) time.Time { return time.Date(y, m, d, h, 0, 0, 0, sla.China) }

// start accepts, kicks off, signs off the gap plan and delivers the proposal, in the first 26 hours.
func start(h *harness) {
	h.partner(time.Minute, "p1", workflows.StepAccept, struct{}{})
	h.partner(24*time.Hour, "p1", StepKickoff, struct{}{})
	h.partner(25*time.Hour, "p1", StepWorkItem, WorkItemInput{Item: WorkGapPlan, Owner: "Li", Status: WorkDone, Evidence: "plan v1 signed"})
	h.partner(26*time.Hour, "p1", workflows.StepDeliverable, DeliverableInput{Kind: DeliverableProposal, Summary: "12 gaps, 9 fixable by config", Items: []string{"enable audit logs"}})
}

func TestTermEnd(t *testing.T) {
	for _, tt := range []struct{ paid, want time.Time }{
		{cst(2018, 5, 1, 10), cst(2019, 5, 1, 10)},
		{cst(2024, 2, 29, 9), cst(2025, 3, 1, 9)},
		{time.Date(2025, 12, 31, 20, 0, 0, 0, time.UTC), cst(2027, 1, 1, 4)}, // already 2026-01-01 in China
	} {
		if got := sla.DengbaoTermEnd(tt.paid); !got.Equal(tt.want) {
			t.Errorf("DengbaoTermEnd(%v) = %v; want %v", tt.paid, got.In(sla.China), tt.want)
		}
	}
}

// TestPassInMonth3 is SPEC's example: bought 2018-05-01, passed 2018-08-01 → the term ends 2018-08-01;
// the partner delivers the service report and closes; no refund, no reminder.
func TestPassInMonth3(t *testing.T) {
	paid := cst(2018, 5, 1, 10)
	h := newHarness(t, paid, "p1")
	start(h)
	passAt := cst(2018, 8, 1, 16).Sub(paid)
	h.partner(passAt, "p1", StepAssessment, AssessmentInput{Result: AssessmentPassed, Assessor: "某测评中心", Date: "2018-08-01"})
	h.partner(passAt+time.Hour, "p1", workflows.StepClose, workflows.CloseInput{FollowUp: "x"}) // no service report yet
	h.partner(passAt+2*time.Hour, "p1", workflows.StepDeliverable, DeliverableInput{Kind: DeliverableServiceReport, Summary: "passed level 3"})
	h.partner(passAt+3*time.Hour, "p1", workflows.StepClose, workflows.CloseInput{FollowUp: "customer archived the reports"})
	res := h.run(caseInput(paid))
	early := fmt.Sprintf("%s@%s", workflows.StepClose, passAt+time.Hour)
	for id, err := range h.results {
		if id != early {
			require.NoError(t, err, id)
		}
	}
	assert.Equal(t, workflows.RejectConflict, rejectionType(h.results[early]))
	assert.Equal(t, workflows.StageClosed, res.Stage)
	assert.True(t, res.State.TermEnd.Equal(cst(2018, 8, 1, 0)), "term end %v", res.State.TermEnd.In(sla.China))
	assert.Equal(t, workflows.Refund{}, res.Refund)
	assert.NotContains(t, h.eventNames(), string(workflows.EventTermReminder))
	require.Len(t, h.docs, 2)
	assert.Equal(t, DeliverableProposal, h.docs[0].Kind)
	assert.Equal(t, DeliverableServiceReport, h.docs[1].Kind)
	assert.Equal(t, "等保整改服务报告", h.docs[1].Title)
	assert.Equal(t, WorkDone, res.State.WorkItems[0].Status)
	assert.Equal(t, "plan v1 signed", res.State.WorkItems[0].Evidence)
}

// TestFailThenPass: a failed assessment keeps the service going; the next pass ends it.
func TestFailThenPass(t *testing.T) {
	paid := cst(2018, 5, 1, 10)
	h := newHarness(t, paid, "p1")
	start(h)
	failAt := cst(2018, 7, 2, 10).Sub(paid)
	h.partner(failAt, "p1", StepAssessment, AssessmentInput{Result: AssessmentFailed, Assessor: "A", Date: "2018-07-02", Findings: []string{"no DB audit"}})
	h.partner(failAt+time.Hour, "p1", StepAssessment, AssessmentInput{Result: AssessmentFailed, Assessor: "A", Date: "2018-07-02"}) // a fail needs findings
	h.partner(failAt+2*time.Hour, "p1", StepWorkItem, WorkItemInput{Item: WorkSystemRectification, Owner: "Li", Status: WorkDone, Evidence: "DB audit on"})
	passAt := cst(2018, 9, 3, 10).Sub(paid)
	h.partner(passAt, "p1", StepAssessment, AssessmentInput{Result: AssessmentPassed, Assessor: "A", Date: "2018-09-03"})
	h.partner(passAt+time.Hour, "p1", workflows.StepDeliverable, DeliverableInput{Kind: DeliverableServiceReport, Summary: "passed"})
	h.partner(passAt+2*time.Hour, "p1", workflows.StepClose, workflows.CloseInput{FollowUp: "done"})
	res := h.run(caseInput(paid))
	assert.Equal(t, workflows.RejectInvalid, rejectionType(h.results[fmt.Sprintf("%s@%s", StepAssessment, failAt+time.Hour)]))
	assert.Equal(t, workflows.StageClosed, res.Stage)
	require.Len(t, res.State.Assessments, 2)
	assert.Equal(t, AssessmentFailed, res.State.Assessments[0].Result)
	assert.True(t, res.State.TermEnd.Equal(cst(2018, 9, 3, 0)))
	// The service report lists both attempts.
	last := h.docs[len(h.docs)-1]
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
	paid := cst(2018, 5, 1, 10)
	h := newHarness(t, paid, "p1")
	start(h)
	res := h.run(caseInput(paid))
	assert.Equal(t, workflows.StageExpired, res.Stage)
	assert.Equal(t, cst(2019, 5, 1, 10), h.env.Now().In(sla.China))
	var reminders []activities.Event
	for _, e := range h.events {
		if e.Event == string(workflows.EventTermReminder) {
			reminders = append(reminders, e)
		}
	}
	require.Len(t, reminders, 2)
	assert.True(t, reminders[0].At.Equal(cst(2019, 4, 1, 10)), "30-day reminder at %v", reminders[0].At.In(sla.China))
	assert.Contains(t, reminders[0].Detail, "30 days left")
	assert.True(t, reminders[1].At.Equal(cst(2019, 4, 24, 10)), "7-day reminder at %v", reminders[1].At.In(sla.China))
	assert.Contains(t, reminders[1].Detail, "7 days left")
	assert.Contains(t, h.eventNames(), string(workflows.EventTermEnded))
	assert.Equal(t, 2, h.countNotes("等保整改 term ends in"))
	var keys []string
	for _, n := range h.notes {
		keys = append(keys, n.Message.Key)
	}
	assert.Subset(t, keys, []string{"dengbao:O-1/term-reminder/30", "dengbao:O-1/term-reminder/7"})
}

// TestCancel: a full refund before kickoff; after kickoff, 409 with the reason and nothing refunded.
func TestCancel(t *testing.T) {
	paid := cst(2018, 5, 1, 10)
	t.Run("before kickoff", func(t *testing.T) {
		h := newHarness(t, paid, "p1")
		h.partner(time.Minute, "p1", workflows.StepAccept, struct{}{})
		h.market(2*time.Hour, workflows.StepCancel, workflows.CancelInput{Reason: "bought twice"})
		res := h.run(caseInput(paid))
		assert.Equal(t, workflows.StageCancelled, res.Stage)
		assert.Equal(t, workflows.Refund{Percent: 100, AmountCents: 3_000_000}, res.Refund)
		require.Len(t, h.refunds, 1)
		assert.Equal(t, int64(3_000_000), h.refunds[0].AmountCents)
		assert.Equal(t, sla.ClauseCancellation, h.refunds[0].Clause)
		assert.Contains(t, h.eventNames(), string(workflows.EventCaseCancelled))
	})
	t.Run("after kickoff", func(t *testing.T) {
		h := newHarness(t, paid, "p1")
		h.partner(time.Minute, "p1", workflows.StepAccept, struct{}{})
		h.partner(2*time.Hour, "p1", StepKickoff, struct{}{})
		h.market(3*time.Hour, workflows.StepCancel, workflows.CancelInput{})
		h.at(4*time.Hour, func() { h.env.CancelWorkflow() })
		h.env.ExecuteWorkflow(WorkflowName, caseInput(paid))
		err := h.results[workflows.StepCancel+"@3h0m0s"]
		assert.Equal(t, workflows.RejectConflict, rejectionType(err))
		assert.ErrorContains(t, err, "not refundable once work has begun")
		assert.Empty(t, h.refunds)
	})
}

// TestContinueAsNew: a long case continues as new before its history grows large, and the next run
// carries its state: partner, kickoff, work items, the term, the timeline sequence.
func TestContinueAsNew(t *testing.T) {
	paid := cst(2018, 5, 1, 10)
	h := newHarness(t, paid, "p1")
	start(h)
	for i := range 40 {
		status := []string{WorkPending, WorkInProgress}[i%2]
		h.partner(30*time.Hour+time.Duration(i)*time.Minute, "p1", StepWorkItem, WorkItemInput{Item: WorkPolicyGuidance, Owner: "Wang", Status: status})
	}
	// The test environment keeps no history length of its own: report the real server's as it grows.
	h.at(30*time.Hour+41*time.Minute, func() { h.env.SetCurrentHistoryLength(workflows.DefaultHistoryLimit) })
	h.partner(30*time.Hour+42*time.Minute, "p1", StepWorkItem, WorkItemInput{Item: WorkPolicyGuidance, Owner: "Wang", Status: WorkInProgress})
	h.env.ExecuteWorkflow(WorkflowName, caseInput(paid))
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(h.env.GetWorkflowError(), &can), "want continue-as-new, got %v", h.env.GetWorkflowError())
	assert.Equal(t, WorkflowName, can.WorkflowType.Name)
	var next Input
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.NotNil(t, next.State)
	st := *next.State
	assert.Equal(t, StageRectification, st.Core.Stage)
	assert.Equal(t, "p1", st.Core.PartnerID)
	assert.True(t, st.Core.Accepted)
	require.NotNil(t, st.KickoffAt)
	assert.True(t, st.TermEnd.Equal(cst(2019, 5, 1, 10)))
	assert.Equal(t, 1, st.Core.Runs)
	assert.Greater(t, st.Core.Seq, 5)
	assert.Equal(t, WorkInProgress, st.WorkItems[3].Status)

	// The next run picks up where the first stopped: a pass and a close finish the case, and the
	// timeline keys continue the sequence instead of repeating it.
	h2 := newHarness(t, h.env.Now(), "p1")
	passAt := cst(2018, 8, 1, 16).Sub(h.env.Now())
	h2.partner(passAt, "p1", StepAssessment, AssessmentInput{Result: AssessmentPassed, Assessor: "A", Date: "2018-08-01"})
	h2.partner(passAt+time.Hour, "p1", workflows.StepDeliverable, DeliverableInput{Kind: DeliverableServiceReport, Summary: "passed"})
	h2.partner(passAt+2*time.Hour, "p1", workflows.StepClose, workflows.CloseInput{FollowUp: "done"})
	res := h2.run(next)
	assert.Equal(t, workflows.StageClosed, res.Stage)
	assert.Equal(t, 2, res.State.Core.Runs)
	assert.NotContains(t, h2.eventNames(), string(workflows.EventCaseOpened), "the opening is recorded once, in the first run")
	keys := map[string]bool{}
	for _, e := range append(h.events, h2.events...) {
		assert.False(t, keys[e.Key], "timeline key %s written by both runs", e.Key)
		keys[e.Key] = true
	}
	assert.True(t, slices.ContainsFunc(h2.docs, func(d activities.Document) bool { return d.Kind == DeliverableServiceReport }))
}

// TestDetails: the case view's details keep the JSON names the API and e2e read, and the term is the one
// SLA entry, completed by a pass.
func TestDetails(t *testing.T) {
	paid := cst(2018, 5, 1, 10)
	h := newHarness(t, paid, "p1")
	start(h)
	var before, after workflows.CaseView
	query := func(v *workflows.CaseView) func() {
		return func() {
			enc, err := h.env.QueryWorkflow(workflows.QueryCaseView)
			require.NoError(t, err)
			require.NoError(t, enc.Get(v))
		}
	}
	h.at(27*time.Hour, query(&before))
	passAt := cst(2018, 8, 1, 16).Sub(paid)
	h.partner(passAt, "p1", StepAssessment, AssessmentInput{Result: AssessmentPassed, Assessor: "A", Date: "2018-08-01"})
	h.at(passAt+time.Hour, query(&after))
	h.at(passAt+2*time.Hour, func() { h.env.CancelWorkflow() })
	h.env.ExecuteWorkflow(WorkflowName, caseInput(paid))

	assert.Equal(t, StageRectification, before.Stage)
	require.Len(t, before.SLA, 1)
	assert.Equal(t, sla.ClauseTerm, before.SLA[0].Clause)
	assert.True(t, before.SLA[0].DueAt.Equal(cst(2019, 5, 1, 10)))
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
	assert.True(t, after.SLA[0].CompletedAt.Equal(cst(2018, 8, 1, 0)))
	b, err = json.Marshal(after.Details)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &d))
	assert.Contains(t, d, "passed_at")
}
