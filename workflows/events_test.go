package workflows_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/workflows"
)

// TestEventCatalogue: every Event constant declared in events.go is in workflows.Events exactly once, has a
// doc comment, and is a distinct lower-case snake_case word, so the catalogue webhooks publish is whole.
func TestEventCatalogue(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "events.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	declared := 0
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Event" {
				continue
			}
			declared++
			if vs.Doc == nil {
				t.Errorf("%s has no doc comment", vs.Names[0].Name)
			}
		}
	}
	if declared != len(workflows.Events) {
		t.Errorf("events.go declares %d Event constants; workflows.Events lists %d", declared, len(workflows.Events))
	}
	word := regexp.MustCompile(`^[a-z]+(_[a-z]+)*$`)
	seen := map[workflows.Event]bool{}
	for _, e := range workflows.Events {
		if seen[e] {
			t.Errorf("event %q is listed twice", e)
		}
		seen[e] = true
		if !word.MatchString(string(e)) {
			t.Errorf("event %q is not a lower-case snake_case word", e)
		}
	}
	for _, e := range workflows.AssignmentEvents {
		if !slices.Contains(workflows.Events, e) {
			t.Errorf("assignment event %q is not in the catalogue", e)
		}
	}
}

// TestEventCatalogueDocumented: docs/events.md, the public list of case events, names every event once.
func TestEventCatalogueDocumented(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "docs", "events.md"))
	if err != nil {
		t.Fatal(err)
	}
	listed := regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\|").FindAllStringSubmatch(string(b), -1)
	if len(listed) != len(workflows.Events) {
		t.Errorf("docs/events.md lists %d events; the catalogue has %d", len(listed), len(workflows.Events))
	}
	for _, m := range listed {
		if !slices.Contains(workflows.Events, workflows.Event(m[1])) {
			t.Errorf("docs/events.md lists %q, which is not in the catalogue", m[1])
		}
	}
}

// TestWebhookTypes: every public event has one dotted type, unique; assignment events have none.
func TestWebhookTypes(t *testing.T) {
	seen := map[string]workflows.Event{}
	for _, e := range workflows.Events {
		typ, ok := workflows.WebhookType(e)
		if slices.Contains(workflows.AssignmentEvents, e) || slices.Contains(workflows.DeliveryEvents, e) {
			if ok {
				t.Errorf("%s is never sent but has webhook type %q", e, typ)
			}
			continue
		}
		if !ok || strings.Count(typ, ".") != 1 || strings.Contains(typ, " ") {
			t.Errorf("%s: webhook type %q", e, typ)
		}
		if prev, dup := seen[typ]; dup {
			t.Errorf("%s and %s share webhook type %q", prev, e, typ)
		}
		seen[typ] = e
	}
	for e, want := range map[workflows.Event]string{workflows.EventSLABreached: "sla.breached", workflows.EventCaseOpened: "case.opened",
		workflows.EventCustomerContacted: "customer.contacted", workflows.EventAnswered: "request.answered", workflows.EventContained: "case.contained",
		workflows.EventOutOfScope: "case.out_of_scope", workflows.EventTermReminder: "term.reminder"} {
		if got, _ := workflows.WebhookType(e); got != want {
			t.Errorf("WebhookType(%s) = %q; want %q", e, got, want)
		}
	}
	if _, ok := workflows.WebhookType("no_such_event"); ok {
		t.Error("an event outside the catalogue has a webhook type")
	}
}

// TestScorecardEventsSpelledAsTheCatalogue: the reports' database queries count catalogue events by the
// catalogue's own names.
func TestScorecardEventsSpelledAsTheCatalogue(t *testing.T) {
	e := db.ScorecardEvents
	for got, want := range map[string]workflows.Event{e.Offered: workflows.EventPartnerOffered, e.Accepted: workflows.EventPartnerAccepted,
		e.Declined: workflows.EventPartnerDeclined, e.TimedOut: workflows.EventOfferTimedOut, e.Disputed: workflows.EventReportDisputed} {
		if got != string(want) {
			t.Errorf("db.ScorecardEvents has %q where the catalogue says %q", got, want)
		}
	}
}
