package db

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// Report formats.
const (
	// FormatHTML is a report rendered as HTML.
	FormatHTML = "html"
	// FormatMarkdown is a report rendered as Markdown.
	FormatMarkdown = "markdown"
)

// Report is one rendered version of a case's report. (CaseID, Format, Version) is unique: a
// re-rendered report after a dispute is a new Version.
type Report struct {
	bun.BaseModel `bun:"table:reports"`

	CaseID    string    `bun:"case_id,pk" json:"case_id"`
	Format    string    `bun:"format,pk" json:"format"`
	Version   int       `bun:"version,pk" json:"version"`
	Title     string    `bun:"title" json:"title"`
	Content   string    `bun:"content" json:"content"`
	CreatedAt time.Time `bun:"created_at" json:"created_at"`
}

var _ bun.AfterScanRowHook = (*Report)(nil)

// AfterScanRow returns times in UTC.
func (r *Report) AfterScanRow(context.Context) error {
	r.CreatedAt = r.CreatedAt.UTC()
	return nil
}

// PutReport stores r unless that (CaseID, Format, Version) exists (created=false; the stored
// content is kept). Version starts at 1 and is chosen by the caller, so that a retry writes the
// same version rather than a new one; Format is "html" or "markdown" (ErrInvalid otherwise).
func (s *Store) PutReport(ctx context.Context, r *Report) (bool, error) {
	if r.CaseID == "" || r.Version < 1 {
		return false, fmt.Errorf("put report: empty case id or version < 1: %w", ErrInvalid)
	}
	if r.Format != FormatHTML && r.Format != FormatMarkdown {
		return false, fmt.Errorf("put report: format %q: %w", r.Format, ErrInvalid)
	}
	r.CreatedAt = utcOrNow(r.CreatedAt)
	return s.insertOnce(ctx, r, "case_id, format, version", "put report "+r.CaseID)
}

// LatestReport returns the highest version of a case's report in format, or ErrNotFound.
func (s *Store) LatestReport(ctx context.Context, caseID, format string) (*Report, error) {
	r := new(Report)
	err := s.NewSelect().Model(r).
		Where("case_id = ?", caseID).
		Where("format = ?", format).
		Order("version DESC").
		Limit(1).
		Scan(ctx)
	if err != nil {
		return nil, notFound(err, "latest %s report of %s", format, caseID)
	}
	return r, nil
}
