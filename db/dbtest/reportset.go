package dbtest

import (
	"context"
	"testing"
	"time"

	"github.com/steward-oss/steward/db"
)

// The hand-made set of docs/reports.md's worked example and the report tests (db/reports_sla_test.go,
// api/reports_test.go). ReportT is 10:00 on 2 November 2026, Beijing time.
var ReportT = time.Date(2026, 11, 2, 2, 0, 0, 0, time.UTC)

// ReportEvent is a timeline line of a report case.
type ReportEvent struct {
	Event, Partner string
	At             time.Time
}

// ReportClock is an SLA clock of a report case.
type ReportClock struct {
	Clause, Partner, State, Status string
	Started                        time.Time
	Took                           time.Duration // completed after started; 0: not completed
}

// ReportCase is one case of the set.
type ReportCase struct {
	Order, Service, Partner, Currency string
	Amount                            int64
	Closed                            time.Time // zero: open
	Rating                            int
	Events                            []ReportEvent
	Clocks                            []ReportClock
	Refunds                           []ReportRefund
}

// ReportRefund is a refund of a report case, in its state.
type ReportRefund struct {
	Clause, State string
	Cents         int64
}

func reportAt(d time.Duration) time.Time { return ReportT.Add(d) }

// ReportSet lists the cases; their partners p1, p2 and p3 are the caller's to add.
func ReportSet() []ReportCase {
	const h, m = time.Hour, time.Minute
	oct31 := time.Date(2026, 10, 31, 15, 0, 0, 0, time.UTC) // 23:00 on 31 October, Beijing
	return []ReportCase{
		{Order: "A", Service: "sos", Partner: "p1", Currency: "CNY", Amount: 1000_00, Closed: reportAt(24 * h), Rating: 5,
			Events: []ReportEvent{{"partner_offered", "p1", reportAt(-h)}, {"offer_timed_out", "p1", reportAt(-30 * m)}, {"partner_offered", "p1", reportAt(0)}, {"partner_accepted", "p1", reportAt(10 * m)}},
			Clocks: []ReportClock{{"response", "p1", "completed", "met", reportAt(0), 30 * m}, {"handling", "p1", "completed", "met", reportAt(30 * m), 2 * h}}},
		{Order: "B", Service: "sos", Partner: "p1", Currency: "CNY", Amount: 2000_00, Closed: reportAt(48 * h), Rating: 3,
			Events: []ReportEvent{{"partner_offered", "p2", reportAt(0)}, {"partner_declined", "p2", reportAt(5 * m)}, {"partner_offered", "p1", reportAt(6 * m)},
				{"partner_accepted", "p1", reportAt(26 * m)}, {"report_disputed", "p1", reportAt(24 * h)}},
			Clocks:  []ReportClock{{"response", "p1", "completed", "breached", reportAt(0), 3 * h}, {"handling", "p1", "completed", "met", reportAt(3 * h), 2 * h}},
			Refunds: []ReportRefund{{"response", db.RefundPaid, 1000_00}}},
		{Order: "C", Service: "dengbao", Partner: "p2", Currency: "USD", Amount: 500_00,
			Events:  []ReportEvent{{"partner_offered", "p2", reportAt(h)}, {"partner_accepted", "p2", reportAt(h + 40*m)}},
			Clocks:  []ReportClock{{"handling", "p2", "running", "breached", reportAt(h), 0}, {"effect", "p2", "running", "on_track", reportAt(h), 0}},
			Refunds: []ReportRefund{{"handling", db.RefundWaived, 100_00}}},
		{Order: "D", Service: "sos", Partner: "", Currency: "CNY", Amount: 1000_00,
			Events:  []ReportEvent{{"partner_offered", "p2", reportAt(2 * h)}, {"offer_timed_out", "p2", reportAt(2*h + 30*m)}},
			Clocks:  []ReportClock{{"response", "", "running", "breached", reportAt(2 * h), 0}},
			Refunds: []ReportRefund{{"response", db.RefundOwed, 500_00}}},
		{Order: "E", Service: "sos", Partner: "p1", Currency: "CNY", Amount: 1000_00, Closed: reportAt(5 * h),
			Clocks:  []ReportClock{{"response", "p1", "completed", "stopped", reportAt(4 * h), time.Hour}},
			Refunds: []ReportRefund{{"cancellation", db.RefundOwed, 1000_00}}},
		{Order: "G", Service: "sos", Partner: "p2", Currency: "CNY", Amount: 1000_00, Closed: time.Date(2026, 11, 1, 4, 0, 0, 0, time.UTC), Rating: 1,
			Events: []ReportEvent{{"partner_offered", "p2", oct31}, {"partner_accepted", "p2", oct31.Add(80 * m)}},
			Clocks: []ReportClock{{"handling", "p2", "completed", "met", oct31.Add(90 * m), h}}}, // 00:30 on 1 November, Beijing
		{Order: "H", Service: "onboarding", Partner: "p2", Currency: "CNY", Amount: 300_00, Closed: reportAt(48 * h), Rating: 4,
			Events: []ReportEvent{{"partner_offered", "p2", reportAt(23 * h)}, {"partner_accepted", "p2", reportAt(23*h + 5*m)}},
			Clocks: []ReportClock{{"onboarding_contact", "p2", "completed", "met", reportAt(24 * h), 90 * m}}},
		{Order: "I", Service: "sos", Partner: "p1", Currency: "CNY", Amount: 1000_00,
			Events: []ReportEvent{{"partner_offered", "p1", reportAt(23*h + 50*m)}, {"partner_accepted", "p1", reportAt(24 * h)}},
			Clocks: []ReportClock{{"response", "p1", "paused", "paused", reportAt(24 * h), 0}}},
		{Order: "K", Service: "sos", Partner: "p2", Currency: "CNY", Amount: 1000_00},
		{Order: "F", Service: "sos", Partner: "p1", Currency: "CNY", Amount: 1000_00, Closed: time.Date(2026, 10, 16, 2, 0, 0, 0, time.UTC), Rating: 4,
			Events: []ReportEvent{{"partner_offered", "p1", time.Date(2026, 10, 15, 2, 0, 0, 0, time.UTC)}, {"partner_accepted", "p1", time.Date(2026, 10, 15, 2, 15, 0, 0, time.UTC)}},
			Clocks: []ReportClock{{"response", "p1", "completed", "met", time.Date(2026, 10, 15, 2, 15, 0, 0, time.UTC), h}}},
	}
}

// SeedReportCase writes c's timeline lines, clocks and refunds for the case caseID, whose row the caller
// created, and its rating and closing; paid and waived refunds are marked so.
func SeedReportCase(tb testing.TB, s *db.Store, caseID string, c ReportCase) {
	tb.Helper()
	ctx := context.Background()
	row, err := s.GetCase(ctx, caseID)
	must(tb, err)
	row.Rating, row.Revision = c.Rating, 1
	if !c.Closed.IsZero() {
		row.Status, row.ClosedAt = db.CaseClosed, &c.Closed
	}
	must(tb, s.UpsertCase(ctx, row))
	offered := map[string]time.Time{} // the latest offer to each partner, which an acceptance answers
	for i, e := range c.Events {
		ev := &db.CaseEvent{Key: caseID + "/e/" + string(rune('a'+i)), CaseID: caseID, At: e.At, Actor: "system", Event: e.Event, PartnerID: e.Partner}
		switch e.Event {
		case "partner_offered":
			offered[e.Partner] = e.At
		case "partner_accepted":
			if at, ok := offered[e.Partner]; ok {
				ev.OfferedAt = &at
			}
		}
		_, err := s.AppendEvent(ctx, ev)
		must(tb, err)
	}
	for i, k := range c.Clocks {
		clock := db.SLAClock{Key: caseID + "/clock/" + string(rune('0'+i)), CaseID: caseID, Service: c.Service, Clause: k.Clause, PartnerID: k.Partner,
			State: k.State, Status: k.Status, StartedAt: k.Started, UpdatedAt: k.Started}
		if k.Took > 0 {
			done := k.Started.Add(k.Took)
			clock.CompletedAt = &done
		}
		if k.Status == "breached" {
			b := k.Started.Add(time.Minute)
			clock.BreachedAt = &b
		}
		_, err := s.NewInsert().Model(&clock).Exec(ctx)
		must(tb, err)
	}
	for _, r := range c.Refunds {
		ref := db.Refund{Key: caseID + "/refund/" + r.Clause, CaseID: caseID, Clause: r.Clause, Percent: 50, AmountCents: r.Cents, Reason: "breached", CreatedAt: reportAt(6 * time.Hour)}
		_, err := s.RecordRefund(ctx, &ref)
		must(tb, err)
		switch r.State {
		case db.RefundPaid:
			_, _, err = s.MarkRefundPaid(ctx, ref.ID, reportAt(30*time.Hour), "WX-"+c.Order)
		case db.RefundWaived:
			_, _, err = s.WaiveRefund(ctx, ref.ID, "mgr", "goodwill", reportAt(30*time.Hour))
		}
		must(tb, err)
	}
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}
