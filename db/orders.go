package db

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/uptrace/bun"
)

// Contact is the customer's contact person for an order. It is personal data: it is stored as
// JSON in the orders table only, and never logged (LogValue redacts it).
type Contact struct {
	Name  string `json:"name"`
	Phone string `json:"phone"`
	Email string `json:"email"`
}

// LogValue keeps contact details out of logs even when a Contact is passed to slog by mistake.
func (Contact) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// Order is a paid purchase as the marketplace reported it. BodyHash is the hash of the callback
// body: a repeated callback has the same hash, a different body under the same OrderID is a conflict.
type Order struct {
	bun.BaseModel `bun:"table:orders"`

	OrderID     string    `bun:"order_id,pk" json:"order_id"`
	CustomerID  string    `bun:"customer_id" json:"customer_id"`
	Service     string    `bun:"service" json:"service"`
	Spec        string    `bun:"spec" json:"spec"`
	Quantity    int       `bun:"quantity" json:"quantity"`
	AmountCents int64     `bun:"amount_cents" json:"amount_cents"`
	Currency    string    `bun:"currency" json:"currency"`
	PaidAt      time.Time `bun:"paid_at" json:"paid_at"`
	Contact     Contact   `bun:"contact,type:jsonb" json:"contact"`
	BodyHash    string    `bun:"body_hash" json:"body_hash"`
	CaseID      string    `bun:"case_id" json:"case_id"`
	WorkflowID  string    `bun:"workflow_id" json:"workflow_id"`
	CreatedAt   time.Time `bun:"created_at" json:"created_at"`
}

// LogValue logs an order without its contact details.
func (o *Order) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("order_id", o.OrderID),
		slog.String("customer_id", o.CustomerID),
		slog.String("service", o.Service),
		slog.String("case_id", o.CaseID),
	)
}

var _ bun.AfterScanRowHook = (*Order)(nil)

// AfterScanRow returns times in UTC whatever the driver's session zone.
func (o *Order) AfterScanRow(context.Context) error {
	o.PaidAt = o.PaidAt.UTC()
	o.CreatedAt = o.CreatedAt.UTC()
	return nil
}

// PutOrder stores o unless an order with the same OrderID exists. A repeated purchase callback
// (same BodyHash) returns the stored order and created=false; a different BodyHash is ErrConflict
// (returned with the stored order).
// It is race-safe: concurrent callers of one order see exactly one created=true.
func (s *Store) PutOrder(ctx context.Context, o *Order) (*Order, bool, error) {
	return putOrder(ctx, s.DB, o)
}

// PutOrderAndCase stores o as PutOrder does and, in the same transaction, c as InsertCaseIfAbsent
// does: a purchase's order and its case row in one commit. When the order conflicts (ErrConflict,
// returned with the stored order) neither is written.
func (s *Store) PutOrderAndCase(ctx context.Context, o *Order, c *Case) (*Order, bool, error) {
	var (
		stored        *Order
		created       bool
		orderConflict bool
	)
	err := s.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var err error
		if stored, created, err = putOrder(ctx, tx, o); err != nil {
			orderConflict = errors.Is(err, ErrConflict)
			return err
		}
		return insertCaseIfAbsent(ctx, tx, c)
	})
	switch {
	case err != nil && orderConflict:
		return stored, false, err
	case err != nil:
		return nil, false, err
	}
	return stored, created, nil
}

func putOrder(ctx context.Context, idb bun.IDB, o *Order) (*Order, bool, error) {
	if o.OrderID == "" {
		return nil, false, fmt.Errorf("put order: empty order id: %w", ErrInvalid)
	}
	row := *o
	row.PaidAt = row.PaidAt.UTC()
	row.CreatedAt = utcOrNow(row.CreatedAt)
	res, err := idb.NewInsert().Model(&row).On("CONFLICT (order_id) DO NOTHING").Exec(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("put order %s: %w", o.OrderID, err)
	}
	n, err := rowsAffected(res)
	if err != nil {
		return nil, false, fmt.Errorf("put order %s: %w", o.OrderID, err)
	}
	if n == 1 {
		return &row, true, nil
	}
	stored, err := getOrder(ctx, idb, o.OrderID)
	if err != nil {
		return nil, false, fmt.Errorf("put order: %w", err)
	}
	if stored.BodyHash != o.BodyHash {
		return stored, false, fmt.Errorf("put order %s: different body: %w", o.OrderID, ErrConflict)
	}
	return stored, false, nil
}

// GetOrder returns the order, or ErrNotFound.
func (s *Store) GetOrder(ctx context.Context, orderID string) (*Order, error) {
	return getOrder(ctx, s.DB, orderID)
}

func getOrder(ctx context.Context, idb bun.IDB, orderID string) (*Order, error) {
	o := new(Order)
	if err := idb.NewSelect().Model(o).Where("order_id = ?", orderID).Scan(ctx); err != nil {
		return nil, notFound(err, "get order %s", orderID)
	}
	return o, nil
}

// SetOrderCase records which case and workflow an order started. Setting the same ids again is
// a no-op; an order already linked to another case is ErrConflict; an unknown order ErrNotFound.
func (s *Store) SetOrderCase(ctx context.Context, orderID, caseID, workflowID string) error {
	res, err := s.NewUpdate().Model((*Order)(nil)).
		Set("case_id = ?", caseID).
		Set("workflow_id = ?", workflowID).
		Where("order_id = ?", orderID).
		Where("(case_id = '' OR (case_id = ? AND workflow_id = ?))", caseID, workflowID).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("set order case %s: %w", orderID, err)
	}
	n, err := rowsAffected(res)
	if err != nil {
		return fmt.Errorf("set order case %s: %w", orderID, err)
	}
	if n == 1 {
		return nil
	}
	if _, err := s.GetOrder(ctx, orderID); err != nil {
		return fmt.Errorf("set order case: %w", err)
	}
	return fmt.Errorf("set order case %s: linked to another case: %w", orderID, ErrConflict)
}
