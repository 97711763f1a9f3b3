package db

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// Refund is compensation owed to a customer under an SLA clause. Key is the idempotency key, so
// a retried activity never refunds twice.
type Refund struct {
	bun.BaseModel `bun:"table:refunds"`

	Key         string    `bun:"key,pk" json:"-"`
	CaseID      string    `bun:"case_id" json:"case_id"`
	Clause      string    `bun:"clause" json:"clause"`
	Percent     int       `bun:"percent" json:"percent"`
	AmountCents int64     `bun:"amount_cents" json:"amount_cents"`
	Reason      string    `bun:"reason" json:"reason"`
	CreatedAt   time.Time `bun:"created_at" json:"created_at"`
}

var _ bun.AfterScanRowHook = (*Refund)(nil)

// AfterScanRow returns times in UTC.
func (r *Refund) AfterScanRow(context.Context) error {
	r.CreatedAt = r.CreatedAt.UTC()
	return nil
}

// RecordRefund stores r unless a refund with the same Key exists (created=false; the stored row
// is left as it was). A zero CreatedAt is now.
func (s *Store) RecordRefund(ctx context.Context, r *Refund) (bool, error) {
	if r.Key == "" || r.CaseID == "" {
		return false, fmt.Errorf("record refund: empty key or case id: %w", ErrInvalid)
	}
	r.CreatedAt = utcOrNow(r.CreatedAt)
	return s.insertOnce(ctx, r, "key", "record refund "+r.Key)
}

// ListRefunds returns a case's refunds, oldest first.
func (s *Store) ListRefunds(ctx context.Context, caseID string) ([]Refund, error) {
	rs := []Refund{}
	if err := s.NewSelect().Model(&rs).Where("case_id = ?", caseID).Order("created_at ASC", "key ASC").Scan(ctx); err != nil {
		return nil, fmt.Errorf("list refunds %s: %w", caseID, err)
	}
	return rs, nil
}
