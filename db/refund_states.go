package db

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
)

// Refunds that get paid. A refund is recorded owed (RecordCase); the webhook dispatcher marks it
// instructed once the refund.owed event reached the marketplace; the marketplace reports it paid with its
// payment reference, or a manager waives it with a reason. paid and waived are final: a refund is paid at
// most once, and never after it was waived.
//
// What a case's refunds add up to is bounded by its order amount in two places: the workflow records each
// refund as the step of a cumulative refund capped at 100% of the order (sla.Compensate; 等保's only refund
// is its cancellation, which no other refund precedes), and MarkRefundPaid refuses a payment that would
// take the case's paid refunds past the order amount, whatever was recorded.

// Webhook event types of the refund transitions written here (the same words as workflows.WebhookRefundPaid
// and workflows.WebhookRefundWaived; db does not import workflows).
const (
	EventRefundPaid   = "refund.paid"
	EventRefundWaived = "refund.waived"
)

// RefundRow is a refund with what finance reads beside it: its case's service, partner, order and
// customer, and the order's currency and amount.
type RefundRow struct {
	Refund `bun:",extend"`

	Service          string `bun:"service" json:"service"`
	PartnerID        string `bun:"partner_id" json:"partner_id"`
	OrderID          string `bun:"order_id" json:"order_id"`
	CustomerID       string `bun:"customer_id" json:"customer_id"`
	Currency         string `bun:"currency" json:"currency"`
	OrderAmountCents int64  `bun:"order_amount_cents" json:"order_amount_cents"`
}

// RefundFilter selects refunds for ListRefundsFor. Empty fields match everything; From (inclusive) and To
// (exclusive) bound the time the refund was recorded (owed).
type RefundFilter struct {
	State     string
	From, To  time.Time
	Service   string
	PartnerID string
}

// RefundStates lists the states of a refund, in the order it moves through them.
func RefundStates() []string {
	return []string{RefundOwed, RefundInstructed, RefundPaid, RefundWaived}
}

// refundRows is the query of refunds joined with their case and order (a refund is listed even if they
// are missing, which the record step never leaves).
func refundRows(idb bun.IDB, rows any) *bun.SelectQuery {
	return idb.NewSelect().Model(rows).
		ColumnExpr("refund.*").
		ColumnExpr("COALESCE(c.service, '') AS service, COALESCE(c.partner_id, '') AS partner_id").
		ColumnExpr("COALESCE(c.order_id, '') AS order_id, COALESCE(c.customer_id, '') AS customer_id").
		ColumnExpr("COALESCE(o.currency, '') AS currency").
		ColumnExpr("COALESCE(o.amount_cents, c.amount_cents, 0) AS order_amount_cents").
		Join("LEFT JOIN cases AS c ON c.case_id = refund.case_id").
		Join("LEFT JOIN orders AS o ON o.order_id = c.order_id")
}

// GetRefund returns the refund with the public id, or ErrNotFound.
func (s *Store) GetRefund(ctx context.Context, id string) (*RefundRow, error) {
	return getRefund(ctx, s.DB, id, false)
}

// getRefund reads a refund in idb; lock takes its row for update (PostgreSQL; a SQLite write
// transaction holds the database already).
func getRefund(ctx context.Context, idb bun.IDB, id string, lock bool) (*RefundRow, error) {
	r := new(RefundRow)
	q := refundRows(idb, r).Where("refund.id = ?", id)
	if lock && idb.Dialect().Name() == dialect.PG {
		q = q.For("UPDATE OF refund")
	}
	if err := q.Scan(ctx); err != nil {
		return nil, notFound(err, "get refund %s", id)
	}
	return r, nil
}

// ListRefundsFor returns the refunds matching f, oldest first (by the time they were recorded, then id).
func (s *Store) ListRefundsFor(ctx context.Context, f RefundFilter) ([]RefundRow, error) {
	rows := []RefundRow{}
	q := refundRows(s.DB, &rows)
	if f.State != "" {
		q = q.Where("refund.state = ?", f.State)
	}
	if !f.From.IsZero() {
		q = q.Where("refund.created_at >= ?", f.From.UTC())
	}
	if !f.To.IsZero() {
		q = q.Where("refund.created_at < ?", f.To.UTC())
	}
	if f.Service != "" {
		q = q.Where("c.service = ?", f.Service)
	}
	if f.PartnerID != "" {
		q = q.Where("c.partner_id = ?", f.PartnerID)
	}
	if err := q.Order("refund.created_at ASC", "refund.id ASC").Scan(ctx); err != nil {
		return nil, fmt.Errorf("list refunds: %w", err)
	}
	return rows, nil
}

// MarkRefundInstructed moves an owed refund to instructed at at: the refund.owed event announcing it was
// delivered. A refund in any other state is left as it is; an unknown id is ErrNotFound.
func (s *Store) MarkRefundInstructed(ctx context.Context, id string, at time.Time) error {
	res, err := s.NewUpdate().Model((*Refund)(nil)).Set("state = ?", RefundInstructed).Set("instructed_at = ?", utcOrNow(at)).
		Where("id = ?", id).Where("state = ?", RefundOwed).Exec(ctx)
	if err != nil {
		return fmt.Errorf("mark refund %s instructed: %w", id, err)
	}
	if n, err := rowsAffected(res); err != nil || n > 0 {
		return err
	}
	n, err := s.NewSelect().Model((*Refund)(nil)).Where("id = ?", id).Count(ctx)
	if err != nil {
		return fmt.Errorf("mark refund %s instructed: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("mark refund %s instructed: %w", id, ErrNotFound)
	}
	return nil
}

// RefundPaidData is the data of a refund.paid event.
type RefundPaidData struct {
	RefundID    string    `json:"refund_id"`
	Clause      string    `json:"clause"`
	Percent     int       `json:"percent"`
	AmountCents int64     `json:"amount_cents"`
	Currency    string    `json:"currency"`
	PaidAt      time.Time `json:"paid_at"`
	Reference   string    `json:"reference"`
}

// RefundWaivedData is the data of a refund.waived event. Who waived it stays with the provider.
type RefundWaivedData struct {
	RefundID    string `json:"refund_id"`
	Clause      string `json:"clause"`
	Percent     int    `json:"percent"`
	AmountCents int64  `json:"amount_cents"`
	Currency    string `json:"currency"`
	Reason      string `json:"reason"`
}

// MarkRefundPaid records that the marketplace paid the refund at paidAt under its payment reference, and
// writes the refund.paid event in the same transaction. An owed or instructed refund becomes paid
// (changed=true). A refund already paid under the same reference is answered as it is (changed=false, no
// error); under another reference, or a waived refund, is ErrConflict, as is a payment that would take the
// case's paid refunds past its order amount. An unknown id is ErrNotFound.
func (s *Store) MarkRefundPaid(ctx context.Context, id string, paidAt time.Time, reference string) (RefundRow, bool, error) {
	if id == "" || reference == "" || paidAt.IsZero() {
		return RefundRow{}, false, fmt.Errorf("mark refund paid: id, paid_at and reference are required: %w", ErrInvalid)
	}
	paidAt = paidAt.UTC()
	return s.transitionRefund(ctx, id, func(ctx context.Context, tx bun.Tx, r *RefundRow) (bool, error) {
		switch r.State {
		case RefundPaid:
			if r.Reference == reference {
				return false, nil
			}
			return false, fmt.Errorf("refund %s was already paid with reference %q: %w", id, r.Reference, ErrConflict)
		case RefundWaived:
			return false, fmt.Errorf("refund %s was waived (%s); it is not to be paid: %w", id, r.WaivedReason, ErrConflict)
		case RefundOwed, RefundInstructed:
		default:
			return false, fmt.Errorf("refund %s is in an unknown state %q: %w", id, r.State, ErrConflict)
		}
		var paid int64
		if err := tx.NewSelect().Model((*Refund)(nil)).ColumnExpr("COALESCE(SUM(amount_cents), 0)").
			Where("case_id = ?", r.CaseID).Where("state = ?", RefundPaid).Where("id <> ?", id).Scan(ctx, &paid); err != nil {
			return false, fmt.Errorf("refunds paid for case %s: %w", r.CaseID, err)
		}
		if paid+r.AmountCents > r.OrderAmountCents {
			return false, fmt.Errorf("refund %s of %d cents would take case %s's paid refunds to %d cents, more than its order of %d: %w",
				id, r.AmountCents, r.CaseID, paid+r.AmountCents, r.OrderAmountCents, ErrConflict)
		}
		if err := setRefundState(ctx, tx, id, RefundPaid, map[string]any{"paid_at": paidAt, "reference": reference}); err != nil {
			return false, err
		}
		r.State, r.PaidAt, r.Reference = RefundPaid, &paidAt, reference
		return true, s.AppendOutbox(ctx, tx, r.CaseID, OutboxEvent{Key: r.Key + "/" + EventRefundPaid, Type: EventRefundPaid, Data: RefundPaidData{
			RefundID: r.ID, Clause: r.Clause, Percent: r.Percent, AmountCents: r.AmountCents, Currency: r.Currency, PaidAt: paidAt, Reference: reference,
		}})
	})
}

// WaiveRefund records that a manager (by, a token's name) waived the refund at at for reason, and writes
// the refund.waived event in the same transaction. An owed or instructed refund becomes waived
// (changed=true); one already waived is answered as it is (changed=false); a paid one is ErrConflict. An
// unknown id is ErrNotFound.
func (s *Store) WaiveRefund(ctx context.Context, id, by, reason string, at time.Time) (RefundRow, bool, error) {
	if id == "" || reason == "" {
		return RefundRow{}, false, fmt.Errorf("waive refund: id and reason are required: %w", ErrInvalid)
	}
	at = utcOrNow(at)
	return s.transitionRefund(ctx, id, func(ctx context.Context, tx bun.Tx, r *RefundRow) (bool, error) {
		switch r.State {
		case RefundWaived:
			return false, nil
		case RefundPaid:
			return false, fmt.Errorf("refund %s was already paid (reference %q); it cannot be waived: %w", id, r.Reference, ErrConflict)
		case RefundOwed, RefundInstructed:
		default:
			return false, fmt.Errorf("refund %s is in an unknown state %q: %w", id, r.State, ErrConflict)
		}
		if err := setRefundState(ctx, tx, id, RefundWaived, map[string]any{"waived_at": at, "waived_by": by, "waived_reason": reason}); err != nil {
			return false, err
		}
		r.State, r.WaivedAt, r.WaivedBy, r.WaivedReason = RefundWaived, &at, by, reason
		return true, s.AppendOutbox(ctx, tx, r.CaseID, OutboxEvent{Key: r.Key + "/" + EventRefundWaived, Type: EventRefundWaived, CreatedAt: at,
			Data: RefundWaivedData{RefundID: r.ID, Clause: r.Clause, Percent: r.Percent, AmountCents: r.AmountCents, Currency: r.Currency, Reason: reason}})
	})
}

// transitionRefund runs apply on the refund id, read and locked in a transaction, and returns the refund
// as apply left it. A transaction that lost the race for its case's next event sequence (PostgreSQL) is
// run again.
func (s *Store) transitionRefund(ctx context.Context, id string, apply func(context.Context, bun.Tx, *RefundRow) (bool, error)) (RefundRow, bool, error) {
	var (
		out     RefundRow
		changed bool
		err     error
	)
	for range recordAttempts {
		err = s.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			r, err := getRefund(ctx, tx, id, true)
			if err != nil {
				return err
			}
			if changed, err = apply(ctx, tx, r); err != nil {
				return err
			}
			out = *r
			return nil
		})
		if err == nil || !isUniqueViolation(err) {
			break
		}
	}
	if err != nil {
		return RefundRow{}, false, err
	}
	return out, changed, nil
}

// setRefundState moves a refund that is owed or instructed to state, setting cols.
func setRefundState(ctx context.Context, tx bun.Tx, id, state string, cols map[string]any) error {
	q := tx.NewUpdate().Model((*Refund)(nil)).Set("state = ?", state)
	for _, col := range []string{"paid_at", "reference", "waived_at", "waived_by", "waived_reason"} {
		if v, ok := cols[col]; ok {
			q = q.Set("? = ?", bun.Ident(col), v)
		}
	}
	res, err := q.Where("id = ?", id).Where("state IN (?)", bun.List([]string{RefundOwed, RefundInstructed})).Exec(ctx)
	if err != nil {
		return fmt.Errorf("refund %s to %s: %w", id, state, err)
	}
	n, err := rowsAffected(res)
	if err != nil {
		return err
	}
	if n != 1 {
		// The row was read under lock in this transaction, so only a concurrent writer outside the rules
		// can get here.
		return fmt.Errorf("refund %s to %s: changed concurrently: %w", id, state, ErrConflict)
	}
	return nil
}

// ListCustomerCases returns a customer's cases, newest first (by OpenedAt, then CaseID); limit defaults to
// DefaultCaseLimit and is capped at MaxCaseLimit.
func (s *Store) ListCustomerCases(ctx context.Context, customerID string, limit, offset int) ([]Case, error) {
	if customerID == "" {
		return nil, fmt.Errorf("list customer cases: empty customer id: %w", ErrInvalid)
	}
	switch {
	case limit <= 0:
		limit = DefaultCaseLimit
	case limit > MaxCaseLimit:
		limit = MaxCaseLimit
	}
	cs := []Case{}
	err := s.NewSelect().Model(&cs).Where("customer_id = ?", customerID).
		Order("opened_at DESC", "case_id DESC").Limit(int64(limit)).Offset(int64(max(offset, 0))).Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("list cases of customer %s: %w", customerID, err)
	}
	return cs, nil
}
