package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/steward-oss/steward/sla"
	"github.com/steward-oss/steward/workflows"
)

// Replanner defaults.
const (
	// DefaultReplanRetry is how long a Replanner waits before asking again when the server did not answer.
	DefaultReplanRetry = 10 * time.Second
	// replanAttempts bounds the attempts at start; a case left unsignalled still re-plans at its clock
	// watch's next wake-up.
	replanAttempts = 6
	// replanPage is the page size of the visibility query.
	replanPage = 500
)

// CaseSignaller is what a Replanner needs of a Temporal client; a client.Client is one.
type CaseSignaller interface {
	ListWorkflow(ctx context.Context, request *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error)
	SignalWorkflow(ctx context.Context, workflowID, runID, signalName string, arg any) error
}

// Replanner tells the running cases whose SLA clocks were planned without holiday data that this worker
// has — a year's schedule added since, as a new embedded file or with --holiday-files — to re-plan them
// now (workflows.SignalCalendarUpdated). It finds them by their SlaReplan search attribute
// ('awaiting:<year>'). A case it misses re-plans all the same at its clock watch's next wake-up, before
// any warning or breach; a case signalled twice (several workers starting) re-plans once.
type Replanner struct {
	Temporal  CaseSignaller
	Calendars *sla.Calendars
	Logger    *slog.Logger
	// Now is the clock; nil means time.Now. Retry is the wait between attempts (zero: DefaultReplanRetry).
	Now   func() time.Time
	Retry time.Duration
}

// Years are the years whose cases Signal looks for: from last year to next, those the calendars have
// data for. A clock is planned at most a little over a year ahead.
func (r *Replanner) Years() []int {
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	y := now().In(sla.China).Year()
	missing := r.Calendars.MissingYears(y-1, y+1)
	var out []int
	for year := y - 1; year <= y+1; year++ {
		if !slices.Contains(missing, year) {
			out = append(out, year)
		}
	}
	return out
}

// ReplanQuery is the visibility query for running cases with a clock planned without the data of years.
func ReplanQuery(years []int) string {
	vals := make([]string, len(years))
	for i, y := range years {
		vals[i] = "'" + workflows.ReplanAwaiting(y) + "'"
	}
	return fmt.Sprintf("%s IN (%s) AND ExecutionStatus = 'Running'", workflows.AttrSLAReplan.GetName(), strings.Join(vals, ", "))
}

// Signal signals each running case waiting for holiday data the calendars have, and returns how many it
// signalled. A case that ended meanwhile is skipped; the first other failure is returned after the rest
// were tried.
func (r *Replanner) Signal(ctx context.Context) (int, error) {
	years := r.Years()
	if len(years) == 0 {
		return 0, nil
	}
	update := workflows.CalendarUpdate{Versions: r.Calendars.HolidayVersions()}
	req := &workflowservice.ListWorkflowExecutionsRequest{Query: ReplanQuery(years), PageSize: replanPage}
	signalled := 0
	var firstErr error
	seen := map[string]bool{}
	for {
		resp, err := r.Temporal.ListWorkflow(ctx, req)
		if err != nil {
			return signalled, fmt.Errorf("list cases awaiting holiday data: %w", err)
		}
		for _, ex := range resp.GetExecutions() {
			id := ex.GetExecution().GetWorkflowId()
			if seen[id] {
				continue
			}
			seen[id] = true
			err := r.Temporal.SignalWorkflow(ctx, id, "", workflows.SignalCalendarUpdated, update)
			var nf *serviceerror.NotFound
			switch {
			case errors.As(err, &nf):
			case err != nil:
				r.logger().WarnContext(ctx, "re-plan: could not signal a case; it re-plans at its next wake-up", slog.String("case_id", id), slog.Any("error", err))
				if firstErr == nil {
					firstErr = fmt.Errorf("signal %s: %w", id, err)
				}
			default:
				signalled++
			}
		}
		if len(resp.GetNextPageToken()) == 0 {
			return signalled, firstErr
		}
		req.NextPageToken = resp.GetNextPageToken()
	}
}

// Run signals the cases (Signal), retrying while the server does not answer, a few times at most, or
// until ctx ends. A namespace without the SlaReplan attribute (steward setup not run since) is logged,
// not retried.
func (r *Replanner) Run(ctx context.Context) {
	retry := r.Retry
	if retry <= 0 {
		retry = DefaultReplanRetry
	}
	for attempt := 1; ; attempt++ {
		n, err := r.Signal(ctx)
		if err == nil {
			if n > 0 {
				r.logger().InfoContext(ctx, "re-plan: cases planned without holiday data this worker has were told to re-plan",
					slog.Int("cases", n), slog.Any("years", r.Years()))
			}
			return
		}
		var invalid *serviceerror.InvalidArgument
		if ctx.Err() != nil || errors.As(err, &invalid) || attempt == replanAttempts {
			r.logger().WarnContext(ctx, "re-plan: cases not told; each re-plans at its clock watch's next wake-up", slog.Any("error", err))
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(retry):
		}
	}
}

func (r *Replanner) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.Default()
}

// replanningWorker is a worker that runs a Replanner while it runs.
type replanningWorker struct {
	sdkworker.Worker
	replanner *Replanner
	stop      context.CancelFunc
	done      chan struct{}
}

var _ sdkworker.Worker = (*replanningWorker)(nil)

func newReplanningWorker(w sdkworker.Worker, c client.Client, logger *slog.Logger) *replanningWorker {
	return &replanningWorker{Worker: w, replanner: &Replanner{Temporal: c, Calendars: workflows.Calendars(), Logger: logger}}
}

// Start starts the worker, then its Replanner in the background.
func (w *replanningWorker) Start() error {
	if err := w.Worker.Start(); err != nil {
		return err
	}
	w.startReplan()
	return nil
}

// Run runs the worker and its Replanner until interruptCh says stop.
func (w *replanningWorker) Run(interruptCh <-chan any) error {
	w.startReplan()
	defer w.stopReplan()
	return w.Worker.Run(interruptCh)
}

// Stop stops the Replanner, then the worker.
func (w *replanningWorker) Stop() {
	w.stopReplan()
	w.Worker.Stop()
}

func (w *replanningWorker) startReplan() {
	if w.stop != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.stop, w.done = cancel, make(chan struct{})
	go func() {
		defer close(w.done)
		w.replanner.Run(ctx)
	}()
}

func (w *replanningWorker) stopReplan() {
	if w.stop == nil {
		return
	}
	w.stop()
	<-w.done
	w.stop = nil
}
