package workflows

import (
	"fmt"
	"strings"
	"time"

	"github.com/steward-oss/steward/sla"
)

// How a case reads to people: its times in Beijing time, money in its currency, the margin by which a
// clause was met or missed, and the static summary and details the Web UI shows from its start.

// When writes t as the timeline, the Web UI and notifications do: Beijing time with the zone written,
// "2026-12-01 16:42 CST" (the contract's dates are all read in China's zone).
func When(t time.Time) string { return t.In(sla.China).Format("2006-01-02 15:04") + " CST" }

// Span writes a duration for people: "45 s", "7 min", "2 h 5 min", "3 d 4 h".
func Span(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Round(time.Second)/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d/time.Minute))
	case d < sla.Day:
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 {
			return fmt.Sprintf("%d h", h)
		}
		return fmt.Sprintf("%d h %d min", h, m)
	}
	days, h := int(d/sla.Day), int(d%sla.Day/time.Hour)
	if h == 0 {
		return fmt.Sprintf("%d d", days)
	}
	return fmt.Sprintf("%d d %d h", days, h)
}

// currencySymbols are the symbols of the currencies the marketplace sells in; any other currency is
// written with its ISO code.
var currencySymbols = map[string]string{"CNY": "¥", "USD": "$", "EUR": "€", "HKD": "HK$"}

// Money writes an amount of integer cents in its currency: "¥8,000.00", "GBP 12.50". Written here rather
// than with golang.org/x/text/currency: the few currencies steward sells in need only a symbol, grouping
// and two decimals, and the workflow code that calls it must stay free of locale data.
func Money(cents int64, currency string) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	units := fmt.Sprint(cents / 100)
	var b strings.Builder
	for i, r := range units {
		if i > 0 && (len(units)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	prefix, ok := currencySymbols[currency]
	if !ok {
		prefix = currency + " "
	}
	return fmt.Sprintf("%s%s%s.%02d", sign, prefix, b.String(), cents%100)
}

// Margin says by how much a clause was met or missed, or how long is left: "met 7 min before due",
// "met at the due instant", "late by 2 h", "overdue by 3 h", "18 min left".
func Margin(e SLAEntry, now time.Time) string {
	if e.DueAt == nil {
		return ""
	}
	due := *e.DueAt
	switch {
	case e.Status == SLAMet && e.CompletedAt != nil && e.CompletedAt.Equal(due):
		return "met at the due instant"
	case e.Status == SLAMet && e.CompletedAt != nil:
		return "met " + Span(due.Sub(*e.CompletedAt)) + " before due"
	case e.Breached && e.CompletedAt != nil:
		return "late by " + Span(e.CompletedAt.Sub(due))
	case e.Breached:
		return "overdue by " + Span(now.Sub(due))
	case (e.Status == SLAOnTrack || e.Status == SLAAtRisk) && due.After(now):
		return Span(due.Sub(now)) + " left"
	}
	return ""
}

// Judge fills an entry's status, breach and margin from its due and completion instants, for a clause a
// lifecycle keeps without a clock (a check-in day, a verdict window, a term): met when completed by the
// due instant; completed later, breached when breaches says lateness counts and met otherwise (a term
// that ended late because a worker was down); still open after the due instant, breached when lateness
// counts; on track otherwise.
func Judge(e SLAEntry, breaches bool, now time.Time) SLAEntry {
	late := e.DueAt != nil && e.CompletedAt != nil && e.CompletedAt.After(*e.DueAt)
	switch {
	case e.CompletedAt != nil && !late:
		e.Status = SLAMet
	case breaches && e.DueAt != nil && (e.CompletedAt != nil || now.After(*e.DueAt)):
		e.Status, e.Breached = SLABreached, true
	case e.CompletedAt != nil:
		e.Status = SLAMet
		e.Margin = "completed " + Span(e.CompletedAt.Sub(*e.DueAt)) + " after the date; not counted"
		return e
	default:
		e.Status = SLAOnTrack
	}
	e.Margin = Margin(e, now)
	return e
}

// StaticSummary is the one line the Web UI shows for a case from its start: the service in Chinese and
// English, the spec, the order, the amount and the customer ("应急响应 SOS · 事件分析(远程) · order 1234 ·
// ¥8,000.00 · customer c-77"). It holds opaque identifiers only, never the customer's contact.
func StaticSummary(in CaseInput) string {
	parts := []string{sla.ServiceTitle(in.Service)}
	if in.Spec != "" {
		parts = append(parts, sla.SpecTitle(in.Spec))
	}
	if in.Quantity > 1 {
		parts = append(parts, fmt.Sprintf("× %d", in.Quantity))
	}
	parts = append(parts, "order "+in.OrderID, Money(in.AmountCents, in.Currency), "customer "+in.CustomerID)
	return strings.Join(parts, " · ")
}

// StaticDetails is the case's contract in Markdown, shown in the Web UI from its start: each clause of
// the service with its target and clock, what missing it refunds, and the cancellation rule.
func StaticDetails(in CaseInput) string {
	var b strings.Builder
	b.WriteString(fmt.Sprintf("### %s — the contract\n\n", sla.ServiceTitle(in.Service)))
	b.WriteString(fmt.Sprintf("Order **%s**, paid %s, **%s**", in.OrderID, When(in.PaidAt), Money(in.AmountCents, in.Currency)))
	if in.Spec != "" {
		b.WriteString(fmt.Sprintf(", spec **%s** (%s)", sla.SpecTitle(in.Spec), in.Spec))
	}
	b.WriteString(fmt.Sprintf(", quantity %d.\n\n", in.Quantity))
	clauses, _ := sla.Clauses(in.Service)
	if len(clauses) == 0 {
		b.WriteString("This service promises no SLA clock; its steps and dates are in the current details.\n")
	} else {
		for _, c := range clauses {
			b.WriteString(fmt.Sprintf("- **%s**: %s; counts from %s to %s; if missed: %s\n", c.Name, clauseTarget(c), c.Starts, c.Stops, compensation(in, c.Name)))
		}
		b.WriteString(fmt.Sprintf("\nRefunds add up per clause, capped at %d%% of the order.\n", sla.RefundCapPercent))
	}
	for _, r := range sla.CancellationRules() {
		if r.Service == in.Service {
			b.WriteString(fmt.Sprintf("\nCancellation: %d%% refund before the service formally starts, %d%% after.\n", r.BeforeKickoff, r.AfterKickoff))
		}
	}
	return b.String()
}

func clauseTarget(c sla.Clause) string {
	switch c.Kind {
	case sla.TargetBusiness:
		return Span(c.Target) + " of business time (" + c.Calendar + ", China's working days)"
	case sla.TargetNatural:
		return Span(c.Target) + " natural time"
	case sla.TargetComputed:
		return sla.RuleText(c.Rule)
	}
	return "outcome"
}

func compensation(in CaseInput, clause string) string {
	pct, _ := sla.ClausePercent(in.Service, clause)
	if pct == 0 {
		return "no refund"
	}
	r, _ := sla.Compensate(in.Service, []string{clause}, in.AmountCents)
	return fmt.Sprintf("refund %d%% (%s)", pct, Money(r.AmountCents, in.Currency))
}
