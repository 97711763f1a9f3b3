package api

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/worker"
)

// TestCaseInputFromStoredOrder: the worker's reconciler starts a case from its stored order with the same
// input the purchase callback would have started it with.
func TestCaseInputFromStoredOrder(t *testing.T) {
	in := PurchaseInput{OrderID: "ORD-9", CustomerID: "c-9", Service: "butler", Spec: "professional", Quantity: 2, AmountCents: 1234500,
		Currency: "CNY", PaidAt: time.Date(2026, 5, 6, 10, 0, 0, 0, time.FixedZone("CST", 8*3600)), Contact: Contact{Name: "Li", Phone: "1"}}
	want := in.caseInput()
	want.AcceptTimeout = 7 * time.Minute
	stored := &db.Order{OrderID: in.OrderID, CustomerID: in.CustomerID, Service: in.Service, Spec: in.Spec, Quantity: in.Quantity,
		AmountCents: in.AmountCents, Currency: in.Currency, PaidAt: want.PaidAt}
	assert.Equal(t, want, worker.CaseInputFromOrder(stored, 7*time.Minute))
}
