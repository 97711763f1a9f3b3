package api

import (
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/steward-oss/steward/db"
)

// Report media types.
const (
	MIMEReportHTML     = "text/html; charset=utf-8"
	MIMEReportMarkdown = "text/markdown; charset=utf-8"
)

// HeaderReportVersion names the version of the report a response carries.
const HeaderReportVersion = "X-Report-Version"

// reportCSP lets a stored report page style itself inline and do nothing else: no scripts, images, fonts,
// frames, forms or connections, even if something in it escaped the escaping.
const reportCSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// getReport answers the latest version of a case's 《安全事件应急响应报告》, as HTML (the default) or
// Markdown (?format=markdown, or Accept: text/markdown). Anyone who may see the case may read it.
func (s *Server) getReport(c echo.Context) error {
	row, err := s.caseFor(c)
	if err != nil {
		return err
	}
	for k := range c.QueryParams() {
		if k != "format" {
			return problem(CodeInvalid, "unknown query parameter %q", k)
		}
	}
	format, err := reportFormat(c.QueryParam("format"), c.Request().Header.Get(echo.HeaderAccept))
	if err != nil {
		return err
	}
	r, err := s.store.LatestReport(c.Request().Context(), row.CaseID, format)
	if errors.Is(err, db.ErrNotFound) {
		return problem(CodeNotFound, "no report yet for case %s", row.CaseID)
	}
	if err != nil {
		return unavailable(err, "the report store")
	}
	h := c.Response().Header()
	h.Set(HeaderReportVersion, strconv.Itoa(r.Version))
	h.Set(echo.HeaderVary, echo.HeaderAccept)
	// A report names the customer's hosts and weaknesses: keep it out of shared caches and history.
	h.Set(echo.HeaderCacheControl, "no-store")
	contentType := MIMEReportMarkdown
	if format == db.FormatHTML {
		contentType = MIMEReportHTML
		h.Set(echo.HeaderContentSecurityPolicy, reportCSP)
	}
	return c.Blob(http.StatusOK, contentType, []byte(r.Content))
}

// reportFormat picks the stored format to answer: the format query parameter when given, else the one
// of text/html and text/markdown that Accept prefers (HTML on a tie or without Accept).
func reportFormat(param, accept string) (string, error) {
	switch param {
	case db.FormatHTML, db.FormatMarkdown:
		return param, nil
	case "":
	default:
		return "", problem(CodeInvalid, "format: html or markdown, not %q", param)
	}
	if strings.TrimSpace(accept) == "" {
		return db.FormatHTML, nil
	}
	if acceptQ(accept, "text/markdown") > acceptQ(accept, "text/html") {
		return db.FormatMarkdown, nil
	}
	return db.FormatHTML, nil
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
