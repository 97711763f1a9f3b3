package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/steward-oss/steward/activities"
)

func sosInput(paidAt time.Time) CaseInput {
	return CaseInput{
		CaseID: CaseWorkflowID(ServiceSOS, "O-1"), OrderID: "O-1", CustomerID: "C-1", Service: ServiceSOS,
		Spec: SpecHandling, Quantity: 1, AmountCents: 100000, Currency: "CNY", PaidAt: paidAt,
	}
}

type recorded struct {
	events []activities.Event
	cases  []activities.CaseRow
}

func newSOSEnv(t *testing.T, start time.Time) (*testsuite.TestWorkflowEnvironment, *recorded) {
	var ts testsuite.WorkflowTestSuite
	ts.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	env := ts.NewTestWorkflowEnvironment()
	env.SetStartTime(start)
	env.RegisterWorkflow(SOSWorkflow)
	var a *activities.Activities
	rec := &recorded{}
	env.RegisterActivity(a.Record)
	env.RegisterActivity(a.Notify)
	env.OnActivity(a.Record, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RecordInput) error {
		rec.events = append(rec.events, in.Events...)
		rec.cases = append(rec.cases, in.Case)
		return nil
	})
	env.OnActivity(a.Notify, mock.Anything, mock.Anything).Return(nil)
	return env, rec
}

func stepCallback(t *testing.T, name string, want func(error)) *testsuite.TestUpdateCallback {
	return &testsuite.TestUpdateCallback{
		OnAccept:   func() {},
		OnReject:   func(err error) { want(err) },
		OnComplete: func(_ any, err error) { want(err) },
	}
}

func assetsStep(at time.Time, hosts ...Host) StepInput {
	b, _ := json.Marshal(AssetsInput{Hosts: hosts})
	return StepInput{Step: StepAssets, Actor: ActorMarketplace, At: at, Payload: b}
}

func rejectionType(err error) string {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return ae.Type()
	}
	return ""
}

// TestSOSAssetWindowExpires: no asset list within 5 natural days of payment closes the case as expired,
// at exactly paid_at + 5 days.
func TestSOSAssetWindowExpires(t *testing.T) {
	paid := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	env, rec := newSOSEnv(t, paid)
	env.ExecuteWorkflow(SOSWorkflow, sosInput(paid))
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res SOSResult
	require.NoError(t, env.GetWorkflowResult(&res))
	assert.Equal(t, StageExpired, res.Stage)
	assert.Equal(t, paid.Add(AssetWindow), env.Now().UTC())
	last := rec.cases[len(rec.cases)-1]
	assert.Equal(t, StatusClosed, last.Status)
	assert.Equal(t, []string{"opened", "expired"}, eventNames(rec.events))
}

// TestSOSLateCallbackCountsFromPayment: a callback that arrives after the window closed expires at once.
func TestSOSLateCallbackCountsFromPayment(t *testing.T) {
	paid := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	start := paid.Add(6 * 24 * time.Hour)
	env, _ := newSOSEnv(t, start)
	env.ExecuteWorkflow(SOSWorkflow, sosInput(paid))
	require.True(t, env.IsWorkflowCompleted())
	var res SOSResult
	require.NoError(t, env.GetWorkflowResult(&res))
	assert.Equal(t, StageExpired, res.Stage)
	assert.Equal(t, start, env.Now().UTC(), "no waiting: the window had closed before the case started")
}

// TestSOSAssets: the asset list is taken inside the window, once; bad lists and late ones are refused
// with a reason.
func TestSOSAssets(t *testing.T) {
	paid := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	env, rec := newSOSEnv(t, paid)
	host := Host{InstanceID: "i-1", IP: "10.0.0.1", OS: "Ubuntu 22.04"}
	var results []string
	send := func(delay time.Duration, in StepInput, id string) {
		env.RegisterDelayedCallback(func() {
			env.UpdateWorkflow(UpdateStep, id, stepCallback(t, id, func(err error) {
				results = append(results, id+":"+rejectionType(err))
			}), in)
		}, delay)
	}
	send(time.Hour, assetsStep(paid.Add(time.Hour)), "empty")
	send(2*time.Hour, assetsStep(paid.Add(2*time.Hour), Host{InstanceID: "i-1", IP: "not-an-ip"}), "bad-ip")
	send(3*time.Hour, StepInput{Step: StepAssets, Actor: ActorPartner, At: paid.Add(3 * time.Hour), Payload: mustJSON(AssetsInput{Hosts: []Host{host}})}, "partner")
	send(4*time.Hour, assetsStep(paid.Add(4*time.Hour), host), "ok")
	send(5*time.Hour, assetsStep(paid.Add(5*time.Hour), host), "again")
	send(6*time.Hour, StepInput{Step: StepContact, Actor: ActorPartner, At: paid.Add(6 * time.Hour), Payload: []byte(`{}`)}, "contact")
	env.RegisterDelayedCallback(func() {
		res, err := env.QueryWorkflow(QueryCaseView)
		require.NoError(t, err)
		var v CaseView
		require.NoError(t, res.Get(&v))
		assert.Equal(t, StageAssignment, v.Stage)
		env.CancelWorkflow()
	}, 7*time.Hour)
	env.ExecuteWorkflow(SOSWorkflow, sosInput(paid))
	assert.Equal(t, []string{"empty:invalid", "bad-ip:invalid", "partner:conflict", "ok:", "again:conflict", "contact:conflict"}, results)
	assert.Equal(t, []string{"opened", "assets_submitted"}, eventNames(rec.events))
}

// TestSOSAssetsAfterWindow: an asset list at or after paid_at + 5 days is refused as too late.
func TestSOSAssetsAfterWindow(t *testing.T) {
	paid := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	env, _ := newSOSEnv(t, paid)
	var got error
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(UpdateStep, "late", stepCallback(t, "late", func(err error) { got = err }),
			assetsStep(paid.Add(AssetWindow), Host{InstanceID: "i-1", IP: "10.0.0.1"}))
	}, AssetWindow-time.Second)
	env.ExecuteWorkflow(SOSWorkflow, sosInput(paid))
	require.Error(t, got)
	assert.Equal(t, RejectConflict, rejectionType(got))
	assert.Contains(t, got.Error(), "was due by")
}

// TestSOSRejectsBadInput: a case cannot start from an invalid order.
func TestSOSRejectsBadInput(t *testing.T) {
	env, _ := newSOSEnv(t, time.Now())
	in := sosInput(time.Now())
	in.Spec = "unknown"
	env.ExecuteWorkflow(SOSWorkflow, in)
	require.Error(t, env.GetWorkflowError())
	assert.Contains(t, env.GetWorkflowError().Error(), "spec")
}

func eventNames(es []activities.Event) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Event
	}
	return out
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
