package activities

import (
	"context"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/notifications"
)

// EmailChannel is the outbox channel (db.Notification.Channel) of e-mails.
const EmailChannel = "email"

// Application error types of SendEmail's non-retryable failures.
const (
	// ErrTypeMailerNotConfigured: the worker has no Mailer (no SMTP server configured).
	ErrTypeMailerNotConfigured = "MailerNotConfigured"
	// ErrTypeInvalidEmail: the input can never be sent (no key, no recipient, a bad address or subject).
	ErrTypeInvalidEmail = "InvalidEmail"
	// ErrTypeEmailRejected: the mail server refused the sender, a recipient or the message for good (a 5xx
	// reply), or an earlier attempt gave the e-mail up; operations have been told.
	ErrTypeEmailRejected = "EmailRejected"
)

// EmailInput is one e-mail to send once; Key makes it idempotent through the notifications outbox.
type EmailInput struct {
	Key     string   `json:"key"`
	CaseID  string   `json:"case_id"`
	To      []string `json:"to"`
	Subject string   `json:"subject"`
	Text    string   `json:"text"`
	HTML    string   `json:"html,omitempty"`
	// AttachPDF lists documents of the case to attach as PDF, each rendered from its stored Markdown
	// version when the e-mail is sent (the same version always gives the same file).
	AttachPDF []EmailDocument `json:"attach_pdf,omitempty"`
}

// EmailDocument names one stored document of an e-mail's case: a version of a kind (db.KindServiceReport, …).
type EmailDocument struct {
	Kind    string `json:"kind"`
	Version int    `json:"version"`
}

// pdfMissingNote is added to an e-mail whose PDF could not be made, so the recipient knows to ask.
const pdfMissingNote = "PDF 版本暂不可用，请联系服务商索取。(The PDF version could not be attached; ask your provider for it.)"

// SendEmail sends in once: it is recorded in the outbox by Key (channel "email", the subject as text),
// skipped if already sent, and marked sent. Without a Mailer it fails with a non-retryable
// ErrTypeMailerNotConfigured; an input that can never be sent fails with a non-retryable
// ErrTypeInvalidEmail before it is recorded. Other failures are retried; delivery is at least once, since a
// reply lost after the server accepted the message cannot be told from a failure.
//
// A mail the server refuses for good (a 5xx reply to MAIL, RCPT or DATA), or that turns out unsendable
// after it was recorded (a bad sender), is given up: the outbox row is marked failed with the reason,
// operations are told once in the ops channel, and SendEmail fails with a non-retryable
// ErrTypeEmailRejected (ErrTypeInvalidEmail for a bad sender). A retry, or a later call with the same Key,
// sends nothing and tells no one again.
func (a *Activities) SendEmail(ctx context.Context, in EmailInput) error {
	if a.Mailer == nil {
		return temporal.NewNonRetryableApplicationError("send email: no mailer configured", ErrTypeMailerNotConfigured, nil)
	}
	if in.Key == "" {
		return temporal.NewNonRetryableApplicationError("send email: no key", ErrTypeInvalidEmail, nil)
	}
	m := notifications.Mail{To: in.To, Subject: in.Subject, Text: in.Text, HTML: in.HTML}
	// Validated before the outbox row, so an e-mail that can never go out leaves none behind.
	if err := m.Validate(); err != nil {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("send email %s: %v", in.Key, err), ErrTypeInvalidEmail, err)
	}
	n, _, err := a.Store.RecordNotification(ctx, &db.Notification{
		Key: in.Key, CaseID: in.CaseID, Channel: EmailChannel, Text: in.Subject, Status: db.NotificationPending, CreatedAt: time.Now().UTC(),
	})
	if err != nil {
		return fmt.Errorf("record email %s: %w", in.Key, err)
	}
	if n.Status == db.NotificationSent {
		return nil
	}
	if n.Undeliverable() {
		// An earlier attempt gave it up, and may have ended before operations heard of it.
		return a.giveUpEmail(ctx, in, n.FailureReason, nil)
	}
	if err := a.attachPDFs(ctx, in, &m); err != nil {
		return err
	}
	if err := a.Mailer.Send(ctx, m); err != nil {
		if notifications.Permanent(err) {
			reason := notifications.Reason(err)
			if _, merr := a.Store.MarkNotificationUndeliverable(ctx, in.Key, reason, time.Now().UTC()); merr != nil {
				return fmt.Errorf("mark email %s undeliverable: %w", in.Key, merr)
			}
			return a.giveUpEmail(ctx, in, reason, err)
		}
		if merr := a.Store.MarkNotificationRetry(ctx, in.Key, notifications.Reason(err)); merr != nil {
			a.logger().WarnContext(ctx, "mark email for retry", "key", in.Key, "error", merr)
		}
		// The reason, not the error: a server's reply may echo an address, and this reaches the history.
		return fmt.Errorf("send email %s: %s", in.Key, notifications.Reason(err))
	}
	if err := a.Store.MarkNotificationSent(ctx, in.Key, time.Now().UTC()); err != nil {
		return fmt.Errorf("mark email %s sent: %w", in.Key, err)
	}
	return nil
}

// giveUpEmail tells operations that the e-mail in could not be delivered, for reason, and returns the
// non-retryable error; cause is the failure, nil when an earlier attempt gave the e-mail up. When
// operations cannot be told for now, it returns that (retryable) error instead.
func (a *Activities) giveUpEmail(ctx context.Context, in EmailInput, reason string, cause error) error {
	about := notifications.Message{Key: in.Key, CaseID: in.CaseID, WorkflowID: in.CaseID, Title: in.Subject}
	if about.WorkflowID != "" && a.UIBaseURL != "" {
		about.Link = WorkflowURL(a.UIBaseURL, a.Namespace, about.WorkflowID)
	}
	failures := []failure{{channel: EmailChannel, reason: reason, err: cause}}
	msg := fmt.Sprintf("send email %s: undeliverable: %s", in.Key, reason)
	what := fmt.Sprintf("The e-mail “%s” (%d recipients)", in.Subject, len(in.To))
	if len(in.To) == 1 {
		what = fmt.Sprintf("The e-mail “%s” (1 recipient)", in.Subject)
	}
	if err := a.tellOperations(ctx, about, what, failures); err != nil {
		return fmt.Errorf("%s; telling operations: %w", msg, err)
	}
	errType := ErrTypeEmailRejected
	if errors.Is(cause, notifications.ErrInvalidMail) {
		errType = ErrTypeInvalidEmail
	}
	return temporal.NewNonRetryableApplicationError(msg, errType, nil) // the reason says it; the cause may hold an address
}

// attachPDFs renders the documents in.AttachPDF names and attaches them to m. A document not stored (yet)
// is a retryable error. Without fonts (a worker with no PDF) the e-mail goes without its PDFs, saying so
// in its body, and the worker logs why: the report itself is in the e-mail and at the API.
func (a *Activities) attachPDFs(ctx context.Context, in EmailInput, m *notifications.Mail) error {
	if len(in.AttachPDF) == 0 {
		return nil
	}
	var missing error
	for _, doc := range in.AttachPDF {
		r, err := a.Store.GetReport(ctx, in.CaseID, doc.Kind, db.FormatMarkdown, doc.Version)
		if err != nil {
			return fmt.Errorf("send email %s: attach %s v%d: %w", in.Key, doc.Kind, doc.Version, err)
		}
		if a.PDF == nil {
			missing = fmt.Errorf("%w: no fonts loaded (see %s and %s)", ErrPDFUnavailable, EnvPDFFont, EnvPDFLatinFont)
			break
		}
		data, err := a.PDF.Report(r)
		if err != nil {
			missing = err
			break
		}
		m.Attachments = append(m.Attachments, notifications.Attachment{Filename: PDFFilename(r), ContentType: MIMEPDF, Data: data})
	}
	if missing != nil {
		a.logger().WarnContext(ctx, "e-mail sent without its PDF", slog.String("key", in.Key), slog.String("case_id", in.CaseID),
			slog.Any("error", missing))
		m.Attachments = nil
		m.Text = strings.TrimRight(m.Text, "\n") + "\n\n" + pdfMissingNote + "\n"
		if m.HTML != "" {
			m.HTML += "<p>" + html.EscapeString(pdfMissingNote) + "</p>"
		}
	}
	return nil
}
