package workflows_test

import (
	"testing"
	"time"

	"github.com/steward-oss/steward/sla"
	"github.com/steward-oss/steward/workflows"
)

// TestClocksBook holds the clock engine's book-keeping to SPEC's SOS figures: a response met at its due
// instant owes nothing, a handling clock stopped late is raised once and costs 50%, an outcome clause
// breached adds 100%, and the refund percent is capped by sla.
func TestClocksBook(t *testing.T) {
	cs := workflows.Calendars()
	paid := time.Date(2025, 6, 10, 10, 0, 0, 0, sla.China) // a Tuesday, working hours
	response, err := cs.StartClause(sla.ServiceSOS, sla.ClauseResponse, sla.Inputs{}, paid)
	if err != nil {
		t.Fatal(err)
	}
	handling, err := cs.StartClause(sla.ServiceSOS, sla.ClauseHandling, sla.Inputs{Hosts: 6}, paid)
	if err != nil {
		t.Fatal(err)
	}
	var b workflows.Clocks
	b.Add(response)
	b.Add(handling)
	if status, next := b.Status(paid); status != workflows.SLAOnTrack || next == nil || !next.Equal(response.Due) {
		t.Errorf("Status at start = %s, %v; want on_track, next %v", status, next, response.Due)
	}

	due := response.Due
	if got := b.Complete(sla.ClauseResponse, due, due); got != "met at the due instant (due "+workflows.When(due)+")" {
		t.Errorf("Complete(response at its due instant) = %q; want met", got)
	}
	if late := b.Late(due); len(late) != 0 {
		t.Errorf("Late after a response met at the due instant = %v; want none", late)
	}

	after := handling.Due.Add(time.Hour) // 6 hosts: 4 natural days
	if want := paid.Add(4 * sla.Day); !handling.Due.Equal(want) {
		t.Errorf("handling due %v; want %v", handling.Due, want)
	}
	if got := b.Complete(sla.ClauseHandling, after, after); got != "late by 1 h (due "+workflows.When(handling.Due)+")" {
		t.Errorf("Complete(handling an hour late) = %q; want late", got)
	}
	if late := b.Late(after); len(late) != 1 || late[0] != 1 {
		t.Errorf("Late after handling stopped late = %v; want [1]", late)
	}
	if late := b.Late(after); len(late) != 0 {
		t.Errorf("Late a second time = %v; want none (raised once)", late)
	}
	b.Missed = append(b.Missed, sla.ClauseEffect)
	clauses := b.BreachedClauses()
	if len(clauses) != 2 || clauses[0] != sla.ClauseHandling || clauses[1] != sla.ClauseEffect {
		t.Errorf("BreachedClauses = %v; want [handling effect]", clauses)
	}
	r, err := sla.Compensate(sla.ServiceSOS, clauses, 500000)
	if err != nil || r.Percent != 100 || r.AmountCents != 500000 {
		t.Errorf("Compensate(%v) = %+v, %v; want 100%%, capped", clauses, r, err)
	}
	entries := b.Entries(sla.ServiceSOS, after)
	if len(entries) != 2 || entries[0].Breached || !entries[1].Breached || entries[1].RefundPercent != 50 {
		t.Errorf("Entries = %+v; want response met, handling breached at 50%%", entries)
	}
	if status, next := b.Status(after); status != workflows.SLABreached || next != nil {
		t.Errorf("Status after = %s, %v; want breached, no next deadline", status, next)
	}
}

// TestReplanValues: the SlaReplan search attribute says which years' data a running clock waits for, and
// which years re-planned one; a clock that completed waits for nothing.
func TestReplanValues(t *testing.T) {
	cs := workflows.Calendars()
	eve := time.Date(2026, 12, 31, 17, 50, 0, 0, sla.China) // 20 business minutes run into 2027, which has no data
	var b workflows.Clocks
	for _, clause := range []string{sla.ClauseResponse, sla.ClauseHandling} {
		c, err := cs.StartClause(sla.ServiceSOS, clause, sla.Inputs{Hosts: 1}, eve)
		if err != nil {
			t.Fatal(err)
		}
		b.Add(c)
	}
	if got := b.ReplanValues(); len(got) != 1 || got[0] != "awaiting:2027" {
		t.Errorf("ReplanValues() = %v; want [awaiting:2027] (the 5x8 response clock; handling counts natural time)", got)
	}
	b.Replanned = []int{2026}
	b.Complete(sla.ClauseResponse, eve.Add(5*time.Minute), eve.Add(5*time.Minute))
	if got := b.ReplanValues(); len(got) != 1 || got[0] != "replanned:2026" {
		t.Errorf("ReplanValues() after the response = %v; want [replanned:2026]", got)
	}
	r := workflows.ClockReplan{Clause: sla.ClauseResponse, Years: []int{2027}, Versions: []string{"cn-2027@1a2b3c4d"}, From: eve,
		WasDue: time.Date(2027, 1, 1, 9, 10, 0, 0, sla.China), Due: time.Date(2027, 1, 4, 9, 10, 0, 0, sla.China)}
	if got, want := workflows.ReplanDetail(r), "response clock planned without 2027's holiday data (weekends only); re-planned from 2026-12-31 17:50 CST with cn-2027@1a2b3c4d: due 2027-01-04 09:10 CST (was 2027-01-01 09:10 CST)"; got != want {
		t.Errorf("ReplanDetail = %q; want %q", got, want)
	}
}
