package workflows_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/steward-oss/steward/activities"
	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/signing"
	"github.com/steward-oss/steward/webhooks"
	"github.com/steward-oss/steward/workflows"
)

// webhookDocPath is the generated page of event webhooks; `STEWARD_WRITE_DOCS=1 go test -run TestWebhookDoc
// ./workflows/` rewrites it.
const webhookDocPath = "../docs/webhooks.md"

// TestWebhookDoc: docs/webhooks.md is what the catalogue generates — every type of workflows.WebhookTypes()
// under its own heading, once, with its meaning from events.go and an example envelope built with
// db.Envelope — and each example is valid JSON whose type is its heading's. With STEWARD_WRITE_DOCS=1 it
// rewrites the page instead of failing.
func TestWebhookDoc(t *testing.T) {
	want, err := webhookDoc()
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("STEWARD_WRITE_DOCS") == "1" {
		if err := os.WriteFile(webhookDocPath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(webhookDocPath)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("%s is out of step with the event catalogue; run STEWARD_WRITE_DOCS=1 go test -run TestWebhookDoc ./workflows/", webhookDocPath)
	}

	// The page as written, read on its own: each type heading is followed by its example.
	section := regexp.MustCompile("(?ms)^### `([a-z_]+\\.[a-z_]+)`\n(.*?)```json\n(.*?)```")
	var documented []string
	for _, m := range section.FindAllStringSubmatch(string(got), -1) {
		typ, meaning, example := m[1], strings.TrimSpace(m[2]), m[3]
		documented = append(documented, typ)
		if meaning == "" {
			t.Errorf("%s: no meaning", typ)
		}
		var env struct {
			ID         string         `json:"id"`
			Type       string         `json:"type"`
			CreatedAt  time.Time      `json:"created_at"`
			CaseID     string         `json:"case_id"`
			OrderID    string         `json:"order_id"`
			CustomerID string         `json:"customer_id"`
			Service    string         `json:"service"`
			Sequence   int64          `json:"sequence"`
			Data       map[string]any `json:"data"`
		}
		dec := json.NewDecoder(strings.NewReader(example))
		if err := dec.Decode(&env); err != nil {
			t.Errorf("%s: example is not a JSON envelope: %v", typ, err)
			continue
		}
		var fields map[string]json.RawMessage
		_ = json.Unmarshal([]byte(example), &fields)
		for _, f := range []string{"id", "type", "created_at", "case_id", "order_id", "customer_id", "service", "sequence", "data"} {
			if _, ok := fields[f]; !ok {
				t.Errorf("%s: example has no %q", typ, f)
			}
		}
		if env.Type != typ {
			t.Errorf("example under %s has type %q", typ, env.Type)
		}
		if !strings.HasPrefix(env.ID, "evt_") || (env.Sequence < 1) != (typ == workflows.WebhookTest) || env.CreatedAt.IsZero() || len(env.Data) == 0 {
			t.Errorf("%s: example envelope %+v", typ, env)
		}
		if typ != workflows.WebhookTest {
			if _, _, err := workflows.ParseCaseID(env.CaseID); err != nil || env.Service+":"+env.OrderID != env.CaseID {
				t.Errorf("%s: example case %q, service %q, order %q", typ, env.CaseID, env.Service, env.OrderID)
			}
		}
	}
	all := workflows.WebhookTypes()
	for _, typ := range all {
		if n := countOf(documented, typ); n != 1 {
			t.Errorf("%s: documented %d times", typ, n)
		}
	}
	for _, typ := range documented {
		if !slices.Contains(all, typ) {
			t.Errorf("%s is documented but not a webhook type", typ)
		}
	}
}

func countOf(list []string, s string) int {
	n := 0
	for _, v := range list {
		if v == s {
			n++
		}
	}
	return n
}

// docConst is a constant of events.go: its value and the meaning its comment gives.
type docConst struct {
	name, value, meaning string
}

// docSection is a const block of events.go: its heading (the block's comment) and constants.
type docSection struct {
	heading string
	consts  []docConst
}

// catalogueSections parses events.go: its const blocks of Event constants, and the Webhook… constants.
func catalogueSections() (events []docSection, hooks []docConst, err error) {
	f, err := parser.ParseFile(token.NewFileSet(), "events.go", nil, parser.ParseComments)
	if err != nil {
		return nil, nil, err
	}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		var sec docSection
		if g.Doc != nil {
			sec.heading = strings.TrimSuffix(oneLine(g.Doc.Text()), ".")
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			if len(vs.Names) != 1 || len(vs.Values) != 1 || vs.Doc == nil {
				continue
			}
			lit, ok := vs.Values[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				continue
			}
			value, _ := strconv.Unquote(lit.Value)
			c := docConst{name: vs.Names[0].Name, value: value, meaning: meaningOf(vs.Names[0].Name, vs.Doc.Text())}
			if id, ok := vs.Type.(*ast.Ident); ok && id.Name == "Event" {
				sec.consts = append(sec.consts, c)
			} else if strings.HasPrefix(c.name, "Webhook") {
				hooks = append(hooks, c)
			}
		}
		if len(sec.consts) > 0 {
			events = append(events, sec)
		}
	}
	return events, hooks, nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// meaningOf turns "EventX: the order was paid." or "WebhookTest is the event …" into a sentence.
func meaningOf(name, doc string) string {
	s := oneLine(doc)
	if rest, ok := strings.CutPrefix(s, name+": "); ok {
		s = rest
	} else if rest, ok := strings.CutPrefix(s, name+" is "); ok {
		s = rest
	}
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}

// docOrder is an example case of a service.
type docOrder struct{ order, customer string }

var docOrders = map[string]docOrder{
	workflows.ServiceSOS:     {"ORD-1001", "c-77"},
	workflows.ServiceButler:  {"ORD-2001", "c-78"},
	workflows.ServiceHosting: {"ORD-3001", "c-79"},
	workflows.ServiceEscort:  {"ORD-4001", "c-80"},
	workflows.ServiceDengbao: {"ORD-5001", "c-81"},
	"consulting":             {"ORD-6001", "c-82"},
}

// docExample is the timeline line an event's example announces.
type docExample struct {
	service, actor, detail string
}

const (
	sys, partner, market, manager = workflows.ActorSystem, workflows.ActorPartner, workflows.ActorMarketplace, workflows.ActorManager
)

// docExamples has one example per public catalogue event; an event added to the catalogue needs one here.
var docExamples = map[workflows.Event]docExample{
	workflows.EventCaseOpened:      {workflows.ServiceSOS, market, "order ORD-1001 paid at 2026-12-01 09:58 CST: 应急响应 SOS · 事件分析(远程), quantity 1"},
	workflows.EventCaseClosed:      {workflows.ServiceSOS, partner, "closed: no recurrence in a week"},
	workflows.EventCaseExpired:     {workflows.ServiceSOS, sys, "no asset list within 5 d of the purchase; the case expired"},
	workflows.EventCaseCancelled:   {workflows.ServiceDengbao, market, "cancelled before the service started: full refund of ¥48,000.00"},
	workflows.EventOutOfScope:      {workflows.ServiceSOS, partner, "not a security incident: a disk filled up; please open an ordinary ticket"},
	workflows.EventCancelRefused:   {workflows.ServiceSOS, manager, "cancellation requested in the Temporal Web UI refused: SOS work has begun; the case goes on"},
	workflows.EventPartnerAccepted: {workflows.ServiceSOS, partner, "demo-sec-a accepted"},
	workflows.EventCustomerContacted: {workflows.ServiceSOS, partner,
		"first contact with the customer; response met 7 min before due (due 2026-12-01 10:20 CST)"},
	workflows.EventSLAAtRisk: {workflows.ServiceSOS, sys, "handling clock 80% elapsed; due 2026-12-04 10:30 CST"},
	workflows.EventSLABreached: {workflows.ServiceSOS, sys,
		"response clause breached: not met by 2026-12-01 10:20 CST; refund now 50% (¥2,500.00)"},
	workflows.EventSLAReplanned: {workflows.ServiceSOS, sys,
		"response clock planned without 2027's holiday data (weekends only); re-planned from 2026-12-31 17:50 CST with cn-2027@1a2b3c4d: due 2027-01-04 09:10 CST (was 2027-01-01 09:10 CST)"},
	workflows.EventReportSubmitted:   {workflows.ServiceSOS, partner, "report v1 submitted"},
	workflows.EventTermReminder:      {workflows.ServiceDengbao, sys, "30 days left in the term (ends 2027-12-01) and no pass yet"},
	workflows.EventTermEnded:         {workflows.ServiceButler, sys, "term ended on 2027-12-01"},
	workflows.EventPlanAgreed:        {workflows.ServiceButler, partner, "plan agreed: baseline, then monthly reviews"},
	workflows.EventPlanRevised:       {workflows.ServiceEscort, partner, "plan v2: 3 covered days, 2026-12-10 to 2026-12-12; 2 checks: WAF alerts, login audit"},
	workflows.EventDocumentDelivered: {workflows.ServiceDengbao, partner, "《安全整改建议书》 v1 delivered"},
	workflows.EventRequestReceived: {workflows.ServiceHosting, market,
		"r1: security_check on i-web1 (security_check 1 of 1 used): quarterly scan"},
	workflows.EventRequestOpened:      {workflows.ServiceButler, market, "consulting r2: how should we segment the VPC?; respond by 2026-12-01 11:00 CST (1 h, 7x24)"},
	workflows.EventRequestCompleted:   {workflows.ServiceHosting, partner, "r1 (security_check on i-web1) done: no high-risk findings"},
	workflows.EventRequestCancelled:   {workflows.ServiceButler, sys, "r5 was still open at the end of the term and is cancelled"},
	workflows.EventRequestFailed:      {workflows.ServiceButler, sys, "r3 stopped without reporting its end"},
	workflows.EventAssetsReminded:     {workflows.ServiceSOS, sys, "no asset list after 3 of 5 days; the customer was reminded it is due by 2026-12-06 09:12 CST"},
	workflows.EventAssetsSubmitted:    {workflows.ServiceSOS, market, "2 hosts submitted; the handling clock runs 3 d (due 2026-12-04 10:30 CST)"},
	workflows.EventIncidentConfirmed:  {workflows.ServiceSOS, partner, "malware / webshell: defaced pages; attack ongoing"},
	workflows.EventContainmentSkipped: {workflows.ServiceSOS, partner, "no attack is ongoing: containment not needed"},
	workflows.EventContained:          {workflows.ServiceSOS, partner, "took the site offline"},
	workflows.EventEradicated:         {workflows.ServiceSOS, partner, "removed 3 webshells; malware removed"},
	workflows.EventCauseAnalyzed:      {workflows.ServiceSOS, partner, "cause: upload vulnerability in the CMS"},
	workflows.EventReportConfirmed:    {workflows.ServiceSOS, market, "the customer accepted report v1 (rating 5)"},
	workflows.EventReportDisputed:     {workflows.ServiceSOS, market, "the customer disputed report v1: the root cause is missing"},
	workflows.EventReportReminded: {workflows.ServiceSOS, sys,
		"report v1 has waited 3 d for the customer's verdict; the customer was reminded it counts as confirmed from 2026-12-08 16:42 CST"},
	workflows.EventReportDeemedAccepted: {workflows.ServiceSOS, sys,
		"no verdict on report v1 within 7 d (by 2026-12-08 16:42 CST): deemed confirmed; the partner may close the case"},
	workflows.EventServiceStarted:     {workflows.ServiceDengbao, partner, "the service started: from now on it cannot be refunded"},
	workflows.EventWorkItemUpdated:    {workflows.ServiceDengbao, partner, "gap_plan: done (gap report reviewed)"},
	workflows.EventAssessmentRecorded: {workflows.ServiceDengbao, partner, "attempt 1 on 2026-12-20 by CSTC: passed"},
	workflows.EventReportOverdue: {workflows.ServiceButler, sys,
		"monthly report 2 was due on 2027-01-31 and is still missing 3 d later (1 submitted)"},
	workflows.EventReportEmailed:     {workflows.ServiceButler, sys, "service report 2 e-mailed to 3 recipients"},
	workflows.EventReportEmailFailed: {workflows.ServiceButler, sys, "service report 2 could not be e-mailed: the mail server refused the recipients"},
	workflows.EventInspected:         {workflows.ServiceButler, partner, "inspection of 2026-12-02: 6 areas checked, 2 findings"},
	workflows.EventInspectionMissed:  {workflows.ServiceButler, sys, "no daily inspection recorded for 2026-12-04; 2026-12-05; 2026-12-06 by 2026-12-07 10:00 CST (3 days missed this term)"},
	workflows.EventTermReportMissed:  {workflows.ServiceButler, sys, "no term report 5 working days after the term ended on 2027-12-01 (due 2027-12-08 10:00 CST); operations and partner demo-sec-a alerted"},
	workflows.EventServersBound:      {workflows.ServiceButler, market, "3 servers bound (5 of 10 used)"},
	workflows.EventRecipientsSet:     {workflows.ServiceButler, market, "3 report recipients set"},
	workflows.EventUrgencyChanged:    {workflows.ServiceButler, market, "r4: urgency high → critical; respond by 2026-12-01 10:15 CST"},
	workflows.EventResponded:         {workflows.ServiceButler, partner, "response met 22 min before due (due 2026-12-01 11:00 CST)"},
	workflows.EventClassified:        {workflows.ServiceButler, partner, "brute-force login attempts on the bastion host"},
	workflows.EventEliminated:        {workflows.ServiceButler, partner, "blocked the source addresses and rotated the passwords"},
	workflows.EventRestored:          {workflows.ServiceButler, partner, "bastion host back in service"},
	workflows.EventHardeningAdvised:  {workflows.ServiceButler, partner, "enable MFA on the bastion host"},
	workflows.EventReassessed:        {workflows.ServiceButler, partner, "no further attempts in 24 h"},
	workflows.EventFollowedUp:        {workflows.ServiceButler, partner, "follow-up done; the request is resolved"},
	workflows.EventVulnIdentified:    {workflows.ServiceButler, partner, "CVE-2026-1234 in the web framework"},
	workflows.EventImpactAssessed:    {workflows.ServiceButler, partner, "scope: 4 web servers"},
	workflows.EventVulnVerified:      {workflows.ServiceButler, partner, "verified: exists, severity high"},
	workflows.EventVulnNotPresent:    {workflows.ServiceButler, partner, "the affected version is not deployed"},
	workflows.EventFixPlanned:        {workflows.ServiceButler, partner, "upgrade the framework in tonight's window"},
	workflows.EventRetestPassed:      {workflows.ServiceButler, partner, "the retest found it fixed"},
	workflows.EventRetestFailed:      {workflows.ServiceButler, partner, "2 of 4 servers still vulnerable"},
	workflows.EventAnswered:          {workflows.ServiceButler, partner, "three subnets: web, app, db"},
	workflows.EventRenewed: {workflows.ServiceHosting, market,
		"renewed for another year: the hosting now runs until 2028-12-01"},
	workflows.EventTermRenewed:   {workflows.ServiceHosting, sys, "year 2 of the hosting began; it ends on 2028-12-01; quotas are reset"},
	workflows.EventEscortStarted: {workflows.ServiceEscort, sys, "covered days 2026-12-10 to 2026-12-12 begin; check in by 10:00 each day"},
	workflows.EventCheckedIn:     {workflows.ServiceEscort, partner, "2026-12-10: on duty, checked in at 09:12"},
	workflows.EventCheckinMissed: {workflows.ServiceEscort, sys, "no on-duty check-in for 2026-12-11 by 10:00 China time"},
	workflows.EventDayMissed:     {workflows.ServiceEscort, sys, "2026-12-11 ended without an on-duty check-in"},
	workflows.EventPlanOverdue: {workflows.ServiceEscort, sys,
		"no protection plan 2 working days after the partner accepted (due 2026-12-03 10:05 CST); operations and the partner were alerted"},
	workflows.EventScheduleSet:      {"consulting", partner, "2026-12-08 to 2026-12-09: SDL workshop"},
	workflows.EventWorkDelivered:    {"consulting", partner, "round 1: workshop held"},
	workflows.EventDeliveryAccepted: {"consulting", market, "the customer accepted deliverable v1"},
	workflows.EventDeliveryRejected: {"consulting", market,
		"the customer rejected deliverable v1: the threat model is missing; back to delivery"},
	workflows.EventDeliveryDeemedAccepted: {"consulting", sys, "no verdict on deliverable v1 within 7 d: deemed accepted"},
	workflows.EventScheduleOverdue: {"consulting", sys,
		"no schedule 5 working days after the partner accepted (due 2026-12-08 10:05 CST); operations and the partner were alerted"},
}

// docExampleAt is the examples' first instant; each next example is a few minutes later.
var docExampleAt = time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)

// docEnvelopes builds example envelopes as RecordCase does: one case per service, numbered in page order.
type docEnvelopes struct {
	seq map[string]int64
	n   int
}

func (d *docEnvelopes) envelope(key, typ, service string, data func(caseID string, at time.Time) any) (string, error) {
	if d.seq == nil {
		d.seq = map[string]int64{}
	}
	d.n++
	at := docExampleAt.Add(time.Duration(d.n) * 7 * time.Minute)
	o, ok := docOrders[service]
	if !ok {
		return "", fmt.Errorf("no example order for service %q", service)
	}
	caseID := workflows.CaseWorkflowID(service, o.order)
	d.seq[caseID]++
	if key == "" {
		key = fmt.Sprintf("%s/%03d/%s", caseID, d.seq[caseID], typ)
	}
	env := db.Envelope{ID: db.WebhookEventID(strings.ReplaceAll(key, "$CASE", caseID)), Type: typ, CreatedAt: at, CaseID: caseID,
		OrderID: o.order, CustomerID: o.customer, Service: service, Sequence: d.seq[caseID], Data: data(caseID, at)}
	b, err := json.MarshalIndent(env, "", "  ")
	return string(b), err
}

// docHookExamples are the examples of the types outside the timeline: the service of their case and the
// event's key (as the writer keys it, $CASE standing for the case) and data.
var docHookExamples = map[string]struct {
	service, key string
	data         func(caseID string, at time.Time) any
}{
	workflows.WebhookRefundOwed: {workflows.ServiceSOS, "$CASE/refund/response/refund.owed", func(caseID string, _ time.Time) any {
		return activities.RefundData{RefundID: db.RefundID(caseID + "/refund/response"), Clause: "response", Percent: 50, AmountCents: 250_000,
			Currency: "CNY", Reason: "response clause breached: not met by 2026-12-01 10:20 CST; refund now 50% (¥2,500.00)"}
	}},
	workflows.WebhookRefundPaid: {workflows.ServiceSOS, "$CASE/refund/response/refund.paid", func(caseID string, at time.Time) any {
		return db.RefundPaidData{RefundID: db.RefundID(caseID + "/refund/response"), Clause: "response", Percent: 50, AmountCents: 250_000,
			Currency: "CNY", PaidAt: at.Add(-time.Hour), Reference: "PAY-20261201-0042"}
	}},
	workflows.WebhookRefundWaived: {workflows.ServiceSOS, "$CASE/refund/response/refund.waived", func(caseID string, _ time.Time) any {
		return db.RefundWaivedData{RefundID: db.RefundID(caseID + "/refund/response"), Clause: "response", Percent: 50, AmountCents: 250_000,
			Currency: "CNY", Reason: "the customer asked to be called later than agreed"}
	}},
	workflows.WebhookQuotaRefused: {workflows.ServiceHosting, "$CASE/quota-refused/req-7f3a", func(string, time.Time) any {
		return workflows.QuotaRefusal{Kind: "security_check", InstanceID: "i-web1", Used: 1, Quota: 1, QuotaState: "security_check 1 of 1 used",
			TermEnd: "2027-12-01"}
	}},
}

// webhookDoc generates docs/webhooks.md.
func webhookDoc() (string, error) {
	sections, hooks, err := catalogueSections()
	if err != nil {
		return "", err
	}
	var s, summary bytes.Buffer
	var d docEnvelopes
	var typesDone []string
	writeType := func(typ, event, meaning, example string) {
		text := meaning
		if event != "" {
			text += fmt.Sprintf(" Timeline event `%s`.", event)
		}
		fmt.Fprintf(&s, "### `%s`\n\n%s\n\n```json\n%s\n```\n\n", typ, text, example)
		fmt.Fprintf(&summary, "| [`%s`](#%s) | %s |\n", typ, strings.ReplaceAll(typ, ".", ""), meaning)
		typesDone = append(typesDone, typ)
	}
	for _, sec := range sections {
		heading := false
		for _, c := range sec.consts {
			e := workflows.Event(c.value)
			typ, ok := workflows.WebhookType(e)
			if !ok {
				continue
			}
			if !heading {
				fmt.Fprintf(&s, "## %s\n\n", sec.heading)
				heading = true
			}
			x, ok := docExamples[e]
			if !ok {
				return "", fmt.Errorf("event %s has no example in workflows/webhookdoc_test.go (docExamples)", e)
			}
			example, err := d.envelope("", typ, x.service, func(_ string, at time.Time) any {
				return activities.TimelineData{Event: string(e), At: at, Actor: x.actor, Detail: x.detail}
			})
			if err != nil {
				return "", err
			}
			writeType(typ, string(e), c.meaning, example)
		}
	}
	heading := ""
	for _, c := range hooks {
		title := "Other events"
		if strings.HasPrefix(c.value, "refund.") {
			title = "Refunds"
		}
		if title != heading {
			fmt.Fprintf(&s, "## %s\n\n", title)
			if title == "Refunds" {
				s.WriteString(webhookDocRefunds)
			}
			heading = title
		}
		var example string
		if c.value == workflows.WebhookTest {
			// As `steward webhooks test` builds it, with a fixed id and time.
			var env db.Envelope
			if err := json.Unmarshal(webhooks.TestEvent(docExampleAt.Add(time.Duration(d.n+1)*7*time.Minute)).Payload, &env); err != nil {
				return "", err
			}
			env.ID = "evt_test_3f9c2a71d0b4e8a6c1d2e3f4"
			b, err := json.MarshalIndent(env, "", "  ")
			if err != nil {
				return "", err
			}
			example = string(b)
		} else {
			x, ok := docHookExamples[c.value]
			if !ok {
				return "", fmt.Errorf("webhook type %s has no example in workflows/webhookdoc_test.go (docHookExamples)", c.value)
			}
			if example, err = d.envelope(x.key, c.value, x.service, x.data); err != nil {
				return "", err
			}
		}
		meaning := c.meaning
		if c.value == workflows.WebhookTest {
			meaning += " It belongs to no case: its case fields are empty and its sequence is 0."
		}
		writeType(c.value, "", meaning, example)
	}
	for _, typ := range workflows.WebhookTypes() {
		if !slices.Contains(typesDone, typ) {
			return "", fmt.Errorf("webhook type %s is neither a catalogue event nor a Webhook… constant of events.go", typ)
		}
	}
	intro := strings.NewReplacer("$WINDOW", workflows.Span(signing.Window), "$TIMEOUT", workflows.Span(webhooks.DefaultTimeout),
		"$MAXBACKOFF", workflows.Span(webhooks.MaxBackoff), "$GIVEUP", fmt.Sprintf("%g h", webhooks.DefaultGiveUp.Hours()),
		"$CONCURRENCY", strconv.Itoa(webhooks.DefaultConcurrency)).Replace(webhookDocIntro)
	page := intro + "## Every type\n\nThe examples below number each case's events in the order of this page.\n\n" +
		"| type | meaning |\n|---|---|\n" + summary.String() + "\n" + s.String()
	return strings.TrimRight(page, "\n") + "\n", nil
}

const webhookDocIntro = "# Event webhooks\n\n" +
	"<!-- Generated from workflows/events.go by `STEWARD_WRITE_DOCS=1 go test -run TestWebhookDoc ./workflows/`; do not edit. -->\n\n" +
	`steward tells the marketplace what happens to its cases: every public event of the case catalogue
(` + "`workflows/events.go`" + `, [docs/events.md](events.md)) and every change of a refund's state is an event that
steward POSTs, signed, to each subscribed URL. Operators subscribe receivers with ` + "`steward webhooks add`" + `; how, and
how to check a signature in shell or Go, is in the README ("Event webhooks"). This page is generated from the
catalogue and a test keeps it in step: each type below, with an example payload built as the outbox builds it.

## A delivery

One event is one ` + "`POST`" + ` to the subscription's URL with ` + "`Content-Type: application/json`" + ` and this body:

| field | meaning |
|---|---|
| ` + "`id`" + ` | the event's id, ` + "`evt_`" + ` and 24 hex digits; the same on every retry and redelivery |
| ` + "`type`" + ` | one of the types below, such as ` + "`sla.breached`" + ` |
| ` + "`created_at`" + ` | when it happened (RFC 3339, UTC): the timeline line's time, or the refund's change |
| ` + "`case_id`" + `, ` + "`order_id`" + `, ` + "`customer_id`" + `, ` + "`service`" + ` | the case and the order it was opened for |
| ` + "`sequence`" + ` | the event's number within its case: 1, 2, 3, … with no gaps (0 for ` + "`webhook.test`" + `, which has no case) |
| ` + "`data`" + ` | the event's own fields: for a timeline event ` + "`{event, at, actor, detail}`" + ` (` + "`actor`" + ` is a kind — ` + "`marketplace`" + `, ` + "`partner`" + `, ` + "`manager`" + `, ` + "`system`" + ` — never a person); for a refund its id, clause, percent, amount and currency |

Headers:

| header | value |
|---|---|
| ` + "`X-Steward-Event-Id`" + ` | the body's ` + "`id`" + ` |
| ` + "`X-Steward-Event-Type`" + ` | the body's ` + "`type`" + ` |
| ` + "`X-Steward-Timestamp`" + ` | unix seconds when this attempt was signed |
| ` + "`X-Steward-Signature`" + ` | ` + "`v2=`" + ` and the hex HMAC-SHA256, keyed with the subscription's secret, of ` + "`timestamp + \".\" + \"POST \" + path + \".\" + body`" + `; for ` + "`-overlap`" + ` (24 h) after ` + "`steward webhooks rotate`" + `, two such signatures, comma-separated, the new secret's first: accept the delivery when one matches |

The signature is the scheme the marketplace already uses for its calls to steward (v2: method and path
included), with the subscription's own secret; ` + "`path`" + ` is the path of the subscription's URL, with its
query if it has one. A receiver recomputes it over the raw body, compares in constant time, and refuses a
timestamp more than $WINDOW from its clock.

Delivery is **at least once**. An event exists exactly when its timeline line does (both are written in one
transaction), and the worker sends it until the receiver answers 2xx within $TIMEOUT. Anything else — a refused
connection, a timeout, a redirect (never followed), a 4xx or 5xx — is retried with exponential backoff: 1 s,
2 s, 4 s, … doubling up to $MAXBACKOFF between attempts (each wait jittered between half and all of it), for
$GIVEUP after the event. Then the delivery is marked ` + "`failed`" + `, operations are alerted once, and
` + "`steward webhooks redeliver ID`" + ` (or ` + "`POST /v1/webhooks/deliveries/{id}/redeliver`" + `) sends it again, retried
for another $GIVEUP. Each worker sends at most $CONCURRENCY deliveries to one subscriber at once. A retry, a
redelivery and a delivery whose answer was lost all carry the same ` + "`id`" + `, so a receiver **deduplicates by
id**. Deliveries can arrive out of order; ` + "`sequence`" + ` orders a case's events, and a gap says an event is still
on its way.

Events carry nothing the marketplace does not already hold: no engineer's name or contact, no
partner-internal notes, and the partner-assignment events (offers, declines, timeouts) are never sent.

`

const webhookDocRefunds = "Each refund has a stable id per case and clause (`data.refund_id`, the `{id}` of the refund calls and of\n" +
	"`GET /v1/refunds`), its amount in cents and a state:\n\n" +
	"```\nowed → instructed → paid | waived\n```\n\n" +
	`- ` + "`owed`" + `: a breach (or a cancellation) added it; ` + "`refund.owed`" + ` announces it.
- ` + "`instructed`" + `: ` + "`refund.owed`" + ` was delivered, so the marketplace has been told to pay it.
- ` + "`paid`" + `: the marketplace paid it and said so with a signed ` + "`POST /v1/refunds/{id}/paid {paid_at, reference}`" + `
  (the same report again is harmless; another reference is 409); ` + "`refund.paid`" + ` follows.
- ` + "`waived`" + `: a manager waived it with ` + "`POST /v1/refunds/{id}/waive {reason}`" + `; ` + "`refund.waived`" + ` follows (who
  waived it stays with the provider).

` + "`paid`" + ` and ` + "`waived`" + ` are final and reached from ` + "`owed`" + ` or ` + "`instructed`" + `: a refund is paid at most once, never
after it was waived, and a case's paid refunds never exceed its order amount.

`
