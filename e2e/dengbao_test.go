package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steward-oss/steward/api"
	"github.com/steward-oss/steward/workflows"
)

// TestDengbaoThroughAPI: a 等保整改 purchase is offered, accepted and kicked off through the API; the
// contact is the holder's only after it accepts; a proposal is delivered and served; cancelling refunds in
// full before kickoff and is refused with the reason after it. It records the cancelled case's history
// for the replay tests (see recordHistory).
func TestDengbaoThroughAPI(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	partner := s.partners["p-alpha"]
	start := func(order string) string {
		body := purchaseBody(order)
		body["service"], body["spec"], body["quantity"] = "dengbao", "", 8
		res := s.signed(http.MethodPost, "/v1/purchases", mustJSON(t, body))
		require.Equal(t, http.StatusCreated, res.Status, "%s", res.Body)
		var pr api.PurchaseResult
		res.json(t, &pr)
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			assert.Equal(c, "p-alpha", s.view(c, "/v1/cases/"+pr.CaseID, partner).PartnerID)
		}, 20*time.Second, 100*time.Millisecond)
		return "/v1/cases/" + pr.CaseID
	}
	step := func(path, name string, payload any) response {
		return s.bearer(http.MethodPost, path+"/steps/"+name, partner, mustJSON(t, payload))
	}

	// Cancelled before kickoff: a full refund.
	a := start("DB-1")
	res := s.bearer(http.MethodGet, a+"/contact", partner, nil)
	assert.Equal(t, http.StatusConflict, res.Status, "contact before accepting: %s", res.Body)
	require.Equal(t, http.StatusOK, step(a, "accept", map[string]any{}).Status)
	res = s.bearer(http.MethodGet, a+"/contact", partner, nil)
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	var contact api.ContactView
	res.json(t, &contact)
	assert.Equal(t, "Wang Li", contact.Name)
	assert.Equal(t, "no-store", res.Header.Get("Cache-Control"))
	res = s.signed(http.MethodPost, a+"/cancel", []byte(`{"reason":"bought twice"}`))
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	var v workflows.CaseView
	res.json(t, &v)
	assert.Equal(t, workflows.StageCancelled, v.Stage)
	assert.Equal(t, workflows.Refund{Percent: 100, AmountCents: 500000}, v.Refund)
	refunds, err := s.store.ListRefunds(ctx, "dengbao:DB-1")
	require.NoError(t, err)
	require.Len(t, refunds, 1)
	assert.Equal(t, int64(500000), refunds[0].AmountCents)

	// After kickoff: 409 with the reason, nothing refunded; the proposal is served.
	b := start("DB-2")
	require.Equal(t, http.StatusOK, step(b, "accept", map[string]any{}).Status)
	require.Equal(t, http.StatusOK, step(b, "kickoff", map[string]any{}).Status)
	res = step(b, "deliverable", map[string]any{"kind": "rectification_proposal", "summary": "9 gaps", "items": []string{"enable DB audit"}})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	res = s.signed(http.MethodPost, b+"/cancel", []byte(`{}`))
	require.Equal(t, http.StatusConflict, res.Status, "%s", res.Body)
	assert.Contains(t, string(res.Body), "not refundable once work has begun")
	refunds, err = s.store.ListRefunds(ctx, "dengbao:DB-2")
	require.NoError(t, err)
	assert.Empty(t, refunds)
	rep := s.bearer(http.MethodGet, b+"/report", s.manager, nil)
	require.Equal(t, http.StatusOK, rep.Status, "%s", rep.Body)
	assert.Contains(t, string(rep.Body), "安全整改建议书")
	assert.Equal(t, "rectification_proposal", rep.Header.Get("X-Report-Kind"))
	res = step(b, "assessment", map[string]any{"result": "failed", "assessor": "X", "date": "2999-01-01", "findings": []string{"x"}})
	assert.Equal(t, http.StatusUnprocessableEntity, res.Status, "a future assessment date: %s", res.Body)

	recordHistory(t, s, "dengbao:DB-1", "", "dengbao_cancelled_before_kickoff")
}
