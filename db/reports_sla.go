package db

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/steward-oss/steward/sla"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
)

// The SLA and partner reports (GET /v1/reports/sla and /v1/reports/partners; definitions in docs/reports.md).
// Counts and sums are SQL aggregates; medians and percentiles are computed here from the durations the
// queries return, the same on SQLite and PostgreSQL.

// Clock statuses the reports count (the case view's words, as sla_clocks.status carries them).
const (
	ClockStatusMet      = sla.StatusMet
	ClockStatusBreached = sla.StatusBreached
	ClockStatusStopped  = sla.StatusStopped
)

// Groupings of the SLA report.
const (
	GroupService = "service"
	GroupClause  = "clause"
	GroupPartner = "partner"
	GroupMonth   = "month"
)

// SLAGroupings lists the groupings of the SLA report; the first is the default.
func SLAGroupings() []string { return []string{GroupService, GroupClause, GroupPartner, GroupMonth} }

// ResponseClauses are the clauses whose clock is a response to the customer: the partner's first contact.
// The partner scorecard's response attainment and time to first contact are over these; its handling
// attainment over every other clause. (The words are sla.ClauseResponse and sla.ClauseOnboardingContact; db
// does not import sla.)
var ResponseClauses = []string{"response", "onboarding_contact"}

// reportMonthZone is the zone of a month group ("2026-11"): Beijing time, UTC+8 all year (no daylight saving
// since 1991), so SQLite can shift by a fixed 8 hours.
const reportMonthZone = "Asia/Shanghai"

// SLAReportFilter selects the clocks of an SLA report: started in [From, To) (a zero bound is open), of
// Service and counted against PartnerID when set, grouped by GroupBy (one of SLAGroupings; empty: service).
type SLAReportFilter struct {
	From, To  time.Time
	Service   string
	PartnerID string
	GroupBy   string
}

// RefundMoney is what the refunds of a group add up to in one currency, in cents: owed is every refund the
// breaches gave (owed, instructed or paid — not waived), paid the part of it paid, waived what a manager
// waived.
type RefundMoney struct {
	Owed   int64 `json:"owed_cents"`
	Paid   int64 `json:"paid_cents"`
	Waived int64 `json:"waived_cents"`
}

func (m *RefundMoney) add(state string, cents int64) {
	switch state {
	case RefundWaived:
		m.Waived += cents
	case RefundPaid:
		m.Paid += cents
		m.Owed += cents
	default:
		m.Owed += cents
	}
}

// SLAGroup is one row of the SLA report. Service, Clause, PartnerID and Month say which group it is (those
// of the grouping; the others are empty); Key is them in one word ("sos", "sos/response", "p1", "2026-11";
// "" is the clocks of no partner).
type SLAGroup struct {
	Key       string `json:"key"`
	Service   string `json:"service,omitempty"`
	Clause    string `json:"clause,omitempty"`
	PartnerID string `json:"partner_id,omitempty"`
	Month     string `json:"month,omitempty"`

	Started  int64 `json:"started"`
	Met      int64 `json:"met"`
	Breached int64 `json:"breached"`
	Open     int64 `json:"open"`
	Stopped  int64 `json:"stopped"`
	// AttainmentPct is met ÷ judged (met + breached) in percent, to two decimals; nil when nothing was
	// judged.
	AttainmentPct *float64 `json:"attainment_pct"`
	// MedianToMeet and P90ToMeet are over the met clocks' time to meet (completed − started), in whole
	// seconds, nearest rank; nil without a met clock.
	MedianToMeet *int64 `json:"median_to_meet_seconds"`
	P90ToMeet    *int64 `json:"p90_to_meet_seconds"`
	// Refunds are the refunds of the group's clocks' clauses, by currency ("XXX": no order found).
	Refunds map[string]RefundMoney `json:"refunds"`
}

// SLAReport is the SLA report: its groups in key order, and the total of them all.
type SLAReport struct {
	Groups []SLAGroup `json:"groups"`
	Total  SLAGroup   `json:"total"`
}

// NoCurrency keys the refunds whose order is missing (ISO 4217's "no currency").
const NoCurrency = "XXX"

// slaGroupCols are the columns of the SLA report's group, per grouping, on clocks aliased k.
func slaGroupCols(d dialect.Name, groupBy string) (cols []string, group []string) {
	month := "''"
	switch groupBy {
	case GroupService:
		return []string{"k.service AS service", "'' AS clause", "'' AS partner_id", "'' AS month"}, []string{"k.service"}
	case GroupClause:
		return []string{"k.service AS service", "k.clause AS clause", "'' AS partner_id", "'' AS month"}, []string{"k.service", "k.clause"}
	case GroupPartner:
		return []string{"'' AS service", "'' AS clause", "k.partner_id AS partner_id", "'' AS month"}, []string{"k.partner_id"}
	case GroupMonth:
		month = monthExpr(d, "k.started_at")
		return []string{"'' AS service", "'' AS clause", "'' AS partner_id", month + " AS month"}, []string{month}
	}
	return nil, nil
}

// monthExpr is the Beijing month ("2026-11") of the time column col.
func monthExpr(d dialect.Name, col string) string {
	if d == dialect.PG {
		return "to_char(" + col + " AT TIME ZONE '" + reportMonthZone + "', 'YYYY-MM')"
	}
	return "strftime('%Y-%m', " + col + ", '+8 hours')"
}

// whereClocks applies the window and filters on clocks aliased k.
func whereClocks(q *bun.SelectQuery, from, to time.Time, service, partnerID string) *bun.SelectQuery {
	if !from.IsZero() {
		q = q.Where("k.started_at >= ?", from.UTC())
	}
	if !to.IsZero() {
		q = q.Where("k.started_at < ?", to.UTC())
	}
	if service != "" {
		q = q.Where("k.service = ?", service)
	}
	if partnerID != "" {
		q = q.Where("k.partner_id = ?", partnerID)
	}
	return q
}

// clockCounts are the aggregate columns of a set of clocks aliased k.
var clockCounts = []string{
	"COUNT(*) AS started",
	"SUM(CASE WHEN k.status = '" + ClockStatusMet + "' THEN 1 ELSE 0 END) AS met",
	"SUM(CASE WHEN k.status = '" + ClockStatusBreached + "' THEN 1 ELSE 0 END) AS breached",
	"SUM(CASE WHEN k.state IN ('" + sla.ClockRunning + "', '" + sla.ClockPaused + "') AND k.status <> '" + ClockStatusBreached + "' THEN 1 ELSE 0 END) AS open",
	"SUM(CASE WHEN k.status = 'stopped' THEN 1 ELSE 0 END) AS stopped",
}

type groupID struct{ Service, Clause, PartnerID, Month string }

func (g groupID) key(groupBy string) string {
	switch groupBy {
	case GroupClause:
		return g.Service + "/" + g.Clause
	case GroupPartner:
		return g.PartnerID
	case GroupMonth:
		return g.Month
	}
	return g.Service
}

// SLAReport computes the SLA report of the clocks f selects; an unknown grouping is ErrInvalid.
func (s *Store) SLAReport(ctx context.Context, f SLAReportFilter) (SLAReport, error) {
	if f.GroupBy == "" {
		f.GroupBy = GroupService
	}
	if !slices.Contains(SLAGroupings(), f.GroupBy) {
		return SLAReport{}, fmt.Errorf("sla report: group by %q: %w", f.GroupBy, ErrInvalid)
	}
	d := s.Dialect().Name()
	cols, group := slaGroupCols(d, f.GroupBy)

	var counts []struct {
		groupID
		Started, Met, Breached, Open, Stopped int64
	}
	q := s.NewSelect().TableExpr("sla_clocks AS k")
	for _, c := range append(slices.Clone(cols), clockCounts...) {
		q = q.ColumnExpr(c)
	}
	q = whereClocks(q, f.From, f.To, f.Service, f.PartnerID)
	for _, g := range group {
		q = q.GroupExpr(g)
	}
	if err := q.Scan(ctx, &counts); err != nil {
		return SLAReport{}, fmt.Errorf("sla report: counts: %w", err)
	}

	var met []struct {
		groupID
		StartedAt   time.Time
		CompletedAt time.Time
	}
	var pgTimes []pgPercentiles // PostgreSQL: the percentiles per group, the total's with an empty group
	if d == dialect.PG {
		var err error
		if pgTimes, err = s.pgTimesToMeet(ctx, f, cols, group); err != nil {
			return SLAReport{}, err
		}
	} else {
		q = s.NewSelect().TableExpr("sla_clocks AS k")
		for _, c := range cols {
			q = q.ColumnExpr(c)
		}
		q = q.ColumnExpr("k.started_at AS started_at, k.completed_at AS completed_at").
			Where("k.status = ?", ClockStatusMet).Where("k.completed_at IS NOT NULL")
		if err := whereClocks(q, f.From, f.To, f.Service, f.PartnerID).Scan(ctx, &met); err != nil {
			return SLAReport{}, fmt.Errorf("sla report: times to meet: %w", err)
		}
	}

	var money []refundSum
	q = refundsOfClocks(s.DB, cols, group)
	if err := whereClocks(q, f.From, f.To, f.Service, f.PartnerID).Scan(ctx, &money); err != nil {
		return SLAReport{}, fmt.Errorf("sla report: refunds: %w", err)
	}

	byKey := map[string]*SLAGroup{}
	durations := map[string][]time.Duration{}
	get := func(id groupID) *SLAGroup {
		k := id.key(f.GroupBy)
		g, ok := byKey[k]
		if !ok {
			g = &SLAGroup{Key: k, Service: id.Service, Clause: id.Clause, PartnerID: id.PartnerID, Month: id.Month, Refunds: map[string]RefundMoney{}}
			byKey[k] = g
		}
		return g
	}
	total := SLAGroup{Refunds: map[string]RefundMoney{}}
	for _, c := range counts {
		g := get(c.groupID)
		g.Started, g.Met, g.Breached, g.Open, g.Stopped = c.Started, c.Met, c.Breached, c.Open, c.Stopped
		total.Started += c.Started
		total.Met += c.Met
		total.Breached += c.Breached
		total.Open += c.Open
		total.Stopped += c.Stopped
	}
	var all []time.Duration
	for _, m := range met {
		k := get(m.groupID).Key
		dur := m.CompletedAt.Sub(m.StartedAt)
		durations[k] = append(durations[k], dur)
		all = append(all, dur)
	}
	for _, r := range money {
		g := get(r.groupID)
		cur := r.Currency
		if cur == "" {
			cur = NoCurrency
		}
		m := g.Refunds[cur]
		m.add(r.State, r.Cents)
		g.Refunds[cur] = m
		t := total.Refunds[cur]
		t.add(r.State, r.Cents)
		total.Refunds[cur] = t
	}
	out := SLAReport{Groups: make([]SLAGroup, 0, len(byKey))}
	for k, g := range byKey {
		g.AttainmentPct = Attainment(g.Met, g.Breached)
		g.MedianToMeet, g.P90ToMeet = Percentile(durations[k], 50), Percentile(durations[k], 90)
		out.Groups = append(out.Groups, *g)
	}
	total.AttainmentPct = Attainment(total.Met, total.Breached)
	total.MedianToMeet, total.P90ToMeet = Percentile(all, 50), Percentile(all, 90)
	for _, p := range pgTimes {
		if p.Total {
			total.MedianToMeet, total.P90ToMeet = p.P50, p.P90
			continue
		}
		for i := range out.Groups {
			if out.Groups[i].Key == p.key(f.GroupBy) {
				out.Groups[i].MedianToMeet, out.Groups[i].P90ToMeet = p.P50, p.P90
			}
		}
	}
	sort.Slice(out.Groups, func(i, j int) bool { return out.Groups[i].Key < out.Groups[j].Key })
	out.Total = total
	return out, nil
}

type refundSum struct {
	groupID
	Currency string
	State    string
	Cents    int64
}

// refundsOfClocks sums the refunds of the clocks (aliased k) by group, currency and state: a refund belongs
// to its case's clock of its clause (one clock per case and clause). Refunds of a clause without a clock (a
// cancellation) are in no group.
func refundsOfClocks(idb bun.IDB, cols, group []string) *bun.SelectQuery {
	q := idb.NewSelect().TableExpr("refunds AS r").
		Join("JOIN sla_clocks AS k ON k.case_id = r.case_id AND k.clause = r.clause").
		Join("LEFT JOIN cases AS c ON c.case_id = r.case_id").
		Join("LEFT JOIN orders AS o ON o.order_id = c.order_id")
	for _, c := range cols {
		q = q.ColumnExpr(c)
	}
	q = q.ColumnExpr("COALESCE(o.currency, '') AS currency, r.state AS state, SUM(r.amount_cents) AS cents")
	for _, g := range group {
		q = q.GroupExpr(g)
	}
	return q.GroupExpr("COALESCE(o.currency, '')").GroupExpr("r.state")
}

// Attainment is met ÷ (met + breached) in percent, rounded to two decimals; nil when nothing was judged.
func Attainment(met, breached int64) *float64 {
	if met+breached == 0 {
		return nil
	}
	v := math.Round(float64(met)*10000/float64(met+breached)) / 100
	return &v
}

// Percentile is the p-th percentile (0 < p ≤ 100) of ds by nearest rank — the smallest value with at least
// p% of the values at or below it — in whole seconds (rounded down); nil for no values. ds is sorted in
// place.
func Percentile(ds []time.Duration, p int) *int64 {
	if len(ds) == 0 {
		return nil
	}
	slices.Sort(ds)
	rank := (p*len(ds) + 99) / 100 // ceil(p/100 × n), 1-based
	v := int64(ds[max(rank, 1)-1] / time.Second)
	return &v
}

// PartnerReportFilter is the window of the partner scorecard: events at, clocks started and cases closed
// in [From, To) (a zero bound is open).
type PartnerReportFilter struct {
	From, To time.Time
}

// PartnerScore is one partner company's row of the scorecard; PartnerID "" is no partner (clocks that
// breached before any partner accepted). Definitions in docs/reports.md.
type PartnerScore struct {
	PartnerID string `json:"partner_id"`
	Name      string `json:"name"`
	Active    bool   `json:"active"`

	Offers   int64 `json:"offers"`
	Accepted int64 `json:"accepted"`
	Declined int64 `json:"declined"`
	TimedOut int64 `json:"timed_out"`
	// MedianToAccept: partner_accepted − the offer it accepted (the line's offered_at), seconds.
	MedianToAccept *int64 `json:"median_to_accept_seconds"`
	// MedianToContact: completed − started of the partner's response clocks that completed (met or late).
	MedianToContact *int64 `json:"median_to_first_contact_seconds"`

	ResponseMet      int64    `json:"response_met"`
	ResponseBreached int64    `json:"response_breached"`
	ResponsePct      *float64 `json:"response_attainment_pct"`
	HandlingMet      int64    `json:"handling_met"`
	HandlingBreached int64    `json:"handling_breached"`
	HandlingPct      *float64 `json:"handling_attainment_pct"`

	Breaches int64                  `json:"breaches"`
	Refunds  map[string]RefundMoney `json:"refunds"`

	Disputed int64 `json:"reports_disputed"`

	Ratings       int64    `json:"ratings"`
	AverageRating *float64 `json:"average_rating"`

	OpenCases int      `json:"open_cases"`
	Capacity  int      `json:"capacity"`
	LoadPct   *float64 `json:"load_pct"`
}

// ScorecardEvents are the catalogue events the scorecard counts, by their names in workflows/events.go (db
// cannot import workflows, which records through it); a test in workflows holds them equal.
var ScorecardEvents = struct{ Offered, Accepted, Declined, TimedOut, Disputed string }{
	"partner_offered", "partner_accepted", "partner_declined", "offer_timed_out", "report_disputed",
}

var (
	eventPartnerOffered  = ScorecardEvents.Offered
	eventPartnerAccepted = ScorecardEvents.Accepted
	eventPartnerDeclined = ScorecardEvents.Declined
	eventOfferTimedOut   = ScorecardEvents.TimedOut
	eventReportDisputed  = ScorecardEvents.Disputed
)

func whereAt(q *bun.SelectQuery, col string, from, to time.Time) *bun.SelectQuery {
	if !from.IsZero() {
		q = q.Where("? >= ?", bun.Safe(col), from.UTC())
	}
	if !to.IsZero() {
		q = q.Where("? < ?", bun.Safe(col), to.UTC())
	}
	return q
}

// PartnerReport computes the partner scorecard: a row per partner of the partners table (by id), any other
// partner the window's data names, and "" (no partner) when clocks counted against none.
func (s *Store) PartnerReport(ctx context.Context, f PartnerReportFilter) ([]PartnerScore, error) {
	partners, err := s.ListPartners(ctx)
	if err != nil {
		return nil, err
	}
	rows := map[string]*PartnerScore{}
	get := func(id string) *PartnerScore {
		r, ok := rows[id]
		if !ok {
			r = &PartnerScore{PartnerID: id, Refunds: map[string]RefundMoney{}}
			rows[id] = r
		}
		return r
	}
	for _, p := range partners {
		r := get(p.ID)
		r.Name, r.Active, r.Capacity = p.Name, p.Active, p.Capacity
	}

	// Offers and their answers, disputes.
	var events []struct {
		PartnerID string
		Event     string
		N         int64
	}
	q := s.NewSelect().TableExpr("case_events AS e").ColumnExpr("e.partner_id AS partner_id, e.event AS event, COUNT(*) AS n").
		Where("e.event IN (?)", bun.List([]string{eventPartnerOffered, eventPartnerAccepted, eventPartnerDeclined, eventOfferTimedOut, eventReportDisputed}))
	if err := whereAt(q, "e.at", f.From, f.To).GroupExpr("e.partner_id").GroupExpr("e.event").Scan(ctx, &events); err != nil {
		return nil, fmt.Errorf("partner report: events: %w", err)
	}
	for _, e := range events {
		if e.PartnerID == "" && e.Event != eventReportDisputed {
			continue // an offer always names its partner; a line without one is not a partner's
		}
		r := get(e.PartnerID)
		switch e.Event {
		case eventPartnerOffered:
			r.Offers = e.N
		case eventPartnerAccepted:
			r.Accepted = e.N
		case eventPartnerDeclined:
			r.Declined = e.N
		case eventOfferTimedOut:
			r.TimedOut = e.N
		case eventReportDisputed:
			r.Disputed = e.N
		}
	}

	// Time to accept: each acceptance in the window against the offer it accepted, whose instant the line
	// carries (offered_at, written by the case's kernel).
	var accepts []struct {
		PartnerID string
		At        time.Time
		OfferedAt *time.Time
	}
	q = s.NewSelect().TableExpr("case_events AS e").ColumnExpr("e.partner_id AS partner_id, e.at AS at").
		ColumnExpr("e.offered_at AS offered_at").
		Where("e.event = ?", eventPartnerAccepted).Where("e.partner_id <> ''").Where("e.offered_at IS NOT NULL")
	q = whereAt(q, "e.at", f.From, f.To)
	pgMedians := map[string]*int64{} // PostgreSQL: the medians to accept, per partner, computed there
	if pg := s.Dialect().Name() == dialect.PG; pg {
		var rows []struct {
			PartnerID string
			P50       *int64
		}
		// Each acceptance carries the instant of the offer it answers (the kernel writes it).
		outer := s.NewSelect().TableExpr("case_events AS x").ColumnExpr("x.partner_id AS partner_id").ColumnExpr(pgSeconds(0.5, "x.at - x.offered_at", "p50")).
			Where("x.event = ?", eventPartnerAccepted).Where("x.partner_id <> ''").Where("x.offered_at IS NOT NULL")
		outer = whereAt(outer, "x.at", f.From, f.To)
		if err := outer.GroupExpr("x.partner_id").Scan(ctx, &rows); err != nil {
			return nil, fmt.Errorf("partner report: times to accept: %w", err)
		}
		for _, r := range rows {
			pgMedians["accept/"+r.PartnerID] = r.P50
		}
	} else if err := q.Scan(ctx, &accepts); err != nil {
		return nil, fmt.Errorf("partner report: times to accept: %w", err)
	}
	toAccept := map[string][]time.Duration{}
	for _, a := range accepts {
		if a.OfferedAt != nil {
			toAccept[a.PartnerID] = append(toAccept[a.PartnerID], a.At.Sub(*a.OfferedAt))
		}
	}

	// Clocks: response and handling attainment, breaches.
	response := bun.List(ResponseClauses)
	var clocks []struct {
		PartnerID                                                    string
		ResponseMet, ResponseBreached, HandlingMet, HandlingBreached int64
		ContactP50                                                   *int64 // PostgreSQL: the median to first contact, in the same pass
	}
	pg := s.Dialect().Name() == dialect.PG
	q = s.NewSelect().TableExpr("sla_clocks AS k").ColumnExpr("k.partner_id AS partner_id").
		ColumnExpr("SUM(CASE WHEN k.status = ? AND k.clause IN (?) THEN 1 ELSE 0 END) AS response_met", ClockStatusMet, response).
		ColumnExpr("SUM(CASE WHEN k.status = ? AND k.clause IN (?) THEN 1 ELSE 0 END) AS response_breached", ClockStatusBreached, response).
		ColumnExpr("SUM(CASE WHEN k.status = ? AND k.clause NOT IN (?) THEN 1 ELSE 0 END) AS handling_met", ClockStatusMet, response).
		ColumnExpr("SUM(CASE WHEN k.status = ? AND k.clause NOT IN (?) THEN 1 ELSE 0 END) AS handling_breached", ClockStatusBreached, response)
	if pg {
		q = q.ColumnExpr("FLOOR(EXTRACT(EPOCH FROM percentile_disc(0.5) WITHIN GROUP (ORDER BY k.completed_at - k.started_at) "+
			"FILTER (WHERE k.clause IN (?) AND k.status IN (?, ?) AND k.completed_at IS NOT NULL)))::bigint AS contact_p50", response, ClockStatusMet, ClockStatusBreached)
	}
	if err := whereClocks(q, f.From, f.To, "", "").GroupExpr("k.partner_id").Scan(ctx, &clocks); err != nil {
		return nil, fmt.Errorf("partner report: clocks: %w", err)
	}
	for _, c := range clocks {
		if pg && c.ContactP50 != nil {
			pgMedians["contact/"+c.PartnerID] = c.ContactP50
		}
		if c.PartnerID == "" && c.ResponseBreached+c.HandlingBreached+c.ResponseMet+c.HandlingMet == 0 {
			continue
		}
		r := get(c.PartnerID)
		r.ResponseMet, r.ResponseBreached, r.HandlingMet, r.HandlingBreached = c.ResponseMet, c.ResponseBreached, c.HandlingMet, c.HandlingBreached
		r.Breaches = c.ResponseBreached + c.HandlingBreached
	}

	// Time to first contact: the response clocks that completed, met or late.
	var contacts []struct {
		PartnerID   string
		StartedAt   time.Time
		CompletedAt time.Time
	}
	q = s.NewSelect().TableExpr("sla_clocks AS k").ColumnExpr("k.partner_id AS partner_id, k.started_at AS started_at, k.completed_at AS completed_at").
		Where("k.clause IN (?)", response).Where("k.status IN (?)", bun.List([]string{ClockStatusMet, ClockStatusBreached})).
		Where("k.completed_at IS NOT NULL")
	if !pg { // PostgreSQL computed the medians with the clocks' counts above
		if err := whereClocks(q, f.From, f.To, "", "").Scan(ctx, &contacts); err != nil {
			return nil, fmt.Errorf("partner report: times to first contact: %w", err)
		}
	}
	toContact := map[string][]time.Duration{}
	for _, c := range contacts {
		toContact[c.PartnerID] = append(toContact[c.PartnerID], c.CompletedAt.Sub(c.StartedAt))
	}

	// The refunds the breaches caused.
	var money []refundSum
	cols, group := slaGroupCols(s.Dialect().Name(), GroupPartner)
	q = refundsOfClocks(s.DB, cols, group).Where("k.status = ?", ClockStatusBreached)
	if err := whereClocks(q, f.From, f.To, "", "").Scan(ctx, &money); err != nil {
		return nil, fmt.Errorf("partner report: refunds: %w", err)
	}
	for _, m := range money {
		r := get(m.PartnerID)
		cur := m.Currency
		if cur == "" {
			cur = NoCurrency
		}
		v := r.Refunds[cur]
		v.add(m.State, m.Cents)
		r.Refunds[cur] = v
	}

	// Ratings of the cases closed in the window.
	var ratings []struct {
		PartnerID string
		N, Sum    int64
	}
	q = s.NewSelect().TableExpr("cases AS c").ColumnExpr("c.partner_id AS partner_id, COUNT(*) AS n, SUM(c.rating) AS sum").
		Where("c.rating > 0").Where("c.closed_at IS NOT NULL").Where("c.partner_id <> ''")
	if err := whereAt(q, "c.closed_at", f.From, f.To).GroupExpr("c.partner_id").Scan(ctx, &ratings); err != nil {
		return nil, fmt.Errorf("partner report: ratings: %w", err)
	}
	for _, rt := range ratings {
		r := get(rt.PartnerID)
		avg := math.Round(float64(rt.Sum)*100/float64(rt.N)) / 100
		r.Ratings, r.AverageRating = rt.N, &avg
	}

	// Open cases now.
	loads, err := s.PartnerLoads(ctx)
	if err != nil {
		return nil, err
	}
	for id, n := range loads {
		get(id).OpenCases = n
	}

	out := make([]PartnerScore, 0, len(rows))
	for id, r := range rows {
		r.MedianToAccept = Percentile(toAccept[id], 50)
		r.MedianToContact = Percentile(toContact[id], 50)
		if v, ok := pgMedians["accept/"+id]; ok {
			r.MedianToAccept = v
		}
		if v, ok := pgMedians["contact/"+id]; ok {
			r.MedianToContact = v
		}
		r.ResponsePct = Attainment(r.ResponseMet, r.ResponseBreached)
		r.HandlingPct = Attainment(r.HandlingMet, r.HandlingBreached)
		if r.Capacity > 0 {
			v := math.Round(float64(r.OpenCases)*10000/float64(r.Capacity)) / 100
			r.LoadPct = &v
		}
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool {
		// No partner ("") last.
		if (out[i].PartnerID == "") != (out[j].PartnerID == "") {
			return out[j].PartnerID == ""
		}
		return strings.Compare(out[i].PartnerID, out[j].PartnerID) < 0
	})
	return out, nil
}

// pgPercentiles are the median and p90 of a group's durations, in whole seconds, as PostgreSQL computes
// them (percentile_disc is the nearest rank, as Percentile); Total marks the row of all groups.
type pgPercentiles struct {
	groupID
	Total    bool
	P50, P90 *int64
}

// pgSeconds is the whole seconds of PostgreSQL's nearest-rank percentile p of the interval expr.
func pgSeconds(p float64, expr, as string) string {
	return fmt.Sprintf("FLOOR(EXTRACT(EPOCH FROM percentile_disc(%g) WITHIN GROUP (ORDER BY %s)))::bigint AS %s", p, expr, as)
}

// pgTimesToMeet computes the times to meet in PostgreSQL, per group and for the total, so a year's report
// reads a row per group instead of every met clock.
func (s *Store) pgTimesToMeet(ctx context.Context, f SLAReportFilter, cols, group []string) ([]pgPercentiles, error) {
	var out []pgPercentiles
	for _, total := range []bool{false, true} {
		var rows []pgPercentiles
		q := s.NewSelect().TableExpr("sla_clocks AS k")
		if total {
			q = q.ColumnExpr("TRUE AS total")
		} else {
			for _, c := range cols {
				q = q.ColumnExpr(c)
			}
			for _, g := range group {
				q = q.GroupExpr(g)
			}
		}
		q = q.ColumnExpr(pgSeconds(0.5, "k.completed_at - k.started_at", "p50")).ColumnExpr(pgSeconds(0.9, "k.completed_at - k.started_at", "p90")).
			Where("k.status = ?", ClockStatusMet).Where("k.completed_at IS NOT NULL")
		if err := whereClocks(q, f.From, f.To, f.Service, f.PartnerID).Scan(ctx, &rows); err != nil {
			return nil, fmt.Errorf("sla report: times to meet: %w", err)
		}
		out = append(out, rows...)
	}
	return out, nil
}
