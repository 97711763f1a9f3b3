package sla

import (
	"fmt"
	"time"
)

// A customer's verdict on what a partner hands over: the SOS report (SPEC.md: the customer confirms it,
// or disputes it, which sends it back) and an engagement's deliverable. SPEC.md is silent on a customer
// who does neither; steward's rule is that each version submitted waits a verdict window of natural time,
// then counts as accepted, and that an SOS customer is reminded part-way through.

// VerdictReminder is how long after an SOS report version's submission a customer who has neither
// confirmed nor disputed it is reminded: 3 natural days.
const VerdictReminder = 3 * Day

// MaxVerdictWindow bounds a verdict window set for one case (VerdictTerms.Override).
const MaxVerdictWindow = 90 * Day

// VerdictTerms are how long a service's customer has for a verdict, in natural time from the submission
// of the version waiting for it.
type VerdictTerms struct {
	// Window is how long until the version is deemed accepted.
	Window time.Duration `json:"window"`
	// Remind is how long until the customer is reminded; zero for no reminder.
	Remind time.Duration `json:"remind,omitempty"`
}

// verdictTerms are the services whose customer gives a verdict, and their terms. Every window is
// VerdictWindow (7 natural days); only SOS reminds, after VerdictReminder.
var verdictTerms = map[string]VerdictTerms{
	ServiceSOS:        {Window: VerdictWindow, Remind: VerdictReminder},
	ServiceConsulting: {Window: VerdictWindow},
	ServiceTraining:   {Window: VerdictWindow},
	ServiceAssessment: {Window: VerdictWindow},
	ServiceCodeAudit:  {Window: VerdictWindow},
	ServiceOnboarding: {Window: VerdictWindow},
}

// Verdict returns the verdict terms of service; ErrUnknown for a service whose customer gives no verdict.
func Verdict(service string) (VerdictTerms, error) {
	v, ok := verdictTerms[service]
	if !ok {
		return VerdictTerms{}, fmt.Errorf("%w: service %q takes no verdict", ErrUnknown, service)
	}
	return v, nil
}

// Override returns the terms with a case's own window and reminder, each zero to keep the service's. A
// negative duration, or a window above MaxVerdictWindow, is ErrInvalid. A reminder that would not come
// before the window closes is dropped (a case given a window shorter than the service's reminder).
func (v VerdictTerms) Override(window, remind time.Duration) (VerdictTerms, error) {
	switch {
	case window < 0 || window > MaxVerdictWindow:
		return VerdictTerms{}, fmt.Errorf("%w: verdict window %v: between 0 and %v", ErrInvalid, window, MaxVerdictWindow)
	case remind < 0:
		return VerdictTerms{}, fmt.Errorf("%w: verdict reminder %v is negative", ErrInvalid, remind)
	}
	if window > 0 {
		v.Window = window
	}
	if remind > 0 {
		v.Remind = remind
	}
	if v.Remind >= v.Window {
		v.Remind = 0
	}
	return v, nil
}

// Due is when a version submitted at submitted is deemed accepted without a verdict.
func (v VerdictTerms) Due(submitted time.Time) time.Time { return submitted.Add(v.Window) }

// ReminderAt is when the customer is reminded of a version submitted at submitted, and false when the
// terms have no reminder.
func (v VerdictTerms) ReminderAt(submitted time.Time) (time.Time, bool) {
	if v.Remind <= 0 {
		return time.Time{}, false
	}
	return submitted.Add(v.Remind), true
}
