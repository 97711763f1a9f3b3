package workflows

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-oss/steward/activities"
	"github.com/steward-oss/steward/notifications"
	"github.com/steward-oss/steward/sla"
)

// Clocks are a case's (or a request's) SLA clocks with the warnings and breaches already raised: the one
// clock engine of every lifecycle, kept in the workflow's state so continue-as-new carries it. A clock is
// named by its index, since a re-targeted clock changes its clause; an outcome clause (SOS effect) has no
// clock and is listed in Missed once breached.
type Clocks struct {
	Clocks []sla.Clock `json:"clocks"`
	// Warned lists the warnings raised, "<index>@<percent>".
	Warned []string `json:"warned,omitempty"`
	// Breached lists the clocks whose breach was raised, by index.
	Breached []int `json:"breached,omitempty"`
	// Missed lists the outcome clauses breached.
	Missed []string `json:"missed,omitempty"`
	// Stopped lists the clocks stopped because the case ended before their step, by index.
	Stopped []int `json:"stopped,omitempty"`
	// Replanned lists the years, ascending, whose holiday data arrived after a clock had been planned
	// without it and re-planned the clock (Replan).
	Replanned []int `json:"replanned,omitempty"`

	rev int // bumped on every change, so a watch re-plans its timer
}

// StartClock starts a clause's clock inside a side effect, so a replay reuses the deadline computed the
// first time even if the worker's holiday data has changed since.
func StartClock(ctx workflow.Context, service, clause string, in sla.Inputs, at time.Time) (sla.Clock, error) {
	// The closure runs inside the side effect (clockEffect); the checker cannot see that.
	return clockEffect(ctx, func() (sla.Clock, error) { return Calendars().StartClause(service, clause, in, at) }) //workflowcheck:ignore
}

// RetargetClock moves clock c to another clause of service (urgency or severity changed) at now, carrying
// the time elapsed, or judges a stopped clock again (sla.Clock.Retarget), in a side effect like StartClock.
func RetargetClock(ctx workflow.Context, c sla.Clock, service, clause string, now time.Time) (sla.Clock, error) {
	// The closure runs inside the side effect (clockEffect); the checker cannot see that.
	return clockEffect(ctx, func() (sla.Clock, error) { //workflowcheck:ignore
		cl, err := sla.LookupClause(service, clause)
		if err != nil {
			return sla.Clock{}, err
		}
		cal, err := Calendars().Get(c.Calendar) //workflowcheck:ignore
		if err != nil {
			return sla.Clock{}, err
		}
		out := c
		out.Spans = slices.Clone(c.Spans)
		//workflowcheck:ignore
		if err := out.Retarget(cal, now, cl.Target); err != nil {
			return sla.Clock{}, err
		}
		out.Clause = clause
		return out, nil
	})
}

func clockEffect(ctx workflow.Context, f func() (sla.Clock, error)) (sla.Clock, error) {
	type result struct {
		Clock sla.Clock `json:"clock"`
		Err   string    `json:"err,omitempty"`
	}
	var r result
	err := workflow.SideEffect(ctx, func(workflow.Context) any {
		c, err := f()
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

// Add adds a started clock and returns its index.
func (b *Clocks) Add(c sla.Clock) int {
	b.Clocks = append(b.Clocks, c)
	b.rev++
	return len(b.Clocks) - 1
}

// Index returns the position of the clock of clause, or -1.
func (b *Clocks) Index(clause string) int {
	return slices.IndexFunc(b.Clocks, func(c sla.Clock) bool { return c.Clause == clause })
}

// Met reports whether the clock of clause was completed in time, and when it was due (zero without one).
func (b *Clocks) Met(clause string) (bool, time.Time) {
	i := b.Index(clause)
	if i < 0 {
		return false, time.Time{}
	}
	c := b.Clocks[i]
	return c.State == sla.ClockCompleted && c.CompletedAt != nil && c.Status(*c.CompletedAt) == sla.StatusMet, c.DueAt()
}

// Contacted makes ev, the first contact that completed the clock of clause, tell the customer the engineer
// has contacted them, and whether in time.
func (c *Case) Contacted(ev activities.Event, clause string) activities.Event {
	met, due := c.Clocks.Met(clause)
	yes := "no"
	if met {
		yes = "yes"
	}
	return Tell(ev, NoticeContacted, "met", yes, "due", When(due))
}

// Complete stops the clock of clause at at (a step's instant; now is the workflow's) and says whether it
// was met, for the timeline: "met 7 min before due (2026-12-01 16:42 CST)", "late by 2 h (due …)", or
// why it was not counted.
func (b *Clocks) Complete(clause string, at, now time.Time) string {
	i := b.Index(clause)
	if i < 0 {
		return "not counted"
	}
	return b.CompleteAt(i, at, now)
}

// CompleteAt is Complete for the clock at index i.
func (b *Clocks) CompleteAt(i int, at, now time.Time) string {
	c := &b.Clocks[i]
	if c.State == sla.ClockCompleted {
		return "already stopped"
	}
	if last := lastChange(*c); at.Before(last) {
		at = last // a step that beat a future start (clock skew) completes the clock at its start
	}
	if err := c.Complete(at); err != nil {
		return "not counted (" + err.Error() + ")"
	}
	b.rev++
	return Margin(b.entry(i, now), now) + " (due " + When(c.DueAt()) + ")"
}

// lastChange is the instant a clock last started, resumed or paused.
func lastChange(c sla.Clock) time.Time {
	switch {
	case c.PausedAt != nil:
		return *c.PausedAt
	case c.State == sla.ClockRunning:
		return c.RunFrom
	}
	return c.StartedAt
}

// StopAll stops every clock still counting at now (the case closed).
func (b *Clocks) StopAll(now time.Time) {
	for i := range b.Clocks {
		if b.Clocks[i].State != sla.ClockCompleted {
			_ = b.Clocks[i].Complete(now) // a clock not completed can always complete at now
			b.Stopped = append(b.Stopped, i)
		}
	}
	b.rev++
}

// Retarget moves the clock at i to clause of service at now (RetargetClock); its warnings may be raised
// again against the new target. It describes the result for the timeline.
func (b *Clocks) Retarget(ctx workflow.Context, i int, service, clause string, now time.Time) (string, error) {
	c, err := RetargetClock(ctx, b.Clocks[i], service, clause, now)
	if err != nil {
		return "", err
	}
	b.Clocks[i] = c
	prefix := fmt.Sprintf("%d@", i)
	b.Warned = slices.DeleteFunc(b.Warned, func(k string) bool { return strings.HasPrefix(k, prefix) })
	b.rev++
	switch {
	case c.Status(now) == sla.StatusBreached && c.State == sla.ClockCompleted:
		return fmt.Sprintf("%s clock: the response took longer than %s", clause, Span(c.Target)), nil
	case c.Status(now) == sla.StatusBreached:
		return fmt.Sprintf("%s clock: %s already elapsed, breached at once", clause, Span(c.Target)), nil
	case c.State == sla.ClockCompleted:
		return fmt.Sprintf("%s clock: response within %s", clause, Span(c.Target)), nil
	}
	return fmt.Sprintf("%s clock re-targeted to %s with the elapsed time carried; now due %s", clause, Span(c.Target), When(c.DueAt())), nil
}

// BreachedClauses are the clauses breached so far, clocks' and outcomes', each once, for compensation.
func (b *Clocks) BreachedClauses() []string {
	var out []string
	for _, i := range b.Breached {
		if cl := b.Clocks[i].Clause; !slices.Contains(out, cl) {
			out = append(out, cl)
		}
	}
	for _, cl := range b.Missed {
		if !slices.Contains(out, cl) {
			out = append(out, cl)
		}
	}
	return out
}

// Late marks and returns the clocks breached at now whose breach has not been raised: a clock stopped or
// re-targeted past its due instant is a breach the watch will not see.
func (b *Clocks) Late(now time.Time) []int {
	var late []int
	for i, c := range b.Clocks {
		if c.Status(now) == sla.StatusBreached && !slices.Contains(b.Breached, i) {
			b.Breached = append(b.Breached, i)
			late = append(late, i)
		}
	}
	if len(late) > 0 {
		b.rev++
	}
	return late
}

// Status is the case's SLA status at now: breached once any breach was raised or a clock is past due,
// else at_risk when a clock passed its first warning, on_track while a clock runs, paused when the only
// clocks left are paused, met when every judged clock was met, on_track with no clock at all and
// stopped when every clock was stopped by the case's end. next is the next deadline: the earliest due
// instant of a clock still running and not yet past it (a breached clock has no deadline left to watch),
// nil when there is none.
func (b *Clocks) Status(now time.Time) (string, *time.Time) {
	status := ""
	if len(b.Breached) > 0 || len(b.Missed) > 0 {
		status = SLABreached
	}
	var next *time.Time
	for i, c := range b.Clocks {
		status = WorseSLA(status, b.status(i, now))
		if c.State == sla.ClockRunning && !now.After(c.Due) && (next == nil || c.Due.Before(*next)) {
			due := c.Due
			next = &due
		}
	}
	if status == "" {
		status = SLAOnTrack
	}
	return status, next
}

// slaRank orders the SLA statuses from best to worst, for WorseSLA.
var slaRank = map[string]int{SLAStopped: 1, SLAMet: 2, SLAPaused: 3, SLAOnTrack: 4, SLAAtRisk: 5, SLABreached: 6}

// WorseSLA is the worse of two SLA statuses, for a case's status over its clauses: breached, at_risk,
// on_track, paused, met, stopped, in that order; "" is better than any.
func WorseSLA(a, b string) string {
	if slaRank[b] > slaRank[a] {
		return b
	}
	return a
}

// status is the clock at i's state at now: sla's, or stopped when the case's end stopped it in time.
func (b *Clocks) status(i int, now time.Time) string {
	st := b.Clocks[i].Status(now)
	if st == SLAMet && slices.Contains(b.Stopped, i) {
		return SLAStopped
	}
	return st
}

// entry is the clock at i as the case view shows it.
func (b *Clocks) entry(i int, now time.Time) SLAEntry {
	c := b.Clocks[i]
	e := SLAEntry{Clause: c.Clause, CompletedAt: c.CompletedAt, Status: b.status(i, now)}
	if due := c.DueAt(); !due.IsZero() {
		e.DueAt = &due
	}
	e.Breached = e.Status == SLABreached
	e.Margin = Margin(e, now)
	return e
}

// Entries are the clocks as the case view shows them, with the refund a breach of each costs under
// service's compensation table.
func (b *Clocks) Entries(service string, now time.Time) []SLAEntry {
	out := []SLAEntry{}
	for i := range b.Clocks {
		e := b.entry(i, now)
		if e.Breached {
			e.RefundPercent, _ = sla.ClausePercent(service, e.Clause)
		}
		out = append(out, e)
	}
	return out
}

// Watch turns the warning and due instants of a set of clocks into calls of Warn and Breach, once each,
// with one timer at a time that is cancelled when the clocks change or the watch ends.
type Watch struct {
	Clocks *Clocks
	// Done ends the watch.
	Done func() bool
	// Hold keeps the run from ending while a warning or breach is handled.
	Hold func() (release func())
	// Label prefixes the timers' summaries (a request's ID).
	Label  string
	Warn   func(ctx workflow.Context, i int, c sla.Clock, threshold float64)
	Breach func(ctx workflow.Context, i int, c sla.Clock)
	// Replan, when set, runs at every wake-up before warnings and breaches are raised: it re-plans the
	// clocks planned without holiday data that has arrived since (Case.ReplanClocks), so a deadline that
	// the data moves is never warned or breached on the old plan.
	Replan func(ctx workflow.Context)
}

// Run watches until Done.
func (w Watch) Run(ctx workflow.Context) {
	// One timer for the next warning or breach, kept while a change of the clocks leaves that instant as
	// it was (a step that stops another clock), so that the history holds no timer cancelled only to be
	// started again for the same instant.
	var (
		timer  workflow.Future
		cancel func()
		at     time.Time
		label  string
	)
	stop := func() {
		if cancel != nil {
			cancel()
		}
		timer, cancel = nil, nil
	}
	// Stopped on the way out, not deferred: a coroutine the SDK ends while it waits (the run is over)
	// must not touch the timer as it unwinds (see AwaitFor).
	for !w.Done() {
		release := w.Hold()
		if w.Replan != nil {
			w.Replan(ctx)
		}
		w.evaluate(ctx, workflow.Now(ctx))
		release()
		now := workflow.Now(ctx) // handling took time; the next timer counts from now
		rev := w.Clocks.rev
		changed := func() bool { return w.Done() || w.Clocks.rev != rev }
		var best sla.Event
		var clause string
		found := false
		for _, c := range w.Clocks.Clocks {
			if e, ok := c.NextEvent(now); ok && (!found || e.At.Before(best.At)) {
				best, clause, found = e, c.Clause, true
			}
		}
		if !found {
			stop()
			if err := workflow.Await(ctx, changed); err != nil {
				return
			}
			continue
		}
		summary := fmt.Sprintf("%s%s clock: breached unless met by %s", w.Label, clause, When(best.At.Add(-sla.Resolution)))
		if best.Kind == sla.EventWarning {
			summary = fmt.Sprintf("%s%s clock: %.0f%% elapsed at %s", w.Label, clause, best.Threshold*100, When(best.At))
		}
		if timer == nil || !at.Equal(best.At) || label != summary {
			stop()
			if d := best.At.Sub(now); d > 0 {
				tctx, c := workflow.WithCancel(ctx)
				timer, cancel, at, label = workflow.NewTimerWithOptions(tctx, d, workflow.TimerOptions{Summary: Clip(summary, MaxSummary)}), c, best.At, summary
			}
		}
		if timer == nil {
			continue // due now: evaluate raises it
		}
		t := timer
		if err := workflow.Await(ctx, func() bool { return changed() || t.IsReady() }); err != nil {
			return
		}
		if t.IsReady() {
			timer, cancel = nil, nil
			if err := t.Get(ctx, nil); err != nil {
				return
			}
		}
	}
	stop()
}

// evaluate raises each warning and breach that has come due, once.
func (w Watch) evaluate(ctx workflow.Context, now time.Time) {
	b := w.Clocks
	for i := range b.Clocks {
		c := b.Clocks[i] // re-read each turn: raising one waits, and a step may complete the clock meanwhile
		if c.State != sla.ClockRunning {
			continue
		}
		if c.Status(now) == sla.StatusBreached {
			if !slices.Contains(b.Breached, i) {
				b.Breached = append(b.Breached, i)
				b.rev++
				w.Breach(ctx, i, c)
			}
			continue
		}
		elapsed := c.Target - c.Remaining(now)
		for _, th := range c.Thresholds {
			if b.Clocks[i].State != sla.ClockRunning {
				break // completed while the previous warning was being raised
			}
			key := fmt.Sprintf("%d@%.0f", i, th*100)
			if slices.Contains(b.Warned, key) || elapsed < time.Duration(math.Round(th*float64(c.Target))) {
				continue
			}
			b.Warned = append(b.Warned, key)
			w.Warn(ctx, i, c, th)
		}
	}
}

// StartClock starts the clock of clause for the case at at and adds it; it returns the clock.
func (c *Case) StartClock(ctx workflow.Context, clause string, in sla.Inputs, at time.Time) (sla.Clock, error) {
	clock, err := StartClock(ctx, c.In.Service, clause, in, at)
	if err != nil {
		return sla.Clock{}, err
	}
	c.Clocks.Add(clock)
	return clock, nil
}

// WatchClocks raises the case's warnings and breaches as they come due, until the case closes: each is
// recorded on the timeline (a breach with the refund it adds) and notified to operations and the partner.
// At every wake-up it first re-plans the clocks planned without holiday data that has arrived since
// (ReplanClocks); SignalCalendarUpdated wakes it.
func (c *Case) WatchClocks(ctx workflow.Context) {
	Watch{
		Clocks: &c.Clocks, Done: c.IsClosed, Hold: c.Hold, Replan: c.ReplanClocks,
		Warn: func(ctx workflow.Context, _ int, clock sla.Clock, th float64) {
			detail := fmt.Sprintf("%s clock %.0f%% elapsed; due %s", clock.Clause, th*100, When(clock.DueAt()))
			c.Notify(ctx, WarnKey(clock.Clause, th), notifications.SeverityWarning, true,
				fmt.Sprintf("%s %s clock at %.0f%%", c.Label, clock.Clause, th*100), detail)
			if err := c.Record(ctx, c.NewEvent(ctx, EventSLAAtRisk, ActorSystem, detail)); err != nil {
				c.Logger.Error("record warning", "Clause", clock.Clause, "Error", err)
			}
		},
		Breach: func(ctx workflow.Context, _ int, clock sla.Clock) {
			ev, refunds := c.breach(ctx, clock.Clause, "not met by "+When(clock.DueAt()))
			c.NotifyBreach(ctx, clock.Clause)
			if err := c.RecordWith(ctx, []activities.Event{ev}, refunds); err != nil {
				c.Logger.Error("record breach", "Clause", clock.Clause, "Error", err)
			}
		},
	}.Run(ctx)
}

// LateBreaches raises the breaches of clocks a step stopped after their due instant (Clocks.Late): the
// timeline lines and refunds to record with the step, and their notifications.
func (c *Case) LateBreaches(ctx workflow.Context, now time.Time) ([]activities.Event, []activities.RefundRow) {
	var events []activities.Event
	var refunds []activities.RefundRow
	for _, i := range c.Clocks.Late(now) {
		clause := c.Clocks.Clocks[i].Clause
		ev, r := c.breach(ctx, clause, "completed after its due time "+When(c.Clocks.Clocks[i].DueAt()))
		events, refunds = append(events, ev), append(refunds, r...)
		c.NotifyBreach(ctx, clause)
	}
	return events, refunds
}

// MissOutcome breaches an outcome clause (one without a clock, such as SOS effect) once, and returns its
// timeline line and refunds to record, and whether it was new.
func (c *Case) MissOutcome(ctx workflow.Context, clause, why string) ([]activities.Event, []activities.RefundRow) {
	if slices.Contains(c.Clocks.Missed, clause) {
		return nil, nil
	}
	c.Clocks.Missed = append(c.Clocks.Missed, clause)
	c.Clocks.rev++
	ev, r := c.breach(ctx, clause, why)
	c.NotifyBreach(ctx, clause)
	return []activities.Event{ev}, r
}

// breach computes the refund a breach adds under the service's compensation table — cumulative over the
// case and capped at 100% of the order — and its timeline line. The clause is already marked breached.
func (c *Case) breach(ctx workflow.Context, clause, why string) (activities.Event, []activities.RefundRow) {
	before := c.Refund
	if r, err := sla.Compensate(c.In.Service, c.Clocks.BreachedClauses(), c.In.AmountCents); err != nil {
		c.Logger.Error("compensation", "Clause", clause, "Error", err)
	} else {
		c.Refund = r
	}
	owed := fmt.Sprintf("refund now %d%% (%s)", c.Refund.Percent, Money(c.Refund.AmountCents, c.In.Currency))
	if pct, _ := sla.ClausePercent(c.In.Service, clause); pct == 0 {
		owed = "no compensation applies"
	}
	detail := fmt.Sprintf("%s clause breached: %s; %s", clause, why, owed)
	ev := c.NewEvent(ctx, EventSLABreached, ActorSystem, detail)
	ev.Key = c.In.CaseID + "/" + BreachKey(clause)
	var rows []activities.RefundRow
	if add := c.Refund.Percent - before.Percent; add > 0 {
		ev = Tell(ev, NoticeRefundOwed, "amount", Money(c.Refund.AmountCents-before.AmountCents, c.In.Currency), "clause", sla.ClauseTitle(clause))
		rows = append(rows, activities.RefundRow{
			Key: c.In.CaseID + "/refund/" + clause, Clause: clause, Percent: add, AmountCents: c.Refund.AmountCents - before.AmountCents,
			Reason: detail, At: workflow.Now(ctx),
		})
	}
	return ev, rows
}

// NotifyBreach alerts operations and the partner of a breached clause and the refund owed.
func (c *Case) NotifyBreach(ctx workflow.Context, clause string) {
	text := fmt.Sprintf("Refund owed now %d%% of the order (%s).", c.Refund.Percent, Money(c.Refund.AmountCents, c.In.Currency))
	if pct, _ := sla.ClausePercent(c.In.Service, clause); pct == 0 {
		text = "Recorded on the timeline; this clause carries no compensation."
	}
	c.Notify(ctx, BreachKey(clause), notifications.SeverityCritical, true, c.Label+" "+clause+" clause breached", text)
}

// Re-planning on holiday data that arrives later. A year's schedule is published each November, so a
// clock started late in a year may place its due instant in a year its calendar has no data for, where
// only weekends are off (sla.Clock.PlannedWithout). A worker started with that year's data (a new
// embedded file, or --holiday-files) re-plans such a clock from the start of its run, once: at the watch's
// next wake-up, or at once when the worker signals the case at start (SignalCalendarUpdated), which finds
// the cases by their SlaReplan search attribute.

// SignalCalendarUpdated is the signal a worker sends at start to each running case whose clocks were
// planned without holiday data it has: the case re-plans them at once, rather than at its next wake-up.
const SignalCalendarUpdated = "calendar_updated"

// CalendarUpdate is SignalCalendarUpdated's payload: the holiday data of the worker that sent it, for
// the logs. The case re-plans with the calendars of the worker that runs it.
type CalendarUpdate struct {
	Versions []string `json:"versions,omitempty"`
}

// AttrSLAReplan says which cases' deadlines depend on holiday data that was missing when they were
// computed: ReplanAwaiting values while a running clock waits for a year's data, ReplanDone values once
// a year's data re-planned a clock (kept after the case ends), e.g. SlaReplan = 'replanned:2027'.
var AttrSLAReplan = temporal.NewSearchAttributeKeyKeywordList("SlaReplan")

// ReplanAwaiting is the SlaReplan value of a case with a running clock planned without year's holiday data.
func ReplanAwaiting(year int) string { return fmt.Sprintf("awaiting:%d", year) }

// ReplanDone is the SlaReplan value of a case whose clock year's holiday data re-planned.
func ReplanDone(year int) string { return fmt.Sprintf("replanned:%d", year) }

// ClockReplan is one clock placed again on holiday data that arrived after it was planned (Clocks.Replan).
type ClockReplan struct {
	Index  int    `json:"index"`
	Clause string `json:"clause"`
	// Years are the years whose data arrived; Versions that data ("cn-2027@1a2b3c4d").
	Years    []int    `json:"years"`
	Versions []string `json:"versions,omitempty"`
	// From is the start of the clock's run it was placed from; WasDue and Due its due instant before and after.
	From   time.Time `json:"from"`
	WasDue time.Time `json:"was_due"`
	Due    time.Time `json:"due"`
	// Kept is set for a clock whose breach was raised on the old plan: it keeps the breach (its refund was
	// owed and announced; a manager may waive it) and Due only says when the new data would have had it due.
	Kept bool `json:"kept,omitempty"`
}

// Replan re-plans each running clock planned without holiday data the worker's calendars now have
// (sla.Clock.Replan), inside a side effect so a replay keeps what the first run found, and returns what it
// did. A clock whose breach was raised is not changed (ClockReplan.Kept). With no clock waiting for data
// it does nothing and adds nothing to the history.
func (b *Clocks) Replan(ctx workflow.Context) ([]ClockReplan, error) {
	var waiting []int
	for i, c := range b.Clocks {
		if c.State == sla.ClockRunning && len(c.PlannedWithout) > 0 {
			waiting = append(waiting, i)
		}
	}
	if len(waiting) == 0 {
		return nil, nil
	}
	type replanned struct {
		ClockReplan
		Clock sla.Clock `json:"clock"`
	}
	type result struct {
		Replanned []replanned `json:"replanned,omitempty"`
		Err       string      `json:"err,omitempty"`
	}
	var r result
	err := workflow.SideEffect(ctx, func(workflow.Context) any {
		var out []replanned
		for _, i := range waiting {
			old := b.Clocks[i]
			cal, err := Calendars().Get(old.Calendar) //workflowcheck:ignore
			if err != nil {
				return result{Err: err.Error()}
			}
			c := old
			c.Spans = slices.Clone(old.Spans)
			//workflowcheck:ignore
			years, err := c.Replan(cal)
			if err != nil {
				return result{Err: err.Error()}
			}
			if len(years) == 0 {
				continue
			}
			x := replanned{ClockReplan: ClockReplan{Index: i, Clause: old.Clause, Years: years, From: old.RunFrom, WasDue: old.Due, Due: c.Due,
				Kept: slices.Contains(b.Breached, i)}, Clock: c}
			for _, y := range years {
				if v := cal.HolidayVersion(y); v != "" {
					x.Versions = append(x.Versions, v)
				}
			}
			out = append(out, x)
		}
		return result{Replanned: out}
	}).Get(&r)
	if err != nil {
		return nil, err
	}
	if r.Err != "" {
		return nil, temporal.NewNonRetryableApplicationError(r.Err, "SLAClock", nil)
	}
	var out []ClockReplan
	for _, x := range r.Replanned {
		if x.Kept {
			b.Clocks[x.Index].PlannedWithout = nil // reported once; the breach stands
		} else {
			b.Clocks[x.Index] = x.Clock
		}
		for _, y := range x.Years {
			if !slices.Contains(b.Replanned, y) {
				b.Replanned = append(b.Replanned, y)
			}
		}
		out = append(out, x.ClockReplan)
	}
	slices.Sort(b.Replanned)
	if len(out) > 0 {
		b.rev++
	}
	return out, nil
}

// ReplanValues are the case's SlaReplan values: ReplanAwaiting for each year a running clock was planned
// without (AwaitingYears), then ReplanDone for each year that re-planned one.
func (b *Clocks) ReplanValues() []string {
	var out []string
	for _, y := range b.AwaitingYears() {
		out = append(out, ReplanAwaiting(y))
	}
	for _, y := range b.Replanned {
		out = append(out, ReplanDone(y))
	}
	return out
}

// AwaitingYears are the years, ascending, whose holiday data a running clock was planned without.
func (b *Clocks) AwaitingYears() []int {
	var out []int
	for _, c := range b.Clocks {
		if c.State != sla.ClockRunning {
			continue
		}
		for _, y := range c.PlannedWithout {
			if !slices.Contains(out, y) {
				out = append(out, y)
			}
		}
	}
	slices.Sort(out)
	return out
}

// ReplanClocks re-plans the case's clocks planned without holiday data that has arrived since
// (Clocks.Replan) and records each on the timeline (EventSLAReplanned), telling operations and the
// partner. WatchClocks runs it at every wake-up; SignalCalendarUpdated wakes it.
func (c *Case) ReplanClocks(ctx workflow.Context) {
	rs, err := c.Clocks.Replan(ctx)
	if err != nil {
		c.Logger.Error("re-plan clocks on new holiday data", "Error", err)
		return
	}
	if len(rs) == 0 {
		return
	}
	var events []activities.Event
	for _, r := range rs {
		detail := ReplanDetail(r)
		events = append(events, c.NewEvent(ctx, EventSLAReplanned, ActorSystem, detail))
		c.Notify(ctx, fmt.Sprintf("sla-replanned/%d/%s", r.Index, yearsText(r.Years)), notifications.SeverityInfo, true,
			fmt.Sprintf("%s %s clock re-planned on %s's holiday data", c.Label, r.Clause, yearsText(r.Years)), detail+".")
	}
	if err := c.Record(ctx, events...); err != nil {
		c.Logger.Error("record re-planned clocks", "Error", err)
	}
}

// ReplanDetail says a re-plan in words for the timeline: "response clock planned without 2027's holiday
// data (weekends only); re-planned from 2026-12-31 17:00 CST with cn-2027@1a2b3c4d: due 2027-01-04 17:00
// CST (was 2027-01-01 17:00 CST)".
func ReplanDetail(r ClockReplan) string {
	data := yearsText(r.Years) + "'s schedule"
	if len(r.Versions) > 0 {
		data = strings.Join(r.Versions, ", ")
	}
	head := fmt.Sprintf("%s clock planned without %s's holiday data (weekends only)", r.Clause, yearsText(r.Years))
	if r.Kept {
		return fmt.Sprintf("%s was breached at %s on that plan; with %s it would be due %s: the breach and any refund stand (a manager may waive the refund)",
			head, When(r.WasDue), data, When(r.Due))
	}
	return fmt.Sprintf("%s; re-planned from %s with %s: due %s (was %s)", head, When(r.From), data, When(r.Due), When(r.WasDue))
}

func yearsText(years []int) string {
	s := make([]string, len(years))
	for i, y := range years {
		s[i] = fmt.Sprint(y)
	}
	return strings.Join(s, ", ")
}
