package db

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// Partner is an authorised third-party security company that cases are assigned to.
// Services lists its skills ("sos", "dengbao", ...); Capacity is how many open cases it takes at once.
type Partner struct {
	bun.BaseModel `bun:"table:partners"`

	ID           string    `bun:"id,pk" json:"id"`
	Name         string    `bun:"name" json:"name"`
	Services     []string  `bun:"services,type:jsonb" json:"services"`
	Onsite       bool      `bun:"onsite" json:"onsite"`
	Capacity     int       `bun:"capacity" json:"capacity"`
	SlackChannel string    `bun:"slack_channel" json:"slack_channel"`
	Active       bool      `bun:"active" json:"active"`
	CreatedAt    time.Time `bun:"created_at" json:"created_at"`
}

var _ bun.AfterScanRowHook = (*Partner)(nil)

// AfterScanRow returns times in UTC and an empty (not nil) skill list.
func (p *Partner) AfterScanRow(context.Context) error {
	p.CreatedAt = p.CreatedAt.UTC()
	if p.Services == nil {
		p.Services = []string{}
	}
	return nil
}

// HasService reports whether the partner offers service.
func (p *Partner) HasService(service string) bool {
	for _, s := range p.Services {
		if s == service {
			return true
		}
	}
	return false
}

// AddPartner stores a new partner; ErrConflict when the id exists. A zero CreatedAt becomes now.
func (s *Store) AddPartner(ctx context.Context, p *Partner) error {
	if p.ID == "" {
		return fmt.Errorf("add partner: empty id: %w", ErrInvalid)
	}
	if p.Services == nil {
		p.Services = []string{}
	}
	p.CreatedAt = utcOrNow(p.CreatedAt)
	res, err := s.NewInsert().Model(p).On("CONFLICT (id) DO NOTHING").Exec(ctx)
	if err != nil {
		return fmt.Errorf("add partner %s: %w", p.ID, err)
	}
	n, err := rowsAffected(res)
	if err != nil {
		return fmt.Errorf("add partner %s: %w", p.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("add partner %s: exists: %w", p.ID, ErrConflict)
	}
	return nil
}

// GetPartner returns the partner, or ErrNotFound.
func (s *Store) GetPartner(ctx context.Context, id string) (*Partner, error) {
	p := new(Partner)
	if err := s.NewSelect().Model(p).Where("id = ?", id).Scan(ctx); err != nil {
		return nil, notFound(err, "get partner %s", id)
	}
	return p, nil
}

// ListPartners returns all partners, active or not, ordered by id.
func (s *Store) ListPartners(ctx context.Context) ([]Partner, error) {
	ps := []Partner{}
	if err := s.NewSelect().Model(&ps).Order("id ASC").Scan(ctx); err != nil {
		return nil, fmt.Errorf("list partners: %w", err)
	}
	return ps, nil
}

// SetPartnerActive enables or disables a partner. A disabled partner's tokens stop authenticating
// and it should get no new cases. ErrNotFound for an unknown id.
func (s *Store) SetPartnerActive(ctx context.Context, id string, active bool) error {
	res, err := s.NewUpdate().Model((*Partner)(nil)).Set("active = ?", active).Where("id = ?", id).Exec(ctx)
	if err != nil {
		return fmt.Errorf("set partner %s active: %w", id, err)
	}
	n, err := rowsAffected(res)
	if err != nil {
		return fmt.Errorf("set partner %s active: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("set partner %s active: %w", id, ErrNotFound)
	}
	return nil
}
