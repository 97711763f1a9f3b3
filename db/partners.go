package db

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/uptrace/bun"
)

// Partner is an authorised third-party security company that cases are assigned to.
// Services lists its skills ("sos", "dengbao", ...); Capacity is how many open cases it takes at once.
// Notifications reach it in its Slack channel, its DingTalk group (through the group's robot), or both.
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
	// DingTalkWebhook and DingTalkSecret are the partner's DingTalk robot: its webhook, which holds the
	// robot's access token, and its signing secret. Both are secrets and never in JSON. AddPartner and
	// UpdatePartner take them as given and store them sealed (SealSecret); a partner read from the store
	// holds them sealed, and PartnerRobot (or OpenPartnerRobot) opens them.
	DingTalkWebhook string `bun:"dingtalk_webhook" json:"-"`
	DingTalkSecret  string `bun:"dingtalk_secret" json:"-"`
}

// HasDingTalkRobot reports whether the partner has a DingTalk robot.
func (p *Partner) HasDingTalkRobot() bool { return p.DingTalkWebhook != "" }

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

// AddPartner stores a new partner, its robot's webhook and secret sealed; ErrConflict when the id exists.
// A zero CreatedAt becomes now.
func (s *Store) AddPartner(ctx context.Context, p *Partner) error {
	if p.ID == "" {
		return fmt.Errorf("add partner: empty id: %w", ErrInvalid)
	}
	if p.Services == nil {
		p.Services = []string{}
	}
	p.CreatedAt = utcOrNow(p.CreatedAt)
	row := *p
	if err := s.sealRobot(&row); err != nil {
		return fmt.Errorf("add partner %s: %w", p.ID, err)
	}
	res, err := s.NewInsert().Model(&row).On("CONFLICT (id) DO NOTHING").Exec(ctx)
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

// SetPartnerActive enables or disables a partner. A disabled partner's tokens stop authenticating on
// their next request (AuthenticateAt reads the flag on every call) and it gets no new cases; its open
// cases are offered again by steward partners disable (PartnerOpenCases). ErrNotFound for an unknown id.
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

// PartnerOpenCases returns the open cases partner id holds or is offered, oldest first: those that
// disabling it offers again (steward partners disable).
func (s *Store) PartnerOpenCases(ctx context.Context, id string) ([]Case, error) {
	cs := []Case{}
	err := s.NewSelect().Model(&cs).Where("partner_id = ?", id).Where("status = ?", CaseOpen).
		Order("opened_at ASC", "case_id ASC").Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("open cases of partner %s: %w", id, err)
	}
	return cs, nil
}

// Partner columns that UpdatePartner changes.
var partnerColumns = []string{"name", "services", "onsite", "capacity", "slack_channel", "dingtalk_webhook", "dingtalk_secret"}

// UpdatePartner writes the named columns of p ("name", "services", "onsite", "capacity", "slack_channel",
// "dingtalk_webhook", "dingtalk_secret") to the partner with p's id, the robot's webhook and secret
// sealed; the other columns stay. ErrNotFound for an unknown id, ErrInvalid for another column.
func (s *Store) UpdatePartner(ctx context.Context, p *Partner, columns ...string) error {
	if len(columns) == 0 {
		return nil
	}
	for _, c := range columns {
		if !slices.Contains(partnerColumns, c) {
			return fmt.Errorf("update partner %s: column %q: %w", p.ID, c, ErrInvalid)
		}
	}
	row := *p
	if row.Services == nil {
		row.Services = []string{}
	}
	if err := s.sealRobot(&row); err != nil {
		return fmt.Errorf("update partner %s: %w", p.ID, err)
	}
	res, err := s.NewUpdate().Model(&row).Column(columns...).WherePK().Exec(ctx)
	if err != nil {
		return fmt.Errorf("update partner %s: %w", p.ID, err)
	}
	n, err := rowsAffected(res)
	if err != nil {
		return fmt.Errorf("update partner %s: %w", p.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("update partner %s: %w", p.ID, ErrNotFound)
	}
	return nil
}

// sealRobot seals p's robot webhook and secret, given as they are.
func (s *Store) sealRobot(p *Partner) error {
	var err error
	if p.DingTalkWebhook, err = s.SealSecret(p.DingTalkWebhook); err != nil {
		return err
	}
	if p.DingTalkSecret, err = s.SealSecret(p.DingTalkSecret); err != nil {
		return err
	}
	return nil
}

// PartnerRobot returns the partner's DingTalk robot opened: its webhook and secret, both "" when it has
// none. ErrNotFound for an unknown partner; ErrSecretKey when they are sealed under another key, or the
// key is missing.
func (s *Store) PartnerRobot(ctx context.Context, id string) (webhook, secret string, err error) {
	p, err := s.GetPartner(ctx, id)
	if err != nil {
		return "", "", err
	}
	return s.OpenPartnerRobot(p)
}

// OpenPartnerRobot opens the robot of a partner read from the store (GetPartner, ListPartners): its
// webhook and secret, both "" when it has none. ErrSecretKey when they are sealed under another key, or
// the key is missing. The error never holds either.
func (s *Store) OpenPartnerRobot(p *Partner) (webhook, secret string, err error) {
	if webhook, err = s.OpenSecret(p.DingTalkWebhook); err != nil {
		return "", "", fmt.Errorf("partner %s dingtalk webhook: %w", p.ID, err)
	}
	if secret, err = s.OpenSecret(p.DingTalkSecret); err != nil {
		return "", "", fmt.Errorf("partner %s dingtalk secret: %w", p.ID, err)
	}
	return webhook, secret, nil
}
