package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/steward-oss/steward/api"
	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/workflows"
)

func purchaseBody(orderID string) map[string]any {
	return map[string]any{
		"order_id": orderID, "customer_id": "cust-42", "service": "sos", "spec": "analysis_remote",
		"quantity": 1, "amount_cents": 500000, "currency": "CNY",
		"paid_at": time.Now().UTC().Add(-time.Minute).Truncate(time.Second).Format(time.RFC3339),
		"contact": map[string]any{"name": "Wang Li", "phone": "+86 138 0000 0000", "email": "ops@example.com"},
	}
}

// TestPurchaseStartsCase is the first thread end to end: a signed purchase callback starts the case
// workflow; repeats find the same case; a changed body conflicts; managers find it by search attributes
// and read its view; partners see only their own cases.
func TestPurchaseStartsCase(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	body := purchaseBody("ORD-1001")
	raw := mustJSON(t, body)

	first := s.signed(http.MethodPost, "/v1/purchases", raw)
	require.Equal(t, http.StatusCreated, first.Status, "%s", first.Body)
	var created api.PurchaseResult
	first.json(t, &created)
	assert.Equal(t, "sos:ORD-1001", created.CaseID)
	assert.Equal(t, workflows.CaseWorkflowID("sos", "ORD-1001"), created.WorkflowID)

	again := s.signed(http.MethodPost, "/v1/purchases", raw)
	require.Equal(t, http.StatusOK, again.Status, "%s", again.Body)
	var same api.PurchaseResult
	again.json(t, &same)
	assert.Equal(t, created, same)

	body["amount_cents"] = 1
	changed := s.signed(http.MethodPost, "/v1/purchases", mustJSON(t, body))
	require.Equal(t, http.StatusConflict, changed.Status, "%s", changed.Body)
	assert.Equal(t, "application/problem+json", changed.Header.Get("Content-Type"))

	// One workflow, found by its search attributes.
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		res, err := s.temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query: "ServiceType='sos' AND OrderId='ORD-1001'",
		})
		if !assert.NoError(c, err) {
			return
		}
		if assert.Len(c, res.Executions, 1) {
			assert.Equal(c, created.WorkflowID, res.Executions[0].Execution.WorkflowId)
		}
	}, 20*time.Second, 200*time.Millisecond)

	// The case view, with the opening in its timeline.
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		res := s.bearer(http.MethodGet, "/v1/cases/sos:ORD-1001", s.manager, nil)
		if !assert.Equal(c, http.StatusOK, res.Status, "%s", res.Body) {
			return
		}
		var v workflows.CaseView
		if !assert.NoError(c, json.Unmarshal(res.Body, &v)) {
			return
		}
		assert.Equal(c, "sos:ORD-1001", v.CaseID)
		assert.Equal(c, workflows.StageAssignment, v.Stage)
		assert.Equal(c, workflows.StatusOpen, v.Status)
		assert.Equal(c, int64(500000), v.AmountCents)
		assert.Equal(c, "cust-42", v.CustomerID)
		if assert.NotEmpty(c, v.Timeline) {
			assert.Equal(c, string(workflows.EventCaseOpened), v.Timeline[0].Event)
		}
	}, 20*time.Second, 200*time.Millisecond)

	// The customer's contact stays out of the workflow's history.
	hist := s.temporal.GetWorkflowHistory(ctx, created.WorkflowID, "", false, 0)
	for hist.HasNext() {
		ev, err := hist.Next()
		require.NoError(t, err)
		assert.NotContains(t, ev.String(), "138 0000")
		assert.NotContains(t, ev.String(), "ops@example.com")
	}

	// A partner that does not hold the case sees nothing of it.
	res := s.bearer(http.MethodGet, "/v1/cases/sos:ORD-1001", s.partners["p-beta"], nil) // offered to p-alpha
	assert.Equal(t, http.StatusNotFound, res.Status, "%s", res.Body)
	// Listing is for managers.
	res = s.bearer(http.MethodGet, "/v1/cases?service=sos", s.partners["p-alpha"], nil)
	assert.Equal(t, http.StatusForbidden, res.Status, "%s", res.Body)
	res = s.bearer(http.MethodGet, "/v1/cases?service=sos", s.manager, nil)
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	var list api.CaseList
	res.json(t, &list)
	require.Len(t, list.Cases, 1)
	assert.Equal(t, "sos:ORD-1001", list.Cases[0].CaseID)

	// The asset list is accepted once.
	assets := mustJSON(t, map[string]any{"hosts": []map[string]string{{"instance_id": "i-1", "ip": "10.0.0.1", "os": "CentOS 7"}}})
	res = s.signed(http.MethodPost, "/v1/cases/sos:ORD-1001/assets", assets)
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	res = s.signed(http.MethodPost, "/v1/cases/sos:ORD-1001/assets", assets)
	require.Equal(t, http.StatusConflict, res.Status, "%s", res.Body)
	assert.Contains(t, string(res.Body), "already submitted")
	res = s.signed(http.MethodPost, "/v1/cases/sos:ORD-1001/assets", []byte(`{"hosts":[]}`))
	require.Equal(t, http.StatusUnprocessableEntity, res.Status, "%s", res.Body)
}

// TestPurchaseRejectsBadInput: every bad callback is a 4xx problem and starts nothing.
func TestPurchaseRejectsBadInput(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	good := purchaseBody("ORD-BAD")
	tests := []struct {
		name   string
		mutate func(m map[string]any)
		status int
	}{
		{"unknown service", func(m map[string]any) { m["service"] = "spa" }, http.StatusUnprocessableEntity},
		{"escort over a year", func(m map[string]any) { m["service"] = "escort"; m["spec"] = ""; m["quantity"] = 367 }, http.StatusUnprocessableEntity},
		{"unknown spec", func(m map[string]any) { m["spec"] = "deluxe" }, http.StatusUnprocessableEntity},
		{"negative amount", func(m map[string]any) { m["amount_cents"] = -1 }, http.StatusUnprocessableEntity},
		{"zero quantity", func(m map[string]any) { m["quantity"] = 0 }, http.StatusUnprocessableEntity},
		{"far-future paid_at", func(m map[string]any) { m["paid_at"] = "2099-01-01T00:00:00Z" }, http.StatusUnprocessableEntity},
		{"paid_at not a time", func(m map[string]any) { m["paid_at"] = "yesterday" }, http.StatusUnprocessableEntity},
		{"order id with a slash", func(m map[string]any) { m["order_id"] = "a/b" }, http.StatusUnprocessableEntity},
		{"unknown field", func(m map[string]any) { m["discount"] = 5 }, http.StatusUnprocessableEntity},
		{"no contact", func(m map[string]any) { delete(m, "contact") }, http.StatusUnprocessableEntity},
		{"amount as string", func(m map[string]any) { m["amount_cents"] = "100" }, http.StatusUnprocessableEntity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := purchaseBody("ORD-BAD")
			tt.mutate(m)
			res := s.signed(http.MethodPost, "/v1/purchases", mustJSON(t, m))
			assert.Equal(t, tt.status, res.Status, "%s", res.Body)
			assert.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))
		})
	}
	raw := mustJSON(t, good)
	// Expired and future timestamps, a wrong secret, malformed JSON.
	old := s.signedAt(http.MethodPost, "/v1/purchases", raw, time.Now().Add(-301*time.Second))
	assert.Equal(t, http.StatusUnauthorized, old.Status, "%s", old.Body)
	future := s.signedAt(http.MethodPost, "/v1/purchases", raw, time.Now().Add(301*time.Second))
	assert.Equal(t, http.StatusUnauthorized, future.Status, "%s", future.Body)
	secret := s.secret
	s.secret = []byte("another-secret")
	wrong := s.signed(http.MethodPost, "/v1/purchases", raw)
	s.secret = secret
	assert.Equal(t, http.StatusUnauthorized, wrong.Status, "%s", wrong.Body)
	bad := s.signed(http.MethodPost, "/v1/purchases", []byte(`{"order_id":`))
	assert.Equal(t, http.StatusBadRequest, bad.Status, "%s", bad.Body)

	// Nothing was started or stored.
	_, err := s.temporal.DescribeWorkflowExecution(ctx, workflows.CaseWorkflowID("sos", "ORD-BAD"), "")
	var nf *serviceerror.NotFound
	assert.True(t, errors.As(err, &nf), "workflow for a rejected order: %v", err)
	_, err = s.store.GetOrder(ctx, "ORD-BAD")
	assert.ErrorIs(t, err, db.ErrNotFound)
}
