package db

import "context"

// GetReport returns one stored version of a case's report of kind (empty: KindIncidentReport) in format,
// or ErrNotFound. An e-mail that attaches a report's PDF reads the version it announces with it, even when
// a newer one has been stored since.
func (s *Store) GetReport(ctx context.Context, caseID, kind, format string, version int) (*Report, error) {
	kind = reportKind(kind)
	r := new(Report)
	err := s.NewSelect().Model(r).
		Where("case_id = ?", caseID).
		Where("kind = ?", kind).
		Where("format = ?", format).
		Where("version = ?", version).
		Scan(ctx)
	if err != nil {
		return nil, notFound(err, "%s %s v%d of %s", format, kind, version, caseID)
	}
	return r, nil
}
