package db

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// Refund is compensation owed to a customer under an SLA clause. Key is the idempotency key, so
// a retried activity never refunds twice.
//
// ID is its public identifier (RefundID of Key: stable per case and clause). State moves owed →
// instructed (the refund.owed event was delivered to the marketplace) → paid (the marketplace reported
// it, with its reference), or to waived (a manager, with a reason).
type Refund struct {
	bun.BaseModel `bun:"table:refunds"`

	Key          string     `bun:"key,pk" json:"-"`
	ID           string     `bun:"id" json:"id"`
	CaseID       string     `bun:"case_id" json:"case_id"`
	Clause       string     `bun:"clause" json:"clause"`
	Percent      int        `bun:"percent" json:"percent"`
	AmountCents  int64      `bun:"amount_cents" json:"amount_cents"`
	Reason       string     `bun:"reason" json:"reason"`
	CreatedAt    time.Time  `bun:"created_at" json:"created_at"`
	State        string     `bun:"state" json:"state"`
	InstructedAt *time.Time `bun:"instructed_at" json:"instructed_at,omitempty"`
	PaidAt       *time.Time `bun:"paid_at" json:"paid_at,omitempty"`
	Reference    string     `bun:"reference" json:"reference,omitempty"`
	WaivedAt     *time.Time `bun:"waived_at" json:"waived_at,omitempty"`
	WaivedBy     string     `bun:"waived_by" json:"waived_by,omitempty"`
	WaivedReason string     `bun:"waived_reason" json:"waived_reason,omitempty"`
}

// Refund states.
const (
	RefundOwed       = "owed"
	RefundInstructed = "instructed"
	RefundPaid       = "paid"
	RefundWaived     = "waived"
)

// RefundID is the public id of the refund recorded under key: "ref_" and 24 hex digits of its SHA-256.
func RefundID(key string) string { return "ref_" + hashID(key) }

var _ bun.AfterScanRowHook = (*Refund)(nil)

// AfterScanRow returns times in UTC.
func (r *Refund) AfterScanRow(context.Context) error {
	r.CreatedAt = r.CreatedAt.UTC()
	r.InstructedAt, r.PaidAt, r.WaivedAt = utcPtr(r.InstructedAt), utcPtr(r.PaidAt), utcPtr(r.WaivedAt)
	return nil
}

// RecordRefund stores r unless a refund with the same Key exists (created=false; the stored row
// is left as it was). A zero CreatedAt is now.
func (s *Store) RecordRefund(ctx context.Context, r *Refund) (bool, error) {
	if r.Key == "" || r.CaseID == "" {
		return false, fmt.Errorf("record refund: empty key or case id: %w", ErrInvalid)
	}
	prepareRefund(r)
	return s.insertOnce(ctx, r, "", "record refund "+r.Key)
}

// ListRefunds returns a case's refunds, oldest first.
func (s *Store) ListRefunds(ctx context.Context, caseID string) ([]Refund, error) {
	rs := []Refund{}
	if err := s.NewSelect().Model(&rs).Where("case_id = ?", caseID).Order("created_at ASC", "key ASC").Scan(ctx); err != nil {
		return nil, fmt.Errorf("list refunds %s: %w", caseID, err)
	}
	return rs, nil
}

// prepareRefund fills a new refund's id, state and time.
func prepareRefund(r *Refund) {
	r.CreatedAt = utcOrNow(r.CreatedAt)
	r.ID = RefundID(r.Key)
	if r.State == "" {
		r.State = RefundOwed
	}
}
