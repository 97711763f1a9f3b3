package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/signing"
	"github.com/steward-oss/steward/webhooks"
	"github.com/steward-oss/steward/workflows"
)

// receiver is the marketplace's webhook endpoint: it checks each delivery's signature and keeps the
// envelopes by event id.
type receiver struct {
	t      *testing.T
	secret []byte
	mu     sync.Mutex
	got    map[string]db.Envelope
	order  []string
	bad    int
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := signing.Verify(r.secret, time.Now(), req.Header.Get(signing.HeaderTimestamp), req.Header.Get(signing.HeaderSignature),
		req.Method, req.URL.RequestURI(), body); err != nil {
		r.bad++
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var env db.Envelope
	if err := json.Unmarshal(body, &env); err != nil || env.ID != req.Header.Get(webhooks.HeaderEventID) || env.Type != req.Header.Get(webhooks.HeaderEventType) {
		r.bad++
		http.Error(w, "bad envelope", http.StatusBadRequest)
		return
	}
	if _, dup := r.got[env.ID]; !dup {
		r.order = append(r.order, env.ID)
	}
	r.got[env.ID] = env
	w.WriteHeader(http.StatusNoContent)
}

// types returns the types received for caseID, in sequence order, and checks that the sequence is gap-free.
func (r *receiver) types(c *assert.CollectT, caseID string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	bySeq := map[int64]string{}
	var max int64
	for _, e := range r.got {
		if e.CaseID == caseID {
			bySeq[e.Sequence] = e.Type
			max = maxOf(max, e.Sequence)
		}
	}
	var out []string
	for i := int64(1); i <= max; i++ {
		typ, ok := bySeq[i]
		assert.True(c, ok, "event %d of %s missing", i, caseID)
		out = append(out, typ)
	}
	return out
}

func maxOf(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// TestWebhooksThroughAPI: the marketplace subscribes; a breached SOS case sends sla.breached then
// refund.owed, signed and numbered per case; the refund turns instructed once delivered; the
// marketplace marks it paid (refund.paid follows) and the refunds report sums it; a hosting request over
// its quota sends request.quota_refused.
func TestWebhooksThroughAPI(t *testing.T) {
	s := newStack(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	rcv := &receiver{t: t, secret: []byte("market-hook-secret"), got: map[string]db.Envelope{}}
	hook := httptest.NewServer(rcv)
	t.Cleanup(hook.Close)
	require.NoError(t, s.store.AddWebhookSubscription(ctx, &db.WebhookSubscription{ID: "whs_market", URL: hook.URL + "/steward/events?src=e2e",
		Events: db.EventList{db.AllEvents}, Secret: string(rcv.secret), AllowPrivate: true}))
	d := &webhooks.Dispatcher{Store: s.store, PollInterval: 50 * time.Millisecond}
	go func() { _ = d.Run(ctx) }()

	body := purchaseBody("ORD-HOOK")
	body["spec"] = "handling"
	body["paid_at"] = time.Now().UTC().Add(-72 * time.Hour).Truncate(time.Second).Format(time.RFC3339)
	res := s.signed(http.MethodPost, "/v1/purchases", mustJSON(t, body))
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Body)
	caseID, path := "sos:ORD-HOOK", "/v1/cases/sos:ORD-HOOK"
	require.EventuallyWithT(t, func(c *assert.CollectT) { assert.Equal(c, "p-alpha", s.view(c, path, s.manager).PartnerID) }, 20*time.Second, 100*time.Millisecond)
	require.Equal(t, http.StatusOK, s.bearer(http.MethodPost, path+"/steps/accept", s.partners["p-alpha"], []byte(`{}`)).Status)

	var refundID string
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		types := rcv.types(c, caseID)
		assert.Subset(c, types, []string{"case.opened", "sla.breached", "refund.owed", "partner.accepted"})
		assert.NotContains(c, types, "partner.offered", "offers never leave steward")
		breach, owed := indexOf(types, "sla.breached"), indexOf(types, "refund.owed")
		assert.True(c, breach >= 0 && owed > breach, "the breach comes before the refund it owes: %v", types)
		rs, err := s.store.ListRefunds(ctx, caseID)
		if assert.NoError(c, err) && assert.Len(c, rs, 1) {
			refundID = rs[0].ID
			assert.Equal(c, db.RefundInstructed, rs[0].State, "refund.owed was delivered")
		}
	}, 30*time.Second, 200*time.Millisecond)
	rcv.mu.Lock()
	for _, e := range rcv.got {
		if e.Type == workflows.WebhookRefundOwed {
			data, _ := json.Marshal(e.Data)
			assert.Contains(t, string(data), `"amount_cents":250000`)
			assert.Contains(t, string(data), refundID)
		}
	}
	assert.Zero(t, rcv.bad, "every delivery was signed and well formed")
	rcv.mu.Unlock()

	paid := mustJSON(t, map[string]any{"paid_at": time.Now().UTC().Format(time.RFC3339), "reference": "PAY-9001"})
	res = s.signedV2(http.MethodPost, "/v1/refunds/"+refundID+"/paid", paid)
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	res = s.signedV2(http.MethodPost, "/v1/refunds/"+refundID+"/paid", paid)
	require.Equal(t, http.StatusOK, res.Status, "a repeated report is harmless: %s", res.Body)
	other := mustJSON(t, map[string]any{"paid_at": time.Now().UTC().Format(time.RFC3339), "reference": "PAY-OTHER"})
	assert.Equal(t, http.StatusConflict, s.signedV2(http.MethodPost, "/v1/refunds/"+refundID+"/paid", other).Status)

	var report struct {
		Items []struct {
			ID, State string
		} `json:"items"`
		Sums map[string]map[string]int64 `json:"sums"`
	}
	s.bearer(http.MethodGet, "/v1/refunds?service=sos", s.manager, nil).json(t, &report)
	require.Len(t, report.Items, 1)
	assert.Equal(t, db.RefundPaid, report.Items[0].State)
	assert.Equal(t, int64(250000), report.Sums["CNY"]["paid"])
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.Contains(c, rcv.types(c, caseID), workflows.WebhookRefundPaid)
	}, 20*time.Second, 200*time.Millisecond)

	// A hosting request over its quota is announced.
	p, err := s.store.GetPartner(ctx, "p-alpha")
	require.NoError(t, err)
	p.Services = append(p.Services, "hosting")
	_, err = s.store.NewUpdate().Model(p).Column("services").WherePK().Exec(ctx)
	require.NoError(t, err)
	hb := purchaseBody("HOST-HOOK")
	hb["service"], hb["spec"] = "hosting", ""
	require.Equal(t, http.StatusCreated, s.signed(http.MethodPost, "/v1/purchases", mustJSON(t, hb)).Status)
	hp := "/v1/cases/hosting:HOST-HOOK"
	check := mustJSON(t, map[string]any{"kind": "security_check", "instance_id": "i-1", "summary": "scan"})
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.Equal(c, http.StatusOK, s.signed(http.MethodPost, hp+"/requests", check).Status)
	}, 20*time.Second, 200*time.Millisecond)
	res = s.signed(http.MethodPost, hp+"/requests", mustJSON(t, map[string]any{"kind": "security_check", "instance_id": "i-1", "summary": "again"}))
	require.Equal(t, http.StatusConflict, res.Status, "%s", res.Body)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.Contains(c, rcv.types(c, "hosting:HOST-HOOK"), workflows.WebhookQuotaRefused)
	}, 20*time.Second, 200*time.Millisecond)
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}
