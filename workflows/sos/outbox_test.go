package sos

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"

	"github.com/steward-oss/steward/activities"
	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/db/dbtest"
	"github.com/steward-oss/steward/sla"
	"github.com/steward-oss/steward/workflows"
)

// TestBreachWritesWebhookEvents runs a case in time-skipping with its records written by the real Record
// activity to a database: the late response breaches, and the outbox holds, in sequence, sla.breached
// then refund.owed with the refund's id and amount, each with one pending delivery to the subscriber; no
// partner-assignment event leaves steward.
func TestBreachWritesWebhookEvents(t *testing.T) {
	paid := time.Date(2026, 3, 2, 10, 0, 0, 0, sla.China) // a Monday: the response is due at 10:20
	store := dbtest.MustOpen(t)
	ctx := context.Background()
	require.NoError(t, store.AddWebhookSubscription(ctx, &db.WebhookSubscription{ID: "whs_m", URL: "https://market.example/hook",
		Events: db.EventList{db.AllEvents}, Secret: "s"}))
	require.NoError(t, store.UpsertCase(ctx, &db.Case{CaseID: "sos:O-1", WorkflowID: "sos:O-1", Service: "sos", CustomerID: "C-1", OrderID: "O-1",
		Status: db.CaseOpen, OpenedAt: paid}))
	real := &activities.Activities{Store: store}
	h := newHarness(t, paid, "p1")
	var a *activities.Activities
	h.Env.OnActivity(a.Record, mock.Anything, mock.Anything).Return(func(ctx context.Context, in activities.RecordInput) error {
		if err := real.Record(ctx, in); err != nil {
			return err
		}
		return h.Record(ctx, in)
	})
	h.Partner(time.Minute, "p1", workflows.StepAccept, struct{}{})
	h.Partner(40*time.Minute, "p1", workflows.StepContact, ContactInput{})
	h.runUntil(sla.SpecHandling, paid, 500000, time.Hour)

	evs, err := store.ListWebhookEvents(ctx, "sos:O-1")
	require.NoError(t, err)
	var types []string
	for i, e := range evs {
		assert.Equal(t, int64(i+1), e.Sequence)
		types = append(types, e.Type)
	}
	assert.Equal(t, []string{"case.opened", "partner.accepted", "sla.at_risk", "sla.at_risk", "sla.breached", "refund.owed", "customer.contacted"}, types,
		"offers never leave steward; the breach comes before the refund it owes")
	var owed struct {
		Data activities.RefundData `json:"data"`
	}
	require.NoError(t, json.Unmarshal(evs[5].Payload, &owed))
	assert.Equal(t, activities.RefundData{RefundID: db.RefundID("sos:O-1/refund/response"), Clause: sla.ClauseResponse, Percent: 50,
		AmountCents: 250000, Currency: "CNY", Reason: owed.Data.Reason}, owed.Data)
	n, err := store.NewSelect().Model((*db.WebhookDelivery)(nil)).Where("state = ?", db.DeliveryPending).Count(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, len(evs), n, "one pending delivery per event")
	rs, err := store.ListRefunds(ctx, "sos:O-1")
	require.NoError(t, err)
	require.Len(t, rs, 1)
	assert.Equal(t, db.RefundOwed, rs[0].State)

	// The reports' rows: the response clock counts against p1, who held the case when it breached; the
	// offer line names p1 too.
	clocks, err := store.ListSLAClocks(ctx, "sos:O-1")
	require.NoError(t, err)
	require.Len(t, clocks, 1)
	assert.Equal(t, sla.ClauseResponse, clocks[0].Clause)
	assert.Equal(t, "p1", clocks[0].PartnerID)
	assert.Equal(t, sla.ClockCompleted, clocks[0].State)
	assert.Equal(t, workflows.SLABreached, clocks[0].Status)
	require.NotNil(t, clocks[0].CompletedAt)
	assert.True(t, clocks[0].CompletedAt.Equal(paid.Add(40*time.Minute)))
	tl, err := store.ListEvents(ctx, "sos:O-1")
	require.NoError(t, err)
	for _, e := range tl {
		if e.Event == string(workflows.EventPartnerOffered) || e.Event == string(workflows.EventPartnerAccepted) {
			assert.Equal(t, "p1", e.PartnerID, e.Event)
		}
		if e.Event == string(workflows.EventPartnerAccepted) {
			require.NotNil(t, e.OfferedAt, "an acceptance keeps its offer's instant")
			assert.True(t, e.OfferedAt.Equal(paid), "offered at %v", e.OfferedAt)
		}
	}
}
