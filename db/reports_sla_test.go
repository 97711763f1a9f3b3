package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/db/dbtest"
)

// The hand-made set is dbtest.ReportSet; T is 10:00 on 2 November 2026, Beijing time.
var rT = dbtest.ReportT

func at(d time.Duration) time.Time { return rT.Add(d) }

// seedReportSet writes the set straight to the store, with partners p1 (capacity 4), p2 (capacity 2)
// and p3 (capacity 3, no work).
func seedReportSet(t *testing.T, s *db.Store) {
	t.Helper()
	ctx := context.Background()
	for _, p := range []db.Partner{{ID: "p1", Name: "安全一", Capacity: 4, Active: true}, {ID: "p2", Name: "Beta", Capacity: 2, Active: true},
		{ID: "p3", Name: "Idle", Capacity: 3}} {
		require.NoError(t, s.AddPartner(ctx, &p))
	}
	for _, c := range dbtest.ReportSet() {
		caseID := refundCase(t, s, c.Order, c.Service, c.Partner, c.Currency, c.Amount, at(-2*time.Hour))
		dbtest.SeedReportCase(t, s, caseID, c)
	}
}

func pct(v float64) *float64 { return &v }
func secs(v int64) *int64    { return &v }

// november is the window of the set: November 2026 in Beijing time.
var (
	novFrom = time.Date(2026, 11, 1, 0, 0, 0, 0, time.FixedZone("CST", 8*3600))
	novTo   = time.Date(2026, 12, 1, 0, 0, 0, 0, time.FixedZone("CST", 8*3600))
)

type money = map[string]db.RefundMoney

// TestSLAReport computes every figure of the SLA report on the hand-made set, for each grouping, with
// the filters and the window.
func TestSLAReport(t *testing.T) {
	s := dbtest.MustOpen(t)
	seedReportSet(t, s)
	ctx := ctxT(t)
	report := func(f db.SLAReportFilter) db.SLAReport {
		t.Helper()
		r, err := s.SLAReport(ctx, f)
		require.NoError(t, err)
		return r
	}
	nov := db.SLAReportFilter{From: novFrom, To: novTo}

	r := report(nov)
	assert.Equal(t, []db.SLAGroup{
		{Key: "dengbao", Service: "dengbao", Started: 2, Breached: 1, Open: 1, AttainmentPct: pct(0), Refunds: money{"USD": {Waived: 100_00}}},
		{Key: "onboarding", Service: "onboarding", Started: 1, Met: 1, AttainmentPct: pct(100), MedianToMeet: secs(5400), P90ToMeet: secs(5400), Refunds: money{}},
		{Key: "sos", Service: "sos", Started: 8, Met: 4, Breached: 2, Open: 1, Stopped: 1, AttainmentPct: pct(66.67), MedianToMeet: secs(3600), P90ToMeet: secs(7200),
			Refunds: money{"CNY": {Owed: 1500_00, Paid: 1000_00}}},
	}, r.Groups)
	assert.Equal(t, db.SLAGroup{Started: 11, Met: 5, Breached: 3, Open: 2, Stopped: 1, AttainmentPct: pct(62.5), MedianToMeet: secs(5400), P90ToMeet: secs(7200),
		Refunds: money{"CNY": {Owed: 1500_00, Paid: 1000_00}, "USD": {Waived: 100_00}}}, r.Total)

	f := nov
	f.GroupBy = db.GroupClause
	assert.Equal(t, []db.SLAGroup{
		{Key: "dengbao/effect", Service: "dengbao", Clause: "effect", Started: 1, Open: 1, Refunds: money{}},
		{Key: "dengbao/handling", Service: "dengbao", Clause: "handling", Started: 1, Breached: 1, AttainmentPct: pct(0), Refunds: money{"USD": {Waived: 100_00}}},
		{Key: "onboarding/onboarding_contact", Service: "onboarding", Clause: "onboarding_contact", Started: 1, Met: 1, AttainmentPct: pct(100), MedianToMeet: secs(5400), P90ToMeet: secs(5400), Refunds: money{}},
		{Key: "sos/handling", Service: "sos", Clause: "handling", Started: 3, Met: 3, AttainmentPct: pct(100), MedianToMeet: secs(7200), P90ToMeet: secs(7200), Refunds: money{}},
		{Key: "sos/response", Service: "sos", Clause: "response", Started: 5, Met: 1, Breached: 2, Open: 1, Stopped: 1, AttainmentPct: pct(33.33), MedianToMeet: secs(1800), P90ToMeet: secs(1800),
			Refunds: money{"CNY": {Owed: 1500_00, Paid: 1000_00}}},
	}, report(f).Groups)

	f.GroupBy = db.GroupPartner
	assert.Equal(t, []db.SLAGroup{
		{Key: "", Started: 1, Breached: 1, AttainmentPct: pct(0), Refunds: money{"CNY": {Owed: 500_00}}},
		{Key: "p1", PartnerID: "p1", Started: 6, Met: 3, Breached: 1, Open: 1, Stopped: 1, AttainmentPct: pct(75), MedianToMeet: secs(7200), P90ToMeet: secs(7200),
			Refunds: money{"CNY": {Owed: 1000_00, Paid: 1000_00}}},
		{Key: "p2", PartnerID: "p2", Started: 4, Met: 2, Breached: 1, Open: 1, AttainmentPct: pct(66.67), MedianToMeet: secs(3600), P90ToMeet: secs(5400),
			Refunds: money{"USD": {Waived: 100_00}}},
	}, report(f).Groups)

	// Months in Beijing time: G's clock started at 16:30 UTC on 31 October, 00:30 on 1 November in Beijing.
	all := report(db.SLAReportFilter{GroupBy: db.GroupMonth})
	require.Len(t, all.Groups, 2)
	assert.Equal(t, db.SLAGroup{Key: "2026-10", Month: "2026-10", Started: 1, Met: 1, AttainmentPct: pct(100), MedianToMeet: secs(3600), P90ToMeet: secs(3600), Refunds: money{}}, all.Groups[0])
	novRow := r.Total
	novRow.Key, novRow.Month = "2026-11", "2026-11"
	assert.Equal(t, novRow, all.Groups[1])
	assert.Equal(t, int64(12), all.Total.Started)
	f.GroupBy = db.GroupMonth
	assert.Equal(t, []db.SLAGroup{novRow}, report(f).Groups, "the window starts at midnight Beijing time")

	// Filters.
	f = db.SLAReportFilter{From: novFrom, To: novTo, Service: "sos", PartnerID: "p1", GroupBy: db.GroupClause}
	got := report(f)
	require.Len(t, got.Groups, 2)
	assert.Equal(t, db.SLAGroup{Key: "sos/handling", Service: "sos", Clause: "handling", Started: 2, Met: 2, AttainmentPct: pct(100), MedianToMeet: secs(7200), P90ToMeet: secs(7200), Refunds: money{}}, got.Groups[0])
	assert.Equal(t, db.SLAGroup{Key: "sos/response", Service: "sos", Clause: "response", Started: 4, Met: 1, Breached: 1, Open: 1, Stopped: 1, AttainmentPct: pct(50),
		MedianToMeet: secs(1800), P90ToMeet: secs(1800), Refunds: money{"CNY": {Owed: 1000_00, Paid: 1000_00}}}, got.Groups[1])
	// From inclusive, to exclusive: [T, T+1h) holds A's two clocks and B's response.
	got = report(db.SLAReportFilter{From: rT, To: rT.Add(time.Hour)})
	require.Len(t, got.Groups, 1)
	assert.Equal(t, int64(3), got.Groups[0].Started)
	assert.Equal(t, int64(2), got.Groups[0].Met)
	got = report(db.SLAReportFilter{From: rT.Add(time.Millisecond), To: rT.Add(30 * time.Minute)})
	assert.Empty(t, got.Groups, "neither the clocks at T nor the one at T+30m")
	assert.Equal(t, db.SLAGroup{Refunds: money{}}, got.Total)
	assert.Empty(t, report(db.SLAReportFilter{Service: "escort"}).Groups)

	_, err := s.SLAReport(ctx, db.SLAReportFilter{GroupBy: "week"})
	assert.ErrorIs(t, err, db.ErrInvalid)
}

// TestPartnerReport computes every column of the scorecard on the hand-made set.
func TestPartnerReport(t *testing.T) {
	s := dbtest.MustOpen(t)
	seedReportSet(t, s)
	ctx := ctxT(t)
	rows, err := s.PartnerReport(ctx, db.PartnerReportFilter{From: novFrom, To: novTo})
	require.NoError(t, err)
	assert.Equal(t, []db.PartnerScore{
		{PartnerID: "p1", Name: "安全一", Active: true, Offers: 4, Accepted: 3, TimedOut: 1, MedianToAccept: secs(600), MedianToContact: secs(1800),
			ResponseMet: 1, ResponseBreached: 1, ResponsePct: pct(50), HandlingMet: 2, HandlingPct: pct(100), Breaches: 1,
			Refunds: money{"CNY": {Owed: 1000_00, Paid: 1000_00}}, Disputed: 1, Ratings: 2, AverageRating: pct(4), OpenCases: 1, Capacity: 4, LoadPct: pct(25)},
		{PartnerID: "p2", Name: "Beta", Active: true, Offers: 4, Accepted: 3, Declined: 1, TimedOut: 1, MedianToAccept: secs(2400), MedianToContact: secs(5400),
			ResponseMet: 1, ResponsePct: pct(100), HandlingMet: 1, HandlingBreached: 1, HandlingPct: pct(50), Breaches: 1,
			Refunds: money{"USD": {Waived: 100_00}}, Ratings: 2, AverageRating: pct(2.5), OpenCases: 2, Capacity: 2, LoadPct: pct(100)},
		{PartnerID: "p3", Name: "Idle", Capacity: 3, LoadPct: pct(0), Refunds: money{}},
		{PartnerID: "", ResponseBreached: 1, ResponsePct: pct(0), Breaches: 1, Refunds: money{"CNY": {Owed: 500_00}}},
	}, rows)

	// Without a window F's October work counts too: its offer, acceptance (15 min), contact (1 h), rating.
	rows, err = s.PartnerReport(ctx, db.PartnerReportFilter{})
	require.NoError(t, err)
	p1 := rows[0]
	assert.Equal(t, int64(5), p1.Offers)
	assert.Equal(t, int64(4), p1.Accepted)
	assert.Equal(t, secs(600), p1.MedianToAccept, "600, 600, 900, 1200")
	assert.Equal(t, secs(3600), p1.MedianToContact, "1800, 3600, 10800")
	assert.Equal(t, int64(3), p1.Ratings)
	assert.Equal(t, pct(4), p1.AverageRating)
	assert.Equal(t, int64(5), rows[1].Offers, "p2's offer of G on 31 October")

	// A window with nothing in it: every partner, no figures, the open cases as they are now.
	rows, err = s.PartnerReport(ctx, db.PartnerReportFilter{From: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)})
	require.NoError(t, err)
	require.Len(t, rows, 3, "no row for no partner without its clocks")
	assert.Equal(t, db.PartnerScore{PartnerID: "p2", Name: "Beta", Active: true, OpenCases: 2, Capacity: 2, LoadPct: pct(100), Refunds: money{}}, rows[1])
}

// TestPercentile: nearest rank, whole seconds.
func TestPercentile(t *testing.T) {
	assert.Nil(t, db.Percentile(nil, 50))
	ds := []time.Duration{4 * time.Second, time.Second, 3 * time.Second, 2*time.Second + 900*time.Millisecond}
	assert.Equal(t, secs(2), db.Percentile(ds, 50))
	assert.Equal(t, secs(4), db.Percentile(ds, 90))
	assert.Equal(t, secs(1), db.Percentile(ds, 1))
	assert.Equal(t, secs(4), db.Percentile(ds, 100))
	assert.Nil(t, db.Attainment(0, 0))
	assert.Equal(t, pct(66.67), db.Attainment(2, 1))
}
