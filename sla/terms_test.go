package sla

import (
	"errors"
	"testing"
	"time"
)

func TestTermEnds(t *testing.T) {
	tests := []struct {
		name string
		got  time.Time
		want string
	}{
		// SPEC.md: bought 2018-05-01, never assessed → ends 2019-05-01.
		{"dengbao a year after purchase", DengbaoTermEnd(at("2018-05-01 10:00")), "2019-05-01 10:00"},
		// 00:30 on 1 March in China is still 28 February in UTC: the year counts by China's date.
		{"dengbao by China's date", DengbaoTermEnd(at("2024-03-01 00:30")), "2025-03-01 00:30"},
		{"hosting first year", HostingTermEnd(at("2025-06-10 09:00"), 1), "2026-06-10 09:00"},
		{"hosting third year", HostingTermEnd(at("2025-06-10 09:00"), 3), "2028-06-10 09:00"},
		{"hosting from a leap day", HostingTermEnd(at("2024-02-29 12:00"), 1), "2025-03-01 12:00"},
		{"butler emergency edition: 15 days", ButlerTermEnd(EditionEmergency, at("2025-09-28 20:00")), "2025-10-13 20:00"},
		{"butler enterprise edition: a year", ButlerTermEnd(EditionEnterprise, at("2025-09-28 20:00")), "2026-09-28 20:00"},
		{"first monthly report", ReportDue(at("2025-01-31 15:00"), 1), "2025-03-03 15:00"},
		{"twelfth monthly report", ReportDue(at("2025-01-15 15:00"), 12), "2026-01-15 15:00"},
	}
	for _, tt := range tests {
		if !tt.got.Equal(at(tt.want)) {
			t.Errorf("%s = %v; want %s", tt.name, tt.got.In(China), tt.want)
		}
	}
}

func TestHostingQuota(t *testing.T) {
	tests := []struct {
		kind string
		want int
	}{
		{HostingSecurityCheck, 1}, {HostingHardening, 1}, {HostingPatching, Unlimited}, {HostingIncident, 2},
	}
	for _, tt := range tests {
		if got, err := HostingQuota(tt.kind); err != nil || got != tt.want {
			t.Errorf("HostingQuota(%q) = %d, %v; want %d", tt.kind, got, err, tt.want)
		}
	}
	if _, err := HostingQuota("backup"); !errors.Is(err, ErrUnknown) {
		t.Errorf("HostingQuota(backup) err = %v; want ErrUnknown", err)
	}
}

func TestResponseClause(t *testing.T) {
	tests := []struct {
		kind, edition, urgency, severity string
		want                             string
	}{
		{RequestIncident, EditionEmergency, "", "", ClauseIncidentUrgent},
		{RequestIncident, EditionEmergency, UrgencyNormal, "", ClauseIncidentUrgent},
		{RequestIncident, EditionEscort, UrgencyUrgent, "", ClauseIncidentUrgent},
		{RequestIncident, EditionEnterprise, UrgencyNormal, "", ClauseIncidentNormal},
		{RequestVulnerability, EditionEscort, "", SeverityHigh, ClauseVulnHigh},
		{RequestVulnerability, EditionEscort, "", SeverityMedium, ClauseVulnMedium},
		{RequestVulnerability, EditionEnterprise, "", SeverityLow, ClauseVulnLow},
		{RequestConsulting, EditionProfessional, "", "", ClauseArchitectureConsulting},
	}
	for _, tt := range tests {
		got, err := ResponseClause(tt.kind, tt.edition, tt.urgency, tt.severity)
		if err != nil || got != tt.want {
			t.Errorf("ResponseClause(%s, %s, %q, %q) = %q, %v; want %q", tt.kind, tt.edition, tt.urgency, tt.severity, got, err, tt.want)
		}
		if _, err := LookupClause(ServiceButler, got); err != nil {
			t.Errorf("ResponseClause(%s, …) = %q, which the clause table lacks: %v", tt.kind, got, err)
		}
	}
	for _, bad := range [][2]string{{RequestVulnerability, "critical"}, {"backup", ""}} {
		if _, err := ResponseClause(bad[0], EditionEscort, "", bad[1]); !errors.Is(err, ErrUnknown) {
			t.Errorf("ResponseClause(%s, %q) err = %v; want ErrUnknown", bad[0], bad[1], err)
		}
	}
	// The SPEC figures of the clauses ResponseClause names.
	targets := map[string]time.Duration{
		ClauseIncidentUrgent: 15 * time.Minute, ClauseIncidentNormal: time.Hour, ClauseVulnHigh: 15 * time.Minute,
		ClauseVulnMedium: time.Hour, ClauseVulnLow: 4 * time.Hour, ClauseArchitectureConsulting: time.Hour,
	}
	for clause, want := range targets {
		if c, err := LookupClause(ServiceButler, clause); err != nil || c.Target != want {
			t.Errorf("clause %s target = %v, %v; want %v", clause, c.Target, err, want)
		}
	}
}

func TestApply(t *testing.T) {
	tests := []struct {
		percent int
		amount  int64
		want    int64
	}{
		{50, 1, 1}, {50, 3, 2}, {100, 12345, 12345}, {0, 999, 0}, {50, 100000, 50000},
	}
	for _, tt := range tests {
		if got, err := Apply(tt.percent, tt.amount); err != nil || got.AmountCents != tt.want || got.Percent != tt.percent {
			t.Errorf("Apply(%d, %d) = %+v, %v; want %d cents", tt.percent, tt.amount, got, err, tt.want)
		}
	}
	for _, p := range []int{-1, 101} {
		if _, err := Apply(p, 100); !errors.Is(err, ErrInvalid) {
			t.Errorf("Apply(%d, 100) err = %v; want ErrInvalid", p, err)
		}
	}
}

func TestEscortDayStart(t *testing.T) {
	got, err := EscortDayStart("2025-10-01")
	if err != nil || !got.Equal(at("2025-10-01 00:00")) {
		t.Errorf("EscortDayStart(2025-10-01) = %v, %v; want 2025-10-01 00:00 China", got, err)
	}
	if _, err := EscortDayStart("1 Oct"); !errors.Is(err, ErrInvalid) {
		t.Errorf("EscortDayStart(1 Oct) err = %v; want ErrInvalid", err)
	}
	if d := ChinaDate(at("2025-10-01 00:30")); d != "2025-10-01" {
		t.Errorf("ChinaDate(00:30 China) = %s; want 2025-10-01", d)
	}
}
