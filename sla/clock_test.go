package sla

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"
)

func mustStart(t *testing.T, cal *Calendar, target time.Duration, start time.Time) Clock {
	t.Helper()
	c, err := StartClock(cal, "response", target, start)
	if err != nil {
		t.Fatalf("StartClock(%s, %v, %v) error: %v", cal.Name(), target, start, err)
	}
	return c
}

// TestClockSOSResponse follows the 20-minute response clock of an order paid on the eve of National Day.
func TestClockSOSResponse(t *testing.T) {
	cs := testCalendars(t)
	c, err := cs.StartClause("sos", "response", Inputs{}, at("2025-09-30 17:50"))
	if err != nil {
		t.Fatalf("StartClause(sos, response) error: %v", err)
	}
	if want := at("2025-10-09 09:10"); !c.DueAt().Equal(want) {
		t.Errorf("DueAt() = %v; want %v", c.DueAt(), want)
	}
	tests := []struct {
		now       string
		remaining time.Duration
		fraction  float64
		status    string
		event     string
		kind      string
	}{
		{"2025-09-30 17:50", 20 * time.Minute, 0, StatusOnTrack, "2025-09-30 18:00", EventWarning},
		{"2025-09-30 17:55", 15 * time.Minute, 0.25, StatusOnTrack, "2025-09-30 18:00", EventWarning},
		{"2025-10-05 12:00", 10 * time.Minute, 0.5, StatusAtRisk, "2025-10-09 09:06", EventWarning},
		{"2025-10-09 09:06", 4 * time.Minute, 0.8, StatusAtRisk, "2025-10-09 09:10:00.001", EventDue},
		// At the due instant the clause can still be met (a step completed now meets it): at risk, with the
		// due event one Resolution later; after it, breached.
		{"2025-10-09 09:10", 0, 1, StatusAtRisk, "2025-10-09 09:10:00.001", EventDue},
		{"2025-10-09 09:10:00.001", 0, 1, StatusBreached, "", ""},
		{"2025-10-10 09:10", 0, 1, StatusBreached, "", ""},
	}
	for _, tt := range tests {
		now := at(tt.now)
		if got := c.Remaining(now); got != tt.remaining {
			t.Errorf("Remaining(%s) = %v; want %v", tt.now, got, tt.remaining)
		}
		if got := c.Fraction(now); got != tt.fraction {
			t.Errorf("Fraction(%s) = %v; want %v", tt.now, got, tt.fraction)
		}
		if got := c.Status(now); got != tt.status {
			t.Errorf("Status(%s) = %v; want %v", tt.now, got, tt.status)
		}
		ev, ok := c.NextEvent(now)
		if tt.event == "" {
			if ok {
				t.Errorf("NextEvent(%s) = %+v; want none", tt.now, ev)
			}
			continue
		}
		if !ok || !ev.At.Equal(at(tt.event)) || ev.Kind != tt.kind {
			t.Errorf("NextEvent(%s) = %v %s, %v; want %s %s", tt.now, ev.At.In(shanghai), ev.Kind, ok, tt.event, tt.kind)
		}
	}
	done := c
	if err := done.Complete(at("2025-10-09 09:10")); err != nil {
		t.Fatalf("Complete at due: %v", err)
	}
	if got := done.Status(at("2025-10-20 00:00")); got != StatusMet {
		t.Errorf("completed at due: Status = %v; want %v", got, StatusMet)
	}
	late := c
	if err := late.Complete(at("2025-10-09 09:11")); err != nil {
		t.Fatalf("Complete late: %v", err)
	}
	if !late.Breached(at("2025-10-09 09:11")) || late.BreachedAt == nil || !late.BreachedAt.Equal(c.DueAt()) {
		t.Errorf("completed late: Breached = false or BreachedAt = %v; want breached at %v", late.BreachedAt, c.DueAt())
	}
	if err := late.Complete(at("2025-10-09 09:12")); !errors.Is(err, ErrInvalid) {
		t.Errorf("Complete twice err = %v; want ErrInvalid", err)
	}
}

func TestClockHandlingFromHosts(t *testing.T) {
	cs := testCalendars(t)
	tests := []struct {
		hosts int
		due   string
	}{{5, "2025-10-03 17:00"}, {6, "2025-10-04 17:00"}, {10, "2025-10-04 17:00"}, {11, "2025-10-05 17:00"}}
	for _, tt := range tests {
		c, err := cs.StartClause("sos", "handling", Inputs{Hosts: tt.hosts}, at("2025-09-30 17:00"))
		if err != nil || !c.DueAt().Equal(at(tt.due)) {
			t.Errorf("handling for %d hosts: DueAt = %v, %v; want %s", tt.hosts, c.DueAt().In(shanghai), err, tt.due)
		}
	}
	for _, bad := range []struct {
		service, clause string
		hosts           int
		want            error
	}{{"sos", "handling", 0, ErrInvalid}, {"sos", "effect", 1, ErrInvalid}, {"sos", "nope", 1, ErrUnknown}, {"nope", "handling", 1, ErrUnknown}} {
		if _, err := cs.StartClause(bad.service, bad.clause, Inputs{Hosts: bad.hosts}, at("2025-09-30 17:00")); !errors.Is(err, bad.want) {
			t.Errorf("StartClause(%s, %s, %d) err = %v; want %v", bad.service, bad.clause, bad.hosts, err, bad.want)
		}
	}
}

// TestClockPause: a pause of p moves due_at by exactly p of the clock's kind of time.
func TestClockPause(t *testing.T) {
	c5 := mustCal(t, Calendar5x8)
	c := mustStart(t, c5, 8*time.Hour, at("2025-06-10 10:00")) // due 06-11 10:00
	if err := c.Pause(at("2025-06-10 11:00")); err != nil {
		t.Fatalf("Pause: %v", err)
	}
	if !c.DueAt().IsZero() {
		t.Errorf("paused DueAt() = %v; want zero", c.DueAt())
	}
	if got := c.Remaining(at("2025-06-20 00:00")); got != 7*time.Hour {
		t.Errorf("paused Remaining = %v; want 7h (frozen)", got)
	}
	if _, ok := c.NextEvent(at("2025-06-10 11:00")); ok {
		t.Errorf("paused NextEvent = true; want none")
	}
	if got := c.Status(at("2025-06-20 00:00")); got != StatusPaused {
		t.Errorf("paused Status = %v; want %v (a paused clock neither runs nor breaches)", got, StatusPaused)
	}
	if err := c.Pause(at("2025-06-10 11:30")); !errors.Is(err, ErrInvalid) {
		t.Errorf("Pause twice err = %v; want ErrInvalid", err)
	}
	// Paused 11:00–15:00: 1 h of morning + 2 h of afternoon = 3 business hours, so due moves 3 h later.
	if err := c.Resume(c5, at("2025-06-10 15:00")); err != nil {
		t.Fatalf("Resume: %v", err)
	}
	if want := at("2025-06-11 14:00"); !c.DueAt().Equal(want) {
		t.Errorf("resumed DueAt() = %v; want %v", c.DueAt().In(shanghai), want)
	}
	if got := c.Fraction(at("2025-06-10 15:00")); got != 1.0/8 {
		t.Errorf("resumed Fraction = %v; want 0.125", got)
	}

	c7 := mustCal(t, Calendar7x24)
	n := mustStart(t, c7, time.Hour, at("2025-06-10 10:00"))
	_ = n.Pause(at("2025-06-10 10:20"))
	if err := n.Resume(c7, at("2025-06-10 10:05")); !errors.Is(err, ErrInvalid) {
		t.Errorf("Resume before the pause err = %v; want ErrInvalid", err)
	}
	if err := n.Resume(c5, at("2025-06-10 11:00")); !errors.Is(err, ErrInvalid) {
		t.Errorf("Resume with another calendar err = %v; want ErrInvalid", err)
	}
	if err := n.Resume(c7, at("2025-06-10 12:20")); err != nil {
		t.Fatalf("Resume: %v", err)
	}
	if want := at("2025-06-10 13:00"); !n.DueAt().Equal(want) {
		t.Errorf("7x24 resumed DueAt() = %v; want %v (paused 2 h)", n.DueAt().In(shanghai), want)
	}
}

func TestClockPauseAfterDueStaysBreached(t *testing.T) {
	c7 := mustCal(t, Calendar7x24)
	c := mustStart(t, c7, 15*time.Minute, at("2025-06-10 10:00"))
	_ = c.Pause(at("2025-06-10 10:30"))
	_ = c.Resume(c7, at("2025-06-10 11:00"))
	if got := c.Status(at("2025-06-10 11:00")); got != StatusBreached {
		t.Errorf("Status after pausing past due = %v; want %v", got, StatusBreached)
	}
	_ = c.Complete(at("2025-06-10 11:00"))
	if got := c.Status(at("2025-06-10 11:00")); got != StatusBreached {
		t.Errorf("Status completed after a breach = %v; want %v", got, StatusBreached)
	}
}

// TestClockRetarget: urgency raised from 1 h to 15 min; the elapsed time carries into the new target.
func TestClockRetarget(t *testing.T) {
	c7 := mustCal(t, Calendar7x24)
	c := mustStart(t, c7, time.Hour, at("2025-06-10 10:00"))
	if err := c.Retarget(c7, at("2025-06-10 10:05"), 15*time.Minute); err != nil {
		t.Fatalf("Retarget: %v", err)
	}
	if want := at("2025-06-10 10:15"); !c.DueAt().Equal(want) {
		t.Errorf("retargeted DueAt() = %v; want %v", c.DueAt().In(shanghai), want)
	}
	if got := c.Fraction(at("2025-06-10 10:05")); got != 1.0/3 {
		t.Errorf("retargeted Fraction = %v; want 1/3", got)
	}

	late := mustStart(t, c7, time.Hour, at("2025-06-10 10:00"))
	if err := late.Retarget(c7, at("2025-06-10 10:20"), 15*time.Minute); err != nil {
		t.Fatalf("Retarget: %v", err)
	}
	if !late.Breached(at("2025-06-10 10:20")) {
		t.Errorf("Retarget below the elapsed time: Breached = false; want true")
	}

	// Re-targeted exactly at its due instant, a clock has not breached (a step at that instant meets it).
	atDue := mustStart(t, c7, time.Hour, at("2025-06-10 10:00"))
	if err := atDue.Retarget(c7, at("2025-06-10 11:00"), 2*time.Hour); err != nil {
		t.Fatalf("Retarget at due: %v", err)
	}
	if atDue.Breached(at("2025-06-10 11:00")) || atDue.BreachedAt != nil {
		t.Errorf("retargeted to 2h at its 1h due instant: breached at %v; want not breached", atDue.BreachedAt)
	}

	// A stopped clock is judged again: a 20-minute response is met against 1 h and late against 15 min.
	stopped := mustStart(t, c7, time.Hour, at("2025-06-10 10:00"))
	if err := stopped.Complete(at("2025-06-10 10:20")); err != nil {
		t.Fatal(err)
	}
	if err := stopped.Retarget(c7, at("2025-06-10 10:30"), 30*time.Minute); err != nil || stopped.Breached(at("2025-06-10 10:30")) {
		t.Errorf("completed in 20m, retargeted to 30m: err %v, breached %v; want met", err, stopped.Breached(at("2025-06-10 10:30")))
	}
	if err := stopped.Retarget(c7, at("2025-06-10 10:31"), 15*time.Minute); err != nil {
		t.Fatalf("Retarget completed: %v", err)
	}
	if !stopped.Breached(at("2025-06-10 10:31")) || !stopped.DueAt().Equal(at("2025-06-10 10:15")) || stopped.State != ClockCompleted {
		t.Errorf("completed in 20m, retargeted to 15m: breached %v, due %v, state %s; want breached, due 10:15, completed",
			stopped.Breached(at("2025-06-10 10:31")), stopped.DueAt().In(shanghai), stopped.State)
	}

	lowered := mustStart(t, c7, 15*time.Minute, at("2025-06-10 10:00"))
	_ = lowered.Pause(at("2025-06-10 10:10"))
	if err := lowered.Retarget(c7, at("2025-06-10 10:30"), time.Hour); err != nil {
		t.Fatalf("Retarget while paused: %v", err)
	}
	if lowered.State != ClockPaused || lowered.Remaining(at("2025-06-10 10:30")) != 50*time.Minute {
		t.Errorf("Retarget while paused: state %s remaining %v; want paused, 50m", lowered.State, lowered.Remaining(at("2025-06-10 10:30")))
	}
	for _, d := range []time.Duration{0, -time.Minute} {
		if err := lowered.Retarget(c7, at("2025-06-10 10:30"), d); !errors.Is(err, ErrInvalid) {
			t.Errorf("Retarget(%v) err = %v; want ErrInvalid", d, err)
		}
	}
}

func TestClockBadInput(t *testing.T) {
	c7 := mustCal(t, Calendar7x24)
	for _, d := range []time.Duration{0, -time.Second} {
		if _, err := StartClock(c7, "x", d, at("2025-06-10 10:00")); !errors.Is(err, ErrInvalid) {
			t.Errorf("StartClock(target %v) err = %v; want ErrInvalid", d, err)
		}
	}
	if _, err := StartClock(c7, "", time.Hour, at("2025-06-10 10:00")); !errors.Is(err, ErrInvalid) {
		t.Errorf("StartClock(no clause) err = %v; want ErrInvalid", err)
	}
	c := mustStart(t, c7, time.Hour, at("2025-06-10 10:00"))
	if err := c.Pause(at("2025-06-10 09:00")); !errors.Is(err, ErrInvalid) {
		t.Errorf("Pause before start err = %v; want ErrInvalid", err)
	}
	if err := c.Resume(c7, at("2025-06-10 11:00")); !errors.Is(err, ErrInvalid) {
		t.Errorf("Resume a running clock err = %v; want ErrInvalid", err)
	}
	for _, th := range [][]float64{{0}, {1}, {0.8, 0.5}, {0.5, 0.5}} {
		if err := c.SetThresholds(th); !errors.Is(err, ErrInvalid) {
			t.Errorf("SetThresholds(%v) err = %v; want ErrInvalid", th, err)
		}
	}
	if err := c.SetThresholds([]float64{0.9}); err != nil {
		t.Fatalf("SetThresholds(0.9): %v", err)
	}
	if got := c.Status(at("2025-06-10 10:50")); got != StatusOnTrack {
		t.Errorf("Status at 83%% with threshold 0.9 = %v; want %v", got, StatusOnTrack)
	}
	if ev, _ := c.NextEvent(at("2025-06-10 10:00")); !ev.At.Equal(at("2025-06-10 10:54")) || ev.Threshold != 0.9 {
		t.Errorf("NextEvent with threshold 0.9 = %+v; want warning at 10:54", ev)
	}
}

// TestClockJSON: a clock survives the round trip through workflow state and continue-as-new.
func TestClockJSON(t *testing.T) {
	c5 := mustCal(t, Calendar5x8)
	c := mustStart(t, c5, 8*time.Hour, at("2025-09-30 11:00"))
	_ = c.Pause(at("2025-09-30 14:00"))
	_ = c.Resume(c5, at("2025-10-09 10:00"))
	data, err := json.Marshal(c)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	var back Clock
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatalf("Unmarshal(%s): %v", data, err)
	}
	for _, now := range []time.Time{at("2025-10-09 10:00"), at("2025-10-09 15:00"), at("2025-10-11 10:00")} {
		if back.Status(now) != c.Status(now) || back.Remaining(now) != c.Remaining(now) || !back.DueAt().Equal(c.DueAt()) {
			t.Errorf("after JSON at %v: %s %v %v; want %s %v %v", now, back.Status(now), back.Remaining(now), back.DueAt(),
				c.Status(now), c.Remaining(now), c.DueAt())
		}
		e1, ok1 := back.NextEvent(now)
		e2, ok2 := c.NextEvent(now)
		if ok1 != ok2 || !e1.At.Equal(e2.At) || e1.Kind != e2.Kind {
			t.Errorf("after JSON NextEvent(%v) = %+v; want %+v", now, e1, e2)
		}
	}
	// 2 h counted on 09-30 (11–12, 13–14), then 6 h from 10-09 10:00: 10–12, 13–17.
	if want := at("2025-10-09 17:00"); !back.DueAt().Equal(want) {
		t.Errorf("DueAt() = %v; want %v", back.DueAt().In(shanghai), want)
	}
	if !reflect.DeepEqual(back.Thresholds, c.Thresholds) {
		t.Errorf("Thresholds after JSON = %v; want %v", back.Thresholds, c.Thresholds)
	}
}
