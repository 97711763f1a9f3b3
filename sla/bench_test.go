package sla

import (
	"testing"
	"time"
)

// BenchmarkAdd20MinAcrossNationalDay adds the SOS response target across the 9-day 2025 holiday
// (10-01..10-08), which the calendar crosses a day at a time, not a minute at a time.
func BenchmarkAdd20MinAcrossNationalDay(b *testing.B) {
	c := mustCal(b, Calendar5x8)
	start, want := at("2025-09-30 17:55"), at("2025-10-09 09:15")
	b.ReportAllocs()
	for b.Loop() {
		got, err := c.Add(start, 20*time.Minute)
		if err != nil || !got.Equal(want) {
			b.Fatalf("Add(%v, 20m) = %v, %v; want %v", start, got, err, want)
		}
	}
}

// BenchmarkAdd20MinAcrossSpringFestival does the same across 2026's 9-day Spring Festival (02-15..02-23).
func BenchmarkAdd20MinAcrossSpringFestival(b *testing.B) {
	c := mustCal(b, Calendar5x8)
	start, want := at("2026-02-14 17:55"), at("2026-02-24 09:15")
	b.ReportAllocs()
	for b.Loop() {
		got, err := c.Add(start, 20*time.Minute)
		if err != nil || !got.Equal(want) {
			b.Fatalf("Add(%v, 20m) = %v, %v; want %v", start, got, err, want)
		}
	}
}

// BenchmarkBetweenAYear measures a year of 5x8 business time.
func BenchmarkBetweenAYear(b *testing.B) {
	c := mustCal(b, Calendar5x8)
	a, z := at("2025-01-01 00:00"), at("2026-01-01 00:00")
	for b.Loop() {
		c.Between(a, z)
	}
}
