package api

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/steward-oss/steward/activities"
	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/workflows"
)

// Report media types.
const (
	MIMEReportHTML     = "text/html; charset=utf-8"
	MIMEReportMarkdown = "text/markdown; charset=utf-8"
	MIMEReportPDF      = activities.MIMEPDF
)

// formatPDF is the format query parameter asking for a PDF, which is rendered from the stored Markdown.
const formatPDF = "pdf"

// HeaderReportVersion names the version of the report a response carries.
const HeaderReportVersion = "X-Report-Version"

// HeaderReportKind names the kind of document a response carries (db.KindIncidentReport, …).
const HeaderReportKind = "X-Report-Kind"

// reportCSP lets a stored report page style itself inline and do nothing else: no scripts, images, fonts,
// frames, forms or connections, even if something in it escaped the escaping.
const reportCSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// getReport answers the latest version of one of a case's documents, as HTML (the default), Markdown
// (?format=markdown, or Accept: text/markdown) or PDF (?format=pdf, or Accept: application/pdf; made from
// the stored Markdown, so it says what that version says). ?kind= picks the document; without it the
// case's service does (reportKinds). Anyone who may see the case may read it.
func (s *Server) getReport(c echo.Context) error {
	row, err := s.caseFor(c)
	if err != nil {
		return err
	}
	for k := range c.QueryParams() {
		if k != "format" && k != "kind" {
			return problem(CodeInvalid, "unknown query parameter %q", k)
		}
	}
	kinds, err := reportKinds(c.QueryParam("kind"), row.Service)
	if err != nil {
		return err
	}
	format, err := reportFormat(c.QueryParam("format"), c.Request().Header.Get(echo.HeaderAccept))
	if err != nil {
		return err
	}
	stored := format
	if format == formatPDF {
		if s.pdf == nil {
			return problem(CodeUnavailable, "PDF reports are not available: this server has no fonts for them "+
				"(install Debian's fonts-droid-fallback and fonts-dejavu-core, or set %s and %s); HTML and Markdown are",
				activities.EnvPDFFont, activities.EnvPDFLatinFont)
		}
		stored = db.FormatMarkdown
	}
	r, err := s.latestReport(c.Request().Context(), row.CaseID, kinds, stored)
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set(HeaderReportVersion, strconv.Itoa(r.Version))
	h.Set(HeaderReportKind, r.Kind)
	h.Set(echo.HeaderVary, echo.HeaderAccept)
	// A report names the customer's hosts and weaknesses: keep it out of shared caches and history.
	h.Set(echo.HeaderCacheControl, "no-store")
	if format == formatPDF {
		pdf, err := s.pdf.Report(r)
		if err != nil {
			return internal(err, "rendering the PDF")
		}
		h.Set(echo.HeaderContentDisposition, contentDisposition("inline", activities.PDFASCIIFilename(r), activities.PDFFilename(r)))
		return c.Blob(http.StatusOK, MIMEReportPDF, pdf)
	}
	contentType := MIMEReportMarkdown
	if format == db.FormatHTML {
		contentType = MIMEReportHTML
		h.Set(echo.HeaderContentSecurityPolicy, reportCSP)
	}
	return c.Blob(http.StatusOK, contentType, []byte(r.Content))
}

// reportKinds is the kinds of document to look for, first found answered: the kind query parameter when
// given, else by the case's service: 等保整改 answers its service report once there is one and its
// rectification proposal until then; SOS its incident report; the engagements and the rest their service
// report, then any incident report.
func reportKinds(param, service string) ([]string, error) {
	if param != "" {
		if !slices.Contains(db.ReportKinds(), param) {
			return nil, problem(CodeInvalid, "kind: one of %s, not %q", strings.Join(db.ReportKinds(), ", "), param)
		}
		return []string{param}, nil
	}
	switch service {
	case workflows.ServiceSOS:
		return []string{db.KindIncidentReport}, nil
	case workflows.ServiceDengbao:
		return []string{db.KindServiceReport, db.KindRectificationProposal}, nil
	}
	return []string{db.KindServiceReport, db.KindIncidentReport}, nil
}

// latestReport returns the latest version in format of the first of kinds that has one, or a not_found
// problem naming the last of them.
func (s *Server) latestReport(ctx context.Context, caseID string, kinds []string, format string) (*db.Report, error) {
	for i, kind := range kinds {
		r, err := s.store.LatestReport(ctx, caseID, kind, format)
		switch {
		case err == nil:
			return r, nil
		case !errors.Is(err, db.ErrNotFound):
			return nil, unavailable(err, "the report store")
		case i == len(kinds)-1:
			return nil, problem(CodeNotFound, "no %s yet for case %s", kind, caseID)
		}
	}
	return nil, problem(CodeNotFound, "no report yet for case %s", caseID)
}

// reportFormat picks the format to answer: the format query parameter when given, else the one of
// text/html, text/markdown and application/pdf that Accept prefers (HTML on a tie or without Accept,
// then Markdown).
func reportFormat(param, accept string) (string, error) {
	switch param {
	case db.FormatHTML, db.FormatMarkdown, formatPDF:
		return param, nil
	case "":
	default:
		return "", problem(CodeInvalid, "format: html, markdown or pdf, not %q", param)
	}
	if strings.TrimSpace(accept) == "" {
		return db.FormatHTML, nil
	}
	best, q := db.FormatHTML, acceptQ(accept, "text/html")
	for _, f := range []struct{ format, mediaType string }{{db.FormatMarkdown, "text/markdown"}, {formatPDF, "application/pdf"}} {
		if fq := acceptQ(accept, f.mediaType); fq > q {
			best, q = f.format, fq
		}
	}
	return best, nil
}

// contentDisposition is a Content-Disposition header naming a file: ascii for every client, and name
// (RFC 6266 filename*, UTF-8) for those that read it.
func contentDisposition(disposition, ascii, name string) string {
	v := disposition + `; filename="` + ascii + `"`
	if name != "" && name != ascii {
		var b strings.Builder
		for _, c := range []byte(name) {
			switch {
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.IndexByte("!#$&+-.^_`|~", c) >= 0:
				b.WriteByte(c)
			default:
				fmt.Fprintf(&b, "%%%02X", c)
			}
		}
		v += "; filename*=UTF-8''" + b.String()
	}
	return v
}

// acceptQ is the quality an Accept header gives a media type (type/subtype, lower case), from its most
// specific matching range: exact, then type/*, then */*. Zero when no range matches.
func acceptQ(accept, mediaType string) float64 {
	major, _, _ := strings.Cut(mediaType, "/")
	best, bestRank := 0.0, 0
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		rank := 0
		switch {
		case mt == mediaType:
			rank = 3
		case mt == major+"/*":
			rank = 2
		case mt == "*/*":
			rank = 1
		default:
			continue
		}
		if rank < bestRank {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 || f > 1 {
				continue
			}
			q = f
		}
		if rank > bestRank || q > best {
			best, bestRank = q, rank
		}
	}
	return best
}

// reportAuth admits who may read a report: the marketplace by its signature (a GET signs the empty body),
// otherwise a partner's or manager's bearer token. It lets one route serve all three, since a path can be
// registered only once per method.
func (s *Server) reportAuth(next echo.HandlerFunc) echo.HandlerFunc {
	signed := s.marketplaceAuth(next)
	bearer := s.tokenAuth(requireRole(RolePartner, RoleManager)(next))
	return func(c echo.Context) error {
		h := c.Request().Header
		if h.Get(echo.HeaderAuthorization) == "" && (h.Get(HeaderSignature) != "" || h.Get(HeaderTimestamp) != "") {
			return signed(c)
		}
		return bearer(c)
	}
}
