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
}

// Run watches until Done.
func (w Watch) Run(ctx workflow.Context) {
	for !w.Done() {
		release := w.Hold()
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
		var err error
		if !found {
			err = workflow.Await(ctx, changed)
		} else {
			summary := fmt.Sprintf("%s%s clock: breached unless met by %s", w.Label, clause, When(best.At.Add(-sla.Resolution)))
			if best.Kind == sla.EventWarning {
				summary = fmt.Sprintf("%s%s clock: %.0f%% elapsed at %s", w.Label, clause, best.Threshold*100, When(best.At))
			}
			_, err = AwaitFor(ctx, best.At.Sub(now), summary, changed)
		}
		if err != nil {
			return
		}
	}
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
func (c *Case) WatchClocks(ctx workflow.Context) {
	Watch{
		Clocks: &c.Clocks, Done: c.IsClosed, Hold: c.Hold,
		Warn: func(ctx workflow.Context, _ int, clock sla.Clock, th float64) {
			detail := fmt.Sprintf("%s clock %.0f%% elapsed; due %s", clock.Clause, th*100, When(clock.DueAt()))
			if err := c.Record(ctx, c.NewEvent(ctx, EventSLAAtRisk, ActorSystem, detail)); err != nil {
				c.Logger.Error("record warning", "Clause", clock.Clause, "Error", err)
			}
			c.Notify(ctx, fmt.Sprintf("warn/%s@%.0f", clock.Clause, th*100), notifications.SeverityWarning, true,
				fmt.Sprintf("%s %s clock at %.0f%%", c.Label, clock.Clause, th*100), detail)
		},
		Breach: func(ctx workflow.Context, _ int, clock sla.Clock) {
			ev, refunds := c.breach(ctx, clock.Clause, "not met by "+When(clock.DueAt()))
			if err := c.RecordWith(ctx, []activities.Event{ev}, refunds); err != nil {
				c.Logger.Error("record breach", "Clause", clock.Clause, "Error", err)
			}
			c.NotifyBreach(ctx, clock.Clause)
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
	ev.Key = c.In.CaseID + "/breach/" + clause
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
	c.Notify(ctx, "breach/"+clause, notifications.SeverityCritical, true, c.Label+" "+clause+" clause breached", text)
}
