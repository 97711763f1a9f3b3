package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-oss/steward/activities"
	"github.com/steward-oss/steward/notifications"
)

// DefaultAcceptTimeout is how long an offered partner has to accept a case before the next is chosen.
const DefaultAcceptTimeout = 10 * time.Minute

// ReassignInterval is how often assignment is retried while no partner is available.
const ReassignInterval = 15 * time.Minute

// DefaultHistoryLimit is the history length at which a long case continues as new.
const DefaultHistoryLimit = 2000

// CoreState is the part of a case's state every lifecycle has: the timeline sequence, the projection's
// revision, stage and status, the partner holding it, the refund and the SLA clocks. A lifecycle's
// continue-as-new state carries it; the case view is built from it, never the other way round.
type CoreState struct {
	Seq         int        `json:"seq"`
	Revision    int64      `json:"revision"`
	Stage       string     `json:"stage"`
	Status      string     `json:"status"`
	Opened      time.Time  `json:"opened"`
	Closed      *time.Time `json:"closed,omitempty"`
	PartnerID   string     `json:"partner_id,omitempty"`
	PartnerName string     `json:"partner_name,omitempty"`
	Accepted    bool       `json:"accepted"`
	Refund      Refund     `json:"refund"`
	Clocks      Clocks     `json:"clocks"`
	// Runs counts the workflow runs of the case, 1 for the first.
	Runs int `json:"runs"`
}

// Case is the kernel of every case lifecycle: it records the case's transitions (projection, timeline,
// refunds, search attributes, the Web UI's current details), notifies, offers the case to partners, keeps
// its SLA clocks, and continues as new. A lifecycle embeds *Case in its own state struct and adds its
// steps. Its methods run on the workflow's goroutines only.
type Case struct {
	CoreState
	// In is the order the case started from, with defaults filled.
	In     CaseInput
	Logger log.Logger
	// Label names the service in notifications, e.g. "SOS", "等保整改".
	Label string
	// NeedOnsite asks assignment for a partner with on-site capability.
	NeedOnsite bool
	// SLAStatus reports the case's SLA status and next deadline at now; nil takes the clocks' (Clocks.Status).
	SLAStatus func(now time.Time) (string, *time.Time)

	// Assignment of this run: who was offered, the open offer's answer and the reason of a decline.
	offered       []string
	answer        string
	declineReason string

	pending  int        // transitions and notifications in flight that the run must wait for
	upserted *caseAttrs // search attributes last sent, so a write that changes none sends none
}

// NewCase returns the kernel of a case for order in, labelled label in notifications.
func NewCase(in CaseInput, label string) *Case { return &Case{In: in, Label: label} }

// Setup checks the order and fills its defaults, takes the state carried from an earlier run (resume, nil
// on the first run), and registers the case's query and step update. view must only read. Call it last
// in a lifecycle's set-up: a step that arrived with the start is validated as soon as it is registered,
// so the lifecycle's own state must be ready by then.
func (c *Case) Setup(ctx workflow.Context, resume *CoreState, view func(now time.Time) CaseView,
	step func(workflow.Context, StepInput) (CaseView, error), validate func(workflow.Context, StepInput) error,
) error {
	if err := ValidateCaseInput(c.In); err != nil {
		return temporal.NewNonRetryableApplicationError(err.Error(), RejectInvalid, nil)
	}
	if c.In.AcceptTimeout <= 0 {
		c.In.AcceptTimeout = DefaultAcceptTimeout
	}
	if c.In.HistoryLimit <= 0 {
		c.In.HistoryLimit = DefaultHistoryLimit
	}
	c.Logger = log.With(workflow.GetLogger(ctx), "CaseID", c.In.CaseID, "Service", c.In.Service)
	if resume != nil {
		c.CoreState = *resume
		c.Runs++
	} else {
		c.CoreState = CoreState{Stage: StageAssignment, Status: StatusOpen, Opened: workflow.Now(ctx), Runs: 1}
	}
	if err := workflow.SetQueryHandler(ctx, QueryCaseView, func() (CaseView, error) { return view(workflow.Now(ctx)), nil }); err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdateStep, step, workflow.UpdateHandlerOptions{Validator: validate})
}

// IsClosed reports whether the case has ended.
func (c *Case) IsClosed() bool { return c.Status == StatusClosed }

// RefuseClosed refuses any step to a closed case.
func (c *Case) RefuseClosed() error {
	if c.IsClosed() {
		return Conflictf("the case is closed (stage %s)", c.Stage)
	}
	return nil
}

// RecordOpened records the case's first timeline line, on its first run only.
func (c *Case) RecordOpened(ctx workflow.Context, detail string) error {
	if c.Runs != 1 {
		return nil
	}
	return c.Record(ctx, c.NewEvent(ctx, EventCaseOpened, ActorMarketplace, detail))
}

// Hold keeps the run from ending until the returned release is called: a goroutine that records or
// notifies after a timer holds the case while it does.
func (c *Case) Hold() (release func()) {
	c.pending++
	return func() { c.pending-- }
}

// Finish waits for updates, records and notifications in flight, so none is lost when the run ends.
func (c *Case) Finish(ctx workflow.Context) error {
	return workflow.Await(ctx, func() bool { return c.pending == 0 && workflow.AllHandlersFinished(ctx) })
}

// ContinueAsNewDue reports whether the run's history is long enough to continue as new.
func (c *Case) ContinueAsNewDue(ctx workflow.Context) bool {
	info := workflow.GetInfo(ctx)
	return info.GetContinueAsNewSuggested() || info.GetCurrentHistoryLength() >= c.In.HistoryLimit
}

// AwaitEndOrContinue waits until the case is closed or its history is long enough to continue as new,
// then for everything in flight. It reports whether the run should continue as new.
func (c *Case) AwaitEndOrContinue(ctx workflow.Context) (bool, error) {
	if err := workflow.Await(ctx, func() bool { return c.IsClosed() || c.ContinueAsNewDue(ctx) }); err != nil {
		return false, err
	}
	if err := c.Finish(ctx); err != nil {
		return false, err
	}
	return !c.IsClosed(), nil
}

// EndAs closes the case in stage at now; clocks still running stop counting.
func (c *Case) EndAs(ctx workflow.Context, stage string) {
	now := workflow.Now(ctx)
	c.Clocks.StopAll(now)
	c.Stage, c.Status, c.Closed = stage, StatusClosed, &now
}

// NewEvent is the case's next timeline line, keyed by case, sequence and name so its write is idempotent.
func (c *Case) NewEvent(ctx workflow.Context, name Event, actor, detail string) activities.Event {
	c.Seq++
	return activities.Event{Key: fmt.Sprintf("%s/%03d/%s", c.In.CaseID, c.Seq, name), At: workflow.Now(ctx).UTC(),
		Actor: actor, Event: string(name), Detail: detail}
}

// Record writes the case's projection and the timeline lines events.
func (c *Case) Record(ctx workflow.Context, events ...activities.Event) error {
	return c.RecordWith(ctx, events, nil)
}

// RecordWith writes the case's projection, timeline lines and refunds as a local activity, inside the
// workflow task that asks for it (Record is idempotent by key, so a write repeated after a worker crash
// changes nothing), and keeps the search attributes and the Web UI's current details in step.
func (c *Case) RecordWith(ctx workflow.Context, events []activities.Event, refunds []activities.RefundRow) error {
	now := workflow.Now(ctx)
	c.Revision++
	status, next := c.slaStatus(now)
	if err := c.upsert(ctx, status, next); err != nil {
		return err
	}
	workflow.SetCurrentDetails(ctx, c.Details(now, ""))
	row := activities.CaseRow{
		CaseID: c.In.CaseID, Service: c.In.Service, Spec: c.In.Spec, Stage: c.Stage, Status: c.Status, PartnerID: c.PartnerID,
		CustomerID: c.In.CustomerID, OrderID: c.In.OrderID, AmountCents: c.In.AmountCents, SLAStatus: status,
		RefundPercent: c.Refund.Percent, NextDeadline: next, OpenedAt: c.Opened, UpdatedAt: now, ClosedAt: c.Closed,
		Revision: c.Revision,
	}
	var a *activities.Activities
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: ActivityOptions.StartToCloseTimeout,
		RetryPolicy: ActivityOptions.RetryPolicy, Summary: summaryOf(events)})
	return workflow.ExecuteLocalActivity(lctx, a.Record, activities.RecordInput{Case: row, Events: events, Refunds: refunds}).Get(ctx, nil)
}

// caseAttrs are the search attribute values a case last sent.
type caseAttrs struct {
	stage, partnerID, slaStatus string
	refundPercent               int
	nextDeadline                int64 // Unix nanoseconds; 0 when no clock runs
}

// upsert sends the search attributes when one changed since the last write (each upsert is an event and
// a visibility write on the server); a run's first write always sends them.
func (c *Case) upsert(ctx workflow.Context, status string, next *time.Time) error {
	attrs := caseAttrs{stage: c.Stage, partnerID: c.PartnerID, slaStatus: status, refundPercent: c.Refund.Percent}
	deadline := AttrNextDeadline.ValueUnset()
	if next != nil {
		attrs.nextDeadline = next.UnixNano()
		deadline = AttrNextDeadline.ValueSet(*next)
	}
	if c.upserted != nil && *c.upserted == attrs {
		return nil
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx,
		AttrCaseStage.ValueSet(c.Stage), AttrPartnerID.ValueSet(c.PartnerID), AttrSLAStatus.ValueSet(status),
		AttrRefundPercent.ValueSet(int64(c.Refund.Percent)), deadline,
	); err != nil {
		return err
	}
	c.upserted = &attrs
	return nil
}

func (c *Case) slaStatus(now time.Time) (string, *time.Time) {
	if c.SLAStatus != nil {
		return c.SLAStatus(now)
	}
	return c.Clocks.Status(now)
}

func summaryOf(events []activities.Event) string {
	names := make([]string, len(events))
	for i, e := range events {
		names[i] = e.Event
	}
	if len(names) == 0 {
		return "update projection"
	}
	return "record " + JoinList(names)
}

// Details is the workflow's current details in the Web UI: stage, partner, SLA and next deadline, and extra.
func (c *Case) Details(now time.Time, extra string) string {
	status, next := c.slaStatus(now)
	d := fmt.Sprintf("**Stage** %s · **Partner** %s · **SLA** %s · **Refund** %d%%", c.Stage, OrDash(c.PartnerID), status, c.Refund.Percent)
	if next != nil {
		d += " · **Next deadline** " + next.Format(time.RFC3339)
	}
	if extra != "" {
		d += "\n\n" + extra
	}
	return d
}

// BaseView is the case view with the clocks' entries; details is the service's own view of its state.
func (c *Case) BaseView(now time.Time, details any) CaseView {
	return CaseView{
		CaseID: c.In.CaseID, WorkflowID: c.In.CaseID, Service: c.In.Service, Spec: c.In.Spec, Stage: c.Stage, Status: c.Status,
		PartnerID: c.PartnerID, CustomerID: c.In.CustomerID, OrderID: c.In.OrderID, AmountCents: c.In.AmountCents,
		Currency: c.In.Currency, PaidAt: c.In.PaidAt, SLA: c.Clocks.Entries(c.In.Service, now), Refund: c.Refund,
		Timeline: []TimelineEntry{}, Details: details,
	}
}

// NotifyOptions bound a notification's delivery: retried with backoff for a day at most (a Slack or SMTP
// outage), while a delivery that can never succeed fails at once (the activity marks it non-retryable).
var NotifyOptions = workflow.ActivityOptions{
	StartToCloseTimeout:    time.Minute,
	ScheduleToCloseTimeout: 24 * time.Hour,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:    time.Second,
		BackoffCoefficient: 2,
		MaximumInterval:    5 * time.Minute,
	},
}

// Notify sends a notification without holding up the case; the case waits for it only before it ends.
// toPartner routes it to the partner's channel too. key makes it once-only within the case.
func (c *Case) Notify(ctx workflow.Context, key string, sev notifications.Severity, toPartner bool, title, text string) {
	in := activities.NotifyInput{Message: notifications.Message{
		Key: c.In.CaseID + "/" + key, CaseID: c.In.CaseID, WorkflowID: c.In.CaseID, Service: c.In.Service,
		Severity: sev, Title: title, Text: text,
		Fields: []notifications.Field{{Name: "Stage", Value: c.Stage}, {Name: "Partner", Value: OrDash(c.PartnerID)}, {Name: "Order", Value: c.In.OrderID}},
	}}
	if toPartner {
		in.PartnerID = c.PartnerID
	}
	c.pending++
	SendNotification(ctx, c.Logger, in, func() { c.pending-- })
}

// SendNotification runs the Notify activity for in in the background and calls done when it ended,
// delivered or not: an undeliverable notification is logged (the activity marked it failed and told
// operations), never retried forever.
func SendNotification(ctx workflow.Context, logger log.Logger, in activities.NotifyInput, done func()) {
	var a *activities.Activities
	opts := NotifyOptions
	opts.Summary = "notify: " + in.Message.Title
	f := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), a.Notify, in)
	workflow.Go(ctx, func(gctx workflow.Context) {
		defer done()
		if err := f.Get(gctx, nil); err != nil {
			logger.Warn("notification not delivered", "Key", in.Message.Key, "Error", err)
		}
	})
}

// RunLocal runs an activity whose work stays on the worker and is safe to repeat (a read, or a render
// stored by key) as a local activity: inside the workflow task that asks for it, with no activity task.
func RunLocal(ctx workflow.Context, timeout time.Duration, summary string, activity, arg, result any) error {
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: timeout,
		RetryPolicy: ActivityOptions.RetryPolicy, Summary: summary})
	return workflow.ExecuteLocalActivity(lctx, activity, arg).Get(ctx, result)
}

// AwaitUntil waits for cond or the deadline, whichever comes first, with a timer whose summary names what
// it waits for in the Web UI. It reports whether cond held.
func AwaitUntil(ctx workflow.Context, deadline time.Time, summary string, cond func() bool) (bool, error) {
	return AwaitFor(ctx, deadline.Sub(workflow.Now(ctx)), summary, cond)
}

// AwaitFor waits up to d for cond, with a timer named by summary that is cancelled when cond wins: the
// SDK's own timed Await leaves its timer to fire later, which would wake the case for nothing.
func AwaitFor(ctx workflow.Context, d time.Duration, summary string, cond func() bool) (bool, error) {
	if cond() {
		return true, nil
	}
	if d <= 0 {
		return false, nil
	}
	tctx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	timer := workflow.NewTimerWithOptions(tctx, d, workflow.TimerOptions{Summary: summary})
	if err := workflow.Await(ctx, func() bool { return cond() || timer.IsReady() }); err != nil {
		return false, err
	}
	if cond() {
		return true, nil
	}
	if err := ctx.Err(); err != nil {
		return false, err // the case was cancelled, in the same task as the timer fired or instead of it
	}
	return false, timer.Get(ctx, nil)
}
