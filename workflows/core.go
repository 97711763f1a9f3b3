package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-oss/steward/activities"
	"github.com/steward-oss/steward/notifications"
	"github.com/steward-oss/steward/sla"
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
	// Rating is the customer's rating of the partner's work (1–5), 0 until given.
	Rating int    `json:"rating,omitempty"`
	Clocks Clocks `json:"clocks"`
	// Runs counts the workflow runs of the case, 1 for the first.
	Runs int `json:"runs"`
	// ResumeStage is the stage a case offered again after its partner was withdrawn (Reoffer) was in: the
	// next partner's acceptance takes it back there. Empty otherwise.
	ResumeStage string `json:"resume_stage,omitempty"`
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
	// View is the lifecycle's case view, whose SLA entries the Web UI's current details tabulate.
	View func(now time.Time) CaseView
	// ExtraClocks are clock rows the case keeps outside its own clocks (a subscription's requests), for the
	// reports; nil for none.
	ExtraClocks func(now time.Time) []activities.ClockRow
	// Expect says what the case waits for and from whom ("partner demo-sec-a: contact the customer"), for
	// the Web UI's current details; nil or "" writes nothing.
	Expect func() string

	// Assignment of this run: who was offered, when the open offer was made, its answer and the reason of
	// a decline.
	offered       []string
	offeredAt     time.Time
	answer        string
	declineReason string

	pending  int                      // transitions in flight that the run must wait for
	notices  []activities.NotifyInput // notifications for the next record to write to the outbox
	carry    []activities.Event       // timeline lines for the next record to write (RecordOpened)
	choosing int                      // partner choices in flight, whose offer records what is carried
	// recording counts the records in flight; attrsDirty says a record changed what the search attributes
	// show since they were last sent.
	recording  int
	attrsDirty bool
	recorded   map[string]activities.ClockRow // clock rows last written, by key, so a record writes only changed ones
	upserted   *caseAttrs                     // search attributes last sent, so a write that changes none sends none
	// root is the workflow's own context, which a cancellation request cancels; cancelTaken says the
	// request was taken (WebUICancel ran), so the run never ends or continues as new before it is.
	root        workflow.Context
	cancelTaken bool
	// run is the context Setup returned, in which a re-offer restarts assignment (Reoffer).
	run workflow.Context
}

// NewCase returns the kernel of a case for order in, labelled label in notifications.
func NewCase(in CaseInput, label string) *Case { return &Case{In: in, Label: label} }

// Setup checks the order and fills its defaults, takes the state carried from an earlier run (resume, nil
// on the first run), and registers the case's query and its steps, each a Workflow Update named for the
// step (RegisterSteps). view must only read. Call it last in a lifecycle's set-up: a step that arrived
// with the start is validated as soon as it is registered, so the lifecycle's own state must be ready by
// then.
//
// It returns the context the lifecycle runs in from then on. A cancellation requested of the workflow
// (the Web UI's Cancel, when its write actions are on) does not cancel that context: the case takes it
// as the customer's cancellation relayed by a manager, under the service's rule (WebUICancel), and goes
// on if the rule refuses it. A case never ends silently.
func (c *Case) Setup(ctx workflow.Context, resume *CoreState, view func(now time.Time) CaseView, steps []string,
	step func(workflow.Context, StepInput) (CaseView, error), validate func(workflow.Context, StepInput) error,
) (workflow.Context, error) {
	if err := ValidateCaseInput(c.In); err != nil {
		return ctx, temporal.NewNonRetryableApplicationError(err.Error(), RejectInvalid, nil)
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
	c.View = view
	if err := workflow.SetQueryHandler(ctx, QueryCaseView, func() (CaseView, error) { return view(workflow.Now(ctx)), nil }); err != nil {
		return ctx, err
	}
	if err := RegisterSteps(ctx, steps, step, validate); err != nil {
		return ctx, err
	}
	run, _ := workflow.NewDisconnectedContext(ctx)
	c.root, c.run = ctx, run
	if err := c.registerReoffer(ctx); err != nil {
		return ctx, err
	}
	workflow.Go(run, func(g workflow.Context) {
		ctx.Done().Receive(g, nil) // returns once the workflow's cancellation was requested
		c.WebUICancel(g, slices.Contains(steps, StepCancel), step, validate)
	})
	// A notification (or a carried line) leaves with the record that follows it in the same workflow task;
	// one that no record follows (a record came first) leaves with a record of its own as soon as the
	// case's code waits for anything but a partner choice, whose offer is recorded next.
	workflow.Go(run, func(g workflow.Context) {
		for {
			if err := workflow.Await(g, func() bool { return (len(c.notices) > 0 || len(c.carry) > 0) && c.choosing == 0 }); err != nil {
				return
			}
			release := c.Hold()
			if err := c.Record(g); err != nil {
				c.Logger.Error("record notifications", "Error", err)
			}
			release()
		}
	})
	// The search attributes go out once the records of a workflow task are done — one upsert however
	// many lines the task recorded (a late purchase's breaches, its reminder, its offer) — and only when a
	// value changed (upsert).
	workflow.Go(run, func(g workflow.Context) {
		for {
			if err := workflow.Await(g, func() bool { return c.attrsDirty && c.recording == 0 && c.choosing == 0 }); err != nil {
				return
			}
			c.attrsDirty = false
			status, next := c.slaStatus(workflow.Now(g))
			if err := c.upsert(g, status, next); err != nil {
				c.Logger.Error("search attributes", "Error", err)
			}
		}
	})
	// A worker with holiday data this case's clocks were planned without wakes the clock watch, which
	// re-plans them (ReplanClocks).
	updates := workflow.GetSignalChannel(ctx, SignalCalendarUpdated)
	workflow.Go(run, func(g workflow.Context) {
		for {
			var u CalendarUpdate
			updates.Receive(g, &u)
			c.Clocks.rev++
		}
	})
	return run, nil
}

// RegisterSteps registers one Workflow Update per step name, each validated by validate and applied by
// step with StepInput.Step set to the update's name, so the history and the Web UI's timeline read as
// the lifecycle ("accept", "contact", "confirm"). A step runs in a context that a cancellation request
// does not cancel: it always records what it started; the context names the step's author, whom the
// lines the step records carry (Authored).
func RegisterSteps[V any](ctx workflow.Context, names []string, step func(workflow.Context, StepInput) (V, error),
	validate func(workflow.Context, StepInput) error,
) error {
	for _, name := range names {
		err := workflow.SetUpdateHandlerWithOptions(ctx, name, func(ctx workflow.Context, in StepInput) (V, error) {
			in.Step = name
			run, _ := workflow.NewDisconnectedContext(ctx)
			return step(withStep(run, in), in)
		}, workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, in StepInput) error {
			in.Step = name
			return validate(ctx, in)
		}})
		if err != nil {
			return err
		}
	}
	return nil
}

// WebUICancel takes a cancellation requested of the workflow as a cancel step from a manager, under the
// service's rule: applied when the lifecycle takes cancellations and its validator allows this one,
// otherwise recorded as refused (EventCancelRefused) and operations told, the case going on.
func (c *Case) WebUICancel(ctx workflow.Context, takesCancel bool, step func(workflow.Context, StepInput) (CaseView, error),
	validate func(workflow.Context, StepInput) error,
) {
	defer c.Hold()()
	defer func() { c.cancelTaken = true }()
	if c.IsClosed() {
		return
	}
	in := StepInput{Step: StepCancel, Actor: ActorManager, ActorName: WebUIActor, At: workflow.Now(ctx),
		Payload: []byte(`{"reason":"cancellation requested in the Temporal Web UI"}`)}
	ctx = withStep(ctx, in)
	why := "this service takes no cancellation"
	if takesCancel {
		err := validate(ctx, in)
		if err == nil {
			if _, err = step(ctx, in); err == nil {
				return
			}
		}
		why = err.Error()
		var ae *temporal.ApplicationError
		if errors.As(err, &ae) {
			why = ae.Message()
		}
	}
	detail := "cancellation requested in the Temporal Web UI refused: " + why + "; the case goes on"
	if err := c.Record(ctx, c.NewEvent(ctx, EventCancelRefused, ActorManager, detail)); err != nil {
		c.Logger.Error("record refused cancellation", "Error", err)
	}
	c.Notify(ctx, "webui-cancel-refused", notifications.SeverityWarning, false, c.Label+" case: Web UI cancellation refused", detail+".")
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

// RecordOpened records the case's first timeline line, on its first run only, with the case's next record
// in the same workflow task (the first offer, when assignment follows): one write, one search-attribute
// update.
func (c *Case) RecordOpened(ctx workflow.Context, detail string) error {
	if c.Runs != 1 {
		return nil
	}
	c.carry = append(c.carry, c.NewEvent(ctx, EventCaseOpened, ActorMarketplace, detail))
	return nil
}

// Hold keeps the run from ending until the returned release is called: a goroutine that records or
// notifies after a timer holds the case while it does.
func (c *Case) Hold() (release func()) {
	c.pending++
	return func() { c.pending-- }
}

// Finish waits for updates, records and notifications not yet recorded, and for a cancellation requested of the
// workflow to be taken (WebUICancel), so none is lost when the run ends or continues as new.
func (c *Case) Finish(ctx workflow.Context) error {
	return workflow.Await(ctx, func() bool {
		cancelPending := c.root != nil && c.root.Err() != nil && !c.cancelTaken
		return c.pending == 0 && len(c.notices) == 0 && len(c.carry) == 0 && !c.attrsDirty && !cancelPending && workflow.AllHandlersFinished(ctx)
	})
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
// A line of the actor whose step ctx applies names the step's author (Authored).
func (c *Case) NewEvent(ctx workflow.Context, name Event, actor, detail string) activities.Event {
	c.Seq++
	hook, _ := WebhookType(name)
	return Authored(ctx, activities.Event{Key: fmt.Sprintf("%s/%03d/%s", c.In.CaseID, c.Seq, name), At: workflow.Now(ctx).UTC(),
		Actor: actor, Event: string(name), Detail: detail, Webhook: hook, PartnerID: c.PartnerID})
}

// stepKey is the workflow.Context key under which withStep keeps a step's author.
type stepKey struct{}

// stepAuthor is who sent the step a context applies.
type stepAuthor struct {
	actor, name, tokenID, partnerID string
}

// withStep is ctx applying step in: a partner's or manager's step with its token holder's name.
func withStep(ctx workflow.Context, in StepInput) workflow.Context {
	if in.ActorName == "" || (in.Actor != ActorPartner && in.Actor != ActorManager) {
		return ctx
	}
	a := stepAuthor{actor: in.Actor, name: in.ActorName, tokenID: in.TokenID}
	if in.Actor == ActorPartner {
		a.partnerID = in.PartnerID
	}
	return workflow.WithValue(ctx, stepKey{}, a)
}

// Authored is ev naming the author of the step ctx applies — the bearer token's holder, the token's id
// and an engineer's partner company — when ev is that actor's line (a partner's step's lines are the
// partner's). Lines steward writes meanwhile (a clock met, a breach) name no one. NewEvent calls it; a
// workflow that builds its own lines (a Security Butler request) calls it too.
func Authored(ctx workflow.Context, ev activities.Event) activities.Event {
	a, ok := ctx.Value(stepKey{}).(stepAuthor)
	if !ok || a.actor != ev.Actor {
		return ev
	}
	ev.By, ev.ByToken, ev.ByPartner = a.name, a.tokenID, a.partnerID
	return ev
}

// Record writes the case's projection and the timeline lines events.
func (c *Case) Record(ctx workflow.Context, events ...activities.Event) error {
	return c.RecordWith(ctx, events, nil)
}

// RecordWith writes, after any record in flight, the case's projection, timeline lines and refunds, and the notifications sent since
// the last record (Notify) to the outbox, as a local activity, inside the workflow task that asks for it
// (Record is idempotent by key, so a write repeated after a worker crash changes nothing), and keeps the
// Web UI's current details in step and the search attributes (sent when the task's records are done).
func (c *Case) RecordWith(ctx workflow.Context, events []activities.Event, refunds []activities.RefundRow) error {
	// One record at a time: records of one workflow task commit in the order the case made them, so its
	// timeline, outbox and customer messages keep that order.
	if err := workflow.Await(ctx, func() bool { return c.recording == 0 }); err != nil {
		return err
	}
	now := workflow.Now(ctx)
	c.Revision++
	status, next := c.slaStatus(now)
	c.attrsDirty = true // sent once the workflow task's records are done (Setup's upserter)
	workflow.SetCurrentDetails(ctx, c.Details(now, ""))
	row := activities.CaseRow{
		CaseID: c.In.CaseID, Service: c.In.Service, Spec: c.In.Spec, Stage: c.Stage, Status: c.Status, PartnerID: c.PartnerID,
		CustomerID: c.In.CustomerID, OrderID: c.In.OrderID, AmountCents: c.In.AmountCents, Currency: c.In.Currency, SLAStatus: status,
		RefundPercent: c.Refund.Percent, NextDeadline: next, OpenedAt: c.Opened, UpdatedAt: now, ClosedAt: c.Closed,
		Revision: c.Revision, Rating: c.Rating,
	}
	for i := range refunds {
		refunds[i].Webhook = WebhookRefundOwed
	}
	notices := c.notices
	c.notices = nil
	if len(c.carry) > 0 {
		events = append(c.carry, events...)
		c.carry = nil
	}
	var a *activities.Activities
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: ActivityOptions.StartToCloseTimeout,
		RetryPolicy: ActivityOptions.RetryPolicy, Summary: summaryOf(events, notices)})
	clocks := c.changedClocks(now)
	c.recording++
	err := workflow.ExecuteLocalActivity(lctx, a.Record, activities.RecordInput{Case: row, Events: events, Refunds: refunds, Clocks: clocks,
		Notices: notices}).Get(ctx, nil)
	c.recording--
	if err != nil {
		return err
	}
	for _, k := range clocks {
		c.recorded[k.Key] = k
	}
	return nil
}

// changedClocks are the case's clock rows that differ from those last recorded in this run (a run's
// first record writes them all): the partner a running clock counts against is the one holding the case.
func (c *Case) changedClocks(now time.Time) []activities.ClockRow {
	if c.recorded == nil {
		c.recorded = map[string]activities.ClockRow{}
	}
	var out []activities.ClockRow
	for i, k := range c.Clocks.Clocks {
		e := c.Clocks.entry(i, now)
		row := activities.ClockRow{Key: fmt.Sprint(i), Clause: k.Clause, PartnerID: c.PartnerID, State: k.State, Status: e.Status,
			StartedAt: k.StartedAt, DueAt: e.DueAt, CompletedAt: k.CompletedAt, BreachedAt: k.BreachedAt}
		if !c.Accepted {
			row.PartnerID = "" // an offer does not make the clock the offered partner's
		}
		if old, ok := c.recorded[row.Key]; ok && sameClock(old, row) {
			continue
		}
		out = append(out, row)
	}
	if c.ExtraClocks != nil {
		for _, row := range c.ExtraClocks(now) {
			if old, ok := c.recorded[row.Key]; ok && sameClock(old, row) {
				continue
			}
			out = append(out, row)
		}
	}
	return out
}

// sameClock compares the fields of two clock rows that a write would change. A running clock's status
// (on_track, at_risk) changes with time alone and is written with the clock's next real change.
func sameClock(a, b activities.ClockRow) bool {
	eq := func(x, y *time.Time) bool { return (x == nil) == (y == nil) && (x == nil || x.Equal(*y)) }
	statusEq := a.Status == b.Status || (a.State == sla.ClockRunning && b.State == sla.ClockRunning &&
		a.Status != SLABreached && b.Status != SLABreached)
	return a.Clause == b.Clause && a.PartnerID == b.PartnerID && a.State == b.State && statusEq &&
		eq(a.DueAt, b.DueAt) && eq(a.CompletedAt, b.CompletedAt) && eq(a.BreachedAt, b.BreachedAt)
}

// caseAttrs are the search attribute values a case last sent.
type caseAttrs struct {
	stage, partnerID, slaStatus, assignment string
	refundPercent                           int
	refundCents                             int64
	nextDeadline                            int64  // Unix nanoseconds; 0 when no clock runs
	replan                                  string // the SlaReplan values, joined
}

// upsert sends the search attributes when one changed since the last write (each upsert is an event and
// a visibility write on the server); a run's first write always sends them, AmountCents with them, and
// SlaReplan once it has a value (so a case that never depended on missing holiday data never sets it).
func (c *Case) upsert(ctx workflow.Context, status string, next *time.Time) error {
	replan := c.Clocks.ReplanValues()
	attrs := caseAttrs{stage: c.Stage, partnerID: c.PartnerID, slaStatus: status, assignment: c.Assignment(),
		refundPercent: c.Refund.Percent, refundCents: c.Refund.AmountCents, replan: strings.Join(replan, ",")}
	deadline := AttrNextDeadline.ValueUnset()
	if next != nil {
		attrs.nextDeadline = next.UnixNano()
		deadline = AttrNextDeadline.ValueSet(*next)
	}
	if c.upserted != nil && *c.upserted == attrs {
		return nil
	}
	updates := []temporal.SearchAttributeUpdate{
		AttrCaseStage.ValueSet(c.Stage), AttrPartnerID.ValueSet(c.PartnerID), AttrSLAStatus.ValueSet(status),
		AttrRefundPercent.ValueSet(int64(c.Refund.Percent)), AttrRefundCents.ValueSet(c.Refund.AmountCents),
		AttrAssignment.ValueSet(attrs.assignment), deadline,
	}
	if c.upserted == nil {
		updates = append(updates, AttrAmountCents.ValueSet(c.In.AmountCents))
	}
	switch {
	case (c.upserted == nil || c.upserted.replan != attrs.replan) && len(replan) > 0:
		updates = append(updates, AttrSLAReplan.ValueSet(replan))
	case c.upserted != nil && c.upserted.replan != attrs.replan:
		updates = append(updates, AttrSLAReplan.ValueUnset())
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, updates...); err != nil {
		return err
	}
	c.upserted = &attrs
	return nil
}

// Assignment is the case's Assignment search attribute: offered while a partner holds an open offer,
// accepted once one holds the case, none otherwise.
func (c *Case) Assignment() string {
	switch {
	case c.Accepted && c.PartnerID != "":
		return AssignmentAccepted
	case c.PartnerID != "":
		return AssignmentOffered
	}
	return AssignmentNone
}

func (c *Case) slaStatus(now time.Time) (string, *time.Time) {
	if c.SLAStatus != nil {
		return c.SLAStatus(now)
	}
	return c.Clocks.Status(now)
}

// summaryOf is the Web UI's summary of a record: each timeline line in words ("customer contacted:
// first contact with the customer; response met 7 min before due"), then whom its notifications tell
// ("notify operations and p-alpha: New SOS case offered to p-alpha").
func summaryOf(events []activities.Event, notices []activities.NotifyInput) string {
	lines := make([]string, 0, len(events)+len(notices))
	for _, e := range events {
		line := strings.ReplaceAll(e.Event, "_", " ")
		if e.Detail != "" {
			line += ": " + e.Detail
		}
		lines = append(lines, line)
	}
	for _, n := range notices {
		lines = append(lines, NotifySummary(n))
	}
	if len(lines) == 0 {
		return "case view updated"
	}
	return Clip(strings.Join(lines, " — "), MaxSummary)
}

// NotifySummary says whom a notification tells, and what: "notify operations and p-alpha: …".
func NotifySummary(in activities.NotifyInput) string {
	if in.PartnerID != "" {
		return "notify operations and " + in.PartnerID + ": " + in.Message.Title
	}
	return "notify operations: " + in.Message.Title
}

// MaxSummary bounds a summary in the Web UI, in bytes: the server's default limit on user metadata.
const MaxSummary = 400

// Clip cuts s to at most n bytes on a rune boundary, ending in "…" when it cut.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// Details is the workflow's current details in the Web UI, in Markdown: the service, stage, partner and
// whether it accepted, the refund owed in money, one line per clause (due in Beijing time, state,
// margin; a clause of the contract not started yet says what starts it), the next step expected and from
// whom (the lifecycle's Expect), and extra. Lists rather than tables: the Web UI draws tables unruled.
func (c *Case) Details(now time.Time, extra string) string {
	var b strings.Builder
	partner := OrDash(c.PartnerID)
	switch c.Assignment() {
	case AssignmentAccepted:
		partner = c.PartnerID + " (accepted)"
	case AssignmentOffered:
		partner = c.PartnerID + " (offered, not accepted yet)"
	}
	status, _ := c.slaStatus(now)
	b.WriteString(fmt.Sprintf("**%s** · stage **%s** · partner **%s** · SLA **%s** · refund owed **%s (%d%%)**\n\n",
		sla.ServiceTitle(c.In.Service), c.Stage, partner, status, Money(c.Refund.AmountCents, c.In.Currency), c.Refund.Percent))
	var entries []SLAEntry
	if c.View != nil {
		entries = c.View(now).SLA
	}
	for _, e := range entries {
		line := "- **" + e.Clause + "**"
		if e.DueAt != nil {
			line += " · due " + When(*e.DueAt)
		}
		line += " · **" + e.Status + "**"
		if e.Margin != "" {
			line += " (" + e.Margin + ")"
		}
		b.WriteString(line + "\n")
	}
	if !c.IsClosed() {
		clauses, _ := sla.Clauses(c.In.Service)
		for _, cl := range clauses {
			if cl.Kind != sla.TargetOutcome && cl.Starts != sla.StartsRequest && !slices.ContainsFunc(entries, func(e SLAEntry) bool { return e.Clause == cl.Name }) {
				b.WriteString("- **" + cl.Name + "** · not started (counts from " + cl.Starts + ")\n")
			}
		}
	}
	b.WriteString("\n")
	next := ""
	switch {
	case c.IsClosed():
		b.WriteString("Closed " + When(*c.Closed) + " in stage " + c.Stage + ".")
	case c.Stage == StageAssignment && c.PartnerID != "":
		next = "partner " + c.PartnerID + ": accept or decline the offer (" + StepAccept + ", " + StepDecline + ")"
	case c.Stage == StageAssignment:
		next = "steward: offer the case to a partner with the skill and free capacity"
	case c.Expect != nil:
		next = c.Expect()
	}
	if next != "" {
		b.WriteString("**Next:** " + next)
	}
	if years := c.Clocks.AwaitingYears(); len(years) > 0 && !c.IsClosed() {
		b.WriteString("\n\nSome due times are provisional: computed without the holiday data of " + yearsText(years) +
			" (only weekends off); a worker with the year's schedule re-plans them.")
	}
	if extra != "" {
		b.WriteString("\n\n" + extra)
	}
	return strings.TrimSpace(b.String())
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

// Notify sends a notification to operations, and to the partner's channels too when toPartner: it is
// written to the outbox with the case's next record — the one the caller makes next in the same workflow
// task, or else one of its own as soon as the case's code waits — and delivered from there (the
// activities' NotificationDispatcher), costing the case no activity. key makes it once-only within the case.
func (c *Case) Notify(ctx workflow.Context, key string, sev notifications.Severity, toPartner bool, title, text string) {
	in := activities.NotifyInput{Message: notifications.Message{
		Key: c.In.CaseID + "/" + key, CaseID: c.In.CaseID, WorkflowID: c.In.CaseID, Service: c.In.Service,
		Severity: sev, Title: title, Text: text,
		Fields: []notifications.Field{{Name: "Stage", Value: c.Stage}, {Name: "Partner", Value: OrDash(c.PartnerID)}, {Name: "Order", Value: c.In.OrderID}},
	}}
	if toPartner {
		in.PartnerID = c.PartnerID
	}
	c.Send(in)
}

// Send is Notify of a notification the lifecycle built itself.
func (c *Case) Send(in activities.NotifyInput) { c.notices = append(c.notices, in) }

// SendNotification runs the Notify activity for in in the background and calls done when it ended,
// delivered or not: an undeliverable notification is logged (the activity marked it failed and told
// operations), never retried forever. It is for a workflow that writes no case record (a Security Butler
// request); a case sends with Notify, through the outbox.
func SendNotification(ctx workflow.Context, logger log.Logger, in activities.NotifyInput, done func()) {
	var a *activities.Activities
	opts := NotifyOptions
	opts.Summary = Clip(NotifySummary(in), MaxSummary)
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

// AwaitFor waits up to d for cond, with a timer named by summary (and the instant it fires, in Beijing
// time, unless the summary says it) that is cancelled when cond wins: the
// SDK's own timed Await leaves its timer to fire later, which would wake the case for nothing.
func AwaitFor(ctx workflow.Context, d time.Duration, summary string, cond func() bool) (bool, error) {
	if cond() {
		return true, nil
	}
	if d <= 0 {
		return false, nil
	}
	if !strings.Contains(summary, " CST") { // the Web UI shows a countdown; the summary says the instant
		summary += " — " + When(workflow.Now(ctx).Add(d))
	}
	tctx, cancel := workflow.WithCancel(ctx)
	timer := workflow.NewTimerWithOptions(tctx, d, workflow.TimerOptions{Summary: Clip(summary, MaxSummary)})
	err := workflow.Await(ctx, func() bool { return cond() || timer.IsReady() })
	// Cancelled here rather than deferred: a coroutine the SDK ends while it waits (the run is over) must
	// not touch the timer's channel as it unwinds, when the test environment may be firing that timer.
	cancel()
	if err != nil {
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
