package e2e

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steward-oss/steward/api"
	"github.com/steward-oss/steward/workflows"
)

// TestPartnerDisabledCaseOfferedAgain: disabling the partner company holding an SOS case locks out its
// engineer's token on the next request, and the case, told as steward partners disable tells it, is offered
// to the other partner, whose acceptance takes it back to the stage it was in. Each step's line names its
// engineer and company: managers see both companies' engineers and the manager who withdrew the first; the
// second company sees its own engineer only; the customer's view and the webhooks name no one.
func TestPartnerDisabledCaseOfferedAgain(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	res := s.signed(http.MethodPost, "/v1/purchases", mustJSON(t, purchaseBody("ORD-WITHDRAW")))
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Body)
	caseID, path := "sos:ORD-WITHDRAW", "/v1/cases/sos:ORD-WITHDRAW"
	var first string
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		first = s.view(c, path, s.manager).PartnerID
		assert.NotEmpty(c, first)
	}, 20*time.Second, 100*time.Millisecond)
	second := map[string]string{"p-alpha": "p-beta", "p-beta": "p-alpha"}[first]
	s.partnerStep(t, path, s.partners[first], "accept", map[string]any{})
	s.marketCall(t, path+"/assets", map[string]any{"hosts": []map[string]string{{"instance_id": "i-1", "ip": "10.0.0.1", "os": "Linux"}}})
	before := s.partnerStep(t, path, s.partners[first], "contact", map[string]any{"note": "called the admin"}).Stage

	require.NoError(t, s.store.SetPartnerActive(ctx, first, false))
	res = s.bearer(http.MethodGet, path, s.partners[first], nil)
	require.Equal(t, http.StatusUnauthorized, res.Status, "%s", res.Body)
	var p api.Problem
	res.json(t, &p)
	assert.Equal(t, api.CodePartnerDisabled, p.Code, "the company's tokens are refused at once")

	h, err := s.temporal.UpdateWorkflow(ctx, workflows.ReofferOptions(caseID, first, "ops-lead", "partner company disabled", time.Now()))
	require.NoError(t, err)
	var v workflows.CaseView
	require.NoError(t, h.Get(ctx, &v))
	assert.Equal(t, workflows.StageAssignment, v.Stage)
	s.awaitOffer(t, path, second)
	after := s.partnerStep(t, path, s.partners[second], "accept", map[string]any{})
	assert.Equal(t, before, after.Stage, "back to the stage the case was in")
	assert.Equal(t, second, after.PartnerID)

	firstEng, secondEng := "engineer of "+first, "engineer of "+second
	mv := s.viewAs(t, path, s.manager)
	by := map[string]string{}
	for _, e := range mv.Timeline {
		if e.By != nil {
			by[e.Event+"/"+e.By.PartnerID] = e.By.Name
		}
	}
	assert.Equal(t, firstEng, by["customer_contacted/"+first], "the manager sees the first company's engineer: %v", by)
	assert.Equal(t, secondEng, by["partner_accepted/"+second], "and the second's")
	assert.Equal(t, "ops-lead", by["partner_withdrawn/"], "and who withdrew the first")

	res = s.bearer(http.MethodGet, path, s.partners[second], nil)
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	assert.NotContains(t, string(res.Body), firstEng, "the second company never sees the first's engineer")
	assert.NotContains(t, string(res.Body), "ops-lead")
	assert.Contains(t, string(res.Body), secondEng, "its own, it does")

	ts := time.Now()
	res = s.raw(http.MethodGet, path+"?customer_id=cust-42", nil, api.HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10),
		api.HeaderSignature, api.SignRequest(s.secret, ts, http.MethodGet, path, nil))
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	for _, name := range []string{firstEng, secondEng, "ops-lead", `"by"`} {
		assert.NotContains(t, string(res.Body), name, "the customer's view names no one")
	}
	events := tableText(t, s.store)["webhook_events"]
	require.Contains(t, events, "partner.accepted", "the webhooks were written")
	for _, name := range []string{firstEng, secondEng, "ops-lead"} {
		assert.False(t, strings.Contains(events, name), "a webhook names %s", name)
	}
}
