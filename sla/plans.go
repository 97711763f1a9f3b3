package sla

import (
	"fmt"
	"slices"
	"time"
)

// What a partner owes after accepting before the work can begin: an engagement's schedule, an escort's
// protection plan. SPEC.md promises neither by a date; steward's rule is a deadline in working days from
// acceptance, after which operations and the partner are alerted (the case goes on waiting).

// Deadline is a rule "within Within of Calendar's business time from the instant it counts from".
type Deadline struct {
	Calendar string        `json:"calendar"`
	Within   time.Duration `json:"within"`
}

// ScheduleDeadline is when an engagement's schedule is due: 5 working days (WorkingDay, 5x8) after the
// partner accepted.
var ScheduleDeadline = Deadline{Calendar: Calendar5x8, Within: 5 * WorkingDay}

// EscortPlanDeadline is when an escort's protection plan is due: 2 working days (WorkingDay, 5x8) after
// the partner accepted. Shorter than an engagement's schedule: an escort is bought for a dated event,
// usually close to it, and the plan's checks must be in place before its first covered day.
var EscortPlanDeadline = Deadline{Calendar: Calendar5x8, Within: 2 * WorkingDay}

// From is the deadline counted from t in cs's calendar: a working day is 8 business hours, so accepted
// Monday 10:00, 5 working days are due the next Monday 10:00.
func (d Deadline) From(cs *Calendars, t time.Time) (time.Time, error) {
	cal, err := cs.Get(d.Calendar)
	if err != nil {
		return time.Time{}, err
	}
	return cal.Add(t, d.Within)
}

// String says the deadline in words: "5 working days" (of the 5x8 calendar), or the duration and the
// calendar.
func (d Deadline) String() string {
	if d.Calendar == Calendar5x8 && d.Within%WorkingDay == 0 {
		if n := d.Within / WorkingDay; n != 1 {
			return fmt.Sprintf("%d working days", n)
		}
		return "1 working day"
	}
	return fmt.Sprintf("%v of %s time", d.Within, d.Calendar)
}

// EscortCover is the covered days (YYYY-MM-DD, China, ascending) of an escort plan or a revision of it:
// the order bought quantity days; current are the days the plan in force covers (none for the first
// plan), today is China's date now. The plan gives either startsOn — the days still to place, consecutive
// from it — or days, the whole list after the revision. A revision may reschedule, extend (up to the
// days bought) or split the covered days, but a covered day that has begun (today or earlier, checked in
// or not) stays as it is: it must be listed, and startsOn places the others after it. A new day is
// today at the earliest and at most a year ahead (startsOn: the first of them).
//
// Malformed or impossible dates are ErrInvalid; a plan the order or the begun days refuse is ErrRefused.
func EscortCover(quantity int, current []string, today, startsOn string, days []string) ([]string, error) {
	if (startsOn == "") == (len(days) == 0) {
		return nil, fmt.Errorf("%w: give starts_on or days, not both", ErrInvalid)
	}
	first, err := EscortDayStart(today)
	if err != nil {
		return nil, err
	}
	latest := ChinaDate(first.AddDate(1, 0, 0))
	var begun []string
	for _, d := range current {
		if d <= today {
			begun = append(begun, d)
		}
	}
	check := func(field, d string) error {
		if _, err := EscortDayStart(d); err != nil {
			return fmt.Errorf("%w: %s: %q is not a date (YYYY-MM-DD)", ErrInvalid, field, d)
		}
		switch {
		case slices.Contains(begun, d):
			return nil
		case d < today:
			return fmt.Errorf("%w: %s: %s is in the past (today is %s in China)", ErrInvalid, field, d, today)
		case d > latest:
			return fmt.Errorf("%w: %s: %s is more than a year ahead", ErrInvalid, field, d)
		}
		return nil
	}
	var out []string
	if startsOn != "" {
		if err := check("starts_on", startsOn); err != nil {
			return nil, err
		}
		if n := len(begun); n > 0 && startsOn <= begun[n-1] {
			return nil, fmt.Errorf("%w: starts_on: %s has begun and stays covered; the days still to place start after it", ErrRefused, begun[n-1])
		}
		left := quantity - len(begun)
		if left <= 0 {
			return nil, fmt.Errorf("%w: all %d days bought have begun; none is left to place", ErrRefused, quantity)
		}
		start, _ := EscortDayStart(startsOn)
		out = slices.Clone(begun)
		for i := range left {
			out = append(out, ChinaDate(start.AddDate(0, 0, i)))
		}
		return out, nil
	}
	for i, d := range days {
		field := fmt.Sprintf("days[%d]", i)
		if err := check(field, d); err != nil {
			return nil, err
		}
		if slices.Contains(out, d) {
			return nil, fmt.Errorf("%w: %s: %s is listed twice", ErrInvalid, field, d)
		}
		out = append(out, d)
	}
	slices.Sort(out)
	if len(out) > quantity {
		return nil, fmt.Errorf("%w: days: %d covered days; the order bought %d", ErrRefused, len(out), quantity)
	}
	for _, d := range begun {
		if !slices.Contains(out, d) {
			return nil, fmt.Errorf("%w: days: %s has begun and cannot move; list it", ErrRefused, d)
		}
	}
	return out, nil
}
