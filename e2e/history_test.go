package e2e

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/sla"
	"github.com/steward-oss/steward/worker"
	"github.com/steward-oss/steward/workflows"
	"github.com/steward-oss/steward/workflows/butler"
	"github.com/steward-oss/steward/workflows/dengbao"
	"github.com/steward-oss/steward/workflows/escort"
	"github.com/steward-oss/steward/workflows/hosting"
)

// The tests in this file drive each long-running lifecycle through the paths its replay test should
// cover — signals, updates, timers, activities, child workflows and continue-as-new — against a real
// server, and with STEWARD_RECORD_HISTORY=1 record the histories that the workflows package replays.
// A case that is to continue as new within a test is started with a small CaseInput.HistoryLimit, which
// the purchase API does not take: startCaseWithHistoryLimit stores the order and the case's row and starts
// the workflow as the purchase callback does, and the rest goes through the API. How many events a phase
// adds depends on timing — how the server batches updates, local activities and activity completions into
// workflow tasks — so no limit can be met exactly by a scripted phase. Each such test drives its scripted
// first phase, all of it inside the first run, then continueAsNew repeats a step the case takes any number
// of times without changing the outcome (a work item signed off again, a patching request, the plan
// re-sent) until the first run has continued as new, and drives the rest in the second run. Each limit is
// above the most events either phase adds, one workflow task per step, with room for workflow tasks that
// time out or fail under load: batching only lowers the counts, so the second run never reaches it.

// TestDengbaoHistoryContinuesAsNew: a 等保整改 case through every step: kickoff and the work items in the
// first run; the proposal, a failed and a passed assessment, the service report and the close in the next.
func TestDengbaoHistoryContinuesAsNew(t *testing.T) {
	s := newStack(t)
	caseID, path, first := s.startCaseWithHistoryLimit(t, workflows.ServiceDengbao, "", "DB-H", 8, dengbaoHistoryLimit)
	s.awaitOffer(t, path, "p-alpha")
	step := func(name string, payload any) workflows.CaseView {
		t.Helper()
		return s.partnerStep(t, path, s.partners["p-alpha"], name, payload)
	}
	step(workflows.StepAccept, map[string]any{})
	step(dengbao.StepKickoff, map[string]any{})
	signOff := func(item string) {
		t.Helper()
		step(dengbao.StepWorkItem, map[string]any{"item": item, "owner": "Zhao Min", "status": dengbao.WorkDone, "evidence": item + " signed off"})
	}
	for _, item := range dengbao.WorkItems {
		step(dengbao.StepWorkItem, map[string]any{"item": item, "owner": "Zhao Min", "status": dengbao.WorkInProgress})
		signOff(item)
	}
	last := dengbao.WorkItems[len(dengbao.WorkItems)-1]
	s.continueAsNew(t, caseID, first, dengbaoHistoryLimit, func() { signOff(last) })

	step(workflows.StepDeliverable, map[string]any{"kind": dengbao.DeliverableProposal, "summary": "9 gaps", "items": []string{"enable DB audit"}})
	today := chinaToday(0)
	step(dengbao.StepAssessment, map[string]any{"result": dengbao.AssessmentFailed, "assessor": "CSTC", "date": today, "findings": []string{"no DB audit log"}})
	v := step(dengbao.StepAssessment, map[string]any{"result": dengbao.AssessmentPassed, "assessor": "CSTC", "date": today, "findings": []string{}})
	assert.Equal(t, dengbao.StageClosing, v.Stage)
	step(workflows.StepDeliverable, map[string]any{"kind": dengbao.DeliverableServiceReport, "summary": "passed level 3", "items": []string{}})
	v = step(workflows.StepClose, map[string]any{"follow_up": "annual review booked"})
	assert.Equal(t, workflows.StatusClosed, v.Status)
	assert.Equal(t, 2, s.details(t, path)["runs"])

	runs := s.awaitRuns(t, caseID, first, 2)
	recordHistory(t, s, caseID, runs[0], "dengbao_continued_as_new")
	recordHistory(t, s, caseID, runs[1], "dengbao_resumed_to_close")
}

// TestHostingHistoryContinuesAsNew: a hosting case declined by the first partner and accepted by the
// next, with requests of every kind in the first run; completions and a renewal in the next.
func TestHostingHistoryContinuesAsNew(t *testing.T) {
	s := newStack(t)
	s.addServices(t, workflows.ServiceHosting, "p-alpha", "p-beta")
	caseID, path, first := s.startCaseWithHistoryLimit(t, workflows.ServiceHosting, "", "HOST-H", 2, hostingHistoryLimit)
	s.awaitOffer(t, path, "p-alpha")
	s.partnerStep(t, path, s.partners["p-alpha"], workflows.StepDecline, map[string]any{"reason": "no engineer free this week"})
	s.awaitOffer(t, path, "p-beta")
	beta := s.partners["p-beta"]
	s.partnerStep(t, path, beta, workflows.StepAccept, map[string]any{})
	for _, r := range []map[string]any{
		{"kind": sla.HostingSecurityCheck, "instance_id": "i-1", "summary": "yearly scan"},
		{"kind": sla.HostingHardening, "instance_id": "i-1", "summary": "harden sshd and nginx"},
		{"kind": sla.HostingPatching, "instance_id": "i-2", "summary": "OpenSSL advisory"},
		{"kind": sla.HostingIncident, "instance_id": "i-2", "summary": "miner process"},
	} {
		s.marketCall(t, path+"/requests", r)
	}
	// Patching has no quota; the requests this adds (r5, …) stay open, as a customer's may.
	s.continueAsNew(t, caseID, first, hostingHistoryLimit, func() {
		s.marketCall(t, path+"/requests", map[string]any{"kind": sla.HostingPatching, "instance_id": "i-2", "summary": "routine patch window"})
	})

	for _, id := range []string{"r1", "r2", "r3"} {
		s.partnerStep(t, path, beta, hosting.StepComplete, map[string]any{"request_id": id, "summary": "done, report sent"})
	}
	s.marketCall(t, path+"/renew", map[string]any{"order_id": "HOST-H-2"})
	s.partnerStep(t, path, beta, hosting.StepComplete, map[string]any{"request_id": "r4", "summary": "miner removed"})
	d := s.details(t, path)
	assert.Equal(t, 2, d["runs"])
	assert.Equal(t, 1, d["renewals"])

	runs := s.awaitRuns(t, caseID, first, 2)
	recordHistory(t, s, caseID, runs[0], "hosting_continued_as_new")
	recordHistory(t, s, caseID, runs[1], "hosting_resumed_renewed")
}

// TestEscortHistoryContinuesAsNew: an escort accepted and planned (then re-planned twice) for later days
// in the first run; re-planned for today in the next, so its covered days begin at once, and checked in.
func TestEscortHistoryContinuesAsNew(t *testing.T) {
	s := newStack(t)
	s.addServices(t, workflows.ServiceEscort, "p-alpha")
	caseID, path, first := s.startCaseWithHistoryLimit(t, workflows.ServiceEscort, "", "ESC-H", 2, escortHistoryLimit)
	s.awaitOffer(t, path, "p-alpha")
	partner := s.partners["p-alpha"]
	s.partnerStep(t, path, partner, workflows.StepAccept, map[string]any{})
	plan := func(startsOn string) {
		t.Helper()
		s.partnerStep(t, path, partner, workflows.StepPlan, map[string]any{"starts_on": startsOn, "summary": "launch week cover",
			"items": []string{"WAF rules", "log watch"}})
	}
	for days := 1; days <= 3; days++ {
		plan(chinaToday(days))
	}
	s.continueAsNew(t, caseID, first, escortHistoryLimit, func() { plan(chinaToday(3)) })

	plan(chinaToday(0))
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.Equal(c, escort.StageOnDuty, s.view(c, path, partner).Stage)
	}, 20*time.Second, 100*time.Millisecond)
	s.partnerStep(t, path, partner, escort.StepCheckin, map[string]any{"day": chinaToday(0), "engineer": "Li Lei", "notes": "all quiet"})

	runs := s.awaitRuns(t, caseID, first, 2)
	recordHistory(t, s, caseID, runs[0], "escort_continued_as_new")
	recordHistory(t, s, caseID, runs[1], "escort_resumed_on_duty")
}

// TestButlerHistoryContinuesAsNew: a professional-edition subscription. In the first run, a consultation
// opened before any partner holds the case (its request learns the partner by signal when one accepts) and
// responded to, onboarding, recipients and servers; the case continues as new with the consultation still
// open, which is answered in the next run (a request reports to whichever run is current). Then, in as
// many runs as the history limit takes: an incident raised to urgent and worked to its follow-up, an
// inspection that opens a vulnerability worked through a failed retest to fixed, a report e-mailed, and a
// consultation left open.
func TestButlerHistoryContinuesAsNew(t *testing.T) {
	s := newStack(t)
	s.addServices(t, workflows.ServiceButler, "p-alpha")
	caseID, path, first := s.startCaseWithHistoryLimit(t, workflows.ServiceButler, sla.EditionProfessional, "BUT-H", 1, 80)
	partner := s.partners["p-alpha"]
	step := func(name string, payload any) {
		t.Helper()
		s.partnerStep(t, path, partner, name, payload)
	}
	request := func(rid, name string, payload any) {
		t.Helper()
		// The first step of a request may reach it before the partner does; later ones follow in order.
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			r := s.bearer(http.MethodPost, path+"/requests/"+rid+"/steps/"+name, partner, mustJSON(t, payload))
			assert.Equal(c, http.StatusOK, r.Status, "%s %s: %s", rid, name, r.Body)
		}, 20*time.Second, 200*time.Millisecond)
	}

	s.marketCall(t, path+"/requests", map[string]any{"kind": sla.RequestConsulting, "summary": "WAF in front of the API?"})
	s.awaitOffer(t, path, "p-alpha")
	step(workflows.StepAccept, map[string]any{})
	step(workflows.StepContact, map[string]any{"note": "WeChat group opened"})
	step(workflows.StepPlan, map[string]any{"summary": "baseline and monthly reviews", "items": []string{"harden SSH"}})
	s.marketCall(t, path+"/recipients", map[string]any{"emails": []string{"secops@example.com"}})
	s.marketCall(t, path+"/servers", map[string]any{"bind": []string{"i-1", "i-2"}})
	request("con-1", butler.StepRespond, map[string]any{})
	s.continueAsNew(t, caseID, first, 80, func() {
		s.marketCall(t, path+"/recipients", map[string]any{"emails": []string{"secops@example.com"}})
	})
	request("con-1", butler.StepAnswer, map[string]any{"summary": "yes, in detection mode first"})

	s.marketCall(t, path+"/requests", map[string]any{"kind": sla.RequestIncident, "summary": "webshell alert", "urgency": sla.UrgencyNormal})
	s.marketCall(t, path+"/requests/inc-2/urgency", map[string]any{"urgency": sla.UrgencyUrgent})
	request("inc-2", butler.StepRespond, map[string]any{"note": "on it"})
	request("inc-2", butler.StepClassify, map[string]any{"incident_class": sla.ClassMalware, "summary": "webshell via upload form"})
	step(butler.StepInspection, map[string]any{"date": chinaToday(0),
		"checks":   []map[string]any{{"item": butler.InspectHosts, "ok": false, "note": "old OpenSSH"}, {"item": butler.InspectNetwork, "ok": true}},
		"findings": []map[string]any{{"summary": "OpenSSH regreSSHion", "severity": sla.SeverityMedium, "open_vuln": true}}})
	request("inc-2", workflows.StepContain, map[string]any{"actions": []string{"took the form offline"}})
	request("inc-2", butler.StepEliminate, map[string]any{"actions": []string{"removed 2 webshells"}})
	request("inc-2", butler.StepRestore, map[string]any{"summary": "site back from clean image"})
	request("inc-2", butler.StepHarden, map[string]any{"recommendations": []string{"validate uploads"}})
	request("inc-2", butler.StepReassess, map[string]any{"summary": "no further webshells"})
	request("inc-2", workflows.StepReport, map[string]any{"summary": "upload form exploited"})
	request("inc-2", butler.StepFollowUp, map[string]any{"note": "no recurrence after a week"})

	request("vul-3", butler.StepRespond, map[string]any{})
	request("vul-3", butler.StepIdentify, map[string]any{"summary": "CVE-2024-6387 on i-1"})
	request("vul-3", butler.StepImpact, map[string]any{"scope": "i-1 only", "zero_day": false})
	request("vul-3", butler.StepVerify, map[string]any{"exists": true, "severity": sla.SeverityHigh})
	request("vul-3", butler.StepFixPlan, map[string]any{"steps": []string{"upgrade OpenSSH"}})
	request("vul-3", butler.StepRetest, map[string]any{"fixed": false, "note": "old sshd still running"})
	request("vul-3", butler.StepFixPlan, map[string]any{"steps": []string{"restart sshd"}})
	s.marketCall(t, path+"/requests", map[string]any{"kind": sla.RequestConsulting, "summary": "log retention for MLPS?"})
	request("vul-3", butler.StepRetest, map[string]any{"fixed": true})
	step(workflows.StepReport, map[string]any{"period": time.Now().In(sla.China).Format("2006-01"), "summary": "one incident, one vulnerability",
		"items": []string{"inc-2 resolved", "vul-3 fixed"}})
	request("con-4", butler.StepRespond, map[string]any{"note": "checking the regulation"})

	require.EventuallyWithT(t, func(c *assert.CollectT) {
		var d butler.Details
		if !assert.NoError(c, remarshal(s.view(c, path, s.manager).Details, &d)) || !assert.Len(c, d.Requests, 4) {
			return
		}
		for _, r := range d.Requests {
			assert.Equal(c, r.ID != "con-4", r.Status == workflows.StatusClosed, r.ID)
		}
		assert.Contains(c, s.timeline(c, path), string(workflows.EventReportEmailed))
	}, 20*time.Second, 200*time.Millisecond)

	runs := s.awaitRunsAtLeast(t, caseID, first, 2)
	recordHistory(t, s, caseID, runs[0], "butler_continued_as_new")
	recordHistory(t, s, caseID, runs[len(runs)-1], "butler_resumed_with_requests")
	recordHistory(t, s, butler.RequestWorkflowID(caseID, "con-1"), "", "butler_request_consultation_partner_signalled")
	recordHistory(t, s, butler.RequestWorkflowID(caseID, "inc-2"), "", "butler_request_incident_resolved")
	recordHistory(t, s, butler.RequestWorkflowID(caseID, "vul-3"), "", "butler_request_vulnerability_fixed")
}

// TestButlerHistoryTermEnds: an emergency edition bought 15 days ago less a few seconds, through the API:
// its contact clause is breached at once; an incident is opened and responded to; the term ends with the
// incident open, which cancels the request's workflow and closes the case.
func TestButlerHistoryTermEnds(t *testing.T) {
	s := newStack(t)
	s.addServices(t, workflows.ServiceButler, "p-alpha")
	partner := s.partners["p-alpha"]
	const lead = 40 * time.Second // from purchase to the end of the term
	body := purchaseBody("BUT-E")
	body["service"], body["spec"] = workflows.ServiceButler, sla.EditionEmergency
	body["paid_at"] = time.Now().UTC().Add(-15*24*time.Hour + lead).Truncate(time.Second).Format(time.RFC3339)
	res := s.signed(http.MethodPost, "/v1/purchases", mustJSON(t, body))
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Body)
	caseID := workflows.CaseWorkflowID(workflows.ServiceButler, "BUT-E")
	path := "/v1/cases/" + caseID

	s.marketCall(t, path+"/requests", map[string]any{"kind": sla.RequestIncident, "summary": "ransom note on the web server"})
	s.awaitOffer(t, path, "p-alpha")
	s.partnerStep(t, path, partner, workflows.StepAccept, map[string]any{})
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		r := s.bearer(http.MethodPost, path+"/requests/inc-1/steps/respond", partner, []byte(`{"note":"on site in 30 minutes"}`))
		assert.Equal(c, http.StatusOK, r.Status, "%s", r.Body)
	}, 20*time.Second, 200*time.Millisecond)

	require.EventuallyWithT(t, func(c *assert.CollectT) {
		v := s.view(c, path, s.manager)
		assert.Equal(c, workflows.StatusClosed, v.Status)
	}, lead+30*time.Second, 500*time.Millisecond)
	events := s.timelineOf(t, path)
	for _, want := range []workflows.Event{workflows.EventSLABreached, workflows.EventRequestReceived, workflows.EventRequestCancelled, workflows.EventTermEnded} {
		assert.Contains(t, events, string(want))
	}
	var res2 butler.Result
	require.NoError(t, s.temporal.GetWorkflow(t.Context(), caseID, "").Get(t.Context(), &res2))
	assert.Equal(t, workflows.StageClosed, res2.Stage)
	var canceled *temporal.CanceledError
	err := s.temporal.GetWorkflow(t.Context(), butler.RequestWorkflowID(caseID, "inc-1"), "").Get(t.Context(), nil)
	assert.ErrorAs(t, err, &canceled)

	recordHistory(t, s, caseID, "", "butler_emergency_term_ended")
	recordHistory(t, s, butler.RequestWorkflowID(caseID, "inc-1"), "", "butler_request_cancelled_at_term_end")
}

// History limits of the tests that continue as new. With a case's record written by a local activity, a
// step in its own workflow task adds 7 to 15 events: on a quiet machine the scripted first phases leave
// the first runs at about 94 (等保), 97 (hosting) and 54 (escort) events, and the second runs end at about
// 52, 40 and 32. Each limit is some 40 events above its first phase, so all of that phase stays in the
// first run, and more than twice the second run's length.
const (
	dengbaoHistoryLimit = 140
	hostingHistoryLimit = 140
	escortHistoryLimit  = 100
)

// maxExtraSteps bounds the steps continueAsNew repeats; each adds several events, so this many would take
// any of the runs far past its limit.
const maxExtraSteps = 40

// continueAsNew takes the first run of workflowID past historyLimit, after the test's scripted first
// phase, and returns once it has continued as new: while the run waits settled (no workflow task and no
// activity in flight) without having continued, it sends another extra step — one the case takes any
// number of times without changing the scripted outcome. A run crosses its limit in the middle of a
// workflow task but checks it only when the next one starts, so an extra step may be needed even past it.
func (s *stack) continueAsNew(t *testing.T, workflowID, first string, historyLimit int, extraStep func()) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	var started int64
	for extra := 0; ; {
		d, err := s.temporal.DescribeWorkflowExecution(t.Context(), workflowID, first)
		require.NoError(t, err)
		info := d.GetWorkflowExecutionInfo()
		if started == 0 {
			started = info.GetHistoryLength()
		}
		switch info.GetStatus() {
		case enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW:
			t.Logf("%s: the scripted first phase left the first run at %d events; with %d extra steps it continued as new at %d (limit %d)",
				workflowID, started, extra, info.GetHistoryLength(), historyLimit)
			return
		case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
		default:
			require.FailNow(t, "the first run ended without continuing as new", "%s run %s: %s", workflowID, first, info.GetStatus())
		}
		if d.GetPendingWorkflowTask() == nil && len(d.GetPendingActivities()) == 0 {
			require.Less(t, extra, maxExtraSteps, "%s run %s has not continued as new after %d extra steps: %d events, limit %d",
				workflowID, first, extra, info.GetHistoryLength(), historyLimit)
			extraStep()
			extra++
			continue
		}
		require.True(t, time.Now().Before(deadline), "%s run %s did not settle or continue as new within a minute: %d events, limit %d",
			workflowID, first, info.GetHistoryLength(), historyLimit)
		time.Sleep(50 * time.Millisecond)
	}
}

// startCaseWithHistoryLimit starts a case as the purchase callback does — the order, the case's row,
// then its workflow — with a HistoryLimit, so that the case continues as new once its run's history is
// that long. It returns the case ID, its API path and the first run's ID.
func (s *stack) startCaseWithHistoryLimit(t *testing.T, service, spec, orderID string, quantity, historyLimit int) (caseID, path, runID string) {
	t.Helper()
	return s.startCase(t, caseStart{service: service, spec: spec, orderID: orderID, quantity: quantity, historyLimit: historyLimit})
}

// caseStart is a case a test starts itself, with what the purchase API does not take: a history limit,
// a paid_at long past (so that a window or term ends during the test), another start argument.
type caseStart struct {
	service, spec, orderID string
	quantity, historyLimit int
	// paidAt is when the order was paid; zero means a minute ago.
	paidAt time.Time
	// input turns the order into the workflow's start argument; nil takes the lifecycle's.
	input func(workflows.CaseInput) any
}

// startCase starts a case as the purchase callback does — the order, the case's row, then its workflow.
// It returns the case ID, its API path and the first run's ID.
func (s *stack) startCase(t *testing.T, o caseStart) (caseID, path, runID string) {
	t.Helper()
	ctx := t.Context()
	now := time.Now().UTC()
	if o.paidAt.IsZero() {
		o.paidAt = now.Add(-time.Minute).Truncate(time.Second)
	}
	ci := workflows.CaseInput{
		CaseID: workflows.CaseWorkflowID(o.service, o.orderID), OrderID: o.orderID, CustomerID: "cust-42", Service: o.service, Spec: o.spec,
		Quantity: o.quantity, AmountCents: 500000, Currency: "CNY", PaidAt: o.paidAt.UTC(), HistoryLimit: o.historyLimit,
	}
	lc := worker.Lifecycles[o.service]
	require.NoError(t, lc.Validate(ci))
	_, _, err := s.store.PutOrder(ctx, &db.Order{
		OrderID: o.orderID, CustomerID: ci.CustomerID, Service: o.service, Spec: o.spec, Quantity: o.quantity, AmountCents: ci.AmountCents,
		Currency: ci.Currency, PaidAt: ci.PaidAt, Contact: db.Contact{Name: "Wang Li", Email: "ops@example.com"},
		BodyHash: "started-by-test", CaseID: ci.CaseID, WorkflowID: ci.CaseID, CreatedAt: now,
	})
	require.NoError(t, err)
	require.NoError(t, s.store.InsertCaseIfAbsent(ctx, &db.Case{
		CaseID: ci.CaseID, WorkflowID: ci.CaseID, Service: o.service, Spec: o.spec, Stage: workflows.StageAssignment,
		Status: workflows.StatusOpen, CustomerID: ci.CustomerID, OrderID: o.orderID, AmountCents: ci.AmountCents,
		SLAStatus: workflows.SLAOnTrack, OpenedAt: now, UpdatedAt: now,
	}))
	input := lc.Input
	if o.input != nil {
		input = o.input
	}
	run, err := s.temporal.ExecuteWorkflow(ctx, workflows.StartOptions(ci), lc.WorkflowType(), input(ci))
	require.NoError(t, err)
	return ci.CaseID, "/v1/cases/" + ci.CaseID, run.GetRunID()
}

// awaitRuns waits until the case has run want runs, continuing as new from the first, and requires that
// it has not run more; it returns their IDs, the first first.
func (s *stack) awaitRuns(t *testing.T, workflowID, first string, want int) []string {
	t.Helper()
	runs := s.awaitRunsAtLeast(t, workflowID, first, want)
	require.Len(t, runs, want, "%s continued as new more often than the test plans; its HistoryLimit needs raising", workflowID)
	return runs
}

// awaitRunsAtLeast waits until the case has run at least want runs, continuing as new from the first; it
// returns their IDs, the first first.
func (s *stack) awaitRunsAtLeast(t *testing.T, workflowID, first string, want int) []string {
	t.Helper()
	var runs []string
	var lengths []int
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		runs, lengths = []string{first}, nil
		for {
			h := history(t, s, workflowID, runs[len(runs)-1])
			lengths = append(lengths, len(h.Events))
			next := h.Events[len(h.Events)-1].GetWorkflowExecutionContinuedAsNewEventAttributes().GetNewExecutionRunId()
			if next == "" {
				break
			}
			runs = append(runs, next)
		}
		assert.GreaterOrEqual(c, len(runs), want, "runs")
	}, 20*time.Second, 100*time.Millisecond)
	t.Logf("%s: %d runs of %v events", workflowID, len(runs), lengths)
	return runs
}

// awaitOffer waits until the case is offered to partnerID.
func (s *stack) awaitOffer(t *testing.T, path, partnerID string) {
	t.Helper()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.Equal(c, partnerID, s.view(c, path, s.partners[partnerID]).PartnerID)
	}, 20*time.Second, 100*time.Millisecond)
}

// partnerStep sends a partner's step and requires it to succeed.
func (s *stack) partnerStep(t *testing.T, path, token, step string, payload any) workflows.CaseView {
	t.Helper()
	res := s.bearer(http.MethodPost, path+"/steps/"+step, token, mustJSON(t, payload))
	require.Equal(t, http.StatusOK, res.Status, "%s: %s", step, res.Body)
	var v workflows.CaseView
	res.json(t, &v)
	return v
}

// marketCall sends a signed marketplace call and requires it to succeed.
func (s *stack) marketCall(t *testing.T, path string, payload any) {
	t.Helper()
	res := s.signed(http.MethodPost, path, mustJSON(t, payload))
	require.Equal(t, http.StatusOK, res.Status, "%s: %s", path, res.Body)
}

// addServices adds service to the partners' skills.
func (s *stack) addServices(t *testing.T, service string, partnerIDs ...string) {
	t.Helper()
	for _, id := range partnerIDs {
		p, err := s.store.GetPartner(t.Context(), id)
		require.NoError(t, err)
		p.Services = append(p.Services, service)
		_, err = s.store.NewUpdate().Model(p).Column("services").WherePK().Exec(t.Context())
		require.NoError(t, err)
	}
}

// details is the case's details (its lifecycle's state), as a manager sees them.
func (s *stack) details(t *testing.T, path string) map[string]any {
	t.Helper()
	res := s.bearer(http.MethodGet, path, s.manager, nil)
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	var v struct {
		Details map[string]any `json:"details"`
	}
	res.json(t, &v)
	for k, x := range v.Details {
		if f, ok := x.(float64); ok && f == float64(int(f)) {
			v.Details[k] = int(f)
		}
	}
	return v.Details
}

// timeline lists the events of the case's timeline, as a manager sees it.
func (s *stack) timeline(c *assert.CollectT, path string) []string {
	var events []string
	for _, e := range s.view(c, path, s.manager).Timeline {
		events = append(events, e.Event)
	}
	return events
}

func (s *stack) timelineOf(t *testing.T, path string) []string {
	t.Helper()
	var events []string
	require.EventuallyWithT(t, func(c *assert.CollectT) { events = s.timeline(c, path) }, 5*time.Second, 100*time.Millisecond)
	return events
}

// chinaToday is the date days from today in China, YYYY-MM-DD.
func chinaToday(days int) string {
	return time.Now().In(sla.China).AddDate(0, 0, days).Format(time.DateOnly)
}

func remarshal(from, to any) error {
	b, err := json.Marshal(from)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, to)
}
