package sla

import (
	"fmt"
	"slices"
	"time"
)

// services are the service names of the catalogue, as the purchase API carries them.
var services = []string{
	ServiceSOS, ServiceDengbao, ServiceButler, ServiceHosting, ServiceEscort,
	ServiceConsulting, ServiceTraining, ServiceAssessment, ServiceCodeAudit, ServiceOnboarding,
}

func knownService(s string) error {
	if !slices.Contains(services, s) {
		return fmt.Errorf("%w: service %q", ErrUnknown, s)
	}
	return nil
}

// Kinds of clause target.
const (
	// TargetBusiness is a fixed duration of business time in the clause's calendar.
	TargetBusiness = "business"
	// TargetNatural is a fixed duration of natural time (the clause's calendar is 7x24).
	TargetNatural = "natural"
	// TargetComputed is computed from Inputs by the clause's Rule, in natural time.
	TargetComputed = "computed"
	// TargetOutcome is a promise about a result, not a time: it has no clock, only a breach.
	TargetOutcome = "outcome"
)

// RuleSOSHandlingDays computes SOS handling time from the number of hosts (HandlingDays).
const RuleSOSHandlingDays = "sos_handling_days"

// RuleText says in words what a computed target's rule gives.
func RuleText(rule string) string {
	if rule == RuleSOSHandlingDays {
		return "3 natural days for up to 5 hosts, +1 day per further 5 (or part of 5)"
	}
	return rule
}

// StartsRequest is what starts the clock of a clause inside a subscription: a request.
const StartsRequest = "request received"

// Day is a natural day.
const Day = 24 * time.Hour

// WorkingDay is "1 working day" in SPEC.md: 8 business hours of the 5x8 calendar (09:00–12:00 and
// 13:00–18:00), so a purchase at 10:00 on a working day is due at 10:00 on the next working day.
const WorkingDay = 8 * time.Hour

// Clause is one promise of a service, as data: what it is called, the calendar its clock counts in,
// its target, and (for people and workflow authors) the events that start and stop its clock.
type Clause struct {
	Service  string        `json:"service"`
	Name     string        `json:"name"`
	Kind     string        `json:"kind"`               // TargetBusiness, TargetNatural, TargetComputed or TargetOutcome
	Calendar string        `json:"calendar,omitempty"` // empty for an outcome
	Target   time.Duration `json:"target,omitempty"`   // fixed target; zero when computed or an outcome
	Rule     string        `json:"rule,omitempty"`     // computes the target when Kind is TargetComputed
	Starts   string        `json:"starts,omitempty"`   // the instant the clock starts at
	Stops    string        `json:"stops,omitempty"`    // the event that completes it
}

// Inputs are the facts a computed target depends on.
type Inputs struct {
	// Hosts is the number of ECS hosts in the case's asset list.
	Hosts int `json:"hosts"`
}

// clauses is the SLA of every service that promises times (SPEC.md). Tests read it as the contract.
var clauses = []Clause{
	{Service: ServiceSOS, Name: ClauseAssets, Kind: TargetNatural, Calendar: Calendar7x24, Target: AssetWindow,
		Starts: "paid_at", Stops: "asset list submitted (the customer's deadline; later lists are refused)"},
	{Service: ServiceSOS, Name: ClauseResponse, Kind: TargetBusiness, Calendar: Calendar5x8, Target: 20 * time.Minute,
		Starts: "paid_at", Stops: "engineer's first contact"},
	{Service: ServiceSOS, Name: ClauseHandling, Kind: TargetComputed, Calendar: Calendar7x24, Rule: RuleSOSHandlingDays,
		Starts: "asset list submitted", Stops: "report submitted"},
	{Service: ServiceSOS, Name: ClauseEffect, Kind: TargetOutcome,
		Stops: "trojans and viruses cleaned; breached when they cannot be"},

	{Service: ServiceButler, Name: ClauseOnboardingContact, Kind: TargetBusiness, Calendar: Calendar5x8, Target: WorkingDay,
		Starts: "paid_at", Stops: "customer contacted and channel opened"},
	{Service: ServiceButler, Name: ClauseIncidentUrgent, Kind: TargetNatural, Calendar: Calendar7x24, Target: 15 * time.Minute,
		Starts: StartsRequest, Stops: "response"},
	{Service: ServiceButler, Name: ClauseIncidentNormal, Kind: TargetNatural, Calendar: Calendar7x24, Target: time.Hour,
		Starts: StartsRequest, Stops: "response"},
	{Service: ServiceButler, Name: ClauseIncidentResolve, Kind: TargetNatural, Calendar: Calendar7x24, Target: 5 * Day,
		Starts: StartsRequest, Stops: "incident resolved (emergency edition)"},
	{Service: ServiceButler, Name: ClauseVulnHigh, Kind: TargetNatural, Calendar: Calendar7x24, Target: 15 * time.Minute,
		Starts: StartsRequest, Stops: "response"},
	{Service: ServiceButler, Name: ClauseVulnMedium, Kind: TargetNatural, Calendar: Calendar7x24, Target: time.Hour,
		Starts: StartsRequest, Stops: "response"},
	{Service: ServiceButler, Name: ClauseVulnLow, Kind: TargetNatural, Calendar: Calendar7x24, Target: 4 * time.Hour,
		Starts: StartsRequest, Stops: "response"},
	{Service: ServiceButler, Name: ClauseArchitectureConsulting, Kind: TargetNatural, Calendar: Calendar7x24, Target: time.Hour,
		Starts: StartsRequest, Stops: "response"},
}

// Clauses returns the clauses of service, in table order; none for a known service without an SLA.
func Clauses(service string) ([]Clause, error) {
	if err := knownService(service); err != nil {
		return nil, err
	}
	var out []Clause
	for _, c := range clauses {
		if c.Service == service {
			out = append(out, c)
		}
	}
	return out, nil
}

// LookupClause returns the clause called name of service.
func LookupClause(service, name string) (Clause, error) {
	if err := knownService(service); err != nil {
		return Clause{}, err
	}
	for _, c := range clauses {
		if c.Service == service && c.Name == name {
			return c, nil
		}
	}
	return Clause{}, fmt.Errorf("%w: clause %q of service %q", ErrUnknown, name, service)
}

// TargetFor returns the clause's target for the given inputs, in its calendar's time. An outcome clause
// has no target, and a computed one needs valid inputs.
func (c Clause) TargetFor(in Inputs) (time.Duration, error) {
	switch c.Kind {
	case TargetBusiness, TargetNatural:
		return c.Target, nil
	case TargetComputed:
		if c.Rule != RuleSOSHandlingDays {
			return 0, fmt.Errorf("%w: clause %s: rule %q", ErrUnknown, c.Name, c.Rule)
		}
		days, err := HandlingDays(in.Hosts)
		if err != nil {
			return 0, fmt.Errorf("clause %s: %w", c.Name, err)
		}
		if days > maxWalkDays {
			return 0, fmt.Errorf("%w: clause %s: %d hosts give %d days, more than %d", ErrInvalid, c.Name, in.Hosts, days, maxWalkDays)
		}
		return time.Duration(days) * Day, nil
	case TargetOutcome:
		return 0, fmt.Errorf("%w: clause %s is an outcome, it has no clock", ErrInvalid, c.Name)
	default:
		return 0, fmt.Errorf("%w: clause %s: kind %q", ErrUnknown, c.Name, c.Kind)
	}
}

// HandlingDays returns the SOS handling time in natural days for hosts ECS hosts: 3 for up to 5, plus
// 1 for each further 5 or part of 5 (5 → 3, 6 → 4, 10 → 4, 11 → 5). hosts must be positive.
func HandlingDays(hosts int) (int, error) {
	if hosts <= 0 {
		return 0, fmt.Errorf("%w: hosts %d, want at least 1", ErrInvalid, hosts)
	}
	return 3 + (max(0, hosts-5)+4)/5, nil
}
