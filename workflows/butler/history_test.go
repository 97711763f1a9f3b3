package butler

import (
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-oss/steward/sla"
	"github.com/steward-oss/steward/workflows"
	"github.com/steward-oss/steward/workflows/casetest"
)

type interceptorT = interceptor.WorkerInterceptor

// historyMeter stands in for the server's history in the test environment, which keeps none (GetInfo's
// history length stays 0 in a child workflow): it counts, for each run of the case workflow, an upper
// bound of the events the run's history would hold, and makes GetInfo report that count as the current
// history length, so the case's own ContinueAsNewDue decides as it would on a server. Each message,
// command and workflow task is counted at its most: a signal 4 events (signaled + a workflow task of 3), an
// update 5, an activity 6, a timer 5, a child 9, an external signal or cancel 5, a local activity, side
// effect or upsert 1.
type historyMeter struct {
	interceptor.WorkerInterceptorBase
	mu   sync.Mutex
	runs []*meteredRun
	// replan is every SlaReplan value the case set, in order.
	replan [][]string
}

// replanUpserts returns the SlaReplan values upserted so far.
func (m *historyMeter) replanUpserts() [][]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.replan)
}

type meteredRun struct {
	started time.Time
	open    []string // requests open when the run started
	events  int
}

// force sets the history length of the current run to at least n.
func (m *historyMeter) force(n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.runs) > 0 {
		r := m.runs[len(m.runs)-1]
		r.events = max(r.events, n)
	}
}

func (m *historyMeter) snapshot() []meteredRun {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]meteredRun, len(m.runs))
	for i, r := range m.runs {
		out[i] = *r
	}
	return out
}

func (m *historyMeter) add(r *meteredRun, n int) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r == nil {
		return 0
	}
	r.events += n
	return r.events
}

func (m *historyMeter) InterceptWorkflow(ctx workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	if workflow.GetInfo(ctx).WorkflowType.Name != WorkflowName {
		return next
	}
	return &meterIn{WorkflowInboundInterceptorBase: interceptor.WorkflowInboundInterceptorBase{Next: next}, m: m}
}

type meterIn struct {
	interceptor.WorkflowInboundInterceptorBase
	m   *historyMeter
	run *meteredRun
}

func (i *meterIn) Init(out interceptor.WorkflowOutboundInterceptor) error {
	return i.Next.Init(&meterOut{WorkflowOutboundInterceptorBase: interceptor.WorkflowOutboundInterceptorBase{Next: out}, in: i})
}

func (i *meterIn) ExecuteWorkflow(ctx workflow.Context, in *interceptor.ExecuteWorkflowInput) (any, error) {
	run := &meteredRun{started: workflow.Now(ctx), events: 4}
	if len(in.Args) == 1 {
		if bi, ok := in.Args[0].(Input); ok && bi.State != nil {
			for _, r := range bi.State.Requests {
				if r.Status != workflows.StatusClosed {
					run.open = append(run.open, r.ID)
				}
			}
		}
	}
	i.m.mu.Lock()
	i.run = run
	i.m.runs = append(i.m.runs, run)
	i.m.mu.Unlock()
	return i.Next.ExecuteWorkflow(ctx, in)
}

func (i *meterIn) HandleSignal(ctx workflow.Context, in *interceptor.HandleSignalInput) error {
	i.m.add(i.run, 4)
	return i.Next.HandleSignal(ctx, in)
}

func (i *meterIn) ExecuteUpdate(ctx workflow.Context, in *interceptor.UpdateInput) (any, error) {
	i.m.add(i.run, 5)
	return i.Next.ExecuteUpdate(ctx, in)
}

type meterOut struct {
	interceptor.WorkflowOutboundInterceptorBase
	in *meterIn
}

func (o *meterOut) count(n int) { o.in.m.add(o.in.run, n) }

func (o *meterOut) GetInfo(ctx workflow.Context) *workflow.Info {
	// A copy that differs in one field, set by reflection: the same on every replay.
	//workflowcheck:ignore
	return withHistoryLength(o.Next.GetInfo(ctx), o.in.m.add(o.in.run, 0))
}

func (o *meterOut) ExecuteActivity(ctx workflow.Context, t string, args ...any) workflow.Future {
	o.count(6)
	return o.Next.ExecuteActivity(ctx, t, args...)
}

func (o *meterOut) ExecuteLocalActivity(ctx workflow.Context, t string, args ...any) workflow.Future {
	o.count(1)
	return o.Next.ExecuteLocalActivity(ctx, t, args...)
}

func (o *meterOut) ExecuteChildWorkflow(ctx workflow.Context, t string, args ...any) workflow.ChildWorkflowFuture {
	o.count(9)
	return o.Next.ExecuteChildWorkflow(ctx, t, args...)
}

func (o *meterOut) NewTimer(ctx workflow.Context, d time.Duration) workflow.Future {
	o.count(5)
	return o.Next.NewTimer(ctx, d)
}

func (o *meterOut) NewTimerWithOptions(ctx workflow.Context, d time.Duration, opts workflow.TimerOptions) workflow.Future {
	o.count(5)
	return o.Next.NewTimerWithOptions(ctx, d, opts)
}

func (o *meterOut) SignalExternalWorkflow(ctx workflow.Context, id, runID, name string, arg any) workflow.Future {
	o.count(5)
	return o.Next.SignalExternalWorkflow(ctx, id, runID, name, arg)
}

func (o *meterOut) RequestCancelExternalWorkflow(ctx workflow.Context, id, runID string) workflow.Future {
	o.count(5)
	return o.Next.RequestCancelExternalWorkflow(ctx, id, runID)
}

func (o *meterOut) SideEffect(ctx workflow.Context, f func(workflow.Context) any) converter.EncodedValue {
	o.count(1)
	return o.Next.SideEffect(ctx, f)
}

func (o *meterOut) UpsertTypedSearchAttributes(ctx workflow.Context, attrs ...temporal.SearchAttributeUpdate) error {
	o.count(1)
	for _, a := range attrs {
		sa := temporal.NewSearchAttributes(a)
		if v, ok := sa.GetKeywordList(workflows.AttrSLAReplan); ok {
			o.in.m.mu.Lock()
			o.in.m.replan = append(o.in.m.replan, v)
			o.in.m.mu.Unlock()
		}
	}
	return o.Next.UpsertTypedSearchAttributes(ctx, attrs...)
}

// withHistoryLength is a copy of info whose GetCurrentHistoryLength is n. WorkflowInfo has no setter (the
// worker fills the field from the history), so the test writes the unexported field of its copy.
func withHistoryLength(info *workflow.Info, n int) *workflow.Info {
	cp := *info
	f := reflect.ValueOf(&cp).Elem().FieldByName("currentHistoryLength")
	reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem().SetInt(int64(n))
	return &cp
}

// TestButlerYearOfRequests (defect 2): a year of an escort subscription with 1,000 consultations, one
// every 8 hours, each answered about 10 days later, so some 30 are open at every moment after the first
// (MaxOpenRequests is 50). The old case continued as new only when no request was open, so this one never
// would have, and its one history grew past 30,000 events. Now no run's history passes the limit by much
// (and none 10,000), the case runs many times, each run after the first starts with open requests that
// report to it, and every request ends answered and recorded.
func TestButlerYearOfRequests(t *testing.T) {
	if testing.Short() {
		t.Skip("a year of requests")
	}
	const (
		n       = 1000
		every   = 8 * time.Hour
		openFor = 30 * every
	)
	paid := casetest.CST(2026, 3, 2, 10)
	h := newHarness(t, paid, "p1")
	h.onboard()
	// Each request schedules its own steps and the next request when it is raised: the test environment
	// holds at most 1,000 callbacks waiting to be scheduled.
	var ids []string
	var raise func(i int)
	raise = func(i int) {
		rid := fmt.Sprintf("con-%d", i+1)
		partner := func(step string, payload any) workflows.StepInput {
			return workflows.StepInput{Step: step, Actor: workflows.ActorPartner, PartnerID: "p1", ActorName: "eng", Payload: casetest.MustJSON(payload)}
		}
		ids = append(ids,
			h.send(0, caseID, rid, workflows.StepInput{Step: workflows.StepRequest, Actor: workflows.ActorMarketplace,
				Payload: casetest.MustJSON(RequestStepInput{Kind: sla.RequestConsulting, Summary: "question " + rid})}),
			h.send(10*time.Minute, RequestWorkflowID(caseID, rid), rid+":respond", partner(StepRespond, RespondInput{})),
			h.send(openFor-time.Hour, RequestWorkflowID(caseID, rid), rid+":answer", partner(StepAnswer, SummaryInput{Summary: "answered"})))
		if i+1 < n {
			h.At(every, func() { raise(i + 1) })
		}
	}
	h.At(2*time.Hour, func() { raise(0) })
	ids = append(ids, h.termReport(sla.ButlerTermEnd(sla.EditionEscort, paid).Sub(paid)-sla.Day))
	wall := time.Now()
	res := h.run(input(sla.EditionEscort, paid))
	h.RequireOK(ids...)

	runs := h.meter.snapshot()
	longest := slices.MaxFunc(runs, func(a, b meteredRun) int { return a.events - b.events })
	t.Logf("%d runs, the longest %d events (estimated at most); %s of wall time", len(runs), longest.events, time.Since(wall).Round(time.Millisecond))
	assert.Equal(t, len(runs), res.State.Core.Runs)
	assert.Greater(t, len(runs), 10)
	for i, r := range runs {
		assert.Less(t, r.events, 10_000, "run %d", i+1)
		assert.Less(t, r.events, workflows.DefaultHistoryLimit+200, "run %d continued as new late", i+1)
		// The last request is raised at 2 h + (n-1)·every and answered openFor-1h later; a run that starts
		// after that (the term's last weeks) has none left to carry.
		if lastAnswered := paid.Add(2*time.Hour + (n-1)*every + openFor - time.Hour); i > 0 && r.started.Before(lastAnswered) {
			assert.NotEmpty(t, r.open, "run %d (started %s) started with no request open", i+1, r.started)
		}
	}
	require.Len(t, res.State.Requests, n)
	for _, r := range res.State.Requests {
		assert.Equal(t, workflows.StatusClosed, r.Status, r.ID)
		assert.Equal(t, OutcomeAnswered, r.Outcome, r.ID)
		assert.False(t, r.Breached, r.ID)
	}
	answered := map[string]bool{}
	for _, e := range h.Events() {
		if e.Event == string(workflows.EventAnswered) {
			answered[e.Key] = true
		}
	}
	assert.Len(t, answered, n, "answers recorded")
	assert.Equal(t, n, count(h.EventNames(), workflows.EventRequestReceived))
	assert.Equal(t, workflows.StageClosed, res.Stage)
	assert.True(t, h.Env.Now().Equal(sla.ButlerTermEnd(sla.EditionEscort, paid)), "closed at %v", h.Env.Now().In(sla.China))
}
