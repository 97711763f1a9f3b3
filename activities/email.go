package activities

import (
	"context"
	"errors"
	"fmt"
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
	// ErrTypeEmailRejected: the mail server refused a recipient or the message for good (a 5xx reply).
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
}

// SendEmail sends in once: it is recorded in the outbox by Key (channel "email", the subject as text),
// skipped if already sent, and marked sent or failed. Without a Mailer it fails with a non-retryable
// ErrTypeMailerNotConfigured; an input that can never be sent, or that the server refuses with a 5xx
// reply, fails with a non-retryable ErrTypeInvalidEmail or ErrTypeEmailRejected. Other failures are
// retried; delivery is at least once, since a reply lost after the server accepted the message cannot be
// told from a failure.
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
	if err := a.Mailer.Send(ctx, m); err != nil {
		if merr := a.Store.MarkNotificationFailed(ctx, in.Key, err.Error()); merr != nil {
			a.logger().WarnContext(ctx, "mark email failed", "key", in.Key, "error", merr)
		}
		switch {
		case errors.Is(err, notifications.ErrInvalidMail):
			return temporal.NewNonRetryableApplicationError(fmt.Sprintf("send email %s: %v", in.Key, err), ErrTypeInvalidEmail, err)
		case errors.Is(err, notifications.ErrRejected):
			return temporal.NewNonRetryableApplicationError(fmt.Sprintf("send email %s: %v", in.Key, err), ErrTypeEmailRejected, err)
		}
		return fmt.Errorf("send email %s: %w", in.Key, err)
	}
	if err := a.Store.MarkNotificationSent(ctx, in.Key, time.Now().UTC()); err != nil {
		return fmt.Errorf("mark email %s sent: %w", in.Key, err)
	}
	return nil
}
