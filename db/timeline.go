package db

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// CaseEvent is one line of a case's timeline. Key is the idempotency key the workflow passes in
// (for example workflow id + step), so a retried activity never writes a line twice.
type CaseEvent struct {
	bun.BaseModel `bun:"table:case_events"`

	ID     int64     `bun:"id,pk,autoincrement" json:"-"`
	Key    string    `bun:"key" json:"-"`
	CaseID string    `bun:"case_id" json:"case_id"`
	At     time.Time `bun:"at" json:"at"`
	Actor  string    `bun:"actor" json:"actor"`
	Event  string    `bun:"event" json:"event"`
	Detail string    `bun:"detail" json:"detail"`
	// PartnerID is the partner company the line concerns: the one offered, answering, or holding the
	// case when it happened; empty before any partner.
	PartnerID string `bun:"partner_id" json:"-"`
	// OfferedAt, on an acceptance, is when the accepted offer was made (the reports' time to accept).
	OfferedAt *time.Time `bun:"offered_at" json:"-"`
	// ByName, ByTokenID and ByPartnerID say who took the step the line records: the bearer token's holder
	// (an engineer's or a manager's name), the token, and the engineer's partner company; empty for lines
	// of the marketplace and of steward itself. The API shows them to managers, and to a partner for its
	// own engineers only; never to the customer or in webhooks.
	ByName      string `bun:"by_name" json:"-"`
	ByTokenID   string `bun:"by_token_id" json:"-"`
	ByPartnerID string `bun:"by_partner_id" json:"-"`
	// Customer is the message the line sends the case's customer, written with it (not a column).
	Customer *CustomerMessage `bun:"-" json:"-"`
}

var _ bun.AfterScanRowHook = (*CaseEvent)(nil)

// AfterScanRow returns times in UTC.
func (e *CaseEvent) AfterScanRow(context.Context) error {
	e.At, e.OfferedAt = e.At.UTC(), utcPtr(e.OfferedAt)
	return nil
}

// AppendEvent adds e to its case's timeline unless an event with the same Key exists
// (created=false). A zero At is now. On creation e.ID is set.
func (s *Store) AppendEvent(ctx context.Context, e *CaseEvent) (bool, error) {
	if e.Key == "" || e.CaseID == "" {
		return false, fmt.Errorf("append event: empty key or case id: %w", ErrInvalid)
	}
	e.At, e.OfferedAt = utcOrNow(e.At), utcPtr(e.OfferedAt)
	return s.insertOnce(ctx, e, "key", "append event "+e.Key)
}

// ListEvents returns a case's timeline ordered by At, then insertion.
func (s *Store) ListEvents(ctx context.Context, caseID string) ([]CaseEvent, error) {
	es := []CaseEvent{}
	if err := s.NewSelect().Model(&es).Where("case_id = ?", caseID).Order("at ASC", "id ASC").Scan(ctx); err != nil {
		return nil, fmt.Errorf("list events %s: %w", caseID, err)
	}
	return es, nil
}

// insertOnce inserts model unless a row with the same value in the unique column conflictCol
// exists, and reports whether it inserted.
func (s *Store) insertOnce(ctx context.Context, model any, conflictCol, what string) (bool, error) {
	return insertOnce(ctx, s.DB, model, conflictCol, what)
}

// insertOnce is Store.insertOnce on idb (the store or a transaction). An empty conflictCol skips a row
// that conflicts on any unique column (a refund's key and the id derived from it).
func insertOnce(ctx context.Context, idb bun.IDB, model any, conflictCol, what string) (bool, error) {
	on := "CONFLICT (" + conflictCol + ") DO NOTHING"
	if conflictCol == "" {
		on = "CONFLICT DO NOTHING"
	}
	res, err := idb.NewInsert().Model(model).On(on).Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("%s: %w", what, err)
	}
	n, err := rowsAffected(res)
	if err != nil {
		return false, fmt.Errorf("%s: %w", what, err)
	}
	return n == 1, nil
}
