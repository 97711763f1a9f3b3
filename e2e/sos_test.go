package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/steward-oss/steward/workflows"
	"github.com/steward-oss/steward/workflows/sos"
)

// TestSOSCaseThroughAPI drives one SOS case end to end through the HTTP API against a real server: a
// purchase paid three days ago (its response clock long breached), the offer to the least-loaded
// partner, every step, the customer's verdict and the close. It checks the refund, the search attributes
// a manager filters on, the report and idempotent steps. With STEWARD_RECORD_HISTORY=1 it rewrites the
// history that the workflows package's replay test replays.
func TestSOSCaseThroughAPI(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	body := purchaseBody("ORD-E2E")
	body["spec"] = "analysis_remote"
	body["paid_at"] = time.Now().UTC().Add(-72 * time.Hour).Truncate(time.Second).Format(time.RFC3339)
	res := s.signed(http.MethodPost, "/v1/purchases", mustJSON(t, body))
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Body)
	caseID := "sos:ORD-E2E"
	path := "/v1/cases/" + caseID
	partner := s.partners["p-alpha"] // least loaded, first by id

	// The offer reaches p-alpha; p-beta sees nothing.
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		v := s.view(c, path, partner)
		assert.Equal(c, "p-alpha", v.PartnerID)
	}, 20*time.Second, 100*time.Millisecond)
	assert.Equal(t, http.StatusNotFound, s.bearer(http.MethodGet, path, s.partners["p-beta"], nil).Status)
	assert.Equal(t, http.StatusNotFound, s.bearer(http.MethodPost, path+"/steps/accept", s.partners["p-beta"], []byte(`{}`)).Status)

	step := func(name string, payload any, key string) response {
		t.Helper()
		var hdr []string
		if key != "" {
			hdr = []string{"Idempotency-Key", key}
		}
		return s.bearer(http.MethodPost, path+"/steps/"+name, partner, mustJSON(t, payload), hdr...)
	}
	ok := func(r response) workflows.CaseView {
		t.Helper()
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		var v workflows.CaseView
		r.json(t, &v)
		return v
	}

	v := ok(step("accept", map[string]any{}, "accept-1"))
	assert.Equal(t, sos.StageConfirmation, v.Stage)
	again := ok(step("accept", map[string]any{}, "accept-1")) // a retried request: the first result, not a 409
	assert.Equal(t, sos.StageConfirmation, again.Stage)
	assert.Equal(t, http.StatusConflict, step("accept", map[string]any{}, "accept-2").Status, "a new accept is out of order")

	r := s.signed(http.MethodPost, path+"/assets", mustJSON(t, map[string]any{"hosts": []map[string]string{
		{"instance_id": "i-web1", "ip": "10.0.0.11", "os": "CentOS 7"}, {"instance_id": "i-db1", "ip": "10.0.0.12", "os": "Ubuntu 22.04"}}}))
	ok(r)
	r = step("confirm", map[string]any{"security_incident": true, "incident_class": "malware", "incident_type": "webshell", "summary": "defaced pages"}, "")
	assert.Equal(t, http.StatusConflict, r.Status, "confirm before contact: %s", r.Body)
	assert.Contains(t, string(r.Body), "contact the customer first")
	r = step("contact", map[string]any{"note": "x", "unexpected": 1}, "")
	assert.Equal(t, http.StatusUnprocessableEntity, r.Status, "%s", r.Body)

	ok(step("contact", map[string]any{"note": "called the on-call admin"}, ""))
	v = ok(step("confirm", map[string]any{"security_incident": true, "incident_class": "malware", "incident_type": "webshell",
		"summary": "defaced pages <script>alert(1)</script>", "attack_ongoing": true}, ""))
	assert.Equal(t, sos.StageContainment, v.Stage)
	ok(step("contain", map[string]any{"actions": []string{"took the site offline"}}, ""))
	ok(step("eradicate", map[string]any{"cleaned": []string{"removed 3 webshells"}, "malware_removed": true}, ""))
	ok(step("analyze", map[string]any{"cause": "upload vulnerability in the CMS"}, ""))
	v = ok(step("report", map[string]any{"summary": "webshells removed", "recommendations": []string{"patch the CMS"}}, ""))
	assert.Equal(t, sos.StageReview, v.Stage)

	rep := s.bearer(http.MethodGet, path+"/report", partner, nil)
	require.Equal(t, http.StatusOK, rep.Status, "%s", rep.Body)
	assert.Contains(t, string(rep.Body), "安全事件应急响应报告")
	assert.Contains(t, string(rep.Body), "upload vulnerability in the CMS")
	assert.NotContains(t, string(rep.Body), "<script>alert(1)</script>")
	md := s.bearer(http.MethodGet, path+"/report?format=markdown", s.manager, nil)
	require.Equal(t, http.StatusOK, md.Status, "%s", md.Body)
	assert.Contains(t, string(md.Body), "i-web1")

	ok(s.signed(http.MethodPost, path+"/report/confirm", []byte(`{"rating":5}`)))
	v = ok(step("close", map[string]any{"follow_up": "no recurrence"}, ""))
	assert.Equal(t, workflows.StageClosed, v.Stage)
	assert.Equal(t, workflows.StatusClosed, v.Status)

	// The response clock breached before the callback arrived: 50% of the order, once.
	assert.Equal(t, workflows.Refund{Percent: 50, AmountCents: 250000}, v.Refund)
	refunds, err := s.store.ListRefunds(ctx, caseID)
	require.NoError(t, err)
	require.Len(t, refunds, 1)
	assert.Equal(t, "response", refunds[0].Clause)
	assert.Equal(t, int64(250000), refunds[0].AmountCents)
	// Partners don't see whom else the case was offered to; managers see the whole timeline.
	for _, e := range v.Timeline {
		assert.NotEqual(t, string(workflows.EventPartnerOffered), e.Event, "partner view")
	}
	var mv workflows.CaseView
	s.bearer(http.MethodGet, path, s.manager, nil).json(t, &mv)
	var events []string
	for _, e := range mv.Timeline {
		events = append(events, e.Event)
	}
	for _, want := range []workflows.Event{workflows.EventCaseOpened, workflows.EventPartnerOffered, workflows.EventPartnerAccepted,
		workflows.EventSLABreached, workflows.EventAssetsSubmitted, workflows.EventCustomerContacted, workflows.EventIncidentConfirmed,
		workflows.EventContained, workflows.EventEradicated, workflows.EventCauseAnalyzed, workflows.EventReportSubmitted,
		workflows.EventReportConfirmed, workflows.EventCaseClosed} {
		assert.Contains(t, events, string(want))
	}

	// Managers find it in the Web UI's terms.
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		l, err := s.temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query: "ServiceType='sos' AND SlaStatus='breached' AND RefundPercent=50 AND CaseStage='closed' AND PartnerId='p-alpha'"})
		if assert.NoError(c, err) && assert.Len(c, l.Executions, 1) {
			assert.Equal(c, caseID, l.Executions[0].Execution.WorkflowId)
		}
	}, 20*time.Second, 200*time.Millisecond)
	var result sos.Result
	require.NoError(t, s.temporal.GetWorkflow(ctx, caseID, "").Get(ctx, &result))
	assert.Equal(t, workflows.StageClosed, result.Stage)
	assert.Equal(t, 50, result.Refund.Percent)
	assertLeanHistory(t, s, caseID)
	assertStory(t, s, caseID, []string{workflows.StepAccept, sos.StepAssets, workflows.StepContact, sos.StepConfirm, workflows.StepContain,
		sos.StepEradicate, sos.StepAnalyze, workflows.StepReport, sos.StepReportConfirm, workflows.StepClose})

	recordHistory(t, s, caseID, "", "sos_full_case")
}

// assertLeanHistory checks what a closed SOS case asked of the server: the partner choice, the records and
// the report rendering ran as local activities and the notifications left from the outbox the records
// wrote (no activity task at all), search attributes went out only when they changed and at most once per
// workflow task, and the waits that ended early (the offer, the asset window, clocks re-planned) cancelled
// their timers instead of leaving them to wake the case later.
func assertLeanHistory(t *testing.T, s *stack, caseID string) {
	t.Helper()
	var activityTasks []string
	var upserts, records, started, cancelled, fired, tasks, inTask int
	for _, e := range history(t, s, caseID, "").Events {
		switch e.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
			tasks++
			inTask = 0
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			activityTasks = append(activityTasks, e.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName())
		case enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
			if _, version := e.GetUpsertWorkflowSearchAttributesEventAttributes().GetSearchAttributes().GetIndexedFields()["TemporalChangeVersion"]; !version {
				upserts++
				inTask++
				assert.LessOrEqual(t, inTask, 1, "search attributes upserted twice in the workflow task before event %d", e.GetEventId())
			}
		case enumspb.EVENT_TYPE_MARKER_RECORDED:
			if e.GetMarkerRecordedEventAttributes().GetMarkerName() == "LocalActivity" {
				records++
			}
		case enumspb.EVENT_TYPE_TIMER_STARTED:
			started++
		case enumspb.EVENT_TYPE_TIMER_CANCELED:
			cancelled++
		case enumspb.EVENT_TYPE_TIMER_FIRED:
			fired++
		}
	}
	assert.Empty(t, activityTasks, "activity tasks of the case")
	assert.Positive(t, upserts)
	assert.Less(t, upserts, records, "one search-attribute upsert per local activity: none was skipped")
	assert.LessOrEqual(t, upserts, tasks)
	assert.Positive(t, cancelled, "timers started %d, fired %d, cancelled %d", started, fired, cancelled)
	assert.Equal(t, started, fired+cancelled, "timers left pending when the case closed")
}

func (s *stack) view(c *assert.CollectT, path, token string) workflows.CaseView {
	res := s.bearer(http.MethodGet, path, token, nil)
	var v workflows.CaseView
	if assert.Equal(c, http.StatusOK, res.Status, "%s", res.Body) {
		assert.NoError(c, json.Unmarshal(res.Body, &v))
	}
	return v
}
