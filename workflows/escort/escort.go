// Package escort runs 安全护航 (event escort) cases: partner assignment, the protection plan that fixes the
// covered days, then one on-duty check-in per covered day, billed per day (SPEC.md service catalogue).
package escort

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-oss/steward/activities"
	"github.com/steward-oss/steward/notifications"
	"github.com/steward-oss/steward/sla"
	"github.com/steward-oss/steward/workflows"
)

// WorkflowName is the type name the escort workflow is registered, started and continued by.
const WorkflowName = "EscortWorkflow"

// 安全护航 stages, besides the kernel's StageAssignment, StagePlanning and StageClosed.
const (
	// StageScheduled: the plan is in and the covered days have not begun; the plan may still be revised.
	StageScheduled = "scheduled"
	// StageOnDuty: the covered days are running; an engineer checks in on each.
	StageOnDuty = "on_duty"
)

// StepCheckin is the on-duty engineer's check-in for one covered day (CheckinInput); the plan is the
// kernel's StepPlan (PlanInput).
const StepCheckin = "checkin"

// Steps lists the steps partner engineers send to an escort case.
var Steps = []string{workflows.StepAccept, workflows.StepDecline, workflows.StepPlan, StepCheckin}

// Updates lists every step the case takes, each its own Workflow Update: the partners' and those the
// marketplace relays from the customer.
var Updates = Steps

// Lifecycle is how escort cases run: one workflow, started with the order, at most sla.MaxEscortDays days.
var Lifecycle = workflows.Lifecycle{
	Workflows:   []workflows.Registration{{Name: WorkflowName, Workflow: Workflow}},
	Input:       func(c workflows.CaseInput) any { return Input{CaseInput: c} },
	Steps:       Steps,
	Updates:     Updates,
	MaxQuantity: sla.MaxEscortDays,
}

// Input starts or continues an escort case. It marshals like a CaseInput, which is what the API starts it
// with; State is set only when a run continues as new.
type Input struct {
	workflows.CaseInput
	// CheckinBy is how long into a covered day (China time) the on-duty check-in is due; zero means
	// sla.CheckinBy (10:00). The purchase API does not set it.
	CheckinBy time.Duration `json:"checkin_by,omitempty"`
	State     *State        `json:"state,omitempty"`
}

// State is what continue-as-new carries into the next run. The core is inlined, so the state marshals
// as the old EscortState did and a run continued by the previous code resumes with its partner and stage.
type State struct {
	workflows.CoreState
	Cover
}

// Cover is what an escort case covers: the plan in force, the covered days and the closing summary.
type Cover struct {
	Plan    *Plan  `json:"plan,omitempty"`
	Days    []Day  `json:"days"`
	Summary string `json:"summary,omitempty"`
}

// Result is how an escort case ended.
type Result = workflows.Ended[State]

// Details is the escort's own part of the case view: the plan, the covered days and the closing summary.
type Details struct {
	Runs int `json:"runs"`
	Cover
}

// Plan is the plan in force.
type Plan struct {
	StartsOn    string    `json:"starts_on"`
	EndsOn      string    `json:"ends_on"`
	Summary     string    `json:"summary"`
	Items       []string  `json:"items"`
	Version     int       `json:"version"`
	SubmittedAt time.Time `json:"submitted_at"`
}

// Day is one covered day and its check-in.
type Day struct {
	Day string `json:"day"`
	// Start is the day's 00:00 in China time.
	Start       time.Time  `json:"start"`
	CheckedInAt *time.Time `json:"checked_in_at,omitempty"`
	Engineer    string     `json:"engineer,omitempty"`
	Notes       string     `json:"notes,omitempty"`
	// Late: the check-in came after 10:00. Alerted: operations were alerted at 10:00. Missed: the day
	// ended without a check-in.
	Late    bool `json:"late,omitempty"`
	Alerted bool `json:"alerted,omitempty"`
	Missed  bool `json:"missed,omitempty"`
}

// Days lists the covered days: n consecutive China-time days from startsOn (YYYY-MM-DD).
func Days(startsOn string, n int) ([]Day, error) {
	first, err := sla.EscortDayStart(startsOn)
	if err != nil {
		return nil, fmt.Errorf("starts_on: %w", err)
	}
	days := make([]Day, n)
	for i := range days {
		d := first.AddDate(0, 0, i) // China keeps no daylight saving: a day is 24 hours
		days[i] = Day{Day: sla.ChinaDate(d), Start: d}
	}
	return days, nil
}

// Workflow runs one event-escort case (SPEC.md catalogue "安全护航"), billed per day: partner assignment,
// the protection plan that fixes the covered days, then one on-duty check-in per covered day; a day
// without a check-in by 10:00 alerts operations and the partner, and one without any is recorded as
// missed. The case closes after the last covered day with a summary.
func Workflow(ctx workflow.Context, in Input) (Result, error) {
	if in.CheckinBy < 0 || in.CheckinBy >= sla.Day {
		return Result{}, temporal.NewNonRetryableApplicationError("checkin_by: within a day", workflows.RejectInvalid, nil)
	}
	e := &escortCase{Case: workflows.NewCase(in.CaseInput, "安全护航"), days: []Day{}, checkinBy: in.CheckinBy}
	if e.checkinBy == 0 {
		e.checkinBy = sla.CheckinBy
	}
	e.SLAStatus, e.Expect = e.slaStatus, e.expect
	ctx, err := e.setup(ctx, in.State)
	if err != nil {
		return Result{}, err
	}
	return e.run(ctx)
}

type escortCase struct {
	*workflows.Case
	plan    *Plan
	days    []Day
	summary string // the closing summary of check-ins and misses
	// checkinBy is how long into a covered day the check-in is due.
	checkinBy time.Duration
}

func (e *escortCase) setup(ctx workflow.Context, resume *State) (workflow.Context, error) {
	if e.In.Service != workflows.ServiceEscort {
		return ctx, workflows.Invalidf("service: %q is not %s", e.In.Service, workflows.ServiceEscort)
	}
	if e.In.Quantity > sla.MaxEscortDays {
		return ctx, workflows.Invalidf("quantity: an escort covers at most %d days", sla.MaxEscortDays)
	}
	var core *workflows.CoreState
	if resume != nil {
		core, e.plan, e.summary = &resume.CoreState, resume.Plan, resume.Summary
		if resume.Days != nil {
			e.days = resume.Days
		}
	}
	return e.Setup(ctx, core, e.view, Updates, e.step, e.validateStep)
}

func (e *escortCase) run(ctx workflow.Context) (Result, error) {
	ctx = workflow.WithActivityOptions(ctx, workflows.ActivityOptions)
	if err := e.RecordOpened(ctx, fmt.Sprintf("order %s paid at %s for %d days of escort; the partner's plan sets the first day",
		e.In.OrderID, workflows.When(e.In.PaidAt), e.In.Quantity)); err != nil {
		return Result{}, err
	}
	e.StartAssignment(ctx)
	workflow.Go(ctx, e.watchDays)
	cont, err := e.AwaitEndOrContinue(ctx)
	if err != nil {
		return Result{}, err
	}
	st := State{CoreState: e.CoreState, Cover: Cover{Plan: e.plan, Days: e.days, Summary: e.summary}}
	if cont {
		return Result{}, workflow.NewContinueAsNewError(ctx, WorkflowName, Input{CaseInput: e.In, CheckinBy: e.checkinBy, State: &st})
	}
	return Result{CaseID: e.In.CaseID, Stage: e.Stage, State: st}, nil
}

// watchDays waits for the plan and the first covered day, then watches each day's check-in: an alert at
// 10:00 without one, a miss at the day's end; after the last day it closes the case.
func (e *escortCase) watchDays(ctx workflow.Context) {
	for {
		if err := workflow.Await(ctx, func() bool { return e.IsClosed() || e.plan != nil }); err != nil || e.IsClosed() {
			return
		}
		version := e.plan.Version
		if _, err := workflows.AwaitUntil(ctx, e.days[0].Start, "escort begins on "+e.plan.StartsOn,
			func() bool { return e.IsClosed() || e.plan.Version != version }); err != nil || e.IsClosed() {
			return
		}
		if e.plan.Version == version {
			break // not revised before the first day; a revision waits for its own first day
		}
	}
	if e.Stage == StageScheduled {
		release := e.Hold()
		e.Stage = StageOnDuty
		detail := fmt.Sprintf("covered days %s to %s begin; check in by %s each day", e.plan.StartsOn, e.plan.EndsOn, clockTime(e.checkinBy))
		if err := e.Record(ctx, e.NewEvent(ctx, workflows.EventEscortStarted, workflows.ActorSystem, detail)); err != nil {
			e.Logger.Error("record escort start", "Error", err)
		}
		e.Notify(ctx, "started", notifications.SeverityInfo, true, "安全护航 escort begins today", detail)
		release()
	}
	for i := range e.days {
		d := &e.days[i] // the days no longer change: the plan is fixed once they begin
		checked := func() bool { return e.IsClosed() || d.CheckedInAt != nil }
		if d.CheckedInAt != nil || d.Missed {
			continue
		}
		if !d.Alerted {
			if _, err := workflows.AwaitUntil(ctx, d.Start.Add(e.checkinBy), "on-duty check-in for "+d.Day+" by "+clockTime(e.checkinBy), checked); err != nil || e.IsClosed() {
				return
			}
			if d.CheckedInAt == nil {
				e.alert(ctx, d)
			}
		}
		if d.CheckedInAt == nil {
			if _, err := workflows.AwaitUntil(ctx, d.Start.Add(24*time.Hour), "end of covered day "+d.Day, checked); err != nil || e.IsClosed() {
				return
			}
			if d.CheckedInAt == nil {
				release := e.Hold()
				d.Missed = true
				if err := e.Record(ctx, e.NewEvent(ctx, workflows.EventDayMissed, workflows.ActorSystem, d.Day+" ended without an on-duty check-in")); err != nil {
					e.Logger.Error("record missed day", "Error", err)
				}
				release()
			}
		}
	}
	last := e.days[len(e.days)-1]
	if _, err := workflows.AwaitUntil(ctx, last.Start.Add(24*time.Hour), "end of the last covered day "+last.Day, e.IsClosed); err != nil || e.IsClosed() {
		return
	}
	defer e.Hold()()
	e.EndAs(ctx, workflows.StageClosed)
	summary, missed := e.summarize()
	e.summary = summary
	if err := e.Record(ctx, e.NewEvent(ctx, workflows.EventCaseClosed, workflows.ActorSystem, e.summary)); err != nil {
		e.Logger.Error("record close", "Error", err)
	}
	sev := notifications.SeverityInfo
	if missed {
		sev = notifications.SeverityWarning
	}
	e.Notify(ctx, "closed", sev, true, "安全护航 escort ended", e.summary)
}

// alert tells operations and the partner that a covered day has no check-in at 10:00.
func (e *escortCase) alert(ctx workflow.Context, d *Day) {
	defer e.Hold()()
	d.Alerted = true
	detail := fmt.Sprintf("no on-duty check-in for %s by %s China time", d.Day, clockTime(e.checkinBy))
	if err := e.Record(ctx, e.NewEvent(ctx, workflows.EventCheckinMissed, workflows.ActorSystem, detail)); err != nil {
		e.Logger.Error("record missing check-in", "Error", err)
	}
	e.Notify(ctx, "checkin-missed/"+d.Day, notifications.SeverityCritical, true, "安全护航 check-in missing for "+d.Day,
		detail+fmt.Sprintf(". The on-duty engineer checks in with POST /v1/cases/%s/steps/%s {\"day\":%q,…}.", e.In.CaseID, StepCheckin, d.Day))
}

// summarize counts the check-ins and misses of the covered days.
func (e *escortCase) summarize() (summary string, missedAny bool) {
	var onTime, late, missed []string
	for _, d := range e.days {
		switch {
		case d.Missed:
			missed = append(missed, d.Day)
		case d.Late:
			late = append(late, d.Day)
		case d.CheckedInAt != nil:
			onTime = append(onTime, d.Day)
		}
	}
	s := fmt.Sprintf("%d covered days (%s to %s): %d checked in", len(e.days), e.plan.StartsOn, e.plan.EndsOn, len(onTime)+len(late))
	if len(late) > 0 {
		s += fmt.Sprintf(" (%d late: %s)", len(late), strings.Join(late, ", "))
	}
	s += fmt.Sprintf(", %d missed", len(missed))
	if len(missed) > 0 {
		s += " (" + strings.Join(missed, ", ") + ")"
	}
	return s, len(missed) > 0
}

func (e *escortCase) dayOf(day string) *Day {
	for i := range e.days {
		if e.days[i].Day == day {
			return &e.days[i]
		}
	}
	return nil
}

func (e *escortCase) validateStep(ctx workflow.Context, in workflows.StepInput) error {
	if err := e.RefuseClosed(); err != nil {
		return err
	}
	switch in.Step {
	case workflows.StepAccept, workflows.StepDecline:
		return e.ValidateOffer(in)
	case workflows.StepPlan, StepCheckin:
	default:
		return workflows.Conflictf("unknown step %q", in.Step)
	}
	if err := e.RequirePartner(in); err != nil {
		return err
	}
	now := workflow.Now(ctx)
	if in.Step == workflows.StepPlan {
		return e.validatePlan(in, now)
	}
	if e.plan == nil {
		return workflows.Conflictf("no protection plan yet: send step %s with starts_on first", workflows.StepPlan)
	}
	if err := workflows.DecodeValid[CheckinInput](in.Payload); err != nil {
		return err
	}
	c := workflows.MustDecode[CheckinInput](in.Payload)
	d := e.dayOf(c.Day)
	switch {
	case d == nil:
		return workflows.Conflictf("%s is not a covered day; the escort covers %s to %s", c.Day, e.plan.StartsOn, e.plan.EndsOn)
	case d.CheckedInAt != nil:
		return workflows.Conflictf("%s was already checked in at %s by %s", d.Day, workflows.When(*d.CheckedInAt), d.Engineer)
	case now.Before(d.Start):
		return workflows.Conflictf("%s has not begun; check in on the day", d.Day)
	case !now.Before(d.Start.Add(24 * time.Hour)):
		return workflows.Conflictf("%s is over and was recorded as missed", d.Day)
	}
	return nil
}

// validatePlan admits a plan, or a revision until the first covered day begins, starting between today
// and a year ahead.
func (e *escortCase) validatePlan(in workflows.StepInput, now time.Time) error {
	if e.plan != nil && !now.Before(e.days[0].Start) { // an open case held by a partner is in planning, scheduled or on duty
		return workflows.Conflictf("the escort began on %s; the plan can no longer change", e.plan.StartsOn)
	}
	if err := workflows.DecodeValid[PlanInput](in.Payload); err != nil {
		return err
	}
	p := workflows.MustDecode[PlanInput](in.Payload)
	start, _ := sla.EscortDayStart(p.StartsOn)
	if today := sla.ChinaDate(now); p.StartsOn < today {
		return workflows.Invalidf("starts_on: %s is in the past (today is %s in China)", p.StartsOn, today)
	}
	if start.After(now.AddDate(1, 0, 0)) {
		return workflows.Invalidf("starts_on: %s is more than a year ahead", p.StartsOn)
	}
	return nil
}

func (e *escortCase) step(ctx workflow.Context, in workflows.StepInput) (workflows.CaseView, error) {
	now := workflow.Now(ctx)
	var ev activities.Event
	switch in.Step {
	case workflows.StepAccept:
		ev = e.Accept(ctx, in, workflows.StagePlanning, "")
	case workflows.StepDecline:
		e.Decline(in)
		return e.view(now), nil
	case workflows.StepPlan:
		p := workflows.MustDecode[PlanInput](in.Payload)
		days, err := Days(p.StartsOn, e.In.Quantity)
		if err != nil {
			return workflows.CaseView{}, workflows.Invalidf("%v", err)
		}
		version, event := 1, workflows.EventPlanAgreed
		if e.plan != nil {
			version, event = e.plan.Version+1, workflows.EventPlanRevised
		}
		e.plan = &Plan{StartsOn: p.StartsOn, EndsOn: days[len(days)-1].Day, Summary: p.Summary, Items: p.Items, Version: version, SubmittedAt: now}
		e.days, e.Stage = days, StageScheduled
		ev = e.NewEvent(ctx, event, workflows.ActorPartner, fmt.Sprintf("plan v%d: %d covered days, %s to %s; %d checks: %s",
			version, len(days), e.plan.StartsOn, e.plan.EndsOn, len(p.Items), workflows.JoinList(p.Items)))
	case StepCheckin:
		c := workflows.MustDecode[CheckinInput](in.Payload)
		d := e.dayOf(c.Day)
		d.CheckedInAt, d.Engineer, d.Notes = &now, c.Engineer, c.Notes
		d.Late = !now.Before(d.Start.Add(e.checkinBy))
		detail := fmt.Sprintf("%s: %s on duty, checked in at %s", d.Day, c.Engineer, now.In(sla.China).Format("15:04"))
		if d.Late {
			detail += " (late: after " + clockTime(e.checkinBy) + ")"
		}
		ev = e.NewEvent(ctx, workflows.EventCheckedIn, workflows.ActorPartner, detail)
	}
	view := e.view(now) // the case as this step left it, taken before recording yields
	if err := e.Record(ctx, ev); err != nil {
		return workflows.CaseView{}, err
	}
	return view, nil
}

// expect is the step the case waits for and from whom, for the Web UI.
func (e *escortCase) expect() string {
	p := "partner " + e.PartnerID + ": "
	if e.Stage == workflows.StagePlanning {
		return p + "the protection plan (" + workflows.StepPlan + ")"
	}
	for _, d := range e.days {
		if d.CheckedInAt == nil && !d.Missed {
			return p + "the check-in of " + d.Day + " (" + StepCheckin + ") by " + workflows.When(d.Start.Add(e.checkinBy))
		}
	}
	return ""
}

// slaStatus: breached once a covered day went without a check-in at 10:00; the next deadline is the
// next open day's 10:00.
func (e *escortCase) slaStatus(time.Time) (string, *time.Time) {
	status := workflows.SLAOnTrack
	if len(e.days) > 0 {
		status = ""
	}
	var next *time.Time
	for _, d := range e.days {
		switch {
		case d.Alerted || d.Late || d.Missed:
			status = workflows.WorseSLA(status, workflows.SLABreached)
		case d.CheckedInAt != nil:
			status = workflows.WorseSLA(status, workflows.SLAMet)
		default:
			status = workflows.WorseSLA(status, workflows.SLAOnTrack)
		}
		if next == nil && d.CheckedInAt == nil && !d.Alerted && !d.Missed && !e.IsClosed() {
			due := d.Start.Add(e.checkinBy)
			next = &due
		}
	}
	return status, next
}

// view is the case view, with one SLA entry per covered day's check-in; it only reads.
func (e *escortCase) view(now time.Time) workflows.CaseView {
	days := append([]Day{}, e.days...)
	v := e.BaseView(now, Details{Runs: e.Runs, Cover: Cover{Plan: e.plan, Days: days, Summary: e.summary}})
	for _, d := range days {
		due := d.Start.Add(e.checkinBy)
		entry := workflows.Judge(workflows.SLAEntry{Clause: "checkin " + d.Day, DueAt: &due, CompletedAt: d.CheckedInAt}, false, now)
		if d.Alerted || d.Late || d.Missed {
			entry.Status, entry.Breached = workflows.SLABreached, true
			entry.Margin = workflows.Margin(entry, now)
		}
		v.SLA = append(v.SLA, entry)
	}
	return v
}

// clockTime writes an offset into a day as a time of day, e.g. "10:00".
func clockTime(d time.Duration) string {
	return fmt.Sprintf("%02d:%02d", int(d/time.Hour), int(d%time.Hour/time.Minute))
}
