// Package escort runs 安全护航 (event escort) cases: partner assignment, the protection plan that fixes the
// covered days (due sla.EscortPlanDeadline after acceptance, revised as the protected event moves), then
// one on-duty check-in per covered day, billed per day (SPEC.md service catalogue).
package escort

import (
	"errors"
	"fmt"
	"slices"
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
	// StageOnDuty: the covered days are running; an engineer checks in on each. The days not begun may
	// still be revised.
	StageOnDuty = "on_duty"
)

// ClausePlan names the protection plan's deadline (sla.EscortPlanDeadline) in the case view's SLA list:
// breached once it passed without a plan, and carrying no refund.
const ClausePlan = "plan"

// ClauseCheckin prefixes a covered day's check-in line in the case view's SLA list ("checkin 2026-05-01").
const ClauseCheckin = "checkin"

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

// Cover is what an escort case covers: the plan in force and when it was due, the covered days and the
// closing summary.
type Cover struct {
	Plan *Plan `json:"plan,omitempty"`
	// PlanDue is when the first plan is due (sla.EscortPlanDeadline from the partner's acceptance);
	// PlanOverdue says operations and the partner were alerted that it passed without one.
	PlanDue     *time.Time `json:"plan_due,omitempty"`
	PlanOverdue bool       `json:"plan_overdue,omitempty"`
	Days        []Day      `json:"days"`
	Summary     string     `json:"summary,omitempty"`
}

// Result is how an escort case ended.
type Result = workflows.Ended[State]

// Details is the escort's own part of the case view: the plan, the covered days and the closing summary.
type Details struct {
	Runs int `json:"runs"`
	Cover
}

// Plan is the plan in force: its first and last covered days (Cover.Days lists them all), what it
// checks, its version, when that version was submitted and when the first one was (AgreedAt).
type Plan struct {
	StartsOn    string    `json:"starts_on"`
	EndsOn      string    `json:"ends_on"`
	Summary     string    `json:"summary"`
	Items       []string  `json:"items"`
	Version     int       `json:"version"`
	SubmittedAt time.Time `json:"submitted_at"`
	AgreedAt    time.Time `json:"agreed_at"`
}

// Day is one covered day and its check-in.
type Day struct {
	Day string `json:"day"`
	// Start is the day's 00:00 in China time.
	Start       time.Time  `json:"start"`
	CheckedInAt *time.Time `json:"checked_in_at,omitempty"`
	Engineer    string     `json:"engineer,omitempty"`
	// PartnerID is the company whose engineer checked in: another company's reader does not see the name.
	PartnerID string `json:"partner_id,omitempty"`
	Notes     string `json:"notes,omitempty"`
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
// the protection plan that fixes the covered days (a plan still missing sla.EscortPlanDeadline after
// acceptance alerts operations and the partner; revisions move, extend or split the days not begun, never
// beyond the days bought: sla.EscortCover), then one on-duty check-in per covered day; a day without a
// check-in by 10:00 alerts operations and the partner, and one without any is recorded as missed. The
// case closes after the last covered day with a summary.
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
	plan        *Plan
	planDue     *time.Time
	planOverdue bool
	days        []Day
	summary     string // the closing summary of check-ins and misses
	// checkinBy is how long into a covered day the check-in is due.
	checkinBy time.Duration
	rev       int // bumped by every step that moves a deadline, so the watch re-plans its timer
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
		e.planDue, e.planOverdue = resume.PlanDue, resume.PlanOverdue
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
	workflow.Go(ctx, e.watch)
	cont, err := e.AwaitEndOrContinue(ctx)
	if err != nil {
		return Result{}, err
	}
	st := State{CoreState: e.CoreState, Cover: e.cover()}
	if cont {
		return Result{}, workflow.NewContinueAsNewError(ctx, WorkflowName, Input{CaseInput: e.In, CheckinBy: e.checkinBy, State: &st})
	}
	return Result{CaseID: e.In.CaseID, Stage: e.Stage, State: st}, nil
}

// cover is the case's Cover as it is now.
func (e *escortCase) cover() Cover {
	return Cover{Plan: e.plan, PlanDue: e.planDue, PlanOverdue: e.planOverdue, Days: e.days, Summary: e.summary}
}

// watch raises what comes due, each once: the plan's deadline without a plan, the first covered day's
// start, each day's missing check-in at 10:00 and its end without one, and after the last covered day the
// case's close. One timer at a time, for the earliest; a plan revision or a check-in re-plans it.
func (e *escortCase) watch(ctx workflow.Context) {
	for {
		release := e.Hold()
		e.raise(ctx)
		release()
		if e.IsClosed() {
			return
		}
		rev := e.rev
		changed := func() bool { return e.IsClosed() || e.rev != rev }
		at, what, ok := e.next()
		var err error
		if ok {
			_, err = workflows.AwaitUntil(ctx, at, what, changed)
		} else {
			err = workflow.Await(ctx, changed)
		}
		if err != nil {
			return
		}
	}
}

// next is the earliest instant the watch has something to raise at, and what it waits for.
func (e *escortCase) next() (time.Time, string, bool) {
	var at time.Time
	var what string
	consider := func(t time.Time, w string) {
		if at.IsZero() || t.Before(at) {
			at, what = t, w
		}
	}
	if e.plan == nil {
		if e.planDue != nil && !e.planOverdue {
			consider(*e.planDue, "protection plan due ("+sla.EscortPlanDeadline.String()+" after acceptance)")
		}
		return at, what, !at.IsZero()
	}
	if e.Stage == StageScheduled {
		consider(e.days[0].Start, "escort begins on "+e.days[0].Day)
	}
	for _, d := range e.days {
		switch {
		case d.CheckedInAt != nil:
		case !d.Alerted:
			consider(d.Start.Add(e.checkinBy), "on-duty check-in for "+d.Day+" by "+clockTime(e.checkinBy))
		case !d.Missed:
			consider(d.Start.Add(sla.Day), "end of covered day "+d.Day)
		}
	}
	last := e.days[len(e.days)-1]
	consider(last.Start.Add(sla.Day), "end of the last covered day "+last.Day)
	return at, what, true
}

// raise records and notifies whatever has come due at now. Each flag is set before the record yields, so
// a step landing meanwhile (a revision copies the days that have begun) sees it.
func (e *escortCase) raise(ctx workflow.Context) {
	now := workflow.Now(ctx)
	if e.plan == nil {
		if e.planDue != nil && !e.planOverdue && !now.Before(*e.planDue) {
			e.alertPlan(ctx, *e.planDue)
		}
		return
	}
	if e.Stage == StageScheduled && !now.Before(e.days[0].Start) {
		e.Stage = StageOnDuty
		detail := fmt.Sprintf("covered days %s begin; check in by %s each day", coverText(e.days), clockTime(e.checkinBy))
		if err := e.Record(ctx, e.NewEvent(ctx, workflows.EventEscortStarted, workflows.ActorSystem, detail)); err != nil {
			e.Logger.Error("record escort start", "Error", err)
		}
		e.Notify(ctx, "started", notifications.SeverityInfo, true, "安全护航 escort begins today", detail)
	}
	names := make([]string, len(e.days))
	for i, d := range e.days {
		names[i] = d.Day
	}
	for _, name := range names {
		if d := e.dayOf(name); d != nil && d.CheckedInAt == nil && !d.Alerted && !now.Before(d.Start.Add(e.checkinBy)) {
			e.alert(ctx, d)
		}
		if d := e.dayOf(name); d != nil && d.CheckedInAt == nil && !d.Missed && !now.Before(d.Start.Add(sla.Day)) {
			d.Missed = true
			if err := e.Record(ctx, e.NewEvent(ctx, workflows.EventDayMissed, workflows.ActorSystem, d.Day+" ended without an on-duty check-in")); err != nil {
				e.Logger.Error("record missed day", "Error", err)
			}
		}
	}
	if last := e.days[len(e.days)-1]; e.IsClosed() || now.Before(last.Start.Add(sla.Day)) {
		return
	}
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

// alertPlan tells operations and the partner that no protection plan came by its deadline, due.
func (e *escortCase) alertPlan(ctx workflow.Context, due time.Time) {
	e.planOverdue = true
	detail := fmt.Sprintf("no protection plan %s after the partner accepted (due %s); operations and the partner were alerted",
		sla.EscortPlanDeadline, workflows.When(due))
	if err := e.Record(ctx, e.NewEvent(ctx, workflows.EventPlanOverdue, workflows.ActorSystem, detail)); err != nil {
		e.Logger.Error("record overdue plan", "Error", err)
	}
	e.Notify(ctx, "plan-overdue", notifications.SeverityCritical, true, "安全护航 protection plan overdue",
		fmt.Sprintf("No protection plan %s after %s accepted (due %s): the covered days are not fixed yet. The partner agrees them with the customer and sends POST /v1/cases/%s/steps/%s {\"starts_on\":…} or {\"days\":[…]}.",
			sla.EscortPlanDeadline, e.PartnerID, workflows.When(due), e.In.CaseID, workflows.StepPlan))
}

// alert tells operations and the partner that a covered day has no check-in at 10:00.
func (e *escortCase) alert(ctx workflow.Context, d *Day) {
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
	s := fmt.Sprintf("%d covered days (%s): %d checked in", len(e.days), coverText(e.days), len(onTime)+len(late))
	if len(late) > 0 {
		s += fmt.Sprintf(" (%d late: %s)", len(late), strings.Join(late, ", "))
	}
	s += fmt.Sprintf(", %d missed", len(missed))
	if len(missed) > 0 {
		s += " (" + strings.Join(missed, ", ") + ")"
	}
	if unused := e.In.Quantity - len(e.days); unused > 0 {
		s += fmt.Sprintf("; %d of the %d days bought not used", unused, e.In.Quantity)
	}
	return s, len(missed) > 0
}

// coverText writes covered days for people: "2026-05-01 to 2026-05-03" when they run on, else listed.
func coverText(days []Day) string {
	if len(days) == 0 {
		return "none"
	}
	first, last := days[0], days[len(days)-1]
	if last.Start.Sub(first.Start) == time.Duration(len(days)-1)*sla.Day {
		if len(days) == 1 {
			return first.Day
		}
		return first.Day + " to " + last.Day
	}
	names := make([]string, len(days))
	for i, d := range days {
		names[i] = d.Day
	}
	return strings.Join(names, ", ")
}

// dates are the covered days' dates, in order.
func (e *escortCase) dates() []string {
	out := make([]string, len(e.days))
	for i, d := range e.days {
		out[i] = d.Day
	}
	return out
}

// revise is the covered days dates (sla.EscortCover's answer): a day already covered keeps its check-in,
// alert and miss; a new one starts blank.
func (e *escortCase) revise(dates []string) ([]Day, error) {
	out := make([]Day, len(dates))
	for i, date := range dates {
		if d := e.dayOf(date); d != nil {
			out[i] = *d
			continue
		}
		start, err := sla.EscortDayStart(date)
		if err != nil {
			return nil, err
		}
		out[i] = Day{Day: date, Start: start}
	}
	return out, nil
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
		return workflows.Conflictf("%s is not a covered day; the escort covers %s", c.Day, coverText(e.days))
	case d.CheckedInAt != nil:
		return workflows.Conflictf("%s was already checked in at %s by %s", d.Day, workflows.When(*d.CheckedInAt), d.Engineer)
	case now.Before(d.Start):
		return workflows.Conflictf("%s has not begun; check in on the day", d.Day)
	case !now.Before(d.Start.Add(24 * time.Hour)):
		return workflows.Conflictf("%s is over and was recorded as missed", d.Day)
	}
	return nil
}

// validatePlan admits a plan or a revision whose covered days sla.EscortCover accepts: within the days
// bought, new days between today and a year ahead, the days that have begun kept as they are.
func (e *escortCase) validatePlan(in workflows.StepInput, now time.Time) error {
	if err := workflows.DecodeValid[PlanInput](in.Payload); err != nil {
		return err
	}
	p := workflows.MustDecode[PlanInput](in.Payload)
	_, err := sla.EscortCover(e.In.Quantity, e.dates(), sla.ChinaDate(now), p.StartsOn, p.Days)
	return coverError(err)
}

// coverError is sla.EscortCover's refusal as a step's: a plan the order or the begun days refuse is a
// conflict, a malformed one invalid.
func coverError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sla.ErrRefused):
		return workflows.Conflictf("%s", strings.TrimPrefix(err.Error(), sla.ErrRefused.Error()+": "))
	}
	return workflows.Invalidf("%s", strings.TrimPrefix(err.Error(), sla.ErrInvalid.Error()+": "))
}

func (e *escortCase) step(ctx workflow.Context, in workflows.StepInput) (workflows.CaseView, error) {
	now := workflow.Now(ctx)
	var ev activities.Event
	switch in.Step {
	case workflows.StepAccept:
		due, err := workflows.DeadlineFrom(ctx, sla.EscortPlanDeadline, workflows.StepInstant(in, now))
		if err != nil {
			return workflows.CaseView{}, err
		}
		e.planDue = &due
		e.rev++
		ev = e.Accept(ctx, in, workflows.StagePlanning, "protection plan due by "+workflows.When(due))
	case workflows.StepDecline:
		e.Decline(in)
		return e.view(now), nil
	case workflows.StepPlan:
		p := workflows.MustDecode[PlanInput](in.Payload)
		dates, err := sla.EscortCover(e.In.Quantity, e.dates(), sla.ChinaDate(now), p.StartsOn, p.Days)
		if err != nil {
			return workflows.CaseView{}, coverError(err) // validated; the day cannot have turned since
		}
		days, err := e.revise(dates)
		if err != nil {
			return workflows.CaseView{}, workflows.Invalidf("%v", err)
		}
		version, event, agreed, note := 1, workflows.EventPlanAgreed, now, ""
		if e.plan != nil {
			version, event, agreed = e.plan.Version+1, workflows.EventPlanRevised, e.plan.AgreedAt
			note = changes(e.dates(), dates)
		} else if e.planDue != nil && now.After(*e.planDue) {
			note = " (late: due " + workflows.When(*e.planDue) + ")"
		}
		e.plan = &Plan{StartsOn: dates[0], EndsOn: dates[len(dates)-1], Summary: p.Summary, Items: p.Items, Version: version,
			SubmittedAt: now, AgreedAt: agreed}
		e.days = days
		if e.Stage == workflows.StagePlanning {
			e.Stage = StageScheduled
		}
		e.rev++
		ev = e.NewEvent(ctx, event, workflows.ActorPartner, fmt.Sprintf("plan v%d: %d covered days, %s%s; %d checks: %s",
			version, len(days), coverText(days), note, len(p.Items), workflows.JoinList(p.Items)))
	case StepCheckin:
		c := workflows.MustDecode[CheckinInput](in.Payload)
		d := e.dayOf(c.Day)
		d.CheckedInAt, d.Engineer, d.PartnerID, d.Notes = &now, c.Engineer, in.PartnerID, c.Notes
		d.Late = !now.Before(d.Start.Add(e.checkinBy))
		e.rev++
		detail := fmt.Sprintf("%s: on duty, checked in at %s", d.Day, now.In(sla.China).Format("15:04")) // no name: the line reaches the customer
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
		if e.planDue != nil {
			return p + "the protection plan (" + workflows.StepPlan + ") by " + workflows.When(*e.planDue)
		}
		return p + "the protection plan (" + workflows.StepPlan + ")"
	}
	for _, d := range e.days {
		if d.CheckedInAt == nil && !d.Missed {
			return p + "the check-in of " + d.Day + " (" + StepCheckin + ") by " + workflows.When(d.Start.Add(e.checkinBy))
		}
	}
	return ""
}

// slaStatus: breached once the plan went overdue or a covered day went without a check-in at 10:00; the
// next deadline is the plan's while it is awaited, then the next open day's 10:00.
func (e *escortCase) slaStatus(time.Time) (string, *time.Time) {
	status := workflows.SLAOnTrack
	if len(e.days) > 0 {
		status = ""
	}
	if e.planOverdue {
		status = workflows.SLABreached
	}
	var next *time.Time
	if e.plan == nil && e.planDue != nil && !e.planOverdue && !e.IsClosed() {
		due := *e.planDue
		next = &due
	}
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
	c := e.cover()
	c.Days = days
	v := e.BaseView(now, Details{Runs: e.Runs, Cover: c})
	if e.planDue != nil {
		due := *e.planDue
		var agreed *time.Time
		if e.plan != nil {
			at := e.plan.AgreedAt
			agreed = &at
		}
		entry := workflows.Judge(workflows.SLAEntry{Clause: ClausePlan, DueAt: &due, CompletedAt: agreed}, true, now)
		if agreed == nil && e.IsClosed() {
			entry.Status, entry.Breached, entry.Margin = workflows.SLAStopped, false, ""
		}
		v.SLA = append(v.SLA, entry)
	}
	for _, d := range days {
		due := d.Start.Add(e.checkinBy)
		entry := workflows.Judge(workflows.SLAEntry{Clause: ClauseCheckin + " " + d.Day, DueAt: &due, CompletedAt: d.CheckedInAt}, false, now)
		if d.Alerted || d.Late || d.Missed {
			entry.Status, entry.Breached = workflows.SLABreached, true
			entry.Margin = workflows.Margin(entry, now)
		}
		v.SLA = append(v.SLA, entry)
	}
	return v
}

// changes says which days a revision added and dropped: " (added 2026-05-08; dropped 2026-05-03)".
func changes(before, after []string) string {
	var added, dropped []string
	for _, d := range after {
		if !slices.Contains(before, d) {
			added = append(added, d)
		}
	}
	for _, d := range before {
		if !slices.Contains(after, d) {
			dropped = append(dropped, d)
		}
	}
	var parts []string
	if len(added) > 0 {
		parts = append(parts, "added "+strings.Join(added, ", "))
	}
	if len(dropped) > 0 {
		parts = append(parts, "dropped "+strings.Join(dropped, ", "))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, "; ") + ")"
}

// clockTime writes an offset into a day as a time of day, e.g. "10:00".
func clockTime(d time.Duration) string {
	return fmt.Sprintf("%02d:%02d", int(d/time.Hour), int(d%time.Hour/time.Minute))
}
