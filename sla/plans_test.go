package sla

import (
	"errors"
	"slices"
	"testing"
)

// TestDeadlines holds the working-day deadlines after acceptance against weekends, lunch, evenings and
// the 2026 Spring Festival with its make-up working days (2026-02-14 Sat and 2026-02-28 Sat work).
func TestDeadlines(t *testing.T) {
	cs := testCalendars(t)
	tests := []struct {
		name     string
		d        Deadline
		accepted string
		want     string
	}{
		{"schedule: Monday 10:00 → next Monday 10:00", ScheduleDeadline, "2026-03-02 10:00", "2026-03-09 10:00"},
		{"schedule: Saturday → the fifth working day's end", ScheduleDeadline, "2026-03-07 15:00", "2026-03-13 18:00"},
		{"schedule: after hours counts from the next morning", ScheduleDeadline, "2026-03-02 20:00", "2026-03-09 18:00"},
		{"schedule: over the Spring Festival", ScheduleDeadline, "2026-02-13 10:00", "2026-02-27 10:00"},
		{"plan: Monday 10:00 → Wednesday 10:00", EscortPlanDeadline, "2026-03-02 10:00", "2026-03-04 10:00"},
		{"plan: Friday 16:00 → Tuesday 16:00", EscortPlanDeadline, "2026-03-06 16:00", "2026-03-10 16:00"},
		{"plan: a make-up Saturday counts", EscortPlanDeadline, "2026-02-13 10:00", "2026-02-24 10:00"},
	}
	for _, tt := range tests {
		got, err := tt.d.From(cs, at(tt.accepted))
		if err != nil || !got.Equal(at(tt.want)) {
			t.Errorf("%s: %v.From(%s) = %v, %v; want %s", tt.name, tt.d, tt.accepted, got.In(China), err, tt.want)
		}
	}
	if _, err := (Deadline{Calendar: "9x9", Within: WorkingDay}).From(cs, at("2026-03-02 10:00")); !errors.Is(err, ErrUnknown) {
		t.Errorf("an unknown calendar: err = %v; want ErrUnknown", err)
	}
	for d, want := range map[Deadline]string{ScheduleDeadline: "5 working days", EscortPlanDeadline: "2 working days",
		{Calendar: Calendar5x8, Within: WorkingDay}: "1 working day", {Calendar: Calendar7x24, Within: Day}: "24h0m0s of 7x24 time"} {
		if got := d.String(); got != want {
			t.Errorf("%+v.String() = %q; want %q", d, got, want)
		}
	}
}

func TestEscortCover(t *testing.T) {
	today := "2026-05-02"
	tests := []struct {
		name     string
		quantity int
		current  []string
		startsOn string
		days     []string
		want     []string
		err      error
	}{
		{"first plan from starts_on", 3, nil, "2026-05-04", nil, []string{"2026-05-04", "2026-05-05", "2026-05-06"}, nil},
		{"first plan starting today", 1, nil, today, nil, []string{today}, nil},
		{"first plan split and short of the days bought", 4, nil, "", []string{"2026-05-09", "2026-05-03"}, []string{"2026-05-03", "2026-05-09"}, nil},
		{"rescheduled before it began", 3, []string{"2026-05-04", "2026-05-05", "2026-05-06"}, "2026-05-10", nil,
			[]string{"2026-05-10", "2026-05-11", "2026-05-12"}, nil},
		{"rescheduled mid-escort: begun days stay", 3, []string{"2026-05-01", "2026-05-02", "2026-05-03"}, "2026-05-06", nil,
			[]string{"2026-05-01", "2026-05-02", "2026-05-06"}, nil},
		{"extended to the days bought", 4, []string{"2026-05-01", "2026-05-02"}, "", []string{"2026-05-01", "2026-05-02", "2026-05-03", "2026-05-04"},
			[]string{"2026-05-01", "2026-05-02", "2026-05-03", "2026-05-04"}, nil},
		{"split mid-escort", 3, []string{"2026-05-01", "2026-05-02", "2026-05-03"}, "", []string{"2026-05-01", "2026-05-02", "2026-05-08"},
			[]string{"2026-05-01", "2026-05-02", "2026-05-08"}, nil},
		{"a day not yet begun may be dropped", 3, []string{"2026-05-02", "2026-05-03", "2026-05-04"}, "", []string{"2026-05-02"}, []string{"2026-05-02"}, nil},
		{"today may be added", 2, []string{"2026-05-01"}, "", []string{"2026-05-01", today}, []string{"2026-05-01", today}, nil},

		{"more days than bought", 2, nil, "", []string{"2026-05-03", "2026-05-04", "2026-05-05"}, nil, ErrRefused},
		{"extension beyond the days bought", 2, []string{"2026-05-01", "2026-05-02"}, "", []string{"2026-05-01", "2026-05-02", "2026-05-03"}, nil, ErrRefused},
		{"a begun day moved", 3, []string{"2026-05-01", "2026-05-02", "2026-05-03"}, "", []string{"2026-05-02", "2026-05-03", "2026-05-04"}, nil, ErrRefused},
		{"today's covered day moved", 2, []string{today, "2026-05-03"}, "", []string{"2026-05-03", "2026-05-04"}, nil, ErrRefused},
		{"starts_on not after the begun days", 3, []string{"2026-05-01", "2026-05-02", "2026-05-03"}, today, nil, nil, ErrRefused},
		{"every day bought has begun", 2, []string{"2026-05-01", today}, "2026-05-05", nil, nil, ErrRefused},
		{"starts_on in the past", 3, nil, "2026-05-01", nil, nil, ErrInvalid},
		{"a new day in the past", 3, []string{"2026-05-02"}, "", []string{"2026-04-30", "2026-05-02"}, nil, ErrInvalid},
		{"more than a year ahead", 1, nil, "2027-05-03", nil, nil, ErrInvalid},
		{"a year ahead exactly", 1, nil, "2027-05-02", nil, []string{"2027-05-02"}, nil},
		{"a day twice", 3, nil, "", []string{"2026-05-03", "2026-05-03"}, nil, ErrInvalid},
		{"not a date", 3, nil, "", []string{"2026-5-3"}, nil, ErrInvalid},
		{"both forms", 3, nil, "2026-05-03", []string{"2026-05-03"}, nil, ErrInvalid},
		{"neither form", 3, nil, "", nil, nil, ErrInvalid},
	}
	for _, tt := range tests {
		got, err := EscortCover(tt.quantity, tt.current, today, tt.startsOn, tt.days)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("%s: EscortCover = %v, %v; want %v", tt.name, got, err, tt.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("%s: EscortCover = %v, %v; want %v", tt.name, got, err, tt.want)
		}
	}
}
