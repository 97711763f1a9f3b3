package api

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steward-oss/steward/db"
)

// reportRoute registers GET /v1/cases/:id/report on the fixture's server unless server.go already does.
func reportRoute(f *fixture) {
	for _, r := range f.srv.Echo().Routes() {
		if r.Method == http.MethodGet && r.Path == "/v1/cases/:id/report" {
			return
		}
	}
	f.srv.Echo().GET("/v1/cases/:id/report", f.srv.getReport, f.srv.reportAuth)
}

func TestGetReport(t *testing.T) {
	f := newFixture(t)
	reportRoute(f)
	ctx := context.Background()
	require.NoError(t, f.store.AddPartner(ctx, &db.Partner{ID: "p2", Name: "P2", Services: []string{"sos"}, Capacity: 1, Active: true, CreatedAt: f.now}))
	other, _, err := f.store.IssueToken(ctx, db.RolePartner, "p2", "eng2")
	require.NoError(t, err)
	for _, c := range []db.Case{
		{CaseID: "sos:R1", PartnerID: "p1"},
		{CaseID: "sos:R2", PartnerID: "p1"}, // no report yet
	} {
		c.WorkflowID, c.Service, c.Stage, c.Status, c.CustomerID, c.OrderID = c.CaseID, "sos", "report", "open", "cust", c.CaseID[4:]
		c.OpenedAt, c.UpdatedAt = f.now, f.now
		require.NoError(t, f.store.UpsertCase(ctx, &c))
	}
	for _, r := range []db.Report{
		{CaseID: "sos:R1", Format: db.FormatHTML, Version: 1, Content: "<!DOCTYPE html><p>v1</p>"},
		{CaseID: "sos:R1", Format: db.FormatMarkdown, Version: 1, Content: "# v1\n"},
		{CaseID: "sos:R1", Format: db.FormatHTML, Version: 2, Content: "<!DOCTYPE html><p>v2</p>"},
		{CaseID: "sos:R1", Format: db.FormatMarkdown, Version: 2, Content: "# v2\n"},
	} {
		_, err := f.store.PutReport(ctx, &r)
		require.NoError(t, err)
	}
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	with := func(h map[string]string, k, v string) map[string]string {
		out := map[string]string{k: v}
		for hk, hv := range h {
			out[hk] = hv
		}
		return out
	}

	tests := []struct {
		name    string
		path    string
		header  map[string]string
		status  int
		code    string // problem code, for errors
		ctype   string
		body    string
		version string
	}{
		{"manager html by default", "/v1/cases/sos:R1/report", bearer(f.manager), 200, "", MIMEReportHTML, "<!DOCTYPE html><p>v2</p>", "2"},
		{"manager markdown", "/v1/cases/sos:R1/report?format=markdown", bearer(f.manager), 200, "", MIMEReportMarkdown, "# v2\n", "2"},
		{"manager explicit html", "/v1/cases/sos:R1/report?format=html", bearer(f.manager), 200, "", MIMEReportHTML, "<!DOCTYPE html><p>v2</p>", "2"},
		{"accept markdown", "/v1/cases/sos:R1/report", with(bearer(f.manager), "Accept", "text/markdown"), 200, "", MIMEReportMarkdown, "# v2\n", "2"},
		{"accept prefers html", "/v1/cases/sos:R1/report", with(bearer(f.manager), "Accept", "text/markdown;q=0.5, text/html"), 200, "", MIMEReportHTML, "<!DOCTYPE html><p>v2</p>", "2"},
		{"browser accept", "/v1/cases/sos:R1/report", with(bearer(f.manager), "Accept", "text/html,application/xhtml+xml,*/*;q=0.8"), 200, "", MIMEReportHTML, "<!DOCTYPE html><p>v2</p>", "2"},
		{"query beats accept", "/v1/cases/sos:R1/report?format=html", with(bearer(f.manager), "Accept", "text/markdown"), 200, "", MIMEReportHTML, "<!DOCTYPE html><p>v2</p>", "2"},
		{"own partner", "/v1/cases/sos:R1/report", bearer(f.partner), 200, "", MIMEReportHTML, "<!DOCTYPE html><p>v2</p>", "2"},
		{"own partner markdown", "/v1/cases/sos:R1/report?format=markdown", bearer(f.partner), 200, "", MIMEReportMarkdown, "# v2\n", "2"},
		{"another partner", "/v1/cases/sos:R1/report", bearer(other), 404, CodeNotFound, "", "", ""},
		{"no report yet", "/v1/cases/sos:R2/report", bearer(f.manager), 404, CodeNotFound, "", "", ""},
		{"no such case", "/v1/cases/sos:NOPE/report", bearer(f.manager), 404, CodeNotFound, "", "", ""},
		{"bad format", "/v1/cases/sos:R1/report?format=pdf", bearer(f.manager), 422, CodeInvalid, "", "", ""},
		{"unknown parameter", "/v1/cases/sos:R1/report?version=1", bearer(f.manager), 422, CodeInvalid, "", "", ""},
		{"no token", "/v1/cases/sos:R1/report", nil, 401, CodeUnauthorized, "", "", ""},
		{"marketplace", "/v1/cases/sos:R1/report?format=markdown", f.signed(f.now, nil), 200, "", MIMEReportMarkdown, "# v2\n", "2"},
		{"marketplace expired", "/v1/cases/sos:R1/report", f.signed(f.now.Add(-10*time.Minute), nil), 401, CodeUnauthorized, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, p := f.call(t, http.MethodGet, tt.path, nil, tt.header)
			require.Equal(t, tt.status, rec.Code, "%s", rec.Body)
			if tt.code != "" {
				assert.Equal(t, tt.code, p.Code)
				assert.Empty(t, rec.Header().Get(HeaderReportVersion))
				return
			}
			assert.Equal(t, tt.ctype, rec.Header().Get("Content-Type"))
			assert.Equal(t, tt.body, rec.Body.String())
			assert.Equal(t, tt.version, rec.Header().Get(HeaderReportVersion))
			assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
			assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))
			if tt.ctype == MIMEReportHTML {
				assert.Contains(t, rec.Header().Get("Content-Security-Policy"), "default-src 'none'; style-src 'unsafe-inline'")
			}
		})
	}

	t.Run("no report detail", func(t *testing.T) {
		_, p := f.call(t, http.MethodGet, "/v1/cases/sos:R2/report", nil, bearer(f.manager))
		assert.Equal(t, "no report yet for case sos:R2", p.Detail)
	})
}

func TestReportFormat(t *testing.T) {
	tests := []struct {
		param, accept string
		want          string
		wantErr       bool
	}{
		{"", "", db.FormatHTML, false},
		{"html", "", db.FormatHTML, false},
		{"markdown", "text/html", db.FormatMarkdown, false},
		{"", "text/markdown", db.FormatMarkdown, false},
		{"", "text/markdown; charset=utf-8", db.FormatMarkdown, false},
		{"", "TEXT/Markdown", db.FormatMarkdown, false},
		{"", "text/html, text/markdown", db.FormatHTML, false},
		{"", "text/html;q=0.4, text/markdown;q=0.9", db.FormatMarkdown, false},
		{"", "text/*;q=0.5, text/markdown", db.FormatMarkdown, false},
		{"", "text/markdown;q=0.5, */*", db.FormatHTML, false},
		{"", "application/json", db.FormatHTML, false},
		{"", "text/markdown;q=oops", db.FormatHTML, false},
		{"", "*/*", db.FormatHTML, false},
		{"md", "", "", true},
		{"HTML", "", "", true},
	}
	for _, tt := range tests {
		got, err := reportFormat(tt.param, tt.accept)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("reportFormat(%q, %q) = %q, %v; want %q, error %v", tt.param, tt.accept, got, err, tt.want, tt.wantErr)
		}
	}
}
