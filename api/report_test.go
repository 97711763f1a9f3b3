package api

import (
	"context"
	"net/http"
	"slices"
	"strings"
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
		{CaseID: "sos:R1", Service: "sos"},
		{CaseID: "sos:R2", Service: "sos"},         // no report yet
		{CaseID: "dengbao:D1", Service: "dengbao"}, // a proposal only
		{CaseID: "dengbao:D2", Service: "dengbao"}, // a proposal and a service report
		{CaseID: "dengbao:D3", Service: "dengbao"}, // nothing yet
		{CaseID: "butler:B1", Service: "butler"},   // another service: the incident report by default
	} {
		_, order, _ := strings.Cut(c.CaseID, ":")
		c.WorkflowID, c.PartnerID, c.Stage, c.Status, c.CustomerID, c.OrderID = c.CaseID, "p1", "report", "open", "cust", order
		c.OpenedAt, c.UpdatedAt = f.now, f.now
		require.NoError(t, f.store.UpsertCase(ctx, &c))
	}
	for _, r := range []db.Report{
		{CaseID: "sos:R1", Format: db.FormatHTML, Version: 1, Content: "<!DOCTYPE html><p>v1</p>"},
		{CaseID: "sos:R1", Format: db.FormatMarkdown, Version: 1, Content: "# v1\n"},
		{CaseID: "sos:R1", Kind: db.KindIncidentReport, Format: db.FormatHTML, Version: 2, Content: "<!DOCTYPE html><p>v2</p>"},
		{CaseID: "sos:R1", Kind: db.KindIncidentReport, Format: db.FormatMarkdown, Version: 2, Content: "# v2\n"},
		{CaseID: "dengbao:D1", Kind: db.KindRectificationProposal, Format: db.FormatHTML, Version: 1, Content: "<p>proposal D1</p>"},
		{CaseID: "dengbao:D1", Kind: db.KindRectificationProposal, Format: db.FormatMarkdown, Version: 1, Content: "# proposal D1\n"},
		{CaseID: "dengbao:D2", Kind: db.KindRectificationProposal, Format: db.FormatHTML, Version: 1, Content: "<p>proposal D2</p>"},
		{CaseID: "dengbao:D2", Kind: db.KindRectificationProposal, Format: db.FormatHTML, Version: 2, Content: "<p>proposal D2 v2</p>"},
		{CaseID: "dengbao:D2", Kind: db.KindServiceReport, Format: db.FormatHTML, Version: 1, Content: "<p>service D2</p>"},
		{CaseID: "dengbao:D2", Kind: db.KindServiceReport, Format: db.FormatMarkdown, Version: 1, Content: "# service D2\n"},
		{CaseID: "butler:B1", Format: db.FormatHTML, Version: 1, Content: "<p>butler</p>"},
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
	const (
		incident = db.KindIncidentReport
		proposal = db.KindRectificationProposal
		service  = db.KindServiceReport
	)

	tests := []struct {
		name    string
		path    string
		header  map[string]string
		status  int
		code    string // problem code, for errors
		detail  string // problem detail, when set
		ctype   string
		body    string
		version string
		kind    string
	}{
		{"manager html by default", "/v1/cases/sos:R1/report", bearer(f.manager), 200, "", "", MIMEReportHTML, "<!DOCTYPE html><p>v2</p>", "2", incident},
		{"manager markdown", "/v1/cases/sos:R1/report?format=markdown", bearer(f.manager), 200, "", "", MIMEReportMarkdown, "# v2\n", "2", incident},
		{"manager explicit html", "/v1/cases/sos:R1/report?format=html", bearer(f.manager), 200, "", "", MIMEReportHTML, "<!DOCTYPE html><p>v2</p>", "2", incident},
		{"accept markdown", "/v1/cases/sos:R1/report", with(bearer(f.manager), "Accept", "text/markdown"), 200, "", "", MIMEReportMarkdown, "# v2\n", "2", incident},
		{"accept prefers html", "/v1/cases/sos:R1/report", with(bearer(f.manager), "Accept", "text/markdown;q=0.5, text/html"), 200, "", "", MIMEReportHTML, "<!DOCTYPE html><p>v2</p>", "2", incident},
		{"browser accept", "/v1/cases/sos:R1/report", with(bearer(f.manager), "Accept", "text/html,application/xhtml+xml,*/*;q=0.8"), 200, "", "", MIMEReportHTML, "<!DOCTYPE html><p>v2</p>", "2", incident},
		{"query beats accept", "/v1/cases/sos:R1/report?format=html", with(bearer(f.manager), "Accept", "text/markdown"), 200, "", "", MIMEReportHTML, "<!DOCTYPE html><p>v2</p>", "2", incident},
		{"own partner", "/v1/cases/sos:R1/report", bearer(f.partner), 200, "", "", MIMEReportHTML, "<!DOCTYPE html><p>v2</p>", "2", incident},
		{"own partner markdown", "/v1/cases/sos:R1/report?format=markdown", bearer(f.partner), 200, "", "", MIMEReportMarkdown, "# v2\n", "2", incident},
		{"sos explicit kind", "/v1/cases/sos:R1/report?kind=incident_report&format=markdown", bearer(f.manager), 200, "", "", MIMEReportMarkdown, "# v2\n", "2", incident},
		{"sos has no service report", "/v1/cases/sos:R1/report?kind=service_report", bearer(f.manager), 404, CodeNotFound, "no service_report yet for case sos:R1", "", "", "", ""},
		{"dengbao proposal by default", "/v1/cases/dengbao:D1/report", bearer(f.manager), 200, "", "", MIMEReportHTML, "<p>proposal D1</p>", "1", proposal},
		{"dengbao proposal markdown", "/v1/cases/dengbao:D1/report?format=markdown", bearer(f.partner), 200, "", "", MIMEReportMarkdown, "# proposal D1\n", "1", proposal},
		{"dengbao no service report yet", "/v1/cases/dengbao:D1/report?kind=service_report", bearer(f.manager), 404, CodeNotFound, "no service_report yet for case dengbao:D1", "", "", "", ""},
		{"dengbao service report by default", "/v1/cases/dengbao:D2/report", bearer(f.manager), 200, "", "", MIMEReportHTML, "<p>service D2</p>", "1", service},
		{"dengbao service report markdown", "/v1/cases/dengbao:D2/report", with(bearer(f.manager), "Accept", "text/markdown"), 200, "", "", MIMEReportMarkdown, "# service D2\n", "1", service},
		{"dengbao proposal asked for", "/v1/cases/dengbao:D2/report?kind=rectification_proposal", bearer(f.manager), 200, "", "", MIMEReportHTML, "<p>proposal D2 v2</p>", "2", proposal},
		{"dengbao nothing yet", "/v1/cases/dengbao:D3/report", bearer(f.manager), 404, CodeNotFound, "no rectification_proposal yet for case dengbao:D3", "", "", "", ""},
		{"dengbao no incident report", "/v1/cases/dengbao:D2/report?kind=incident_report", bearer(f.manager), 404, CodeNotFound, "no incident_report yet for case dengbao:D2", "", "", "", ""},
		{"other service incident report", "/v1/cases/butler:B1/report", bearer(f.manager), 200, "", "", MIMEReportHTML, "<p>butler</p>", "1", incident},
		{"another partner", "/v1/cases/sos:R1/report", bearer(other), 404, CodeNotFound, "", "", "", "", ""},
		{"another partner, dengbao", "/v1/cases/dengbao:D2/report?kind=service_report", bearer(other), 404, CodeNotFound, `no case "dengbao:D2"`, "", "", "", ""},
		{"no report yet", "/v1/cases/sos:R2/report", bearer(f.manager), 404, CodeNotFound, "no incident_report yet for case sos:R2", "", "", "", ""},
		{"no such case", "/v1/cases/sos:NOPE/report", bearer(f.manager), 404, CodeNotFound, "", "", "", "", ""},
		{"bad format", "/v1/cases/sos:R1/report?format=docx", bearer(f.manager), 422, CodeInvalid, "", "", "", "", ""},
		{"bad kind", "/v1/cases/sos:R1/report?kind=invoice", bearer(f.manager), 422, CodeInvalid,
			`kind: one of incident_report, rectification_proposal, service_report, not "invoice"`, "", "", "", ""},
		{"empty kind is the default", "/v1/cases/dengbao:D2/report?kind=", bearer(f.manager), 200, "", "", MIMEReportHTML, "<p>service D2</p>", "1", service},
		{"unknown parameter", "/v1/cases/sos:R1/report?version=1", bearer(f.manager), 422, CodeInvalid, "", "", "", "", ""},
		{"no token", "/v1/cases/sos:R1/report", nil, 401, CodeUnauthorized, "", "", "", "", ""},
		{"marketplace", "/v1/cases/sos:R1/report?format=markdown", f.signedFor(http.MethodGet, "/v1/cases/sos:R1/report", f.now, nil), 200, "", "", MIMEReportMarkdown, "# v2\n", "2", incident},
		{"marketplace dengbao", "/v1/cases/dengbao:D2/report?format=markdown&kind=service_report", f.signedFor(http.MethodGet, "/v1/cases/dengbao:D2/report", f.now, nil), 200, "", "", MIMEReportMarkdown, "# service D2\n", "1", service},
		{"marketplace expired", "/v1/cases/sos:R1/report", f.signed(f.now.Add(-10*time.Minute), nil), 401, CodeUnauthorized, "", "", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, p := f.call(t, http.MethodGet, tt.path, nil, tt.header)
			require.Equal(t, tt.status, rec.Code, "%s", rec.Body)
			if tt.code != "" {
				assert.Equal(t, tt.code, p.Code)
				if tt.detail != "" {
					assert.Equal(t, tt.detail, p.Detail)
				}
				assert.Empty(t, rec.Header().Get(HeaderReportVersion))
				assert.Empty(t, rec.Header().Get(HeaderReportKind))
				return
			}
			assert.Equal(t, tt.ctype, rec.Header().Get("Content-Type"))
			assert.Equal(t, tt.body, rec.Body.String())
			assert.Equal(t, tt.version, rec.Header().Get(HeaderReportVersion))
			assert.Equal(t, tt.kind, rec.Header().Get(HeaderReportKind))
			assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
			assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))
			if tt.ctype == MIMEReportHTML {
				assert.Contains(t, rec.Header().Get("Content-Security-Policy"), "default-src 'none'; style-src 'unsafe-inline'")
			}
		})
	}
}

func TestReportKinds(t *testing.T) {
	tests := []struct {
		param, service string
		want           []string
		wantErr        bool
	}{
		{"", "sos", []string{db.KindIncidentReport}, false},
		{"", "dengbao", []string{db.KindServiceReport, db.KindRectificationProposal}, false},
		{"", "consulting", []string{db.KindServiceReport, db.KindIncidentReport}, false},
		{"", "butler", []string{db.KindServiceReport, db.KindIncidentReport}, false},
		{"incident_report", "dengbao", []string{db.KindIncidentReport}, false},
		{"rectification_proposal", "dengbao", []string{db.KindRectificationProposal}, false},
		{"service_report", "sos", []string{db.KindServiceReport}, false},
		{"Service_Report", "dengbao", nil, true},
		{"report", "sos", nil, true},
	}
	for _, tt := range tests {
		got, err := reportKinds(tt.param, tt.service)
		if (err != nil) != tt.wantErr || !slices.Equal(got, tt.want) {
			t.Errorf("reportKinds(%q, %q) = %q, %v; want %q, error %v", tt.param, tt.service, got, err, tt.want, tt.wantErr)
		}
	}
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
