package sla

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Statuses of a clock, as the SlaStatus search attribute and the case view carry them.
const (
	StatusOnTrack  = "on_track"
	StatusAtRisk   = "at_risk"
	StatusBreached = "breached"
	// StatusMet: the clock stopped at or before its due instant.
	StatusMet = "met"
	// StatusPaused: the clock is paused and not breached.
	StatusPaused = "paused"
	// StatusStopped: the case ended before the clause's step (expired, cancelled, out of scope); not judged.
	StatusStopped = "stopped"
)

// States of a clock.
const (
	ClockRunning   = "running"
	ClockPaused    = "paused"
	ClockCompleted = "completed"
)

// Kinds of clock event.
const (
	// EventWarning is the instant the clock's elapsed fraction reaches a threshold.
	EventWarning = "warning"
	// EventDue is the clock's due instant.
	EventDue = "due"
)

// Resolution is the smallest step of a timer. A step completed at the due instant meets the clause, so a
// clock breaches only after its due instant: its due event (NextEvent) is one Resolution after Due.
const Resolution = time.Millisecond

// DefaultThresholds returns the elapsed fractions at which a clock warns: 50% and 80%. A clock is
// at_risk from its first threshold on.
func DefaultThresholds() []float64 { return []float64{0.5, 0.8} }

// Clock is one clause's SLA clock. It is a plain value (exported fields, JSON tags) that a workflow keeps
// in its state and carries through continue-as-new; every method takes the current instant, so replay
// gives the same answers.
//
// Time counts in the clock's calendar: business time for 5x8, natural time for 7x24. While running, the
// clock keeps the working spans from RunFrom to Due, so its questions (DueAt, Remaining, Fraction,
// Status, NextEvent) need no calendar; only Resume and Retarget, which place a new due instant, do.
//
// Due is the deadline: completing at or before it meets the clause; a running clock still running after
// it is breached. A breach, once it happened, stays (BreachedAt), whatever is done afterwards.
type Clock struct {
	Clause     string        `json:"clause"`
	Calendar   string        `json:"calendar"`
	Target     time.Duration `json:"target"`
	Thresholds []float64     `json:"thresholds"`
	State      string        `json:"state"`
	StartedAt  time.Time     `json:"started_at"`
	// Counted is the clock time counted before RunFrom; once paused or completed, all of it.
	Counted time.Duration `json:"counted"`
	// RunFrom is when the current run began (start, resume or retarget); zero unless running.
	RunFrom time.Time `json:"run_from,omitzero"`
	// Due is when the target is reached; zero while paused.
	Due time.Time `json:"due_at,omitzero"`
	// Spans are the working spans from RunFrom to Due; empty unless running.
	Spans       []Span     `json:"spans,omitempty"`
	PausedAt    *time.Time `json:"paused_at,omitempty"`
	CompletedAt *time.Time `json:"completed_at,omitempty"`
	BreachedAt  *time.Time `json:"breached_at,omitempty"`
	// PlannedWithout lists the years from RunFrom to Due that the calendar had no holiday data for when
	// the due instant was placed (only weekends were off in them); Replan places it again once they have.
	PlannedWithout []int `json:"planned_without,omitempty"`
}

// Event is an instant a clock wants a timer for.
type Event struct {
	At        time.Time `json:"at"`
	Kind      string    `json:"kind"`                // EventWarning or EventDue
	Threshold float64   `json:"threshold,omitempty"` // for a warning
}

// StartClock starts a clock for clause at the contract's instant at (the order's paid_at, the asset
// submission time), with a target in cal's time and the default thresholds.
func StartClock(cal *Calendar, clause string, target time.Duration, at time.Time) (Clock, error) {
	if clause == "" {
		return Clock{}, fmt.Errorf("%w: clock: clause name is empty", ErrInvalid)
	}
	if target <= 0 {
		return Clock{}, fmt.Errorf("%w: clock %s: target %v must be positive", ErrInvalid, clause, target)
	}
	c := Clock{
		Clause: clause, Calendar: cal.Name(), Target: target, Thresholds: DefaultThresholds(),
		State: ClockRunning, StartedAt: at,
	}
	if err := c.run(cal, at); err != nil {
		return Clock{}, err
	}
	return c, nil
}

// StartClause starts the clock of a service's clause from the clause table, computing its target from in
// (hosts, for SOS handling) in the clause's calendar.
func (cs *Calendars) StartClause(service, clause string, in Inputs, at time.Time) (Clock, error) {
	cl, err := LookupClause(service, clause)
	if err != nil {
		return Clock{}, err
	}
	target, err := cl.TargetFor(in)
	if err != nil {
		return Clock{}, err
	}
	cal, err := cs.Get(cl.Calendar)
	if err != nil {
		return Clock{}, err
	}
	return StartClock(cal, cl.Name, target, at)
}

// run begins a run at now for the remaining time.
func (c *Clock) run(cal *Calendar, now time.Time) error {
	if cal.Name() != c.Calendar {
		return fmt.Errorf("%w: clock %s counts in calendar %s, not %s", ErrInvalid, c.Clause, c.Calendar, cal.Name())
	}
	due, spans, err := cal.spans(now, max(0, c.Target-c.Counted))
	if err != nil {
		return fmt.Errorf("clock %s: %w", c.Clause, err)
	}
	c.State, c.RunFrom, c.Due, c.Spans, c.PausedAt = ClockRunning, now, due, spans, nil
	c.PlannedWithout = cal.MissingYears(now.In(cal.Location()).Year(), due.In(cal.Location()).Year())
	return nil
}

// SetThresholds replaces the warning thresholds: ascending fractions strictly between 0 and 1.
func (c *Clock) SetThresholds(th []float64) error {
	for i, f := range th {
		if !(f > 0 && f < 1) || (i > 0 && f <= th[i-1]) {
			return fmt.Errorf("%w: clock %s: thresholds %v must ascend strictly inside (0, 1)", ErrInvalid, c.Clause, th)
		}
	}
	c.Thresholds = slices.Clone(th)
	return nil
}

// elapsed returns the clock time counted up to now.
func (c Clock) elapsed(now time.Time) time.Duration {
	e := c.Counted
	if c.State != ClockRunning {
		return e
	}
	for _, s := range c.Spans {
		if !now.After(s.From) {
			break
		}
		e += earlierOf(s.To, now).Sub(s.From)
	}
	return e
}

// checkNow rejects an instant before the clock's last change: time runs forward in a workflow.
func (c Clock) checkNow(now time.Time, op string) error {
	last := c.StartedAt
	if c.State == ClockRunning {
		last = c.RunFrom
	}
	if c.PausedAt != nil {
		last = *c.PausedAt
	}
	if now.Before(last) {
		return fmt.Errorf("%w: clock %s: %s at %v, before its last change at %v", ErrInvalid, c.Clause, op, now, last)
	}
	return nil
}

// settle counts the running time up to now and records a breach if the due instant has been reached.
func (c *Clock) settle(now time.Time) {
	if c.State != ClockRunning {
		return
	}
	c.Counted = c.elapsed(now)
	if now.After(c.Due) && c.BreachedAt == nil { // at the due instant the clause is still met
		due := c.Due
		c.BreachedAt = &due
	}
}

// DueAt returns when the clock's target is reached: its deadline while running, the deadline it had
// when completed, and the zero time while paused.
func (c Clock) DueAt() time.Time { return c.Due }

// Remaining returns the clock time left at now, in the clock's kind of time; zero once due.
func (c Clock) Remaining(now time.Time) time.Duration { return max(0, c.Target-c.elapsed(now)) }

// Fraction returns the elapsed fraction of the target at now, from 0 to 1 (1 once due).
func (c Clock) Fraction(now time.Time) float64 {
	return math.Min(1, float64(c.elapsed(now))/float64(c.Target))
}

// Breached reports whether the clause is breached at now.
func (c Clock) Breached(now time.Time) bool { return c.Status(now) == StatusBreached }

// Status returns StatusBreached if the clock has breached (a running clock after its due instant, or
// one completed late), StatusMet if it completed in time, StatusPaused while paused, StatusAtRisk if the
// elapsed fraction has reached the first threshold, and StatusOnTrack otherwise.
func (c Clock) Status(now time.Time) string {
	switch {
	case c.BreachedAt != nil:
		return StatusBreached
	case c.State == ClockCompleted:
		return StatusMet
	case c.State == ClockPaused:
		return StatusPaused
	case c.State == ClockRunning && now.After(c.Due):
		return StatusBreached
	case len(c.Thresholds) > 0 && c.elapsed(now) >= c.thresholdTime(c.Thresholds[0]):
		return StatusAtRisk
	}
	return StatusOnTrack
}

func (c Clock) thresholdTime(f float64) time.Duration {
	return time.Duration(math.Round(f * float64(c.Target)))
}

// NextEvent returns the clock's first warning or due instant after now, for a timer; false when the
// clock is paused, completed or past due.
func (c Clock) NextEvent(now time.Time) (Event, bool) {
	if c.State != ClockRunning {
		return Event{}, false
	}
	for _, f := range c.Thresholds {
		if at, ok := c.instantOf(c.thresholdTime(f)); ok && at.After(now) {
			return Event{At: at, Kind: EventWarning, Threshold: f}, true
		}
	}
	if at := c.Due.Add(Resolution); at.After(now) {
		return Event{At: at, Kind: EventDue}, true
	}
	return Event{}, false
}

// instantOf returns when the running clock's elapsed time reaches e; false if it did before this run.
func (c Clock) instantOf(e time.Duration) (time.Time, bool) {
	need := e - c.Counted
	if need <= 0 {
		return time.Time{}, false
	}
	for _, s := range c.Spans {
		d := s.To.Sub(s.From)
		if need <= d {
			return s.From.Add(need), true
		}
		need -= d
	}
	return c.Due, true
}

// Pause stops the clock at now, e.g. while waiting on the customer. Its due instant moves later by
// exactly the clock time that passes until Resume.
func (c *Clock) Pause(now time.Time) error {
	if c.State != ClockRunning {
		return fmt.Errorf("%w: clock %s: pause when %s", ErrInvalid, c.Clause, c.State)
	}
	if err := c.checkNow(now, "pause"); err != nil {
		return err
	}
	c.settle(now)
	at := now
	c.State, c.PausedAt, c.RunFrom, c.Due, c.Spans, c.PlannedWithout = ClockPaused, &at, time.Time{}, time.Time{}, nil, nil
	return nil
}

// Resume restarts a paused clock at now; the new due instant is the remaining time added in cal, the
// clock's calendar.
func (c *Clock) Resume(cal *Calendar, now time.Time) error {
	if c.State != ClockPaused {
		return fmt.Errorf("%w: clock %s: resume when %s", ErrInvalid, c.Clause, c.State)
	}
	if err := c.checkNow(now, "resume"); err != nil {
		return err
	}
	return c.run(cal, now)
}

// Retarget changes the target at now (urgency raised or lowered); the time elapsed so far carries into
// the new target. If it already covers the new target the clock is breached at now. A paused clock
// stays paused. A completed clock is judged again against the new target (its verdict may become late).
func (c *Clock) Retarget(cal *Calendar, now time.Time, target time.Duration) error {
	if target <= 0 {
		return fmt.Errorf("%w: clock %s: target %v must be positive", ErrInvalid, c.Clause, target)
	}
	if cal.Name() != c.Calendar {
		return fmt.Errorf("%w: clock %s counts in calendar %s, not %s", ErrInvalid, c.Clause, c.Calendar, cal.Name())
	}
	if c.State == ClockCompleted {
		return c.rejudge(cal, now, target)
	}
	if err := c.checkNow(now, "retarget"); err != nil {
		return err
	}
	c.settle(now)
	c.Target = target
	if c.Counted > target && c.BreachedAt == nil {
		at := now
		c.BreachedAt = &at
	}
	if c.State == ClockPaused {
		return nil
	}
	return c.run(cal, now)
}

// rejudge gives a completed clock a new target: only its verdict changes. Its due instant becomes the new
// target counted from the start, and a clock that counted more than the new target is breached at now
// (a response that took 30 minutes is late once an incident is raised to urgent, 15 minutes).
func (c *Clock) rejudge(cal *Calendar, now time.Time, target time.Duration) error {
	if len(c.Spans) > 0 || c.Counted < 0 {
		return fmt.Errorf("%w: clock %s: completed clock with spans", ErrInvalid, c.Clause)
	}
	due, err := cal.Add(c.StartedAt, target)
	if err != nil {
		return fmt.Errorf("clock %s: %w", c.Clause, err)
	}
	c.Target, c.Due = target, due
	if c.Counted > target && c.BreachedAt == nil {
		at := now
		c.BreachedAt = &at
	}
	return nil
}

// Complete stops the clock for good at now: the clause is met if now is at or before the due instant.
func (c *Clock) Complete(now time.Time) error {
	if c.State == ClockCompleted {
		return fmt.Errorf("%w: clock %s: already completed", ErrInvalid, c.Clause)
	}
	if err := c.checkNow(now, "complete"); err != nil {
		return err
	}
	if c.State == ClockRunning {
		c.Counted = c.elapsed(now)
		if now.After(c.Due) && c.BreachedAt == nil {
			due := c.Due
			c.BreachedAt = &due
		}
	}
	at := now
	c.State, c.CompletedAt, c.RunFrom, c.Spans, c.PlannedWithout = ClockCompleted, &at, time.Time{}, nil, nil
	return nil
}
