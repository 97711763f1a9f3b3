package activities

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/steward-oss/steward/db"
)

// storeButlerReport stores version 3 of a butler service report, both formats, as RenderDocument does,
// and version 4 after it.
func storeButlerReport(t *testing.T, a *Activities) {
	t.Helper()
	for _, v := range []int{3, 4} {
		d := sampleDocument()
		d.CaseID, d.Version, d.Title = "butler:B7", v, "安全管家服务报告"
		d.Key = "butler:B7/service_report/" + string(rune('0'+v))
		d.Sections[0].Paragraphs = []string{"第 " + string(rune('0'+v)) + " 期报告 report number " + string(rune('0'+v))}
		_, err := a.RenderDocument(context.Background(), d)
		require.NoError(t, err)
	}
}

var butlerEmail = EmailInput{
	Key: "butler:B7/report-email/3", CaseID: "butler:B7", To: []string{"张三 <zhang@example.com>"},
	Subject: "安全管家服务报告 2026-05 — butler:B7", Text: "您好，本期报告见附件。\n", HTML: "<p>您好，本期报告见附件。</p>",
	AttachPDF: []EmailDocument{{Kind: db.KindServiceReport, Version: 3}},
}

// TestSendEmailAttachesPDF: the professional edition's report e-mail carries the PDF of the version it
// announces (not a newer one), under the document's title; a retry sends nothing twice.
func TestSendEmailAttachesPDF(t *testing.T) {
	p := testPDF(t)
	mailer := &fakeMailer{}
	a, env := newEmailActs(t, mailer)
	a.PDF = p
	storeButlerReport(t, a)
	for range 2 {
		_, err := env.ExecuteActivity(a.SendEmail, butlerEmail)
		require.NoError(t, err)
	}
	sent, _ := mailer.mails()
	require.Len(t, sent, 1)
	m := sent[0]
	assert.Equal(t, butlerEmail.Text, m.Text, "the body as given")
	require.Len(t, m.Attachments, 1)
	att := m.Attachments[0]
	assert.Equal(t, "安全管家服务报告 — butler_B7 v3.pdf", att.Filename)
	assert.Equal(t, "application/pdf", att.ContentType)
	require.True(t, bytes.HasPrefix(att.Data, []byte("%PDF-")))

	stored, err := a.Store.GetReport(context.Background(), "butler:B7", db.KindServiceReport, db.FormatMarkdown, 3)
	require.NoError(t, err)
	want, err := p.Report(stored)
	require.NoError(t, err)
	assert.Equal(t, want, att.Data, "the stored version 3, rendered")
	text := squeeze(pdfText(t, att.Data, 0, 0))
	assert.Contains(t, text, "第3期报告reportnumber3")
	assert.NotContains(t, text, "第4期报告")
}

// TestSendEmailWithoutFonts: a worker without the PDF fonts still sends the report e-mail, saying in it
// that the PDF could not be attached.
func TestSendEmailWithoutFonts(t *testing.T) {
	mailer := &fakeMailer{}
	a, env := newEmailActs(t, mailer)
	storeButlerReport(t, a)
	_, err := env.ExecuteActivity(a.SendEmail, butlerEmail)
	require.NoError(t, err)
	sent, _ := mailer.mails()
	require.Len(t, sent, 1)
	assert.Empty(t, sent[0].Attachments)
	assert.Contains(t, sent[0].Text, pdfMissingNote)
	assert.Contains(t, sent[0].HTML, "PDF 版本暂不可用")
}

// TestSendEmailDocumentNotStored: attaching a document that is not stored is retried, and sends nothing.
func TestSendEmailDocumentNotStored(t *testing.T) {
	mailer := &fakeMailer{}
	a, env := newEmailActs(t, mailer)
	_, err := env.ExecuteActivity(a.SendEmail, butlerEmail)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	assert.False(t, appErr.NonRetryable())
	assert.Contains(t, err.Error(), "service_report v3")
	sent, attempts := mailer.mails()
	assert.Empty(t, sent)
	assert.Zero(t, attempts)
}
