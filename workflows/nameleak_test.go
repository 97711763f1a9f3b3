package workflows_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steward-oss/steward/workflows"
	"github.com/steward-oss/steward/workflows/casetest"
	"github.com/steward-oss/steward/workflows/dengbao"
	"github.com/steward-oss/steward/workflows/escort"
)

// TestPublicLinesNameNoPerson: the lines that reach the customer and the webhooks — an escort's check-in, a
// 等保 work item — never carry the on-duty engineer's or the owner's name; the line's author is on the row
// (By), which the API shows to managers and the partner only.
func TestPublicLinesNameNoPerson(t *testing.T) {
	t.Run("escort check-in", func(t *testing.T) {
		start := casetest.CST(2026, 4, 20, 10)
		h := casetest.New(t, start, []string{"p1"}, escort.Lifecycle.Workflows...)
		h.Partner(time.Minute, "p1", workflows.StepAccept, struct{}{})
		h.Partner(time.Hour, "p1", workflows.StepPlan, escort.PlanInput{StartsOn: "2026-05-01", Summary: "launch", Items: []string{"WAF alerts"}})
		day := casetest.CST(2026, 5, 1, 9).Sub(start)
		h.Partner(day, "p1", escort.StepCheckin, escort.CheckinInput{Day: "2026-05-01", Engineer: "Zhao Mingyu", Notes: "on site"})
		h.RunUntil(escort.WorkflowName, escort.Lifecycle.Input(workflows.CaseInput{CaseID: "escort:O-1", OrderID: "O-1", CustomerID: "C-1",
			Service: workflows.ServiceEscort, Quantity: 1, AmountCents: 900_000, Currency: "CNY", PaidAt: start}), day+time.Hour)
		h.RequireOK(escort.StepCheckin + "@" + day.String())
		lines := h.EventsNamed(workflows.EventCheckedIn)
		require.Len(t, lines, 1)
		assert.NotEmpty(t, lines[0].Webhook, "the line is a webhook")
		assert.False(t, strings.Contains(lines[0].Detail, "Zhao"), "the check-in line names the engineer: %q", lines[0].Detail)
		assert.Equal(t, "eng", lines[0].By, "its author is on the row")
	})
	t.Run("dengbao work item", func(t *testing.T) {
		start := casetest.CST(2026, 4, 20, 10)
		h := casetest.New(t, start, []string{"p1"}, dengbao.Lifecycle.Workflows...)
		h.Partner(time.Minute, "p1", workflows.StepAccept, struct{}{})
		h.Partner(time.Hour, "p1", dengbao.StepKickoff, struct{}{})
		h.Partner(2*time.Hour, "p1", dengbao.StepWorkItem, dengbao.WorkItemInput{Item: dengbao.WorkGapPlan, Owner: "Li Lei", Status: dengbao.WorkDone,
			Evidence: "plan v1 signed"})
		h.RunUntil(dengbao.WorkflowName, dengbao.Lifecycle.Input(workflows.CaseInput{CaseID: "dengbao:O-1", OrderID: "O-1", CustomerID: "C-1",
			Service: workflows.ServiceDengbao, Quantity: 8, AmountCents: 3_000_000, Currency: "CNY", PaidAt: start}), 3*time.Hour)
		h.RequireOK(dengbao.StepWorkItem + "@2h0m0s")
		lines := h.EventsNamed(workflows.EventWorkItemUpdated)
		require.Len(t, lines, 1)
		assert.NotEmpty(t, lines[0].Webhook, "the line is a webhook")
		assert.False(t, strings.Contains(lines[0].Detail, "Li Lei"), "the work item line names its owner: %q", lines[0].Detail)
		assert.Equal(t, "eng", lines[0].By)
	})
}
