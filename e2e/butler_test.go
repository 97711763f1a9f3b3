package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steward-oss/steward/workflows/butler"
)

// TestButlerThroughAPI: a professional-edition subscription through the API: onboarding, an incident
// request answered on its own child workflow by the partner holding the case (and no other), servers
// bound for good.
func TestButlerThroughAPI(t *testing.T) {
	s := newStack(t)
	p, err := s.store.GetPartner(t.Context(), "p-alpha")
	require.NoError(t, err)
	p.Services = append(p.Services, "butler")
	_, err = s.store.NewUpdate().Model(p).Column("services").WherePK().Exec(t.Context())
	require.NoError(t, err)
	partner := s.partners["p-alpha"]

	body := purchaseBody("BUT-1")
	body["service"], body["spec"] = "butler", "professional"
	res := s.signed(http.MethodPost, "/v1/purchases", mustJSON(t, body))
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Body)
	path := "/v1/cases/butler:BUT-1"
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.Equal(c, "p-alpha", s.view(c, path, partner).PartnerID)
	}, 20*time.Second, 100*time.Millisecond)
	step := func(name string, payload any) response {
		return s.bearer(http.MethodPost, path+"/steps/"+name, partner, mustJSON(t, payload))
	}
	require.Equal(t, http.StatusOK, step("accept", map[string]any{}).Status)
	res = step("contact", map[string]any{"note": "WeChat group opened"})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	res = step("plan", map[string]any{"summary": "baseline and monthly reviews", "items": []string{"harden SSH"}})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)

	res = s.signed(http.MethodPost, path+"/servers", []byte(`{"bind":["i-1","i-2"]}`))
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	res = s.signed(http.MethodPost, path+"/servers", []byte(`{"bind":[],"unbind":["i-1"]}`))
	assert.Equal(t, http.StatusConflict, res.Status, "%s", res.Body)

	res = s.signed(http.MethodPost, path+"/requests", []byte(`{"kind":"incident","summary":"webshell alert","urgency":"urgent"}`))
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	var rid string
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		r := s.bearer(http.MethodPost, path+"/requests/inc-1/steps/respond", partner, []byte(`{"note":"on it"}`))
		if assert.Equal(c, http.StatusOK, r.Status, "%s", r.Body) {
			var v butler.RequestView
			r.json(t, &v)
			rid = v.RequestID
		}
	}, 20*time.Second, 200*time.Millisecond)
	assert.Equal(t, "inc-1", rid)
	r := s.bearer(http.MethodPost, path+"/requests/inc-1/steps/respond", s.partners["p-beta"], []byte(`{}`))
	assert.Equal(t, http.StatusNotFound, r.Status, "another partner: %s", r.Body)
	r = s.bearer(http.MethodPost, path+"/requests/inc-9/steps/respond", partner, []byte(`{}`))
	assert.Equal(t, http.StatusNotFound, r.Status, "no such request: %s", r.Body)
	r = s.bearer(http.MethodPost, path+"/requests/inc-1/steps/retest", partner, []byte(`{"fixed":true}`))
	assert.Equal(t, http.StatusConflict, r.Status, "a vulnerability step on an incident: %s", r.Body)
}
