package workflows_test

import (
	"strings"
	"testing"
	"time"

	"github.com/steward-oss/steward/sla"
	"github.com/steward-oss/steward/workflows"
)

func TestMoneySpanWhen(t *testing.T) {
	for _, tt := range []struct {
		cents    int64
		currency string
		want     string
	}{
		{800000, "CNY", "¥8,000.00"}, {5, "CNY", "¥0.05"}, {123456789, "USD", "$1,234,567.89"},
		{1250, "GBP", "GBP 12.50"}, {0, "CNY", "¥0.00"}, {100000, "CNY", "¥1,000.00"}, {-250000, "CNY", "-¥2,500.00"},
	} {
		if got := workflows.Money(tt.cents, tt.currency); got != tt.want {
			t.Errorf("Money(%d, %s) = %q; want %q", tt.cents, tt.currency, got, tt.want)
		}
	}
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{45 * time.Second, "45 s"}, {7 * time.Minute, "7 min"}, {2*time.Hour + 5*time.Minute, "2 h 5 min"}, {time.Hour, "1 h"},
		{3*sla.Day + 4*time.Hour, "3 d 4 h"}, {4 * sla.Day, "4 d"}, {-7 * time.Minute, "7 min"},
	} {
		if got := workflows.Span(tt.d); got != tt.want {
			t.Errorf("Span(%v) = %q; want %q", tt.d, got, tt.want)
		}
	}
	if got := workflows.When(time.Date(2026, 12, 1, 8, 42, 0, 0, time.UTC)); got != "2026-12-01 16:42 CST" {
		t.Errorf("When = %q; want Beijing time with the zone written", got)
	}
}

// TestJudge: a clause kept without a clock is met by a completion at or before its due instant, breached
// by a later one or by none past due (when it counts), on track before; the margin says by how much.
func TestJudge(t *testing.T) {
	due := time.Date(2026, 12, 1, 10, 0, 0, 0, sla.China)
	at := func(d time.Duration) *time.Time { x := due.Add(d); return &x }
	for _, tt := range []struct {
		name      string
		completed *time.Time
		breaches  bool
		now       time.Time
		status    string
		margin    string
	}{
		{"met early", at(-7 * time.Minute), true, due, workflows.SLAMet, "met 7 min before due"},
		{"met at due", at(0), true, due, workflows.SLAMet, "met at the due instant"},
		{"late", at(2 * time.Hour), true, due.Add(3 * time.Hour), workflows.SLABreached, "late by 2 h"},
		{"overdue", nil, true, due.Add(3 * time.Hour), workflows.SLABreached, "overdue by 3 h"},
		{"running", nil, true, due.Add(-18 * time.Minute), workflows.SLAOnTrack, "18 min left"},
		{"a date past, no breach", nil, false, due.Add(time.Hour), workflows.SLAOnTrack, ""},
		{"a date completed late, not counted", at(time.Hour), false, due.Add(2 * time.Hour), workflows.SLAMet, "completed 1 h after the date; not counted"},
	} {
		e := workflows.Judge(workflows.SLAEntry{Clause: "x", DueAt: &due, CompletedAt: tt.completed}, tt.breaches, tt.now)
		if e.Status != tt.status || e.Margin != tt.margin || e.Breached != (tt.status == workflows.SLABreached) {
			t.Errorf("%s: status %q margin %q breached %v; want %q %q", tt.name, e.Status, e.Margin, e.Breached, tt.status, tt.margin)
		}
	}
}

// TestClocksStatusStates: met once every clock completed in time, stopped when the case's end stopped
// them, paused while the only running clock pauses, and breached over anything.
func TestClocksStatusStates(t *testing.T) {
	paid := time.Date(2026, 3, 2, 10, 0, 0, 0, sla.China) // a Monday
	start := func(clause string) sla.Clock {
		c, err := workflows.Calendars().StartClause(sla.ServiceSOS, clause, sla.Inputs{Hosts: 1}, paid)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	var met workflows.Clocks
	met.Add(start(sla.ClauseResponse))
	if got := met.Complete(sla.ClauseResponse, paid.Add(13*time.Minute), paid.Add(13*time.Minute)); got != "met 7 min before due (due 2026-03-02 10:20 CST)" {
		t.Errorf("Complete = %q", got)
	}
	if st, next := met.Status(paid.Add(time.Hour)); st != workflows.SLAMet || next != nil {
		t.Errorf("all met: %s, %v; want met and no deadline", st, next)
	}
	if e := met.Entries(sla.ServiceSOS, paid.Add(time.Hour))[0]; e.Status != workflows.SLAMet || e.Margin != "met 7 min before due" {
		t.Errorf("met entry = %+v", e)
	}

	var stopped workflows.Clocks
	stopped.Add(start(sla.ClauseResponse))
	stopped.StopAll(paid.Add(5 * time.Minute)) // the case ended before contact
	if st, _ := stopped.Status(paid.Add(time.Hour)); st != workflows.SLAStopped {
		t.Errorf("stopped by the case's end: %s; want stopped", st)
	}

	var paused workflows.Clocks
	paused.Add(start(sla.ClauseHandling))
	if err := paused.Clocks[0].Pause(paid.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if st, next := paused.Status(paid.Add(30 * sla.Day)); st != workflows.SLAPaused || next != nil {
		t.Errorf("paused: %s, %v; want paused, no deadline", st, next)
	}
	paused.Add(start(sla.ClauseResponse))
	if st, _ := paused.Status(paid.Add(time.Hour)); st != workflows.SLABreached {
		t.Errorf("a running clock past due beside a paused one: %s; want breached", st)
	}
}

// TestStaticSummaryAndDetails: the Web UI's static summary names the service in Chinese and English,
// the spec, order, amount and customer; the details hold the contract, clause by clause, with money.
func TestStaticSummaryAndDetails(t *testing.T) {
	in := workflows.CaseInput{CaseID: "sos:1234", OrderID: "1234", CustomerID: "c-77", Service: sla.ServiceSOS, Spec: sla.SpecAnalysisRemote,
		Quantity: 1, AmountCents: 800000, Currency: "CNY", PaidAt: time.Date(2026, 12, 1, 8, 42, 0, 0, time.UTC)}
	if got, want := workflows.StaticSummary(in), "应急响应 SOS · 事件分析(远程) · order 1234 · ¥8,000.00 · customer c-77"; got != want {
		t.Errorf("StaticSummary = %q; want %q", got, want)
	}
	d := workflows.StaticDetails(in)
	for _, want := range []string{"- **response**: 20 min of business time", "if missed: refund 50% (¥4,000.00)", "- **handling**: 3 natural days for up to 5 hosts",
		"- **effect**: outcome", "refund 100% (¥8,000.00)", "paid 2026-12-01 16:42 CST", "capped at 100%"} {
		if !strings.Contains(d, want) {
			t.Errorf("StaticDetails lacks %q:\n%s", want, d)
		}
	}
	db := workflows.StaticDetails(workflows.CaseInput{OrderID: "9", CustomerID: "c", Service: sla.ServiceDengbao, Quantity: 2, AmountCents: 100, Currency: "CNY"})
	if !strings.Contains(db, "Cancellation: 100% refund before the service formally starts, 0% after") {
		t.Errorf("dengbao details lack the cancellation rule:\n%s", db)
	}
}

// TestCurrentDetails: the Web UI's current details name the service, stage, partner and whether it
// accepted, the refund in money, a table of the clauses in Beijing time with their state and margin, and
// the step expected next and from whom.
func TestCurrentDetails(t *testing.T) {
	paid := time.Date(2026, 3, 2, 10, 0, 0, 0, sla.China)
	in := workflows.CaseInput{CaseID: "sos:1", OrderID: "1", CustomerID: "c", Service: sla.ServiceSOS, Spec: sla.SpecHandling,
		Quantity: 1, AmountCents: 500000, Currency: "CNY", PaidAt: paid}
	c := workflows.NewCase(in, "SOS")
	c.CoreState = workflows.CoreState{Stage: "confirmation", Status: workflows.StatusOpen, PartnerID: "demo-sec-a", Accepted: true,
		Refund: workflows.Refund{Percent: 50, AmountCents: 250000}}
	response, err := workflows.Calendars().StartClause(sla.ServiceSOS, sla.ClauseResponse, sla.Inputs{}, paid)
	if err != nil {
		t.Fatal(err)
	}
	c.Clocks.Add(response)
	c.Clocks.Breached = []int{0}
	c.View = func(now time.Time) workflows.CaseView { return c.BaseView(now, nil) }
	c.Expect = func() string { return "partner demo-sec-a: contact the customer (contact)" }
	d := c.Details(paid.Add(time.Hour), "")
	for _, want := range []string{"**应急响应 SOS**", "stage **confirmation**", "partner **demo-sec-a (accepted)**", "SLA **breached**",
		"refund owed **¥2,500.00 (50%)**", "- **response** · due 2026-03-02 10:20 CST · **breached** (overdue by 40 min)",
		"- **handling** · not started (counts from asset list submitted)",
		"**Next:** partner demo-sec-a: contact the customer (contact)"} {
		if !strings.Contains(d, want) {
			t.Errorf("current details lack %q:\n%s", want, d)
		}
	}
	c.Accepted, c.Stage = false, workflows.StageAssignment
	if d := c.Details(paid, ""); !strings.Contains(d, "partner **demo-sec-a (offered, not accepted yet)**") ||
		!strings.Contains(d, "**Next:** partner demo-sec-a: accept or decline the offer") {
		t.Errorf("an open offer reads as accepted:\n%s", d)
	}
}
