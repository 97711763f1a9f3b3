package workflows

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-oss/steward/sla"
)

// ButlerClocks are a Security Butler case's (or request's) SLA clocks with the warnings and breaches
// already raised, kept in the workflow's state so continue-as-new carries them. Warned and Breached name
// a clock by its index, since a re-targeted clock changes its clause.
type ButlerClocks struct {
	Clocks   []sla.Clock `json:"clocks"`
	Warned   []string    `json:"warned,omitempty"`
	Breached []int       `json:"breached,omitempty"`
}

// index returns the position of the clock of clause, or -1.
func (b *ButlerClocks) index(clause string) int {
	return slices.IndexFunc(b.Clocks, func(c sla.Clock) bool { return c.Clause == clause })
}

// complete stops the clock at i at now and says whether it was met.
func (b *ButlerClocks) complete(i int, now time.Time) string {
	c := &b.Clocks[i]
	if c.State == sla.ClockCompleted {
		return "already stopped"
	}
	at := now
	if last := lastChange(*c); at.Before(last) {
		at = last
	}
	if err := c.Complete(at); err != nil {
		return "not counted (" + err.Error() + ")"
	}
	if c.Status(now) == sla.StatusBreached {
		return "late (due " + c.DueAt().Format(time.RFC3339) + ")"
	}
	return "met (due " + c.DueAt().Format(time.RFC3339) + ")"
}

// forgetWarnings lets the clock at i warn again, after a re-target moved its thresholds.
func (b *ButlerClocks) forgetWarnings(i int) {
	prefix := fmt.Sprintf("%d@", i)
	b.Warned = slices.DeleteFunc(b.Warned, func(k string) bool { return strings.HasPrefix(k, prefix) })
}

// status is the worst status over the clocks at now, and the next due instant of a running clock.
func (b *ButlerClocks) status(now time.Time) (string, *time.Time) {
	return worstStatus(b.Clocks, len(b.Breached) > 0, now)
}

// entries are the clocks as the case view shows them; butler clauses owe no refund (SPEC.md gives none).
func (b *ButlerClocks) entries(now time.Time) []SLAEntry {
	out := []SLAEntry{}
	for _, c := range b.Clocks {
		e := SLAEntry{Clause: c.Clause, CompletedAt: c.CompletedAt, Status: c.Status(now)}
		if due := c.DueAt(); !due.IsZero() {
			e.DueAt = &due
		}
		e.Breached = e.Status == sla.StatusBreached
		out = append(out, e)
	}
	return out
}

// clockWatch turns a ButlerClocks' warning and due instants into calls of warn and breach, once each.
type clockWatch struct {
	book    *ButlerClocks
	rev     *int        // bumped by whoever changes the clocks, to re-plan the timer
	done    func() bool // the watch ends
	pending *int        // held while a warning or breach is handled
	warn    func(ctx workflow.Context, c sla.Clock, threshold float64)
	breach  func(ctx workflow.Context, c sla.Clock)
	label   string
	// await waits for a condition with a timer (caseCore.awaitFor); nil takes the SDK's timed Await.
	await func(ctx workflow.Context, d time.Duration, summary string, cond func() bool) (bool, error)
}

func (w clockWatch) run(ctx workflow.Context) {
	for !w.done() {
		*w.pending++
		w.evaluate(ctx, workflow.Now(ctx))
		*w.pending--
		now := workflow.Now(ctx)
		rev := *w.rev
		changed := func() bool { return w.done() || *w.rev != rev }
		var best sla.Event
		var clause string
		found := false
		for _, c := range w.book.Clocks {
			if e, ok := c.NextEvent(now); ok && (!found || e.At.Before(best.At)) {
				best, clause, found = e, c.Clause, true
			}
		}
		var err error
		if !found {
			err = workflow.Await(ctx, changed)
		} else {
			summary := fmt.Sprintf("%s%s clock: due", w.label, clause)
			if best.Kind == sla.EventWarning {
				summary = fmt.Sprintf("%s%s clock: %.0f%% warning", w.label, clause, best.Threshold*100)
			}
			if w.await != nil {
				_, err = w.await(ctx, best.At.Sub(now), summary, changed)
			} else {
				_, err = workflow.AwaitWithOptions(ctx, workflow.AwaitOptions{
					Timeout: best.At.Sub(now), TimerOptions: workflow.TimerOptions{Summary: summary},
				}, changed)
			}
		}
		if err != nil {
			return
		}
	}
}

func (w clockWatch) evaluate(ctx workflow.Context, now time.Time) {
	for i := range w.book.Clocks {
		c := w.book.Clocks[i]
		if c.State != sla.ClockRunning {
			continue
		}
		if c.Status(now) == sla.StatusBreached {
			if !slices.Contains(w.book.Breached, i) {
				w.book.Breached = append(w.book.Breached, i)
				*w.rev++
				w.breach(ctx, c)
			}
			continue
		}
		elapsed := c.Target - c.Remaining(now)
		for _, th := range c.Thresholds {
			if w.book.Clocks[i].State != sla.ClockRunning {
				break
			}
			key := fmt.Sprintf("%d@%.0f", i, th*100)
			if slices.Contains(w.book.Warned, key) || elapsed < time.Duration(math.Round(th*float64(c.Target))) {
				continue
			}
			w.book.Warned = append(w.book.Warned, key)
			w.warn(ctx, c, th)
		}
	}
}

// retargetClock moves a clock to another butler clause (urgency or severity changed), carrying the time
// elapsed so far; if it already covers the new target the clause is breached at now. A stopped clock is
// judged again against the new target: a response that took longer than the new target is late.
// The arithmetic runs in a side effect, like startClock, so replays keep the first answer.
func retargetClock(ctx workflow.Context, c sla.Clock, clause string, now time.Time) (sla.Clock, error) {
	type result struct {
		Clock sla.Clock `json:"clock"`
		Err   string    `json:"err,omitempty"`
	}
	var r result
	err := workflow.SideEffect(ctx, func(workflow.Context) any {
		cl, err := sla.LookupClause(ServiceButler, clause)
		if err != nil {
			return result{Err: err.Error()}
		}
		cal, err := Calendars().Get(c.Calendar)
		if err != nil {
			return result{Err: err.Error()}
		}
		out := c
		out.Spans = slices.Clone(c.Spans)
		if out.State == sla.ClockCompleted {
			// The clock has stopped: only its verdict changes. Its due instant is the new target counted
			// from the start (butler request clocks count natural time and never pause).
			due, err := cal.Add(out.StartedAt, cl.Target)
			if err != nil {
				return result{Err: err.Error()}
			}
			out.Target, out.Due = cl.Target, due
			if out.Counted > cl.Target && out.BreachedAt == nil {
				at := now
				out.BreachedAt = &at
			}
		} else if err := out.Retarget(cal, now, cl.Target); err != nil {
			return result{Err: err.Error()}
		}
		out.Clause = clause
		return result{Clock: out}
	}).Get(&r)
	if err != nil {
		return sla.Clock{}, err
	}
	if r.Err != "" {
		return sla.Clock{}, temporal.NewNonRetryableApplicationError(r.Err, "SLAClock", nil)
	}
	return r.Clock, nil
}
