package sla

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

var shanghai = mustZone("Asia/Shanghai")

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// at is a Shanghai wall-clock instant, "2006-01-02 15:04".
func at(s string) time.Time {
	layout := "2006-01-02 15:04"
	if len(s) > len(layout) {
		layout = "2006-01-02 15:04:05.000"
	}
	t, err := time.ParseInLocation(layout, s, shanghai)
	if err != nil {
		panic(err)
	}
	return t
}

func testCalendars(t testing.TB) *Calendars {
	t.Helper()
	cs, err := NewCalendars(Config{})
	if err != nil {
		t.Fatalf("NewCalendars(Config{}) error: %v", err)
	}
	return cs
}

func mustCal(t testing.TB, name string) *Calendar {
	t.Helper()
	c, err := testCalendars(t).Get(name)
	if err != nil {
		t.Fatalf("Get(%q) error: %v", name, err)
	}
	return c
}

// TestAdd5x8 holds SPEC.md's 20 business minutes (SOS response) across lunch, evenings, weekends and
// the 2025 National Day and 2026 Spring Festival holidays with their make-up working days.
func TestAdd5x8(t *testing.T) {
	c := mustCal(t, Calendar5x8)
	tests := []struct {
		name  string
		start string
		d     time.Duration
		want  string
	}{
		{"inside the morning", "2025-06-10 10:00", 20 * time.Minute, "2025-06-10 10:20"},
		{"ends exactly at lunch", "2025-06-10 11:40", 20 * time.Minute, "2025-06-10 12:00"},
		{"across lunch", "2025-06-10 11:50", 20 * time.Minute, "2025-06-10 13:10"},
		{"during lunch", "2025-06-10 12:30", 20 * time.Minute, "2025-06-10 13:20"},
		{"before opening", "2025-06-10 07:00", 20 * time.Minute, "2025-06-10 09:20"},
		{"across the evening", "2025-06-10 17:50", 20 * time.Minute, "2025-06-11 09:10"},
		{"after closing", "2025-06-10 21:00", 20 * time.Minute, "2025-06-11 09:20"},
		{"across a weekend", "2025-06-13 17:50", 20 * time.Minute, "2025-06-16 09:10"},
		{"paid on a Saturday", "2025-06-14 10:00", 20 * time.Minute, "2025-06-16 09:20"},
		{"zero duration stays put", "2025-06-14 10:00", 0, "2025-06-14 10:00"},
		{"one working day", "2025-06-10 10:00", WorkingDay, "2025-06-11 10:00"},
		// National Day 2025: 10-01..10-08 off; Sunday 09-28 and Saturday 10-11 are working days.
		{"make-up Sunday 2025-09-28", "2025-09-27 10:00", 20 * time.Minute, "2025-09-28 09:20"},
		{"into National Day 2025", "2025-09-30 17:50", 20 * time.Minute, "2025-10-09 09:10"},
		{"paid during National Day 2025", "2025-10-03 10:00", 20 * time.Minute, "2025-10-09 09:20"},
		{"last holiday day 2025-10-08", "2025-10-08 17:00", 20 * time.Minute, "2025-10-09 09:20"},
		{"make-up Saturday 2025-10-11", "2025-10-10 17:50", 20 * time.Minute, "2025-10-11 09:10"},
		{"Sunday after make-up Saturday", "2025-10-11 17:50", 20 * time.Minute, "2025-10-13 09:10"},
		// Spring Festival 2026: 02-15..02-23 off; Saturdays 02-14 and 02-28 are working days.
		{"make-up Saturday 2026-02-14", "2026-02-13 17:50", 20 * time.Minute, "2026-02-14 09:10"},
		{"into Spring Festival 2026", "2026-02-14 17:50", 20 * time.Minute, "2026-02-24 09:10"},
		{"paid during Spring Festival 2026", "2026-02-18 10:00", 20 * time.Minute, "2026-02-24 09:20"},
		{"make-up Saturday 2026-02-28", "2026-02-27 17:50", 20 * time.Minute, "2026-02-28 09:10"},
		{"2024 New Year from 2023-12-31", "2023-12-29 17:50", 20 * time.Minute, "2024-01-02 09:10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Add(at(tt.start), tt.d)
			if err != nil {
				t.Fatalf("Add(%v, %v) error: %v", tt.start, tt.d, err)
			}
			if want := at(tt.want); !got.Equal(want) {
				t.Errorf("Add(%v, %v) = %v; want %v", tt.start, tt.d, got.In(shanghai), want)
			}
			if got := c.Between(at(tt.start), at(tt.want)); got != tt.d {
				t.Errorf("Between(%v, %v) = %v; want %v", tt.start, tt.want, got, tt.d)
			}
		})
	}
}

// TestAdd7x24 holds the Security Butler targets, counted in natural time through nights and holidays.
func TestAdd7x24(t *testing.T) {
	c := mustCal(t, Calendar7x24)
	tests := []struct {
		name  string
		start string
		d     time.Duration
		want  string
	}{
		{"urgent 15 min at midnight", "2025-10-01 23:50", 15 * time.Minute, "2025-10-02 00:05"},
		{"non-urgent 1 h on a holiday", "2026-02-17 03:30", time.Hour, "2026-02-17 04:30"},
		{"low 4 h across a weekend night", "2025-06-14 22:00", 4 * time.Hour, "2025-06-15 02:00"},
		{"SOS handling 3 days", "2025-09-30 17:00", 3 * Day, "2025-10-03 17:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Add(at(tt.start), tt.d)
			if err != nil {
				t.Fatalf("Add(%v, %v) error: %v", tt.start, tt.d, err)
			}
			if want := at(tt.want); !got.Equal(want) {
				t.Errorf("Add(%v, %v) = %v; want %v", tt.start, tt.d, got, want)
			}
			if !c.IsWorking(at(tt.start)) {
				t.Errorf("IsWorking(%v) = false; want true", tt.start)
			}
		})
	}
}

func TestIsWorkingAndNextWorking(t *testing.T) {
	c := mustCal(t, Calendar5x8)
	tests := []struct {
		t       string
		working bool
		next    string
	}{
		{"2025-06-10 09:00", true, "2025-06-10 09:00"},
		{"2025-06-10 11:59", true, "2025-06-10 11:59"},
		{"2025-06-10 12:00", false, "2025-06-10 13:00"},
		{"2025-06-10 17:59", true, "2025-06-10 17:59"},
		{"2025-06-10 18:00", false, "2025-06-11 09:00"},
		{"2025-06-14 10:00", false, "2025-06-16 09:00"}, // Saturday
		{"2025-09-28 10:00", true, "2025-09-28 10:00"},  // make-up Sunday
		{"2025-10-01 10:00", false, "2025-10-09 09:00"}, // National Day
		{"2025-10-11 10:00", true, "2025-10-11 10:00"},  // make-up Saturday
		{"2026-02-14 10:00", true, "2026-02-14 10:00"},  // make-up Saturday
		{"2026-02-23 10:00", false, "2026-02-24 09:00"}, // last day of Spring Festival, a Monday
		{"2026-02-28 10:00", true, "2026-02-28 10:00"},  // make-up Saturday
	}
	for _, tt := range tests {
		if got := c.IsWorking(at(tt.t)); got != tt.working {
			t.Errorf("IsWorking(%v) = %v; want %v", tt.t, got, tt.working)
		}
		if got := c.NextWorking(at(tt.t)); !got.Equal(at(tt.next)) {
			t.Errorf("NextWorking(%v) = %v; want %v", tt.t, got.In(shanghai), tt.next)
		}
	}
}

func TestBetween(t *testing.T) {
	c := mustCal(t, Calendar5x8)
	tests := []struct {
		a, b string
		want time.Duration
	}{
		{"2025-06-10 09:00", "2025-06-10 18:00", 8 * time.Hour},
		{"2025-06-09 00:00", "2025-06-16 00:00", 40 * time.Hour}, // an ordinary week
		{"2025-09-29 00:00", "2025-10-13 00:00", 40 * time.Hour}, // 09-29, 09-30, 10-09, 10-10, 10-11
		{"2026-02-14 00:00", "2026-03-01 00:00", 48 * time.Hour}, // 02-14, 02-24..02-27, 02-28
		{"2025-06-10 18:00", "2025-06-10 10:00", -7 * time.Hour},
	}
	for _, tt := range tests {
		if got := c.Between(at(tt.a), at(tt.b)); got != tt.want {
			t.Errorf("Between(%v, %v) = %v; want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestAddAcceptsAnyZone(t *testing.T) {
	c := mustCal(t, Calendar5x8)
	start := at("2025-09-30 17:50").UTC()
	got, err := c.Add(start, 20*time.Minute)
	if err != nil {
		t.Fatalf("Add(%v, 20m) error: %v", start, err)
	}
	if want := at("2025-10-09 09:10"); !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("Add(%v, 20m) = %v; want %v in UTC", start, got, want.UTC())
	}
}

func TestAddNegative(t *testing.T) {
	for _, name := range []string{Calendar5x8, Calendar7x24} {
		c := mustCal(t, name)
		if got, err := c.Add(at("2025-06-10 10:00"), -time.Minute); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Add(t, -1m) = %v, %v; want ErrInvalid", name, got, err)
		}
	}
}

func TestMissingYears(t *testing.T) {
	cs := testCalendars(t)
	if got, want := cs.MissingYears(2023, 2028), []int{2023, 2027, 2028}; !slices.Equal(got, want) {
		t.Errorf("MissingYears(2023, 2028) = %v; want %v", got, want)
	}
	if got := cs.MissingYears(2024, 2026); got != nil {
		t.Errorf("MissingYears(2024, 2026) = %v; want none", got)
	}
	c7, _ := cs.Get(Calendar7x24)
	if got := c7.MissingYears(2000, 2100); got != nil {
		t.Errorf("7x24 MissingYears(2000, 2100) = %v; want none", got)
	}
}

// TestYearWithoutData: in a year with no file only weekends are off, and the year is reported.
func TestYearWithoutData(t *testing.T) {
	c := mustCal(t, Calendar5x8)
	// 2027-10-01 is a Friday: without 2027's data it is a working day, not National Day.
	if !c.IsWorking(at("2027-10-01 10:00")) {
		t.Errorf("IsWorking(2027-10-01 10:00) = false; want true (no 2027 data: weekends only)")
	}
	if c.IsWorking(at("2027-10-02 10:00")) {
		t.Errorf("IsWorking(2027-10-02 10:00, a Saturday) = true; want false")
	}
	if got := c.MissingYears(2027, 2027); !slices.Equal(got, []int{2027}) {
		t.Errorf("MissingYears(2027, 2027) = %v; want [2027]", got)
	}
}

// TestRuntimeHolidayFile loads next year's schedule from a configured path.
func TestRuntimeHolidayFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "cn-2027.yaml")
	data := "region: cn\nyear: 2027\noff:\n  - {name: 国庆节, from: 2027-10-01, to: 2027-10-07}\nwork: [2027-09-26]\n"
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	cs, err := NewCalendars(Config{HolidayFiles: []string{p}})
	if err != nil {
		t.Fatalf("NewCalendars(%s) error: %v", p, err)
	}
	if got := cs.MissingYears(2024, 2027); got != nil {
		t.Errorf("MissingYears(2024, 2027) = %v; want none", got)
	}
	c, _ := cs.Get(Calendar5x8)
	got, err := c.Add(at("2027-09-30 17:50"), 20*time.Minute)
	if want := at("2027-10-08 09:10"); err != nil || !got.Equal(want) {
		t.Errorf("Add(2027-09-30 17:50, 20m) = %v, %v; want %v", got.In(shanghai), err, want)
	}
	if !c.IsWorking(at("2027-09-26 10:00")) {
		t.Errorf("IsWorking(2027-09-26 10:00) = false; want true (make-up Sunday)")
	}

	// A replacement for an embedded year wins: here 2025 without National Day.
	p2 := filepath.Join(t.TempDir(), "fix.yaml")
	if err := os.WriteFile(p2, []byte("region: cn\nyear: 2025\noff: []\nwork: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cs2, err := NewCalendars(Config{HolidayFiles: []string{p2}})
	if err != nil {
		t.Fatalf("NewCalendars(%s) error: %v", p2, err)
	}
	c2, _ := cs2.Get(Calendar5x8)
	if !c2.IsWorking(at("2025-10-09 10:00")) || !c2.IsWorking(at("2025-10-01 10:00")) {
		t.Errorf("with the replaced 2025 file, IsWorking(2025-10-01 10:00) = false; want true")
	}

	if _, err := NewCalendars(Config{HolidayFiles: []string{p, p}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("NewCalendars with the same year twice: err = %v; want ErrInvalid", err)
	}
	if _, err := NewCalendars(Config{HolidayFiles: []string{filepath.Join(t.TempDir(), "nope.yaml")}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("NewCalendars with a missing file: err = %v; want ErrInvalid", err)
	}
}

func TestCalendarConfig(t *testing.T) {
	custom := CalendarConfig{Name: "6x10", Zone: "Asia/Shanghai", Days: []string{"mon", "tue", "wed", "thu", "fri", "sat"},
		Hours: []string{"08:00-18:00"}, Holidays: "cn"}
	cs, err := NewCalendars(Config{Calendars: []CalendarConfig{custom}})
	if err != nil {
		t.Fatalf("NewCalendars(6x10) error: %v", err)
	}
	if got, want := cs.Names(), []string{"5x8", "6x10", "7x24"}; !slices.Equal(got, want) {
		t.Errorf("Names() = %v; want %v", got, want)
	}
	c, _ := cs.Get("6x10")
	if got, err := c.Add(at("2025-06-13 17:50"), 20*time.Minute); err != nil || !got.Equal(at("2025-06-14 08:10")) {
		t.Errorf("6x10 Add(Fri 17:50, 20m) = %v, %v; want Saturday 08:10", got, err)
	}
	if _, err := cs.Get("9x9"); !errors.Is(err, ErrUnknown) {
		t.Errorf("Get(9x9) err = %v; want ErrUnknown", err)
	}

	bad := []struct {
		name string
		cfg  CalendarConfig
		want error
	}{
		{"no name", CalendarConfig{}, ErrInvalid},
		{"hours without days", CalendarConfig{Name: "x", Hours: []string{"09:00-18:00"}}, ErrInvalid},
		{"days without hours", CalendarConfig{Name: "x", Days: []string{"mon"}}, ErrInvalid},
		{"bad day", CalendarConfig{Name: "x", Days: []string{"monday"}, Hours: []string{"09:00-18:00"}}, ErrInvalid},
		{"day twice", CalendarConfig{Name: "x", Days: []string{"mon", "Mon"}, Hours: []string{"09:00-18:00"}}, ErrInvalid},
		{"bad hours", CalendarConfig{Name: "x", Days: []string{"mon"}, Hours: []string{"9-18"}}, ErrInvalid},
		{"reversed hours", CalendarConfig{Name: "x", Days: []string{"mon"}, Hours: []string{"18:00-09:00"}}, ErrInvalid},
		{"overlapping hours", CalendarConfig{Name: "x", Days: []string{"mon"}, Hours: []string{"09:00-12:00", "11:00-13:00"}}, ErrInvalid},
		{"past midnight", CalendarConfig{Name: "x", Days: []string{"mon"}, Hours: []string{"09:00-24:30"}}, ErrInvalid},
		{"bad zone", CalendarConfig{Name: "x", Zone: "Mars/Olympus", Days: []string{"mon"}, Hours: []string{"09:00-18:00"}}, ErrInvalid},
		{"unknown holidays", CalendarConfig{Name: "x", Days: []string{"mon"}, Hours: []string{"09:00-18:00"}, Holidays: "xx"}, ErrUnknown},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewCalendars(Config{Calendars: []CalendarConfig{tt.cfg}}); !errors.Is(err, tt.want) {
				t.Errorf("NewCalendars(%+v) err = %v; want %v", tt.cfg, err, tt.want)
			}
		})
	}
	if _, err := NewCalendars(Config{Calendars: []CalendarConfig{custom, custom}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("NewCalendars with a calendar twice: err = %v; want ErrInvalid", err)
	}
}

// TestFullDayHours: "24:00" ends a day, so a 7-day 00:00-24:00 calendar without holidays is natural time.
func TestFullDayHours(t *testing.T) {
	c, err := NewCalendar(CalendarConfig{Name: "allday", Zone: "UTC",
		Days: []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}, Hours: []string{"00:00-24:00"}}, nil)
	if err != nil {
		t.Fatalf("NewCalendar(allday) error: %v", err)
	}
	start := time.Date(2025, 6, 10, 23, 0, 0, 0, time.UTC)
	if got, err := c.Add(start, 50*time.Hour); err != nil || !got.Equal(start.Add(50*time.Hour)) {
		t.Errorf("Add(%v, 50h) = %v, %v; want %v", start, got, err, start.Add(50*time.Hour))
	}
}
