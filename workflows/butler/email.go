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
	"github.com/steward-oss/steward/workflows"
)

// reportEmailTimeout bounds how long a report e-mail is retried before the case gives up and alerts.
const reportEmailTimeout = 6 * time.Hour

// deliverReport renders a periodic report and, for the professional edition, e-mails it to the recipients.
func (b *butlerCase) deliverReport(ctx workflow.Context, r Report, now time.Time) error {
	doc := activities.Document{
		Key: fmt.Sprintf("%s/%s/%d", b.In.CaseID, activities.KindServiceReport, r.Number), CaseID: b.In.CaseID, Kind: activities.KindServiceReport, Version: r.Number,
		Title: "安全管家服务报告", GeneratedAt: now,
		Meta: []activities.DocField{
			{Label: "案件 Case", Value: b.In.CaseID}, {Label: "客户 Customer", Value: b.In.CustomerID},
			{Label: "版本 Edition", Value: b.st.Edition}, {Label: "合作伙伴 Partner", Value: workflows.OrDash(b.PartnerID)},
			{Label: "周期 Period", Value: r.Period},
		},
		Sections: []activities.DocSection{{Heading: "概述 Summary", Paragraphs: []string{r.Summary}, Items: r.Items}},
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
	if err := workflows.RunLocal(ctx, time.Minute, fmt.Sprintf("render service report %d", r.Number), a.RenderDocument, doc, nil); err != nil {
		return err
	}
	if len(r.EmailedTo) > 0 {
		b.emailReport(ctx, r)
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
func (b *butlerCase) emailReport(ctx workflow.Context, r Report) {
	in := activities.EmailInput{
		Key: fmt.Sprintf("%s/report-email/%d", b.In.CaseID, r.Number), CaseID: b.In.CaseID, To: r.EmailedTo,
		Subject: fmt.Sprintf("安全管家服务报告 %s — %s", r.Period, b.In.CaseID),
		// The report as PDF, from the version stored when it was submitted.
		AttachPDF: []activities.EmailDocument{{Kind: activities.KindServiceReport, Version: r.Number}},
	}
	in.Text, in.HTML = reportMail(b.In.CaseID, r)
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
func reportMail(caseID string, r Report) (text, htmlBody string) {
	var t, h strings.Builder
	t.WriteString(fmt.Sprintf("安全管家服务报告 Security Butler service report %d\n案件 Case: %s\n周期 Period: %s\n\n%s\n", r.Number, caseID, r.Period, r.Summary))
	h.WriteString(fmt.Sprintf("<h1>安全管家服务报告 Security Butler service report %d</h1><p>案件 Case: %s<br>周期 Period: %s</p><p>%s</p>",
		r.Number, html.EscapeString(caseID), html.EscapeString(r.Period), html.EscapeString(r.Summary)))
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
