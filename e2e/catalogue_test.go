package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steward-oss/steward/workflows"
)

// TestCatalogueThroughAPI: hosting quotas and an engagement's delivery through the API: a request over
// its quota is 409 showing the quota state; a customer's rejection sends a delivery back; acceptance
// closes the case. It records the engagement's history for the replay tests (see recordHistory).
func TestCatalogueThroughAPI(t *testing.T) {
	s := newStack(t)
	partner := s.partners["p-alpha"]
	for _, id := range []string{"p-alpha"} {
		p, err := s.store.GetPartner(t.Context(), id)
		require.NoError(t, err)
		p.Services = append(p.Services, "hosting", "consulting")
		_, err = s.store.NewUpdate().Model(p).Column("services").WherePK().Exec(t.Context())
		require.NoError(t, err)
	}
	open := func(order, service string, qty int) string {
		body := purchaseBody(order)
		body["service"], body["spec"], body["quantity"] = service, "", qty
		res := s.signed(http.MethodPost, "/v1/purchases", mustJSON(t, body))
		require.Equal(t, http.StatusCreated, res.Status, "%s", res.Body)
		path := "/v1/cases/" + service + ":" + order
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			assert.Equal(c, "p-alpha", s.view(c, path, partner).PartnerID)
		}, 20*time.Second, 100*time.Millisecond)
		require.Equal(t, http.StatusOK, s.bearer(http.MethodPost, path+"/steps/accept", partner, []byte(`{}`)).Status)
		return path
	}

	h := open("HOST-1", "hosting", 1)
	check := mustJSON(t, map[string]any{"kind": "security_check", "instance_id": "i-1", "summary": "scan"})
	res := s.signed(http.MethodPost, h+"/requests", check)
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	res = s.signed(http.MethodPost, h+"/requests", mustJSON(t, map[string]any{"kind": "security_check", "instance_id": "i-1", "summary": "again"}))
	require.Equal(t, http.StatusConflict, res.Status, "%s", res.Body)
	assert.Contains(t, string(res.Body), "1 of 1")
	res = s.signed(http.MethodPost, h+"/requests", mustJSON(t, map[string]any{"kind": "massage", "instance_id": "i-1", "summary": "x"}))
	assert.Equal(t, http.StatusUnprocessableEntity, res.Status, "%s", res.Body)

	e := open("CONS-1", "consulting", 1)
	step := func(name string, payload any) response {
		return s.bearer(http.MethodPost, e+"/steps/"+name, partner, mustJSON(t, payload))
	}
	today := time.Now().In(time.FixedZone("CST", 8*3600)).Format(time.DateOnly)
	require.Equal(t, http.StatusOK, step("schedule", map[string]any{"starts_on": today, "ends_on": today, "summary": "SDL workshop"}).Status)
	require.Equal(t, http.StatusOK, step("deliver", map[string]any{"summary": "held"}).Status)
	res = step("deliverable", map[string]any{"title": "SDL 咨询报告", "summary": "gaps", "items": []string{"threat modelling"}})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	res = s.signed(http.MethodPost, e+"/delivery/reject", []byte(`{"comment":"missing the training slides"}`))
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	require.Equal(t, http.StatusOK, step("deliver", map[string]any{"summary": "slides added"}).Status)
	res = step("deliverable", map[string]any{"title": "SDL 咨询报告", "summary": "gaps and slides", "items": []string{"slides"}})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	res = s.signed(http.MethodPost, e+"/delivery/accept", []byte(`{"rating":5}`))
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	var v workflows.CaseView
	res.json(t, &v)
	assert.Equal(t, workflows.StatusClosed, v.Status)
	rep := s.bearer(http.MethodGet, e+"/report", s.manager, nil)
	require.Equal(t, http.StatusOK, rep.Status, "%s", rep.Body)
	assert.Contains(t, string(rep.Body), "SDL 咨询报告")

	recordHistory(t, s, "consulting:CONS-1", "", "engagement_rejected_then_accepted")
}
