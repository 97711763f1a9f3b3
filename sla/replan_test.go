package sla

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// test2027 is a 2027 schedule made up for the tests (the State Council had not published 2027's when
// they were written): New Year's Day off Friday to Sunday, and Saturday 2027-01-30 a make-up working day.
const test2027 = "region: cn\nyear: 2027\noff:\n  - {name: 元旦 New Year, from: 2027-01-01, to: 2027-01-03}\nwork: [2027-01-30]\n"

// calendarsWith2027 are the built-in calendars plus the test's 2027 schedule, as a worker started with
// --holiday-files builds them.
func calendarsWith2027(t *testing.T, data string) *Calendars {
	t.Helper()
	p := filepath.Join(t.TempDir(), "cn-2027.yaml")
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	cs, err := NewCalendars(Config{HolidayFiles: []string{p}})
	if err != nil {
		t.Fatalf("NewCalendars(%s) error: %v", p, err)
	}
	return cs
}

// TestReplan: a clock planned into a year without data lists the year; with the year's schedule loaded
// it is placed again from its start, once, across the new holidays (later) or make-up days (earlier).
func TestReplan(t *testing.T) {
	before := mustCal(t, Calendar5x8)
	after, err := calendarsWith2027(t, test2027).Get(Calendar5x8)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name          string
		start         time.Time
		oldDue, due   time.Time
		plannedBefore []int
	}{
		// 1 working day from Thursday 17:00: Friday 2027-01-01 counted as a working day without the data;
		// with it, New Year's Day to Sunday are off and the day ends on Monday.
		{"holiday moves it later", at("2026-12-31 17:00"), at("2027-01-01 17:00"), at("2027-01-04 17:00"), []int{2027}},
		// From Friday 17:00: Monday without the data; the make-up Saturday with it.
		{"make-up day moves it earlier", at("2027-01-29 17:00"), at("2027-02-01 17:00"), at("2027-01-30 17:00"), []int{2027}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustStart(t, before, WorkingDay, tt.start)
			if !c.DueAt().Equal(tt.oldDue) || !slices.Equal(c.PlannedWithout, tt.plannedBefore) {
				t.Fatalf("StartClock(%v) = due %v, planned without %v; want %v, %v", tt.start, c.DueAt().In(shanghai), c.PlannedWithout, tt.oldDue, tt.plannedBefore)
			}
			years, err := c.Replan(after)
			if err != nil || !slices.Equal(years, []int{2027}) {
				t.Fatalf("Replan = %v, %v; want [2027]", years, err)
			}
			if !c.DueAt().Equal(tt.due) || c.PlannedWithout != nil || !c.StartedAt.Equal(tt.start) || !c.RunFrom.Equal(tt.start) {
				t.Errorf("after Replan: due %v, planned without %v, run from %v; want %v, none, %v", c.DueAt().In(shanghai), c.PlannedWithout, c.RunFrom, tt.due, tt.start)
			}
			if got, _ := after.Add(tt.start, WorkingDay); !got.Equal(c.DueAt()) {
				t.Errorf("re-planned due %v differs from a clock started with the data, %v", c.DueAt(), got)
			}
			if years, _ := c.Replan(after); years != nil {
				t.Errorf("second Replan = %v; want nothing (once)", years)
			}
		})
	}

	t.Run("without the data: left alone", func(t *testing.T) {
		c := mustStart(t, before, WorkingDay, at("2026-12-31 17:00"))
		if years, err := c.Replan(before); years != nil || err != nil || !c.DueAt().Equal(at("2027-01-01 17:00")) {
			t.Errorf("Replan on the same data = %v, %v, due %v; want nothing", years, err, c.DueAt())
		}
	})
	t.Run("planned with the data: nothing to do", func(t *testing.T) {
		c := mustStart(t, before, WorkingDay, at("2026-12-30 10:00"))
		if c.PlannedWithout != nil {
			t.Errorf("a clock due inside 2026 lists %v", c.PlannedWithout)
		}
		c7 := mustStart(t, mustCal(t, Calendar7x24), 30*Day, at("2026-12-30 10:00"))
		if c7.PlannedWithout != nil {
			t.Errorf("a natural-time clock lists %v", c7.PlannedWithout)
		}
	})
	t.Run("paused, completed: not running", func(t *testing.T) {
		c := mustStart(t, before, WorkingDay, at("2026-12-31 17:00"))
		if err := c.Pause(at("2026-12-31 17:30")); err != nil {
			t.Fatal(err)
		}
		if years, _ := c.Replan(after); years != nil || c.PlannedWithout != nil {
			t.Errorf("paused: Replan = %v, planned without %v; want nothing", years, c.PlannedWithout)
		}
		if err := c.Resume(after, at("2027-01-04 09:00")); err != nil {
			t.Fatal(err)
		}
		if c.PlannedWithout != nil {
			t.Errorf("resumed with the data: planned without %v", c.PlannedWithout)
		}
		d := mustStart(t, before, WorkingDay, at("2026-12-31 17:00"))
		_ = d.Complete(at("2026-12-31 17:10"))
		if years, _ := d.Replan(after); years != nil {
			t.Errorf("completed: Replan = %v; want nothing", years)
		}
	})
	t.Run("another calendar", func(t *testing.T) {
		c := mustStart(t, before, WorkingDay, at("2026-12-31 17:00"))
		if _, err := c.Replan(mustCal(t, Calendar7x24)); err == nil {
			t.Error("Replan in another calendar: no error")
		}
	})
}

// TestHolidayVersions: each year's data has a fingerprint of its days, whatever the file's wording.
func TestHolidayVersions(t *testing.T) {
	cs := testCalendars(t)
	vs := cs.HolidayVersions()
	if len(vs) != 3 || vs[0][:8] != "cn-2024@" || vs[2][:8] != "cn-2026@" {
		t.Errorf("HolidayVersions() = %v; want cn-2024@…, cn-2025@…, cn-2026@…", vs)
	}
	c5, _ := cs.Get(Calendar5x8)
	if v := c5.HolidayVersion(2027); v != "" {
		t.Errorf("HolidayVersion(2027) = %q without data; want \"\"", v)
	}
	c7, _ := cs.Get(Calendar7x24)
	if v := c7.HolidayVersion(2026); v != "" {
		t.Errorf("7x24 HolidayVersion(2026) = %q; want \"\"", v)
	}
	version := func(data string) string {
		c, err := calendarsWith2027(t, data).Get(Calendar5x8)
		if err != nil {
			t.Fatal(err)
		}
		return c.HolidayVersion(2027)
	}
	v1 := version(test2027)
	reworded := "# the same days, written otherwise\nregion: cn\nyear: 2027\nwork: [2027-01-30]\noff:\n  - {name: New Year, from: 2027-01-01, to: 2027-01-03}\n"
	if v2 := version(reworded); v2 != v1 || len(v1) != len("cn-2027@")+8 {
		t.Errorf("HolidayVersion(2027) = %q and %q for the same days; want one 8-digit fingerprint", v1, v2)
	}
	if v3 := version("region: cn\nyear: 2027\noff:\n  - {name: 元旦, from: 2027-01-01, to: 2027-01-02}\nwork: [2027-01-30]\n"); v3 == v1 {
		t.Errorf("HolidayVersion(2027) = %q for a schedule with a day less; want a different fingerprint", v3)
	}
}

func TestNextWorkday(t *testing.T) {
	c5, c7 := mustCal(t, Calendar5x8), mustCal(t, Calendar7x24)
	tests := []struct {
		cal  *Calendar
		from time.Time
		want string
	}{
		{c5, at("2026-03-04 23:00"), "2026-03-05"}, // Wednesday → Thursday
		{c5, at("2026-03-06 08:00"), "2026-03-09"}, // Friday → Monday
		{c5, at("2026-03-07 12:00"), "2026-03-09"}, // Saturday → Monday
		{c5, at("2026-09-30 12:00"), "2026-10-08"}, // the eve of National Day → after it
		{c5, at("2026-10-09 12:00"), "2026-10-10"}, // Friday → the make-up Saturday
		{c7, at("2026-10-01 12:00"), "2026-10-02"},
	}
	for _, tt := range tests {
		got := tt.cal.NextWorkday(tt.from)
		if d := got.In(shanghai).Format(time.DateOnly); d != tt.want || got.In(shanghai).Hour() != 0 && tt.cal == c5 {
			t.Errorf("%s NextWorkday(%v) = %v; want %s 00:00", tt.cal.Name(), tt.from, got.In(shanghai), tt.want)
		}
	}
}

func TestInspectionCheck(t *testing.T) {
	cs := testCalendars(t)
	tests := []struct {
		day, workday string
		at           time.Time
	}{
		{"2026-03-05", "2026-03-06", at("2026-03-06 10:00")},
		{"2026-03-06", "2026-03-09", at("2026-03-09 10:00")}, // Friday's on Monday
		{"2026-03-08", "2026-03-09", at("2026-03-09 10:00")}, // Sunday's too
		{"2026-09-30", "2026-10-08", at("2026-10-08 10:00")}, // across National Day
		{"2026-10-09", "2026-10-10", at("2026-10-10 10:00")}, // the make-up Saturday is a working day
		{"2027-01-01", "2027-01-04", at("2027-01-04 10:00")}, // no 2027 data: weekends only
	}
	for _, tt := range tests {
		got, workday, err := InspectionCheck(cs, tt.day)
		if err != nil || !got.Equal(tt.at) || workday != tt.workday {
			t.Errorf("InspectionCheck(%s) = %v, %s, %v; want %v, %s", tt.day, got.In(shanghai), workday, err, tt.at, tt.workday)
		}
	}
	if _, _, err := InspectionCheck(cs, "2026-3-5"); err == nil {
		t.Error("InspectionCheck(2026-3-5): no error")
	}
}

func TestButlerRules(t *testing.T) {
	for _, tt := range []struct {
		edition       string
		daily, report bool
	}{
		{EditionEmergency, false, false}, {EditionEscort, true, true}, {EditionEnterprise, true, true}, {EditionProfessional, true, true},
	} {
		if got := DailyInspections(tt.edition); got != tt.daily {
			t.Errorf("DailyInspections(%s) = %t; want %t", tt.edition, got, tt.daily)
		}
		if got := OwesTermReport(tt.edition); got != tt.report {
			t.Errorf("OwesTermReport(%s) = %t; want %t", tt.edition, got, tt.report)
		}
	}
	cs := testCalendars(t)
	for _, tt := range []struct{ end, want time.Time }{
		{at("2026-03-03 10:00"), at("2026-03-10 10:00")}, // Tuesday to Tuesday
		// Saturday in the National Day holiday: 10-08, 10-09, the make-up 10-10, 10-12 and 10-13.
		{at("2026-10-03 10:00"), at("2026-10-13 18:00")},
	} {
		if got, err := TermReportDeadline.From(cs, tt.end); err != nil || !got.Equal(tt.want) {
			t.Errorf("TermReportDeadline.From(%v) = %v, %v; want %v", tt.end, got.In(shanghai), err, tt.want)
		}
	}
}
