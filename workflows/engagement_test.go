package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steward-oss/steward/activities"
)

func engagementInput(service string, quantity int, amount int64, paid time.Time) CaseInput {
	return CaseInput{CaseID: CaseWorkflowID(service, "O-1"), OrderID: "O-1", CustomerID: "C-1", Service: service, Quantity: quantity,
		AmountCents: amount, Currency: "CNY", PaidAt: paid}
}

func (h *sosHarness) runEngagement(in CaseInput) EngagementResult {
	h.t.Helper()
	h.env.RegisterWorkflow(EngagementWorkflow)
	h.env.ExecuteWorkflow(EngagementWorkflow, EngagementInput{CaseInput: in})
	require.True(h.t, h.env.IsWorkflowCompleted(), "still running at %v", h.env.Now())
	require.NoError(h.t, h.env.GetWorkflowError())
	var res EngagementResult
	require.NoError(h.t, h.env.GetWorkflowResult(&res))
	return res
}

var (
	schedule    = ScheduleInput{StartsOn: "2026-03-10", EndsOn: "2026-03-12", Summary: "three days on site"}
	deliverable = EngagementDeliverableInput{Title: "服务报告", Summary: "done as planned", Items: []string{"finding 1", "advice 2"}}
)

// engagementPath drives a case from accept to the deliverable, from offset d.
func engagementPath(h *sosHarness, d time.Duration) {
	h.partner(d+time.Minute, "p1", StepAccept, struct{}{})
	h.partner(d+time.Hour, "p1", StepSchedule, schedule)
	h.partner(d+48*time.Hour, "p1", StepDeliver, DeliverInput{Summary: "work delivered"})
	h.partner(d+50*time.Hour, "p1", StepDeliverable, deliverable)
}

// TestEngagementServices: every per-engagement service runs the same path: accept, schedule, deliver,
// the deliverable rendered as a service report, the customer's acceptance.
func TestEngagementServices(t *testing.T) {
	paid := cst(2026, 3, 2, 10)
	tests := []struct {
		name     string
		service  string
		quantity int
		amount   int64
		kloc     int
	}{
		{"consulting", ServiceConsulting, 1, 2_000_000, 0},
		{"training", ServiceTraining, 1, 800_000, 0},
		{"assessment", ServiceAssessment, 1, 1_500_000, 0},
		{"code audit by volume", ServiceCodeAudit, 120, 3_600_000, 120},
		{"onboarding is free", ServiceOnboarding, 1, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newSOS(t, paid, "p1")
			engagementPath(h, 0)
			h.market(60*time.Hour, StepAcceptDelivery, AcceptDeliveryInput{Rating: 5, Comment: "thorough"})
			res := h.runEngagement(engagementInput(tt.service, tt.quantity, tt.amount, paid))
			h.requireOK("accept@1m0s", "schedule@1h0m0s", "deliver@48h0m0s", "deliverable@50h0m0s", "accept_delivery@60h0m0s")
			assert.Equal(t, StageClosed, res.Stage)
			assert.Equal(t, StatusClosed, res.State.Status)
			assert.Equal(t, tt.kloc, res.State.KLOC)
			assert.Equal(t, 5, res.State.Rating)
			require.NotNil(t, res.State.AcceptedAt)
			assert.False(t, res.State.DeemedAccept)
			assert.Equal(t, []string{"opened", "offered", "partner_accepted", "scheduled", "delivered", "deliverable", "delivery_accepted"}, h.eventNames())
			require.Len(t, h.docs, 1)
			doc := h.docs[0]
			assert.Equal(t, DeliverableServiceReport, doc.Kind)
			assert.Equal(t, "服务报告", doc.Title)
			assert.Equal(t, 1, doc.Version)
			assert.Equal(t, EngagementLabel(tt.service), doc.Meta[0].Value)
			if tt.service == ServiceCodeAudit {
				assert.Contains(t, doc.Meta, activities.DocField{Label: "代码量 Code volume", Value: "120 KLOC"})
			}
			assert.Equal(t, tt.service, h.rows[0].Service)
			v := h.views["deliverable@50h0m0s"]
			assert.Equal(t, StageAcceptance, v.Stage)
			require.Len(t, v.SLA, 1)
			assert.True(t, v.SLA[0].DueAt.Equal(paid.Add(50*time.Hour+AcceptanceWindow)))
		})
	}
}

// TestEngagementRejection: a rejected deliverable goes back to delivery; the second version carries
// the customer's feedback and is accepted.
func TestEngagementRejection(t *testing.T) {
	paid := cst(2026, 3, 2, 10)
	h := newSOS(t, paid, "p1")
	engagementPath(h, 0)
	h.market(60*time.Hour, StepRejectDelivery, RejectDeliveryInput{Comment: "the web app was not tested"})
	h.partner(61*time.Hour, "p1", StepDeliverable, deliverable) // deliver again first
	h.partner(70*time.Hour, "p1", StepDeliver, DeliverInput{Summary: "web app tested"})
	h.partner(71*time.Hour, "p1", StepDeliverable, EngagementDeliverableInput{Title: "服务报告", Summary: "now with the web app"})
	h.market(80*time.Hour, StepAcceptDelivery, AcceptDeliveryInput{})
	res := h.runEngagement(engagementInput(ServiceAssessment, 1, 1_500_000, paid))
	h.requireOK("reject_delivery@60h0m0s", "deliver@70h0m0s", "deliverable@71h0m0s", "accept_delivery@80h0m0s")
	assert.Equal(t, RejectConflict, rejectionType(h.results["deliverable@61h0m0s"]))
	assert.Equal(t, StageDelivery, h.views["reject_delivery@60h0m0s"].Stage)
	assert.Equal(t, StageClosed, res.Stage)
	require.Len(t, res.State.Rejections, 1)
	assert.Equal(t, 1, res.State.Rejections[0].Version)
	require.Len(t, res.State.Deliveries, 2)
	require.Len(t, h.docs, 2)
	assert.Equal(t, 2, h.docs[1].Version)
	var feedback []string
	for _, s := range h.docs[1].Sections {
		if s.Heading == "客户意见 Feedback" {
			for _, r := range s.Table.Rows {
				feedback = append(feedback, r[2])
			}
		}
	}
	assert.Equal(t, []string{"the web app was not tested"}, feedback)
	assert.Equal(t, 1, countNotes(h, "安全评估 delivery rejected"))
}

// TestEngagementDeemedAccepted: no verdict within the acceptance window closes the case as accepted.
func TestEngagementDeemedAccepted(t *testing.T) {
	paid := cst(2026, 3, 2, 10)
	h := newSOS(t, paid, "p1")
	engagementPath(h, 0)
	res := h.runEngagement(engagementInput(ServiceTraining, 1, 800_000, paid))
	assert.Equal(t, StageClosed, res.Stage)
	assert.True(t, res.State.DeemedAccept)
	assert.Equal(t, paid.Add(50*time.Hour+AcceptanceWindow), h.env.Now().In(chinaZone))
	assert.Equal(t, "delivery_deemed_accepted", h.events[len(h.events)-1].Event)
}

// TestEngagementStepValidation: steps out of order, from the wrong actor or malformed are refused before
// they touch history.
func TestEngagementStepValidation(t *testing.T) {
	paid := cst(2026, 3, 2, 10)
	h := newSOS(t, paid, "p1")
	h.partner(10*time.Second, "p1", StepSchedule, schedule) // not accepted
	h.partner(time.Minute, "p1", StepAccept, struct{}{})
	h.partner(2*time.Minute, "p1", StepDeliver, DeliverInput{Summary: "x"}) // before the schedule
	h.partner(3*time.Minute, "p1", StepDeliverable, deliverable)            // before delivery
	h.market(4*time.Minute, StepAcceptDelivery, AcceptDeliveryInput{})      // nothing to accept
	h.partner(5*time.Minute, "p1", StepSchedule, ScheduleInput{StartsOn: "2026-03-12", EndsOn: "2026-03-10", Summary: "x"})
	h.partner(6*time.Minute, "p1", StepSchedule, ScheduleInput{StartsOn: "2026-03-01", EndsOn: "2026-03-10", Summary: "x"}) // before purchase
	h.partner(7*time.Minute, "p1", StepSchedule, ScheduleInput{StartsOn: "2026-03-10", EndsOn: "2026-03-12"})
	h.partner(8*time.Minute, "p1", StepSchedule, schedule)
	h.partner(9*time.Minute, "p1", StepSchedule, ScheduleInput{StartsOn: "2026-03-16", EndsOn: "2026-03-17", Summary: "moved"})
	h.partner(10*time.Minute, "p1", StepDeliver, DeliverInput{})
	h.partner(11*time.Minute, "p2", StepDeliver, DeliverInput{Summary: "x"})
	h.partner(12*time.Minute, "p1", StepDeliver, DeliverInput{Summary: "x"})
	h.partner(13*time.Minute, "p1", StepSchedule, schedule) // after delivery
	h.partner(14*time.Minute, "p1", StepDeliverable, EngagementDeliverableInput{Summary: "no title"})
	h.partner(15*time.Minute, "p1", StepDeliverable, deliverable)
	h.send(16*time.Minute, "partner-accepts", StepInput{Step: StepAcceptDelivery, Actor: ActorPartner, PartnerID: "p1", Payload: mustJSON(AcceptDeliveryInput{})})
	h.market(17*time.Minute, StepRejectDelivery, RejectDeliveryInput{}) // a rejection needs a comment
	h.market(18*time.Minute, StepAcceptDelivery, AcceptDeliveryInput{Rating: 9})
	h.market(19*time.Minute, StepAcceptDelivery, AcceptDeliveryInput{Rating: 4})
	h.market(20*time.Minute, StepRejectDelivery, RejectDeliveryInput{Comment: "too late"}) // closed
	res := h.runEngagement(engagementInput(ServiceConsulting, 1, 2_000_000, paid))
	want := map[string]string{
		"schedule@10s": RejectConflict, "accept@1m0s": "", "deliver@2m0s": RejectConflict, "deliverable@3m0s": RejectConflict,
		"accept_delivery@4m0s": RejectConflict, "schedule@5m0s": RejectInvalid, "schedule@6m0s": RejectInvalid, "schedule@7m0s": RejectInvalid,
		"schedule@8m0s": "", "schedule@9m0s": "", "deliver@10m0s": RejectInvalid, "deliver@11m0s": RejectConflict, "deliver@12m0s": "",
		"schedule@13m0s": RejectConflict, "deliverable@14m0s": RejectInvalid, "deliverable@15m0s": "", "partner-accepts": RejectConflict,
		"reject_delivery@17m0s": RejectInvalid, "accept_delivery@18m0s": RejectInvalid, "accept_delivery@19m0s": "",
		"reject_delivery@20m0s": "not sent",
	}
	for id, kind := range want {
		switch kind {
		case "":
			assert.NoError(t, h.results[id], id)
		case "not sent":
			assert.Error(t, h.results[id], id) // the case finished before it arrived
		default:
			assert.Equal(t, kind, rejectionType(h.results[id]), "%s: %v", id, h.results[id])
		}
	}
	assert.Equal(t, StageClosed, res.Stage)
	assert.Equal(t, 2, res.State.Schedule.Version)
	assert.Equal(t, "2026-03-16", res.State.Schedule.StartsOn)
	assert.Equal(t, []string{"opened", "offered", "partner_accepted", "scheduled", "rescheduled", "delivered", "deliverable", "delivery_accepted"}, h.eventNames())
}

// TestEngagementRefusesOtherServices: the workflow runs only the per-engagement services.
func TestEngagementRefusesOtherServices(t *testing.T) {
	h := newSOS(t, cst(2026, 3, 2, 10), "p1")
	h.env.RegisterWorkflow(EngagementWorkflow)
	h.env.ExecuteWorkflow(EngagementWorkflow, EngagementInput{CaseInput: engagementInput(ServiceHosting, 1, 1, cst(2026, 3, 2, 10))})
	require.Error(t, h.env.GetWorkflowError())
	assert.ErrorContains(t, h.env.GetWorkflowError(), "is not one of")
}
