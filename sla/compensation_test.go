package sla

import (
	"errors"
	"math"
	"slices"
	"testing"
)

// TestCompensationTable is the compensation contract of SPEC.md, read from the table.
func TestCompensationTable(t *testing.T) {
	want := []CompensationRule{
		{Service: "sos", Clause: "response", Percent: 50},
		{Service: "sos", Clause: "handling", Percent: 50},
		{Service: "sos", Clause: "effect", Percent: 100},
	}
	if got := CompensationRules(); !slices.Equal(got, want) {
		t.Errorf("CompensationRules() = %v; want %v", got, want)
	}
	wantCancel := []CancellationRule{{Service: "dengbao", BeforeKickoff: 100, AfterKickoff: 0}}
	if got := CancellationRules(); !slices.Equal(got, wantCancel) {
		t.Errorf("CancellationRules() = %v; want %v", got, wantCancel)
	}
	for _, r := range want {
		if _, err := LookupClause(r.Service, r.Clause); err != nil {
			t.Errorf("rule %v names no clause: %v", r, err)
		}
	}
}

func TestCompensate(t *testing.T) {
	tests := []struct {
		name     string
		breached []string
		amount   int64
		want     Refund
	}{
		{"nothing breached", nil, 100000, Refund{0, 0}},
		{"response", []string{"response"}, 100000, Refund{50, 50000}},
		{"handling", []string{"handling"}, 100000, Refund{50, 50000}},
		{"response and handling", []string{"response", "handling"}, 100000, Refund{100, 100000}},
		{"effect", []string{"effect"}, 100000, Refund{100, 100000}},
		{"capped at 100%", []string{"response", "handling", "effect"}, 100000, Refund{100, 100000}},
		{"a clause counts once", []string{"response", "response"}, 100000, Refund{50, 50000}},
		{"clause without a rule", []string{"assets"}, 100000, Refund{0, 0}},
		{"half a cent rounds up", []string{"response"}, 1, Refund{50, 1}},
		{"1.5 cents rounds up", []string{"response"}, 3, Refund{50, 2}},
		{"odd amount", []string{"handling"}, 199999, Refund{50, 100000}},
		{"zero amount", []string{"effect"}, 0, Refund{100, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Compensate("sos", tt.breached, tt.amount)
			if err != nil || got != tt.want {
				t.Errorf("Compensate(sos, %v, %d) = %+v, %v; want %+v", tt.breached, tt.amount, got, err, tt.want)
			}
		})
	}
}

func TestCompensateErrors(t *testing.T) {
	tests := []struct {
		name, service string
		breached      []string
		amount        int64
		want          error
	}{
		{"unknown service", "nope", nil, 100, ErrUnknown},
		{"unknown clause", "sos", []string{"speed"}, 100, ErrUnknown},
		{"clause of another service", "butler", []string{"response"}, 100, ErrUnknown},
		{"negative amount", "sos", []string{"response"}, -1, ErrInvalid},
		{"overflowing amount", "sos", []string{"response"}, math.MaxInt64, ErrInvalid},
	}
	for _, tt := range tests {
		if got, err := Compensate(tt.service, tt.breached, tt.amount); !errors.Is(err, tt.want) {
			t.Errorf("%s: Compensate(%q, %v, %d) = %+v, %v; want %v", tt.name, tt.service, tt.breached, tt.amount, got, err, tt.want)
		}
	}
}

func TestCancelRefund(t *testing.T) {
	got, err := CancelRefund("dengbao", false, 123457)
	if want := (Refund{100, 123457}); err != nil || got != want {
		t.Errorf("CancelRefund(dengbao, before kickoff, 123457) = %+v, %v; want %+v", got, err, want)
	}
	if got, err := CancelRefund("dengbao", true, 123457); !errors.Is(err, ErrRefused) || got != (Refund{}) {
		t.Errorf("CancelRefund(dengbao, after kickoff) = %+v, %v; want ErrRefused", got, err)
	}
	if _, err := CancelRefund("sos", false, 100); !errors.Is(err, ErrUnknown) {
		t.Errorf("CancelRefund(sos) err = %v; want ErrUnknown (no rule)", err)
	}
	if _, err := CancelRefund("nope", false, 100); !errors.Is(err, ErrUnknown) {
		t.Errorf("CancelRefund(nope) err = %v; want ErrUnknown", err)
	}
	if _, err := CancelRefund("dengbao", false, -5); !errors.Is(err, ErrInvalid) {
		t.Errorf("CancelRefund(dengbao, -5) err = %v; want ErrInvalid", err)
	}
}
