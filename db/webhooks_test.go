package db_test

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/db/dbtest"
)

// TestRecordCaseOutbox: one record step writes its rows and its events together; each event once (a
// retried record adds nothing), numbered gap-free per case, its envelope complete, one pending delivery
// per enabled subscription that wants its type, and new refunds owed with their stable id.
func TestRecordCaseOutbox(t *testing.T) {
	ctx := ctxT(t)
	s := dbtest.MustOpen(t)
	require.NoError(t, s.AddWebhookSubscription(ctx, &db.WebhookSubscription{ID: "whs_all", URL: "https://a.example/hook", Events: db.EventList{db.AllEvents}, Secret: "s1"}))
	require.NoError(t, s.AddWebhookSubscription(ctx, &db.WebhookSubscription{ID: "whs_sla", URL: "https://b.example/hook", Events: db.EventList{"sla.breached"}, Secret: "s2"}))
	require.NoError(t, s.AddWebhookSubscription(ctx, &db.WebhookSubscription{ID: "whs_off", URL: "https://c.example/hook", Events: db.EventList{db.AllEvents}, Secret: "s3"}))
	require.NoError(t, s.DisableWebhookSubscription(ctx, "whs_off", t0))

	c := testCase("sos:W1", t0)
	record := func(rev int64, evs []db.CaseEvent, refunds []db.Refund, out []db.OutboxEvent) {
		t.Helper()
		c.Revision = rev
		require.NoError(t, s.RecordCase(ctx, c, evs, refunds, out))
	}
	e1 := db.CaseEvent{Key: "sos:W1/001/case_opened", CaseID: "sos:W1", At: t0, Actor: "marketplace", Event: "case_opened"}
	record(1, []db.CaseEvent{e1}, nil, []db.OutboxEvent{{Key: e1.Key, Type: "case.opened", CreatedAt: t0, Data: map[string]string{"event": "case_opened"}}})
	e2 := db.CaseEvent{Key: "sos:W1/breach/response", CaseID: "sos:W1", At: t0.Add(time.Hour), Actor: "system", Event: "sla_breached"}
	r := db.Refund{Key: "sos:W1/refund/response", CaseID: "sos:W1", Clause: "response", Percent: 50, AmountCents: 600_000, CreatedAt: t0.Add(time.Hour)}
	out := []db.OutboxEvent{{Key: e2.Key, Type: "sla.breached", CreatedAt: e2.At, Data: map[string]string{"event": "sla_breached"}},
		{Key: r.Key + "/refund.owed", Type: "refund.owed", CreatedAt: e2.At, Data: map[string]any{"refund_id": db.RefundID(r.Key)}}}
	record(2, []db.CaseEvent{e2}, []db.Refund{r}, out)
	record(3, []db.CaseEvent{e2}, []db.Refund{r}, out) // the record retried after a crash

	evs, err := s.ListWebhookEvents(ctx, "sos:W1")
	require.NoError(t, err)
	require.Len(t, evs, 3)
	for i, e := range evs {
		assert.Equal(t, int64(i+1), e.Sequence, "gap-free")
		var env db.Envelope
		require.NoError(t, json.Unmarshal(e.Payload, &env))
		assert.Equal(t, e.ID, env.ID)
		assert.Equal(t, e.Sequence, env.Sequence)
		assert.Equal(t, "sos:W1", env.CaseID)
		assert.Equal(t, c.OrderID, env.OrderID)
		assert.Equal(t, c.CustomerID, env.CustomerID)
		assert.Equal(t, "sos", env.Service)
	}
	assert.Equal(t, []string{"case.opened", "sla.breached", "refund.owed"}, []string{evs[0].Type, evs[1].Type, evs[2].Type})
	assert.Equal(t, db.WebhookEventID(e2.Key), evs[1].ID, "the id is the source key's, stable across retries")

	var deliveries []db.WebhookDelivery
	require.NoError(t, s.NewSelect().Model(&deliveries).Order("created_at ASC", "subscription_id ASC").Scan(ctx))
	var got []string
	for _, d := range deliveries {
		assert.Equal(t, db.DeliveryPending, d.State)
		got = append(got, d.EventID[:8]+"→"+d.SubscriptionID)
	}
	assert.ElementsMatch(t, []string{evs[0].ID[:8] + "→whs_all", evs[1].ID[:8] + "→whs_all", evs[1].ID[:8] + "→whs_sla", evs[2].ID[:8] + "→whs_all"}, got)

	rs, err := s.ListRefunds(ctx, "sos:W1")
	require.NoError(t, err)
	require.Len(t, rs, 1)
	assert.Equal(t, db.RefundID(r.Key), rs[0].ID)
	assert.Equal(t, db.RefundOwed, rs[0].State)
	tl, err := s.ListEvents(ctx, "sos:W1")
	require.NoError(t, err)
	assert.Len(t, tl, 2)
}

// TestRecordCaseConcurrentSequence: records of one case racing (two goroutines of its workflow, or a
// retried local activity beside a new one) still number its events without a gap or a repeat.
func TestRecordCaseConcurrentSequence(t *testing.T) {
	ctx := ctxT(t)
	s := dbtest.MustOpen(t)
	c := testCase("sos:W2", t0)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			row := *c
			row.Revision = int64(i)
			key := fmt.Sprintf("sos:W2/%03d/inspected", i)
			errs <- s.RecordCase(ctx, &row, []db.CaseEvent{{Key: key, CaseID: "sos:W2", At: t0, Event: "inspected"}}, nil,
				[]db.OutboxEvent{{Key: key, Type: "case.inspected", CreatedAt: t0, Data: i}})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	evs, err := s.ListWebhookEvents(ctx, "sos:W2")
	require.NoError(t, err)
	require.Len(t, evs, 20)
	for i, e := range evs {
		assert.Equal(t, int64(i+1), e.Sequence)
	}
}

// TestWebhookSubscriptions: add, list without secrets in JSON, rotate, disable (pending deliveries given up).
func TestWebhookSubscriptions(t *testing.T) {
	ctx := ctxT(t)
	s := dbtest.MustOpen(t)
	w := &db.WebhookSubscription{ID: "whs_1", URL: "https://a.example/h", Events: db.EventList{"case.opened", "refund.owed"}, Secret: "old"}
	require.NoError(t, s.AddWebhookSubscription(ctx, w))
	assert.ErrorIs(t, s.AddWebhookSubscription(ctx, w), db.ErrConflict)
	assert.ErrorIs(t, s.AddWebhookSubscription(ctx, &db.WebhookSubscription{ID: "whs_2"}), db.ErrInvalid)
	ws, err := s.ListWebhookSubscriptions(ctx)
	require.NoError(t, err)
	require.Len(t, ws, 1)
	assert.Equal(t, db.EventList{"case.opened", "refund.owed"}, ws[0].Events)
	b, _ := json.Marshal(ws[0])
	assert.NotContains(t, string(b), "old", "a listed subscription never shows its secret")
	require.NoError(t, s.RotateWebhookSecret(ctx, "whs_1", "new"))
	got, err := s.GetWebhookSubscription(ctx, "whs_1")
	require.NoError(t, err)
	assert.Equal(t, "new", got.Secret)
	assert.ErrorIs(t, s.RotateWebhookSecret(ctx, "whs_x", "s"), db.ErrNotFound)

	c := testCase("sos:W3", t0)
	require.NoError(t, s.RecordCase(ctx, c, nil, nil, []db.OutboxEvent{{Key: "k1", Type: "case.opened", CreatedAt: t0, Data: 1}}))
	require.NoError(t, s.DisableWebhookSubscription(ctx, "whs_1", t0.Add(time.Minute)))
	require.NoError(t, s.DisableWebhookSubscription(ctx, "whs_1", t0.Add(2*time.Minute)), "twice is harmless")
	var d db.WebhookDelivery
	require.NoError(t, s.NewSelect().Model(&d).Limit(1).Scan(ctx))
	assert.Equal(t, db.DeliveryFailed, d.State)
	assert.Equal(t, "subscription disabled", d.LastError)
	assert.ErrorIs(t, s.DisableWebhookSubscription(ctx, "whs_x", t0), db.ErrNotFound)
	require.NoError(t, s.RecordCase(ctx, c, nil, nil, []db.OutboxEvent{{Key: "k2", Type: "case.opened", CreatedAt: t0, Data: 2}}))
	n, err := s.NewSelect().Model((*db.WebhookDelivery)(nil)).Count(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 1, n, "a disabled subscription gets no new deliveries")
}
