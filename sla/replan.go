package sla

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Holiday data arrives a year at a time (each November, for the next year), so a clock started in
// December may place its due instant in a year its calendar has no data for yet, where only weekends are
// off. Such a clock lists those years (Clock.PlannedWithout); once a worker runs with the year's schedule
// the clock is placed again from the start of its run (Clock.Replan), once. Each year's data has a
// fingerprint, so the workers of a task queue can be seen to load the same data and a re-planned clock
// names the data it now counts with.

// fingerprint is a short digest of a year file's days, off or working: the same schedule gives the same
// fingerprint however the file is written (names, comments, order).
func fingerprint(days map[day]bool) string {
	var b strings.Builder
	for _, d := range slices.Sorted(maps.Keys(days)) {
		kind := "work"
		if days[d] {
			kind = "off"
		}
		fmt.Fprintf(&b, "%s %s\n", d, kind)
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:4])
}

// Fingerprint is 8 hex digits of a digest of the days the region's file for year lists, or "" when the
// year has no data.
func (h *Holidays) Fingerprint(year int) string { return h.prints[year] }

// HolidayVersion names the holiday data the calendar counts year with, "cn-2027@1a2b3c4d" (region, year,
// Fingerprint), or "" for a calendar without holidays or a year without data.
func (c *Calendar) HolidayVersion(year int) string {
	if c.holidays == nil {
		return ""
	}
	fp := c.holidays.Fingerprint(year)
	if fp == "" {
		return ""
	}
	return fmt.Sprintf("%s-%d@%s", c.holidays.region, year, fp)
}

// HolidayVersions lists the holiday data every calendar counts with, one entry per region and year
// (HolidayVersion), sorted: what a worker logs at start, so that workers loading different data show.
func (cs *Calendars) HolidayVersions() []string {
	var out []string
	for _, n := range cs.names {
		c := cs.byName[n]
		if c.holidays == nil {
			continue
		}
		for _, y := range c.holidays.years {
			if v := c.HolidayVersion(y); !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
	}
	slices.Sort(out)
	return out
}

// Replan places a running clock's due instant again in cal, the clock's calendar, when cal has holiday
// data for a year the clock was planned without (PlannedWithout): from the start of its current run
// (its start, unless it was paused or re-targeted since), with the time that run had to count, as if
// the data had been there from the first. It returns those years, ascending; with none, or for a clock
// not running, it returns nil and leaves the clock as it is. Warnings and a due instant may move either
// way: a holiday moves them later, a make-up working day (调休) earlier, even into the past. Time counted
// before the current run stays counted.
func (c *Clock) Replan(cal *Calendar) ([]int, error) {
	if c.State != ClockRunning || len(c.PlannedWithout) == 0 {
		return nil, nil
	}
	if cal.Name() != c.Calendar {
		return nil, fmt.Errorf("%w: clock %s counts in calendar %s, not %s", ErrInvalid, c.Clause, c.Calendar, cal.Name())
	}
	var gained []int
	for _, y := range c.PlannedWithout {
		if len(cal.MissingYears(y, y)) == 0 {
			gained = append(gained, y)
		}
	}
	if len(gained) == 0 {
		return nil, nil
	}
	if err := c.run(cal, c.RunFrom); err != nil {
		return nil, err
	}
	return gained, nil
}

// NextWorkday is the first working day after t's date in the calendar's zone, as midnight of that day
// there: the next day for natural time. It returns the zero time only if no working day lies within ten
// years, which a valid configuration rules out.
func (c *Calendar) NextWorkday(t time.Time) time.Time {
	date := c.civil(t)
	for range maxWalkDays {
		date = date.AddDate(0, 0, 1)
		if c.natural || c.biz.IsWorkday(date) {
			return c.at(date, 0)
		}
	}
	return time.Time{}
}
