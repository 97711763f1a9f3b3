package db

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// UnstartedCase is a case whose purchase was stored but whose workflow has never written its row, and
// the order it is for.
type UnstartedCase struct {
	Case  Case
	Order *Order // nil when the order row is missing
}

// UnstartedCases returns the open cases, opened before before, that no workflow has ever written: the
// purchase stores the case row at revision 0 with its order, and the workflow's first write raises it. A
// row still at 0 is a purchase whose workflow start failed (Temporal down at the callback) and was not
// retried, or one whose workflow has not run its first task yet. Oldest first, at most limit.
func (s *Store) UnstartedCases(ctx context.Context, before time.Time, limit int) ([]UnstartedCase, error) {
	var cases []Case
	err := s.NewSelect().Model(&cases).
		Where("status = ?", CaseOpen).
		Where("revision = 0").
		Where("opened_at < ?", before.UTC()).
		Order("opened_at", "case_id").
		Limit(int64(limit)).
		Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("unstarted cases: %w", err)
	}
	out := make([]UnstartedCase, 0, len(cases))
	for _, c := range cases {
		u := UnstartedCase{Case: c}
		o, err := s.GetOrder(ctx, c.OrderID)
		switch {
		case err == nil:
			u.Order = o
		case !errors.Is(err, ErrNotFound):
			return nil, fmt.Errorf("unstarted cases: %w", err)
		}
		out = append(out, u)
	}
	return out, nil
}
