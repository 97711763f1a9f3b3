package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	sdkpb "go.temporal.io/api/sdk/v1"
	"go.temporal.io/sdk/converter"

	"github.com/steward-oss/steward/workflows"
	"github.com/steward-oss/steward/workflows/sos"
)

// assertStory reads a closed SOS case's history, description and metadata through the SDK, as the Web UI
// does, and checks that it reads as the lifecycle: one update per step named for it, summaries in words
// with Beijing times, the static summary and contract, and current details with the clauses, the
// partner, the refund in money and the new search attributes.
func assertStory(t *testing.T, s *stack, caseID string, wantSteps []string) {
	t.Helper()
	ctx := context.Background()
	text := func(p *commonpb.Payload) string {
		if p == nil {
			return ""
		}
		var v string
		require.NoError(t, converter.GetDefaultDataConverter().FromPayload(p, &v))
		return v
	}
	var updates, records, timers, notices []string
	for _, ev := range history(t, s, caseID, "").Events {
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
			updates = append(updates, ev.GetWorkflowExecutionUpdateAcceptedEventAttributes().GetAcceptedRequest().GetInput().GetName())
		case enumspb.EVENT_TYPE_MARKER_RECORDED:
			if sum := text(ev.GetUserMetadata().GetSummary()); sum != "" {
				records = append(records, sum)
			}
		case enumspb.EVENT_TYPE_TIMER_STARTED:
			timers = append(timers, text(ev.GetUserMetadata().GetSummary()))
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			notices = append(notices, text(ev.GetUserMetadata().GetSummary()))
		}
	}
	for _, step := range wantSteps {
		assert.Contains(t, updates, step, "an update named for the step")
	}
	assert.NotContains(t, updates, "step", "no update is named for nothing")
	joined := strings.Join(records, "\n")
	for _, want := range []string{"case opened: order", "partner offered: offered to", "; accept by ", "customer contacted: first contact with the customer; response ",
		"sla breached: response clause breached: not met by ", "refund now 50% (¥2,500.00)", "report submitted: report v1 submitted; handling met ",
		" before due (due ", " CST"} {
		assert.Contains(t, joined, want, "local activity summaries:\n%s", joined)
	}
	assert.NotContains(t, joined, "record ", "a summary says what happened, not which activity ran")
	for _, sum := range timers {
		assert.Contains(t, sum, " CST", "a timer's summary says when it fires, in Beijing time: %q", sum)
	}
	assert.Empty(t, notices, "notifications leave from the outbox, not as activities")
	assert.Contains(t, joined, "notify operations and p-alpha: New SOS case offered to p-alpha", "a record's summary says whom its notifications tell")

	d, err := s.temporal.DescribeWorkflowExecution(ctx, caseID, "")
	require.NoError(t, err)
	md := d.GetExecutionConfig().GetUserMetadata()
	summary, details := text(md.GetSummary()), text(md.GetDetails())
	assert.True(t, strings.HasPrefix(summary, "应急响应 SOS · 事件分析(远程) · order "), "static summary %q", summary)
	assert.Contains(t, summary, "¥5,000.00 · customer ")
	assert.Contains(t, details, "- **response**: 20 min of business time")
	assert.Contains(t, details, "refund 50% (¥2,500.00)")
	attrs := d.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()
	for name, want := range map[string]any{"Assignment": workflows.AssignmentAccepted, "AmountCents": int64(500000), "RefundCents": int64(250000),
		"SlaStatus": workflows.SLABreached} {
		p, ok := attrs[name]
		if !assert.True(t, ok, "search attribute %s", name) {
			continue
		}
		switch w := want.(type) {
		case string:
			assert.Equal(t, w, text(p), name)
		case int64:
			var got int64
			require.NoError(t, converter.GetDefaultDataConverter().FromPayload(p, &got))
			assert.Equal(t, w, got, name)
		}
	}
	_, hasDeadline := attrs["NextDeadline"]
	assert.False(t, hasDeadline, "a closed case has no deadline left")

	q, err := s.temporal.QueryWorkflow(ctx, caseID, "", "__temporal_workflow_metadata")
	require.NoError(t, err)
	var meta sdkpb.WorkflowMetadata
	require.NoError(t, q.Get(&meta))
	current := meta.GetCurrentDetails()
	for _, want := range []string{"**应急响应 SOS** · stage **closed** · partner **p-alpha (accepted)**", "refund owed **¥2,500.00 (50%)**",
		"- **response** · due ", " CST · **breached** (late by ", "- **handling** · due ", "**met** (met ", "Closed "} {
		assert.Contains(t, current, want, "current details:\n%s", current)
	}
	var updateNames []string
	for _, u := range meta.GetDefinition().GetUpdateDefinitions() {
		updateNames = append(updateNames, u.GetName())
	}
	assert.Subset(t, updateNames, sos.Updates, "the workflow registers one update per step")
}
