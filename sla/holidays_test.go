package sla

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// TestEmbeddedHolidays checks the embedded data against holidays-cn.md: days off and make-up days per year.
func TestEmbeddedHolidays(t *testing.T) {
	h, err := LoadHolidays("cn")
	if err != nil {
		t.Fatalf("LoadHolidays(cn) error: %v", err)
	}
	if got, want := h.Years(), []int{2024, 2025, 2026}; !slices.Equal(got, want) {
		t.Errorf("Years() = %v; want %v", got, want)
	}
	tests := []struct {
		year     int
		off      int // holiday days listed (some fall on weekends)
		work     []string
		someOff  []string
		notOff   []string
		firstOff string
	}{
		{2024, 3 + 8 + 3 + 5 + 3 + 3 + 7,
			[]string{"2024-02-04", "2024-02-18", "2024-04-07", "2024-04-28", "2024-05-11", "2024-09-14", "2024-09-29", "2024-10-12"},
			[]string{"2023-12-30", "2024-01-01", "2024-02-17", "2024-10-07"}, []string{"2024-10-08"}, "2023-12-30"},
		{2025, 1 + 8 + 3 + 5 + 3 + 8,
			[]string{"2025-01-26", "2025-02-08", "2025-04-27", "2025-09-28", "2025-10-11"},
			[]string{"2025-01-01", "2025-02-04", "2025-10-01", "2025-10-08"}, []string{"2025-10-09"}, "2025-01-01"},
		{2026, 3 + 9 + 3 + 5 + 3 + 3 + 7,
			[]string{"2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"},
			[]string{"2026-02-15", "2026-02-23", "2026-09-25", "2026-10-07"}, []string{"2026-02-24"}, "2026-01-01"},
	}
	for _, tt := range tests {
		var off, work []string
		for d, isOff := range h.days {
			if d.year() != tt.year && !(tt.year == 2024 && d.year() == 2023) {
				continue
			}
			if isOff {
				off = append(off, d.String())
			} else {
				work = append(work, d.String())
			}
		}
		slices.Sort(off)
		slices.Sort(work)
		if len(off) != tt.off {
			t.Errorf("%d: %d holiday days; want %d", tt.year, len(off), tt.off)
		}
		if len(off) > 0 && off[0] != tt.firstOff {
			t.Errorf("%d: first holiday day %s; want %s", tt.year, off[0], tt.firstOff)
		}
		if !slices.Equal(work, tt.work) {
			t.Errorf("%d: make-up days %v; want %v", tt.year, work, tt.work)
		}
		for _, s := range tt.someOff {
			if !slices.Contains(off, s) {
				t.Errorf("%d: %s is not a holiday; want one", tt.year, s)
			}
		}
		for _, s := range tt.notOff {
			if slices.Contains(off, s) {
				t.Errorf("%d: %s is a holiday; want a working day", tt.year, s)
			}
		}
	}
}

func TestParseHolidayFileErrors(t *testing.T) {
	const head = "region: cn\nyear: 2025\n"
	tests := []struct {
		name, data, want string
	}{
		{"not yaml", "{{{", "holiday file"},
		{"empty", "", "empty"},
		{"two documents", head + "---\n" + head, "more than one"},
		{"unknown key", head + "holidays: []\n", "holidays"},
		{"bad region", "region: CN\nyear: 2025\n", "region"},
		{"bad year", "region: cn\nyear: 25\n", "year 25"},
		{"malformed date", head + "off:\n  - {name: x, from: 2025-13-01, to: 2025-13-02}\n", "YYYY-MM-DD"},
		{"slashes", head + "work: [2025/09/28]\n", "YYYY-MM-DD"},
		{"no name", head + "off:\n  - {from: 2025-10-01, to: 2025-10-02}\n", "name is empty"},
		{"reversed", head + "off:\n  - {name: x, from: 2025-10-08, to: 2025-10-01}\n", "before"},
		{"too long", head + "off:\n  - {name: x, from: 2025-01-01, to: 2025-03-01}\n", "longer than"},
		{"other year", head + "off:\n  - {name: x, from: 2026-10-01, to: 2026-10-02}\n", "not in 2025"},
		{"overlap", head + "off:\n  - {name: a, from: 2025-10-01, to: 2025-10-08}\n  - {name: b, from: 2025-10-06, to: 2025-10-09}\n", "overlaps"},
		{"work on a weekday", head + "work: [2025-09-29]\n", "already a working day"},
		{"work inside a holiday", head + "off:\n  - {name: a, from: 2025-10-01, to: 2025-10-08}\nwork: [2025-10-04]\n", "also a holiday"},
		{"work twice", head + "work: [2025-09-28, 2025-09-28]\n", "listed twice"},
		{"work in another year", head + "work: [2027-09-26]\n", "not in 2025"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseHolidayFile([]byte(tt.data))
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseHolidayFile(%q) err = %v; want ErrInvalid mentioning %q", tt.data, err, tt.want)
			}
		})
	}
}

// TestHolidayFilesConflict: two years' files listing the same day is an error, not a silent merge.
func TestHolidayFilesConflict(t *testing.T) {
	a, err := ParseHolidayFile([]byte("region: cn\nyear: 2024\noff:\n  - {name: 元旦, from: 2023-12-30, to: 2024-01-01}\n"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := ParseHolidayFile([]byte("region: cn\nyear: 2023\noff:\n  - {name: 元旦, from: 2023-12-31, to: 2024-01-01}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newHolidays("cn", []HolidayFile{b, a}); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "2023-12-31") {
		t.Errorf("newHolidays(2023, 2024 overlapping) err = %v; want ErrInvalid naming 2023-12-31", err)
	}
	if _, err := newHolidays("cn", []HolidayFile{a, a}); !errors.Is(err, ErrInvalid) {
		t.Errorf("newHolidays(2024 twice) err = %v; want ErrInvalid", err)
	}
	if _, err := LoadHolidays("xx"); !errors.Is(err, ErrUnknown) {
		t.Errorf("LoadHolidays(xx) err = %v; want ErrUnknown", err)
	}
}
