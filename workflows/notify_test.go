package workflows_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-oss/steward/activities"
	"github.com/steward-oss/steward/notifications"
	"github.com/steward-oss/steward/workflows"
)

var notifyStart = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func notifyCaseInput() workflows.CaseInput {
	return workflows.CaseInput{
		CaseID: workflows.CaseWorkflowID(workflows.ServiceSOS, "O1"), OrderID: "O1", CustomerID: "cust-1",
		Service: workflows.ServiceSOS, Quantity: 1, AmountCents: 100_000, Currency: "CNY", PaidAt: notifyStart,
	}
}

// notifyOnceWorkflow is the smallest case: it sends one notification and ends, as every case does only
// once its notifications are recorded. With recordFirst set it records a timeline line first, so the
// notification has no record of its own to leave with; otherwise it opens the case after it (RecordOpened,
// whose line waits for the next record too).
func notifyOnceWorkflow(ctx workflow.Context, in workflows.CaseInput, recordFirst bool) error {
	c := workflows.NewCase(in, "SOS")
	view := func(now time.Time) workflows.CaseView { return c.BaseView(now, nil) }
	step := func(workflow.Context, workflows.StepInput) (workflows.CaseView, error) {
		return view(workflow.Now(ctx)), nil
	}
	validate := func(workflow.Context, workflows.StepInput) error { return workflows.Conflictf("no steps") }
	ctx, err := c.Setup(ctx, nil, view, nil, step, validate)
	if err != nil {
		return err
	}
	if recordFirst {
		if err := c.Record(ctx, c.NewEvent(ctx, workflows.EventCaseOpened, workflows.ActorMarketplace, "bought")); err != nil {
			return err
		}
	}
	c.Notify(ctx, "opened", notifications.SeverityInfo, true, "New SOS case", "A case was opened.")
	if !recordFirst {
		if err := c.RecordOpened(ctx, "bought"); err != nil {
			return err
		}
	}
	return c.Finish(ctx)
}

func newNotifyTestEnv(t *testing.T, acts *activities.Activities) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetStartTime(notifyStart)
	env.RegisterWorkflow(notifyOnceWorkflow)
	env.RegisterActivity(acts)
	return env
}

// recorded runs notifyOnceWorkflow with the Record activity mocked and the Notify activity failing the
// test if called, and returns what each Record was asked to write.
func recorded(t *testing.T, recordFirst bool) []activities.RecordInput {
	t.Helper()
	var a *activities.Activities
	env := newNotifyTestEnv(t, &activities.Activities{})
	var ins []activities.RecordInput
	env.OnActivity(a.Record, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RecordInput) error {
		ins = append(ins, in)
		return nil
	})
	env.OnActivity(a.Notify, mock.Anything, mock.Anything).Return(func(context.Context, activities.NotifyInput) error {
		t.Error("a case's notification went through the Notify activity")
		return nil
	})
	env.ExecuteWorkflow(notifyOnceWorkflow, notifyCaseInput(), recordFirst)
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	return ins
}

// TestNotifyLeavesWithTheRecord: a notification and the opening line are written by one record — one
// local activity for both, no activity task — before the case ends.
func TestNotifyLeavesWithTheRecord(t *testing.T) {
	ins := recorded(t, false)
	require.Len(t, ins, 1, "one record carries the line and the notification")
	require.Len(t, ins[0].Events, 1)
	assert.Equal(t, string(workflows.EventCaseOpened), ins[0].Events[0].Event)
	require.Len(t, ins[0].Notices, 1)
	n := ins[0].Notices[0]
	assert.Equal(t, "sos:O1/opened", n.Message.Key)
	assert.Equal(t, "New SOS case", n.Message.Title)
	assert.Equal(t, notifications.SeverityInfo, n.Message.Severity)
	assert.Nil(t, n.Message.PartnerRobot, "no robot secret in history")
}

// TestNotifyAfterTheRecordIsNotLost: a notification sent after the last record of a workflow task (here,
// just before the case ends) gets a record of its own before the case ends.
func TestNotifyAfterTheRecordIsNotLost(t *testing.T) {
	ins := recorded(t, true)
	require.Len(t, ins, 2)
	assert.Len(t, ins[0].Events, 1)
	assert.Empty(t, ins[0].Notices)
	assert.Empty(t, ins[1].Events, "the second record only carries the notification")
	require.Len(t, ins[1].Notices, 1)
	assert.Equal(t, "sos:O1/opened", ins[1].Notices[0].Message.Key)
	assert.Greater(t, ins[1].Case.Revision, ins[0].Case.Revision)
}
