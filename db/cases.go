package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
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
func (s *Store) UpsertCase(ctx context.Context, c *Case) error {
	return s.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error { return upsertCase(ctx, tx, c) })
}

// upsertCase is UpsertCase in a transaction, which also moves the case's count in partner_loads when its
// partner or its status changes.
func upsertCase(ctx context.Context, tx bun.Tx, c *Case) error {
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

	before, err := loadOf(ctx, tx, c.CaseID)
	if err != nil {
		return fmt.Errorf("upsert case %s: %w", c.CaseID, err)
	}
	q := tx.NewInsert().Model(c).On("CONFLICT (case_id) DO UPDATE")
	for _, col := range caseMutable {
		q = q.Set("? = EXCLUDED.?", bun.Ident(col), bun.Ident(col))
	}
	q = q.Where("?TableAlias.revision <= EXCLUDED.revision")
	res, err := q.Exec(ctx)
	if err != nil {
		if isUniqueViolation(err) {
			return fmt.Errorf("upsert case %s: workflow id %s in use: %w", c.CaseID, c.WorkflowID, ErrConflict)
		}
		return fmt.Errorf("upsert case %s: %w", c.CaseID, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 { // a stale revision: the row stands as it was
		return err
	}
	return moveLoad(ctx, tx, before, openLoad(c.PartnerID, c.Status))
}

// PartnerLoad is a partner's number of open cases, the load that partner assignment balances. Every write
// of a case row keeps it in step, in the same transaction, so that choosing a partner reads one row per
// partner instead of counting the open cases (which grows with them: at 15,000 open cases the count was
// 58% of the worker's CPU).
type PartnerLoad struct {
	bun.BaseModel `bun:"table:partner_loads"`

	PartnerID string `bun:"partner_id,pk"`
	OpenCases int    `bun:"open_cases"`
}

// openLoad is the partner whose load a case row with this partner and status counts in, or "" for none.
func openLoad(partnerID, status string) string {
	if status == CaseOpen || status == "" {
		return partnerID
	}
	return ""
}

// loadOf is the partner whose load the stored row of the case counts in ("" when none or no row), read with
// the row locked on PostgreSQL so that a concurrent write of the same case waits for this transaction and
// then sees its result. SQLite's write transactions are one at a time (immediate), so a plain read is enough.
func loadOf(ctx context.Context, tx bun.Tx, caseID string) (string, error) {
	var row struct {
		PartnerID string `bun:"partner_id"`
		Status    string `bun:"status"`
	}
	q := tx.NewSelect().Model((*Case)(nil)).Column("partner_id", "status").Where("case_id = ?", caseID)
	if tx.Dialect().Name() == dialect.PG {
		q = q.For("UPDATE")
	}
	if err := q.Scan(ctx, &row); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return "", nil
		}
		return "", fmt.Errorf("read load: %w", err)
	}
	return openLoad(row.PartnerID, row.Status), nil
}

// moveLoad moves one open case from partner from's load to partner to's ("" is none). The counters are
// changed in partner order, so that two transactions moving cases between the same two partners in opposite
// directions cannot deadlock on PostgreSQL.
func moveLoad(ctx context.Context, tx bun.Tx, from, to string) error {
	if from == to {
		return nil
	}
	type delta struct {
		partner string
		n       int
	}
	ds := []delta{{from, -1}, {to, +1}}
	if to < from {
		ds[0], ds[1] = ds[1], ds[0]
	}
	for _, d := range ds {
		if d.partner == "" {
			continue
		}
		if _, err := tx.NewInsert().Model(&PartnerLoad{PartnerID: d.partner, OpenCases: d.n}).
			On("CONFLICT (partner_id) DO UPDATE").Set("open_cases = ?TableAlias.open_cases + EXCLUDED.open_cases").Exec(ctx); err != nil {
			return fmt.Errorf("partner load %s: %w", d.partner, err)
		}
	}
	return nil
}

// InsertCaseIfAbsent writes the case's first projection and leaves an existing row as it is, so a
// repeated purchase callback never rolls back a case the workflow has moved on.
func (s *Store) InsertCaseIfAbsent(ctx context.Context, c *Case) error {
	return s.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error { return insertCaseIfAbsent(ctx, tx, c) })
}

func insertCaseIfAbsent(ctx context.Context, tx bun.Tx, c *Case) error {
	if c.CaseID == "" || c.WorkflowID == "" {
		return fmt.Errorf("insert case: empty case or workflow id: %w", ErrInvalid)
	}
	if c.Status == "" {
		c.Status = CaseOpen
	}
	c.OpenedAt = utcOrNow(c.OpenedAt)
	c.UpdatedAt = utcOrNow(c.UpdatedAt)
	res, err := tx.NewInsert().Model(c).On("CONFLICT (case_id) DO NOTHING").Exec(ctx)
	if err != nil {
		if isUniqueViolation(err) {
			return fmt.Errorf("insert case %s: workflow id %s in use: %w", c.CaseID, c.WorkflowID, ErrConflict)
		}
		return fmt.Errorf("insert case %s: %w", c.CaseID, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 { // the case was there already
		return err
	}
	return moveLoad(ctx, tx, "", openLoad(c.PartnerID, c.Status))
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

// PartnerLoads is each partner's number of open cases (partners with none left out), from partner_loads.
func (s *Store) PartnerLoads(ctx context.Context) (map[string]int, error) {
	var rows []PartnerLoad
	if err := s.NewSelect().Model(&rows).Where("open_cases <> 0").Scan(ctx); err != nil {
		return nil, fmt.Errorf("partner loads: %w", err)
	}
	out := make(map[string]int, len(rows))
	for _, r := range rows {
		out[r.PartnerID] = r.OpenCases
	}
	return out, nil
}
