package db

import (
	"context"
	"fmt"
	"time"

	"github.com/steward-oss/steward/sla"
	"github.com/uptrace/bun"
)

// SLAClock is one SLA clock of a case as the reports read it, kept current by the record step. PartnerID
// is the partner company the clock counts against: the one holding the case while it ran, frozen when it
// stopped (a clock that breached before any partner accepted counts against none).
type SLAClock struct {
	bun.BaseModel `bun:"table:sla_clocks"`

	Key         string     `bun:"key,pk" json:"-"`
	CaseID      string     `bun:"case_id" json:"case_id"`
	Service     string     `bun:"service" json:"service"`
	Clause      string     `bun:"clause" json:"clause"`
	PartnerID   string     `bun:"partner_id" json:"partner_id,omitempty"`
	State       string     `bun:"state" json:"state"`   // running, paused, completed
	Status      string     `bun:"status" json:"status"` // the case view's: on_track, at_risk, breached, met, paused, stopped
	StartedAt   time.Time  `bun:"started_at" json:"started_at"`
	DueAt       *time.Time `bun:"due_at" json:"due_at,omitempty"`
	CompletedAt *time.Time `bun:"completed_at" json:"completed_at,omitempty"`
	BreachedAt  *time.Time `bun:"breached_at" json:"breached_at,omitempty"`
	UpdatedAt   time.Time  `bun:"updated_at" json:"updated_at"`
}

var _ bun.AfterScanRowHook = (*SLAClock)(nil)

// AfterScanRow returns times in UTC.
func (c *SLAClock) AfterScanRow(context.Context) error {
	c.StartedAt, c.UpdatedAt = c.StartedAt.UTC(), c.UpdatedAt.UTC()
	c.DueAt, c.CompletedAt, c.BreachedAt = utcPtr(c.DueAt), utcPtr(c.CompletedAt), utcPtr(c.BreachedAt)
	return nil
}

// slaClockMutable are the columns a later write of a clock changes; partner_id stays once the stored
// clock has stopped.
var slaClockMutable = []string{"clause", "state", "status", "due_at", "completed_at", "breached_at", "updated_at"}

// upsertClocks writes clocks in idb: new ones inserted, known ones updated, the partner kept once the
// stored clock completed.
func upsertClocks(ctx context.Context, idb bun.IDB, clocks []SLAClock) error {
	for i := range clocks {
		c := &clocks[i]
		if c.Key == "" || c.CaseID == "" {
			return fmt.Errorf("sla clock: empty key or case id: %w", ErrInvalid)
		}
		c.StartedAt, c.UpdatedAt = c.StartedAt.UTC(), utcOrNow(c.UpdatedAt)
		c.DueAt, c.CompletedAt, c.BreachedAt = utcPtr(c.DueAt), utcPtr(c.CompletedAt), utcPtr(c.BreachedAt)
		q := idb.NewInsert().Model(c).On("CONFLICT (key) DO UPDATE")
		for _, col := range slaClockMutable {
			q = q.Set("? = EXCLUDED.?", bun.Ident(col), bun.Ident(col))
		}
		q = q.Set("partner_id = CASE WHEN ?TableAlias.state = ? THEN ?TableAlias.partner_id ELSE EXCLUDED.partner_id END", sla.ClockCompleted)
		if _, err := q.Exec(ctx); err != nil {
			return fmt.Errorf("sla clock %s: %w", c.Key, err)
		}
	}
	return nil
}

// ListSLAClocks returns a case's clocks by key.
func (s *Store) ListSLAClocks(ctx context.Context, caseID string) ([]SLAClock, error) {
	cs := []SLAClock{}
	if err := s.NewSelect().Model(&cs).Where("case_id = ?", caseID).Order("key ASC").Scan(ctx); err != nil {
		return nil, fmt.Errorf("list sla clocks %s: %w", caseID, err)
	}
	return cs, nil
}
