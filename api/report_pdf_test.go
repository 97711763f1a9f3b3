package api

import (
	"bytes"
	"context"
	"mime"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/steward-oss/steward/activities"
	"github.com/steward-oss/steward/db"
)

// reportPDFFixture is the API with a stored SOS report (sos:P1, held by p1, versions 1 and 2) and a case of
// another partner (sos:P2).
func reportPDFFixture(t *testing.T) *fixture {
	t.Helper()
	f := newFixture(t)
	reportRoute(f)
	ctx := context.Background()
	for _, c := range []db.Case{{CaseID: "sos:P1", PartnerID: "p1"}, {CaseID: "sos:P2", PartnerID: "p2"}} {
		c.WorkflowID, c.Service, c.Stage, c.Status, c.CustomerID, c.OrderID = c.CaseID, "sos", "review", "open", "cust", strings.TrimPrefix(c.CaseID, "sos:")
		c.OpenedAt, c.UpdatedAt = f.now, f.now
		require.NoError(t, f.store.UpsertCase(ctx, &c))
	}
	for v := 1; v <= 2; v++ {
		in := activities.ReportInput{CaseID: "sos:P1", OrderID: "P1", CustomerID: "cust", PartnerID: "p1", Spec: "handling", Version: v,
			GeneratedAt: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC), Symptoms: "网页被篡改 defaced pages", Summary: "第 " + string(rune('0'+v)) + " 版 version",
			RefundPercent: 50, RefundAmountCents: 250000, Currency: "CNY"}
		md, err := activities.RenderReportMarkdown(in)
		require.NoError(t, err)
		_, err = f.store.PutReport(ctx, &db.Report{CaseID: in.CaseID, Kind: db.KindIncidentReport, Format: db.FormatMarkdown, Version: v,
			Title: activities.StoredReportTitle(in.CaseID, v), Content: md, CreatedAt: in.GeneratedAt})
		require.NoError(t, err)
	}
	return f
}

// TestGetReportPDF: ?format=pdf (or Accept: application/pdf) answers the latest version as PDF, under the
// same access rules as the other formats, with its file name.
func TestGetReportPDF(t *testing.T) {
	pdf, err := activities.NewPDF(os.Getenv(activities.EnvPDFFont), os.Getenv(activities.EnvPDFLatinFont))
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI must run the PDF tests: %v", err)
		}
		t.Skipf("needs the PDF fonts (apt-get install fonts-droid-fallback fonts-dejavu-core): %v", err)
	}
	f := reportPDFFixture(t)
	f.srv.pdf = pdf
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	tests := []struct {
		name   string
		path   string
		header map[string]string
		status int
	}{
		{"manager", "/v1/cases/sos:P1/report?format=pdf", bearer(f.manager), 200},
		{"by Accept", "/v1/cases/sos:P1/report", map[string]string{"Authorization": "Bearer " + f.manager, "Accept": "application/pdf"}, 200},
		{"own partner", "/v1/cases/sos:P1/report?format=pdf&kind=incident_report", bearer(f.partner), 200},
		{"marketplace", "/v1/cases/sos:P1/report?format=pdf", f.signedFor(http.MethodGet, "/v1/cases/sos:P1/report", f.now, nil), 200},
		{"another partner's case", "/v1/cases/sos:P2/report?format=pdf", bearer(f.partner), 404},
		{"no report yet", "/v1/cases/sos:P2/report?format=pdf", bearer(f.manager), 404},
		{"no token", "/v1/cases/sos:P1/report?format=pdf", nil, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, p := f.call(t, http.MethodGet, tt.path, nil, tt.header)
			require.Equal(t, tt.status, rec.Code, "%s", rec.Body)
			if tt.status != 200 {
				assert.NotEmpty(t, p.Code)
				return
			}
			assert.Equal(t, MIMEReportPDF, rec.Header().Get("Content-Type"))
			assert.True(t, bytes.HasPrefix(rec.Body.Bytes(), []byte("%PDF-")))
			assert.Equal(t, "2", rec.Header().Get(HeaderReportVersion))
			assert.Equal(t, db.KindIncidentReport, rec.Header().Get(HeaderReportKind))
			assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
			disp, params, err := mime.ParseMediaType(rec.Header().Get("Content-Disposition"))
			require.NoError(t, err)
			assert.Equal(t, "inline", disp)
			assert.Equal(t, "安全事件应急响应报告 — sos_P1 v2.pdf", params["filename"], "filename* (RFC 6266)")
			assert.Contains(t, rec.Header().Get("Content-Disposition"), `filename="incident_report-sos_P1-v2.pdf"`)
		})
	}
}

// TestGetReportPDFWithoutFonts: without fonts a PDF is 503 with what to install; HTML and Markdown answer.
func TestGetReportPDFWithoutFonts(t *testing.T) {
	f := reportPDFFixture(t)
	rec, p := f.call(t, http.MethodGet, "/v1/cases/sos:P1/report?format=pdf", nil, map[string]string{"Authorization": "Bearer " + f.manager})
	require.Equal(t, http.StatusServiceUnavailable, rec.Code, "%s", rec.Body)
	assert.Equal(t, CodeUnavailable, p.Code)
	assert.Contains(t, p.Detail, "fonts-droid-fallback")
	assert.Contains(t, p.Detail, activities.EnvPDFFont)
	rec, _ = f.call(t, http.MethodGet, "/v1/cases/sos:P1/report?format=markdown", nil, map[string]string{"Authorization": "Bearer " + f.manager})
	assert.Equal(t, http.StatusOK, rec.Code)
}

func TestReportFormatPDF(t *testing.T) {
	tests := []struct{ param, accept, want string }{
		{"pdf", "", formatPDF},
		{"pdf", "text/html", formatPDF},
		{"", "application/pdf", formatPDF},
		{"", "application/pdf;q=0.5, text/html", db.FormatHTML},
		{"", "text/markdown;q=0.5, application/pdf;q=0.8", formatPDF},
		{"", "*/*", db.FormatHTML},
		{"", "application/*", formatPDF},
	}
	for _, tt := range tests {
		if got, err := reportFormat(tt.param, tt.accept); err != nil || got != tt.want {
			t.Errorf("reportFormat(%q, %q) = %q, %v; want %q", tt.param, tt.accept, got, err, tt.want)
		}
	}
}

func TestContentDisposition(t *testing.T) {
	got := contentDisposition("inline", "a-v1.pdf", "报告 a:1.pdf")
	assert.Equal(t, `inline; filename="a-v1.pdf"; filename*=UTF-8''%E6%8A%A5%E5%91%8A%20a%3A1.pdf`, got)
	assert.Equal(t, `attachment; filename="a.pdf"`, contentDisposition("attachment", "a.pdf", "a.pdf"))
}
