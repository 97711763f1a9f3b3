package db

import (
	"context"
	"fmt"
	"slices"
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

// Report kinds: which of a case's documents a report is.
const (
	// KindIncidentReport is the SOS 《安全事件应急响应报告》 (incident-response report). It is the kind of a
	// Report whose Kind is empty.
	KindIncidentReport = "incident_report"
	// KindRectificationProposal is the 等保整改 《安全整改建议书》 (rectification proposal).
	KindRectificationProposal = "rectification_proposal"
	// KindServiceReport is the 等保整改 《等保整改服务报告》 (rectification service report).
	KindServiceReport = "service_report"
)

// ReportKinds returns the report kinds, in the order a case produces them.
func ReportKinds() []string {
	return []string{KindIncidentReport, KindRectificationProposal, KindServiceReport}
}

// Report is one rendered version of one of a case's documents. (CaseID, Kind, Format, Version) is
// unique: a re-rendered document after a dispute is a new Version.
type Report struct {
	bun.BaseModel `bun:"table:reports"`

	CaseID    string    `bun:"case_id,pk" json:"case_id"`
	Kind      string    `bun:"kind,pk" json:"kind"`
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

// PutReport stores r unless that (CaseID, Kind, Format, Version) exists (created=false; the stored
// content is kept). Version starts at 1 and is chosen by the caller, so that a retry writes the
// same version rather than a new one; an empty Kind is KindIncidentReport; Kind must be one of
// ReportKinds and Format "html" or "markdown" (ErrInvalid otherwise).
func (s *Store) PutReport(ctx context.Context, r *Report) (bool, error) {
	if r.CaseID == "" || r.Version < 1 {
		return false, fmt.Errorf("put report: empty case id or version < 1: %w", ErrInvalid)
	}
	r.Kind = reportKind(r.Kind)
	if !slices.Contains(ReportKinds(), r.Kind) {
		return false, fmt.Errorf("put report: kind %q: %w", r.Kind, ErrInvalid)
	}
	if r.Format != FormatHTML && r.Format != FormatMarkdown {
		return false, fmt.Errorf("put report: format %q: %w", r.Format, ErrInvalid)
	}
	r.CreatedAt = utcOrNow(r.CreatedAt)
	return s.insertOnce(ctx, r, "case_id, kind, format, version", "put report "+r.CaseID)
}

// LatestReport returns the highest version of a case's report of kind (empty: KindIncidentReport) in
// format, or ErrNotFound.
func (s *Store) LatestReport(ctx context.Context, caseID, kind, format string) (*Report, error) {
	kind = reportKind(kind)
	r := new(Report)
	err := s.NewSelect().Model(r).
		Where("case_id = ?", caseID).
		Where("kind = ?", kind).
		Where("format = ?", format).
		Order("version DESC").
		Limit(1).
		Scan(ctx)
	if err != nil {
		return nil, notFound(err, "latest %s %s of %s", format, kind, caseID)
	}
	return r, nil
}

func reportKind(kind string) string {
	if kind == "" {
		return KindIncidentReport
	}
	return kind
}
