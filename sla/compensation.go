package sla

import (
	"fmt"
	"math"
	"slices"
)

// CompensationRule is one line of a service's compensation table: the refund, in percent of the order
// amount, owed when Clause is breached.
type CompensationRule struct {
	Service string `json:"service"`
	Clause  string `json:"clause"`
	Percent int    `json:"percent"`
}

// CancellationRule says what a customer who cancels gets back, in percent of the order amount, before
// and after the service formally starts (kickoff). A percent of 0 means cancellation is refused.
type CancellationRule struct {
	Service       string `json:"service"`
	BeforeKickoff int    `json:"before_kickoff"`
	AfterKickoff  int    `json:"after_kickoff"`
}

// RefundCapPercent caps the cumulative refund of one order: never more than the order amount.
const RefundCapPercent = 100

// compensationRules is the compensation table (SPEC.md). Breaches add up, capped at RefundCapPercent.
// Tests read it as the contract.
var compensationRules = []CompensationRule{
	{Service: ServiceSOS, Clause: ClauseResponse, Percent: 50},
	{Service: ServiceSOS, Clause: ClauseHandling, Percent: 50},
	{Service: ServiceSOS, Clause: ClauseEffect, Percent: 100},
}

// cancellationRules is the cancellation table (SPEC.md): 等保整改 refunds in full only before kickoff.
var cancellationRules = []CancellationRule{
	{Service: ServiceDengbao, BeforeKickoff: 100, AfterKickoff: 0},
}

// CompensationRules returns the compensation table, in order.
func CompensationRules() []CompensationRule { return slices.Clone(compensationRules) }

// CancellationRules returns the cancellation table, in order.
func CancellationRules() []CancellationRule { return slices.Clone(cancellationRules) }

// Refund is a refund owed: a percent of the order amount and the amount in integer cents.
type Refund struct {
	Percent     int   `json:"percent"`
	AmountCents int64 `json:"amount_cents"`
}

// ClausePercent returns the refund percent that a breach of the clause costs; 0 for a clause without a
// compensation rule (such as the customer's asset deadline).
func ClausePercent(service, clause string) (int, error) {
	if _, err := LookupClause(service, clause); err != nil {
		return 0, err
	}
	for _, r := range compensationRules {
		if r.Service == service && r.Clause == clause {
			return r.Percent, nil
		}
	}
	return 0, nil
}

// Compensate returns the refund owed for the breached clauses of an order of amountCents: the clauses'
// percents added up (each clause once) and capped at 100%. Cents round half up:
// amountCents × percent / 100, with a remainder of half a cent or more rounded up (1 cent at 50% is 1).
// An unknown service or clause, or a negative amount, is an error.
func Compensate(service string, breached []string, amountCents int64) (Refund, error) {
	if err := knownService(service); err != nil {
		return Refund{}, err
	}
	var pct int
	var seen []string
	for _, c := range breached {
		if slices.Contains(seen, c) {
			continue
		}
		seen = append(seen, c)
		p, err := ClausePercent(service, c)
		if err != nil {
			return Refund{}, err
		}
		pct += p
	}
	return refund(min(pct, RefundCapPercent), amountCents)
}

// CancelRefund returns the refund owed when the customer cancels the order, before or after kickoff.
// A cancellation the rules refuse (等保 after kickoff) is an error wrapping ErrRefused; a service with
// no cancellation rule is an error wrapping ErrUnknown.
func CancelRefund(service string, kickedOff bool, amountCents int64) (Refund, error) {
	if err := knownService(service); err != nil {
		return Refund{}, err
	}
	i := slices.IndexFunc(cancellationRules, func(r CancellationRule) bool { return r.Service == service })
	if i < 0 {
		return Refund{}, fmt.Errorf("%w: no cancellation rule for service %q", ErrUnknown, service)
	}
	pct := cancellationRules[i].BeforeKickoff
	if kickedOff {
		pct = cancellationRules[i].AfterKickoff
	}
	if pct == 0 {
		return Refund{}, fmt.Errorf("%w: service %q cannot be cancelled for a refund once work has begun", ErrRefused, service)
	}
	return refund(pct, amountCents)
}

// Apply returns percent of amountCents, rounded half up, as a refund: what a case owes when its refund
// percent is known (a case view, a report). A percent outside 0–100 or a negative amount is an error.
func Apply(percent int, amountCents int64) (Refund, error) {
	if percent < 0 || percent > RefundCapPercent {
		return Refund{}, fmt.Errorf("%w: refund percent %d, want 0 to %d", ErrInvalid, percent, RefundCapPercent)
	}
	return refund(percent, amountCents)
}

// refund applies percent to amountCents, rounding half up.
func refund(percent int, amountCents int64) (Refund, error) {
	if amountCents < 0 {
		return Refund{}, fmt.Errorf("%w: amount %d cents is negative", ErrInvalid, amountCents)
	}
	if amountCents > math.MaxInt64/100 {
		return Refund{}, fmt.Errorf("%w: amount %d cents is too large", ErrInvalid, amountCents)
	}
	return Refund{Percent: percent, AmountCents: (amountCents*int64(percent) + 50) / 100}, nil
}
