package db_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/db/dbtest"
)

// deliveryFixture is a store with subscriptions subs and, for a case, n events each delivered to every
// subscription; it returns the delivery ids per subscription, in event order.
func deliveryFixture(t *testing.T, s *db.Store, caseID string, n int, subs ...string) map[string][]string {
	t.Helper()
	ctx := ctxT(t)
	for _, id := range subs {
		if _, err := s.GetWebhookSubscription(ctx, id); err == nil {
			continue
		}
		require.NoError(t, s.AddWebhookSubscription(ctx, &db.WebhookSubscription{ID: id, URL: "https://example.com/hook", Events: db.EventList{"*"},
			Secret: "secret-" + id, CreatedAt: t0}))
	}
	c := &db.Case{CaseID: caseID, WorkflowID: "wf-" + caseID, Service: "sos", OrderID: "o-" + caseID, CustomerID: "c-1", OpenedAt: t0, UpdatedAt: t0}
	out := make([]db.OutboxEvent, n)
	for i := range out {
		out[i] = db.OutboxEvent{Key: fmt.Sprintf("%s/e%d", caseID, i), Type: "case.opened", CreatedAt: t0.Add(time.Duration(i) * time.Second), Data: map[string]int{"i": i}}
	}
	require.NoError(t, s.RecordCase(ctx, c, nil, nil, out))
	ids := map[string][]string{}
	for _, o := range out {
		for _, sub := range subs {
			ids[sub] = append(ids[sub], db.WebhookDeliveryID(db.WebhookEventID(o.Key), sub))
		}
	}
	return ids
}

func TestClaimDeliveries(t *testing.T) {
	s := dbtest.MustOpen(t)
	ctx := ctxT(t)
	ids := deliveryFixture(t, s, "sos:1", 3, "whs_a")

	// Not due before the events' time.
	got, err := s.ClaimDeliveries(ctx, t0.Add(-time.Second), time.Minute, 10)
	require.NoError(t, err)
	assert.Empty(t, got)

	// At t0+1s the first two are due, the longest due first, with their event and subscription.
	now := t0.Add(time.Second)
	got, err = s.ClaimDeliveries(ctx, now, time.Minute, 10)
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, ids["whs_a"][0], got[0].Delivery.ID)
	assert.Equal(t, ids["whs_a"][1], got[1].Delivery.ID)
	assert.Equal(t, 1, got[0].Delivery.Attempts)
	assert.Equal(t, now.Add(time.Minute), got[0].Delivery.NextAttemptAt)
	assert.Equal(t, got[0].Delivery.EventID, got[0].Event.ID)
	assert.JSONEq(t, `{"i":0}`, string(mustData(t, got[0].Event.Payload)))
	assert.Equal(t, "secret-whs_a", got[0].Subscription.Secret)
	stored, err := s.GetDelivery(ctx, ids["whs_a"][0])
	require.NoError(t, err)
	assert.Equal(t, now.Add(time.Minute), stored.NextAttemptAt)
	assert.Equal(t, 1, stored.Attempts)

	// Leased: a second claim within the lease gets only the third.
	got, err = s.ClaimDeliveries(ctx, t0.Add(30*time.Second), time.Minute, 10)
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, ids["whs_a"][2], got[0].Delivery.ID)

	// When the lease runs out (the attempt's process died) they are claimed again, counted.
	got, err = s.ClaimDeliveries(ctx, t0.Add(2*time.Minute), time.Minute, 1)
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Contains(t, ids["whs_a"][:2], got[0].Delivery.ID) // the two whose lease ran out first
	assert.Equal(t, 2, got[0].Delivery.Attempts)

	// A disabled subscription's deliveries are given up and never claimed.
	require.NoError(t, s.DisableWebhookSubscription(ctx, "whs_a", t0.Add(3*time.Minute)))
	got, err = s.ClaimDeliveries(ctx, t0.Add(time.Hour), time.Minute, 10)
	require.NoError(t, err)
	assert.Empty(t, got)
}

func mustData(t *testing.T, payload []byte) []byte {
	t.Helper()
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	require.NoError(t, json.Unmarshal(payload, &env))
	return env.Data
}

func TestClaimDeliveriesPerSubscription(t *testing.T) {
	s := dbtest.MustOpen(t)
	ctx := ctxT(t)
	deliveryFixture(t, s, "sos:1", 5, "whs_a", "whs_b")
	now := t0.Add(time.Minute)

	// whs_a has 1 attempt running of a bound of 2: one more of it, two of whs_b.
	got, err := s.ClaimDeliveriesFor(ctx, now, time.Minute, 10, 2, map[string]int{"whs_a": 1})
	require.NoError(t, err)
	per := map[string]int{}
	for _, d := range got {
		per[d.Delivery.SubscriptionID]++
	}
	assert.Equal(t, map[string]int{"whs_a": 1, "whs_b": 2}, per)

	// A subscription at its bound gets none; the limit holds over all.
	got, err = s.ClaimDeliveriesFor(ctx, now, time.Minute, 1, 2, map[string]int{"whs_a": 2})
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, "whs_b", got[0].Delivery.SubscriptionID)
}

// TestClaimDeliveriesConcurrent: claims racing from two connection pools (as two worker processes would)
// never hand out one delivery twice within its lease.
func TestClaimDeliveriesConcurrent(t *testing.T) {
	s1, s2 := twoStores(t)
	ctx := ctxT(t)
	const n = 60
	ids := deliveryFixture(t, s1, "sos:1", n, "whs_a")
	now := t0.Add(time.Hour)

	var mu sync.Mutex
	claimed := map[string]int{}
	var wg sync.WaitGroup
	for i := range 6 {
		s := s1
		if i%2 == 1 {
			s = s2
		}
		wg.Go(func() {
			for {
				got, err := s.ClaimDeliveries(ctx, now, time.Hour, 4)
				if !assert.NoError(t, err) || len(got) == 0 {
					return
				}
				mu.Lock()
				for _, d := range got {
					claimed[d.Delivery.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Len(t, claimed, n)
	for _, id := range ids["whs_a"] {
		assert.Equal(t, 1, claimed[id], id)
	}
}

// twoStores opens the same database twice, through two connection pools.
func twoStores(t *testing.T) (*db.Store, *db.Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "steward.db")
	if base := os.Getenv(dbtest.EnvURL); base != "" {
		dsn, _ = dbtest.SchemaURL(ctx, t, base, "test_")
	}
	open := func() *db.Store {
		s, err := db.Open(ctx, dsn)
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	s1 := open()
	require.NoError(t, s1.Migrate(ctx))
	return s1, open()
}

func TestDeliveryOutcomes(t *testing.T) {
	s := dbtest.MustOpen(t)
	ctx := ctxT(t)
	ids := deliveryFixture(t, s, "sos:1", 3, "whs_a")
	a, b, c := ids["whs_a"][0], ids["whs_a"][1], ids["whs_a"][2]
	_, err := s.ClaimDeliveries(ctx, t0.Add(time.Minute), time.Minute, 10)
	require.NoError(t, err)

	// Retry: the status, the error and the next attempt are kept; the delivery stays pending.
	next := t0.Add(5 * time.Minute)
	require.NoError(t, s.RetryDelivery(ctx, a, 503, "HTTP 503", next))
	d, err := s.GetDelivery(ctx, a)
	require.NoError(t, err)
	assert.Equal(t, db.DeliveryPending, d.State)
	assert.Equal(t, 503, d.LastStatus)
	assert.Equal(t, "HTTP 503", d.LastError)
	assert.Equal(t, next, d.NextAttemptAt)
	assert.Equal(t, 1, d.Attempts)

	// Complete: delivered, the error cleared; completing again keeps the first time.
	at := t0.Add(6 * time.Minute)
	require.NoError(t, s.CompleteDelivery(ctx, a, 200, at))
	require.NoError(t, s.CompleteDelivery(ctx, a, 204, at.Add(time.Hour)))
	d, err = s.GetDelivery(ctx, a)
	require.NoError(t, err)
	assert.Equal(t, db.DeliveryDelivered, d.State)
	require.NotNil(t, d.DeliveredAt)
	assert.Equal(t, at, *d.DeliveredAt)
	assert.Equal(t, 200, d.LastStatus)
	assert.Empty(t, d.LastError)
	// A late retry of a delivered delivery changes nothing.
	require.NoError(t, s.RetryDelivery(ctx, a, 500, "HTTP 500", next))
	d, err = s.GetDelivery(ctx, a)
	require.NoError(t, err)
	assert.Equal(t, db.DeliveryDelivered, d.State)
	assert.Equal(t, 200, d.LastStatus)

	// Fail: given up once (first), alerted; a second give-up is not first; a delivered one is not failed.
	first, err := s.FailDelivery(ctx, b, 0, "timeout after 10s", at)
	require.NoError(t, err)
	assert.True(t, first)
	first, err = s.FailDelivery(ctx, b, 0, "again", at.Add(time.Hour))
	require.NoError(t, err)
	assert.False(t, first)
	d, err = s.GetDelivery(ctx, b)
	require.NoError(t, err)
	assert.Equal(t, db.DeliveryFailed, d.State)
	assert.Equal(t, "timeout after 10s", d.LastError)
	require.NotNil(t, d.FailedAt)
	require.NotNil(t, d.AlertedAt)
	assert.Equal(t, at, *d.FailedAt)
	first, err = s.FailDelivery(ctx, a, 500, "late", at)
	require.NoError(t, err)
	assert.False(t, first)

	// Unknown ids.
	require.ErrorIs(t, s.CompleteDelivery(ctx, "whd_nope", 200, at), db.ErrNotFound)
	require.ErrorIs(t, s.RetryDelivery(ctx, "whd_nope", 500, "x", at), db.ErrNotFound)
	_, err = s.FailDelivery(ctx, "whd_nope", 500, "x", at)
	require.ErrorIs(t, err, db.ErrNotFound)
	_, err = s.GetDelivery(ctx, "whd_nope")
	require.ErrorIs(t, err, db.ErrNotFound)

	// Redeliver: a failed delivery is pending again, due now, no attempts, same event; claimable at once.
	now := t0.Add(100 * time.Hour)
	rd, err := s.RedeliverDelivery(ctx, b, now)
	require.NoError(t, err)
	assert.Equal(t, db.DeliveryPending, rd.State)
	assert.Equal(t, 0, rd.Attempts)
	assert.Equal(t, now, rd.NextAttemptAt)
	assert.Equal(t, now, rd.CreatedAt)
	assert.Nil(t, rd.FailedAt)
	assert.Nil(t, rd.AlertedAt)
	assert.Empty(t, rd.LastError)
	got, err := s.ClaimDeliveries(ctx, now, time.Minute, 10)
	require.NoError(t, err)
	require.Len(t, got, 2) // b, and c whose lease ran out
	var gotB db.DueDelivery
	for _, g := range got {
		if g.Delivery.ID == b {
			gotB = g
		}
	}
	assert.Equal(t, d.EventID, gotB.Event.ID)
	// A delivered one can be redelivered too; a failure after a redelivery is first again.
	rd, err = s.RedeliverDelivery(ctx, a, now)
	require.NoError(t, err)
	assert.Equal(t, db.DeliveryPending, rd.State)
	assert.Nil(t, rd.DeliveredAt)
	first, err = s.FailDelivery(ctx, b, 500, "HTTP 500", now)
	require.NoError(t, err)
	assert.True(t, first)
	_, err = s.RedeliverDelivery(ctx, "whd_nope", now)
	require.ErrorIs(t, err, db.ErrNotFound)

	// A disabled subscription's delivery cannot be redelivered.
	require.NoError(t, s.DisableWebhookSubscription(ctx, "whs_a", now))
	_, err = s.RedeliverDelivery(ctx, c, now)
	require.ErrorIs(t, err, db.ErrConflict)
}

func TestListDeliveries(t *testing.T) {
	s := dbtest.MustOpen(t)
	ctx := ctxT(t)
	ids1 := deliveryFixture(t, s, "sos:1", 2, "whs_a", "whs_b")
	ids2 := deliveryFixture(t, s, "sos:2", 1, "whs_a", "whs_b")
	_, err := s.FailDelivery(ctx, ids1["whs_b"][1], 500, "HTTP 500", t0)
	require.NoError(t, err)

	all, err := s.ListDeliveries(ctx, db.DeliveryFilter{})
	require.NoError(t, err)
	assert.Len(t, all, 6)

	bySub, err := s.ListDeliveries(ctx, db.DeliveryFilter{SubscriptionID: "whs_a"})
	require.NoError(t, err)
	assert.ElementsMatch(t, append(append([]string{}, ids1["whs_a"]...), ids2["whs_a"]...), deliveryIDs(bySub))

	failed, err := s.ListDeliveries(ctx, db.DeliveryFilter{State: db.DeliveryFailed})
	require.NoError(t, err)
	assert.Equal(t, []string{ids1["whs_b"][1]}, deliveryIDs(failed))

	byCase, err := s.ListDeliveries(ctx, db.DeliveryFilter{CaseID: "sos:2"})
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{ids2["whs_a"][0], ids2["whs_b"][0]}, deliveryIDs(byCase))

	both, err := s.ListDeliveries(ctx, db.DeliveryFilter{CaseID: "sos:1", SubscriptionID: "whs_b", State: db.DeliveryPending})
	require.NoError(t, err)
	assert.Equal(t, []string{ids1["whs_b"][0]}, deliveryIDs(both))

	limited, err := s.ListDeliveries(ctx, db.DeliveryFilter{Limit: 2})
	require.NoError(t, err)
	// The most recent first: case 1's second event (t0+1s), to each subscription.
	assert.ElementsMatch(t, []string{ids1["whs_a"][1], ids1["whs_b"][1]}, deliveryIDs(limited))
}

func deliveryIDs(ds []db.WebhookDelivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return out
}
