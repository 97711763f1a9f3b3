package sla

import (
	"math/rand"
	"testing"
	"testing/quick"
	"time"
)

// Properties over random instants from 2023 to 2027 (covering years with and without holiday data) and
// random durations up to 300 hours, at nanosecond resolution. quick uses a fixed seed, so plain
// `go test` is fast and repeatable; the fuzz targets explore further with `go test -fuzz`.

var (
	propBase = time.Date(2023, 12, 1, 0, 0, 0, 0, shanghai)
	propSpan = int64(4 * 365 * 24 * time.Hour)
	propMaxD = int64(300 * time.Hour)
)

func propInstant(x int64) time.Time { return propBase.Add(time.Duration(uint64(x) % uint64(propSpan))) }
func propDuration(x int64) time.Duration {
	return time.Duration(uint64(x) % uint64(propMaxD))
}

func quickConfig() *quick.Config {
	return &quick.Config{MaxCount: 400, Rand: rand.New(rand.NewSource(20251001))}
}

func propCalendars(t testing.TB) []*Calendar {
	cs := testCalendars(t)
	c5, _ := cs.Get(Calendar5x8)
	c7, _ := cs.Get(Calendar7x24)
	return []*Calendar{c5, c7}
}

// checkAddBetween: adding d then measuring gives d back, and the result is never before the start.
func checkAddBetween(t testing.TB, c *Calendar, start time.Time, d time.Duration) bool {
	got, err := c.Add(start, d)
	if err != nil {
		t.Errorf("%s: Add(%v, %v) error: %v", c.Name(), start, d, err)
		return false
	}
	if back := c.Between(start, got); back != d || got.Before(start) {
		t.Errorf("%s: Between(%v, Add(%v, %v) = %v) = %v; want %v", c.Name(), start, start, d, got, back, d)
		return false
	}
	return true
}

// checkMonotonic: due_at never moves earlier as d grows.
func checkMonotonic(t testing.TB, c *Calendar, start time.Time, d1, d2 time.Duration) bool {
	if d1 > d2 {
		d1, d2 = d2, d1
	}
	a1, err1 := c.Add(start, d1)
	a2, err2 := c.Add(start, d2)
	if err1 != nil || err2 != nil || a2.Before(a1) {
		t.Errorf("%s: Add(%v, %v) = %v, Add(%v, %v) = %v (%v, %v); want non-decreasing", c.Name(), start, d1, a1, start, d2, a2, err1, err2)
		return false
	}
	return true
}

// checkPause: a pause moves due_at by exactly the clock time between pause and resume, and the clock
// time counted plus the time remaining is always the target.
func checkPause(t testing.TB, c *Calendar, start time.Time, target, pauseAfter, pauseFor time.Duration) bool {
	target = max(target, time.Nanosecond)
	clk, err := StartClock(c, "p", target, start)
	if err != nil {
		t.Errorf("%s: StartClock(%v, %v) error: %v", c.Name(), target, start, err)
		return false
	}
	due0 := clk.DueAt()
	pause := start.Add(pauseAfter % (due0.Sub(start) + 1)) // pause at or before the due instant
	resume := pause.Add(pauseFor)
	if err := clk.Pause(pause); err != nil {
		t.Errorf("Pause(%v): %v", pause, err)
		return false
	}
	if clk.Counted+clk.Remaining(resume) != target {
		t.Errorf("%s: paused Counted %v + Remaining %v != target %v", c.Name(), clk.Counted, clk.Remaining(resume), target)
		return false
	}
	if err := clk.Resume(c, resume); err != nil {
		t.Errorf("Resume(%v): %v", resume, err)
		return false
	}
	moved, paused := c.Between(due0, clk.DueAt()), c.Between(pause, resume)
	if clk.BreachedAt == nil && moved != paused {
		t.Errorf("%s: target %v from %v, paused %v..%v: due moved by %v; want %v", c.Name(), target, start, pause, resume, moved, paused)
		return false
	}
	if clk.DueAt().Before(due0) {
		t.Errorf("%s: due moved earlier after a pause: %v < %v", c.Name(), clk.DueAt(), due0)
		return false
	}
	return true
}

func TestPropertyAddBetween(t *testing.T) {
	for _, c := range propCalendars(t) {
		f := func(s, d int64) bool { return checkAddBetween(t, c, propInstant(s), propDuration(d)) }
		if err := quick.Check(f, quickConfig()); err != nil {
			t.Errorf("%s: %v", c.Name(), err)
		}
	}
}

func TestPropertyMonotonic(t *testing.T) {
	for _, c := range propCalendars(t) {
		f := func(s, d1, d2 int64) bool {
			return checkMonotonic(t, c, propInstant(s), propDuration(d1), propDuration(d2))
		}
		if err := quick.Check(f, quickConfig()); err != nil {
			t.Errorf("%s: %v", c.Name(), err)
		}
	}
}

func TestPropertyPause(t *testing.T) {
	for _, c := range propCalendars(t) {
		f := func(s, target, after, pauseFor int64) bool {
			return checkPause(t, c, propInstant(s), propDuration(target), time.Duration(uint64(after)>>1), propDuration(pauseFor))
		}
		if err := quick.Check(f, quickConfig()); err != nil {
			t.Errorf("%s: %v", c.Name(), err)
		}
	}
}

// fuzzSeeds are instants and durations around the hard cases: lunch, evening, holidays, make-up days.
var fuzzSeeds = []struct{ start time.Time }{
	{at("2025-09-30 17:50")}, {at("2025-06-10 11:50")}, {at("2026-02-13 17:59")},
	{at("2026-02-27 18:00")}, {at("2023-12-29 17:50")}, {at("2027-09-30 12:00")},
}

func FuzzAddBetween(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(int64(s.start.Sub(propBase)), int64(20*time.Minute), int64(time.Hour))
	}
	cals := propCalendars(f)
	f.Fuzz(func(t *testing.T, s, d1, d2 int64) {
		for _, c := range cals {
			start := propInstant(s)
			checkAddBetween(t, c, start, propDuration(d1))
			checkMonotonic(t, c, start, propDuration(d1), propDuration(d2))
		}
	})
}

func FuzzPause(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(int64(s.start.Sub(propBase)), int64(8*time.Hour), int64(5*time.Minute), int64(3*Day))
	}
	cals := propCalendars(f)
	f.Fuzz(func(t *testing.T, s, target, after, pauseFor int64) {
		for _, c := range cals {
			checkPause(t, c, propInstant(s), propDuration(target), time.Duration(uint64(after)>>1), propDuration(pauseFor))
		}
	})
}
