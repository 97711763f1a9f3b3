package engagement

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-oss/steward/activities"
	"github.com/steward-oss/steward/sla"
	"github.com/steward-oss/steward/workflows"
)

// harness runs Workflow in the time-skipping test environment with recording activity mocks.
type harness struct {
	mu       sync.Mutex // activity mocks run on their own goroutines, concurrently
	t        *testing.T
	env      *testsuite.TestWorkflowEnvironment
	partners []string // available, in order of preference
	events   []activities.Event
	rows     []activities.CaseRow
	notes    []activities.NotifyInput
	docs     []activities.Document
	results  map[string]error
	views    map[string]workflows.CaseView
}

func newHarness(t *testing.T, start time.Time, partners ...string) *harness {
	var ts testsuite.WorkflowTestSuite
	ts.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	h := &harness{t: t, env: ts.NewTestWorkflowEnvironment(), partners: partners,
		results: map[string]error{}, views: map[string]workflows.CaseView{}}
	h.env.SetStartTime(start)
	h.env.RegisterWorkflowWithOptions(Workflow, workflow.RegisterOptions{Name: WorkflowName})
	var a *activities.Activities
	h.env.RegisterActivity(a.Record)
	h.env.RegisterActivity(a.Notify)
	h.env.RegisterActivity(a.ChoosePartner)
	h.env.RegisterActivity(a.RenderDocument)
	h.env.OnActivity(a.RenderDocument, mock.Anything, mock.Anything).Return(func(_ context.Context, d activities.Document) (activities.ReportRef, error) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.docs = append(h.docs, d)
		return activities.ReportRef{CaseID: d.CaseID, Version: d.Version}, nil
	})
	h.env.OnActivity(a.Record, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RecordInput) error {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.events = append(h.events, in.Events...)
		h.rows = append(h.rows, in.Case)
		return nil
	})
	h.env.OnActivity(a.Notify, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.NotifyInput) error {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.notes = append(h.notes, in)
		return nil
	})
	h.env.OnActivity(a.ChoosePartner, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.ChoosePartnerInput) (activities.ChoosePartnerResult, error) {
		for _, p := range h.partners {
			if !slices.Contains(in.Exclude, p) {
				return activities.ChoosePartnerResult{PartnerID: p, PartnerName: p, Capacity: 3}, nil
			}
		}
		return activities.ChoosePartnerResult{}, nil
	})
	return h
}

// send sends a step at start+d under the name id; its outcome lands in h.results[id].
func (h *harness) send(d time.Duration, id string, in workflows.StepInput) {
	h.env.RegisterDelayedCallback(func() {
		in.At = h.env.Now()
		h.env.UpdateWorkflow(workflows.UpdateStep, id, &testsuite.TestUpdateCallback{
			OnAccept: func() {},
			OnReject: func(err error) { h.results[id] = err },
			OnComplete: func(v any, err error) {
				h.results[id] = err
				if cv, ok := v.(workflows.CaseView); ok {
					h.views[id] = cv
				}
			},
		}, in)
	}, d)
	h.results[id] = errors.New("not sent")
}

func (h *harness) partner(d time.Duration, partner, step string, payload any) {
	h.send(d, step+"@"+d.String(), workflows.StepInput{Step: step, Actor: workflows.ActorPartner, PartnerID: partner, ActorName: "eng", Payload: mustJSON(payload)})
}

func (h *harness) market(d time.Duration, step string, payload any) {
	h.send(d, step+"@"+d.String(), workflows.StepInput{Step: step, Actor: workflows.ActorMarketplace, Payload: mustJSON(payload)})
}

func (h *harness) run(in Input) Result {
	h.t.Helper()
	h.env.ExecuteWorkflow(WorkflowName, in)
	require.True(h.t, h.env.IsWorkflowCompleted(), "still running at %v", h.env.Now())
	require.NoError(h.t, h.env.GetWorkflowError())
	var res Result
	require.NoError(h.t, h.env.GetWorkflowResult(&res))
	return res
}

func (h *harness) eventNames() []workflows.Event {
	out := make([]workflows.Event, len(h.events))
	for i, e := range h.events {
		out[i] = workflows.Event(e.Event)
	}
	return out
}

func (h *harness) requireOK(ids ...string) {
	h.t.Helper()
	for _, id := range ids {
		require.NoError(h.t, h.results[id], "step %s", id)
	}
}

func (h *harness) countNotes(prefix string) int {
	n := 0
	for _, m := range h.notes {
		if strings.HasPrefix(m.Message.Title, prefix) {
			n++
		}
	}
	return n
}

func rejectionType(err error) string {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return ae.Type()
	}
	return ""
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func cst(y int, m time.Month, d, h int) time.Time { return time.Date(y, m, d, h, 0, 0, 0, sla.China) }

func caseInput(service string, quantity int, amount int64, paid time.Time) Input {
	return Input{CaseInput: workflows.CaseInput{CaseID: workflows.CaseWorkflowID(service, "O-1"), OrderID: "O-1", CustomerID: "C-1",
		Service: service, Quantity: quantity, AmountCents: amount, Currency: "CNY", PaidAt: paid}}
}

var (
	schedule    = ScheduleInput{StartsOn: "2026-03-10", EndsOn: "2026-03-12", Summary: "three days on site"}
	deliverable = DeliverableInput{Title: "服务报告", Summary: "done as planned", Items: []string{"finding 1", "advice 2"}}
)

// path drives a case from accept to the deliverable, from offset d.
func path(h *harness, d time.Duration) {
	h.partner(d+time.Minute, "p1", workflows.StepAccept, struct{}{})
	h.partner(d+time.Hour, "p1", StepSchedule, schedule)
	h.partner(d+48*time.Hour, "p1", StepDeliver, DeliverInput{Summary: "work delivered"})
	h.partner(d+50*time.Hour, "p1", workflows.StepDeliverable, deliverable)
}

// TestServices: every per-engagement service runs the same path: accept, schedule, deliver, the
// deliverable rendered as a service report, the customer's acceptance.
func TestServices(t *testing.T) {
	paid := cst(2026, 3, 2, 10)
	tests := []struct {
		name     string
		service  string
		quantity int
		amount   int64
		kloc     int
	}{
		{"consulting", sla.ServiceConsulting, 1, 2_000_000, 0},
		{"training", sla.ServiceTraining, 1, 800_000, 0},
		{"assessment", sla.ServiceAssessment, 1, 1_500_000, 0},
		{"code audit by volume", sla.ServiceCodeAudit, 120, 3_600_000, 120},
		{"onboarding is free", sla.ServiceOnboarding, 1, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, paid, "p1")
			path(h, 0)
			h.market(60*time.Hour, StepAcceptDelivery, AcceptDeliveryInput{Rating: 5, Comment: "thorough"})
			res := h.run(caseInput(tt.service, tt.quantity, tt.amount, paid))
			h.requireOK("accept@1m0s", "schedule@1h0m0s", "deliver@48h0m0s", "deliverable@50h0m0s", "accept_delivery@60h0m0s")
			assert.Equal(t, workflows.StageClosed, res.Stage)
			assert.Equal(t, workflows.StatusClosed, res.State.Core.Status)
			assert.Equal(t, tt.kloc, res.State.KLOC)
			assert.Equal(t, 5, res.State.Rating)
			require.NotNil(t, res.State.AcceptedAt)
			assert.False(t, res.State.DeemedAccept)
			assert.Equal(t, []workflows.Event{workflows.EventCaseOpened, workflows.EventPartnerOffered, workflows.EventPartnerAccepted,
				workflows.EventScheduleSet, workflows.EventWorkDelivered, workflows.EventDocumentDelivered, workflows.EventDeliveryAccepted}, h.eventNames())
			require.Len(t, h.docs, 1)
			doc := h.docs[0]
			assert.Equal(t, DocumentKind, doc.Kind)
			assert.Equal(t, "服务报告", doc.Title)
			assert.Equal(t, 1, doc.Version)
			assert.Equal(t, Label(tt.service), doc.Meta[0].Value)
			if tt.service == sla.ServiceCodeAudit {
				assert.Contains(t, doc.Meta, activities.DocField{Label: "代码量 Code volume", Value: "120 KLOC"})
			}
			assert.Equal(t, tt.service, h.rows[0].Service)
			v := h.views["deliverable@50h0m0s"]
			assert.Equal(t, StageAcceptance, v.Stage)
			require.Len(t, v.SLA, 1)
			assert.True(t, v.SLA[0].DueAt.Equal(paid.Add(50*time.Hour+sla.VerdictWindow)))
			assert.Equal(t, 1, v.Details.(Details).Runs)
		})
	}
}

// TestRejection: a rejected deliverable goes back to delivery; the second version carries the
// customer's feedback and is accepted.
func TestRejection(t *testing.T) {
	paid := cst(2026, 3, 2, 10)
	h := newHarness(t, paid, "p1")
	path(h, 0)
	h.market(60*time.Hour, StepRejectDelivery, RejectDeliveryInput{Comment: "the web app was not tested"})
	h.partner(61*time.Hour, "p1", workflows.StepDeliverable, deliverable) // deliver again first
	h.partner(70*time.Hour, "p1", StepDeliver, DeliverInput{Summary: "web app tested"})
	h.partner(71*time.Hour, "p1", workflows.StepDeliverable, DeliverableInput{Title: "服务报告", Summary: "now with the web app"})
	h.market(80*time.Hour, StepAcceptDelivery, AcceptDeliveryInput{})
	res := h.run(caseInput(sla.ServiceAssessment, 1, 1_500_000, paid))
	h.requireOK("reject_delivery@60h0m0s", "deliver@70h0m0s", "deliverable@71h0m0s", "accept_delivery@80h0m0s")
	assert.Equal(t, workflows.RejectConflict, rejectionType(h.results["deliverable@61h0m0s"]))
	assert.Equal(t, StageDelivery, h.views["reject_delivery@60h0m0s"].Stage)
	assert.Equal(t, workflows.StageClosed, res.Stage)
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
	assert.Equal(t, 1, h.countNotes("安全评估 delivery rejected"))
	assert.Contains(t, h.eventNames(), workflows.EventDeliveryRejected)
}

// TestDeemedAccepted: no verdict within the verdict window closes the case as accepted.
func TestDeemedAccepted(t *testing.T) {
	paid := cst(2026, 3, 2, 10)
	h := newHarness(t, paid, "p1")
	path(h, 0)
	res := h.run(caseInput(sla.ServiceTraining, 1, 800_000, paid))
	assert.Equal(t, workflows.StageClosed, res.Stage)
	assert.True(t, res.State.DeemedAccept)
	assert.True(t, h.env.Now().Equal(paid.Add(50*time.Hour+sla.VerdictWindow)), "closed at %v", h.env.Now())
	assert.Equal(t, string(workflows.EventDeliveryDeemedAccepted), h.events[len(h.events)-1].Event)
	assert.Equal(t, 1, h.countNotes("安全培训 delivery deemed accepted"))
}

// TestStepValidation: steps out of order, from the wrong actor or malformed are refused before they
// touch history.
func TestStepValidation(t *testing.T) {
	paid := cst(2026, 3, 2, 10)
	h := newHarness(t, paid, "p1")
	h.partner(10*time.Second, "p1", StepSchedule, schedule) // not accepted
	h.partner(time.Minute, "p1", workflows.StepAccept, struct{}{})
	h.partner(2*time.Minute, "p1", StepDeliver, DeliverInput{Summary: "x"}) // before the schedule
	h.partner(3*time.Minute, "p1", workflows.StepDeliverable, deliverable)  // before delivery
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
	h.partner(14*time.Minute, "p1", workflows.StepDeliverable, DeliverableInput{Summary: "no title"})
	h.partner(15*time.Minute, "p1", workflows.StepDeliverable, deliverable)
	h.send(16*time.Minute, "partner-accepts", workflows.StepInput{Step: StepAcceptDelivery, Actor: workflows.ActorPartner, PartnerID: "p1", Payload: mustJSON(AcceptDeliveryInput{})})
	h.market(17*time.Minute, StepRejectDelivery, RejectDeliveryInput{}) // a rejection needs a comment
	h.market(18*time.Minute, StepAcceptDelivery, AcceptDeliveryInput{Rating: 9})
	h.market(19*time.Minute, StepAcceptDelivery, AcceptDeliveryInput{Rating: 4})
	h.market(20*time.Minute, StepRejectDelivery, RejectDeliveryInput{Comment: "too late"}) // closed
	res := h.run(caseInput(sla.ServiceConsulting, 1, 2_000_000, paid))
	conflict, invalid := workflows.RejectConflict, workflows.RejectInvalid
	want := map[string]string{
		"schedule@10s": conflict, "accept@1m0s": "", "deliver@2m0s": conflict, "deliverable@3m0s": conflict,
		"accept_delivery@4m0s": conflict, "schedule@5m0s": invalid, "schedule@6m0s": invalid, "schedule@7m0s": invalid,
		"schedule@8m0s": "", "schedule@9m0s": "", "deliver@10m0s": invalid, "deliver@11m0s": conflict, "deliver@12m0s": "",
		"schedule@13m0s": conflict, "deliverable@14m0s": invalid, "deliverable@15m0s": "", "partner-accepts": conflict,
		"reject_delivery@17m0s": invalid, "accept_delivery@18m0s": invalid, "accept_delivery@19m0s": "",
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
	assert.Equal(t, workflows.StageClosed, res.Stage)
	assert.Equal(t, 2, res.State.Schedule.Version)
	assert.Equal(t, "2026-03-16", res.State.Schedule.StartsOn)
	assert.Equal(t, []workflows.Event{workflows.EventCaseOpened, workflows.EventPartnerOffered, workflows.EventPartnerAccepted,
		workflows.EventScheduleSet, workflows.EventScheduleSet, workflows.EventWorkDelivered, workflows.EventDocumentDelivered,
		workflows.EventDeliveryAccepted}, h.eventNames())
	assert.True(t, strings.HasPrefix(h.events[4].Detail, "rescheduled, 2026-03-16 to 2026-03-17"), h.events[4].Detail)
}

// TestRefusesOtherServices: the workflow runs only the per-engagement services.
func TestRefusesOtherServices(t *testing.T) {
	h := newHarness(t, cst(2026, 3, 2, 10), "p1")
	h.env.ExecuteWorkflow(WorkflowName, caseInput(sla.ServiceHosting, 1, 1, cst(2026, 3, 2, 10)))
	require.Error(t, h.env.GetWorkflowError())
	assert.ErrorContains(t, h.env.GetWorkflowError(), "is not one of")
}

// TestContinuesAsNew: a run asked to continue as new while the deliverable awaits its verdict carries
// the work and the core into the next run, which deems the delivery accepted at the same instant the
// first run would have.
func TestContinuesAsNew(t *testing.T) {
	paid := cst(2026, 3, 2, 10)
	h := newHarness(t, paid, "p1")
	path(h, 0)
	h.env.RegisterDelayedCallback(func() { h.env.SetContinueAsNewSuggested(true) }, 51*time.Hour)
	h.partner(52*time.Hour, "p1", StepDeliver, DeliverInput{Summary: "wakes the run"}) // refused: awaiting the verdict
	h.env.ExecuteWorkflow(WorkflowName, caseInput(sla.ServiceCodeAudit, 40, 1_200_000, paid))
	require.True(t, h.env.IsWorkflowCompleted())
	var can *workflow.ContinueAsNewError
	require.ErrorAs(t, h.env.GetWorkflowError(), &can)
	assert.Equal(t, WorkflowName, can.WorkflowType.Name)
	var next Input
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.NotNil(t, next.State)
	assert.Equal(t, 1, next.State.Core.Runs)
	assert.Equal(t, StageAcceptance, next.State.Core.Stage)
	assert.Equal(t, 40, next.State.KLOC)
	assert.Len(t, next.State.Documents, 1)
	assert.Equal(t, workflows.DefaultAcceptTimeout, next.AcceptTimeout)

	h2 := newHarness(t, paid.Add(52*time.Hour), "p1")
	res := h2.run(next)
	assert.Equal(t, workflows.StageClosed, res.Stage)
	assert.Equal(t, 2, res.State.Core.Runs)
	assert.True(t, res.State.DeemedAccept)
	assert.True(t, h2.env.Now().Equal(paid.Add(50*time.Hour+sla.VerdictWindow)), "closed at %v", h2.env.Now())
	assert.Equal(t, []workflows.Event{workflows.EventDeliveryDeemedAccepted}, h2.eventNames(), "no second case_opened")
	assert.Greater(t, h2.events[0].Key, h.events[len(h.events)-1].Key, "the timeline's sequence carries on")
}
