package sla

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/6tail/lunar-go/HolidayUtil"
	"gopkg.in/yaml.v3"
)

// The embedded holiday data is typed in by hand from the State Council's notices. These tests hold it
// against an independent transcription: github.com/6tail/lunar-go's HolidayUtil, which carries China's
// statutory holidays and make-up working days since 2001.

// Day kinds, as both sources are compared.
const (
	kindOrdinary = "ordinary day"
	kindHoliday  = "holiday"
	kindMakeUp   = "make-up working day"
)

// crossCheckFrom and crossCheckTo bound the years the embedded data is checked for, inclusive.
var (
	crossCheckFrom = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	crossCheckTo   = time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)
)

// stewardKind is what h says of the civil date t.
func stewardKind(h *Holidays, t time.Time) string {
	off, listed := h.lookup(dayOf(t.Date()))
	switch {
	case !listed:
		return kindOrdinary
	case off:
		return kindHoliday
	default:
		return kindMakeUp
	}
}

// lunarKind is what lunar-go says of the civil date t, with the holiday's name when it lists t.
func lunarKind(t time.Time) (kind, name string) {
	hd := HolidayUtil.GetHolidayByYmd(t.Year(), int(t.Month()), t.Day())
	switch {
	case hd == nil:
		return kindOrdinary, ""
	case hd.IsWork():
		return kindMakeUp, hd.GetName()
	default:
		return kindHoliday, hd.GetName()
	}
}

// disagreements compares h with lunar-go on each of days and returns one line per day they differ on.
func disagreements(h *Holidays, days []time.Time) []string {
	var out []string
	for _, t := range days {
		ours := stewardKind(h, t)
		theirs, name := lunarKind(t)
		if ours == theirs {
			continue
		}
		if name != "" {
			theirs += " (" + name + ")"
		}
		out = append(out, fmt.Sprintf("%s: steward's data says %s, lunar-go says %s", t.Format(time.DateOnly), ours, theirs))
	}
	return out
}

// embeddedCNFiles parses the embedded cn files, by year.
func embeddedCNFiles(t *testing.T) map[int]HolidayFile {
	t.Helper()
	entries, err := embeddedHolidays.ReadDir("holidays")
	if err != nil {
		t.Fatalf("read embedded holidays: %v", err)
	}
	out := make(map[int]HolidayFile)
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "cn-") {
			continue
		}
		data, err := embeddedHolidays.ReadFile(path.Join("holidays", e.Name()))
		if err != nil {
			t.Fatalf("read embedded %s: %v", e.Name(), err)
		}
		f, err := ParseHolidayFile(data)
		if err != nil {
			t.Fatalf("ParseHolidayFile(%s) error: %v", e.Name(), err)
		}
		out[f.Year] = f
	}
	return out
}

// crossCheckDays returns every day of 2024–2026 plus every day the files list outside those years
// (2024's New Year holiday starts on 2023-12-30), ascending.
func crossCheckDays(t *testing.T, files map[int]HolidayFile) []time.Time {
	t.Helper()
	var days []time.Time
	for d := crossCheckFrom; !d.After(crossCheckTo); d = d.AddDate(0, 0, 1) {
		days = append(days, d)
	}
	outside := func(d time.Time) {
		if d.Before(crossCheckFrom) || d.After(crossCheckTo) {
			days = append(days, d)
		}
	}
	for _, f := range files {
		for _, r := range f.Off {
			from, err1 := time.Parse(time.DateOnly, r.From)
			to, err2 := time.Parse(time.DateOnly, r.To)
			if err1 != nil || err2 != nil {
				t.Fatalf("cn-%d %s: bad range %s..%s", f.Year, r.Name, r.From, r.To)
			}
			for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
				outside(d)
			}
		}
		for _, s := range f.Work {
			d, err := time.Parse(time.DateOnly, s)
			if err != nil {
				t.Fatalf("cn-%d: bad make-up day %s", f.Year, s)
			}
			outside(d)
		}
	}
	slices.SortFunc(days, func(a, b time.Time) int { return a.Compare(b) })
	return slices.CompactFunc(days, func(a, b time.Time) bool { return a.Equal(b) })
}

// TestHolidaysAgreeWithLunarGo checks every day of 2024–2026 in the embedded data against lunar-go:
// holiday, make-up working day or neither. Any difference fails with the date.
func TestHolidaysAgreeWithLunarGo(t *testing.T) {
	files := embeddedCNFiles(t)
	for y := crossCheckFrom.Year(); y <= crossCheckTo.Year(); y++ {
		if _, ok := files[y]; !ok {
			t.Errorf("no embedded cn-%d.yaml: nothing to cross-check for %d", y, y)
		}
	}
	h, err := LoadHolidays("cn")
	if err != nil {
		t.Fatalf("LoadHolidays(cn) error: %v", err)
	}
	days := crossCheckDays(t, files)
	var holidays, makeUps int
	for _, d := range days {
		switch stewardKind(h, d) {
		case kindHoliday:
			holidays++
		case kindMakeUp:
			makeUps++
		}
	}
	for _, line := range disagreements(h, days) {
		t.Error(line)
	}
	t.Logf("checked %d days (%s..%s, plus %s): %d holidays and %d make-up working days",
		len(days), crossCheckFrom.Format(time.DateOnly), crossCheckTo.Format(time.DateOnly),
		days[0].Format(time.DateOnly), holidays, makeUps)
}

// TestLunarCrossCheckCatchesAWrongDate shows that the cross-check above fails on a wrong date: each case
// edits one date in a copy of an embedded file, loads the copy as an operator's replacement file (it
// replaces the embedded file of its year) and expects the cross-check to name exactly the dates touched.
func TestLunarCrossCheckCatchesAWrongDate(t *testing.T) {
	tests := []struct {
		name   string
		year   int
		mutate func(f *HolidayFile)
		want   []string
	}{
		{
			name:   "holiday one day too long",
			year:   2025,
			mutate: func(f *HolidayFile) { setTo(f, "2025-10-01", "2025-10-09") },
			want:   []string{"2025-10-09"},
		},
		{
			name:   "holiday starting a day late",
			year:   2024,
			mutate: func(f *HolidayFile) { setFrom(f, "2024-02-10", "2024-02-11") },
			want:   []string{"2024-02-10"},
		},
		{
			name:   "New Year reaching into the previous year cut short",
			year:   2024,
			mutate: func(f *HolidayFile) { setFrom(f, "2023-12-30", "2023-12-31") },
			want:   []string{"2023-12-30"},
		},
		{
			name: "make-up working day missing",
			year: 2026,
			mutate: func(f *HolidayFile) {
				f.Work = slices.DeleteFunc(f.Work, func(s string) bool { return s == "2026-02-28" })
			},
			want: []string{"2026-02-28"},
		},
		{
			name: "make-up working day on the wrong weekend",
			year: 2024,
			mutate: func(f *HolidayFile) {
				f.Work[slices.Index(f.Work, "2024-09-14")] = "2024-09-21"
			},
			want: []string{"2024-09-14", "2024-09-21"},
		},
	}
	files := embeddedCNFiles(t)
	days := crossCheckDays(t, files)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := files[tt.year]
			f.Off = slices.Clone(f.Off)
			f.Work = slices.Clone(f.Work)
			tt.mutate(&f)
			data, err := yaml.Marshal(f)
			if err != nil {
				t.Fatalf("yaml.Marshal: %v", err)
			}
			p := filepath.Join(t.TempDir(), fmt.Sprintf("cn-%d.yaml", tt.year))
			if err := os.WriteFile(p, data, 0o600); err != nil {
				t.Fatal(err)
			}
			h, err := LoadHolidays("cn", p)
			if err != nil {
				t.Fatalf("LoadHolidays(cn, mutated cn-%d) error: %v", tt.year, err)
			}
			lines := disagreements(h, days)
			var got []string
			for _, line := range lines {
				got = append(got, line[:len(time.DateOnly)])
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("cross-check of the mutated data names %v; want %v\n%s", got, tt.want, strings.Join(lines, "\n"))
			}
		})
	}
}

// setFrom moves the start of the holiday starting on from.
func setFrom(f *HolidayFile, from, to string) {
	for i, r := range f.Off {
		if r.From == from {
			f.Off[i].From = to
			return
		}
	}
	panic("no holiday from " + from)
}

// setTo moves the end of the holiday starting on from.
func setTo(f *HolidayFile, from, end string) {
	for i, r := range f.Off {
		if r.From == from {
			f.Off[i].To = end
			return
		}
	}
	panic("no holiday from " + from)
}
