package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-oss/steward/activities"
	"github.com/steward-oss/steward/notifications"
)

// 安全护航 (event escort) stages, besides StageAssignment and StageClosed.
const (
	// StagePlanning: a partner accepted; the protection plan is due.
	StagePlanning = "planning"
	// StageScheduled: the plan is in and the covered days have not begun; the plan may still be revised.
	StageScheduled = "scheduled"
	// StageOnDuty: the covered days are running; an engineer checks in on each.
	StageOnDuty = "on_duty"
)

// 安全护航 steps, all from the assigned partner.
const (
	// StepPlan submits (or, before the first covered day, revises) the protection plan.
	StepPlan = "plan"
	// StepCheckin is the on-duty engineer's check-in for one covered day.
	StepCheckin = "checkin"
)

// EscortSteps lists the steps partner engineers send to an escort case.
var EscortSteps = []string{StepAccept, StepDecline, StepPlan, StepCheckin}

// CheckinBy is how long into a covered day (China time) the on-duty check-in may arrive before it is
// missing: 10:00.
const CheckinBy = 10 * time.Hour

// MaxEscortDays bounds the covered days of one escort order.
const MaxEscortDays = 366

// EscortPlanInput is the protection plan (护航方案): when the covered days start and what is checked.
type EscortPlanInput struct {
	// StartsOn is the first covered day, YYYY-MM-DD in China time; the order's quantity of consecutive
	// days from it are covered, 00:00–24:00 each.
	StartsOn string   `json:"starts_on"`
	Summary  string   `json:"summary"`
	Items    []string `json:"items"`
}

// Validate checks the plan's fields.
func (p EscortPlanInput) Validate() error {
	if _, err := time.ParseInLocation(time.DateOnly, p.StartsOn, chinaZone); err != nil {
		return errors.New("starts_on: YYYY-MM-DD")
	}
	if err := checkText("summary", p.Summary, true); err != nil {
		return err
	}
	return checkList("items", p.Items, true)
}

// CheckinInput is the on-duty engineer's check-in (值守签到) for a covered day.
type CheckinInput struct {
	Day      string `json:"day"` // YYYY-MM-DD, China time
	Engineer string `json:"engineer"`
	Notes    string `json:"notes"`
}

// Validate checks the check-in's fields.
func (c CheckinInput) Validate() error {
	if _, err := time.ParseInLocation(time.DateOnly, c.Day, chinaZone); err != nil {
		return errors.New("day: YYYY-MM-DD")
	}
	if err := checkText("engineer", c.Engineer, true); err != nil {
		return err
	}
	if len(c.Engineer) > 200 {
		return errors.New("engineer: at most 200 bytes")
	}
	return checkText("notes", c.Notes, false)
}

// EscortPlan is the plan in force.
type EscortPlan struct {
	StartsOn    string    `json:"starts_on"`
	EndsOn      string    `json:"ends_on"`
	Summary     string    `json:"summary"`
	Items       []string  `json:"items"`
	Version     int       `json:"version"`
	SubmittedAt time.Time `json:"submitted_at"`
}

// EscortDay is one covered day and its check-in.
type EscortDay struct {
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

// EscortState is an escort case's state: what the case view's details show, and what continue-as-new
// carries into the next run.
type EscortState struct {
	coreState
	Plan *EscortPlan `json:"plan,omitempty"`
	Days []EscortDay `json:"days"`
	// Summary is the closing summary of check-ins and misses.
	Summary string `json:"summary,omitempty"`
}

// EscortInput starts or continues an escort case. It marshals like a CaseInput, which is what the API
// starts it with; State is set only when a run continues as new.
type EscortInput struct {
	CaseInput
	State *EscortState `json:"state,omitempty"`
}

// EscortResult is how an escort case ended.
type EscortResult struct {
	CaseID string      `json:"case_id"`
	Stage  string      `json:"stage"`
	State  EscortState `json:"state"`
}

// EscortDays lists the covered days: n consecutive China-time days from startsOn (YYYY-MM-DD).
func EscortDays(startsOn string, n int) ([]EscortDay, error) {
	first, err := time.ParseInLocation(time.DateOnly, startsOn, chinaZone)
	if err != nil {
		return nil, fmt.Errorf("starts_on: %w", err)
	}
	days := make([]EscortDay, n)
	for i := range days {
		d := first.AddDate(0, 0, i)
		days[i] = EscortDay{Day: d.Format(time.DateOnly), Start: d.UTC()}
	}
	return days, nil
}

// EscortWorkflow runs one event-escort case (SPEC.md catalogue "安全护航"), billed per day: partner
// assignment, the protection plan that fixes the covered days, then one on-duty check-in per covered day;
// a day without a check-in by 10:00 alerts operations and the partner, and one without any is recorded as
// missed. The case closes after the last covered day with a summary.
func EscortWorkflow(ctx workflow.Context, in EscortInput) (EscortResult, error) {
	e := &escortCase{caseCore: caseCore{in: in.CaseInput, label: "安全护航"}, resume: in.State}
	e.slaFn = e.slaStatus
	if err := e.setup(ctx); err != nil {
		return EscortResult{}, err
	}
	return e.run(ctx)
}

type escortCase struct {
	caseCore
	st     EscortState
	resume *EscortState
}

func (e *escortCase) setup(ctx workflow.Context) error {
	if err := e.prepare(ctx); err != nil {
		return err
	}
	if e.in.Service != ServiceEscort {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("service: %q is not %s", e.in.Service, ServiceEscort), RejectInvalid, nil)
	}
	if e.in.Quantity > MaxEscortDays {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("quantity: an escort covers at most %d days", MaxEscortDays), RejectInvalid, nil)
	}
	if e.resume != nil {
		e.st = *e.resume
		e.st.Runs++
	} else {
		e.st = EscortState{coreState: coreState{Stage: StageAssignment, Status: StatusOpen, Opened: workflow.Now(ctx), Runs: 1}, Days: []EscortDay{}}
	}
	e.loadCore(e.st.coreState)
	if err := workflow.SetQueryHandler(ctx, QueryCaseView, func() (CaseView, error) { return e.view(), nil }); err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdateStep, e.step, workflow.UpdateHandlerOptions{Validator: e.validateStep})
}

func (e *escortCase) save() EscortState {
	e.st.coreState = e.saveCore(e.st.Runs)
	return e.st
}

func (e *escortCase) run(ctx workflow.Context) (EscortResult, error) {
	ctx = workflow.WithActivityOptions(ctx, activityOptions)
	if e.st.Runs == 1 {
		if err := e.record(ctx, e.event(ctx, "opened", ActorMarketplace, fmt.Sprintf(
			"order %s paid at %s for %d days of escort; the partner's plan sets the first day",
			e.in.OrderID, e.in.PaidAt.Format(time.RFC3339), e.in.Quantity))); err != nil {
			return EscortResult{}, err
		}
	}
	e.startAssignment(ctx)
	workflow.Go(ctx, e.watchDays)
	cont, err := e.awaitEndOrContinue(ctx)
	if err != nil {
		return EscortResult{}, err
	}
	if cont {
		st := e.save()
		return EscortResult{}, workflow.NewContinueAsNewError(ctx, EscortWorkflow, EscortInput{CaseInput: e.in, State: &st})
	}
	return EscortResult{CaseID: e.in.CaseID, Stage: e.stage, State: e.save()}, nil
}

func (e *escortCase) closed() bool { return e.status == StatusClosed }

// watchDays waits for the plan and the first covered day, then watches each day's check-in: an alert at
// 10:00 without one, a miss at the day's end; after the last day it closes the case.
func (e *escortCase) watchDays(ctx workflow.Context) {
	for {
		if err := workflow.Await(ctx, func() bool { return e.closed() || e.st.Plan != nil }); err != nil || e.closed() {
			return
		}
		version := e.st.Plan.Version
		if _, err := e.awaitUntil(ctx, e.st.Days[0].Start, "escort begins on "+e.st.Plan.StartsOn,
			func() bool { return e.closed() || e.st.Plan.Version != version }); err != nil || e.closed() {
			return
		}
		if e.st.Plan.Version == version {
			break // revised before the first day: wait for the new one
		}
	}
	if e.stage == StageScheduled {
		e.pending++
		e.stage = StageOnDuty
		detail := fmt.Sprintf("covered days %s to %s begin; check in by 10:00 each day", e.st.Plan.StartsOn, e.st.Plan.EndsOn)
		if err := e.record(ctx, e.event(ctx, "escort_started", ActorSystem, detail)); err != nil {
			e.logger.Error("record escort start", "Error", err)
		}
		e.notify(ctx, "started", notifications.SeverityInfo, true, "安全护航 escort begins today", detail)
		e.pending--
	}
	for i := range e.st.Days {
		d := &e.st.Days[i]
		checked := func() bool { return e.closed() || d.CheckedInAt != nil }
		if d.CheckedInAt != nil || d.Missed {
			continue
		}
		if !d.Alerted {
			if _, err := e.awaitUntil(ctx, d.Start.Add(CheckinBy), "on-duty check-in for "+d.Day+" by 10:00", checked); err != nil || e.closed() {
				return
			}
			if d.CheckedInAt == nil {
				e.alert(ctx, d)
			}
		}
		if d.CheckedInAt == nil {
			if _, err := e.awaitUntil(ctx, d.Start.Add(24*time.Hour), "end of covered day "+d.Day, checked); err != nil || e.closed() {
				return
			}
			if d.CheckedInAt == nil {
				e.pending++
				d.Missed = true
				if err := e.record(ctx, e.event(ctx, "day_missed", ActorSystem, d.Day+" ended without an on-duty check-in")); err != nil {
					e.logger.Error("record missed day", "Error", err)
				}
				e.pending--
			}
		}
	}
	last := e.st.Days[len(e.st.Days)-1]
	if _, err := e.awaitUntil(ctx, last.Start.Add(24*time.Hour), "end of the last covered day "+last.Day, e.closed); err != nil || e.closed() {
		return
	}
	e.pending++
	defer func() { e.pending-- }()
	e.endAs(ctx, StageClosed)
	e.st.Summary = e.summary()
	if err := e.record(ctx, e.event(ctx, "closed", ActorSystem, e.st.Summary)); err != nil {
		e.logger.Error("record close", "Error", err)
	}
	sev := notifications.SeverityInfo
	if strings.Contains(e.st.Summary, "missed") {
		sev = notifications.SeverityWarning
	}
	e.notify(ctx, "closed", sev, true, "安全护航 escort ended", e.st.Summary)
}

// alert tells operations and the partner that a covered day has no check-in at 10:00.
func (e *escortCase) alert(ctx workflow.Context, d *EscortDay) {
	e.pending++
	defer func() { e.pending-- }()
	d.Alerted = true
	detail := fmt.Sprintf("no on-duty check-in for %s by 10:00 China time", d.Day)
	if err := e.record(ctx, e.event(ctx, "checkin_missed", ActorSystem, detail)); err != nil {
		e.logger.Error("record missing check-in", "Error", err)
	}
	e.notify(ctx, "checkin-missed/"+d.Day, notifications.SeverityCritical, true, "安全护航 check-in missing for "+d.Day,
		detail+fmt.Sprintf(". The on-duty engineer checks in with POST /v1/cases/%s/steps/%s {\"day\":%q,…}.", e.in.CaseID, StepCheckin, d.Day))
}

// summary counts the check-ins and misses of the covered days.
func (e *escortCase) summary() string {
	var onTime, late, missed []string
	for _, d := range e.st.Days {
		switch {
		case d.Missed:
			missed = append(missed, d.Day)
		case d.Late:
			late = append(late, d.Day)
		case d.CheckedInAt != nil:
			onTime = append(onTime, d.Day)
		}
	}
	s := fmt.Sprintf("%d covered days (%s to %s): %d checked in", len(e.st.Days), e.st.Plan.StartsOn, e.st.Plan.EndsOn, len(onTime)+len(late))
	if len(late) > 0 {
		s += fmt.Sprintf(" (%d late: %s)", len(late), strings.Join(late, ", "))
	}
	s += fmt.Sprintf(", %d missed", len(missed))
	if len(missed) > 0 {
		s += " (" + strings.Join(missed, ", ") + ")"
	}
	return s
}

func (e *escortCase) day(day string) *EscortDay {
	for i := range e.st.Days {
		if e.st.Days[i].Day == day {
			return &e.st.Days[i]
		}
	}
	return nil
}

func (e *escortCase) validateStep(ctx workflow.Context, in StepInput) error {
	if e.closed() {
		return conflictf("the case is closed (stage %s)", e.stage)
	}
	switch in.Step {
	case StepAccept, StepDecline:
		if in.Actor != ActorPartner {
			return conflictf("step %q is a partner engineer's", in.Step)
		}
		return e.validateOffer(in)
	case StepPlan, StepCheckin:
	default:
		return conflictf("unknown step %q", in.Step)
	}
	if err := e.requirePartner(in); err != nil {
		return err
	}
	now := workflow.Now(ctx)
	if in.Step == StepPlan {
		if e.stage != StagePlanning && e.stage != StageScheduled || e.st.Plan != nil && !now.Before(e.st.Days[0].Start) {
			return conflictf("the escort began on %s; the plan can no longer change", e.st.Plan.StartsOn)
		}
		if err := decodeValid[EscortPlanInput](in.Payload); err != nil {
			return err
		}
		p := mustDecode[EscortPlanInput](in.Payload)
		start, _ := time.ParseInLocation(time.DateOnly, p.StartsOn, chinaZone)
		today := now.In(chinaZone).Format(time.DateOnly)
		if p.StartsOn < today {
			return invalidf("starts_on: %s is in the past (today is %s in China)", p.StartsOn, today)
		}
		if start.After(now.AddDate(1, 0, 0)) {
			return invalidf("starts_on: %s is more than a year ahead", p.StartsOn)
		}
		return nil
	}
	if e.st.Plan == nil {
		return conflictf("no protection plan yet: send step %s with starts_on first", StepPlan)
	}
	if err := decodeValid[CheckinInput](in.Payload); err != nil {
		return err
	}
	c := mustDecode[CheckinInput](in.Payload)
	d := e.day(c.Day)
	switch {
	case d == nil:
		return conflictf("%s is not a covered day; the escort covers %s to %s", c.Day, e.st.Plan.StartsOn, e.st.Plan.EndsOn)
	case d.CheckedInAt != nil:
		return conflictf("%s was already checked in at %s by %s", d.Day, d.CheckedInAt.Format(time.RFC3339), d.Engineer)
	case now.Before(d.Start):
		return conflictf("%s has not begun; check in on the day", d.Day)
	case !now.Before(d.Start.Add(24 * time.Hour)):
		return conflictf("%s is over and was recorded as missed", d.Day)
	}
	return nil
}

func (e *escortCase) step(ctx workflow.Context, in StepInput) (CaseView, error) {
	now := workflow.Now(ctx)
	var events []activities.Event
	add := func(event, actor, detail string) { events = append(events, e.event(ctx, event, actor, detail)) }
	switch in.Step {
	case StepAccept:
		e.accepted, e.answer, e.stage = true, StepAccept, StagePlanning
		add("partner_accepted", ActorPartner, e.partnerID+" accepted ("+in.ActorName+")")
	case StepDecline:
		e.answer, e.declineReason = StepDecline, mustDecode[DeclineInput](in.Payload).Reason
		return e.view(), nil
	case StepPlan:
		p := mustDecode[EscortPlanInput](in.Payload)
		days, err := EscortDays(p.StartsOn, e.in.Quantity)
		if err != nil {
			return CaseView{}, invalidf("%v", err)
		}
		version, event := 1, "plan_submitted"
		if e.st.Plan != nil {
			version, event = e.st.Plan.Version+1, "plan_revised"
		}
		e.st.Plan = &EscortPlan{StartsOn: p.StartsOn, EndsOn: days[len(days)-1].Day, Summary: p.Summary, Items: p.Items, Version: version, SubmittedAt: now}
		e.st.Days = days
		e.stage = StageScheduled
		add(event, ActorPartner, fmt.Sprintf("plan v%d: %d covered days, %s to %s; %d checks: %s",
			version, len(days), e.st.Plan.StartsOn, e.st.Plan.EndsOn, len(p.Items), joinList(p.Items)))
	case StepCheckin:
		c := mustDecode[CheckinInput](in.Payload)
		d := e.day(c.Day)
		d.CheckedInAt, d.Engineer, d.Notes = &now, c.Engineer, c.Notes
		d.Late = !now.Before(d.Start.Add(CheckinBy))
		detail := fmt.Sprintf("%s: %s on duty, checked in at %s", d.Day, c.Engineer, now.In(chinaZone).Format("15:04"))
		if d.Late {
			detail += " (late: after 10:00)"
		}
		add("checked_in", ActorPartner, detail)
	}
	if err := e.record(ctx, events...); err != nil {
		return CaseView{}, err
	}
	return e.view(), nil
}

// slaStatus: breached once a covered day went without a check-in at 10:00; the next deadline is the
// next open day's 10:00.
func (e *escortCase) slaStatus(time.Time) (string, *time.Time) {
	status := SLAOnTrack
	var next *time.Time
	for _, d := range e.st.Days {
		if d.Alerted || d.Late || d.Missed {
			status = SLABreached
		}
		if next == nil && d.CheckedInAt == nil && !d.Alerted && !d.Missed && e.status == StatusOpen {
			due := d.Start.Add(CheckinBy)
			next = &due
		}
	}
	return status, next
}

func (e *escortCase) view() CaseView {
	st := e.save()
	v := e.baseView(st)
	for _, d := range st.Days {
		due := d.Start.Add(CheckinBy)
		entry := SLAEntry{Clause: "checkin " + d.Day, DueAt: &due, CompletedAt: d.CheckedInAt, Status: SLAOnTrack}
		if d.Alerted || d.Late || d.Missed {
			entry.Status, entry.Breached = SLABreached, true
		}
		v.SLA = append(v.SLA, entry)
	}
	return v
}
