package workflows

import (
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
)

func dengbaoInput(paid time.Time) CaseInput {
	return CaseInput{CaseID: "dengbao:O-1", OrderID: "O-1", CustomerID: "C-1", Service: ServiceDengbao, Quantity: 8,
		AmountCents: 3_000_000, Currency: "CNY", PaidAt: paid}
}

func cst(y int, m time.Month, d, h int) time.Time { return time.Date(y, m, d, h, 0, 0, 0, chinaZone) }

// dengbaoStart accepts and kicks off; it returns the offset just after kickoff.
func dengbaoStart(h *sosHarness) {
	h.partner(time.Minute, "p1", StepAccept, struct{}{})
	h.partner(24*time.Hour, "p1", StepKickoff, struct{}{})
	h.partner(25*time.Hour, "p1", StepWorkItem, WorkItemInput{Item: WorkGapPlan, Owner: "Li", Status: WorkDone, Evidence: "plan v1 signed"})
	h.partner(26*time.Hour, "p1", StepDeliverable, DeliverableInput{Kind: DeliverableProposal, Summary: "12 gaps, 9 fixable by config", Items: []string{"enable audit logs"}})
}

func (h *sosHarness) runDengbao(in CaseInput) DengbaoResult {
	h.t.Helper()
	return h.runDengbaoInput(DengbaoInput{CaseInput: in})
}

func (h *sosHarness) runDengbaoInput(in DengbaoInput) DengbaoResult {
	h.t.Helper()
	h.env.ExecuteWorkflow(DengbaoWorkflow, in)
	require.True(h.t, h.env.IsWorkflowCompleted())
	require.NoError(h.t, h.env.GetWorkflowError())
	var res DengbaoResult
	require.NoError(h.t, h.env.GetWorkflowResult(&res))
	return res
}

func TestTermEnd(t *testing.T) {
	for _, tt := range []struct{ paid, want time.Time }{
		{cst(2018, 5, 1, 10), cst(2019, 5, 1, 10)},
		{cst(2024, 2, 29, 9), cst(2025, 3, 1, 9)},
		{time.Date(2025, 12, 31, 20, 0, 0, 0, time.UTC), cst(2027, 1, 1, 4)}, // already 2026-01-01 in China
	} {
		if got := TermEnd(tt.paid); !got.Equal(tt.want) {
			t.Errorf("TermEnd(%v) = %v; want %v", tt.paid, got.In(chinaZone), tt.want)
		}
	}
}

// TestDengbaoPassInMonth3 is SPEC's example: bought 2018-05-01, passed 2018-08-01 → the term ends
// 2018-08-01; the partner delivers the service report and closes; no refund, no reminder.
func TestDengbaoPassInMonth3(t *testing.T) {
	paid := cst(2018, 5, 1, 10)
	h := newSOS(t, paid, "p1")
	dengbaoStart(h)
	passAt := cst(2018, 8, 1, 16).Sub(paid)
	h.partner(passAt, "p1", StepAssessment, AssessmentInput{Result: AssessmentPassed, Assessor: "某测评中心", Date: "2018-08-01"})
	h.partner(passAt+time.Hour, "p1", StepClose, CloseInput{FollowUp: "x"}) // no service report yet
	h.partner(passAt+2*time.Hour, "p1", StepDeliverable, DeliverableInput{Kind: DeliverableServiceReport, Summary: "passed level 3"})
	h.partner(passAt+3*time.Hour, "p1", StepClose, CloseInput{FollowUp: "customer archived the reports"})
	res := h.runDengbao(dengbaoInput(paid))
	for id, err := range h.results {
		if id != fmt.Sprintf("close@%s", passAt+time.Hour) {
			require.NoError(t, err, id)
		}
	}
	assert.Equal(t, RejectConflict, rejectionType(h.results[fmt.Sprintf("close@%s", passAt+time.Hour)]))
	assert.Equal(t, StageClosed, res.Stage)
	assert.True(t, res.State.TermEnd.Equal(cst(2018, 8, 1, 0)), "term end %v", res.State.TermEnd.In(chinaZone))
	assert.Equal(t, Refund{}, res.Refund)
	assert.NotContains(t, h.eventNames(), "term_reminder_30d")
	require.Len(t, h.docs, 2)
	assert.Equal(t, DeliverableProposal, h.docs[0].Kind)
	assert.Equal(t, DeliverableServiceReport, h.docs[1].Kind)
	assert.Equal(t, "等保整改服务报告", h.docs[1].Title)
	assert.Equal(t, WorkDone, res.State.WorkItems[0].Status)
	assert.Equal(t, "plan v1 signed", res.State.WorkItems[0].Evidence)
}

// TestDengbaoFailThenPass: a failed assessment keeps the service going; the next pass ends it.
func TestDengbaoFailThenPass(t *testing.T) {
	paid := cst(2018, 5, 1, 10)
	h := newSOS(t, paid, "p1")
	dengbaoStart(h)
	failAt := cst(2018, 7, 2, 10).Sub(paid)
	h.partner(failAt, "p1", StepAssessment, AssessmentInput{Result: AssessmentFailed, Assessor: "A", Date: "2018-07-02", Findings: []string{"no DB audit"}})
	h.partner(failAt+time.Hour, "p1", StepAssessment, AssessmentInput{Result: AssessmentFailed, Assessor: "A", Date: "2018-07-02"}) // a fail needs findings
	h.partner(failAt+2*time.Hour, "p1", StepWorkItem, WorkItemInput{Item: WorkSystemRectification, Owner: "Li", Status: WorkDone, Evidence: "DB audit on"})
	passAt := cst(2018, 9, 3, 10).Sub(paid)
	h.partner(passAt, "p1", StepAssessment, AssessmentInput{Result: AssessmentPassed, Assessor: "A", Date: "2018-09-03"})
	h.partner(passAt+time.Hour, "p1", StepDeliverable, DeliverableInput{Kind: DeliverableServiceReport, Summary: "passed"})
	h.partner(passAt+2*time.Hour, "p1", StepClose, CloseInput{FollowUp: "done"})
	res := h.runDengbao(dengbaoInput(paid))
	assert.Equal(t, RejectInvalid, rejectionType(h.results[fmt.Sprintf("assessment@%s", failAt+time.Hour)]))
	assert.Equal(t, StageClosed, res.Stage)
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

// TestDengbaoNeverAssessed: bought 2018-05-01 and never assessed → reminders 30 and 7 days before the
// year ends, then the case closes on 2019-05-01 with the reason.
func TestDengbaoNeverAssessed(t *testing.T) {
	paid := cst(2018, 5, 1, 10)
	h := newSOS(t, paid, "p1")
	dengbaoStart(h)
	res := h.runDengbao(dengbaoInput(paid))
	assert.Equal(t, StageExpired, res.Stage)
	assert.Equal(t, cst(2019, 5, 1, 10), h.env.Now().In(chinaZone))
	var reminders []time.Time
	for _, e := range h.events {
		if e.Event == "term_reminder_30d" || e.Event == "term_reminder_7d" {
			reminders = append(reminders, e.At)
		}
	}
	require.Len(t, reminders, 2)
	assert.True(t, reminders[0].Equal(cst(2019, 4, 1, 10)), "30-day reminder at %v", reminders[0].In(chinaZone))
	assert.True(t, reminders[1].Equal(cst(2019, 4, 24, 10)), "7-day reminder at %v", reminders[1].In(chinaZone))
	assert.Contains(t, h.eventNames(), "term_ended")
	assert.Equal(t, 2, countNotes(h, "等保整改 term ends in"))
}

func countNotes(h *sosHarness, prefix string) int {
	n := 0
	for _, m := range h.notes {
		if len(m.Message.Title) >= len(prefix) && m.Message.Title[:len(prefix)] == prefix {
			n++
		}
	}
	return n
}

// TestDengbaoCancel: a full refund before kickoff; after kickoff, 409 with the reason and nothing refunded.
func TestDengbaoCancel(t *testing.T) {
	paid := cst(2018, 5, 1, 10)
	t.Run("before kickoff", func(t *testing.T) {
		h := newSOS(t, paid, "p1")
		h.partner(time.Minute, "p1", StepAccept, struct{}{})
		h.market(2*time.Hour, StepCancel, CancelInput{Reason: "bought twice"})
		res := h.runDengbao(dengbaoInput(paid))
		assert.Equal(t, StageCancelled, res.Stage)
		assert.Equal(t, Refund{Percent: 100, AmountCents: 3_000_000}, res.Refund)
		require.Len(t, h.refunds, 1)
		assert.Equal(t, int64(3_000_000), h.refunds[0].AmountCents)
		assert.Equal(t, "cancellation", h.refunds[0].Clause)
	})
	t.Run("after kickoff", func(t *testing.T) {
		h := newSOS(t, paid, "p1")
		h.partner(time.Minute, "p1", StepAccept, struct{}{})
		h.partner(2*time.Hour, "p1", StepKickoff, struct{}{})
		h.market(3*time.Hour, StepCancel, CancelInput{})
		h.at(4*time.Hour, func() { h.env.CancelWorkflow() })
		h.env.ExecuteWorkflow(DengbaoWorkflow, DengbaoInput{CaseInput: dengbaoInput(paid)})
		err := h.results["cancel@3h0m0s"]
		assert.Equal(t, RejectConflict, rejectionType(err))
		assert.ErrorContains(t, err, "not refundable once work has begun")
		assert.Empty(t, h.refunds)
	})
}

// TestDengbaoContinueAsNew: a long case continues as new before its history grows large, and the next
// run carries its state: partner, kickoff, work items, the term, the timeline sequence.
func TestDengbaoContinueAsNew(t *testing.T) {
	paid := cst(2018, 5, 1, 10)
	h := newSOS(t, paid, "p1")
	dengbaoStart(h)
	for i := range 40 {
		status := []string{WorkPending, WorkInProgress}[i%2]
		h.partner(30*time.Hour+time.Duration(i)*time.Minute, "p1", StepWorkItem, WorkItemInput{Item: WorkPolicyGuidance, Owner: "Wang", Status: status})
	}
	// The test environment keeps no history length of its own: report the real server's as it grows.
	h.at(30*time.Hour+41*time.Minute, func() { h.env.SetCurrentHistoryLength(DefaultHistoryLimit) })
	h.partner(30*time.Hour+42*time.Minute, "p1", StepWorkItem, WorkItemInput{Item: WorkPolicyGuidance, Owner: "Wang", Status: WorkInProgress})
	h.env.ExecuteWorkflow(DengbaoWorkflow, DengbaoInput{CaseInput: dengbaoInput(paid)})
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(h.env.GetWorkflowError(), &can), "want continue-as-new, got %v", h.env.GetWorkflowError())
	var next DengbaoInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.NotNil(t, next.State)
	st := *next.State
	assert.Equal(t, StageRectification, st.Stage)
	assert.Equal(t, "p1", st.PartnerID)
	assert.True(t, st.Accepted)
	require.NotNil(t, st.KickoffAt)
	assert.True(t, st.TermEnd.Equal(cst(2019, 5, 1, 10)))
	assert.Equal(t, 1, st.Runs)
	assert.Greater(t, st.Seq, 5)

	// The next run picks up where the first stopped: a pass and a close finish the case, and the
	// timeline keys continue the sequence instead of repeating it.
	h2 := newSOS(t, h.env.Now(), "p1")
	passAt := cst(2018, 8, 1, 16).Sub(h.env.Now())
	h2.partner(passAt, "p1", StepAssessment, AssessmentInput{Result: AssessmentPassed, Assessor: "A", Date: "2018-08-01"})
	h2.partner(passAt+time.Hour, "p1", StepDeliverable, DeliverableInput{Kind: DeliverableServiceReport, Summary: "passed"})
	h2.partner(passAt+2*time.Hour, "p1", StepClose, CloseInput{FollowUp: "done"})
	res := h2.runDengbaoInput(next)
	assert.Equal(t, StageClosed, res.Stage)
	assert.Equal(t, 2, res.State.Runs)
	assert.NotContains(t, h2.eventNames(), "opened", "the opening is recorded once, in the first run")
	keys := map[string]bool{}
	for _, e := range append(h.events, h2.events...) {
		assert.False(t, keys[e.Key], "timeline key %s written by both runs", e.Key)
		keys[e.Key] = true
	}
	assert.True(t, slices.ContainsFunc(h2.docs, func(d activities.Document) bool { return d.Kind == DeliverableServiceReport }))
}
