package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/workflows"
)

// Reconciler defaults.
const (
	// DefaultReconcileEvery is how often a Reconciler looks for cases without a workflow.
	DefaultReconcileEvery = 15 * time.Second
	// DefaultReconcileGrace is how old a case row must be before a Reconciler takes it for one whose start
	// failed, rather than one whose purchase callback is still starting it. With DefaultReconcileEvery, a
	// case is started within 35 seconds of its purchase while a worker runs.
	DefaultReconcileGrace = 20 * time.Second
	// reconcileBatch bounds the cases one pass starts.
	reconcileBatch = 100
)

// Starter starts workflows; a client.Client is one.
type Starter interface {
	ExecuteWorkflow(ctx context.Context, options client.StartWorkflowOptions, workflow any, args ...any) (client.WorkflowRun, error)
}

// Reconciler starts the workflow of every case whose purchase was stored but never started one: the API
// writes the order and the case row before it starts the workflow, so when Temporal is down at the
// marketplace's callback, and the marketplace never retries, the row waits without a workflow. Each pass
// starts such a case from its stored order, as the callback would have, exactly once: the workflow ID is
// the case ID, and Temporal refuses a second start of an ID, running or closed. Every worker may run one.
type Reconciler struct {
	Store    *db.Store
	Temporal Starter
	Logger   *slog.Logger
	// AcceptTimeout is what the API passes on a purchase (zero: the workflows' default).
	AcceptTimeout time.Duration
	// Every is how often it looks (zero: DefaultReconcileEvery); Grace how old a case row must be
	// (zero: DefaultReconcileGrace).
	Every, Grace time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu   sync.Mutex
	told map[string]bool // cases already logged as having a workflow, or as unstartable
}

// ReconcileResult counts what one pass did.
type ReconcileResult struct {
	// Started is how many workflows the pass started.
	Started int
	// Existing is how many cases already had their workflow (started since, or by another worker).
	Existing int
	// Failed is how many could not be started now (retried on the next pass) or never can (logged).
	Failed int
}

// Run reconciles at once and then every r.Every until ctx ends.
func (r *Reconciler) Run(ctx context.Context) {
	every := r.Every
	if every <= 0 {
		every = DefaultReconcileEvery
	}
	r.logger().InfoContext(ctx, "reconciler started: cases whose purchase did not start their workflow are started",
		slog.Duration("every", every), slog.Duration("grace", r.grace()))
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := r.Reconcile(ctx); err != nil && ctx.Err() == nil {
			r.logger().WarnContext(ctx, "reconciler: pass failed; retrying", slog.Any("error", err), slog.Duration("in", every))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (r *Reconciler) grace() time.Duration {
	if r.Grace <= 0 {
		return DefaultReconcileGrace
	}
	return r.Grace
}

func (r *Reconciler) logger() *slog.Logger {
	if r.Logger == nil {
		return slog.Default()
	}
	return r.Logger
}

// once reports whether caseID has not been told about yet, and marks it.
func (r *Reconciler) once(caseID string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.told == nil {
		r.told = map[string]bool{}
	}
	if r.told[caseID] {
		return false
	}
	r.told[caseID] = true
	return true
}

// Reconcile is one pass: it starts the workflow of each open case that no workflow has written and that
// was opened more than r.Grace ago. An error is the store's; a case that fails to start is logged and
// counted, and tried again on the next pass.
func (r *Reconciler) Reconcile(ctx context.Context) (ReconcileResult, error) {
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	var res ReconcileResult
	cases, err := r.Store.UnstartedCases(ctx, now().Add(-r.grace()), reconcileBatch)
	if err != nil {
		return res, err
	}
	for _, u := range cases {
		switch err := r.start(ctx, u, now()); {
		case err == nil:
			res.Started++
		case errors.Is(err, errHasWorkflow):
			res.Existing++
		default:
			res.Failed++
		}
	}
	return res, nil
}

var errHasWorkflow = errors.New("the case has its workflow")

// start starts u's workflow from its order, logging what it does.
func (r *Reconciler) start(ctx context.Context, u db.UnstartedCase, now time.Time) error {
	log := r.logger().With(slog.String("case_id", u.Case.CaseID), slog.String("order_id", u.Case.OrderID))
	if u.Order == nil {
		if r.once(u.Case.CaseID) {
			log.ErrorContext(ctx, "reconciler: case has no stored order; it cannot be started")
		}
		return errors.New("no order")
	}
	in := CaseInputFromOrder(u.Order, r.AcceptTimeout)
	if in.CaseID != u.Case.CaseID {
		if r.once(u.Case.CaseID) {
			log.ErrorContext(ctx, "reconciler: the order names another case; not started", slog.String("order_case_id", in.CaseID))
		}
		return errors.New("case id mismatch")
	}
	lc, ok := Lifecycles[in.Service]
	if !ok {
		if r.once(u.Case.CaseID) {
			log.ErrorContext(ctx, "reconciler: service is not offered; not started", slog.String("service", in.Service))
		}
		return fmt.Errorf("service %q", in.Service)
	}
	if err := lc.Validate(in); err != nil {
		if r.once(u.Case.CaseID) {
			log.ErrorContext(ctx, "reconciler: the stored order is not valid for its lifecycle; not started", slog.Any("error", err))
		}
		return err
	}
	opts := workflows.StartOptions(in)
	// Only a start that creates the run succeeds, so that "started" is logged once, by one worker.
	opts.WorkflowIDConflictPolicy = enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL
	opts.WorkflowExecutionErrorWhenAlreadyStarted = true
	run, err := r.Temporal.ExecuteWorkflow(ctx, opts, lc.WorkflowType(), lc.Input(in))
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	switch {
	case errors.As(err, &already):
		if r.once(u.Case.CaseID) {
			log.InfoContext(ctx, "reconciler: case already has its workflow; waiting for its first write")
		}
		return errHasWorkflow
	case err != nil:
		log.WarnContext(ctx, "reconciler: could not start the case's workflow; retrying on the next pass", slog.Any("error", err))
		return err
	}
	log.InfoContext(ctx, "reconciler: started the workflow of a case whose purchase did not start it",
		slog.String("service", in.Service), slog.String("workflow_id", run.GetID()), slog.String("run_id", run.GetRunID()),
		slog.Time("opened_at", u.Case.OpenedAt), slog.Duration("waited", now.Sub(u.Case.OpenedAt).Round(time.Second)))
	return nil
}

// CaseInputFromOrder is the case workflow's input for a stored order, as the purchase callback builds it
// (the customer's contact stays in the orders table).
func CaseInputFromOrder(o *db.Order, acceptTimeout time.Duration) workflows.CaseInput {
	return workflows.CaseInput{
		CaseID: workflows.CaseWorkflowID(o.Service, o.OrderID), OrderID: o.OrderID, CustomerID: o.CustomerID,
		Service: o.Service, Spec: o.Spec, Quantity: o.Quantity, AmountCents: o.AmountCents, Currency: o.Currency,
		PaidAt: o.PaidAt.UTC(), AcceptTimeout: acceptTimeout,
	}
}
