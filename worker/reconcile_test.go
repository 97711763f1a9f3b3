package worker

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/db/dbtest"
	"github.com/steward-oss/steward/workflows"
)

// fakeTemporal starts workflows as the server does as far as IDs go: one run per workflow ID, a second
// start of the ID refused as already started. While down, every start fails as unavailable.
type fakeTemporal struct {
	mu      sync.Mutex
	down    bool
	started map[string]client.StartWorkflowOptions
	types   map[string]any
	inputs  map[string][]any
	calls   int
}

type fakeRun struct {
	client.WorkflowRun
	id string
}

func (r fakeRun) GetID() string    { return r.id }
func (r fakeRun) GetRunID() string { return "run-" + r.id }

func (f *fakeTemporal) ExecuteWorkflow(_ context.Context, o client.StartWorkflowOptions, wf any, args ...any) (client.WorkflowRun, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.down {
		return nil, serviceerror.NewUnavailable("connection refused")
	}
	if f.started == nil {
		f.started, f.types, f.inputs = map[string]client.StartWorkflowOptions{}, map[string]any{}, map[string][]any{}
	}
	if _, ok := f.started[o.ID]; ok {
		return nil, serviceerror.NewWorkflowExecutionAlreadyStarted("already started", "", "run-"+o.ID)
	}
	f.started[o.ID], f.types[o.ID], f.inputs[o.ID] = o, wf, args
	return fakeRun{id: o.ID}, nil
}

func (f *fakeTemporal) setDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
}

func (f *fakeTemporal) startedIDs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for id := range f.started {
		ids = append(ids, id)
	}
	return ids
}

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// purchase stores an order and its case row as the purchase callback does, opened at openedAt.
func purchase(t *testing.T, store *db.Store, service, orderID, spec string, quantity int, openedAt time.Time) string {
	t.Helper()
	caseID := workflows.CaseWorkflowID(service, orderID)
	_, _, err := store.PutOrderAndCase(context.Background(), &db.Order{
		OrderID: orderID, CustomerID: "cust-1", Service: service, Spec: spec, Quantity: quantity, AmountCents: 500000, Currency: "CNY",
		PaidAt: openedAt.Add(-time.Minute), Contact: db.Contact{Name: "Wang", Phone: "+86 138 0000 0000"}, BodyHash: "h-" + orderID,
		CaseID: caseID, WorkflowID: caseID, CreatedAt: openedAt,
	}, &db.Case{
		CaseID: caseID, WorkflowID: caseID, Service: service, Spec: spec, Stage: workflows.StageAssignment, Status: workflows.StatusOpen,
		CustomerID: "cust-1", OrderID: orderID, AmountCents: 500000, SLAStatus: workflows.SLAOnTrack, OpenedAt: openedAt, UpdatedAt: openedAt,
	})
	require.NoError(t, err)
	return caseID
}

func TestReconcilerStartsCasesWithoutWorkflow(t *testing.T) {
	ctx := context.Background()
	store := dbtest.MustOpen(t)
	now := time.Date(2026, 5, 6, 2, 0, 0, 0, time.UTC)
	stuck := purchase(t, store, "sos", "ORD-STUCK", "handling", 1, now.Add(-time.Minute))           // Temporal was down at the callback
	fresh := purchase(t, store, "sos", "ORD-FRESH", "handling", 1, now.Add(-5*time.Second))         // its callback may still be starting it
	running := purchase(t, store, "butler", "ORD-RUNNING", "enterprise", 1, now.Add(-time.Hour))    // its workflow wrote the row
	closed := purchase(t, store, "dengbao", "ORD-CLOSED", "", 4, now.Add(-48*time.Hour))            // closed before its first write (a manual fix)
	invalid := purchase(t, store, "sos", "ORD-INVALID", "no-such-spec", 1, now.Add(-2*time.Minute)) // the catalogue changed since
	row, err := store.GetCase(ctx, running)
	require.NoError(t, err)
	row.Revision, row.Stage = 1, "onboarding"
	require.NoError(t, store.UpsertCase(ctx, row))
	row, err = store.GetCase(ctx, closed)
	require.NoError(t, err)
	row.Status = db.CaseClosed
	require.NoError(t, store.UpsertCase(ctx, row))

	temporal := &fakeTemporal{}
	logs := &syncBuffer{}
	r := &Reconciler{Store: store, Temporal: temporal, Logger: slog.New(slog.NewTextHandler(logs, nil)), AcceptTimeout: 3 * time.Minute,
		Now: func() time.Time { return now }}

	// Temporal is still down: nothing starts, the case waits for the next pass.
	temporal.setDown(true)
	res, err := r.Reconcile(ctx)
	require.NoError(t, err)
	assert.Equal(t, ReconcileResult{Failed: 2}, res, "the stuck case (unavailable) and the invalid one")
	assert.Empty(t, temporal.startedIDs())
	assert.Contains(t, logs.String(), "could not start the case's workflow; retrying on the next pass")

	temporal.setDown(false)
	res, err = r.Reconcile(ctx)
	require.NoError(t, err)
	assert.Equal(t, ReconcileResult{Started: 1, Failed: 1}, res)
	assert.Equal(t, []string{stuck}, temporal.startedIDs(), "only the stuck case: not %s, %s, %s, %s", fresh, running, closed, invalid)

	// Started as the purchase callback starts it, but only if it creates the run.
	o := temporal.started[stuck]
	want := workflows.StartOptions(CaseInputFromOrder(&db.Order{OrderID: "ORD-STUCK", Service: "sos"}, 0))
	assert.Equal(t, stuck, o.ID)
	assert.Equal(t, workflows.TaskQueue, o.TaskQueue)
	assert.Equal(t, enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE, o.WorkflowIDReusePolicy, "a closed case is never started again")
	assert.Equal(t, enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL, o.WorkflowIDConflictPolicy)
	assert.True(t, o.WorkflowExecutionErrorWhenAlreadyStarted)
	assert.Equal(t, want.TypedSearchAttributes.Size(), o.TypedSearchAttributes.Size())
	assert.Equal(t, Lifecycles["sos"].WorkflowType(), temporal.types[stuck])
	in := CaseInputFromOrder(&db.Order{OrderID: "ORD-STUCK", CustomerID: "cust-1", Service: "sos", Spec: "handling", Quantity: 1,
		AmountCents: 500000, Currency: "CNY", PaidAt: now.Add(-2 * time.Minute)}, 3*time.Minute)
	assert.Equal(t, []any{Lifecycles["sos"].Input(in)}, temporal.inputs[stuck], "the stored order, with the accept timeout")

	// Later passes, until the workflow writes its row: the start is refused, nothing is started twice,
	// and each case is logged once.
	now = now.Add(time.Minute)
	for range 3 {
		res, err = r.Reconcile(ctx)
		require.NoError(t, err)
		assert.Equal(t, ReconcileResult{Started: 1, Existing: 1, Failed: 1}, res, "the fresh case's turn, the stuck one has its workflow")
		now = now.Add(15 * time.Second)
		if res.Started == 1 {
			break
		}
	}
	res, err = r.Reconcile(ctx)
	require.NoError(t, err)
	assert.Equal(t, ReconcileResult{Existing: 2, Failed: 1}, res)
	assert.ElementsMatch(t, []string{stuck, fresh}, temporal.startedIDs())
	out := logs.String()
	assert.Equal(t, 2, strings.Count(out, "started the workflow of a case whose purchase did not start it"), out)
	assert.Equal(t, 1, strings.Count(out, "case_id="+stuck+" order_id=ORD-STUCK service=sos workflow_id="+stuck), out)
	assert.Equal(t, 2, strings.Count(out, "already has its workflow"), "once per case:\n%s", out)
	assert.Equal(t, 1, strings.Count(out, "not valid for its lifecycle"), "once:\n%s", out)
	assert.Contains(t, out, "case_id="+invalid)

	// Once the workflow has written the row, the case is no longer looked at.
	for _, id := range []string{stuck, fresh} {
		row, err := store.GetCase(ctx, id)
		require.NoError(t, err)
		row.Revision = 1
		require.NoError(t, store.UpsertCase(ctx, row))
	}
	res, err = r.Reconcile(ctx)
	require.NoError(t, err)
	assert.Equal(t, ReconcileResult{Failed: 1}, res)
}

// TestReconcilersRace: reconcilers on several workers at once start each case once, and only the one
// whose start created the run says it started it.
func TestReconcilersRace(t *testing.T) {
	ctx := context.Background()
	store := dbtest.MustOpen(t)
	now := time.Now()
	var ids []string
	for _, o := range []string{"R1", "R2", "R3", "R4", "R5"} {
		ids = append(ids, purchase(t, store, "sos", o, "handling", 1, now.Add(-time.Minute)))
	}
	temporal := &fakeTemporal{}
	logs := &syncBuffer{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &Reconciler{Store: store, Temporal: temporal, Logger: slog.New(slog.NewTextHandler(logs, nil))}
			_, err := r.Reconcile(ctx)
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	assert.ElementsMatch(t, ids, temporal.startedIDs())
	assert.Equal(t, 5, strings.Count(logs.String(), "started the workflow of a case"), logs.String())
}

// TestReconcilerRun starts a stuck case on its first pass, then stops with its context.
func TestReconcilerRun(t *testing.T) {
	store := dbtest.MustOpen(t)
	id := purchase(t, store, "sos", "ORD-RUN", "handling", 1, time.Now().Add(-time.Minute))
	temporal := &fakeTemporal{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		(&Reconciler{Store: store, Temporal: temporal, Every: 10 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)}).Run(ctx)
	}()
	require.Eventually(t, func() bool { return len(temporal.startedIDs()) == 1 }, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, []string{id}, temporal.startedIDs())
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return when its context ended")
	}
}
