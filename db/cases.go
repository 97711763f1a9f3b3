package db

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// Case statuses.
const (
	// CaseOpen is a case in progress.
	CaseOpen = "open"
	// CaseClosed is a finished (closed, expired or rejected) case.
	CaseClosed = "closed"
)

// Case is the queryable projection of a case workflow: Temporal holds the truth, this row is what
// the API lists and filters. Activities write it whole with UpsertCase as the case moves.
type Case struct {
	bun.BaseModel `bun:"table:cases"`

	CaseID        string     `bun:"case_id,pk" json:"case_id"`
	WorkflowID    string     `bun:"workflow_id" json:"workflow_id"`
	Service       string     `bun:"service" json:"service"`
	Spec          string     `bun:"spec" json:"spec"`
	Stage         string     `bun:"stage" json:"stage"`
	Status        string     `bun:"status" json:"status"`
	PartnerID     string     `bun:"partner_id" json:"partner_id"`
	CustomerID    string     `bun:"customer_id" json:"customer_id"`
	OrderID       string     `bun:"order_id" json:"order_id"`
	AmountCents   int64      `bun:"amount_cents" json:"amount_cents"`
	SLAStatus     string     `bun:"sla_status" json:"sla_status"`
	RefundPercent int        `bun:"refund_percent" json:"refund_percent"`
	NextDeadline  *time.Time `bun:"next_deadline" json:"next_deadline,omitempty"`
	OpenedAt      time.Time  `bun:"opened_at" json:"opened_at"`
	UpdatedAt     time.Time  `bun:"updated_at" json:"updated_at"`
	ClosedAt      *time.Time `bun:"closed_at" json:"closed_at,omitempty"`
	// Revision orders the projection's writes: an upsert with a lower revision than the stored row's is
	// ignored, so a delayed write never rolls the case back.
	Revision int64 `bun:"revision" json:"revision"`
	// Rating is the customer's rating of the partner's work (1–5), 0 until given.
	Rating int `bun:"rating" json:"rating,omitempty"`
}

var _ bun.AfterScanRowHook = (*Case)(nil)

// AfterScanRow returns times in UTC.
func (c *Case) AfterScanRow(context.Context) error {
	c.NextDeadline = utcPtr(c.NextDeadline)
	c.OpenedAt = c.OpenedAt.UTC()
	c.UpdatedAt = c.UpdatedAt.UTC()
	c.ClosedAt = utcPtr(c.ClosedAt)
	return nil
}

// caseMutable are the columns UpsertCase overwrites on an existing case. CaseID, WorkflowID and
// OpenedAt are fixed when the case is first written.
var caseMutable = []string{
	"service", "spec", "stage", "status", "partner_id", "customer_id", "order_id",
	"amount_cents", "sla_status", "refund_percent", "next_deadline", "updated_at", "closed_at", "revision", "rating",
}

// UpsertCase inserts the case or, by CaseID, overwrites every mutable column with c's values (so
// pass the whole projection, not a delta) unless the stored row has a higher Revision. An empty Status is "open"; zero OpenedAt and UpdatedAt
// are now. A WorkflowID already used by another case is ErrConflict.
func (s *Store) UpsertCase(ctx context.Context, c *Case) error { return upsertCase(ctx, s.DB, c) }

// upsertCase is UpsertCase on idb (the store or a transaction).
func upsertCase(ctx context.Context, idb bun.IDB, c *Case) error {
	if c.CaseID == "" || c.WorkflowID == "" {
		return fmt.Errorf("upsert case: empty case or workflow id: %w", ErrInvalid)
	}
	switch c.Status {
	case "":
		c.Status = CaseOpen
	case CaseOpen, CaseClosed:
	default:
		return fmt.Errorf("upsert case %s: status %q: %w", c.CaseID, c.Status, ErrInvalid)
	}
	c.OpenedAt = utcOrNow(c.OpenedAt)
	c.UpdatedAt = utcOrNow(c.UpdatedAt)
	c.NextDeadline = utcPtr(c.NextDeadline)
	c.ClosedAt = utcPtr(c.ClosedAt)

	q := idb.NewInsert().Model(c).On("CONFLICT (case_id) DO UPDATE")
	for _, col := range caseMutable {
		q = q.Set("? = EXCLUDED.?", bun.Ident(col), bun.Ident(col))
	}
	q = q.Where("?TableAlias.revision <= EXCLUDED.revision")
	if _, err := q.Exec(ctx); err != nil {
		if isUniqueViolation(err) {
			return fmt.Errorf("upsert case %s: workflow id %s in use: %w", c.CaseID, c.WorkflowID, ErrConflict)
		}
		return fmt.Errorf("upsert case %s: %w", c.CaseID, err)
	}
	return nil
}

// InsertCaseIfAbsent writes the case's first projection and leaves an existing row as it is, so a
// repeated purchase callback never rolls back a case the workflow has moved on.
func (s *Store) InsertCaseIfAbsent(ctx context.Context, c *Case) error {
	return insertCaseIfAbsent(ctx, s.DB, c)
}

func insertCaseIfAbsent(ctx context.Context, idb bun.IDB, c *Case) error {
	if c.CaseID == "" || c.WorkflowID == "" {
		return fmt.Errorf("insert case: empty case or workflow id: %w", ErrInvalid)
	}
	if c.Status == "" {
		c.Status = CaseOpen
	}
	c.OpenedAt = utcOrNow(c.OpenedAt)
	c.UpdatedAt = utcOrNow(c.UpdatedAt)
	if _, err := idb.NewInsert().Model(c).On("CONFLICT (case_id) DO NOTHING").Exec(ctx); err != nil {
		if isUniqueViolation(err) {
			return fmt.Errorf("insert case %s: workflow id %s in use: %w", c.CaseID, c.WorkflowID, ErrConflict)
		}
		return fmt.Errorf("insert case %s: %w", c.CaseID, err)
	}
	return nil
}

// GetCase returns the case, or ErrNotFound.
func (s *Store) GetCase(ctx context.Context, caseID string) (*Case, error) {
	c := new(Case)
	if err := s.NewSelect().Model(c).Where("case_id = ?", caseID).Scan(ctx); err != nil {
		return nil, notFound(err, "get case %s", caseID)
	}
	return c, nil
}

// GetCaseByWorkflowID returns the case of a workflow, or ErrNotFound.
func (s *Store) GetCaseByWorkflowID(ctx context.Context, workflowID string) (*Case, error) {
	c := new(Case)
	if err := s.NewSelect().Model(c).Where("workflow_id = ?", workflowID).Scan(ctx); err != nil {
		return nil, notFound(err, "get case of workflow %s", workflowID)
	}
	return c, nil
}

// Page sizes of ListCases.
const (
	// DefaultCaseLimit is the page size when CaseFilter.Limit is zero.
	DefaultCaseLimit = 50
	// MaxCaseLimit caps CaseFilter.Limit.
	MaxCaseLimit = 500
)

// CaseFilter selects cases for ListCases. Empty fields match everything; Limit defaults to
// DefaultCaseLimit and is capped at MaxCaseLimit.
type CaseFilter struct {
	Service, Stage, PartnerID, SLAStatus, Status string
	Limit, Offset                                int
}

// ListCases returns the cases matching f, newest first (by OpenedAt, then CaseID).
func (s *Store) ListCases(ctx context.Context, f CaseFilter) ([]Case, error) {
	limit := f.Limit
	switch {
	case limit <= 0:
		limit = DefaultCaseLimit
	case limit > MaxCaseLimit:
		limit = MaxCaseLimit
	}
	cs := []Case{}
	q := s.NewSelect().Model(&cs)
	for _, w := range [...]struct{ col, v string }{
		{"service", f.Service}, {"stage", f.Stage}, {"partner_id", f.PartnerID},
		{"sla_status", f.SLAStatus}, {"status", f.Status},
	} {
		if w.v != "" {
			q = q.Where("? = ?", bun.Ident(w.col), w.v)
		}
	}
	q = q.Order("opened_at DESC", "case_id DESC").Limit(int64(limit)).Offset(int64(max(f.Offset, 0)))
	if err := q.Scan(ctx); err != nil {
		return nil, fmt.Errorf("list cases: %w", err)
	}
	return cs, nil
}

// PartnerLoads counts each partner's open cases, the load that partner assignment balances.
func (s *Store) PartnerLoads(ctx context.Context) (map[string]int, error) {
	var rows []struct {
		PartnerID string `bun:"partner_id"`
		N         int    `bun:"n"`
	}
	err := s.NewSelect().Model((*Case)(nil)).Column("partner_id").ColumnExpr("COUNT(*) AS n").
		Where("status = ?", CaseOpen).Where("partner_id <> ''").Group("partner_id").Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("partner loads: %w", err)
	}
	out := make(map[string]int, len(rows))
	for _, r := range rows {
		out[r.PartnerID] = r.N
	}
	return out, nil
}
