package sla

import (
	"errors"
	"testing"
	"time"
)

func TestVerdict(t *testing.T) {
	tests := []struct {
		service        string
		window, remind time.Duration
	}{
		{ServiceSOS, 7 * Day, 3 * Day},
		{ServiceConsulting, 7 * Day, 0},
		{ServiceTraining, 7 * Day, 0},
		{ServiceAssessment, 7 * Day, 0},
		{ServiceCodeAudit, 7 * Day, 0},
		{ServiceOnboarding, 7 * Day, 0},
	}
	for _, tt := range tests {
		v, err := Verdict(tt.service)
		if err != nil || v.Window != tt.window || v.Remind != tt.remind {
			t.Errorf("Verdict(%s) = %+v, %v; want window %v, remind %v", tt.service, v, err, tt.window, tt.remind)
		}
	}
	for _, s := range []string{ServiceButler, ServiceEscort, "nope"} {
		if _, err := Verdict(s); !errors.Is(err, ErrUnknown) {
			t.Errorf("Verdict(%s) err = %v; want ErrUnknown", s, err)
		}
	}
}

func TestVerdictOverride(t *testing.T) {
	sos := VerdictTerms{Window: 7 * Day, Remind: 3 * Day}
	tests := []struct {
		name           string
		window, remind time.Duration
		want           VerdictTerms
		err            error
	}{
		{"zero keeps the service's", 0, 0, sos, nil},
		{"a longer window keeps the reminder", 14 * Day, 0, VerdictTerms{Window: 14 * Day, Remind: 3 * Day}, nil},
		{"both set", 10 * Day, 5 * Day, VerdictTerms{Window: 10 * Day, Remind: 5 * Day}, nil},
		{"a window shorter than the reminder drops it", 2 * Day, 0, VerdictTerms{Window: 2 * Day}, nil},
		{"a reminder at the window's end is dropped", 0, 7 * Day, VerdictTerms{Window: 7 * Day}, nil},
		{"seconds, for end-to-end tests", 5 * time.Second, 2 * time.Second, VerdictTerms{Window: 5 * time.Second, Remind: 2 * time.Second}, nil},
		{"negative window", -time.Second, 0, VerdictTerms{}, ErrInvalid},
		{"window above the bound", MaxVerdictWindow + time.Second, 0, VerdictTerms{}, ErrInvalid},
		{"negative reminder", 0, -time.Second, VerdictTerms{}, ErrInvalid},
	}
	for _, tt := range tests {
		got, err := sos.Override(tt.window, tt.remind)
		if !errors.Is(err, tt.err) || (tt.err == nil && err != nil) || got != tt.want {
			t.Errorf("%s: Override(%v, %v) = %+v, %v; want %+v, %v", tt.name, tt.window, tt.remind, got, err, tt.want, tt.err)
		}
	}
	submitted := at("2026-03-02 10:00")
	if due := sos.Due(submitted); !due.Equal(at("2026-03-09 10:00")) {
		t.Errorf("Due = %v; want 7 natural days later", due.In(China))
	}
	if r, ok := sos.ReminderAt(submitted); !ok || !r.Equal(at("2026-03-05 10:00")) {
		t.Errorf("ReminderAt = %v, %t; want 3 natural days later", r.In(China), ok)
	}
	if _, ok := (VerdictTerms{Window: Day}).ReminderAt(submitted); ok {
		t.Error("terms without a reminder give one")
	}
}
