package db_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/db/dbtest"
)

// refundCase stores an order of amount cents in currency and its case (service, partner), and returns the
// case id.
func refundCase(t *testing.T, s *db.Store, order, service, partner, currency string, amount int64, opened time.Time) string {
	t.Helper()
	ctx := ctxT(t)
	caseID := service + ":" + order
	_, _, err := s.PutOrderAndCase(ctx, &db.Order{OrderID: order, CustomerID: "cust-" + order, Service: service, Quantity: 1, AmountCents: amount,
		Currency: currency, PaidAt: opened, BodyHash: "h-" + order, CaseID: caseID, WorkflowID: caseID, CreatedAt: opened},
		&db.Case{CaseID: caseID, WorkflowID: caseID, Service: service, Stage: "assignment", PartnerID: partner, CustomerID: "cust-" + order,
			OrderID: order, AmountCents: amount, SLAStatus: "breached", OpenedAt: opened, UpdatedAt: opened})
	require.NoError(t, err)
	return caseID
}

func addRefund(t *testing.T, s *db.Store, caseID, clause string, amount int64, at time.Time) string {
	t.Helper()
	r := db.Refund{Key: caseID + "/refund/" + clause, CaseID: caseID, Clause: clause, Percent: 50, AmountCents: amount, Reason: clause + " breached", CreatedAt: at}
	created, err := s.RecordRefund(ctxT(t), &r)
	require.NoError(t, err)
	require.True(t, created)
	return db.RefundID(r.Key)
}

func subscribeAll(t *testing.T, s *db.Store) {
	t.Helper()
	require.NoError(t, s.AddWebhookSubscription(ctxT(t), &db.WebhookSubscription{ID: "whs_all", URL: "https://hooks.example/x", Events: db.EventList{db.AllEvents}, Secret: "s"}))
}

// eventsOf returns the types of a case's outbox events, in sequence, checking the sequence is gap-free.
func eventsOf(t *testing.T, s *db.Store, caseID string) []db.WebhookEvent {
	t.Helper()
	es, err := s.ListWebhookEvents(ctxT(t), caseID)
	require.NoError(t, err)
	for i, e := range es {
		require.Equal(t, int64(i+1), e.Sequence, "sequence of %s", e.Type)
	}
	return es
}

// TestRefundPaidStateMachine: owed → instructed → paid once; the same reference again changes nothing, another
// reference or waiving a paid refund is a conflict; the transition writes one refund.paid event with a
// delivery per subscription.
func TestRefundPaidStateMachine(t *testing.T) {
	s := dbtest.MustOpen(t)
	ctx := ctxT(t)
	subscribeAll(t, s)
	caseID := refundCase(t, s, "R1", "sos", "p1", "CNY", 100_00, t0)
	id := addRefund(t, s, caseID, "response", 50_00, t0.Add(time.Hour))

	r, err := s.GetRefund(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, db.RefundOwed, r.State)
	assert.Equal(t, caseID, r.CaseID)
	assert.Equal(t, "sos", r.Service)
	assert.Equal(t, "p1", r.PartnerID)
	assert.Equal(t, "R1", r.OrderID)
	assert.Equal(t, "cust-R1", r.CustomerID)
	assert.Equal(t, "CNY", r.Currency)
	assert.Equal(t, int64(100_00), r.OrderAmountCents)
	assert.Equal(t, t0.Add(time.Hour), r.CreatedAt)

	_, err = s.GetRefund(ctx, "ref_nope")
	assert.ErrorIs(t, err, db.ErrNotFound)
	assert.ErrorIs(t, s.MarkRefundInstructed(ctx, "ref_nope", t0), db.ErrNotFound)

	at := t0.Add(2 * time.Hour)
	require.NoError(t, s.MarkRefundInstructed(ctx, id, at))
	require.NoError(t, s.MarkRefundInstructed(ctx, id, at.Add(time.Hour)), "again: no-op")
	r, err = s.GetRefund(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, db.RefundInstructed, r.State)
	require.NotNil(t, r.InstructedAt)
	assert.Equal(t, at, *r.InstructedAt, "the first instruction stands")

	paidAt := t0.Add(24 * time.Hour)
	got, changed, err := s.MarkRefundPaid(ctx, id, paidAt, "WX-1")
	require.NoError(t, err)
	assert.True(t, changed)
	assert.Equal(t, db.RefundPaid, got.State)
	assert.Equal(t, "WX-1", got.Reference)
	require.NotNil(t, got.PaidAt)
	assert.Equal(t, paidAt, *got.PaidAt)

	got, changed, err = s.MarkRefundPaid(ctx, id, paidAt.Add(time.Minute), "WX-1")
	require.NoError(t, err, "a repeat is harmless")
	assert.False(t, changed)
	assert.Equal(t, paidAt, *got.PaidAt, "the first report stands")

	_, _, err = s.MarkRefundPaid(ctx, id, paidAt, "WX-2")
	assert.ErrorIs(t, err, db.ErrConflict)
	assert.Contains(t, err.Error(), `"WX-1"`)
	_, _, err = s.WaiveRefund(ctx, id, "mgr", "goodwill", paidAt)
	assert.ErrorIs(t, err, db.ErrConflict)
	require.NoError(t, s.MarkRefundInstructed(ctx, id, paidAt), "a late delivery report leaves a paid refund paid")

	r, err = s.GetRefund(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, db.RefundPaid, r.State)
	assert.Equal(t, "WX-1", r.Reference)

	es := eventsOf(t, s, caseID)
	require.Len(t, es, 1, "one refund.paid, however often it is reported")
	assert.Equal(t, db.EventRefundPaid, es[0].Type)
	var env struct {
		ID     string            `json:"id"`
		Type   string            `json:"type"`
		CaseID string            `json:"case_id"`
		Data   db.RefundPaidData `json:"data"`
	}
	require.NoError(t, json.Unmarshal(es[0].Payload, &env))
	assert.Equal(t, es[0].ID, env.ID)
	assert.Equal(t, caseID, env.CaseID)
	assert.Equal(t, db.RefundPaidData{RefundID: id, Clause: "response", Percent: 50, AmountCents: 50_00, Currency: "CNY", PaidAt: paidAt, Reference: "WX-1"}, env.Data)
	n, err := s.NewSelect().Model((*db.WebhookDelivery)(nil)).Where("event_id = ?", es[0].ID).Count(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 1, n, "one pending delivery for the one subscription")
}

// TestWaiveRefund: owed → waived with who and why, once; a waived refund is never paid.
func TestWaiveRefund(t *testing.T) {
	s := dbtest.MustOpen(t)
	ctx := ctxT(t)
	caseID := refundCase(t, s, "W1", "sos", "p1", "CNY", 100_00, t0)
	id := addRefund(t, s, caseID, "handling", 50_00, t0)

	at := t0.Add(time.Hour)
	got, changed, err := s.WaiveRefund(ctx, id, "mgr", "customer declined the refund", at)
	require.NoError(t, err)
	assert.True(t, changed)
	assert.Equal(t, db.RefundWaived, got.State)
	assert.Equal(t, "mgr", got.WaivedBy)
	assert.Equal(t, "customer declined the refund", got.WaivedReason)
	require.NotNil(t, got.WaivedAt)
	assert.Equal(t, at, *got.WaivedAt)

	got, changed, err = s.WaiveRefund(ctx, id, "other", "again", at.Add(time.Hour))
	require.NoError(t, err)
	assert.False(t, changed)
	assert.Equal(t, "customer declined the refund", got.WaivedReason, "the first waiver stands")

	_, _, err = s.MarkRefundPaid(ctx, id, at, "WX-9")
	assert.ErrorIs(t, err, db.ErrConflict)
	require.NoError(t, s.MarkRefundInstructed(ctx, id, at))
	r, err := s.GetRefund(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, db.RefundWaived, r.State)
	assert.Nil(t, r.InstructedAt)

	es := eventsOf(t, s, caseID)
	require.Len(t, es, 1)
	assert.Equal(t, db.EventRefundWaived, es[0].Type)
	assert.Equal(t, at, es[0].CreatedAt)
	assert.NotContains(t, string(es[0].Payload), "mgr", "who waived it stays inside")

	_, _, err = s.WaiveRefund(ctx, "ref_nope", "mgr", "x", at)
	assert.ErrorIs(t, err, db.ErrNotFound)
	_, _, err = s.MarkRefundPaid(ctx, "ref_nope", at, "x")
	assert.ErrorIs(t, err, db.ErrNotFound)
	_, _, err = s.WaiveRefund(ctx, id, "mgr", "", at)
	assert.ErrorIs(t, err, db.ErrInvalid)
	_, _, err = s.MarkRefundPaid(ctx, id, at, "")
	assert.ErrorIs(t, err, db.ErrInvalid)
}

// TestRefundPaidNeverExceedsOrder: refunds recorded past the order amount (which the workflow never does) are
// paid only up to it.
func TestRefundPaidNeverExceedsOrder(t *testing.T) {
	s := dbtest.MustOpen(t)
	ctx := ctxT(t)
	caseID := refundCase(t, s, "X1", "sos", "p1", "CNY", 1000, t0)
	a := addRefund(t, s, caseID, "response", 600, t0)
	b := addRefund(t, s, caseID, "handling", 600, t0.Add(time.Second))
	_, changed, err := s.MarkRefundPaid(ctx, a, t0, "A")
	require.NoError(t, err)
	require.True(t, changed)
	_, _, err = s.MarkRefundPaid(ctx, b, t0, "B")
	assert.ErrorIs(t, err, db.ErrConflict)
	assert.Contains(t, err.Error(), "more than its order")
	r, err := s.GetRefund(ctx, b)
	require.NoError(t, err)
	assert.Equal(t, db.RefundOwed, r.State)
	assert.Len(t, eventsOf(t, s, caseID), 1, "the refused payment wrote no event")
}

// TestRefundPaidConcurrent: many reports of one refund at once, each with its own reference: exactly one
// pays it, the others are conflicts, and one event is written.
func TestRefundPaidConcurrent(t *testing.T) {
	s := dbtest.MustOpen(t)
	ctx := ctxT(t)
	subscribeAll(t, s)
	caseID := refundCase(t, s, "C1", "sos", "p1", "CNY", 100_00, t0)
	id := addRefund(t, s, caseID, "response", 50_00, t0)
	other := addRefund(t, s, caseID, "handling", 50_00, t0.Add(time.Second))

	const n = 8
	var wg sync.WaitGroup
	changed := make([]bool, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			target := id
			if i%2 == 1 {
				target = other // the two refunds of one case race for its next event sequence too
			}
			_, changed[i], errs[i] = s.MarkRefundPaid(ctx, target, t0, fmt.Sprintf("ref-%d", i))
		}()
	}
	wg.Wait()
	paid := map[int]int{}
	for i := range n {
		if errs[i] != nil {
			require.True(t, errors.Is(errs[i], db.ErrConflict), "report %d: %v", i, errs[i])
			continue
		}
		if changed[i] {
			paid[i%2]++
		}
	}
	assert.Equal(t, map[int]int{0: 1, 1: 1}, paid, "each refund paid exactly once")
	assert.Len(t, eventsOf(t, s, caseID), 2)
}

func TestListRefundsFor(t *testing.T) {
	s := dbtest.MustOpen(t)
	ctx := ctxT(t)
	a := refundCase(t, s, "L1", "sos", "p1", "CNY", 100_00, t0)
	b := refundCase(t, s, "L2", "sos", "p2", "USD", 200_00, t0)
	c := refundCase(t, s, "L3", "dengbao", "p1", "CNY", 300_00, t0)
	ra := addRefund(t, s, a, "response", 50_00, t0.Add(1*time.Hour))
	rb := addRefund(t, s, b, "response", 100_00, t0.Add(2*time.Hour))
	rc := addRefund(t, s, c, "cancellation", 300_00, t0.Add(3*time.Hour))
	_, _, err := s.MarkRefundPaid(ctx, rb, t0.Add(4*time.Hour), "P")
	require.NoError(t, err)
	_, _, err = s.WaiveRefund(ctx, rc, "mgr", "r", t0.Add(4*time.Hour))
	require.NoError(t, err)

	tests := []struct {
		name string
		f    db.RefundFilter
		want []string
	}{
		{"all", db.RefundFilter{}, []string{ra, rb, rc}},
		{"owed", db.RefundFilter{State: db.RefundOwed}, []string{ra}},
		{"paid", db.RefundFilter{State: db.RefundPaid}, []string{rb}},
		{"from inclusive", db.RefundFilter{From: t0.Add(2 * time.Hour)}, []string{rb, rc}},
		{"to exclusive", db.RefundFilter{To: t0.Add(2 * time.Hour)}, []string{ra}},
		{"window", db.RefundFilter{From: t0.Add(90 * time.Minute), To: t0.Add(150 * time.Minute)}, []string{rb}},
		{"from in another zone", db.RefundFilter{From: t0.Add(2 * time.Hour).In(time.FixedZone("CST", 8*3600))}, []string{rb, rc}},
		{"service", db.RefundFilter{Service: "dengbao"}, []string{rc}},
		{"partner", db.RefundFilter{PartnerID: "p1"}, []string{ra, rc}},
		{"partner and state", db.RefundFilter{PartnerID: "p1", State: db.RefundWaived}, []string{rc}},
		{"nothing", db.RefundFilter{PartnerID: "p9"}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := s.ListRefundsFor(ctx, tt.f)
			require.NoError(t, err)
			got := []string{}
			for _, r := range rows {
				got = append(got, r.ID)
			}
			assert.Equal(t, tt.want, got)
		})
	}
	rows, err := s.ListRefundsFor(ctx, db.RefundFilter{Service: "sos"})
	require.NoError(t, err)
	require.Len(t, rows, 2)
	assert.Equal(t, "USD", rows[1].Currency)
	assert.Equal(t, "p2", rows[1].PartnerID)
	assert.Equal(t, "L2", rows[1].OrderID)
	assert.Equal(t, "P", rows[1].Reference)
}

func TestListCustomerCases(t *testing.T) {
	s := dbtest.MustOpen(t)
	ctx := ctxT(t)
	for i, id := range []string{"sos:A", "sos:B", "dengbao:C", "sos:D"} {
		cust := "c1"
		if id == "sos:D" {
			cust = "c2"
		}
		require.NoError(t, s.UpsertCase(ctx, &db.Case{CaseID: id, WorkflowID: id, Service: "sos", CustomerID: cust, OpenedAt: t0.Add(time.Duration(i) * time.Hour)}))
	}
	ids := func(cs []db.Case) []string {
		out := []string{}
		for _, c := range cs {
			out = append(out, c.CaseID)
		}
		return out
	}
	cs, err := s.ListCustomerCases(ctx, "c1", 0, 0)
	require.NoError(t, err)
	assert.Equal(t, []string{"dengbao:C", "sos:B", "sos:A"}, ids(cs), "newest first")
	cs, err = s.ListCustomerCases(ctx, "c1", 1, 1)
	require.NoError(t, err)
	assert.Equal(t, []string{"sos:B"}, ids(cs))
	cs, err = s.ListCustomerCases(ctx, "c3", 0, 0)
	require.NoError(t, err)
	assert.Empty(t, cs)
	_, err = s.ListCustomerCases(ctx, "", 0, 0)
	assert.ErrorIs(t, err, db.ErrInvalid)
}
