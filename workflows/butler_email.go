package workflows

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
)

// reportEmailTimeout bounds how long a report e-mail is retried before the case gives up and alerts.
const reportEmailTimeout = 6 * time.Hour

// emailReport e-mails a professional edition's service report to the customer's recipients in the
// background: the report step does not wait for the mail server, and the outcome lands on the timeline.
func (b *butlerCase) emailReport(ctx workflow.Context, r ButlerReport) error {
	in := activities.EmailInput{
		Key: fmt.Sprintf("%s/report-email/%d", b.in.CaseID, r.Number), CaseID: b.in.CaseID, To: r.EmailedTo,
		Subject: fmt.Sprintf("安全管家服务报告 %s — %s", r.Period, b.in.CaseID),
	}
	in.Text, in.HTML = reportMail(b.in.CaseID, r)
	var a *activities.Activities
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute, ScheduleToCloseTimeout: reportEmailTimeout,
		RetryPolicy: activityOptions.RetryPolicy, Summary: fmt.Sprintf("e-mail service report %d", r.Number),
	})
	f := workflow.ExecuteActivity(actx, a.SendEmail, in)
	b.pending++
	workflow.Go(ctx, func(ctx workflow.Context) {
		defer func() { b.pending-- }()
		event, detail := "report_emailed", fmt.Sprintf("service report %d e-mailed to %d recipients", r.Number, len(r.EmailedTo))
		if err := f.Get(ctx, nil); err != nil {
			event, detail = "report_email_failed", fmt.Sprintf("service report %d could not be e-mailed: %s", r.Number, errMessage(err))
			b.notify(ctx, fmt.Sprintf("report-email-failed/%d", r.Number), notifications.SeverityWarning, false, "安全管家 report e-mail failed", detail)
		}
		if err := b.record(ctx, b.event(ctx, event, ActorSystem, detail)); err != nil {
			b.logger.Error("record report e-mail", "Error", err)
		}
	})
	return nil
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
func reportMail(caseID string, r ButlerReport) (text, htmlBody string) {
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
