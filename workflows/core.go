package workflows

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

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

// Timeline events of partner assignment. They name other partners, their load and answers, so the API
// shows them to managers only.
const (
	EventOffered       = "offered"
	EventOfferTimeout  = "offer_timeout"
	EventOfferDeclined = "offer_declined"
	EventNoPartner     = "no_partner_available"
)

// AssignmentEvents lists the partner-assignment timeline events.
var AssignmentEvents = []string{EventOffered, EventOfferTimeout, EventOfferDeclined, EventNoPartner}

// worstStatus is the worst SLA status over clocks at now (breached when anyBreached), and the next due
// instant of a running clock.
func worstStatus(clocks []sla.Clock, anyBreached bool, now time.Time) (string, *time.Time) {
	status := SLAOnTrack
	if anyBreached {
		status = SLABreached
	}
	var next *time.Time
	for _, c := range clocks {
		if st := c.Status(now); st == SLABreached {
			status = SLABreached
		} else if st == SLAAtRisk && status == SLAOnTrack {
			status = SLAAtRisk
		}
		if c.State == sla.ClockRunning && (next == nil || c.Due.Before(*next)) {
			due := c.Due
			next = &due
		}
	}
	return status, next
}

// caseCore is what every case lifecycle shares: the order, the stage, the partner and its assignment, the
// refund, the timeline sequence and the projection's revision, with the methods that record, notify and
// route. A lifecycle embeds it and sets slaFn.
type caseCore struct {
	in     CaseInput
	logger log.Logger
	// label names the service in notifications, e.g. "SOS".
	label  string
	seq    int
	stage  string
	status string
	opened time.Time
	closed *time.Time

	// Assignment: the partner offered or holding the case, whether it accepted, who was offered this round.
	partnerID   string
	partnerName string
	needOnsite  bool
	accepted    bool
	offered     []string
	answer      string
	// declineReason is what the partner gave when it declined the open offer.
	declineReason string

	refund   Refund
	pending  int   // notifications and records in flight that the case must wait for
	revision int64 // of the projection, one per write

	// lean is set by the run's first record for cases from versionLean on (see changeLocalRecord);
	// upserted holds the search attributes last sent, so a write that changes none sends none.
	lean     bool
	upserted *caseAttrs

	// slaFn reports the case's SLA status and next deadline at now.
	slaFn func(now time.Time) (string, *time.Time)
}

// validateOffer checks an accept or decline against the open offer.
func (s *caseCore) validateOffer(in StepInput) error {
	if s.stage != StageAssignment || s.accepted || s.partnerID != in.PartnerID || s.answer != "" {
		return conflictf("no offer of this case is open to partner %s", in.PartnerID)
	}
	if in.Step == StepDecline {
		return decodeValid[DeclineInput](in.Payload)
	}
	return nil
}

// requirePartner checks that a partner step comes from the partner holding the case.
func (s *caseCore) requirePartner(in StepInput) error {
	if in.Actor != ActorPartner {
		return conflictf("step %q is a partner engineer's", in.Step)
	}
	if !s.accepted || s.partnerID != in.PartnerID {
		return conflictf("the case is not assigned to partner %s", in.PartnerID)
	}
	return nil
}

// finish waits for updates, records and notifications in flight, so none is lost when the run ends.
func (s *caseCore) finish(ctx workflow.Context) error {
	return workflow.Await(ctx, func() bool { return s.pending == 0 && workflow.AllHandlersFinished(ctx) })
}

// assign offers the case to partners in turn until one accepts; with none available it alerts operations
// and tries again every ReassignInterval, the case waiting visibly in stage assignment.
func (s *caseCore) assign(ctx workflow.Context) error {
	var a *activities.Activities
	alerted := false
	for s.status == StatusOpen && !s.accepted {
		var choice activities.ChoosePartnerResult
		in := activities.ChoosePartnerInput{CaseID: s.in.CaseID, Service: s.in.Service, NeedOnsite: s.needOnsite, Exclude: s.offered}
		if err := s.runLocal(ctx, 30*time.Second, "choose a partner", a.ChoosePartner, in, &choice); err != nil {
			return err
		}
		if s.status != StatusOpen {
			return nil
		}
		if choice.PartnerID == "" {
			retry := workflow.Now(ctx).Add(ReassignInterval)
			if !alerted {
				alerted = true
				detail := fmt.Sprintf("no partner with the %s skill and free capacity is left; retrying every %s", s.in.Service, ReassignInterval)
				if err := s.record(ctx, s.event(ctx, EventNoPartner, ActorSystem, detail)); err != nil {
					return err
				}
				s.notify(ctx, "no-partner", notifications.SeverityCritical, false, "No partner available for this "+s.label+" case", detail+". Add capacity or assign by hand.")
			}
			workflow.SetCurrentDetails(ctx, s.details(workflow.Now(ctx), "waiting for a partner; next try "+retry.Format(time.RFC3339)))
			s.offered = nil
			if _, err := s.awaitUntil(ctx, retry, "retry partner assignment", func() bool { return s.status != StatusOpen }); err != nil {
				return err
			}
			continue
		}
		deadline := workflow.Now(ctx).Add(s.in.AcceptTimeout)
		s.partnerID, s.partnerName, s.answer, s.declineReason = choice.PartnerID, choice.PartnerName, "", ""
		s.offered = append(s.offered, choice.PartnerID)
		if err := s.record(ctx, s.event(ctx, EventOffered, ActorSystem, fmt.Sprintf("offered to %s (load %d of %d); accept by %s",
			choice.PartnerID, choice.Load, choice.Capacity, deadline.Format(time.RFC3339)))); err != nil {
			return err
		}
		s.notify(ctx, "offer/"+choice.PartnerID+"/"+fmt.Sprint(s.seq), notifications.SeverityInfo, true, "New "+s.label+" case offered to "+choice.PartnerID,
			fmt.Sprintf("Accept by %s (POST /v1/cases/%s/steps/accept) or decline.", deadline.Format(time.RFC3339), s.in.CaseID))
		if _, err := s.awaitUntil(ctx, deadline, "partner "+choice.PartnerID+" to accept", func() bool { return s.answer != "" || s.status != StatusOpen }); err != nil {
			return err
		}
		if s.accepted || s.status != StatusOpen {
			return nil
		}
		event, detail := EventOfferTimeout, fmt.Sprintf("%s did not accept within %s", choice.PartnerID, s.in.AcceptTimeout)
		if s.answer == StepDecline {
			event, detail = EventOfferDeclined, choice.PartnerID+" declined"
			if s.declineReason != "" {
				detail += ": " + s.declineReason
			}
		}
		s.partnerID, s.partnerName = "", ""
		if err := s.record(ctx, s.event(ctx, event, ActorSystem, detail)); err != nil {
			return err
		}
		if event == EventOfferTimeout {
			s.notify(ctx, "offer-timeout/"+choice.PartnerID+"/"+fmt.Sprint(s.seq), notifications.SeverityWarning, false, "Partner did not accept this "+s.label+" case", detail+"; offering the next partner.")
		}
	}
	return nil
}

func (s *caseCore) event(ctx workflow.Context, name, actor, detail string) activities.Event {
	s.seq++
	return activities.Event{Key: fmt.Sprintf("%s/%03d/%s", s.in.CaseID, s.seq, name), At: workflow.Now(ctx).UTC(), Actor: actor, Event: name, Detail: detail}
}

func (s *caseCore) record(ctx workflow.Context, events ...activities.Event) error {
	return s.recordWith(ctx, events, nil)
}

// recordWith writes the case's projection, timeline entries and refunds, and keeps the search attributes
// and the Web UI's current details in step.
func (s *caseCore) recordWith(ctx workflow.Context, events []activities.Event, refunds []activities.RefundRow) error {
	now := workflow.Now(ctx)
	s.revision++
	status, next := s.slaFn(now)
	attrs := caseAttrs{stage: s.stage, partnerID: s.partnerID, slaStatus: status, refundPercent: s.refund.Percent}
	if next != nil {
		attrs.nextDeadline = next.UnixNano()
	}
	// The run's first write always sends them; later ones only what changed (from versionLean on, which
	// the first write has read by then): each upsert is an event and a visibility write on the server.
	if s.upserted == nil || !s.lean || *s.upserted != attrs {
		deadline := AttrNextDeadline.ValueUnset()
		if next != nil {
			deadline = AttrNextDeadline.ValueSet(*next)
		}
		if err := workflow.UpsertTypedSearchAttributes(ctx,
			AttrCaseStage.ValueSet(s.stage), AttrPartnerID.ValueSet(s.partnerID), AttrSLAStatus.ValueSet(status),
			AttrRefundPercent.ValueSet(int64(s.refund.Percent)), deadline,
		); err != nil {
			return err
		}
		s.upserted = &attrs
	}
	workflow.SetCurrentDetails(ctx, s.details(now, ""))
	row := activities.CaseRow{
		CaseID: s.in.CaseID, Service: s.in.Service, Spec: s.in.Spec, Stage: s.stage, Status: s.status, PartnerID: s.partnerID,
		CustomerID: s.in.CustomerID, OrderID: s.in.OrderID, AmountCents: s.in.AmountCents, SLAStatus: status,
		RefundPercent: s.refund.Percent, NextDeadline: next, OpenedAt: s.opened, UpdatedAt: now, ClosedAt: s.closed,
		Revision: s.revision,
	}
	var a *activities.Activities
	in := activities.RecordInput{Case: row, Events: events, Refunds: refunds}
	v := workflow.GetVersion(ctx, changeLocalRecord, workflow.DefaultVersion, versionLean)
	s.lean = v >= versionLean
	if v >= versionLocalRecord {
		// A local activity: the write runs inside the workflow task that asked for it, so a step costs the
		// server one workflow task instead of two plus an activity task. Record is idempotent by key, so a
		// write repeated after a worker crash changes nothing.
		lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: activityOptions.StartToCloseTimeout,
			RetryPolicy: activityOptions.RetryPolicy, Summary: summaryOf(events)})
		return workflow.ExecuteLocalActivity(lctx, a.Record, in).Get(ctx, nil)
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: activityOptions.StartToCloseTimeout,
		RetryPolicy: activityOptions.RetryPolicy, Summary: summaryOf(events)})
	return workflow.ExecuteActivity(actx, a.Record, in).Get(ctx, nil)
}

// changeLocalRecord versions how a case uses the server; cases started before a version keep what their
// histories recorded. The version is read at the run's first record, and the choices that depend on
// versionLean are made only after it (before it a case takes the older path, on replay too).
const changeLocalRecord = "record-local-activity"

const (
	// versionLocalRecord writes the projection and timeline with a local activity.
	versionLocalRecord workflow.Version = 1
	// versionLean also chooses partners and renders reports and documents with local activities, sends search
	// attributes only when they change, and cancels a wait's timer once the wait is over, so that a case
	// is not woken for nothing when the timer would have fired.
	versionLean workflow.Version = 2
)

// caseAttrs are the search attribute values a case last sent.
type caseAttrs struct {
	stage, partnerID, slaStatus string
	refundPercent               int
	nextDeadline                int64 // Unix nanoseconds; 0 when no clock runs
}

func summaryOf(events []activities.Event) string {
	names := make([]string, len(events))
	for i, e := range events {
		names[i] = e.Event
	}
	if len(names) == 0 {
		return "update projection"
	}
	return "record " + joinList(names)
}

// runLocal runs an activity whose work stays on the worker and is safe to repeat (a read, or a render
// stored by key): from versionLean on as a local activity, inside the workflow task that asks for it, with
// no activity task and no second workflow task; before, as the activity task older histories recorded.
func (s *caseCore) runLocal(ctx workflow.Context, timeout time.Duration, summary string, activity, arg, result any) error {
	if s.lean {
		lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: timeout,
			RetryPolicy: activityOptions.RetryPolicy, Summary: summary})
		return workflow.ExecuteLocalActivity(lctx, activity, arg).Get(ctx, result)
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: timeout,
		RetryPolicy: activityOptions.RetryPolicy, Summary: summary})
	return workflow.ExecuteActivity(actx, activity, arg).Get(ctx, result)
}

// details is the workflow's current details in the Web UI: stage, partner, SLA and next deadline.
func (s *caseCore) details(now time.Time, extra string) string {
	status, next := s.slaFn(now)
	d := fmt.Sprintf("**Stage** %s · **Partner** %s · **SLA** %s · **Refund** %d%%", s.stage, orDash(s.partnerID), status, s.refund.Percent)
	if next != nil {
		d += " · **Next deadline** " + next.Format(time.RFC3339)
	}
	if extra != "" {
		d += "\n\n" + extra
	}
	return d
}

// notify sends a notification without holding up the case; the case waits for it only before it ends.
// toPartner routes it to the partner's channel too.
func (s *caseCore) notify(ctx workflow.Context, key string, sev notifications.Severity, toPartner bool, title, text string) {
	in := activities.NotifyInput{Message: notifications.Message{
		Key: s.in.CaseID + "/" + key, CaseID: s.in.CaseID, WorkflowID: s.in.CaseID, Service: s.in.Service,
		Severity: sev, Title: title, Text: text,
		Fields: []notifications.Field{{Name: "Stage", Value: s.stage}, {Name: "Partner", Value: orDash(s.partnerID)}, {Name: "Order", Value: s.in.OrderID}},
	}}
	if toPartner {
		in.PartnerID = s.partnerID
	}
	var a *activities.Activities
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute, RetryPolicy: activityOptions.RetryPolicy, Summary: "notify: " + title})
	f := workflow.ExecuteActivity(actx, a.Notify, in)
	s.pending++
	workflow.Go(ctx, func(gctx workflow.Context) {
		defer func() { s.pending-- }()
		if err := f.Get(gctx, nil); err != nil {
			s.logger.Warn("notification failed", "Key", key, "Error", err)
		}
	})
}

// startClock starts a clause's clock inside a side effect, so a replay reuses the deadline computed the
// first time even if the worker's holiday data has changed since.
func startClock(ctx workflow.Context, service, clause string, in sla.Inputs, at time.Time) (sla.Clock, error) {
	type result struct {
		Clock sla.Clock `json:"clock"`
		Err   string    `json:"err,omitempty"`
	}
	var r result
	err := workflow.SideEffect(ctx, func(workflow.Context) any {
		c, err := Calendars().StartClause(service, clause, in, at)
		if err != nil {
			return result{Err: err.Error()}
		}
		return result{Clock: c}
	}).Get(&r)
	if err != nil {
		return sla.Clock{}, err
	}
	if r.Err != "" {
		return sla.Clock{}, temporal.NewNonRetryableApplicationError(r.Err, "SLAClock", nil)
	}
	return r.Clock, nil
}

func decodeValid[T interface{ Validate() error }](raw json.RawMessage) error {
	var v T
	if err := strictJSON(raw, &v); err != nil {
		return invalidf("%v", err)
	}
	if err := v.Validate(); err != nil {
		return invalidf("%v", err)
	}
	return nil
}

// mustDecode decodes a payload the validator has already accepted.
func mustDecode[T any](raw json.RawMessage) T {
	var v T
	_ = strictJSON(raw, &v) // validated before the handler runs
	return v
}

func joinList(items []string) string { return strings.Join(items, "; ") }

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// awaitUntil waits for cond or the deadline, whichever comes first, with a timer whose summary names what
// it waits for in the Web UI. It reports whether cond held.
func (s *caseCore) awaitUntil(ctx workflow.Context, deadline time.Time, summary string, cond func() bool) (bool, error) {
	d := deadline.Sub(workflow.Now(ctx))
	if d <= 0 || cond() {
		return cond(), nil
	}
	return s.awaitFor(ctx, d, summary, cond)
}

// awaitFor waits up to d for cond, with a timer named by summary. From versionLean on, a timer that cond
// beat is cancelled: the SDK's own timed Await leaves it to fire later (its cancelling is behind an SDK
// flag still off by default), which would wake the case for nothing, a workflow task each time.
func (s *caseCore) awaitFor(ctx workflow.Context, d time.Duration, summary string, cond func() bool) (bool, error) {
	if !s.lean {
		return workflow.AwaitWithOptions(ctx, workflow.AwaitOptions{Timeout: d, TimerOptions: workflow.TimerOptions{Summary: summary}}, cond)
	}
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

// strictJSON decodes a step payload, refusing unknown fields.
func strictJSON(raw json.RawMessage, v any) error {
	if len(raw) == 0 {
		raw = json.RawMessage("{}")
	}
	// Decoding into a struct gives the same value on every replay; the checker flags encoding/json only
	// because it can also decode into maps.
	dec := json.NewDecoder(bytes.NewReader(raw)) //workflowcheck:ignore
	dec.DisallowUnknownFields()
	//workflowcheck:ignore
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("payload: %v", err)
	}
	return nil
}
