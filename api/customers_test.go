package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/mocks"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/workflows"
	"github.com/steward-oss/steward/workflows/butler"
	"github.com/steward-oss/steward/workflows/dengbao"
	"github.com/steward-oss/steward/workflows/engagement"
	"github.com/steward-oss/steward/workflows/escort"
	"github.com/steward-oss/steward/workflows/hosting"
	"github.com/steward-oss/steward/workflows/sos"
)

// answerQuery makes the case's workflow answer its case view query with v.
func (f *fixture) answerQuery(caseID string, v workflows.CaseView) {
	val := &mocks.Value{}
	val.On("Get", mock.Anything).Run(func(args mock.Arguments) { *args.Get(0).(*workflows.CaseView) = v }).Return(nil)
	f.temporal.On("QueryWorkflow", mock.Anything, caseID, "", workflows.QueryCaseView).Return(val, nil)
}

// customerCaseFixture is an SOS case of customer cust-1 held by p1, breached, with a refund, after an offer
// that p2 declined and one that p1's engineer accepted.
func customerCaseFixture(t *testing.T) (*fixture, string, string) {
	f := newFixture(t)
	ctx := context.Background()
	opened := f.now.Add(-2 * time.Hour).Truncate(time.Second).UTC()
	caseID := f.seedCase(t, "CV1", "cust-1", "sos", "p1", "CNY", 1000_00, opened)
	_, _, err := f.store.IssueToken(ctx, db.RolePartner, "p1", "Li Wei (night)")
	require.NoError(t, err)
	for i, e := range []db.CaseEvent{
		{Actor: workflows.ActorMarketplace, Event: string(workflows.EventCaseOpened), Detail: "order CV1 paid"},
		{Actor: workflows.ActorSystem, Event: string(workflows.EventPartnerOffered), Detail: "offered to p2 (Other Security Co), load 3/5"},
		{Actor: workflows.ActorPartner, Event: string(workflows.EventPartnerDeclined), Detail: "p2 declined: no onsite engineer free"},
		{Actor: workflows.ActorSystem, Event: string(workflows.EventOfferTimedOut), Detail: "p3 did not answer"},
		{Actor: workflows.ActorPartner, Event: string(workflows.EventPartnerAccepted), Detail: "p1 accepted (eng)"},
		{Actor: workflows.ActorPartner, Event: string(workflows.EventPartnerAccepted), Detail: "p1 accepted (Li Wei (night)); handover"},
		{Actor: workflows.ActorSystem, Event: string(workflows.EventSLABreached), Detail: "response clause breached; refund now 50% (¥500.00)"},
		{Actor: "Temporal Web UI", Event: string(workflows.EventCancelRefused), Detail: "refused"},
	} {
		e.Key, e.CaseID, e.At = caseID+"/"+e.Event+"/"+string(rune('a'+i)), caseID, opened.Add(time.Duration(i)*time.Minute)
		_, err := f.store.AppendEvent(ctx, &e)
		require.NoError(t, err)
	}
	refund := f.seedRefund(t, caseID, "response", 50, 500_00, opened.Add(40*time.Minute))
	due := opened.Add(30 * time.Minute)
	f.answerQuery(caseID, workflows.CaseView{
		CaseID: caseID, WorkflowID: caseID, Service: "sos", Spec: "handling", Stage: sos.StageConfirmation, Status: workflows.StatusOpen,
		PartnerID: "p1", CustomerID: "cust-1", OrderID: "CV1", AmountCents: 1000_00, Currency: "CNY", PaidAt: opened,
		SLA:     []workflows.SLAEntry{{Clause: "response", DueAt: &due, Status: workflows.SLABreached, Margin: "late by 1 h 30 min", Breached: true, RefundPercent: 50}},
		Refund:  workflows.Refund{Percent: 50, AmountCents: 500_00},
		Details: map[string]any{"engineer_phone": "13900000000"},
	})
	return f, caseID, refund
}

func (f *fixture) customerGet(t *testing.T, path, query string) (*http.Response, []byte, Problem) {
	t.Helper()
	rec, p := f.call(t, http.MethodGet, path+query, nil, f.signedFor(http.MethodGet, path, f.now, nil))
	return rec.Result(), rec.Body.Bytes(), p
}

// TestCustomerCaseView: the marketplace's v2-signed read answers the customer's view: the stage in words,
// the clauses, refunds with their state, the report's availability, and a timeline without offers, declines
// or timeouts and without engineers' names.
func TestCustomerCaseView(t *testing.T) {
	f, caseID, refund := customerCaseFixture(t)
	ctx := context.Background()
	path := "/v1/cases/" + caseID
	res, body, _ := f.customerGet(t, path, "?customer_id=cust-1")
	require.Equal(t, http.StatusOK, res.StatusCode, "%s", body)
	assert.Equal(t, "no-store", res.Header.Get("Cache-Control"))
	v := decodeAs[CustomerCaseView](t, body)
	assert.Equal(t, caseID, v.CaseID)
	assert.Equal(t, sos.StageConfirmation, v.Stage)
	assert.Equal(t, StagePhrases[sos.StageConfirmation], v.StageText)
	assert.Contains(t, v.StageText, "waiting for the engineer's first contact")
	assert.Equal(t, "CNY", v.Currency)
	require.Len(t, v.SLA, 1)
	assert.Equal(t, "response", v.SLA[0].Clause)
	assert.Equal(t, workflows.SLABreached, v.SLA[0].Status)
	assert.Equal(t, "late by 1 h 30 min", v.SLA[0].Margin)
	assert.NotNil(t, v.SLA[0].DueAt)
	assert.Equal(t, workflows.Refund{Percent: 50, AmountCents: 500_00}, v.Refund)
	require.Len(t, v.Refunds, 1)
	assert.Equal(t, CustomerRefund{ID: refund, Clause: "response", Percent: 50, AmountCents: 500_00, Currency: "CNY", State: db.RefundOwed,
		CreatedAt: v.Refunds[0].CreatedAt}, v.Refunds[0])
	assert.Equal(t, ReportAvailability{}, v.Report)

	var events []string
	for _, e := range v.Timeline {
		events = append(events, e.Event)
		assert.Contains(t, []string{"partner", "marketplace", "manager", "system"}, e.Actor)
	}
	assert.Equal(t, []string{"case_opened", "partner_accepted", "partner_accepted", "sla_breached", "cancellation_refused"}, events,
		"no offers, declines or timeouts")
	assert.Equal(t, "p1 accepted", v.Timeline[1].Detail)
	assert.Equal(t, "p1 accepted; handover", v.Timeline[2].Detail)
	assert.Equal(t, workflows.ActorSystem, v.Timeline[4].Actor, "an actor that is a name reads as the system")
	for _, secret := range []string{"eng)", "Li Wei", "Other Security Co", "p2", "p3", "13900000000", "Temporal Web UI", "partner_id", "workflow_id", "details"} {
		assert.NotContains(t, string(body), secret)
	}

	// The report becomes available.
	_, err := f.store.PutReport(ctx, &db.Report{CaseID: caseID, Kind: db.KindIncidentReport, Format: db.FormatHTML, Version: 2, Title: "r", Content: "<p>r</p>"})
	require.NoError(t, err)
	_, _, err = f.store.MarkRefundPaid(ctx, refund, f.now, "WX-1")
	require.NoError(t, err)
	_, body, _ = f.customerGet(t, path, "?customer_id=cust-1")
	v = decodeAs[CustomerCaseView](t, body)
	assert.Equal(t, ReportAvailability{Available: true, Kind: db.KindIncidentReport, Version: 2}, v.Report)
	assert.Equal(t, db.RefundPaid, v.Refunds[0].State)
	assert.NotNil(t, v.Refunds[0].PaidAt)
}

// TestCustomerCaseViewRefused: another customer's id is 404 exactly like a missing case; the customer id is
// required; a v1 signature, a bad one or none is 401.
func TestCustomerCaseViewRefused(t *testing.T) {
	f, caseID, _ := customerCaseFixture(t)
	path := "/v1/cases/" + caseID
	res, body, wrong := f.customerGet(t, path, "?customer_id=cust-2")
	assert.Equal(t, http.StatusNotFound, res.StatusCode, "%s", body)
	res, body, missing := f.customerGet(t, "/v1/cases/sos:NOPE", "?customer_id=cust-2")
	assert.Equal(t, http.StatusNotFound, res.StatusCode, "%s", body)
	assert.Equal(t, strings.Replace(missing.Detail, "sos:NOPE", caseID, 1), wrong.Detail, "the same answer as a missing case")
	assert.Equal(t, missing.Code, wrong.Code)

	for query, field := range map[string]string{"": "customer_id", "?customer_id=": "customer_id", "?customer_id=a%20b": "customer_id",
		"?customer_id=cust-1&stage=x": "stage"} {
		res, body, p := f.customerGet(t, path, query)
		assert.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, "%q: %s", query, body)
		assert.Contains(t, p.Detail, field)
	}

	q := "?customer_id=cust-1"
	for name, h := range map[string]map[string]string{
		"v1":                   f.signed(f.now, nil),
		"expired v2":           f.signedFor(http.MethodGet, path, f.now.Add(-time.Hour), nil),
		"v2 for another":       f.signedFor(http.MethodGet, "/v1/cases/sos:OTHER", f.now, nil),
		"timestamp only":       {HeaderTimestamp: "1"},
		"v2 with the query":    f.signedFor(http.MethodGet, path+q, f.now, nil),
		"unknown bearer":       {"Authorization": "Bearer stw_nope"},
		"no credential at all": nil,
	} {
		rec, p := f.call(t, http.MethodGet, path+q, nil, h)
		assert.Equal(t, http.StatusUnauthorized, rec.Code, "%s: %s", name, rec.Body)
		assert.Equal(t, CodeUnauthorized, p.Code, name)
	}
}

// TestCaseViewBearerUnchanged: partners and managers still read the case view with their tokens; the
// manager sees assignment and names, the partner its own case without assignment.
func TestCaseViewBearerUnchanged(t *testing.T) {
	f, caseID, _ := customerCaseFixture(t)
	path := "/v1/cases/" + caseID
	rec, _ := f.call(t, http.MethodGet, path, nil, f.bearer(f.manager))
	require.Equal(t, http.StatusOK, rec.Code, "%s", rec.Body)
	v := decodeAs[workflows.CaseView](t, rec.Body.Bytes())
	assert.Equal(t, "p1", v.PartnerID)
	assert.Len(t, v.Timeline, 8, "managers see everything")
	assert.Contains(t, rec.Body.String(), "p1 accepted (eng)")

	rec, _ = f.call(t, http.MethodGet, path+"?customer_id=cust-2", nil, f.bearer(f.partner))
	require.Equal(t, http.StatusOK, rec.Code, "a bearer read ignores customer_id: %s", rec.Body)
	v = decodeAs[workflows.CaseView](t, rec.Body.Bytes())
	assert.Len(t, v.Timeline, 5, "the partner sees no assignment events")

	require.NoError(t, f.store.AddPartner(context.Background(), &db.Partner{ID: "p2", Name: "P2", Services: []string{"sos"}, Capacity: 1, Active: true, CreatedAt: f.now}))
	other, _, err := f.store.IssueToken(context.Background(), db.RolePartner, "p2", "eng2")
	require.NoError(t, err)
	rec, _ = f.call(t, http.MethodGet, path, nil, f.bearer(other))
	assert.Equal(t, http.StatusNotFound, rec.Code, "another partner's case")
}

// TestCustomerCaseViewArchived: a case whose workflow is gone reads from its projection.
func TestCustomerCaseViewArchived(t *testing.T) {
	f := newFixture(t)
	caseID := f.seedCase(t, "AR1", "cust-9", "dengbao", "p1", "CNY", 5000_00, f.now.Add(-time.Hour))
	f.temporal.On("QueryWorkflow", mock.Anything, caseID, "", workflows.QueryCaseView).Return(nil, serviceerror.NewNotFound("archived"))
	res, body, _ := f.customerGet(t, "/v1/cases/"+caseID, "?customer_id=cust-9")
	require.Equal(t, http.StatusOK, res.StatusCode, "%s", body)
	v := decodeAs[CustomerCaseView](t, body)
	assert.Equal(t, workflows.StageAssignment, v.Stage)
	assert.Equal(t, StagePhrases[workflows.StageAssignment], v.StageText)
	assert.Equal(t, "CNY", v.Currency, "from the order")
	assert.Equal(t, []workflows.SLAEntry{}, v.SLA)
	assert.Equal(t, []CustomerRefund{}, v.Refunds)
	assert.Equal(t, []workflows.TimelineEntry{}, v.Timeline)
}

// TestCustomerCases: a customer's cases, newest first, limit and offset; only v2-signed.
func TestCustomerCases(t *testing.T) {
	f := newFixture(t)
	base := f.now.Add(-time.Hour)
	f.seedCase(t, "K1", "cust-1", "sos", "p1", "CNY", 100, base)
	f.seedCase(t, "K2", "cust-1", "dengbao", "p1", "CNY", 100, base.Add(time.Minute))
	f.seedCase(t, "K3", "cust-2", "sos", "p1", "CNY", 100, base.Add(2*time.Minute))
	f.seedCase(t, "K4", "cust-1", "sos", "", "CNY", 100, base.Add(3*time.Minute))
	path := "/v1/customers/cust-1/cases"
	list := func(query string) []string {
		res, body, _ := f.customerGet(t, path, query)
		require.Equal(t, http.StatusOK, res.StatusCode, "%s", body)
		var ids []string
		for _, c := range decodeAs[CustomerCaseList](t, body).Cases {
			ids = append(ids, c.CaseID)
		}
		return ids
	}
	assert.Equal(t, []string{"sos:K4", "dengbao:K2", "sos:K1"}, list(""))
	assert.Equal(t, []string{"sos:K4"}, list("?limit=1"))
	assert.Equal(t, []string{"dengbao:K2"}, list("?limit=1&offset=1"))
	assert.Nil(t, list("?offset=3"))

	res, body, _ := f.customerGet(t, path, "")
	var raw struct {
		Cases []map[string]any `json:"cases"`
	}
	require.NoError(t, json.Unmarshal(body, &raw))
	require.Len(t, raw.Cases, 3)
	assert.Equal(t, http.StatusOK, res.StatusCode)
	for _, k := range []string{"case_id", "service", "stage", "stage_text", "status", "sla_status", "refund_percent", "opened_at"} {
		assert.Contains(t, raw.Cases[0], k)
	}
	assert.NotContains(t, raw.Cases[0], "partner_id")
	assert.Equal(t, StagePhrases[workflows.StageAssignment], raw.Cases[0]["stage_text"])

	res, body, _ = f.customerGet(t, "/v1/customers/nobody/cases", "")
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.JSONEq(t, `{"cases":[]}`, string(body))

	for query, field := range map[string]string{"?limit=0": "limit", "?limit=501": "limit", "?offset=-1": "offset", "?stage=x": "stage"} {
		res, body, p := f.customerGet(t, path, query)
		assert.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, "%s: %s", query, body)
		assert.Contains(t, p.Detail, field)
	}
	// The signature covers the decoded path.
	rec, p := f.call(t, http.MethodGet, "/v1/customers/"+url.PathEscape("a b")+"/cases", nil, f.signedFor(http.MethodGet, "/v1/customers/a b/cases", f.now, nil))
	assert.Equal(t, http.StatusUnprocessableEntity, rec.Code, "%s", rec.Body)
	assert.Contains(t, p.Detail, "customer_id")

	for name, h := range map[string]map[string]string{
		"v1": f.signed(f.now, nil), "manager": f.bearer(f.manager), "partner": f.bearer(f.partner), "none": nil,
	} {
		rec, _ := f.call(t, http.MethodGet, path, nil, h)
		assert.Equal(t, http.StatusUnauthorized, rec.Code, "%s: %s", name, rec.Body)
	}
}

// TestStagePhrases: every stage of every lifecycle reads in words.
func TestStagePhrases(t *testing.T) {
	for _, s := range []string{
		workflows.StageAssignment, workflows.StagePlanning, workflows.StageReport, workflows.StageClosed, workflows.StageExpired, workflows.StageCancelled,
		sos.StageConfirmation, sos.StageContainment, sos.StageEradication, sos.StageAnalysis, sos.StageReview, sos.StageOutOfScope,
		dengbao.StageKickoff, dengbao.StageRectification, dengbao.StageClosing,
		butler.StageOnboarding, butler.StageService, hosting.StageHosted, escort.StageScheduled, escort.StageOnDuty,
		engagement.StageScheduling, engagement.StageDelivery, engagement.StageAcceptance,
	} {
		assert.NotEmpty(t, StagePhrases[s], "stage %s has no phrase", s)
	}
	assert.Equal(t, "some new stage", stageText("some_new_stage"))
}

func TestWithoutEngineer(t *testing.T) {
	names := []string{"eng", "eng (night)"}
	for in, want := range map[string]string{
		"p1 accepted (eng)":               "p1 accepted",
		"p1 accepted (eng (night)); note": "p1 accepted; note",
		"p1 accepted (revoked one); note": "p1 accepted; note",
		"p1 accepted (eng); scope (a, b)": "p1 accepted; scope (a, b)",
		"something else (eng)":            "something else (eng)",
		"p1 accepted (unterminated":       "p1 accepted",
	} {
		assert.Equal(t, want, withoutEngineer(in, names), in)
	}
}
