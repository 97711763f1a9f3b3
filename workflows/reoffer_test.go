package workflows_test

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steward-oss/steward/activities"
	"github.com/steward-oss/steward/sla"
	"github.com/steward-oss/steward/workflows"
	"github.com/steward-oss/steward/workflows/casetest"
	"github.com/steward-oss/steward/workflows/sos"
)

var reofferStart = time.Date(2026, 3, 3, 10, 0, 0, 0, time.UTC) // a Tuesday, 18:00 in China

func reofferOrder() workflows.CaseInput {
	return workflows.CaseInput{CaseID: "sos:R-1", OrderID: "R-1", CustomerID: "C-1", Service: workflows.ServiceSOS, Spec: sla.SpecHandling,
		Quantity: 1, AmountCents: 500000, Currency: "CNY", PaidAt: reofferStart}
}

// engineer sends partner's step at d as its engineer name, with token tokenID.
func engineer(h *casetest.Harness, d time.Duration, partner, name, tokenID, step string, payload any) string {
	id := step + "/" + partner + "@" + d.String()
	h.Send(d, id, workflows.StepInput{Step: step, Actor: workflows.ActorPartner, PartnerID: partner, ActorName: name, TokenID: tokenID,
		Payload: casetest.MustJSON(payload)})
	return id
}

// withdraw sends the UpdateReoffer that steward partners disable sends, at d.
func withdraw(h *casetest.Harness, d time.Duration, actor, partner string) string {
	id := "reoffer/" + partner + "@" + d.String()
	opts := workflows.ReofferOptions("sos:R-1", partner, "ops-lead", "partner company disabled", time.Time{})
	in := opts.Args[0].(workflows.StepInput)
	in.Actor = actor
	h.Send(d, id, in)
	return id
}

func eventNamed(t *testing.T, h *casetest.Harness, name workflows.Event, partner string) activities.Event {
	t.Helper()
	for _, e := range h.EventsNamed(name) {
		if e.PartnerID == partner {
			return e
		}
	}
	t.Fatalf("no %s line for %s in %v", name, partner, h.EventNames())
	return activities.Event{}
}

// TestReofferHeldCase: withdrawing the partner that holds a case offers it again, to another partner, and
// the next acceptance takes the case back to the stage it was in; the withdrawn partner's steps are refused
// from then on. Each step's line names its engineer, token and company; the withdrawal names the manager.
func TestReofferHeldCase(t *testing.T) {
	h := casetest.New(t, reofferStart, []string{"p1", "p2"}, sos.Lifecycle.Workflows...)
	h.Market(30*time.Second, sos.StepAssets, map[string]any{"hosts": []map[string]string{{"instance_id": "i-1", "ip": "10.0.0.1", "os": "Linux"}}})
	accept1 := engineer(h, time.Minute, "p1", "eng-li", "tok_li", workflows.StepAccept, map[string]any{})
	contact := engineer(h, 2*time.Minute, "p1", "eng-li", "tok_li", workflows.StepContact, map[string]any{"note": "called"})
	byPartner := withdraw(h, 3*time.Minute, workflows.ActorPartner, "p1")
	reoffer := withdraw(h, 4*time.Minute, workflows.ActorManager, "p1")
	again := withdraw(h, 5*time.Minute, workflows.ActorManager, "p1")
	late := engineer(h, 6*time.Minute, "p1", "eng-li", "tok_li", sos.StepConfirm, map[string]any{"security_incident": false, "summary": "x"})
	accept2 := engineer(h, 7*time.Minute, "p2", "eng-zhou", "tok_zhou", workflows.StepAccept, map[string]any{})
	confirm := engineer(h, 8*time.Minute, "p2", "eng-zhou", "tok_zhou", sos.StepConfirm, map[string]any{
		"security_incident": true, "incident_class": "malware", "incident_type": "webshell", "summary": "webshell", "attack_ongoing": false})
	h.RunUntil(sos.WorkflowName, reofferOrder(), 30*time.Minute)

	h.RequireOK("assets@30s", accept1, contact, reoffer, accept2, confirm)
	assert.Error(t, h.Results[byPartner], "a partner cannot withdraw a partner")
	assert.Error(t, h.Results[again], "withdrawn already: nothing to do")
	assert.Error(t, h.Results[late], "the withdrawn partner's steps are refused")
	stage := h.Views[contact].Stage
	assert.Equal(t, workflows.StageAssignment, h.Views[reoffer].Stage, "offered again")
	assert.Empty(t, h.Views[reoffer].PartnerID)
	assert.Equal(t, stage, h.Views[accept2].Stage, "the next acceptance goes back to the stage the case was in")
	assert.Equal(t, "p2", h.Views[accept2].PartnerID)

	w := eventNamed(t, h, workflows.EventPartnerWithdrawn, "p1")
	assert.Equal(t, workflows.ActorManager, w.Actor)
	assert.Equal(t, "ops-lead", w.By, "the manager's action names the manager")
	assert.Contains(t, w.Detail, "p1 withdrawn: partner company disabled")
	assert.Empty(t, w.Webhook, "an assignment line is never a webhook")
	last := h.Choices()[len(h.Choices())-1]
	assert.Contains(t, last.Exclude, "p1", "the withdrawn partner is not offered the case again")
	assert.NotEmpty(t, eventNamed(t, h, workflows.EventPartnerOffered, "p2"))

	c := eventNamed(t, h, workflows.EventCustomerContacted, "p1")
	assert.Equal(t, []string{"eng-li", "tok_li", "p1"}, []string{c.By, c.ByToken, c.ByPartner}, "the engineer, the token and the company")
	a := eventNamed(t, h, workflows.EventPartnerAccepted, "p2")
	assert.Equal(t, []string{"eng-zhou", "tok_zhou", "p2"}, []string{a.By, a.ByToken, a.ByPartner})
	for _, e := range h.Events() {
		if e.Actor == workflows.ActorSystem || e.Actor == workflows.ActorMarketplace {
			assert.Empty(t, e.By, "%s: steward's and the marketplace's lines name no one", e.Event)
		}
	}
	// The clocks kept running: the case's rows name no partner while it was offered again.
	rows := h.Rows()
	assert.True(t, slices.ContainsFunc(rows, func(r activities.CaseRow) bool { return r.Stage == workflows.StageAssignment && r.PartnerID == "" }))
}

// TestReofferOpenOffer: withdrawing a partner that holds an open offer moves the offer on at once, without
// waiting for the acceptance deadline.
func TestReofferOpenOffer(t *testing.T) {
	h := casetest.New(t, reofferStart, []string{"p1", "p2"}, sos.Lifecycle.Workflows...)
	reoffer := withdraw(h, time.Minute, workflows.ActorManager, "p1")
	accept := engineer(h, 2*time.Minute, "p2", "eng-zhou", "tok_zhou", workflows.StepAccept, map[string]any{})
	h.RunUntil(sos.WorkflowName, reofferOrder(), 5*time.Minute)

	h.RequireOK(reoffer, accept)
	var names []workflows.Event
	for _, e := range h.EventNames() {
		if slices.Contains(workflows.AssignmentEvents, e) || e == workflows.EventPartnerAccepted {
			names = append(names, e)
		}
	}
	require.Equal(t, []workflows.Event{workflows.EventPartnerOffered, workflows.EventPartnerWithdrawn, workflows.EventPartnerOffered,
		workflows.EventPartnerAccepted}, names, "offered to p1, withdrawn, offered to p2 at once, accepted")
	assert.Equal(t, "p2", h.Views[accept].PartnerID)
	assert.Equal(t, sos.StageConfirmation, h.Views[accept].Stage)
}
