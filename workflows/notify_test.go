package workflows_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-oss/steward/activities"
	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/db/dbtest"
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

// notifyOnceWorkflow is the smallest case: it sends one notification and ends, waiting for it as every
// case does before it ends.
func notifyOnceWorkflow(ctx workflow.Context, in workflows.CaseInput) error {
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
	c.Notify(ctx, "opened", notifications.SeverityInfo, true, "New SOS case", "A case was opened.")
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

// TestNotifyUndeliverableEndsTheCase: a notification that can never be delivered fails non-retryably once;
// the case logs it and ends instead of waiting for it forever.
func TestNotifyUndeliverableEndsTheCase(t *testing.T) {
	var a *activities.Activities
	env := newNotifyTestEnv(t, &activities.Activities{})
	var calls atomic.Int32
	env.OnActivity(a.Notify, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.NotifyInput) error {
		calls.Add(1)
		return temporal.NewNonRetryableApplicationError("notify "+in.Message.Key+": undeliverable to #partner-gone (slack channel_not_found)",
			activities.ErrTypeNotificationUndeliverable, nil)
	})
	env.ExecuteWorkflow(notifyOnceWorkflow, notifyCaseInput())

	require.True(t, env.IsWorkflowCompleted(), "the case waits for an undeliverable notification forever")
	require.NoError(t, env.GetWorkflowError())
	assert.Equal(t, int32(1), calls.Load(), "a non-retryable failure is not retried")
	assert.Less(t, env.Now().Sub(notifyStart), time.Minute, "ended at once: env.Now() = %v", env.Now())
}

// TestNotifyRetriedUntilDelivered: a temporary failure is retried with NotifyOptions' backoff (1 s, 2 s, …)
// and the case ends once the notification is delivered.
func TestNotifyRetriedUntilDelivered(t *testing.T) {
	var a *activities.Activities
	env := newNotifyTestEnv(t, &activities.Activities{})
	var calls atomic.Int32
	env.OnActivity(a.Notify, mock.Anything, mock.Anything).Return(func(_ context.Context, _ activities.NotifyInput) error {
		if calls.Add(1) <= 2 {
			return errors.New("notify: slack server error: 500 Internal Server Error")
		}
		return nil
	})
	env.ExecuteWorkflow(notifyOnceWorkflow, notifyCaseInput())

	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	assert.Equal(t, int32(3), calls.Load(), "two failures, then delivered")
	elapsed := env.Now().Sub(notifyStart)
	assert.GreaterOrEqual(t, elapsed, 3*time.Second, "backoff 1 s then 2 s: env.Now() = %v", env.Now())
	assert.Less(t, elapsed, time.Minute)
}

// permanentNotifier refuses every message for good, as a chat whose token was revoked does.
type permanentNotifier struct{ calls atomic.Int32 }

func (p *permanentNotifier) Notify(_ context.Context, _ notifications.Message) error {
	p.calls.Add(1)
	return notifications.Undeliverable("slack token_revoked", errors.New("token_revoked"))
}

// TestNotifyUndeliverableWithTheActivity runs the real Notify activity on a chat that refuses for good: the
// case ends, and the outbox row is failed with the reason.
func TestNotifyUndeliverableWithTheActivity(t *testing.T) {
	store := dbtest.MustOpen(t)
	n := &permanentNotifier{}
	env := newNotifyTestEnv(t, &activities.Activities{Store: store, Notifier: n})
	env.ExecuteWorkflow(notifyOnceWorkflow, notifyCaseInput())

	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	assert.Less(t, env.Now().Sub(notifyStart), time.Minute, "env.Now() = %v", env.Now())
	// The notification once; the alert to operations once, refused too, so only logged.
	assert.Equal(t, int32(2), n.calls.Load())
	row, err := store.GetNotification(t.Context(), "sos:O1/opened")
	require.NoError(t, err)
	assert.Equal(t, db.NotificationFailed, row.Status)
	assert.Equal(t, "slack token_revoked", row.FailureReason)
}
