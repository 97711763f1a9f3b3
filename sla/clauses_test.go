package sla

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestHandlingDays(t *testing.T) {
	tests := []struct{ hosts, want int }{
		{1, 3}, {5, 3}, {6, 4}, {10, 4}, {11, 5}, {15, 5}, {16, 6}, {100, 22},
	}
	for _, tt := range tests {
		got, err := HandlingDays(tt.hosts)
		if err != nil || got != tt.want {
			t.Errorf("HandlingDays(%d) = %d, %v; want %d", tt.hosts, got, err, tt.want)
		}
	}
	for _, hosts := range []int{0, -1} {
		if got, err := HandlingDays(hosts); !errors.Is(err, ErrInvalid) {
			t.Errorf("HandlingDays(%d) = %d, %v; want ErrInvalid", hosts, got, err)
		}
	}
}

// TestClauseTable is the SLA contract of SPEC.md, read from the table.
func TestClauseTable(t *testing.T) {
	tests := []struct {
		service, clause string
		kind, calendar  string
		target          time.Duration
	}{
		{"sos", "assets", TargetNatural, Calendar7x24, 5 * Day},
		{"sos", "response", TargetBusiness, Calendar5x8, 20 * time.Minute},
		{"sos", "handling", TargetComputed, Calendar7x24, 0},
		{"sos", "effect", TargetOutcome, "", 0},
		{"butler", "onboarding_contact", TargetBusiness, Calendar5x8, 8 * time.Hour},
		{"butler", "incident_urgent", TargetNatural, Calendar7x24, 15 * time.Minute},
		{"butler", "incident_normal", TargetNatural, Calendar7x24, time.Hour},
		{"butler", "incident_resolve", TargetNatural, Calendar7x24, 5 * Day},
		{"butler", "vuln_high", TargetNatural, Calendar7x24, 15 * time.Minute},
		{"butler", "vuln_medium", TargetNatural, Calendar7x24, time.Hour},
		{"butler", "vuln_low", TargetNatural, Calendar7x24, 4 * time.Hour},
		{"butler", "architecture_consulting", TargetNatural, Calendar7x24, time.Hour},
	}
	var want []string
	for _, tt := range tests {
		want = append(want, tt.service+"/"+tt.clause)
		c, err := LookupClause(tt.service, tt.clause)
		if err != nil {
			t.Errorf("LookupClause(%s, %s) error: %v", tt.service, tt.clause, err)
			continue
		}
		if c.Kind != tt.kind || c.Calendar != tt.calendar || c.Target != tt.target {
			t.Errorf("LookupClause(%s, %s) = %s %q %v; want %s %q %v", tt.service, tt.clause,
				c.Kind, c.Calendar, c.Target, tt.kind, tt.calendar, tt.target)
		}
	}
	var got []string
	for _, s := range services {
		cl, err := Clauses(s)
		if err != nil {
			t.Fatalf("Clauses(%s) error: %v", s, err)
		}
		for _, c := range cl {
			got = append(got, c.Service+"/"+c.Name)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("clauses = %v; want exactly %v", got, want)
	}
}

func TestTargetFor(t *testing.T) {
	handling, _ := LookupClause("sos", "handling")
	tests := []struct {
		hosts int
		want  time.Duration
	}{{5, 3 * Day}, {6, 4 * Day}, {10, 4 * Day}, {11, 5 * Day}}
	for _, tt := range tests {
		got, err := handling.TargetFor(Inputs{Hosts: tt.hosts})
		if err != nil || got != tt.want {
			t.Errorf("TargetFor(hosts %d) = %v, %v; want %v", tt.hosts, got, err, tt.want)
		}
	}
	for _, hosts := range []int{0, -3, 1 << 40} {
		if got, err := handling.TargetFor(Inputs{Hosts: hosts}); !errors.Is(err, ErrInvalid) {
			t.Errorf("TargetFor(hosts %d) = %v, %v; want ErrInvalid", hosts, got, err)
		}
	}
	effect, _ := LookupClause("sos", "effect")
	if got, err := effect.TargetFor(Inputs{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("effect TargetFor = %v, %v; want ErrInvalid (no clock)", got, err)
	}
	response, _ := LookupClause("sos", "response")
	if got, err := response.TargetFor(Inputs{}); err != nil || got != 20*time.Minute {
		t.Errorf("response TargetFor = %v, %v; want 20m", got, err)
	}
}

func TestLookupUnknown(t *testing.T) {
	tests := []struct{ service, clause string }{{"sos", "nope"}, {"nope", "response"}, {"butler", "response"}}
	for _, tt := range tests {
		if _, err := LookupClause(tt.service, tt.clause); !errors.Is(err, ErrUnknown) {
			t.Errorf("LookupClause(%q, %q) err = %v; want ErrUnknown", tt.service, tt.clause, err)
		}
	}
	if _, err := Clauses("nope"); !errors.Is(err, ErrUnknown) {
		t.Errorf("Clauses(nope) err = %v; want ErrUnknown", err)
	}
	if cl, err := Clauses("hosting"); err != nil || len(cl) != 0 {
		t.Errorf("Clauses(hosting) = %v, %v; want none", cl, err)
	}
}
