package butler

import (
	"errors"
	"fmt"
	"html"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/steward-oss/steward/activities"
	"github.com/steward-oss/steward/notifications"
	"github.com/steward-oss/steward/sla"
	"github.com/steward-oss/steward/workflows"
)

// reportEmailTimeout bounds how long a report e-mail is retried before the case gives up and alerts.
const reportEmailTimeout = 6 * time.Hour

// Titles of the service reports.
const (
	monthlyReportTitle = "安全管家服务报告"
	termReportTitle    = "安全管家年度服务报告"
)

// reportTitle is the document title of report r.
func reportTitle(r Report) string {
	if r.Kind == ReportTerm {
		return termReportTitle
	}
	return monthlyReportTitle
}

// deliverReport renders a service report (monthly, or the term report with the term in figures) and, for
// the professional edition, e-mails it to the recipients.
func (b *butlerCase) deliverReport(ctx workflow.Context, r Report, now time.Time) error {
	period := r.Period
	if r.Kind == ReportTerm {
		period = b.termPeriod()
	}
	doc := activities.Document{
		Key: fmt.Sprintf("%s/%s/%d", b.In.CaseID, activities.KindServiceReport, r.Number), CaseID: b.In.CaseID, Kind: activities.KindServiceReport, Version: r.Number,
		Title: reportTitle(r), GeneratedAt: now,
		Meta: []activities.DocField{
			{Label: "案件 Case", Value: b.In.CaseID}, {Label: "客户 Customer", Value: b.In.CustomerID},
			{Label: "版本 Edition", Value: b.st.Edition}, {Label: "合作伙伴 Partner", Value: workflows.OrDash(b.PartnerID)},
			{Label: "周期 Period", Value: period},
		},
		Sections: []activities.DocSection{{Heading: "概述 Summary", Paragraphs: []string{r.Summary}, Items: r.Items}},
	}
	if r.Kind == ReportTerm {
		monthly := 0
		for _, x := range b.st.Reports {
			if x.Kind != ReportTerm {
				monthly++
			}
		}
		figures := []string{
			fmt.Sprintf("月度报告 Monthly reports: %d submitted, %d overdue", monthly, len(b.st.Overdue)),
			fmt.Sprintf("服务请求 Requests: %d", len(b.st.Requests)),
		}
		if sla.DailyInspections(b.st.Edition) {
			figures = append(figures, fmt.Sprintf("日常巡检 Daily inspections: %d recorded, %d days missed", len(b.st.InspectedDates), len(b.st.MissedInspections)))
		}
		doc.Sections = append(doc.Sections, activities.DocSection{Heading: "服务期统计 The term in figures", Items: figures})
	}
	reqs := &activities.DocTable{Header: []string{"编号 ID", "类型 Kind", "状态 Status", "结果 Outcome", "超时 Breached"}}
	for _, q := range b.st.Requests {
		reqs.Rows = append(reqs.Rows, []string{q.ID, q.Kind, q.Stage, q.Outcome, yesNo(q.Breached)})
	}
	doc.Sections = append(doc.Sections, activities.DocSection{Heading: "服务请求 Requests", Table: reqs})
	if len(b.st.Servers) > 0 {
		doc.Sections = append(doc.Sections, activities.DocSection{Heading: "绑定服务器 Bound servers", Items: b.st.Servers})
	}
	var a *activities.Activities
	if err := workflows.RunLocal(ctx, time.Minute, fmt.Sprintf("render %s %d", reportTitle(r), r.Number), a.RenderDocument, doc, nil); err != nil {
		return err
	}
	if len(r.EmailedTo) > 0 {
		b.emailReport(ctx, r, period)
	}
	return nil
}

func yesNo(v bool) string {
	if v {
		return "是 yes"
	}
	return "否 no"
}

// emailReport e-mails a professional edition's service report to the customer's recipients in the
// background: the report step does not wait for the mail server, and the outcome lands on the timeline.
func (b *butlerCase) emailReport(ctx workflow.Context, r Report, period string) {
	in := activities.EmailInput{
		Key: fmt.Sprintf("%s/report-email/%d", b.In.CaseID, r.Number), CaseID: b.In.CaseID, To: r.EmailedTo,
		Subject: fmt.Sprintf("%s %s — %s", reportTitle(r), period, b.In.CaseID),
		// The report as PDF, from the version stored when it was submitted.
		AttachPDF: []activities.EmailDocument{{Kind: activities.KindServiceReport, Version: r.Number}},
	}
	in.Text, in.HTML = reportMail(b.In.CaseID, r, period)
	var a *activities.Activities
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute, ScheduleToCloseTimeout: reportEmailTimeout,
		RetryPolicy: workflows.ActivityOptions.RetryPolicy, Summary: fmt.Sprintf("e-mail service report %d", r.Number),
	})
	f := workflow.ExecuteActivity(actx, a.SendEmail, in)
	release := b.Hold()
	workflow.Go(ctx, func(ctx workflow.Context) {
		defer release()
		event, detail := workflows.EventReportEmailed, fmt.Sprintf("service report %d e-mailed to %d recipients", r.Number, len(r.EmailedTo))
		if err := f.Get(ctx, nil); err != nil {
			event, detail = workflows.EventReportEmailFailed, fmt.Sprintf("service report %d could not be e-mailed: %s", r.Number, errMessage(err))
			b.Notify(ctx, fmt.Sprintf("report-email-failed/%d", r.Number), notifications.SeverityWarning, false, label+" report e-mail failed", detail)
		}
		if err := b.Record(ctx, b.NewEvent(ctx, event, workflows.ActorSystem, detail)); err != nil {
			b.Logger.Error("record report e-mail", "Error", err)
		}
	})
}

// errMessage is an activity failure's own message, without the wrapping that names the activity.
func errMessage(err error) string {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return ae.Message()
	}
	return err.Error()
}

// reportMail is a report's e-mail body, as plain text and HTML; all text is escaped in the HTML.
func reportMail(caseID string, r Report, period string) (text, htmlBody string) {
	var t, h strings.Builder
	name := "Security Butler service report"
	if r.Kind == ReportTerm {
		name = "Security Butler term report"
	}
	t.WriteString(fmt.Sprintf("%s %s %d\n案件 Case: %s\n周期 Period: %s\n\n%s\n", reportTitle(r), name, r.Number, caseID, period, r.Summary))
	h.WriteString(fmt.Sprintf("<h1>%s %s %d</h1><p>案件 Case: %s<br>周期 Period: %s</p><p>%s</p>",
		reportTitle(r), name, r.Number, html.EscapeString(caseID), html.EscapeString(period), html.EscapeString(r.Summary)))
	if len(r.Items) > 0 {
		h.WriteString("<ul>")
		for _, it := range r.Items {
			t.WriteString("- " + it + "\n")
			h.WriteString("<li>" + html.EscapeString(it) + "</li>")
		}
		h.WriteString("</ul>")
	}
	return t.String(), h.String()
}
